/* crmlite board: drag cards between stage columns (SortableJS), the server decides.
   A drop posts the move through htmx; the answer replaces the card (a question for Lost,
   Won or a missing next step) or moves it and updates the column headers. */
(function () {
  "use strict";

  // Where each dragged card came from, so "Cancel" can put it back.
  var origins = {};

  function putBack(card, list, index) {
    list.insertBefore(card, list.children[index] || null);
  }

  function filterValues() {
    var form = document.getElementById("board-filters");
    var values = {};
    if (form) {
      new FormData(form).forEach(function (value, key) { values[key] = value; });
    }
    return values;
  }

  function onDrop(evt) {
    var card = evt.item;
    if (evt.from === evt.to) {
      // The order inside a column is the server's (stalled first, then by next step).
      putBack(card, evt.from, evt.oldIndex);
      return;
    }
    origins[card.dataset.opportunityId] = { list: evt.from, index: evt.oldIndex };
    var values = filterValues();
    values.stage_id = evt.to.dataset.stageId;
    values.version = card.dataset.version;
    htmx.ajax("POST", card.dataset.moveUrl, {
      source: card, target: card, swap: "outerHTML", values: values
    });
  }

  function setUp(root) {
    var lists = root.querySelectorAll ? root.querySelectorAll(".board-cards") : [];
    lists.forEach(function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "on";
      Sortable.create(list, {
        group: "board",
        draggable: ".board-card",
        filter: "input, select, textarea, button, .board-prompt",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 4,
        animation: 120,
        onEnd: onDrop
      });
    });
  }

  // Capture phase: put the card back before htmx fetches its plain version.
  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element && evt.target.closest("[data-cancel-move]");
    if (!button) return;
    var card = button.closest(".board-card");
    var origin = card && origins[card.dataset.opportunityId];
    if (origin) {
      putBack(card, origin.list, origin.index);
      delete origins[card.dataset.opportunityId];
    }
  }, true);

  document.addEventListener("htmx:load", function (evt) { setUp(evt.detail.elt); });
})();

/* When an activity is saved or closed anywhere on the board page, its opportunity's card
   shows the new next step. */
(function () {
  "use strict";
  function refreshCard(evt) {
    var detail = evt.detail || {};
    var card = detail.opportunity_id && document.getElementById("card-" + detail.opportunity_id);
    if (card) {
      htmx.ajax("GET", "/board/opportunities/" + detail.opportunity_id + "/card",
                { target: card, swap: "outerHTML" });
    }
  }
  document.body.addEventListener("activity-saved", refreshCard);
  document.body.addEventListener("activity-closed", refreshCard);
})();
