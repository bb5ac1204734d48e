"""The queue, calendar and review pages with real volume: 100,000 briefs in one workspace.

Seeds a fresh database (SQLite in a temporary folder unless DATABASE_URL is set;
point it at an empty PostgreSQL database to measure there) with briefs spread
over every state, 40,000 generation jobs with two scored drafts each, reviewer
assignments, and a publication on one of three targets for each scheduled or
published brief with drafts (scheduled up to a month ahead, published up to a
month back); then renders, through Django's test client as a signed-in editor,
the queue page (board and table, plain and filtered), the calendar (this month,
this week, one target) and the review page of a brief in review (the brief page),
counting queries and timing REPEATS renders each. The median counts; the load average
(`loadavg`, 1, 5 and 15 minutes) is printed beside the figures.

    .venv/bin/python bench/dashboard_queries.py [--briefs 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import loadavg

REPEATS = 7
BATCH = 5_000
WITH_JOBS = 0.4  # the share of briefs that got as far as a generation job


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["AIGC_VAR_DIR"] = tempfile.mkdtemp(prefix="aigc-bench-")
    # The tests' settings: production ones (DEBUG off) over plain http, with keys of their own.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"  # the test client's host
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(n_briefs: int) -> object:
    from django.utils import timezone

    from apps.accounts.models import Role
    from apps.briefs.models import BriefState, ContentBrief, Origin
    from apps.evaluation.models import Evaluation
    from apps.generation.models import Draft, GenerationJob, JobState
    from apps.publishing.models import Publication, PublicationState
    from apps.publishing.targets import target_create
    from apps.reviews.models import DraftRevision, ReviewAssignment
    from tests import factories

    rng = random.Random(7)
    ws = factories.workspace(name="Bench")
    editor = factories.member(ws, Role.EDITOR, username="editor")
    reviewers = [factories.member(ws, Role.REVIEWER, username=f"reviewer{i}") for i in range(5)]
    types = [factories.content_type(ws, name=f"Type {i}") for i in range(4)]
    targets = [target_create(workspace=ws, name=f"Site {i}", kind="file",
                             config={"folder": f"site-{i}"}) for i in range(3)]
    out = {BriefState.SCHEDULED: PublicationState.SCHEDULED,
           BriefState.PUBLISHED: PublicationState.PUBLISHED}
    states = [s for s in BriefState]
    now = timezone.now()
    made = 0
    while made < n_briefs:
        size = min(BATCH, n_briefs - made)
        briefs = ContentBrief.objects.bulk_create([
            ContentBrief(workspace=ws, title=f"Brief {made + i}", content_type=rng.choice(types),
                         topic="composting kitchen scraps", target_length=120, variants=2,
                         state=rng.choice(states), priority=rng.randint(-5, 5),
                         origin=rng.choice(list(Origin)),
                         due_at=now + timedelta(hours=rng.randint(-72, 240))
                         if rng.random() < 0.5 else None)
            for i in range(size)])
        with_jobs = [b for b in briefs if rng.random() < WITH_JOBS]
        jobs = GenerationJob.objects.bulk_create([
            GenerationJob(workspace=ws, brief=b, variants=2, state=JobState.SUCCEEDED)
            for b in with_jobs])
        drafts = Draft.objects.bulk_create([
            Draft(job=j, brief_id=j.brief_id, variant=v, text="A draft.", model_name="bench", seed=v)
            for j in jobs for v in range(2)])
        Evaluation.objects.bulk_create([
            Evaluation(draft=d, relevance=0.5, length_fit=0.9, score=rng.random(),
                       embedding_model="bench") for d in drafts])
        ReviewAssignment.objects.bulk_create([
            ReviewAssignment(brief=b, reviewer=rng.choice(reviewers), assigned_at=now)
            for b in with_jobs if b.state == BriefState.IN_REVIEW])
        state_of = {b.pk: b.state for b in with_jobs}
        revisions = DraftRevision.objects.bulk_create([
            DraftRevision(draft=d, number=1, text=d.text) for d in drafts
            if d.variant == 0 and state_of[d.brief_id] in out])
        Publication.objects.bulk_create([
            _publication(rng, now, ws, r, rng.choice(targets), out[state_of[r.draft.brief_id]])
            for r in revisions])
        made += size
    return editor


def _publication(rng: random.Random, now: object, ws: object, revision: object, target: object,
                 state: str) -> object:
    from apps.publishing.models import Publication, PublicationState

    if state == PublicationState.SCHEDULED:
        at = {"scheduled_at": now + timedelta(hours=rng.randint(1, 30 * 24))}
    else:
        went = now - timedelta(hours=rng.randint(1, 30 * 24))
        at = {"scheduled_at": went, "published_at": went}
    return Publication(workspace=ws, brief_id=revision.draft.brief_id,
                       revision=revision, target=target, state=state, **at)


def measure(client: object, path: str, params: dict[str, str]) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path, params)  # type: ignore[attr-defined]
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return len(queries), statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=int, default=100_000)
    args = parser.parse_args()
    setup_django()
    from django.test import Client

    started = time.perf_counter()
    editor = seed(args.briefs)
    print(f"seeded {args.briefs} briefs in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(editor)
    from apps.briefs.models import BriefState, ContentBrief
    from apps.publishing.models import Publication, PublishingTarget

    in_review = ContentBrief.objects.filter(state=BriefState.IN_REVIEW, jobs__isnull=False).first()
    target = PublishingTarget.objects.order_by("id").first()
    rows = {  # page -> row -> (path, query)
        "queue": {
            "board": ("/", {}),
            "table": ("/", {"view": "table"}),
            "board, overdue, searched": ("/", {"due": "overdue", "q": "Brief 9"}),
            "table, score >= 0.5, page 20": ("/", {"view": "table", "min_score": "0.5",
                                                   "page": "20"}),
        },
        "calendar": {
            "month": ("/calendar/", {}),
            "week": ("/calendar/", {"view": "week"}),
            "month, one target": ("/calendar/", {"target": str(target.pk)}),
        },
        # The review screen is the brief page of a brief in review.
        "review": {"brief in review": (f"/briefs/{in_review.pk}/", {})},
    }
    print(f"{Publication.objects.count()} publications")
    results = {page: {name: measure(client, path, params) for name, (path, params) in
                      page_rows.items()} for page, page_rows in rows.items()}
    print(f"{'page':40} {'queries':>8} {'median ms':>10}")
    for page, page_results in results.items():
        for name, (queries, ms) in page_results.items():
            print(f"{page + ': ' + name:40} {queries:>8} {ms:>10.1f}")
    every = [r for page_results in results.values() for r in page_results.values()]
    first = {page: next(iter(page_results.values())) for page, page_results in results.items()}
    load = loadavg()
    print(f"load average {load[0]} {load[1]} {load[2]}")
    print(json.dumps({"queries": first["queue"][0], "median_ms": round(first["queue"][1], 1),
                      "worst_queries": max(q for q, _ in every),
                      "worst_median_ms": round(max(ms for _, ms in every), 1),
                      "pages": {page: {"queries": q, "median_ms": round(ms, 1)}
                                for page, (q, ms) in first.items()},
                      "briefs": args.briefs, "loadavg": load}))


if __name__ == "__main__":
    main()
