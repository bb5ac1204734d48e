from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from aigc_platform.embedded import running_valkey
from apps.evaluation.running import published_cache


@pytest.fixture(scope="session", autouse=True)
def broker() -> Iterator[str]:
    """The real broker and channel layer: REDIS_URL's server, or the embedded Valkey."""
    if settings.EMBEDDED_VALKEY:
        with running_valkey(Path(settings.VAR_DIR)):
            yield settings.REDIS_URL
    else:
        yield settings.REDIS_URL


@pytest.fixture(scope="session", autouse=True)
def egress_loopback() -> None:
    """The local peers (tests/peers, tests/http_peers.py) listen on loopback, which the
    egress policy refuses unless the operator allows it; the tests do, as the demo does,
    here and in the worker processes they start (which inherit the environment)."""
    settings.EGRESS_ALLOW_LOOPBACK = True
    os.environ["AIGC_EGRESS_ALLOW_LOOPBACK"] = "1"


@pytest.fixture(autouse=True)
def dispatch_leases_cleared(broker: str) -> None:
    """Dispatch leases (apps/core/leases.py) live in the shared cache, outside the test's
    transaction, and a test's rows may reuse the ids of an earlier test's: each test starts
    with none, so no test depends on the ones before it."""
    cache.clear()


@pytest.fixture(autouse=True)
def published_pieces_forgotten() -> None:
    """The published pieces an evaluation worker keeps (apps.evaluation.running) outlive a
    test's rolled-back rows, and the next test's rows may reuse their ids: each test starts
    with none."""
    published_cache.clear()


def missing(reason: str) -> None:
    """A part a test needs (Chromium, WordPress) is missing: CI fails, since a skipped test
    there hides a gap; a developer's machine skips with the reason."""
    if os.environ.get("AIGC_TESTS_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (CI needs every part: AIGC_TESTS_REQUIRE_ALL=1)")
    pytest.skip(reason)
