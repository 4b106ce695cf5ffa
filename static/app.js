/* crmlite - small client-side helpers. No dependencies, no eval, no inline scripts. */
(function () {
  "use strict";

  var HIDE_AFTER_MS = 8000;
  var MESSAGES = {
    400: "The form expired. Reload the page and try again.",
    403: "You do not have permission to do that.",
    404: "That item no longer exists."
  };
  var hideTimer = null;

  function banner() {
    return document.getElementById("error-banner");
  }

  function hide() {
    var el = banner();
    if (el) el.hidden = true;
    if (hideTimer) clearTimeout(hideTimer);
    hideTimer = null;
  }

  function show(message) {
    var el = banner();
    if (!el) return;
    el.textContent = message;
    el.hidden = false;
    if (hideTimer) clearTimeout(hideTimer);
    hideTimer = setTimeout(hide, HIDE_AFTER_MS);
  }

  function init() {
    var body = document.body;

    body.addEventListener("htmx:responseError", function (evt) {
      var xhr = evt.detail && evt.detail.xhr;
      var status = xhr ? xhr.status : 0;
      show(MESSAGES[status] ||
        "Something went wrong (HTTP " + status + "). Your change was not saved.");
    });

    body.addEventListener("htmx:sendError", function () {
      show("The server could not be reached. Your change was not saved.");
    });

    document.addEventListener("click", function (evt) {
      if (evt.target instanceof Element && evt.target.closest("#error-banner")) hide();
    });

    // Dialogs (e.g. the board's next-step question) come open, so they show without
    // script; here they become modal: focus stays inside, the page behind waits.
    document.addEventListener("htmx:load", function (evt) { openDialogs(evt.detail.elt); });
    openDialogs(document);
    focusFirstInvalid(document);
  }

  function openDialogs(root) {
    if (!root || !root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll("dialog[data-modal]"));
    if (root.matches && root.matches("dialog[data-modal]")) found.push(root);
    found.forEach(function (dialog) {
      if (typeof dialog.showModal !== "function" || dialog.dataset.modalOn) return;
      dialog.dataset.modalOn = "1";
      if (dialog.open) dialog.close();
      dialog.showModal();
      var first = dialog.querySelector("[autofocus]");
      if (first) first.focus();
      // Escape does what the dialog's Cancel button does (e.g. puts the card back).
      dialog.addEventListener("cancel", function (e) {
        var cancel = dialog.querySelector("[data-dialog-cancel]");
        if (!cancel) return;
        e.preventDefault();
        cancel.click();
      });
    });
  }

  /* ---- Focus that follows the work -------------------------------------------------------
     "crm-done" (sent by the server in HX-Trigger-After-Settle, or dispatched by board.js and
     calendar.js) says what happened ({say}) in the page's polite live region (#announcer)
     and puts the focus on the first element found by one of {focus} (selectors): the card,
     row or block worked on. When a later answer replaces that element (a card refreshed, a
     week redrawn) and the focus falls to the page, it goes to the new one, for a few seconds
     and until the person presses a key or the pointer. */
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), " +
    "select:not([disabled]), textarea:not([disabled]), [tabindex]";
  var FOLLOW_MS = 5000;
  var wanted = null;  // { selectors, until }
  var sayTimer = null;

  function announce(message) {
    var region = document.getElementById("announcer");
    if (!region || !message) return;
    // Emptied first, so the same words said twice are heard twice.
    region.textContent = "";
    if (sayTimer) clearTimeout(sayTimer);
    sayTimer = setTimeout(function () { region.textContent = message; }, 50);
  }

  function focusOn(el) {
    if (!el.matches(FOCUSABLE)) el.setAttribute("tabindex", "-1");
    el.focus();
    return document.activeElement === el;
  }

  function focusFirst(selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var el = document.querySelector(selectors[i]);
      if (el && focusOn(el)) return true;
    }
    return false;
  }

  function lost() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  document.addEventListener("crm-done", function (evt) {
    var detail = evt.detail || {};
    if (detail.say) announce(detail.say);
    if (!detail.focus || !detail.focus.length) return;
    wanted = { selectors: detail.focus, until: Date.now() + FOLLOW_MS };
    focusFirst(wanted.selectors);
  });

  function follow() {
    if (!wanted) return false;
    if (Date.now() > wanted.until) { wanted = null; return false; }
    return lost() && focusFirst(wanted.selectors);
  }

  function quiet() { wanted = null; }
  document.addEventListener("keydown", quiet, true);
  document.addEventListener("pointerdown", quiet, true);

  /* After an invalid submit the first field in error has the focus (not the form's first
     field): the message is next to it. */
  function focusFirstInvalid(root) {
    var field = root && root.querySelector ? root.querySelector("[aria-invalid=true]") : null;
    if (field) field.focus();
    return Boolean(field);
  }

  /* An answer that replaced what had the focus (a form swapped for the saved row) leaves it
     on what came in, not at the top of the page. */
  var hadFocus = null;
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    hadFocus = target instanceof Element && !lost() && target.contains(document.activeElement)
      ? target : null;
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    if (focusFirstInvalid(evt.target)) return;
    if (follow()) return;
    var target = evt.target;
    if (hadFocus && lost() && target instanceof Element && target.isConnected &&
        target !== document.body) {
      focusOn(target);
    }
    hadFocus = null;
  });

  /* ---- Side panels ([data-panel]: the board's, the calendar's) --------------------------
     What opened a panel gets the focus back when it closes: Close, Escape, or the form in it
     cancelled or gone. When what opened it was replaced meanwhile (a card refreshed), the
     same place (its nearest id) gets it. */
  var openers = [];  // { panel, opener, anchor }

  function openerOf(panel) {
    for (var i = 0; i < openers.length; i++) if (openers[i].panel === panel) return openers[i];
    return null;
  }

  function forget(panel) {
    openers = openers.filter(function (o) { return o.panel !== panel; });
  }

  function returnFocus(panel) {
    var record = openerOf(panel);
    forget(panel);
    if (!record) return;
    if (record.opener.isConnected) { focusOn(record.opener); return; }
    var anchor = record.anchor && document.getElementById(record.anchor);
    if (anchor) focusOn(anchor.querySelector(FOCUSABLE) || anchor);
  }

  function closePanel(panel) {
    if (!panel.children.length) return false;
    panel.replaceChildren();
    returnFocus(panel);
    return true;
  }

  function openPanels() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-panel]"), function (p) {
      return p.children.length > 0;
    });
  }

  document.addEventListener("htmx:afterSwap", function (evt) {
    var panel = evt.detail.target;
    if (!(panel instanceof Element) || !panel.hasAttribute("data-panel")) return;
    var elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    if (elt instanceof Element && !panel.contains(elt) && panel.children.length) {
      var anchor = elt.closest("[id]");
      forget(panel);
      openers.push({ panel: panel, opener: elt, anchor: anchor ? anchor.id : "" });
    }
    if (panel.contains(document.activeElement) || !panel.children.length) return;
    var field = panel.querySelector(
      "[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button");
    if (field) field.focus();
  });

  // The form in a panel cancelled (its slot emptied): back to what opened the panel.
  function emptied() {
    document.querySelectorAll("[data-panel]").forEach(function (panel) {
      if (panel.children.length || !openerOf(panel)) return;
      if (wanted || !lost()) { forget(panel); return; }
      returnFocus(panel);
    });
  }
  document.addEventListener("htmx:afterRequest", emptied);
  document.addEventListener("htmx:afterSettle", emptied);

  document.addEventListener("click", function (evt) {
    var close = evt.target instanceof Element && evt.target.closest("[data-close-panel]");
    if (close) openPanels().forEach(closePanel);
  });

  // Escape closes the open panel, unless something nearer took it (a dialog, a prompt, a drag).
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape" || evt.defaultPrevented) return;
    if (evt.target instanceof Element && evt.target.closest("dialog")) return;
    var open = openPanels();
    if (!open.length) return;
    evt.preventDefault();
    open.forEach(closePanel);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

/* A Print button (data-print) prints the page: print pages have one instead of an inline
   onclick, which the CSP forbids. */
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("button[data-print]");
    if (button) window.print();
  });
})();
