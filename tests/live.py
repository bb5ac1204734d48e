"""The platform as users run it, shared by integration and browser tests: real worker
processes, the web server, broker and database.

The children connect to the test database (PostgreSQL when DATABASE_URL is set,
else the SQLite test file), to the same broker and channel layer as the tests,
and to a small built-in model trained once for the session.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering by database use
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the live platform run last, one after another: its workers consume
    whatever the broker holds, so no other test may enqueue work while it is up. Started
    once for them all, it saves each module a start and a stop of every process."""
    live = [item for item in items if "live_platform" in getattr(item, "fixturenames", ())]
    if live:
        chosen = set(live)
        items[:] = [item for item in items if item not in chosen] + live


@pytest.fixture(scope="session")
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
    with platform_running(web_port=port, env=env, log_dir=root / "logs", timeout=180) as processes:
        yield LivePlatform(url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}",
                           publish_dir=root / "published", processes=processes)


@contextmanager
def paused(process: ManagedProcess) -> Iterator[None]:
    """The process stopped (SIGSTOP) meanwhile, as a busy worker that has not taken the
    next message yet: a page can be open and live before the work it shows begins."""
    assert process.process is not None
    os.killpg(process.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(process.process.pid, signal.SIGCONT)


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
