/* crmlite calendar: drag an activity to another day or time with plain pointer events; the
   server reschedules it (same length, version checked) and answers with the member's week
   as it now is, so a refused move shows the block where it really is. Also: the side panel
   (focus in, Escape or Close out), the member chooser, copying the feed address. */
(function () {
  "use strict";

  var THRESHOLD_PX = 5;
  var drag = null; // { block, pane, x, y, active, zone }
  var justDragged = false;
  var opener = null; // what opened the side panel, to return focus to on close

  function paneOf(el) { return el.closest(".cal-pane"); }

  function zoneAt(x, y) {
    var el = document.elementFromPoint(x, y);
    return el ? el.closest(".cal-slot, .cal-allday") : null;
  }

  function highlight(zone) {
    if (drag.zone === zone) return;
    if (drag.zone) drag.zone.classList.remove("is-drop-target");
    drag.zone = zone;
    if (zone) zone.classList.add("is-drop-target");
  }

  function stop() {
    if (!drag) return null;
    var ended = drag;
    if (ended.zone) ended.zone.classList.remove("is-drop-target");
    ended.block.classList.remove("is-dragging");
    document.body.classList.remove("cal-dragging");
    drag = null;
    return ended;
  }

  document.addEventListener("pointerdown", function (evt) {
    if (evt.button !== 0 || !(evt.target instanceof Element)) return;
    var block = evt.target.closest(".cal-block[data-move-url]");
    if (!block) return;
    drag = { block: block, pane: paneOf(block), x: evt.clientX, y: evt.clientY,
             active: false, zone: null };
  });

  document.addEventListener("pointermove", function (evt) {
    if (!drag) return;
    if (!drag.active) {
      if (Math.abs(evt.clientX - drag.x) + Math.abs(evt.clientY - drag.y) < THRESHOLD_PX) return;
      drag.active = true;
      drag.block.classList.add("is-dragging");
      document.body.classList.add("cal-dragging"); // blocks let the pointer through to slots
    }
    evt.preventDefault();
    var zone = zoneAt(evt.clientX, evt.clientY);
    // Within the member's own week: giving it to someone else is the form's job.
    highlight(zone && paneOf(zone) === drag.pane ? zone : null);
  });

  document.addEventListener("pointerup", function () {
    var ended = stop();
    if (!ended || !ended.active) return;
    // The click that follows the release must not open the form.
    justDragged = true;
    setTimeout(function () { justDragged = false; }, 0);
    var zone = ended.zone, block = ended.block;
    if (!zone) return;
    if (zone.dataset.dueOn === block.dataset.dueOn && zone.dataset.start === block.dataset.start) {
      return;
    }
    block.classList.add("is-saving");
    htmx.ajax("POST", block.dataset.moveUrl, {
      source: block,
      target: ended.pane,
      swap: "outerHTML",
      values: {
        due_on: zone.dataset.dueOn,
        start: zone.dataset.start,
        version: block.dataset.version,
        week: ended.pane.dataset.week,
        weekend: ended.pane.dataset.weekend,
        side_by_side: ended.pane.dataset.sideBySide
      }
    });
  });

  document.addEventListener("pointercancel", stop);
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    if (drag) { stop(); return; }
    closePanel();
  });

  document.addEventListener("click", function (evt) {
    if (justDragged) {
      evt.preventDefault();
      evt.stopPropagation();
      justDragged = false;
      return;
    }
    var target = evt.target instanceof Element ? evt.target : null;
    if (!target) return;
    if (target.closest("[data-close-panel]")) closePanel();
    var copy = target.closest("[data-copy]");
    if (copy) copyFrom(copy);
  }, true);

  // ---- the side panel -------------------------------------------------------------------

  function panelBody() { return document.getElementById("calendar-panel-body"); }

  function closePanel() {
    var body = panelBody();
    if (!body || !body.firstChild) return;
    body.replaceChildren();
    if (opener && document.contains(opener)) opener.focus();
    opener = null;
  }

  document.addEventListener("htmx:afterSwap", function (evt) {
    var body = panelBody();
    if (!body || evt.detail.target !== body) return;
    var elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    if (elt && !body.contains(elt)) opener = elt;
    if (body.contains(document.activeElement)) return;
    var field = body.querySelector(
      "[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button");
    if (field) field.focus();
  });

  // ---- small helpers --------------------------------------------------------------------

  document.addEventListener("change", function (evt) {
    var select = evt.target instanceof Element && evt.target.closest("[data-submit-on-change]");
    if (select && select.form) select.form.requestSubmit();
  });

  document.addEventListener("focusin", function (evt) {
    if (evt.target instanceof HTMLInputElement && evt.target.hasAttribute("data-select-on-focus")) {
      evt.target.select();
    }
  });

  function copyFrom(button) {
    var input = document.querySelector(button.dataset.copy);
    if (!input) return;
    input.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    }
  }
})();
