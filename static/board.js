/* crmlite board: drag cards between stage columns (SortableJS), the server decides.
   Only the cards the person may move are draggable ("[data-movable]"). A drop posts the move
   through htmx; the answer replaces the card where it was dropped (a question for Lost, Won
   or a missing next step, or the moved card) and updates the column headers. Any refusal
   (403, a change meanwhile, a bad stage, an error, no network) puts the card back where it
   was, with the reason on it. */
(function () {
  "use strict";

  // Where each dragged card came from, so a refusal or "Cancel" can put it back.
  var origins = {};
  // The live board's state: a drag in progress, the board on its way.
  var board = { dragging: false, fetching: false };
  var REFUSALS = {
    403: "You may not move this opportunity; it is back where it was.",
    404: "This opportunity no longer exists."
  };

  // A card's opportunity id: "card-12" (a question card also says data-opportunity-id).
  function cardId(card) {
    return card.dataset.opportunityId || card.id.replace("card-", "");
  }

  /* A card's move URL: the board's pattern with the card's id (kept once, not per card). */
  function moveUrl(card) {
    return document.getElementById("board").dataset.moveUrl.replace("__ID__", cardId(card));
  }

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

  function boardVersion() {
    var live = document.getElementById("board-live");
    return live ? live.dataset.version : "";
  }

  function showNotice(card, message) {
    var old = card.querySelector(".card-notice");
    if (old) old.remove();
    var notice = document.createElement("p");
    notice.className = "card-notice";
    notice.setAttribute("role", "status");
    notice.textContent = message;
    card.insertBefore(notice, card.firstChild);
  }

  function onDrop(evt) {
    var card = evt.item;
    board.dragging = false;
    if (evt.from === evt.to) {
      // The order inside a column is the server's (stalled first, then by next step).
      putBack(card, evt.from, evt.oldIndex);
      return;
    }
    origins[cardId(card)] = { list: evt.from, index: evt.oldIndex };
    var values = filterValues();
    values.stage_id = evt.to.dataset.stageId;
    values.version = card.dataset.version;
    values.via = "drag";
    values.board_version = boardVersion();
    htmx.ajax("POST", moveUrl(card), {
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
        // Cards the person may not move, and open questions, stay put.
        filter: "input, select, textarea, button, .board-prompt, .board-card:not([data-movable])",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 4,
        animation: 120,
        onStart: function () { board.dragging = true; },
        onEnd: onDrop
      });
    });
  }

  // The card of a request started from a dropped card (the drop, or its question's form).
  function droppedCard(evt) {
    var elt = evt.detail && evt.detail.elt;
    var card = elt instanceof Element ? elt.closest(".board-card") : null;
    return card && origins[cardId(card)] ? card : null;
  }

  // Every move says which board version the page shows; answers to a dropped card's
  // question keep it where it was dropped, like the drop itself.
  document.addEventListener("htmx:configRequest", function (evt) {
    var elt = evt.detail.elt;
    if (!(elt instanceof Element) || !elt.closest(".board-card")) return;
    if (evt.detail.verb !== "post") return;
    evt.detail.parameters.board_version = boardVersion();
    if (droppedCard(evt)) evt.detail.parameters.via = "drag";
  });

  // After the answer is in: a moved card stays where it was dropped; a refused one goes
  // back to where it was (or, when someone else moved it meanwhile, to the top of the
  // column it is really in).
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.target;  // each element the answer brought in
    if (!(target instanceof Element) || !target.classList.contains("board-card")) return;
    var id = cardId(target);
    var card = id && document.getElementById("card-" + id);
    var origin = id && origins[id];
    if (!card || !origin || card.classList.contains("board-prompt")) return;
    delete origins[id];
    if (!card.hasAttribute("data-refused")) return;
    if (origin.list.dataset.stageId === card.dataset.stageId) {
      putBack(card, origin.list, origin.index);
    } else {
      var list = document.getElementById("stage-" + card.dataset.stageId + "-cards");
      if (list) list.insertBefore(card, list.firstChild);
    }
  });

  function refused(evt, message) {
    var card = droppedCard(evt);
    if (!card) return;
    var origin = origins[cardId(card)];
    delete origins[cardId(card)];
    putBack(card, origin.list, origin.index);
    showNotice(card, message);
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    refused(evt, REFUSALS[status] ||
      "Something went wrong (HTTP " + status + "); nothing moved. It is back where it was.");
  });
  document.addEventListener("htmx:sendError", function (evt) {
    refused(evt, "The server could not be reached; nothing moved. It is back where it was.");
  });

  // Capture phase: put the card back before htmx fetches its plain version.
  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element && evt.target.closest("[data-cancel-move]");
    if (!button) return;
    var card = button.closest(".board-card");
    var origin = card && origins[cardId(card)];
    if (origin) {
      putBack(card, origin.list, origin.index);
      delete origins[cardId(card)];
    }
  }, true);

  document.addEventListener("htmx:load", function (evt) { setUp(evt.detail.elt); });

  /* Escape on a card: a question in the card or the "Move to" form is cancelled (as its
     Cancel button does: the card as it was, the focus on it); an open "⋯" menu closes. The
     next-step dialog has its own (app.js), the side panel too. */
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || !(evt.target instanceof Element)) return;
    var card = evt.target.closest("#board .board-card");
    if (!card || evt.target.closest("dialog")) return;
    var cancel = card.matches(".board-prompt")
      ? card.querySelector("[data-cancel-move]")
      : card.querySelector(".card-move form button[hx-get]");
    if (cancel) {
      evt.preventDefault();
      cancel.click();
      return;
    }
    var menu = card.querySelector(".card-menu[open]");
    if (menu) {
      evt.preventDefault();
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  }, true);

  /* The live board: #board-live asks every few seconds whether anything changed; when it
     did ("board-changed"), the board is fetched again with the filters kept and swapped in,
     unless the person is busy with it (a drag, a question, a "Move to…" list, a form in the
     panel, a move on its way); then the next poll asks again. Notices on cards stay. */
  function busy() {
    if (board.dragging || Object.keys(origins).length) return true;
    if (document.querySelector(
      "#board .board-prompt, #board .card-move form, #board .board-card.htmx-request")) {
      return true;
    }
    var panel = document.getElementById("board-panel");
    return Boolean(panel && panel.children.length);
  }

  function notices() {
    var kept = {};
    document.querySelectorAll("#board .board-card .card-notice").forEach(function (notice) {
      kept[notice.closest(".board-card").id] = notice.textContent;
    });
    return kept;
  }

  document.addEventListener("board-changed", function () {
    var current = document.getElementById("board");
    if (!current || board.fetching || busy()) return;
    var kept = notices();
    // The card that has the focus keeps it when the board comes back.
    var focused = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest("#board .board-card");
    var focusedId = focused ? focused.id : "";
    var values = filterValues();
    values.live = "1";
    board.fetching = true;
    htmx.ajax("GET", current.dataset.url, {
      source: current, target: current, swap: "outerHTML", values: values
    }).then(function () {
      board.fetching = false;
      Object.keys(kept).forEach(function (cardId) {
        var card = document.getElementById(cardId);
        if (card && !card.querySelector(".card-notice")) showNotice(card, kept[cardId]);
      });
      var again = focusedId && document.getElementById(focusedId);
      var active = document.activeElement;
      if (again && (!active || active === document.body || active.id === "board")) {
        again.querySelector(".card-title").focus();
      }
    }, function () { board.fetching = false; });
  });

  // A drag or a question that began while the board was on its way: keep what is there.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (board.fetching && target instanceof Element && target.id === "board" && busy()) {
      evt.detail.shouldSwap = false;
    }
  });
})();

/* When an activity is saved or closed anywhere on the board page, its opportunity's card
   shows the new next step, and the focus goes back to that card (app.js keeps it there
   when the card is replaced; a next-step question asked in the panel keeps it instead). */
(function () {
  "use strict";
  function refreshCard(evt) {
    var detail = evt.detail || {};
    var card = detail.opportunity_id && document.getElementById("card-" + detail.opportunity_id);
    if (card) {
      document.body.dispatchEvent(new CustomEvent("crm-done", { bubbles: true,
        detail: { focus: ["#card-" + detail.opportunity_id + " .card-title"] }
      }));
      htmx.ajax("GET", "/board/opportunities/" + detail.opportunity_id + "/card",
                { target: card, swap: "outerHTML" });
    }
  }
  document.body.addEventListener("activity-saved", refreshCard);
  document.body.addEventListener("activity-closed", refreshCard);
})();

/* The dense board (issue #16): the board fills the window below the filters (each column
   scrolls on its own); on a phone one stage at a time, chosen with the stage switcher; and
   Alt+→ / Alt+← move the focus to the next or previous column's first card. */
(function () {
  "use strict";
  var current = null;  // the stage shown on a phone, kept when the board is fetched again

  function fit() {
    var board = document.getElementById("board");
    if (!board) return;
    var top = board.getBoundingClientRect().top + window.scrollY;
    document.documentElement.style.setProperty("--board-top", Math.round(top) + "px");
  }

  function show(stageId) {
    var board = document.getElementById("board");
    if (!board || !document.getElementById("stage-" + stageId)) return;
    current = String(stageId);
    board.querySelectorAll(".board-column").forEach(function (column) {
      column.classList.toggle("is-current", column.id === "stage-" + current);
    });
    board.querySelectorAll(".stage-switcher [data-stage]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.stage === current));
    });
  }

  // The switcher's counts follow the column headers (a move replaces those).
  function counts() {
    document.querySelectorAll("#board .stage-switcher [data-stage]").forEach(function (button) {
      var count = document.querySelector("#stage-" + button.dataset.stage + "-header .column-count");
      var shown = button.querySelector(".switcher-count");
      if (count && shown) shown.textContent = count.textContent;
    });
  }

  /* Named by its visible text, then the deal: "Move to… (Tows R Us)" (a voice command says
     what it sees; WCAG 2.5.3 Label in Name). */
  function button(text, name, attributes) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "btn btn-small";
    element.setAttribute("aria-label", text + " (" + name + ")");
    element.textContent = text;
    Object.keys(attributes).forEach(function (name) { element.setAttribute(name, attributes[name]); });
    return element;
  }

  /* A card's "⋯" menu is filled when it opens: "+ Activity" (the form in the panel) and, on a
     card the person may move, "Move to…" (the stage list in the menu); else "View only". */
  document.addEventListener("toggle", function (evt) {
    var menu = evt.target;
    if (!(menu instanceof Element) || !menu.matches(".board-card .card-menu") || !menu.open) return;
    if (menu.querySelector(".card-move")) return;
    var card = menu.closest(".board-card");
    var board = document.getElementById("board");
    var name = card.querySelector(".card-title").textContent;
    var id = card.id.replace("card-", "");
    var actions = document.createElement("div");
    actions.className = "card-move";
    actions.appendChild(button("+ Activity", name, {
      "hx-get": board.dataset.logUrl.replace("__ID__", id), "hx-target": "#board-panel"
    }));
    if (card.hasAttribute("data-movable")) {
      actions.appendChild(button("Move to…", name, {
        "hx-get": board.dataset.moveUrl.replace("__ID__", id), "hx-target": "closest .card-move"
      }));
    } else {
      var note = document.createElement("small");
      note.textContent = "View only: not your deal";
      actions.appendChild(note);
    }
    menu.appendChild(actions);
    htmx.process(actions);
    var first = actions.querySelector("button");
    if (first) first.focus();
  }, true);

  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element && evt.target.closest(".stage-switcher [data-stage]");
    if (button) show(button.dataset.stage);
  });

  document.addEventListener("keydown", function (evt) {
    if (!evt.altKey || (evt.key !== "ArrowRight" && evt.key !== "ArrowLeft")) return;
    var from = evt.target instanceof Element && evt.target.closest("#board .board-column");
    var columns = Array.prototype.slice.call(document.querySelectorAll("#board .board-column"));
    if (!columns.length) return;
    var index = columns.indexOf(from);
    var step = evt.key === "ArrowRight" ? 1 : -1;
    var next = columns[index < 0 ? 0 : (index + step + columns.length) % columns.length];
    evt.preventDefault();
    show(next.id.replace("stage-", ""));
    var target = next.querySelector(".board-card .card-title") || next.querySelector("h2");
    if (target.tagName === "H2") target.setAttribute("tabindex", "-1");
    target.focus();
    target.scrollIntoView({ block: "nearest", inline: "nearest" });
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (current) show(current);
    counts();
    fit();
  });
  window.addEventListener("resize", fit);
  document.addEventListener("DOMContentLoaded", fit);
  if (document.readyState !== "loading") fit();
})();
