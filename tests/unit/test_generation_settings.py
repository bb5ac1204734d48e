"""A generation worker refuses a batching setting it does not know instead of picking one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


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
