"""The platform's processes stop together: SIGTERM to all at once, SIGKILL at the deadline."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from aigc_platform.processes import ManagedProcess, stop_all

# A child that takes `delay` seconds to finish after SIGTERM (a Celery worker's warm
# shutdown), or ignores it when `delay` is negative; it says "ready" once its handler is set.
CHILD = """
import signal, sys, time
delay = float(sys.argv[1])
def stop(signum, frame):
    time.sleep(delay)
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if delay < 0 else stop)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _started(tmp_path: Path, name: str, delay: float) -> ManagedProcess:
    process = ManagedProcess(name, [sys.executable, "-c", CHILD, str(delay)], {},
                             tmp_path / f"{name}.log").start()
    process.wait_for_log("ready", timeout=20)
    return process


def test_slow_stoppers_stop_in_the_time_of_one(tmp_path: Path) -> None:
    # Given three processes that each take a second to stop
    processes = [_started(tmp_path, f"worker-{n}", 1.0) for n in range(3)]
    # When they are stopped together
    started = time.monotonic()
    stop_all(processes, timeout=15)
    took = time.monotonic() - started
    # Then all are gone in about one second, not three
    assert not any(p.alive() for p in processes)
    assert 0.9 < took < 2.5, took


def test_one_that_ignores_sigterm_is_killed_at_the_deadline(tmp_path: Path) -> None:
    # Given a process that ignores SIGTERM beside one that stops at once
    stubborn, polite = _started(tmp_path, "stubborn", -1), _started(tmp_path, "polite", 0)
    # When both are stopped with a one-second deadline
    started = time.monotonic()
    stop_all([stubborn, polite], timeout=1)
    # Then the stubborn one is SIGKILLed at the deadline, and neither is left
    assert not stubborn.alive() and not polite.alive()
    assert stubborn.process is not None and stubborn.process.returncode == -9
    assert polite.process is not None and polite.process.returncode == 0
    assert time.monotonic() - started < 5


def test_processes_never_started_are_passed_over(tmp_path: Path) -> None:
    # Given a process started and one never started (its start failed before it)
    running = _started(tmp_path, "running", 0)
    never = ManagedProcess("never", [sys.executable, "-c", "pass"], {}, tmp_path / "never.log")
    # When both are stopped, nothing fails and the running one is gone
    stop_all([running, never])
    assert not running.alive() and never.process is None
