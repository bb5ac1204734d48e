"""The fault suite's platform: web, workers and beat as users run them, with the reconciler
re-sending lost work after RESEND_AFTER_S so that recovery fits a test's time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import ManagedProcess, database_url
from aigc_platform.stack import platform_running

RESEND_AFTER_S = 4


@pytest.fixture
def platform(django_db_blocker, tiny_models_dir, tmp_path: Path
             ) -> Iterator[tuple[list[ManagedProcess], dict[str, str], Path]]:
    """(processes, their environment, their log folder); a test adds replacements with the
    same environment."""
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    env = {"DATABASE_URL": db_url, "AIGC_MODELS_DIR": str(tiny_models_dir),
           "AIGC_PUBLISH_DIR": str(tmp_path / "published"),
           "AIGC_RESEND_AFTER_S": str(RESEND_AFTER_S), "AIGC_RECONCILE_INTERVAL_S": "2"}
    celery_app.control.purge()  # messages of earlier tests' rows, long gone
    with platform_running(env=env, log_dir=tmp_path / "logs", timeout=180) as processes:
        yield processes, env, tmp_path / "logs"
