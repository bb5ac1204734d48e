"""A generation worker refuses a batching mode it does not know instead of picking one."""

from __future__ import annotations

import os
import subprocess
import sys


def test_an_unknown_batching_mode_stops_the_worker_with_its_name() -> None:
    env = {**os.environ, "AIGC_GENERATION_BATCHING": "statik",
           "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); import apps.generation.running"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "AIGC_GENERATION_BATCHING is 'continuous' or 'static', not 'statik'." in done.stderr
