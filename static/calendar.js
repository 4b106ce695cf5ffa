/* crmlite calendar: drag an activity to another day or time with plain pointer events; the
   server reschedules it (same length, version checked) and answers with the member's week
   as it now is, so a refused move shows the block where it really is. The keyboard's way:
   Alt+←/→ move a focused block a day, Alt+↑/↓ an hour, through the same endpoint and
   version check. Also: the member chooser, copying the feed address (the side panel is
   app.js's [data-panel]). */
(function () {
  "use strict";

  var THRESHOLD_PX = 5;
  var drag = null; // { block, pane, x, y, active, zone }
  var justDragged = false;

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
    moveTo(block, ended.pane, zone.dataset.dueOn, zone.dataset.start);
  });

  /* Ask the server to move the block (the answer is the member's week as it now is, and
     "crm-done": what happened, the focus back on the block). */
  function moveTo(block, pane, dueOn, start) {
    block.classList.add("is-saving");
    htmx.ajax("POST", block.dataset.moveUrl, {
      source: block,
      target: pane,
      swap: "outerHTML",
      values: {
        due_on: dueOn,
        start: start,
        version: block.dataset.version,
        week: pane.dataset.week,
        weekend: pane.dataset.weekend,
        side_by_side: pane.dataset.sideBySide
      }
    });
  }

  function say(message) {
    document.body.dispatchEvent(
      new CustomEvent("crm-done", { bubbles: true, detail: { say: message } }));
  }

  var STEPS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -60], ArrowDown: [0, 60] };

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* Alt+arrow on a focused block: a day earlier or later (within the days shown), an hour
     earlier or later (the same day). */
  function keyMove(evt) {
    var step = STEPS[evt.key];
    var block = evt.target instanceof Element && evt.target.closest(".cal-block");
    if (!step || !evt.altKey || evt.ctrlKey || evt.metaKey || evt.shiftKey || !block) return;
    evt.preventDefault();  // Alt+← is also the browser's Back
    if (!block.dataset.moveUrl) {
      say("This activity cannot be moved: it is done, or not yours to move.");
      return;
    }
    var pane = paneOf(block);
    var days = Array.prototype.map.call(pane.querySelectorAll(".cal-day[data-day]"),
      function (day) { return day.dataset.day; });
    var dueOn = days[days.indexOf(block.dataset.dueOn) + step[0]];
    if (!dueOn) {
      say("That day is not shown; open the activity to move it to another week.");
      return;
    }
    var start = block.dataset.start;
    if (step[1]) {
      if (!start) {
        say("This activity has no set time; open it to give it one.");
        return;
      }
      var minutes = Number(start.slice(0, 2)) * 60 + Number(start.slice(3, 5)) + step[1];
      if (minutes < 0 || minutes >= 24 * 60) {
        say("It cannot move to another day by the hour; use Alt with left or right.");
        return;
      }
      start = pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
    }
    if (block.classList.contains("is-saving")) return;
    moveTo(block, pane, dueOn, start);
  }

  document.addEventListener("pointercancel", stop);
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape" && drag) {
      evt.preventDefault();  // the drag, not the panel
      stop();
      return;
    }
    keyMove(evt);
  }, true);

  document.addEventListener("click", function (evt) {
    if (justDragged) {
      evt.preventDefault();
      evt.stopPropagation();
      justDragged = false;
      return;
    }
    var target = evt.target instanceof Element ? evt.target : null;
    if (!target) return;
    var copy = target.closest("[data-copy]");
    if (copy) copyFrom(copy);
  }, true);

  // An activity saved or done in the panel: the focus goes to its block once the week is
  // redrawn (else, when it left the week, to the saved activity in the panel).
  function toBlock(evt) {
    var detail = evt.detail || {};
    if (!detail.id || !document.getElementById("calendar-week")) return;
    document.body.dispatchEvent(new CustomEvent("crm-done", { bubbles: true, detail: {
      focus: ["#cal-activity-" + detail.id, "#calendar-panel-body .activity-item"]
    } }));
  }
  document.body.addEventListener("activity-saved", toBlock);
  document.body.addEventListener("activity-closed", toBlock);

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
