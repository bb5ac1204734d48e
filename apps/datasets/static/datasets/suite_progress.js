// The Models page while versions run the test briefs: each active run's state follows its
// `suite.progress` events on the workspace's websocket,
// {"type": "suite.progress", "data": {"suite_run_id", "model_version_id", "state",
// "briefs_done", "briefs"}}, and the page is loaded again when a run ends (succeeded,
// failed or cancelled), to show its figures. On every (re)connect the server sends a
// snapshot: events may have been missed (a run may have ended before the page was live), so
// each run is read again over the API.
window.onLivePanel("[data-suite-run]", function (_run, workspaceId) {
  "use strict";

  const ACTIVE = ["queued", "running"];

  function handle(type, data) {
    if (type !== "suite.progress") return;
    const state = document.querySelector('[data-suite-run="' + Number(data.suite_run_id) + '"]');
    if (!state) return;
    if (ACTIVE.indexOf(data.state) === -1) {
      window.location.reload();
      return;
    }
    state.textContent = data.state + " · " + data.briefs_done + " of " + data.briefs +
      " test briefs";
  }

  function reread() {
    document.querySelectorAll("[data-suite-run]").forEach(function (state) {
      fetch(state.dataset.suiteUrl, { credentials: "same-origin",
        headers: { Accept: "application/json", "X-Workspace": workspaceId } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (run) {
          if (run && (run.id !== Number(state.dataset.suiteRun) ||
                      ACTIVE.indexOf(run.state) === -1)) window.location.reload();
        });
    });
  }

  window.followWorkspace(workspaceId, handle, reread);
});
