"""Bounded database connections: under load the web tier holds at most its pool's size of
PostgreSQL connections, and answers overload with a 503 and Retry-After, never a 500.

On a cluster of the test's own (tests/private_postgres.py): the machine's shared
PostgreSQL is never loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from aigc_platform.processes import ManagedProcess, free_port, web_command
from tests.private_postgres import PrivatePostgres, private_postgres

pytestmark = [pytest.mark.integration, pytest.mark.load]  # the bounded stage, after the suite

REQUESTS, CONCURRENCY = 240, 24  # bounded: a few seconds of load


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=settings.BASE_DIR, check=True)
    return done.stdout


def _load(cluster: PrivatePostgres, env: dict[str, str], key: str, log: Path
          ) -> tuple[list[httpx.Response], int]:
    """REQUESTS calls, CONCURRENCY at a time, to a fresh web process: answers, peak connections."""
    port = free_port()
    web = ManagedProcess("web", web_command("127.0.0.1", port), env, log).start()
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], cluster.client_connections())
            time.sleep(0.02)

    base = f"http://127.0.0.1:{port}/api/v1"

    def call(n: int) -> httpx.Response:
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
            if n % 3 == 0:
                return client.post(f"{base}/style-guides/", json={"name": f"Guide {n}"})
            return client.get(f"{base}/briefs/")

    try:
        web.wait_for_port("127.0.0.1", port, timeout=60)
        sampler = threading.Thread(target=sample)
        sampler.start()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            answers = list(pool.map(call, range(REQUESTS)))
        stop.set()
        sampler.join()
    finally:
        stop.set()
        web.stop()
    return answers, peak[0]


def test_the_web_tier_stays_within_its_pool_and_sheds_overload_with_503(tmp_path: Path):
    with private_postgres(max_connections=30) as cluster:
        env = {**os.environ, "DATABASE_URL": cluster.url, "API_THROTTLE_USER_RATE": "100000/min",
               "API_THROTTLE_KEY_RATE": "100000/min"}
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "workspace", "create", "load")
        _manage(env, "member", "add", "load", "ana", "--role", "admin")
        key = _manage(env, "apikey", "create", "load", "ana", "--scopes",
                      "briefs:read,catalog:write").splitlines()[-1]
        # A pool of 4 that waits for a free connection: all served, never more than 4 open.
        served, peak = _load(cluster, {**env, "AIGC_DB_POOL_MAX": "4",
                                       "AIGC_DB_POOL_TIMEOUT_S": "10"}, key, tmp_path / "a.log")
        # A pool of 1 that waits 10 ms: overloaded, it sheds with 503 + Retry-After.
        shed, _ = _load(cluster, {**env, "AIGC_DB_POOL_MAX": "1",
                                  "AIGC_DB_POOL_TIMEOUT_S": "0.01"}, key, tmp_path / "b.log")
    refused = [a for a in shed if a.status_code == 503]
    print(f"pool 4: peak {peak} connections, {len(served)} served; "
          f"pool 1: {len(refused)} of {REQUESTS} shed with 503")
    assert sorted({a.status_code for a in served}) == [200, 201]
    assert 1 <= peak <= 4
    assert {a.status_code for a in shed} <= {200, 201, 503}
    assert refused, "a pool of one at 24 concurrent requests sheds some"
    assert all(a.headers["Retry-After"] and a.json()["detail"] for a in refused)
