"""A sustained load: briefs POSTed through the REST API at a fixed rate for MINUTES minutes,
on PostgreSQL, Redis and real workers. It reports the queue depths while it runs, each
hop's latency percentiles, and a final count that every accepted brief reached the review
queue or a terminal state, with nothing lost and nothing duplicated.

The platform as `manage.py serve` runs it (daphne, a generation worker, an evaluation+I/O
worker with beat) on a PostgreSQL cluster of the bench's own, with REDIS_URL's server as
broker and channel layer when it is set, else an embedded Valkey of the bench's own. A
brief is POSTed every 1/RATE seconds by the clock (not after the previous answer; at most
IN_FLIGHT at once), each with its own external id; every SAMPLE_S seconds the broker's
queue lengths and the jobs by state are read. After the last POST the bench waits up to
DRAIN seconds for the briefs to settle, then counts, in SQL:

- accepted: POSTs answered 201; `missing` counts those with no brief in the database;
- lost: accepted briefs neither in the review queue (assigned to a reviewer) nor failed,
  cancelled or rejected; `unassigned`: in review with no reviewer; `unscored`: drafts of a
  succeeded job without an evaluation;
- duplicated: the fault suite's invariants (one job per brief, one draft per variant, one
  publication per target, one delivery per event), and jobs run more than once;
- late_relays: events the after-commit relay missed, relayed by the reconciler (15 s late
  at least), from the worker's log.

A rate above what the workers sustain shows as queues and latency that grow to the end.
The model is the built-in one under AIGC_MODELS_DIR when trained, else the shipped shape
trained for a few steps (every draft writes exactly TOKENS tokens).

    .venv/bin/python bench/load.py [--rate 0.5] [--minutes 10] [--drain 300] [--variants 2] [--tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_platform import (
    BenchWorkspace,
    api_client,
    bench_workspace,
    log_offsets,
    platform_environment,
    platform_warmed,
    post_brief,
    settled,
    stage_times,
    task_runtimes,
    wait_settled,
)
from bench.stats import percentile

SAMPLE_S = 1.0
IN_FLIGHT = 16  # POSTs waiting for an answer at once, at most
SERIES_EVERY_S = 60  # a line of the time series in the table


@dataclass
class Sample:
    at: float  # seconds since the first POST
    queues: dict[str, int]  # broker queue → messages waiting
    jobs: dict[str, int]  # job state → jobs of the bench's workspace


class Sampler(threading.Thread):
    """Reads the broker's queues and the jobs by state every SAMPLE_S seconds."""

    def __init__(self, workspace_id: int, started: float) -> None:
        super().__init__(daemon=True)
        self.workspace_id, self.started = workspace_id, started
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.is_set():
                self.samples.append(Sample(time.time() - self.started, queue_depths(),
                                           jobs_by_state(self.workspace_id)))
                self.stopping.wait(SAMPLE_S)
        finally:
            connection.close()


def queue_depths() -> dict[str, int]:
    """Messages waiting in each of the platform's queues, as the broker counts them."""
    from aigc_platform.celery import app
    from aigc_platform.queues import Queue

    depths = {}
    with app.connection_for_read() as conn:
        for queue in Queue:
            with conn.channel() as channel:
                try:
                    depths[queue.value] = channel.queue_declare(
                        queue=queue.value, passive=True).message_count
                except conn.channel_errors:  # Redis keeps no empty list: nothing waits
                    depths[queue.value] = 0
    return depths


def jobs_by_state(workspace_id: int) -> dict[str, int]:
    from django.db.models import Count

    from apps.generation.models import GenerationJob

    return dict(GenerationJob.objects.filter(workspace_id=workspace_id).values_list("state")
                .annotate(n=Count("id")).values_list("state", "n"))


@dataclass
class Submission:
    sent: dict[int, float] = field(default_factory=dict)  # accepted brief id → POST sent
    refused: Counter[int] = field(default_factory=Counter)  # status → POSTs
    post_ms: list[float] = field(default_factory=list)


def submit_at_rate(url: str, workspace: BenchWorkspace, rate: float, seconds: float,
                   variants: int) -> Submission:
    """One POST every 1/rate s from now for `seconds`, each on the clock's beat."""
    submission = Submission()
    lock = threading.Lock()
    with api_client(url, workspace) as client, ThreadPoolExecutor(IN_FLIGHT) as pool:
        def post(n: int) -> None:
            at = time.time()
            brief_id, status = post_brief(client, workspace, n, variants)
            with lock:
                submission.post_ms.append((time.time() - at) * 1000)
                if brief_id is None:
                    submission.refused[status] += 1
                else:
                    submission.sent[brief_id] = at

        started = time.monotonic()
        for n in range(1, int(rate * seconds) + 1):
            time.sleep(max(0.0, started + (n - 1) / rate - time.monotonic()))
            pool.submit(post, n)
    return submission


def final_counts(workspace_id: int, accepted: list[int]) -> dict[str, int]:
    """Lost and duplicated work among the accepted briefs (see the module's docstring)."""
    from django.db import connection

    from apps.briefs.models import BriefState, ContentBrief
    from apps.evaluation.models import Evaluation
    from apps.generation.models import Draft, GenerationJob, JobState
    from tests.faults.invariants import invariants

    assigned, done = settled(accepted)
    briefs = ContentBrief.objects.filter(pk__in=accepted)
    jobs = GenerationJob.objects.filter(brief_id__in=accepted)
    return {
        "accepted": len(accepted), "missing": len(accepted) - briefs.count(),
        "in_review_queue": assigned, "done_without_review": done,
        "lost": len(accepted) - assigned - done,
        "unassigned": briefs.filter(state=BriefState.IN_REVIEW, assignment__isnull=True).count(),
        "unscored": Draft.objects.filter(job__in=jobs.filter(state=JobState.SUCCEEDED)).exclude(
            pk__in=Evaluation.objects.values("draft_id")).count(),
        "jobs_run_twice": jobs.filter(attempts__gt=1).count(),
        **invariants(connection.cursor(), workspace_id).broken(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.5, help="briefs per second")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--drain", type=float, default=300,
                        help="seconds the last briefs may take to settle")
    parser.add_argument("--variants", type=int, default=2, help="drafts per brief")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per draft, exactly")
    args = parser.parse_args()
    with platform_environment(name="load", own_broker=False) as platform:
        workspace = bench_workspace(tokens=args.tokens)
        with platform_warmed(platform, workspace, variants=args.variants,
                             bound=args.drain) as running:
            logs = log_offsets(running.processes)
            sampler = Sampler(workspace.workspace_id, time.time())
            sampler.start()
            submission = submit_at_rate(running.url, workspace, args.rate, args.minutes * 60,
                                        args.variants)
            submitted_s = time.time() - sampler.started
            drained = wait_settled(list(submission.sent), args.drain)
            sampler.stopping.set()
            sampler.join()
            _, late_relays = task_runtimes(logs)
        counts = {**final_counts(workspace.workspace_id, list(submission.sent)),
                  "late_relays": late_relays}
        stages, end_to_end, _ = stage_times(submission.sent)
    report(args, platform.model, submission, submitted_s, drained, sampler.samples, stages,
           end_to_end, counts)


def report(args: argparse.Namespace, model: str, submission: Submission, submitted_s: float,
           drained: bool, samples: list[Sample], stages: dict[str, list[float]],
           end_to_end: list[float], counts: dict[str, int]) -> None:
    load = os.getloadavg()
    posted = len(submission.sent) + sum(submission.refused.values())
    print(f"{posted} briefs POSTed at {args.rate:g}/s over {submitted_s:.0f} s "
          f"({args.variants} drafts x {args.tokens} tokens, model: {model}); accepted "
          f"{len(submission.sent)}, refused {dict(submission.refused) or 'none'}; POST p50 "
          f"{statistics.median(submission.post_ms):.0f} ms, p99 "
          f"{percentile(submission.post_ms, 0.99):.0f} ms; settled within the drain: {drained}")
    queues = sorted({name for s in samples for name in s.queues})
    states = sorted({name for s in samples for name in s.jobs} - {"succeeded", "failed"})
    print(f"\n{'t s':>6}" + "".join(f"{'queue ' + q:>18}" for q in queues)
          + "".join(f"{'jobs ' + s:>16}" for s in states))
    shown = [s for n, s in enumerate(samples) if n % int(SERIES_EVERY_S / SAMPLE_S) == 0]
    for sample in [*shown, samples[-1]] if samples else []:
        print(f"{sample.at:>6.0f}" + "".join(f"{sample.queues.get(q, 0):>18}" for q in queues)
              + "".join(f"{sample.jobs.get(s, 0):>16}" for s in states))
    peaks = {f"queue_{q}": max(s.queues.get(q, 0) for s in samples) for q in queues}
    peaks.update({f"jobs_{s}": max(x.jobs.get(s, 0) for x in samples) for s in states})
    print("peaks: " + ", ".join(f"{name} {value}" for name, value in peaks.items()))
    print(f"\n{'seconds per brief':<46}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for name, values in [*stages.items(), ("end to end: POST → review queue", end_to_end)]:
        if values:
            print(f"{name:<46}" + "".join(f"{percentile(values, q):>8.2f}"
                                          for q in (0.5, 0.95, 0.99, 1.0)))
    print("\nfinal count: " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(json.dumps({
        "accepted": counts["accepted"], "lost": counts["lost"] + counts["missing"],
        "duplicated": counts.get("briefs_without_one_job", 0)
        + counts.get("jobs_with_wrong_drafts", 0) + counts.get("duplicate_publications", 0)
        + counts.get("duplicate_deliveries", 0),
        "counts": counts, "rate": args.rate, "minutes": args.minutes,
        "achieved_rate": round(posted / submitted_s, 3), "drained": drained,
        "e2e_p50_s": round(percentile(end_to_end, 0.5), 2) if end_to_end else None,
        "e2e_p99_s": round(percentile(end_to_end, 0.99), 2) if end_to_end else None,
        "hops_p99_s": {name: round(percentile(v, 0.99), 2) for name, v in stages.items() if v},
        "peaks": peaks, "post_p99_ms": round(percentile(submission.post_ms, 0.99), 1),
        "model": model, "variants": args.variants, "tokens": args.tokens,
        "load_avg": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
