"""Gates holding the default rules of before `unreadable` existed get its warning."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from apps.evaluation import gating
from apps.evaluation.models import QualityGate
from tests import factories

step = importlib.import_module("apps.evaluation.migrations.0005_gates_warn_unreadable")


def test_the_frozen_rules_are_the_codes_default_with_and_without_the_warning() -> None:
    assert step.AFTER == gating.default_rules()
    assert [r for r in step.AFTER if r["metric"] != "unreadable"] == step.BEFORE


@pytest.mark.django_db
def test_an_untouched_default_gate_gets_the_warning_and_a_changed_one_keeps_its_rules() -> None:
    # Given a gate that still holds the old default, and one an admin changed
    ws = factories.workspace()
    untouched = QualityGate.objects.create(workspace=ws, name="old default", rules=step.BEFORE,
                                           content_type=factories.content_type(ws, slug="a"))
    changed_rules = [*step.BEFORE[:-1], {"metric": "reading_ease", "min": 50, "severity": "warn"}]
    changed = QualityGate.objects.create(workspace=ws, name="edited", rules=changed_rules,
                                         content_type=factories.content_type(ws, slug="b"))
    # When the migration runs forwards
    step.forwards(django_apps, None)
    # Then the untouched gate warns on broken characters, and the other is as it was
    untouched.refresh_from_db()
    changed.refresh_from_db()
    assert untouched.rules == gating.default_rules()
    assert changed.rules == changed_rules
    # And backwards restores the old default
    step.backwards(django_apps, None)
    untouched.refresh_from_db()
    assert untouched.rules == step.BEFORE
