// A model profile's test generation, live on the profile's settings page.
//
// The worker sends {"type": "profile_check.progress", "data": {"check_id", "text", "tokens",
// "max_new_tokens"}} as it writes, then {"type": "profile_check.finished", "data":
// {"check_id", "state", "text", "tokens"} or {..., "error"}}, to the workspace's admins'
// sockets only. The page as a whole is read again by live.js on every (re)connect and when
// a setting changes (another admin asking for a check included): the panel may then name
// a newer check, so the panel and its check are looked up at each event.
window.onLivePanel("[data-profile-check]", function (_panel, workspaceId) {
  "use strict";

  function setText(panel, selector, text) {
    const el = panel.querySelector(selector);
    if (el && typeof text === "string") el.textContent = text;
  }

  function setState(panel, state) {
    const el = panel.querySelector("[data-check-state]");
    if (!el || !state) return;
    el.textContent = state;
    el.className = "state state-" + state;
  }

  window.followWorkspace(workspaceId, function (type, data) {
    const panel = document.querySelector("[data-profile-check]");
    const checkId = panel ? Number(panel.dataset.profileCheck) : 0;
    if (!type.startsWith("profile_check.") || !checkId || Number(data.check_id) !== checkId) return;
    setText(panel, "[data-check-text]", data.text);
    if (typeof data.tokens === "number") setText(panel, "[data-check-tokens]", String(data.tokens));
    if (type === "profile_check.progress") {
      setState(panel, "running");
    } else {
      setState(panel, data.state);
      setText(panel, "[data-check-error]", data.error || "");
    }
  });
});
