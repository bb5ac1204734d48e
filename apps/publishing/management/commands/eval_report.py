"""python manage.py eval_report [--out DIR] [--workspace ID]: the gate against reviewers, and
the scores against audience engagement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.evaluation.report import gate_agreement, render_html, with_engagement, write_csv
from apps.publishing.selectors import gate_report_rows


class Command(BaseCommand):
    help = ("Write eval_report.html (score distributions, plots, correlation of each metric and "
            "of the gate with reviewers' decisions, rank correlation of each metric with the "
            "audience's engagement) and eval_report.csv (one row per job, with its total "
            "engagement).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, default=settings.VAR_DIR / "reports",
                            help="folder for the two files (default: VAR_DIR/reports)")
        parser.add_argument("--workspace", type=int, default=None, help="one workspace's jobs")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        out.mkdir(parents=True, exist_ok=True)
        rows = gate_report_rows(workspace_id=options["workspace"])
        write_csv(rows, out / "eval_report.csv")
        (out / "eval_report.html").write_text(render_html(rows))
        agreement = gate_agreement(rows)
        self.stdout.write(
            f"{len(rows)} jobs, {agreement.reviewed} reviewed with a gate verdict: "
            f"precision {agreement.precision}, recall {agreement.recall}; "
            f"{len(with_engagement(rows))} with engagement data; "
            f"wrote {out / 'eval_report.html'} and {out / 'eval_report.csv'}"
        )
