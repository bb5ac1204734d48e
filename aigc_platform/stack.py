"""The whole platform on one machine: broker, workers, beat and web as child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from django.conf import settings

from aigc_platform.embedded import running_valkey, socket_path, valkey_answers
from aigc_platform.processes import (
    CPU_QUEUES,
    GPU_QUEUES,
    IO_QUEUES,
    ManagedProcess,
    stop_all,
    web_command,
    worker_command,
)

WORKER_READY = "ready."
# The embedded Valkey counts as dead after this many missed one-second pings in a row
# (one slow reply under load is not a death).
VALKEY_MISSED_PINGS = 3


def torch_threads_env(env: Mapping[str, str], *, sharing: int) -> dict[str, str]:
    """`env` with OMP_NUM_THREADS, torch's intra-op threads, set to this host's cores split
    between the `sharing` processes that run torch on it, unless the operator chose a value.

    torch's default is every core in every process: two busy torch workers on 2 cores then
    spin-wait on each other's descheduled threads at every small op. The generation worker
    spent 8.6 CPU s where the same jobs took 0.6 s in one process (bench/pipeline_efficiency.py).
    """
    if "OMP_NUM_THREADS" in env or "OMP_NUM_THREADS" in os.environ:
        return dict(env)
    return {**env, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // sharing))}


def stack_processes(*, web_port: int | None, log_dir: Path,
                    env: Mapping[str, str] | None = None) -> list[ManagedProcess]:
    """worker-gpu, a combined cpu+io worker running beat, and optionally the web server.

    On one small host the cpu and io queues share a threaded worker; compose.yaml
    splits them into separate services for production. Both workers run torch (the model,
    the embeddings), so each gets half the cores for it.
    """
    env = dict(env or {})
    torch_env = torch_threads_env(env, sharing=2)
    processes = [
        # Threads, so concurrent jobs meet in the batch collector and share forward passes.
        ManagedProcess("worker-gpu", worker_command("worker-gpu", GPU_QUEUES, pool="threads",
                                                    concurrency=8),
                       torch_env, log_dir / "worker-gpu.log"),
        ManagedProcess(
            "worker-cpu-io",
            worker_command("worker-cpu-io", CPU_QUEUES + IO_QUEUES, pool="threads",
                           concurrency=4, beat=True),
            torch_env, log_dir / "worker-cpu-io.log",
        ),
    ]
    if web_port is not None:
        processes.append(ManagedProcess("web", web_command("127.0.0.1", web_port), env,
                                        log_dir / "web.log"))
    return processes


@contextlib.contextmanager
def platform_running(*, web_port: int | None = None, timeout: float = 120,
                     env: Mapping[str, str] | None = None, log_dir: Path | None = None
                     ) -> Iterator[list[ManagedProcess]]:
    """Start the broker (embedded unless REDIS_URL is set) and the processes; stop all on exit.

    `env` is added to the children's environment (the tests point them at the test database).
    """
    log_dir = log_dir or Path(settings.VAR_DIR) / "logs"
    with contextlib.ExitStack() as stack:
        stack.enter_context(_signals_stop())  # entered first, so left last
        if settings.EMBEDDED_VALKEY:
            stack.enter_context(running_valkey(Path(settings.VAR_DIR)))
        processes = stack_processes(web_port=web_port, log_dir=log_dir, env=env)
        stack.callback(stop_all, processes)  # those not started yet are skipped
        for process in processes:
            process.log_path.unlink(missing_ok=True)
            process.start()
        for process in processes:
            if process.name == "web":
                process.wait_for_port("127.0.0.1", web_port or 0, timeout)
            else:
                process.wait_for_log(WORKER_READY, timeout)
        yield processes


@contextlib.contextmanager
def _signals_stop() -> Iterator[None]:
    """SIGTERM (kill, systemd, a container stop) stops the platform as Ctrl-C does.

    The children run in sessions of their own, so a signal to this process reaches them
    only through it: either signal raises KeyboardInterrupt, and leaving the stack stops
    every child. Later signals are ignored until then, so a second Ctrl-C cannot cut the
    stopping short and orphan the children not yet stopped.
    """
    stopping = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in stopping}

    def stop(signum: int, frame: object) -> None:
        for each in stopping:
            signal.signal(each, signal.SIG_IGN)
        raise KeyboardInterrupt

    for signum in stopping:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_until_interrupted(processes: list[ManagedProcess]) -> list[str]:
    """Block until SIGINT or SIGTERM (returns []) or until a child dies (returns the dead
    ones' names). The embedded Valkey counts as a child: the workers would otherwise retry
    a dead broker for ever."""
    valkey = socket_path(Path(settings.VAR_DIR)) if settings.EMBEDDED_VALKEY else None
    missed = 0
    try:
        while True:
            dead = [p.name for p in processes if not p.alive()]
            missed = 0 if valkey is None or valkey_answers(valkey) else missed + 1
            if missed >= VALKEY_MISSED_PINGS:
                dead.append("valkey")
            if dead:
                return dead
            time.sleep(1)
    except KeyboardInterrupt:
        return []
