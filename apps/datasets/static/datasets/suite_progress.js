// The Models page while versions run the test briefs: each active run's state follows its
// `suite.progress` events on the workspace's websocket,
// {"type": "suite.progress", "data": {"suite_run_id", "model_version_id", "state",
// "briefs_done", "briefs"}}, and the page is loaded again when a run ends (succeeded,
// failed or cancelled), to show its figures. The snapshot of a reconnect means events may
// have been missed, so the page is loaded again then too.
(function () {
  "use strict";

  const workspaceId = document.body.dataset.workspaceId;
  if (!workspaceId || !document.querySelector("[data-suite-run]")) return;
  const ACTIVE = ["queued", "running"];
  let connected = false;

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

  function snapshot() {
    if (connected) window.location.reload();
    connected = true;
  }

  if ("WebSocket" in window && window.followWorkspace) {
    window.followWorkspace(workspaceId, handle, snapshot);
  }
})();
