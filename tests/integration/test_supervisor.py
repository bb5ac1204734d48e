"""`manage.py serve` stops its whole process tree on SIGTERM and SIGINT alike, and stops
cleanly when a child, the embedded Valkey included, dies.

A real `serve` in its own var folder (so its own embedded Valkey) is started and signalled;
its children run in sessions of their own, so only the supervisor can stop them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from aigc_platform.processes import free_port

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60  # each child gets SIGTERM and, after 15 s, SIGKILL


def _ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"
    return int(fields[1]), fields[0]


def descendants(root: int) -> dict[int, str]:
    """Every live process under `root`, by pid, with its command line."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _ppid_and_state(int(entry.name))):
            parents[int(entry.name)] = stat[0]
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                frontier.append(pid)
    return found


def alive(pid: int) -> bool:
    stat = _ppid_and_state(pid)
    return stat is not None and stat[1] != "Z"


@dataclass
class Serve:
    process: subprocess.Popen
    children: dict[int, str]
    stderr: Path
    port: int


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """`manage.py serve` started and ready: two workers, web and the embedded Valkey."""
    env = {**os.environ, "AIGC_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "aigc_platform.settings"}
    # Its own embedded Valkey and SQLite file, never the session's broker or database.
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "AIGC_CACHE_URL", "DATABASE_URL"):
        env.pop(name, None)
    stderr = tmp_path / "serve.stderr"
    port = free_port()
    with open(stderr, "w") as errors:
        process = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "serve",
             "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        line = ""
        while "Serving on" not in line and time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
        assert "Serving on" in line, stderr.read_text()[-3000:]
        yield Serve(process, descendants(process.pid), stderr, port)
    finally:  # a failed test leaves nothing running: the tree as it is now, then the rest
        left = descendants(process.pid)
        if process.poll() is None:
            process.kill()
            process.wait(10)
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def names(children: dict[int, str]) -> set[str]:
    labels = []
    for command in children.values():
        if "valkey-server" in command:
            labels.append("valkey")
        elif " -n " in command:
            labels.append(command.split(" -n ")[1].split("@")[0])
        elif "daphne" in command:
            labels.append("web")
    return set(labels)  # the beat embedded in worker-cpu-io is a second process of that name


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_serve_stops_every_child(serve: Serve, signum: int):
    assert names(serve.children) == {"valkey", "web", "worker-cpu-io", "worker-gpu"}
    # when the supervisor alone is signalled (its children are in sessions of their own)
    serve.process.send_signal(signum)
    # then it exits cleanly and leaves no child behind
    assert serve.process.wait(STOP_TIMEOUT_S) == 0
    assert [pid for pid in serve.children if alive(pid)] == []


def test_serve_stops_everything_when_the_embedded_valkey_dies(serve: Serve):
    [valkey] = [pid for pid, command in serve.children.items() if "valkey-server" in command]
    # when the broker dies under the workers
    os.kill(valkey, signal.SIGKILL)
    # then the supervisor notices, stops every child and exits with the reason
    assert serve.process.wait(STOP_TIMEOUT_S) == 1
    assert [pid for pid in serve.children if alive(pid)] == []
    assert "valkey stopped, so everything was stopped" in serve.stderr.read_text()


def probe(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_serve_stops_everything_when_the_web_server_dies(serve: Serve):
    # given the web server answering probes (its fresh database has no tables yet)
    assert probe(serve.port, "/healthz") == (200, {"status": "alive"})
    status, ready = probe(serve.port, "/readyz")
    assert (status, ready["failed"]) == (503, ["migrations"])
    [web] = [pid for pid, command in serve.children.items() if "daphne" in command]
    os.kill(web, signal.SIGKILL)
    assert serve.process.wait(STOP_TIMEOUT_S) == 1
    assert [pid for pid in serve.children if alive(pid)] == []
    assert "web stopped, so everything was stopped" in serve.stderr.read_text()
