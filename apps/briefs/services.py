"""Creating, submitting, cancelling and regenerating briefs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from apps.briefs.lifecycle import brief_transition
from apps.briefs.models import BriefState, ContentBrief, ContentType, Origin, StyleGuide
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record, event_emit
from apps.generation.services import job_cancel_active, job_create


@transaction.atomic
def brief_create(
    *,
    workspace: Workspace,
    title: str,
    content_type: ContentType,
    topic: str,
    created_by: Actor = None,
    style_guide: StyleGuide | None = None,
    audience: str = "",
    tone: str = "",
    keywords: list[str] | None = None,
    target_length: int | None = None,
    variants: int | None = None,
    language: str = "en",
    source_material: str = "",
    reference_texts: list[str] | None = None,
    due_at: datetime | None = None,
    priority: int = 0,
    origin: str = Origin.DASHBOARD,
    external_id: str = "",
    submit: bool = True,
) -> ContentBrief:
    """Create a brief in `draft` and, unless `submit` is False, submit it.

    A brief with an `external_id` already seen from the same origin is
    refused, so a retried push from an integration never creates two.
    """
    if content_type.workspace_id != workspace.pk:
        raise DomainError("Unknown content type for this workspace.")
    if style_guide is not None and style_guide.workspace_id != workspace.pk:
        raise DomainError("Unknown style guide for this workspace.")
    try:
        # The unique constraint decides between two concurrent pushes of one id.
        with transaction.atomic():
            brief = ContentBrief.objects.create(
                workspace=workspace,
                title=title,
                content_type=content_type,
                style_guide=style_guide,
                topic=topic,
                audience=audience,
                tone=tone or (style_guide.tone if style_guide else ""),
                keywords=keywords or [],
                target_length=target_length or content_type.default_length,
                variants=variants or content_type.default_variants,
                language=language,
                source_material=source_material,
                reference_texts=reference_texts or [],
                due_at=due_at,
                priority=priority,
                origin=origin,
                external_id=external_id,
                created_by=created_by if created_by is not None and created_by.is_authenticated
                else None,
            )
    except IntegrityError as exc:
        raise DomainError(f"A brief with external id '{external_id}' already exists.") from exc
    audit_record(
        workspace_id=workspace.pk, action="brief.created", subject=brief, actor=created_by,
        after={"title": title, "origin": origin},
    )
    event_emit(
        workspace_id=workspace.pk, type="brief.created", subject=brief,
        payload={"brief_id": brief.pk, "title": title, "state": brief.state},
    )
    if submit:
        brief_submit(brief=brief, actor=created_by)
    return brief


@transaction.atomic
def brief_submit(*, brief: ContentBrief, actor: Actor = None) -> ContentBrief:
    """draft → queued, with a generation job that runs once the transaction commits."""
    brief_transition(brief, to=BriefState.QUEUED, actor=actor)
    job_create(brief=brief, actor=actor)
    return brief


@transaction.atomic
def brief_regenerate(*, brief: ContentBrief, actor: Actor = None) -> ContentBrief:
    """changes_requested or failed → queued, with a new job (the feedback goes into its prompt)."""
    brief_transition(brief, to=BriefState.QUEUED, actor=actor)
    job_create(brief=brief, actor=actor)
    return brief


@transaction.atomic
def brief_cancel(*, brief: ContentBrief, actor: Actor = None) -> ContentBrief:
    """Cancel a brief that is not yet approved, and any job still working on it."""
    brief_transition(brief, to=BriefState.CANCELLED, actor=actor)
    job_cancel_active(brief=brief, actor=actor)
    return brief


def brief_fields_for_prompt(brief: ContentBrief) -> dict[str, Any]:
    """The plain values a prompt template renders (no model instances leave this app)."""
    guide = brief.style_guide
    return {
        "title": brief.title,
        "topic": brief.topic,
        "audience": brief.audience,
        "tone": brief.tone,
        "keywords": ", ".join(brief.keywords),
        "target_length": brief.target_length,
        "language": brief.language,
        "source_material": brief.source_material,
        "feedback": brief.feedback,
        "banned_terms": ", ".join(guide.banned_terms) if guide else "",
        "required_terms": ", ".join(guide.required_terms) if guide else "",
    }
