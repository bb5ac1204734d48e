"""python manage.py evaluate [FILE]: score drafts against a brief given as JSON, no database row."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.evaluation.running import deployment_model_dir
from apps.evaluation.standalone import evaluate


class Command(BaseCommand):
    help = ('Score drafts against a brief without a database row. Input (FILE, or standard input '
            'when FILE is "-" or left out): {"brief": {"title", "topic", "language", '
            '"target_length", "keywords", "required_terms", "banned_terms", "reference_texts", '
            '"source_material"}, "drafts": ["...", ...], "rules": [optional gate rules]}. Output: '
            'one JSON object, {"language", "unit", "drafts": [{"metrics", "decision", '
            '"reasons"}]}, drafts in input order. Exits 1 when a draft fails a hard rule.')

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default="-", help="JSON input (default: stdin)")
        parser.add_argument("--model-dir", type=Path, default=None,
                            help="sentence-transformers model folder (default: the deployment's)")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        try:
            raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
            payload = json.loads(raw)
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror}.") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"The input is not JSON: {exc}.") from exc
        if not isinstance(payload, dict):
            raise CommandError('The input must be a JSON object: {"brief": {...}, "drafts": [...]}.')
        try:
            result = evaluate(payload, options["model_dir"] or deployment_model_dir())
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, ensure_ascii=False))
        if any(draft["decision"] == "fail" for draft in result["drafts"]):
            sys.exit(1)
