"""Test data built through the same services the product uses."""

from __future__ import annotations

import base64
import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from apps.accounts.services import user_create_member
from apps.briefs.models import ContentBrief, ContentType
from apps.core.models import Workspace
from apps.datasets.models import DatasetVersion
from apps.datasets.services import (
    dataset_create,
    dataset_import_upload,
    dataset_version_build,
    dataset_version_create,
)
from apps.generation.models import (
    Backend,
    GenerationJob,
    ModelProfile,
    ModelVersion,
    TrainingKind,
    TrainingRun,
    TrainingState,
)
from apps.publishing.connectors.base import PublishItem
from apps.reviews.services import (
    assignment_set,
    comment_add,
    draft_lock_acquire,
    guest_link_create,
)

_seq = itertools.count(1)

PROMPT = (
    "Title: {title}\nWrite a {target_length}-word piece for {audience} about {topic}. "
    "Keywords: {keywords}.\n\n"
)


# The line a content type's target format (Markdown by default) puts before a prompt whose
# template leaves it out.
MARKDOWN = ("Format: Markdown, a # headline, then short paragraphs; ## subheadings and lists "
            "where they help.\n\n")


def workspace(**kwargs: Any) -> Workspace:
    n = next(_seq)
    return Workspace.objects.create(name=kwargs.pop("name", f"Workspace {n}"),
                                    slug=kwargs.pop("slug", f"ws-{n}"), **kwargs)


def member(ws: Workspace, role: str, username: str | None = None, password: str = "pw-123456!"):
    return user_create_member(workspace=ws, username=username or f"{role}{next(_seq)}",
                              password=password, role=role)


def content_type(ws: Workspace, **kwargs: Any) -> ContentType:
    n = next(_seq)
    defaults: dict[str, Any] = {"name": f"Blog post {n}", "slug": f"blog-{n}",
                                "prompt_template": PROMPT, "default_length": 40,
                                "default_variants": 2}
    defaults.update(kwargs)
    return ContentType.objects.create(workspace=ws, **defaults)


def model_profile(ws: Workspace, **kwargs: Any) -> ModelProfile:
    defaults: dict[str, Any] = {"name": "Built-in", "backend": Backend.BUILTIN,
                                "parameters": {"max_new_tokens": 48}}
    defaults.update(kwargs)
    return ModelProfile.objects.create(workspace=ws, **defaults)


def brief(ws: Workspace, ct: ContentType | None = None, **kwargs: Any) -> ContentBrief:
    from apps.workflow.services import brief_create

    values: dict[str, Any] = {"title": "Composting at home", "topic": "how to start composting "
                              "kitchen scraps in a small garden", "audience": "beginners",
                              "keywords": ["compost", "garden"], "submit": False}
    values.update(kwargs)
    return brief_create(workspace=ws, content_type=ct or content_type(ws), **values)


def brief_in_review(ws: Workspace, scores: tuple[float, ...] = (0.8, 0.6), **kwargs: Any
                    ) -> ContentBrief:
    """A brief carried by the real services through generation and scoring to review.

    One draft per entry of `scores`, variant i scored scores[i]; the texts are
    hand-written inputs standing for what a worker would have generated. All in one
    transaction: beside the live platform's real workers (tests/live.py) the job's
    messages, relayed once it commits, find it scored already and do nothing, where a
    job committed queued was theirs to claim first.
    """
    with transaction.atomic():
        created = brief(ws, submit=True, variants=len(scores), **kwargs)
        job_written_and_scored(created.jobs.get(), scores)
    created.refresh_from_db()
    return created


@transaction.atomic
def job_written_and_scored(job: GenerationJob, scores: tuple[float, ...]) -> None:
    """A queued job claimed, its drafts recorded and scored by the real services, as a worker
    would: its brief goes to review. Variant i is scored scores[i]. One transaction, so no
    evaluation worker scores the drafts first; the job itself must not have been committed
    queued where a generation worker runs (`brief_in_review` creates it in the same one)."""
    from apps.evaluation.services import evaluation_record
    from apps.generation.services import job_claim, job_record_drafts
    from workers.evaluation.types import DraftScore
    from workers.generation.types import GeneratedText

    if job_claim(job_id=job.pk, worker_id="w1") is None:
        raise AssertionError(f"job {job.pk} is not queued: a worker claimed it first")
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=[
        GeneratedText(variant=v, text=f"Variant {v}: start a compost heap.", seed=v,
                      prompt_tokens=12, completion_tokens=30, model_name="builtin")
        for v in range(len(scores))])
    evaluation_record(job_id=job.pk, scores=[
        DraftScore(draft_id=d.pk, relevance=round(scores[d.variant] - 0.1, 4), length_fit=0.9,
                   score=scores[d.variant], embedding_model="minilm")
        for d in job.drafts.all()])


def review_underway(brief: ContentBrief, reviewer: Any, *, note: str, guest: str) -> None:
    """`reviewer` comments `note` on a brief in review, is assigned it (and notified), holds
    the lock on its first draft and gives `guest` a link to it."""
    comment_add(brief=brief, author=reviewer, body=note)
    assignment_set(brief=brief, reviewer_id=reviewer.pk)
    draft_lock_acquire(draft=brief.drafts.first(), user=reviewer)
    guest_link_create(brief=brief, created_by=reviewer, guest_name=guest)


def model_version(ws: Workspace, number: int = 1, *, run: TrainingRun | None = None,
                  **kwargs: Any) -> ModelVersion:
    """Version `number` of a fine-tuning run, as a finished run registers it (no training
    here): of `run`, else of a new succeeded run that wrote the folder run-<number>."""
    if run is None:
        run = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE,
                                         state=TrainingState.SUCCEEDED,
                                         output_model=f"run-{number}")
    values: dict[str, Any] = {"folder": run.output_model or f"run-{run.pk}",
                              "revision": f"{number:012d}", **kwargs}
    return ModelVersion.objects.create(workspace=ws, number=number, training_run=run,
                                       kind=TrainingKind.FINETUNE, base="builtin", **values)


def model_profile_form(ws: Workspace, **fields: Any) -> dict[str, Any]:
    """The Django admin's form of an OpenAI-compatible model profile in `ws`, as a browser
    posts it, with `fields` changed."""
    return {"workspace": ws.pk, "name": "House", "backend": "openai", "model": "m",
            "parameters": "{}", "queue": "generation", "device": "auto",
            "base_url": "https://llm.example/v1", "api_key_env": "", "timeout_s": 60,
            "api_key": "", **fields}


# A webhook target's signing secret, as Standard Webhooks has them: whsec_ and 32 bytes in base64.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

ITEM_KEY = "6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11"


def publish_item(**changes: Any) -> PublishItem:
    """What a connector is handed: publication 41's short English post on composting."""
    item = PublishItem(
        idempotency_key=ITEM_KEY, publication_id=41, brief_id=7, revision=2,
        title="Composting at home", body="# Start small\n\nA **bucket** will do.\n",
        keywords=("compost", "home garden"), language="en", content_type="blog-post",
        published_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
    )
    return replace(item, **changes)


# The garden corpus split as the training tests want it: English pages, a fixed seed.
GARDEN_SPLIT = {"min_chars": 150, "languages": ["en"], "seed": 7, "test_share": 0.2}


def built_dataset_version(ws: Workspace, files: dict[str, bytes],
                          options: dict[str, Any] | None = None) -> DatasetVersion:
    """A dataset "Garden" of `files`, and a version of it built here, split by `options`.
    Built in the transaction that queues it, so no worker's build message, sent once it
    commits, takes it first (as `brief_in_review`)."""
    dataset = dataset_create(workspace=ws, name="Garden")
    for name, data in files.items():
        dataset_import_upload(dataset=dataset, filename=name, data=data)
    with transaction.atomic():
        version = dataset_version_create(dataset=dataset, options=options or GARDEN_SPLIT)
        dataset_version_build(version_id=version.pk, worker_id="w")
    version.refresh_from_db()
    return version
