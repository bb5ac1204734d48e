"""Starting and stopping the platform's processes: web, workers, beat.

One definition serves `manage.py serve`, `manage.py demo` and the integration
tests, so what the tests run is what users run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aigc_platform.queues import Queue

GPU_QUEUES = (Queue.GENERATION,)
CPU_QUEUES = (Queue.EVALUATION, Queue.DEFAULT)
IO_QUEUES = (Queue.PUBLISHING, Queue.WEBHOOKS)


def worker_command(name: str, queues: Sequence[str], *, pool: str = "solo",
                   concurrency: int = 1, beat: bool = False) -> list[str]:
    # One process per model worker (solo or threads) so the loaded model is
    # shared; prefetch 1 per slot keeps long jobs from queueing behind others.
    command = [
        sys.executable, "-m", "celery", "-A", "aigc_platform", "worker",
        "-n", f"{name}@%h", "-Q", ",".join(str(q) for q in queues),
        f"--pool={pool}", f"--concurrency={concurrency}",
        "--without-gossip", "--without-mingle", "-l", "INFO",
    ]
    if beat:
        command += ["--beat", "--schedule", str(_var_dir() / f"celerybeat-{name}")]
    return command


def web_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port),
            "aigc_platform.asgi:application"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _var_dir() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR)


@dataclass
class ManagedProcess:
    """A child process whose output goes to a log file we can wait on."""

    name: str
    command: list[str]
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # the child owns it for its lifetime
        self.process = subprocess.Popen(
            self.command, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float) -> None:
        self._wait(lambda: text in self.log(), timeout, f"'{text}' in its log")

    def wait_for_port(self, host: str, port: int, timeout: float) -> None:
        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex((host, port)) == 0

        self._wait(listening, timeout, f"a listener on {host}:{port}")

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} before {what}:\n"
                    f"{self.log()[-3000:]}"
                )
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not show {what} within {timeout}s:\n{self.log()[-3000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (Celery finishes or hands back its task), then SIGKILL."""
        stop_all([self], timeout)

    def terminate(self) -> None:
        """SIGTERM to the process group, without waiting (see `stop_all`)."""
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_or_kill(self, deadline: float) -> None:
        """Wait for it to end until `deadline` (time.monotonic()), then SIGKILL it."""
        if not self.alive():
            return
        assert self.process is not None
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed host would."""
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def stop_all(processes: Sequence[ManagedProcess], timeout: float = 15) -> None:
    """Stop the processes together: SIGTERM to all, then each waited for until `timeout`
    has passed and SIGKILLed after. Each Celery worker takes a second or more to shut down
    warm, which one after another added up."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.wait_or_kill(deadline)


def database_url(settings_dict: Mapping[str, object]) -> str:
    """The URL of the database Django is connected to, for a child process."""
    engine = str(settings_dict["ENGINE"])
    name = settings_dict["NAME"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{name}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{name}"
