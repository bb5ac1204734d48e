"""Bulk import of briefs from CSV or JSON, with a report row by row.

Each row is validated and created on its own (one transaction each), so a
bad row is refused with its reasons while the others are created.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

from apps.briefs.models import Origin
from apps.briefs.serializers import BriefCreateSerializer
from apps.core.errors import DomainError
from apps.core.json_input import JsonRejected, json_checked
from apps.core.models import Workspace
from apps.core.services import Actor
from apps.workflow.services import brief_create

MAX_ROWS = 500
LIST_FIELDS = ("keywords", "reference_texts")  # in CSV cells, items separated by ';'


class CsvParser(BaseParser):
    """text/csv: a header row naming brief fields, then one brief per row."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        return csv_rows(stream.read())


def csv_rows(raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError("The CSV is not UTF-8.") from exc
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {k.strip(): v.strip() for k, v in record.items()
                               if k and isinstance(v, str) and v.strip()}
        for name in LIST_FIELDS:
            if name in row:
                row[name] = [item.strip() for item in row[name].split(";") if item.strip()]
        rows.append(row)
    return rows


def import_rows(data: Any) -> list[Any]:
    """The rows of a JSON list, a parsed CSV body, or an uploaded `file` (CSV or JSON)."""
    upload = data.get("file") if hasattr(data, "get") else None
    if upload is not None and hasattr(upload, "read"):
        raw = upload.read(10_000_001)
        if len(raw) > 10_000_000:
            raise ValidationError({"file": ["The file is larger than 10 MB."]})
        if raw.lstrip()[:1] == b"[":
            try:
                data = json_checked(raw)
            except JsonRejected as exc:
                raise ValidationError({"file": [str(exc)]}) from exc
            except ValueError as exc:
                raise ValidationError({"file": [f"Not valid JSON: {exc}."]}) from exc
        else:
            data = csv_rows(raw)
    if not isinstance(data, list):
        raise ValidationError({"non_field_errors": [
            "Send a JSON list of briefs, a text/csv body, or a multipart 'file'."]})
    if len(data) > MAX_ROWS:
        raise ValidationError({"non_field_errors": [f"At most {MAX_ROWS} rows per import."]})
    return data


def briefs_import(*, workspace: Workspace, data: Any, actor: Actor = None) -> dict[str, Any]:
    """Create one submitted brief per valid row; the report says what each row became and why."""
    report: list[dict[str, Any]] = []
    for number, row in enumerate(import_rows(data), start=1):
        if not isinstance(row, dict):
            report.append(_refused(number, {"non_field_errors": ["A row is an object of fields."]}))
            continue
        fields = BriefCreateSerializer(data=row, context={"workspace": workspace})
        if not fields.is_valid():
            report.append(_refused(number, fields.errors))
            continue
        try:
            with transaction.atomic():
                brief = brief_create(workspace=workspace, created_by=actor, origin=Origin.API,
                                     submit=True, **fields.validated_data)
        except DomainError as exc:
            report.append(_refused(number, {"non_field_errors": [str(exc)]}))
            continue
        report.append({"row": number, "status": "created", "brief_id": brief.pk, "errors": {}})
    created = sum(1 for r in report if r["status"] == "created")
    return {"created": created, "refused": len(report) - created, "rows": report}


def _refused(number: int, errors: Any) -> dict[str, Any]:
    return {"row": number, "status": "refused", "brief_id": None, "errors": dict(errors)}
