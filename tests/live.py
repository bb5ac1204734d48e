"""The platform as users run it, shared by integration and browser tests: real worker
processes, the web server, broker and database.

The children connect to the test database (PostgreSQL when DATABASE_URL is set,
else the SQLite test file), to the same broker and channel layer as the tests,
and to a small built-in model trained once for the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from django.core.management import call_command
from django.db import connection, connections

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import ManagedProcess, database_url, free_port
from aigc_platform.stack import platform_running


@dataclass
class LivePlatform:
    url: str
    ws_url: str
    publish_dir: Path
    processes: list[ManagedProcess]

    def process(self, name: str) -> ManagedProcess:
        return next(p for p in self.processes if p.name == name)


@pytest.fixture(scope="module")
def live_platform(django_db_setup, django_db_blocker, tiny_models_dir, tmp_path_factory
                  ) -> Iterator[LivePlatform]:
    root = tmp_path_factory.mktemp("platform")
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    env = {
        "DATABASE_URL": db_url,
        "AIGC_MODELS_DIR": str(tiny_models_dir),
        "AIGC_PUBLISH_DIR": str(root / "published"),
        "AIGC_JOB_HEARTBEAT_TIMEOUT_S": "30",
    }
    # Messages left by earlier runs' transactional tests name rows that no longer exist.
    celery_app.control.purge()
    # DEBUG is off, as in production: the web process serves the collected static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    port = free_port()
    # Module scope: these workers consume whatever the broker holds, so they must
    # be gone before other tests enqueue work of their own.
    with platform_running(web_port=port, env=env, log_dir=root / "logs", timeout=180) as processes:
        yield LivePlatform(url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}",
                           publish_dir=root / "published", processes=processes)


T = TypeVar("T")


def as_worker(work: Callable[[], T]) -> T:
    """`work()` on a thread of its own, as a worker runs it, its connections closed after: a
    browser test's own thread runs Playwright's event loop, where the ORM and the channel
    layer's sync calls refuse to run."""

    def call() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()
