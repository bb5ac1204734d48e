"""Creating briefs (the workflow submits them); editing content types and style guides."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from apps.briefs.models import ContentBrief, ContentType, Origin, StyleGuide, TargetFormat
from apps.briefs.prompting import style_guide_default, template_validate
from apps.core.changes import changes_check
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record, event_emit

if TYPE_CHECKING:  # a content type names its model profile; generation sits above briefs
    from apps.generation.models import ModelProfile


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
    language: str | None = None,
    source_material: str = "",
    reference_texts: list[str] | None = None,
    due_at: datetime | None = None,
    priority: int = 0,
    origin: str = Origin.DASHBOARD,
    external_id: str = "",
) -> ContentBrief:
    """Create a brief in `draft` (`apps.workflow.services.brief_create` submits it).

    A brief with an `external_id` already seen from the same origin is
    refused, so a retried push from an integration never creates two.
    """
    if content_type.workspace_id != workspace.pk:
        raise DomainError("Unknown content type for this workspace.")
    if style_guide is not None and style_guide.workspace_id != workspace.pk:
        raise DomainError("Unknown style guide for this workspace.")
    style_guide = style_guide or style_guide_default(content_type)
    try:
        # One savepoint for the brief, its audit entry and its event: the unique constraint
        # (the only one these rows have) decides between two concurrent pushes of one id.
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
                language=language or content_type.language,
                source_material=source_material,
                reference_texts=reference_texts or [],
                due_at=due_at,
                priority=priority,
                origin=origin,
                external_id=external_id,
                created_by=created_by if created_by is not None and created_by.is_authenticated
                else None,
            )
            audit_record(
                workspace_id=workspace.pk, action="brief.created", subject=brief,
                actor=created_by, after={"title": title, "origin": origin},
            )
            event_emit(
                workspace_id=workspace.pk, type="brief.created", subject=brief,
                payload={"brief_id": brief.pk, "title": title, "state": brief.state},
            )
    except IntegrityError as exc:
        raise DomainError(f"A brief with external id '{external_id}' already exists.") from exc
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
        "target_format": brief.content_type.target_format,
        "banned_terms": ", ".join(guide.banned_terms) if guide else "",
        "required_terms": ", ".join(guide.required_terms) if guide else "",
        # Whole texts, one paragraph block each: models imitate examples best verbatim.
        "example_texts": "\n\n".join(guide.example_texts) if guide else "",
        "reference_texts": "\n\n".join(brief.reference_texts),
    }


CONTENT_TYPE_FIELDS = ("name", "slug", "prompt_template", "default_length", "default_variants",
                       "language", "model_profile", "target_format", "style_guide")
STYLE_GUIDE_FIELDS = ("name", "tone", "banned_terms", "required_terms", "example_texts",
                      "workspace_default")
RELATIONS = ("model_profile", "style_guide")


def _audit_values(row: ContentType | StyleGuide, names: tuple[str, ...]) -> dict[str, Any]:
    """The audited view of a row: plain values, relations by id."""
    return {name: getattr(row, f"{name}_id" if name in RELATIONS else name) for name in names}


def _content_type_save(content_type: ContentType, *, action: str, actor: Actor,
                       before: dict[str, Any] | None = None) -> ContentType:
    template_validate(content_type.prompt_template)
    profile = content_type.model_profile
    if profile is not None and profile.workspace_id != content_type.workspace_id:
        raise DomainError("Unknown model profile for this workspace.")
    guide = content_type.style_guide
    if guide is not None and guide.workspace_id != content_type.workspace_id:
        raise DomainError("Unknown style guide for this workspace.")
    try:
        # The unique constraint decides between two concurrent writes of one slug.
        with transaction.atomic():
            content_type.save()
    except IntegrityError as exc:
        raise DomainError(f"A content type with slug '{content_type.slug}' already exists.") \
            from exc
    audit_record(workspace_id=content_type.workspace_id, action=action, subject=content_type,
                 actor=actor, before=before,
                 after=_audit_values(content_type, CONTENT_TYPE_FIELDS))
    return content_type


@transaction.atomic
def content_type_create(
    *,
    workspace: Workspace,
    name: str,
    slug: str,
    prompt_template: str,
    default_length: int = 120,
    default_variants: int = 3,
    language: str = "en",
    model_profile: ModelProfile | None = None,
    target_format: str = TargetFormat.MARKDOWN,
    style_guide: StyleGuide | None = None,
    actor: Actor = None,
) -> ContentType:
    """A new content type; its template may only use the known prompt fields."""
    content_type = ContentType(
        workspace=workspace, name=name, slug=slug, prompt_template=prompt_template,
        default_length=default_length, default_variants=default_variants, language=language,
        model_profile=model_profile, target_format=target_format, style_guide=style_guide,
    )
    return _content_type_save(content_type, action="content_type.created", actor=actor)


@transaction.atomic
def content_type_update(*, content_type: ContentType, actor: Actor = None,
                        **changes: Any) -> ContentType:
    """Change some of CONTENT_TYPE_FIELDS; the next job versions a changed template."""
    changes_check(changes, CONTENT_TYPE_FIELDS, rows="Content types")
    before = _audit_values(content_type, CONTENT_TYPE_FIELDS)
    for name, value in changes.items():
        setattr(content_type, name, value)
    return _content_type_save(content_type, action="content_type.updated", actor=actor,
                              before=before)


@transaction.atomic
def style_guide_create(
    *,
    workspace: Workspace,
    name: str,
    tone: str = "",
    banned_terms: list[str] | None = None,
    required_terms: list[str] | None = None,
    example_texts: list[str] | None = None,
    workspace_default: bool = False,
    actor: Actor = None,
) -> StyleGuide:
    """A new style guide; the workspace's default one (for briefs whose content type names
    none) when `workspace_default`, taking over from the earlier default."""
    if workspace_default:
        _default_release(workspace_id=workspace.pk)
    guide = StyleGuide.objects.create(
        workspace=workspace, name=name, tone=tone, banned_terms=banned_terms or [],
        required_terms=required_terms or [], example_texts=example_texts or [],
        workspace_default=workspace_default,
    )
    audit_record(workspace_id=workspace.pk, action="style_guide.created", subject=guide,
                 actor=actor, after=_audit_values(guide, STYLE_GUIDE_FIELDS))
    return guide


@transaction.atomic
def style_guide_update(*, style_guide: StyleGuide, actor: Actor = None,
                       **changes: Any) -> StyleGuide:
    """Change some of STYLE_GUIDE_FIELDS; briefs read the guide when their job renders."""
    changes_check(changes, STYLE_GUIDE_FIELDS, rows="Style guides")
    before = _audit_values(style_guide, STYLE_GUIDE_FIELDS)
    if changes.get("workspace_default"):
        _default_release(workspace_id=style_guide.workspace_id, keep=style_guide.pk)
    for name, value in changes.items():
        setattr(style_guide, name, value)
    style_guide.save()
    audit_record(workspace_id=style_guide.workspace_id, action="style_guide.updated",
                 subject=style_guide, actor=actor, before=before,
                 after=_audit_values(style_guide, STYLE_GUIDE_FIELDS))
    return style_guide


def _default_release(*, workspace_id: int, keep: int | None = None) -> None:
    """The workspace's default style guide stops being it (one default per workspace)."""
    defaults = StyleGuide.objects.filter(workspace_id=workspace_id, workspace_default=True)
    if keep is not None:
        defaults = defaults.exclude(pk=keep)
    defaults.update(workspace_default=False)
