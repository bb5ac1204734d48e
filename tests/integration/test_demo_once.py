"""`manage.py demo --once` on embedded defaults, as a user runs it on a fresh machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo_once_runs_a_brief_through_every_stage_on_embedded_defaults(tiny_models_dir):
    # Given a fresh var folder, no database or Redis configured, and a built-in model
    # (nor the tests' own settings and keys: the demo needs none)
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE",
                        "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "AIGC_ENCRYPTION_KEYS",
                        "DJANGO_SECURE_SSL_REDIRECT"}}
    # A short path: the embedded Valkey listens on a Unix socket inside it (108-byte limit).
    var = Path(os.environ.get("TMPDIR", "/tmp")) / f"aigc-demo-{os.getpid()}"
    env.update({"AIGC_VAR_DIR": str(var), "AIGC_MODELS_DIR": str(tiny_models_dir)})

    # When the demo runs once
    result = subprocess.run([sys.executable, "manage.py", "demo", "--once", "--timeout", "240"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    # Then it printed one JSON report of a published brief and exited 0
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["state"] == "published"
    assert report["job"]["state"] == "succeeded"
    assert report["job"]["completion_tokens"] > 0
    assert len(report["scores"]) == 3
    assert all(-1 <= s["relevance"] <= 1 and 0 <= s["length_fit"] <= 1 for s in report["scores"])
    [publication] = report["publications"]
    assert (publication["target"], publication["state"]) == ("Static site", "published")
    written = var / "published" / "demo-site" / publication["external_id"]
    assert written.read_text().startswith("---\n")
    # and the embedded Valkey it started is gone again
    assert not (var / "valkey" / "valkey.sock").exists()
