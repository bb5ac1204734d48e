"""A process refuses a batching setting it does not know instead of picking one."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from apps.generation import running
from workers.generation.batching import BatchCollector
from workers.generation.continuous import ContinuousBatcher


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("AIGC_GENERATION_BATCHING", "statik",
     "AIGC_GENERATION_BATCHING is 'continuous' or 'static', not 'statik'."),
    ("AIGC_GENERATION_BATCH_INVARIANT", "exact",
     "AIGC_GENERATION_BATCH_INVARIANT is a flag (on/off, true/false, yes/no, 1/0), not 'exact'."),
])
def test_an_unknown_batching_setting_stops_the_worker_with_its_name(
        variable: str, value: str, message: str) -> None:
    env = {**os.environ, variable: value, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); import apps.generation.running"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert message in done.stderr


@pytest.mark.parametrize(("batching", "batcher"), [
    ("continuous", ContinuousBatcher), ("static", BatchCollector)])
def test_a_worker_builds_the_batcher_the_setting_names(
        monkeypatch: pytest.MonkeyPatch, settings: Any, batching: str, batcher: type) -> None:
    monkeypatch.setattr(running, "_collector", None)
    settings.GENERATION_BATCHING = batching
    assert type(running.local_collector()) is batcher
