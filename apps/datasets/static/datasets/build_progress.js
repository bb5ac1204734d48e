// A dataset version's page while it builds: the progress bar follows the build's
// `dataset.progress` events on the workspace's websocket,
// {"type": "dataset.progress", "data": {"dataset_version_id", "documents_done", "documents",
// "progress"}}, and the page is loaded again when the build ends (built, failed or cancelled),
// to show what it recorded. On every (re)connect the server sends a snapshot: events may
// have been missed, so the version is read again over the API.
window.onLivePanel("[data-build-progress]", function (panel, workspaceId) {
  "use strict";

  const versionId = Number(panel.dataset.versionId);
  const bar = panel.querySelector("progress");
  const text = panel.querySelector("[data-build-text]");
  const ENDS = ["dataset.built", "dataset.build_failed", "dataset.build_cancelled"];

  function show(progress, label) {
    bar.value = progress;
    text.textContent = label;
  }

  function reread() {
    fetch(panel.dataset.versionUrl, { credentials: "same-origin",
      headers: { Accept: "application/json", "X-Workspace": workspaceId } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (version) {
        if (!version) return;
        if (version.state !== "queued" && version.state !== "running") {
          window.location.reload();
        } else {
          show(version.progress, Math.round(version.progress * 100) + "%");
        }
      });
  }

  function handle(type, data) {
    if (Number(data.dataset_version_id) !== versionId) return;
    if (type === "dataset.progress") {
      show(data.progress, data.documents_done + " of " + data.documents + " documents cleaned");
    } else if (ENDS.indexOf(type) !== -1) {
      window.location.reload();
    }
  }

  window.followWorkspace(workspaceId, handle, reread);
});
