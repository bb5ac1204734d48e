// The Insights page's charts, drawn with the vendored Chart.js from the page's
// #insights-charts JSON (apps/dashboard/charts.py): per chart its kind, its
// labels, and per series the values plotted and the texts people read
// ("2 h 14 min", "50 %"), which the tooltips show. The table under each chart
// holds the same numbers for screen readers and small screens.
(function () {
  "use strict";

  const dataEl = document.getElementById("insights-charts");
  if (!dataEl || typeof Chart === "undefined") return;

  const css = getComputedStyle(document.documentElement);
  const colour = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const PALETTE = [colour("--accent", "#2f6f4f"), "#d08c2f", "#6b6bb8", "#b84a4a"];
  const ROW_PX = 28; // a horizontal bar's row, so that long lists get taller, not thinner

  for (const spec of JSON.parse(dataEl.textContent)) {
    const box = document.querySelector(`[data-chart="${spec.key}"]`);
    if (!box) continue;
    if (spec.horizontal) {
      box.style.height = `${Math.max(160, 60 + spec.labels.length * spec.series.length * ROW_PX)}px`;
    }
    // Counts get whole-number ticks (no "0.5 briefs"); durations and shares keep fractions.
    const counts = spec.series.every((s) => s.values.every((v) => v === null || Number.isInteger(v)));
    const valueAxis = {
      beginAtZero: true,
      stacked: spec.stacked,
      ticks: counts ? { precision: 0 } : {},
      title: { display: Boolean(spec.axis), text: spec.axis },
      ...(spec.axis === "%" ? { max: 100 } : {}),
    };
    const labelAxis = { stacked: spec.stacked, ticks: { autoSkip: true } };
    new Chart(box.querySelector("canvas"), {
      type: spec.kind,
      data: {
        labels: spec.labels,
        datasets: spec.series.map((series, i) => ({
          label: series.label,
          data: series.values,
          texts: series.texts,
          backgroundColor: PALETTE[i % PALETTE.length],
          borderColor: PALETTE[i % PALETTE.length],
          spanGaps: true,
        })),
      },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: false,
        scales: spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
        plugins: {
          legend: { display: spec.series.length > 1 },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${item.dataset.texts[item.dataIndex]}`,
            },
          },
        },
      },
    });
    box.dataset.drawn = "true";
  }
})();
