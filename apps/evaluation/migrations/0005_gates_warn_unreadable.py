"""Gates that still hold the default rules of before broken characters were a metric get the
new default's `unreadable` warning; a gate an admin changed keeps its own rules."""

from typing import Any

from django.db import migrations

# The default rules as they were, frozen here: the code's default moves on.
BEFORE: list[dict[str, Any]] = [
    {"metric": "relevance", "min": 0.3, "severity": "fail"},
    {"metric": "wrong_language", "max": 0, "severity": "fail"},
    {"metric": "real_word_share", "min": 0.89, "severity": "fail"},
    {"metric": "loops", "max": 0, "severity": "fail"},
    {"metric": "truncated", "max": 0, "severity": "warn"},
    {"metric": "list_markers", "max": 0, "severity": "warn"},
    {"metric": "banned_terms_found", "max": 0, "severity": "fail"},
    {"metric": "emails", "max": 0, "severity": "fail"},
    {"metric": "phone_numbers", "max": 0, "severity": "fail"},
    {"metric": "card_numbers", "max": 0, "severity": "fail"},
    {"metric": "profanity", "max": 0, "severity": "fail"},
    {"metric": "duplicate_similarity", "max": 0.95, "severity": "fail"},
    {"metric": "duplicate_overlap", "max": 0.5, "severity": "fail"},
    {"metric": "unsafe_links", "max": 0, "severity": "warn"},
    {"metric": "required_coverage", "min": 1.0, "severity": "warn"},
    {"metric": "keyword_coverage", "min": 0.5, "severity": "warn"},
    {"metric": "length_fit", "min": 0.5, "severity": "warn"},
    {"metric": "grounding", "min": 0.6, "severity": "warn"},
    {"metric": "reading_ease", "min": 30, "severity": "warn"},
]
UNREADABLE = {"metric": "unreadable", "max": 0, "severity": "warn"}
AFTER = [*BEFORE[:5], UNREADABLE, *BEFORE[5:]]  # after "truncated", as in the code's default


def _moved(apps: Any, frm: list[dict[str, Any]], to: list[dict[str, Any]]) -> None:
    # Compared in Python: a JSON column's equality is its text on some databases, and
    # a rule saved by a form may hold the same keys in another order.
    QualityGate = apps.get_model("evaluation", "QualityGate")
    same = [gate.pk for gate in QualityGate.objects.only("rules") if gate.rules == frm]
    QualityGate.objects.filter(pk__in=same).update(rules=to)


def forwards(apps: Any, schema_editor: Any) -> None:
    _moved(apps, BEFORE, AFTER)


def backwards(apps: Any, schema_editor: Any) -> None:
    _moved(apps, AFTER, BEFORE)


class Migration(migrations.Migration):

    dependencies = [
        ("evaluation", "0004_revision_evaluation"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
