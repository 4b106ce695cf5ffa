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
