// A model profile's test generation, live on the profile's settings page.
//
// The worker sends {"type": "profile_check.progress", "data": {"check_id", "text", "tokens",
// "max_new_tokens"}} as it writes, then {"type": "profile_check.finished", "data":
// {"check_id", "state", "text", "tokens"} or {..., "error"}}. On every (re)connect the
// server sends a snapshot: the check may have moved on meanwhile (a short one often ends
// before the socket opens), so the panel is read again and morphed in, the database being
// the source of truth.
(function () {
  "use strict";

  const panel = document.querySelector("[data-profile-check]");
  const workspaceId = document.body.dataset.workspaceId;
  if (!panel || !workspaceId || !window.followWorkspace) return;
  const checkId = Number(panel.dataset.profileCheck);
  if (!checkId) return;

  function setText(selector, text) {
    const el = panel.querySelector(selector);
    if (el && typeof text === "string") el.textContent = text;
  }

  function setState(state) {
    const el = panel.querySelector("[data-check-state]");
    if (!el || !state) return;
    el.textContent = state;
    el.className = "state state-" + state;
  }

  function reload() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html || !window.Idiomorph) return;
        const fresh = new DOMParser().parseFromString(html, "text/html")
          .querySelector("[data-profile-check]");
        if (fresh) window.Idiomorph.morph(panel, fresh, { morphStyle: "innerHTML" });
      })
      .catch(function () { /* the next snapshot reads it again */ });
  }

  window.followWorkspace(workspaceId, function (message) {
    const type = String(message.type || "");
    const data = message.data || {};
    if (type === "snapshot") {
      reload();
      return;
    }
    if (!type.startsWith("profile_check.") || Number(data.check_id) !== checkId) return;
    setText("[data-check-text]", data.text);
    if (typeof data.tokens === "number") setText("[data-check-tokens]", String(data.tokens));
    if (type === "profile_check.progress") {
      setState("running");
    } else {
      setState(data.state);
      setText("[data-check-error]", data.error || "");
    }
  });
})();
