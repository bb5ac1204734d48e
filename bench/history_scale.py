"""What a brief's evaluation and review assignment cost as its workspace's history grows,
measured side by side in one run.

A PostgreSQL cluster of the bench's own, the packaged embedding model, an embedded Valkey
of its own (the relay's messages stay in it). The history: SEED briefs carried through the
real services (drafts recorded and scored, in review, assigned in turn to one of three
reviewers), one revision in PUBLISHED_EVERY sent out, every revision fingerprinted as
evaluation leaves it; then copied in SQL (ids shifted) until the workspace holds --briefs
briefs. At the seed's size and at the full size, PROBES new briefs each go the same way:
each step timed:

- create: the brief created and submitted (`brief_create`, as the API and webhooks do);
- generated: its job claimed and two drafts recorded, as a generation worker does around
  the model (the texts are given);
- evaluate: `job_evaluate`, the evaluation task's whole service: the published pieces
  read, the drafts scored with the model and compared with them, the decision recorded;
  a worker keeps the pieces between jobs, so this is a running worker's time, and
  "evaluate cold" the same with none kept (a worker's first job of the workspace);
- assign: `review_arrived`, the brief given to the reviewer next in turn.

Each step's ratio is its large-history time over its small-history time (1.0: the history
costs nothing). `ratio` is evaluate's: what must grow there is comparing the published
pieces, and reading them on a cold worker.

    .venv/bin/python bench/history_scale.py [--briefs 40000] [--probes 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.private_postgres import private_postgres  # noqa: E402

SEED = 300
STEPS = ("create", "generated", "evaluate", "assign")
PUBLISHED_EVERY = 10
# The tables a brief's history fills, each with its foreign keys to the ones before it.
HISTORY = (
    ("briefs_contentbrief", {}),
    ("generation_generationjob", {"brief_id": "briefs_contentbrief"}),
    ("generation_draft", {"job_id": "generation_generationjob",
                          "brief_id": "briefs_contentbrief"}),
    ("reviews_draftrevision", {"draft_id": "generation_draft"}),
    ("evaluation_evaluation", {"draft_id": "generation_draft"}),
    ("evaluation_textfingerprint", {"revision_id": "reviews_draftrevision"}),
    ("reviews_reviewassignment", {"brief_id": "briefs_contentbrief"}),
)
TEXTS = (
    "Composting turns kitchen scraps into food for your garden. Pick a shady corner, set up a "
    "small bin, and layer vegetable peelings and coffee grounds with dry leaves.",
    "A rain garden catches the water that runs off a roof. Dig a shallow bed where the water "
    "pools, loosen the soil and plant grasses that like wet feet.",
)


def _double(cursor) -> None:  # type: ignore[no-untyped-def]
    """Copy every history row once, its id and its parents' ids shifted past the largest."""
    shift = {}
    for table, _ in HISTORY:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        shift[table] = cursor.fetchone()[0]
    for table, parents in HISTORY:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                       " ORDER BY ordinal_position", [table])
        columns = [name for (name,) in cursor.fetchall()]
        values = [f"id + {shift[table]}" if name == "id"
                  else f"{name} + {shift[parents[name]]}" if name in parents
                  else "CASE WHEN external_id = '' THEN '' ELSE external_id || '-' || id END"
                  if name == "external_id" else name for name in columns]
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) "
                       f"SELECT {', '.join(values)} FROM {table}")
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT max(id) FROM {table}))")
    # What autovacuum does to a table that grows: statistics, and the visibility map
    # that lets an index-only scan skip the rows.
    cursor.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=40000)
    parser.add_argument("--probes", type=int, default=8)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="aigc-bench-history-"))
    with private_postgres(max_connections=20) as cluster:
        os.environ.update({"DATABASE_URL": cluster.url, "AIGC_VAR_DIR": str(var),
                           "DJANGO_DEBUG": "true", "LOG_LEVEL": "WARNING"})
        os.environ.pop("REDIS_URL", None)  # the bench's own Valkey takes the relay's messages
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aigc_platform.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection, reset_queries

        from aigc_platform.embedded import running_valkey
        from apps.accounts.services import member_add, workspace_create
        from apps.briefs.models import BriefState, ContentBrief
        from apps.evaluation.running import embedding_model_dir, job_evaluate, published_cache
        from apps.evaluation.services import fingerprints_store
        from apps.generation.services import job_claim, job_record_drafts
        from apps.reviews.models import ApprovalPolicy, DraftRevision, ReviewAssignment
        from apps.reviews.services import review_arrived
        from tests import factories
        from workers.evaluation.scorer import fingerprint_texts, vector_space
        from workers.generation.types import GeneratedText

        with running_valkey(Path(settings.VAR_DIR)):
            call_command("migrate", verbosity=0)
            workspace = workspace_create(slug="history")
            for name in ("ria", "ravi", "rosa"):
                member_add(workspace=workspace, username=name, role="reviewer")
            content_type = factories.content_type(workspace, slug="garden")
            ApprovalPolicy.objects.create(content_type=content_type, round_robin=True)
            model_dir = embedding_model_dir(workspace.pk)
            model = vector_space(model_dir, "en")

            def probe(cold: bool = False) -> dict[str, float]:
                moments = [time.perf_counter()]
                brief = factories.brief(workspace, content_type, submit=True, variants=2)
                moments.append(time.perf_counter())
                job = brief.jobs.get()
                job_claim(job_id=job.pk, worker_id="bench")
                job_record_drafts(job_id=job.pk, worker_id="bench", texts=[
                    GeneratedText(variant=v, text=f"{text} Note {brief.pk}.", seed=v,
                                  prompt_tokens=20, completion_tokens=40, model_name="builtin")
                    for v, text in enumerate(TEXTS)])
                if cold:
                    published_cache.clear()
                moments.append(time.perf_counter())
                job_evaluate(job_id=job.pk, worker_id="bench", retries=0)
                moments.append(time.perf_counter())
                review_arrived(brief_id=brief.pk)
                moments.append(time.perf_counter())
                brief.refresh_from_db()
                if brief.state != BriefState.IN_REVIEW or not ReviewAssignment.objects.filter(
                        brief=brief).exists():
                    raise SystemExit(f"brief {brief.pk} did not reach a reviewer: {brief.state}")
                reset_queries()  # DEBUG keeps every statement otherwise
                return {f"{step}_ms": 1000 * (moments[n + 1] - moments[n])
                        for n, step in enumerate(STEPS)}

            def measure() -> dict[str, float]:
                probe()  # warm: the model loaded, the plans cached
                runs = [probe() for _ in range(args.probes)]
                cold = [probe(cold=True) for _ in range(args.probes)]
                return {"briefs": ContentBrief.objects.filter(workspace=workspace).count(),
                        "published": DraftRevision.objects.filter(went_out=True).count(),
                        **{key: round(statistics.median(run[key] for run in runs), 2)
                           for key in runs[0]},
                        "evaluate_cold_ms": round(statistics.median(
                            run["evaluate_ms"] for run in cold), 2)}

            for _ in range(SEED):
                brief = factories.brief_in_review(workspace, ct=content_type)
                review_arrived(brief_id=brief.pk)
                reset_queries()
            revisions = list(DraftRevision.objects.order_by("pk").values_list("pk", flat=True))
            sent = revisions[::PUBLISHED_EVERY]
            DraftRevision.objects.filter(pk__in=sent).update(went_out=True)
            # as evaluation leaves them: every revision fingerprinted (two texts' real ones)
            pieces = fingerprint_texts(list(enumerate(TEXTS)), model_dir, "en")
            fingerprints_store(workspace_id=workspace.pk, embedding_model=model, pieces=[
                replace(pieces[n % len(pieces)], piece_id=pk) for n, pk in enumerate(revisions)])
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            small = measure()
            with connection.cursor() as cursor:
                while ContentBrief.objects.count() < args.briefs:
                    _double(cursor)
            large = measure()
    ratios = {key: large[key] / small[key] for key in small}
    load = os.getloadavg()
    columns = (*STEPS, "evaluate_cold")
    print(f"{'history':<12}{'briefs':>9}{'published':>11}"
          + "".join(f"{column.replace('_', ' ') + ' ms':>19}" for column in columns))
    for name, row in (("small", small), ("large", large), ("large/small", ratios)):
        print(f"{name:<12}{row['briefs']:>9.0f}{row['published']:>11.0f}"
              + "".join(f"{row[column + '_ms']:>19.2f}" for column in columns))
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(json.dumps({
        "ratio": round(ratios["evaluate_ms"], 3),
        **{f"{column}_ratio": round(ratios[f"{column}_ms"], 3) for column in columns},
        "small": small, "large": large, "probes": args.probes, "load_avg_1m": round(load[0], 2)}))


if __name__ == "__main__":
    main()
