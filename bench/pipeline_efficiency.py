"""Briefs per second through the real pipeline, beside the same work done directly by the
engines in one process on the same cores, measured side by side in one run.

- pipeline: BRIEFS briefs POSTed to the REST API (an API key, CLIENTS at a time) of the
  platform as `manage.py serve` runs it (daphne, a generation worker, an evaluation+I/O
  worker with beat), on a PostgreSQL cluster of the bench's own and an embedded Valkey of
  its own; timed from the first POST to the last brief assigned to a reviewer (the review
  queue, round robin), from the rows' own timestamps.
- direct: the same jobs' requests (built by the worker's own `job_request`, so the same
  prompts, seeds and token counts) written by the same ContinuousBatcher and model in this
  process, as many jobs at once as the generation worker runs threads, each job's drafts
  then scored by `score_drafts` on as many threads as the evaluation worker runs. No
  broker, database, relay or streaming. It runs twice, with the torch threads each worker
  was given and with torch's default (every core); the faster is the baseline.

`ratio` is pipeline briefs/s over direct briefs/s. Where the rest goes is measured, not
inferred: the CPU seconds of every process in each window (workers, web, Valkey,
PostgreSQL, this bench), the direct side's generation and scoring CPU, the pipeline's
per-stage wait from its timestamps, the workers' task runtimes from their logs, and
Valkey's and PostgreSQL's own counters. The model is the built-in one under
AIGC_MODELS_DIR when trained, else the shipped shape (4 layers, width 128) trained for a
few steps here: its weights do not matter, every job writes exactly TOKENS tokens a draft.
Platform start and one warm-up brief (models loaded in both workers; the direct side
warms alike) are outside the timed windows.

    .venv/bin/python bench/pipeline_efficiency.py [--briefs 24] [--variants 2] [--tokens 64]
        [--clients 4] [--bound 600]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_platform import (
    BenchWorkspace,
    Platform,
    bench_workspace,
    log_offsets,
    platform_environment,
    platform_warmed,
    settled,
    stage_times,
    submit_briefs,
    task_runtimes,
    wait_settled,
)
from bench.stats import percentile
from workers.evaluation.types import PublishedIndex


@dataclass(frozen=True)
class Job:
    """What both sides need of one pipeline job: its request and its drafts' scoring inputs."""

    request: Any  # GenerationRequest
    inputs: list[Any]  # ScoringInput per draft, by variant, with the pipeline's texts


@dataclass
class Window:
    """CPU seconds each named reading counts between `start` and `stop`."""

    readings: dict[str, Callable[[], float]]
    before: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.before = {name: read() for name, read in self.readings.items()}

    def stop(self) -> None:
        self.spent = {name: read() - self.before[name] for name, read in self.readings.items()}


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its descendants, the exited ones included."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in tree:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        # children_*: the process's waited-for children (PostgreSQL's closed backends)
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu() -> float:
    """This process's CPU alone (its children are the platform, counted apart)."""
    times = os.times()
    return times.user + times.system


def valkey_commands(socket: Path) -> dict[str, tuple[int, int]]:
    """Valkey's own count: command → (calls, microseconds spent)."""
    import redis

    stats = redis.Redis(unix_socket_path=str(socket)).info("commandstats")
    return {name.removeprefix("cmdstat_"): (int(s["calls"]), int(s["usec"]))
            for name, s in stats.items()}


def database_counts(cluster: Any) -> dict[str, int]:
    """PostgreSQL's own count of the platform database's commits and rows."""
    import psycopg

    with psycopg.connect(cluster.url.replace("postgres://", "postgresql://"),
                         autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit, tup_inserted, tup_updated, tup_fetched "
                           "FROM pg_stat_database WHERE datname = 'aigc'").fetchone()
    assert row is not None
    return dict(zip(("commits", "rows_inserted", "rows_updated", "rows_fetched"), row,
                    strict=True))


def concurrency_of(command: list[str]) -> int:
    """The `--concurrency=N` a worker process was started with."""
    return int(next(arg for arg in command if arg.startswith("--concurrency=")).split("=")[1])


@dataclass
class Pipeline:
    """The pipeline's window, and what the direct side needs to do the same work."""

    seconds: float
    stages: dict[str, list[float]]
    cpu: dict[str, float]
    tasks: dict[str, dict[str, float]]
    late_relays: int  # events the after-commit relay missed, relayed by the reconciler
    commands: dict[str, tuple[int, int]]
    rows: dict[str, int]
    generating: int  # jobs the generation worker runs at once
    scoring: int  # jobs the evaluation worker scores at once
    torch_threads: int  # what each worker was given
    jobs: list[Job]
    warm_job: Job
    model_dir: Path
    published: PublishedIndex


@dataclass
class DirectResult:
    torch_threads: int
    seconds: float
    cpu_s: float
    scoring_cpu_s: float
    stages: dict[str, list[float]]
    texts: list[list[str]]


def run_direct(jobs: list[Job], models_dir: Path, model_dir: Path, published: PublishedIndex,
               generating: int, scoring: int, rows: int, torch_threads: int) -> DirectResult:
    """Every job's drafts written (`generating` jobs at once) and scored (`scoring` at once)."""
    from apps.generation.services import draft_text_clean
    from workers.evaluation.embeddings import embedding_cache_clear
    from workers.evaluation.scorer import score_drafts
    from workers.generation.continuous import ContinuousBatcher
    from workers.generation.engine import BatchItem

    batcher = ContinuousBatcher(models_dir=lambda: models_dir, max_rows=rows)
    scoring_cpu: list[float] = []
    stages: dict[str, list[float]] = {}
    lock = threading.Lock()

    def note(name: str, seconds: float) -> None:
        with lock:
            stages.setdefault(name, []).append(seconds)

    def score(job: Job, texts: list[str], generated: float) -> None:
        note("to scoring: a free thread", time.perf_counter() - generated)
        started, cpu = time.perf_counter(), time.thread_time()
        score_drafts([replace(item, draft_text=text)
                      for item, text in zip(job.inputs, texts, strict=True)],
                     model_dir, published)
        with lock:
            scoring_cpu.append(time.thread_time() - cpu)
        note("scoring", time.perf_counter() - started)

    embedding_cache_clear()  # as in the worker, every draft is embedded for the first time
    with ThreadPoolExecutor(generating) as writers, ThreadPoolExecutor(scoring) as scorers:
        def write(n: int, queued: float) -> tuple[list[str], Future]:
            started = time.perf_counter()
            note("to generation: a free thread", started - queued)
            texts = [draft_text_clean(t.text) for t in batcher.submit(BatchItem(jobs[n].request))]
            generated = time.perf_counter()
            note("generation", generated - started)
            return texts, scorers.submit(score, jobs[n], texts, generated)

        cpu, started = own_cpu(), time.perf_counter()
        written = [writers.submit(write, n, started) for n in range(len(jobs))]
        results = [future.result() for future in written]
        for _, scored in results:
            scored.result()
        seconds = time.perf_counter() - started
    return DirectResult(torch_threads, seconds, own_cpu() - cpu, sum(scoring_cpu), stages,
                        [texts for texts, _ in results])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=24)
    parser.add_argument("--variants", type=int, default=2, help="drafts per brief")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per draft, exactly")
    parser.add_argument("--clients", type=int, default=4, help="API requests at once")
    parser.add_argument("--bound", type=float, default=600, help="seconds the pipeline may take")
    args = parser.parse_args()
    with platform_environment(name="pipeline", own_broker=True) as platform:
        pipeline = run_pipeline(args, platform, bench_workspace(tokens=args.tokens))
    report(args, platform.model, pipeline, run_direct_both(pipeline, platform.models_dir))


def run_pipeline(args: argparse.Namespace, platform: Platform,
                 workspace: BenchWorkspace) -> Pipeline:
    import psutil
    from django.conf import settings

    from aigc_platform.embedded import socket_path
    from apps.evaluation import selectors
    from apps.evaluation.running import embedding_model_dir
    from apps.generation.models import GenerationJob
    from apps.generation.running import job_request
    from workers.evaluation.scorer import vector_space

    cluster = platform.cluster
    valkey_socket = socket_path(Path(settings.VAR_DIR))
    with platform_warmed(platform, workspace, variants=args.variants,
                         bound=args.bound) as running:
        processes, warm = running.processes, running.warm
        by_name = {p.name: p for p in processes}
        pids = {name: process.process.pid for name, process in by_name.items()
                if process.process is not None}
        valkey = next(c.pid for c in psutil.Process().children() if "valkey" in c.name())
        assert cluster.server is not None
        trees = {"generation worker": pids["worker-gpu"],
                 "evaluation+I/O worker": pids["worker-cpu-io"], "web (API, relay)": pids["web"],
                 "Valkey (broker, channel layer)": valkey, "PostgreSQL": cluster.server.pid}
        window = Window({**{name: lambda pid=pid: cpu_seconds(pid) for name, pid in trees.items()},
                         "bench (client, polling)": own_cpu})
        logs = log_offsets(processes)
        commands_before, rows_before = valkey_commands(valkey_socket), database_counts(cluster)
        window.start()
        started = time.time()
        sent = submit_briefs(running.url, workspace, range(1, args.briefs + 1), args.variants,
                             args.clients)
        if not wait_settled(list(sent), args.bound):
            raise TimeoutError(f"briefs not in the review queue within {args.bound} s")
        window.stop()
        commands_after, rows_after = valkey_commands(valkey_socket), database_counts(cluster)
        tasks, late_relays = task_runtimes(logs)
        worker = by_name["worker-gpu"]
    assigned, failed = settled(list(sent))
    if failed:
        raise RuntimeError(f"{failed} briefs failed; see the workers' logs in {platform.var}")
    stages, _, ended = stage_times(sent)

    def job_of(brief_id: int) -> Job:
        job = GenerationJob.objects.select_related("brief", "model_profile").get(
            brief_id=brief_id)
        return Job(job_request(job), selectors.scoring_inputs_for_job(job.pk))

    model_dir = embedding_model_dir(workspace.workspace_id)
    return Pipeline(
        seconds=ended - started, stages=stages, cpu=window.spent, tasks=tasks,
        late_relays=late_relays,
        commands={name: (calls - commands_before.get(name, (0, 0))[0],
                         usec - commands_before.get(name, (0, 0))[1])
                  for name, (calls, usec) in commands_after.items()},
        rows={name: rows_after[name] - rows_before[name] for name in rows_after},
        generating=concurrency_of(worker.command),
        scoring=concurrency_of(by_name["worker-cpu-io"].command),
        torch_threads=int({**os.environ, **worker.env}["OMP_NUM_THREADS"]),
        jobs=[job_of(brief_id) for brief_id in sorted(sent)], warm_job=job_of(next(iter(warm))),
        model_dir=model_dir, published=selectors.published_pieces(
            workspace_id=workspace.workspace_id,
            embedding_model=vector_space(model_dir, "en")))


def run_direct_both(pipeline: Pipeline, models_dir: Path) -> list[DirectResult]:
    """The direct side with the workers' torch threads and with torch's default (every core),
    each warmed first: the faster is the baseline."""
    import torch
    from django.conf import settings

    def run(jobs: list[Job], threads: int) -> DirectResult:
        return run_direct(jobs, models_dir, pipeline.model_dir, pipeline.published,
                          pipeline.generating, pipeline.scoring,
                          settings.GENERATION_BATCH_ROWS, threads)

    results = []
    for threads in sorted({pipeline.torch_threads, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        run([pipeline.warm_job], threads)
        results.append(run(pipeline.jobs, threads))
    return results


def table(rows: list[tuple[str, ...]], widths: tuple[int, ...]) -> None:
    for row in rows:
        print("".join(f"{cell:<{w}}" if i == 0 else f"{cell:>{w}}"
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))))


def report(args: argparse.Namespace, model: str, pipeline: Pipeline,
           directs: list[DirectResult]) -> None:
    briefs, drafts = args.briefs, args.briefs * args.variants
    direct = min(directs, key=lambda d: d.seconds)
    pipeline_rate, direct_rate = briefs / pipeline.seconds, briefs / direct.seconds
    same = sum(text == item.draft_text
               for job, texts in zip(pipeline.jobs, direct.texts, strict=True)
               for item, text in zip(job.inputs, texts, strict=True))
    load = os.getloadavg()
    print(f"{briefs} briefs x {args.variants} drafts x {args.tokens} tokens, model: {model}; "
          f"{pipeline.generating} jobs generating at once, {pipeline.scoring} scoring; "
          f"workers' torch threads {pipeline.torch_threads}; texts the same both ways: "
          f"{same}/{drafts}")
    table([("side", "seconds", "briefs/s", "CPU s"),
           ("pipeline", f"{pipeline.seconds:.2f}", f"{pipeline_rate:.3f}",
            f"{sum(pipeline.cpu.values()):.1f}"),
           *((f"direct, torch threads {d.torch_threads}", f"{d.seconds:.2f}",
              f"{briefs / d.seconds:.3f}", f"{d.cpu_s:.1f}") for d in directs),
           ("ratio (pipeline / faster direct)", "", f"{pipeline_rate / direct_rate:.3f}", "")],
          (34, 10, 10, 8))
    print("\nCPU seconds by process (pipeline) and by part (faster direct, one process)")
    direct_parts = {"generation worker": direct.cpu_s - direct.scoring_cpu_s,
                    "evaluation+I/O worker": direct.scoring_cpu_s}
    table([("process", "pipeline", "direct"), *(
        (name, f"{spent:.1f}", f"{direct_parts[name]:.1f}" if name in direct_parts else "-")
        for name, spent in pipeline.cpu.items())], (34, 10, 10))
    print("\nSeconds per brief at each hop: p50 / p99 (pipeline from the rows' timestamps)")
    hops = [*pipeline.stages.items(), *(("direct: " + k, v) for k, v in direct.stages.items())]
    table([("hop", "p50", "p99"), *((name, f"{statistics.median(v):.3f}",
                                     f"{percentile(v, 0.99):.3f}") for name, v in hops)],
          (50, 9, 9))
    print("\nWorker tasks in the window (from their logs)")
    table([("task", "runs", "retries", "seconds"), *(
        (name, str(t["runs"]), str(t["retries"]), f"{t['seconds']:.2f}")
        for name, t in sorted(pipeline.tasks.items(), key=lambda kv: -kv[1]["seconds"]))],
        (34, 8, 8, 10))
    print(f"events relayed late, by the reconciler: {pipeline.late_relays}")
    top = sorted(pipeline.commands.items(), key=lambda kv: -kv[1][0])[:6]
    print("\nValkey, most called: " + ", ".join(f"{name} {calls}" for name, (calls, _) in top))
    print("PostgreSQL: " + ", ".join(f"{name} {count}" for name, count in pipeline.rows.items()))
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(json.dumps({
        "ratio": round(pipeline_rate / direct_rate, 3),
        "pipeline_briefs_s": round(pipeline_rate, 3), "direct_briefs_s": round(direct_rate, 3),
        "pipeline_s": round(pipeline.seconds, 2), "direct_s": round(direct.seconds, 2),
        "direct_s_by_torch_threads": {d.torch_threads: round(d.seconds, 2) for d in directs},
        "pipeline_cpu_s": {name: round(spent, 2) for name, spent in pipeline.cpu.items()},
        "direct_cpu_s": {"generation": round(direct.cpu_s - direct.scoring_cpu_s, 2),
                         "scoring": round(direct.scoring_cpu_s, 2)},
        "stages_p50_s": {name: round(statistics.median(v), 3)
                         for name, v in pipeline.stages.items()},
        "stages_p99_s": {name: round(percentile(v, 0.99), 3)
                         for name, v in pipeline.stages.items()},
        "tasks_s": {name: round(t["seconds"], 2) for name, t in pipeline.tasks.items()},
        "late_relays": pipeline.late_relays,
        "valkey_calls": sum(calls for calls, _ in pipeline.commands.values()),
        "db_commits": pipeline.rows["commits"], "same_texts": same, "drafts": drafts,
        "briefs": briefs, "variants": args.variants, "tokens": args.tokens, "model": model,
        "workers_torch_threads": pipeline.torch_threads,
        "load_avg": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
