// Edit locks on the brief page. Opening a draft's editor takes nothing: the lock is taken
// when the user starts typing (or saves without having typed), renewed while they edit, and
// freed when they close the editor. While someone else holds it the editor says who and its
// Save button is disabled, so two reviewers never overwrite each other.
//
// Listeners sit on the document, not on the editors: the live script merges fresh sections
// into the page, and state kept here (by the lock's URL) never hangs on a node.
(function () {
  "use strict";

  const RENEW_MS = 60000; // the server's lock lasts two minutes
  const RETRY_MS = 5000; // after a refusal, typing asks again at most this often
  const locks = new Map(); // lock URL -> {ok: Promise<boolean>, timer}

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

  function editorFor(url) {
    return document.querySelector('[data-edit][data-lock-url="' + url + '"]');
  }

  function csrf(editor) {
    return editor.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function show(editor, result) {
    editor.querySelector("button[type=submit]").disabled = !result.ok;
    editor.querySelector("[data-lock-message]").textContent = result.ok ?
      "You are editing: others see that this draft is taken." :
      result.data.error || "This draft cannot be edited now.";
  }

  function drop(url) {
    const lock = locks.get(url);
    if (lock) window.clearInterval(lock.timer);
    locks.delete(url);
  }

  // Take the lock unless this page holds it or is asking; resolves whether it is held.
  function take(editor) {
    const url = editor.dataset.lockUrl;
    if (locks.has(url)) return locks.get(url).ok;
    const lock = { timer: null, ok: null };
    lock.ok = post(url, csrf(editor)).then(function (result) {
      show(editor, result);
      if (result.ok) {
        lock.timer = window.setInterval(function () { renew(url); }, RENEW_MS);
      } else {
        window.setTimeout(function () { if (locks.get(url) === lock) drop(url); }, RETRY_MS);
      }
      return result.ok;
    });
    locks.set(url, lock);
    return lock.ok;
  }

  function renew(url) {
    const editor = editorFor(url);
    if (!editor) {
      drop(url); // the draft left the page (the brief moved on); its lock lapses by itself
      return;
    }
    post(url, csrf(editor)).then(function (result) { show(editor, result); });
  }

  document.addEventListener("input", function (event) {
    const editor = event.target.closest && event.target.closest("[data-edit]");
    if (editor) take(editor);
  });

  // Saving without having typed takes the lock first, so a refusal names who edits.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const editor = form.closest("[data-edit]");
    if (!editor || event.defaultPrevented) return;
    event.preventDefault();
    take(editor).then(function (ok) { if (ok) form.submit(); });
  });

  // "toggle" does not bubble: listen while it goes down to the editor.
  document.addEventListener("toggle", function (event) {
    const editor = event.target;
    if (!(editor instanceof HTMLDetailsElement) || !editor.matches("[data-edit]") || editor.open) return;
    const url = editor.dataset.lockUrl;
    if (!locks.has(url)) return;
    locks.get(url).ok.then(function (held) { if (held) post(url, csrf(editor), "release=1"); });
    drop(url);
    editor.querySelector("[data-lock-message]").textContent = "";
    editor.querySelector("button[type=submit]").disabled = false;
  }, true);
})();
