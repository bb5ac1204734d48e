"""The insights figures as charts people read: human labels, days in the dashboard's format,
and beside every number the text a tooltip and the table under the chart show.

The page draws each chart with Chart.js (insights.js) from this data, sent as JSON in a
<script type="application/json">; the same data is the table under each chart, for screen
readers and small screens. A series with `plotted` false is in the table only (a count
beside durations would need an axis of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from apps.briefs.models import BriefState
from apps.dashboard.templatetags.dashboard import date_text, duration_text
from apps.reviews.models import Decision

DECISION_LABELS = {Decision.APPROVE: "Approved", Decision.REQUEST_CHANGES: "Changes requested",
                   Decision.REJECT: "Rejected"}


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | None]
    texts: list[str]
    plotted: bool = True


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    kind: str  # a Chart.js type: "bar" or "line"
    row_header: str  # what the labels are, the table's first column
    labels: list[str]
    series: list[Series]
    empty: str  # said instead of a chart when there is nothing to draw
    axis: str = ""  # what the value axis counts
    stacked: bool = False
    horizontal: bool = False
    summary: str = ""
    rows: list[tuple[str, list[str]]] = field(init=False)

    def __post_init__(self) -> None:
        # The table's rows, each label with its texts; computed once for the template.
        texts = [s.texts for s in self.series]
        object.__setattr__(self, "rows", [(label, [t[i] for t in texts])
                                          for i, label in enumerate(self.labels)])


def _counts(label: str, values: list[int], plotted: bool = True) -> Series:
    return Series(label=label, values=list(values), texts=[f"{v:,}" for v in values],
                  plotted=plotted)


def _percent(label: str, shares: list[float | None], plotted: bool = True) -> Series:
    return Series(label=label, values=[None if s is None else round(s * 100, 1) for s in shares],
                  texts=["—" if s is None else f"{round(s * 100)} %" for s in shares],
                  plotted=plotted)


def _duration_unit(longest: float) -> tuple[str, int]:
    """The axis unit that keeps the longest bar's number readable."""
    if longest >= 2 * 86400:
        return "days", 86400
    if longest >= 2 * 3600:
        return "hours", 3600
    return ("minutes", 60) if longest >= 120 else ("seconds", 1)


def _state_label(state: str) -> str:
    return BriefState(state).label.capitalize() if state in BriefState.values else state


def insights_charts(figures: dict[str, Any]) -> list[Chart]:
    """The charts of `insights(...)`'s figures, in the page's order."""
    per_day = figures["briefs_per_day"]
    decisions = figures["decisions"]
    in_state = figures["time_in_state"]
    unit, unit_s = _duration_unit(max((t["p90_s"] for t in in_state.values()), default=0))
    cost = figures["generation_cost"]
    scores = figures["score_distribution"]
    step = scores["bins"][1] - scores["bins"][0] if len(scores["bins"]) > 1 else 1
    success = figures["publication_success"]
    engagement = figures["engagement"]
    weeks = figures["gate_agreement"]
    rate = figures["approval_rate"]
    briefs = [d["briefs"] for d in per_day]
    # Zero decisions or zero drafts is no chart, not a chart of zeros.
    shown_decisions = DECISION_LABELS if any(decisions.values()) else {}
    bins = scores["bins"] if scores["drafts"] else []
    return [
        Chart(key="briefs-per-day", title="Briefs per day", kind="bar", row_header="Day",
              labels=[date_text(date.fromisoformat(d["day"])) for d in per_day],
              series=[_counts("Briefs", briefs)], axis="briefs", empty="No briefs."),
        Chart(key="decisions", title="Review decisions", kind="bar", row_header="Decision",
              labels=list(shown_decisions.values()),
              series=[_counts("Decisions", [decisions[d] for d in shown_decisions])],
              axis="decisions", horizontal=True, empty="No decisions.",
              summary="" if rate is None else f"Approval rate: {round(rate * 100)} %"),
        Chart(key="time-in-state", title="Time in each state", kind="bar", row_header="State",
              labels=[_state_label(s) for s in in_state],
              series=[
                  Series(label=label, values=[round(t[key] / unit_s, 2) for t in in_state.values()],
                         texts=[duration_text(t[key]) for t in in_state.values()])
                  for label, key in (("Median", "median_s"), ("90th percentile", "p90_s"))
              ] + [_counts("Briefs", [t["count"] for t in in_state.values()], plotted=False)],
              axis=unit, horizontal=True, empty="No briefs changed state."),
        Chart(key="generation-cost", title="Generation cost per content type", kind="bar",
              row_header="Content type", labels=[r["content_type"] or "—" for r in cost],
              series=[_counts("Prompt tokens", [r["prompt_tokens"] or 0 for r in cost]),
                      _counts("Completion tokens", [r["completion_tokens"] or 0 for r in cost]),
                      _counts("Jobs", [r["jobs"] for r in cost], plotted=False)],
              axis="tokens", stacked=True, horizontal=True, empty="No generation jobs."),
        Chart(key="scores", title=f"Score distribution ({scores['drafts']:,} drafts)", kind="bar",
              row_header="Score", labels=[f"{low:.1f}–{low + step:.1f}" for low in bins],
              series=[_counts("Drafts", scores["counts"][:len(bins)])], axis="drafts",
              empty="No drafts scored."),
        Chart(key="publication-success", title="Publications per target", kind="bar",
              row_header="Target", labels=[r["target_name"] for r in success],
              series=[_counts("Published", [r["published"] for r in success]),
                      _counts("Failed", [r["failed"] for r in success]),
                      _counts("All", [r["total"] for r in success], plotted=False),
                      _percent("Success", [r["success_rate"] for r in success], plotted=False)],
              axis="publications", stacked=True, horizontal=True, empty="No publications."),
        *(Chart(key=f"engagement-{key}", title=f"Engagement per {name}", kind="bar",
                row_header=name.capitalize(), labels=[r["name"] for r in engagement[key]],
                series=[_counts("Interactions", [r["engagement"] for r in engagement[key]])],
                axis="interactions", horizontal=True, empty="No engagement pulled back yet.")
          for key, name in (("per_target", "target"), ("per_content_type", "content type"))),
        Chart(key="gate-agreement", title="Gate and reviewers agreeing, per week", kind="line",
              row_header="Week of", labels=[date_text(date.fromisoformat(w["week"])) for w in weeks],
              series=[_percent("Agreement", [w["agreement"] for w in weeks]),
                      _percent("Precision", [w["precision"] for w in weeks]),
                      _percent("Recall", [w["recall"] for w in weeks]),
                      _counts("Reviewed jobs", [w["reviewed"] for w in weeks], plotted=False)],
              axis="%", empty="No job judged by both the gate and a reviewer.",
              summary="Agreement: the share of reviewed jobs where the gate's pass or fail matched "
                      "the reviewer's approval. Precision: of the jobs the gate passed, the share "
                      "approved. Recall: of the jobs approved, the share the gate passed."),
    ]


def charts_json(charts: list[Chart]) -> list[dict[str, Any]]:
    """What insights.js draws: the plotted series of each chart that has something to draw."""
    return [{"key": c.key, "kind": c.kind, "labels": c.labels, "axis": c.axis,
             "stacked": c.stacked, "horizontal": c.horizontal,
             "series": [{"label": s.label, "values": s.values, "texts": s.texts}
                        for s in c.series if s.plotted]}
            for c in charts if c.labels]
