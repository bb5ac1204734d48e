// Edit locks on the brief page: opening a draft's editor takes the lock (renewed
// while open), closing it frees the lock; while someone else holds it the editor
// says who and its Save button is disabled, so two reviewers never overwrite each other.
(function () {
  "use strict";

  const RENEW_MS = 60000; // the server's lock lasts two minutes

  // The CSRF token comes from the editor's own form: the cookie is HttpOnly.
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: body || "",
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  function watch(details) {
    const url = details.dataset.lockUrl;
    const message = details.querySelector("[data-lock-message]");
    const save = details.querySelector("button[type=submit]");
    const csrf = details.querySelector("input[name=csrfmiddlewaretoken]").value;
    let timer = null;

    function take() {
      post(url, csrf).then(function (result) {
        save.disabled = !result.ok;
        message.textContent = result.ok ? "You are editing: others see that this draft is taken."
          : result.data.error || "This draft cannot be edited now.";
      });
    }

    details.addEventListener("toggle", function () {
      window.clearInterval(timer);
      if (details.open) {
        take();
        timer = window.setInterval(take, RENEW_MS);
      } else {
        post(url, csrf, "release=1");
        message.textContent = "";
      }
    });
  }

  // The live script swaps sections in when events arrive: watch editors as they appear.
  function scan(root) {
    root.querySelectorAll("[data-edit]:not([data-watched])").forEach(function (details) {
      details.dataset.watched = "1";
      watch(details);
    });
  }
  scan(document);
  new MutationObserver(function () { scan(document); })
    .observe(document.querySelector("main"), { childList: true, subtree: true });
})();
