"""The demo workspace and the sample brief that `manage.py demo` runs through."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

from django.db import transaction

from apps.accounts.models import Role
from apps.accounts.services import user_create_member
from apps.briefs.models import BriefState, ContentBrief, ContentType, StyleGuide
from apps.core.models import Workspace
from apps.evaluation.models import Evaluation
from apps.evaluation.services import content_type_presets_load
from apps.generation.models import Backend, ModelProfile
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.targets import target_create
from apps.workflow.services import brief_create, review_approve
from workers.generation.builtin.corpus import CORPUS_SOURCE
from workers.generation.builtin.training import METADATA_FILE

DEMO_PASSWORD = "demo-pass-2026"
# The demo's processes may reach model servers and targets on this host (a local Ollama,
# say), which the egress policy refuses unless the operator allows it.
DEMO_ENV = {"AIGC_EGRESS_ALLOW_LOOPBACK": "1"}
EDITOR, REVIEWER = "editor", "reviewer"

BLOG_TEMPLATE = (
    "{title}\n\n"
    "A {target_length}-word article for {audience} about {topic}. Tone: {tone}. "
    "Keywords: {keywords}.\n\n"
)

class SampleBrief(TypedDict):
    title: str
    topic: str
    audience: str
    keywords: list[str]
    target_length: int
    variants: int


SAMPLE_BRIEF: SampleBrief = {
    "title": "Five ways to cut food waste at home",
    "topic": "practical ways households can reduce food waste: planning meals, storing "
    "produce well, using leftovers and composting scraps",
    "audience": "busy families",
    "keywords": ["food waste", "leftovers", "compost"],
    "target_length": 60,
    "variants": 3,
}
# `demo --chinese`: a short poem through the Chinese literature preset (literature-zh), for a
# built-in model trained on Chinese poems (README, "A Chinese built-in model"); its length
# is in characters.
CHINESE_SAMPLE_BRIEF: SampleBrief = {
    "title": "静夜思月",
    "topic": "秋夜独坐，望明月而思故乡",
    "audience": "喜欢古诗的读者",
    "keywords": ["明月", "故乡"],
    "target_length": 80,
    "variants": 3,
}
CHINESE_CONTENT_TYPE = "literature-zh"
CHINESE_MODEL_NEEDED = (
    "--chinese needs a built-in model trained on Chinese text; {found}. Train one first, "
    "e.g. on Debian's fortunes-zh poems (README, \"A Chinese built-in model\"):\n"
    "  python manage.py train_model --force --corpus POEMS_FOLDER --corpus-licence \"public domain "
    "(Tang and Song poems); packaged by Debian under GPL-3.0+\""
)


@dataclass(frozen=True)
class DemoWorkspace:
    workspace: Workspace
    content_type: ContentType
    file_target: PublishingTarget


@transaction.atomic
def demo_workspace_ensure() -> DemoWorkspace:
    """The demo workspace with an editor, a reviewer, a file target and the content-type
    presets (idempotent)."""
    workspace, created = Workspace.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
    if created:
        user_create_member(workspace=workspace, username=EDITOR, password=DEMO_PASSWORD,
                           role=Role.EDITOR)
        user_create_member(workspace=workspace, username=REVIEWER, password=DEMO_PASSWORD,
                           role=Role.REVIEWER)
        profile = ModelProfile.objects.create(
            workspace=workspace, name="Built-in model", backend=Backend.BUILTIN,
            parameters={"temperature": 0.8, "top_p": 0.95},
        )
        StyleGuide.objects.create(workspace=workspace, name="House style", tone="friendly, concrete",
                                  banned_terms=["synergy"], required_terms=[])
        ContentType.objects.create(
            workspace=workspace, name="Blog post", slug="blog-post", prompt_template=BLOG_TEMPLATE,
            default_length=120, default_variants=3, model_profile=profile,
        )
        target_create(workspace=workspace, name="Static site", kind=TargetKind.FILE,
                      config={"folder": "demo-site"})
        content_type_presets_load(workspace=workspace)
    return DemoWorkspace(
        workspace=workspace,
        content_type=ContentType.objects.get(workspace=workspace, slug="blog-post"),
        file_target=PublishingTarget.objects.get(workspace=workspace, kind=TargetKind.FILE),
    )


def demo_brief_submit(demo: DemoWorkspace, *, chinese: bool = False) -> ContentBrief:
    """The sample brief: the English blog post, or with `chinese` a Chinese poem."""
    from django.contrib.auth import get_user_model

    editor = get_user_model().objects.get(username=EDITOR)
    if chinese:
        content_type = ContentType.objects.get(workspace=demo.workspace, slug=CHINESE_CONTENT_TYPE)
        return brief_create(workspace=demo.workspace, content_type=content_type,
                            created_by=editor, **CHINESE_SAMPLE_BRIEF)
    return brief_create(workspace=demo.workspace, content_type=demo.content_type,
                        created_by=editor, **SAMPLE_BRIEF)


def chinese_model_missing(model_dir: Path) -> str:
    """Why the built-in model in `model_dir` cannot write the Chinese demo, or "" when it can:
    it must exist and have learnt from a corpus of the operator's (train_model --corpus), not
    the shipped English one."""
    metadata = model_dir / METADATA_FILE
    if not metadata.is_file():
        return CHINESE_MODEL_NEEDED.format(found=f"there is none in {model_dir}")
    source = json.loads(metadata.read_text()).get("corpus_source", CORPUS_SOURCE)
    if source == CORPUS_SOURCE:
        return CHINESE_MODEL_NEEDED.format(found="the one there learnt English from the Jargon File")
    return ""


class DemoFailed(Exception):
    pass


def wait_for_state(brief_id: int, states: set[str], timeout: float) -> ContentBrief:
    deadline = time.monotonic() + timeout
    while True:
        brief = ContentBrief.objects.get(pk=brief_id)
        if brief.state in states:
            return brief
        if brief.state in (BriefState.FAILED, BriefState.CANCELLED, BriefState.REJECTED):
            error = brief.jobs.order_by("-id").values_list("error", flat=True).first() or ""
            raise DemoFailed(f"brief {brief_id} ended in '{brief.state}'. {error}".strip())
        if time.monotonic() > deadline:
            raise DemoFailed(f"brief {brief_id} still '{brief.state}' after {timeout:.0f}s")
        time.sleep(0.5)


def demo_approve_best(brief: ContentBrief, target: PublishingTarget) -> Evaluation:
    """What the demo reviewer does: approve the best-scored draft, publish to `target`."""
    from django.contrib.auth import get_user_model

    best = (Evaluation.objects.select_related("draft")
            .filter(draft__job__brief=brief).order_by("-score", "draft__variant").first())
    if best is None:
        raise DemoFailed(f"brief {brief.pk} reached review without scored drafts")
    reviewer = get_user_model().objects.get(username=REVIEWER)
    review_approve(brief=brief, draft_id=best.draft_id, reviewer=reviewer,
                   comment="Approved by the demo reviewer.", target_ids=[target.pk])
    return best


def demo_report(brief_id: int) -> dict[str, Any]:
    brief = ContentBrief.objects.get(pk=brief_id)
    job = brief.jobs.order_by("-id").first()

    def seconds(start: datetime | None, end: datetime | None) -> float | None:
        return round((end - start).total_seconds(), 3) if start and end else None

    evaluations = Evaluation.objects.filter(draft__job=job).select_related("draft")
    return {
        "brief_id": brief.pk,
        "state": brief.state,
        "job": {
            "id": job.pk if job else None,
            "state": job.state if job else None,
            "attempts": job.attempts if job else 0,
            "queued_s": seconds(job.created_at, job.started_at) if job else None,
            "generation_s": seconds(job.started_at, job.generated_at) if job else None,
            "evaluation_s": seconds(job.generated_at, job.finished_at) if job else None,
            "prompt_tokens": job.prompt_tokens if job else 0,
            "completion_tokens": job.completion_tokens if job else 0,
        },
        "scores": [
            {"draft_id": e.draft_id, "variant": e.draft.variant, "score": round(e.score, 4),
             "relevance": round(e.relevance, 4), "length_fit": round(e.length_fit, 4)}
            for e in evaluations.order_by("-score")
        ],
        "publications": [
            {"target": p.target.name, "kind": p.target.kind, "state": p.state,
             "external_id": p.external_id, "external_url": p.external_url}
            for p in Publication.objects.filter(brief=brief).select_related("target")
        ],
    }


def wait_for_publications(brief_id: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = set(Publication.objects.filter(brief_id=brief_id).values_list("state", flat=True))
        if states and states <= {PublicationState.PUBLISHED, PublicationState.FAILED}:
            if PublicationState.FAILED in states:
                errors = Publication.objects.filter(brief_id=brief_id, state="failed")
                raise DemoFailed("publication failed: " + "; ".join(p.last_error for p in errors))
            return
        time.sleep(0.5)
    raise DemoFailed(f"publications of brief {brief_id} not finished after {timeout:.0f}s")
