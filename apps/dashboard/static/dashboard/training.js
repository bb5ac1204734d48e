// The Training page's live loss chart: an SVG polyline of [step, loss] points.
//
// The points the run stored come with the page (#loss-points); then each
// `training.progress` event of the run on the workspace's websocket,
// {"type": "training.progress", "data": {"training_run_id", "step", "loss"}}, adds
// one. On every (re)connect the server sends a snapshot: events may have been
// missed, so the run is read again over the API, the database being the source
// of truth, and the points that arrived meanwhile are kept.
window.onLivePanel("[data-training-chart]", function (chart, workspaceId) {
  "use strict";

  const runId = Number(chart.dataset.runId);
  const line = chart.querySelector("[data-loss-line]");
  const stateEl = chart.querySelector("[data-run-state]");
  const latestEl = chart.querySelector("[data-loss-latest]");
  const dataEl = document.getElementById("loss-points");
  // The plot area inside the SVG's 640 x 240 viewBox (the axes' corner is at 56, 212).
  const AREA = { left: 56, right: 632, top: 8, bottom: 212 };
  const MAX_POINTS = 2000; // as many as the server stores; past that every other is dropped
  let points = dataEl ? JSON.parse(dataEl.textContent) : [];

  function setText(selector, text) {
    const el = chart.querySelector(selector);
    if (el) el.textContent = text;
  }

  function draw() {
    chart.dataset.points = String(points.length);
    if (points.length === 0) {
      line.setAttribute("points", "");
      return;
    }
    const steps = points.map(function (p) { return p[0]; });
    const losses = points.map(function (p) { return p[1]; });
    const x0 = steps[0];
    const x1 = steps[steps.length - 1];
    const y0 = Math.min.apply(null, losses);
    const y1 = Math.max.apply(null, losses);
    const xSpan = x1 - x0 || 1;
    const ySpan = y1 - y0 || 1;
    line.setAttribute("points", points.map(function (p) {
      const x = AREA.left + (p[0] - x0) / xSpan * (AREA.right - AREA.left);
      const y = AREA.bottom - (p[1] - y0) / ySpan * (AREA.bottom - AREA.top);
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" "));
    setText("[data-y-max]", y1.toFixed(2));
    setText("[data-y-min]", y0.toFixed(2));
    setText("[data-x-min]", "step " + x0);
    setText("[data-x-max]", "step " + x1);
    const last = points[points.length - 1];
    if (latestEl) latestEl.textContent = "step " + last[0] + ": loss " + last[1].toFixed(4);
  }

  function add(step, loss) {
    if (typeof step !== "number" || typeof loss !== "number") return;
    // A point stored before the page loaded may come again as an event: draw it once.
    if (points.length && step <= points[points.length - 1][0]) return;
    points.push([step, loss]);
    while (points.length > MAX_POINTS) {
      points = points.slice().reverse().filter(function (_, i) { return i % 2 === 0; }).reverse();
    }
    draw();
  }

  function reload() {
    fetch(chart.dataset.runUrl, { credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (run) {
        if (!run) return;
        const stored = run.losses || [];
        const lastStored = stored.length ? stored[stored.length - 1][0] : -Infinity;
        points = stored.concat(points.filter(function (p) { return p[0] > lastStored; }));
        setState(run.state);
        draw();
      });
  }

  function setState(state) {
    if (!stateEl || !state) return;
    stateEl.textContent = state;
    stateEl.className = "state state-" + state;
  }

  function handle(type, data) {
    if (!type.startsWith("training.") || Number(data.training_run_id) !== runId) return;
    if (type === "training.progress") {
      add(data.step, data.loss);
    } else {
      setState(type.slice("training.".length));
    }
  }

  draw();
  window.followWorkspace(workspaceId, handle, reload);
});
