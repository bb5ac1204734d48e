"""Publishing targets and the publication lifecycle."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.briefs.lifecycle import brief_transition
from apps.briefs.models import BriefState, ContentBrief
from apps.core.crypto import secret_encrypt
from apps.core.errors import DomainError, IllegalTransition
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record, transition
from apps.publishing.models import (
    PUBLICATION_MACHINE,
    Publication,
    PublicationState,
    PublishingTarget,
    TargetKind,
)
from apps.reviews.models import DraftRevision


def _publication_transition(publication: Publication, *, to: str, actor: Actor = None,
                            actor_label: str = "", payload: dict | None = None,
                            **fields: Any) -> Publication:
    return transition(
        publication,
        machine=PUBLICATION_MACHINE,
        to=to,
        workspace_id=publication.workspace_id,
        event_type=f"publication.{to}",
        payload={"publication_id": publication.pk, "brief_id": publication.brief_id,
                 "target_id": publication.target_id, **(payload or {})},
        actor=actor,
        actor_label=actor_label,
        **fields,
    )


def target_config_validate(kind: str, config: dict[str, Any], secret: str = "") -> None:
    if kind not in TargetKind.values:
        raise DomainError(f"Unknown target kind '{kind}'.")
    if kind == TargetKind.WEBHOOK:
        if not str(config.get("url", "")).startswith(("http://", "https://")):
            raise DomainError("A webhook target needs an http(s) 'url' in its config.")
        if secret and not secret.startswith("whsec_"):
            raise DomainError("A webhook secret has the form 'whsec_<base64>'; leave it empty "
                              "to have one generated.")
    if kind == TargetKind.FILE:
        folder = PurePosixPath(str(config.get("folder", "")))
        # Relative to the platform's publish folder, so an editor cannot make a
        # worker write anywhere else on its disk.
        if not str(folder) or str(folder) == "." or folder.is_absolute() or ".." in folder.parts:
            raise DomainError("A file target needs a relative 'folder' (no '..') in its config.")


def webhook_secret_generate() -> str:
    """A Standard Webhooks secret: 'whsec_' and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def target_create(*, workspace: Workspace, name: str, kind: str, config: dict[str, Any],
                  secret: str = "", auto_publish: bool = True, actor: Actor = None
                  ) -> PublishingTarget:
    target_config_validate(kind, config, secret)
    if kind == TargetKind.WEBHOOK and not secret:
        secret = webhook_secret_generate()
    target = PublishingTarget.objects.create(
        workspace=workspace, name=name, kind=kind, config=config,
        secret_encrypted=secret_encrypt(secret), auto_publish=auto_publish,
    )
    audit_record(workspace_id=workspace.pk, action="target.created", subject=target, actor=actor,
                 after={"name": name, "kind": kind})
    return target


def _targets_for(brief: ContentBrief, target_ids: Sequence[int] | None) -> list[PublishingTarget]:
    targets = PublishingTarget.objects.filter(workspace_id=brief.workspace_id, enabled=True)
    if target_ids is None:
        return list(targets.filter(auto_publish=True).order_by("id"))
    chosen = list(targets.filter(pk__in=target_ids).order_by("id"))
    missing = set(target_ids) - {t.pk for t in chosen}
    if missing:
        raise DomainError(f"Unknown or disabled targets: {', '.join(map(str, sorted(missing)))}.")
    return chosen


@transaction.atomic
def publications_schedule(*, brief: ContentBrief, revision: DraftRevision,
                          target_ids: Sequence[int] | None = None,
                          publish_at: datetime | None = None, actor: Actor = None
                          ) -> list[Publication]:
    """One publication per (revision, target), scheduled; approved → scheduled for the brief.

    `publication.scheduled` sends each to a publishing worker after commit.
    """
    targets = _targets_for(brief, target_ids)
    if not targets:
        return []
    publications = []
    for target in targets:
        try:
            with transaction.atomic():
                publication = Publication.objects.create(
                    workspace_id=brief.workspace_id, brief=brief, revision=revision, target=target,
                    scheduled_at=publish_at or timezone.now(),
                )
        except IntegrityError as exc:
            raise DomainError(f"This revision is already published to '{target.name}'.") from exc
        _publication_transition(publication, to=PublicationState.SCHEDULED, actor=actor,
                                payload={"scheduled_at": publication.scheduled_at.isoformat()})
        publications.append(publication)
    brief_transition(brief, to=BriefState.SCHEDULED, actor=actor)
    return publications


@transaction.atomic
def publication_claim(*, publication_id: int, worker_id: str) -> Publication | None:
    """scheduled → publishing for one worker, once it is due; None otherwise (idempotent)."""
    publication = (
        Publication.objects.select_related("target", "revision", "brief")
        .filter(pk=publication_id, state=PublicationState.SCHEDULED)
        .first()
    )
    if publication is None or (publication.scheduled_at and publication.scheduled_at > timezone.now()):
        return None
    try:
        _publication_transition(publication, to=PublicationState.PUBLISHING, actor_label=worker_id,
                                attempts=F("attempts") + 1)
    except IllegalTransition:
        return None
    publication.refresh_from_db(fields=["attempts", "state"])
    return publication


@transaction.atomic
def publication_succeed(*, publication: Publication, external_id: str, external_url: str = "",
                        actor_label: str = "") -> Publication:
    """publishing → published; the brief is published once all its publications are."""
    _publication_transition(
        publication, to=PublicationState.PUBLISHED, actor_label=actor_label,
        external_id=external_id, external_url=external_url, published_at=timezone.now(),
        last_error="", payload={"external_id": external_id, "external_url": external_url},
    )
    brief = ContentBrief.objects.get(pk=publication.brief_id)
    unfinished = Publication.objects.filter(brief=brief).exclude(state=PublicationState.PUBLISHED)
    if brief.state == BriefState.SCHEDULED and not unfinished.exists():
        brief_transition(brief, to=BriefState.PUBLISHED, actor_label=actor_label)
    return publication


@transaction.atomic
def publication_retry_later(*, publication: Publication, error: str, retry_at: datetime,
                            actor_label: str = "") -> Publication:
    """publishing → scheduled after a transient error, due again at `retry_at`."""
    return _publication_transition(
        publication, to=PublicationState.SCHEDULED, actor_label=actor_label,
        last_error=error[:5000], scheduled_at=retry_at, payload={"error": error[:500]},
    )


@transaction.atomic
def publication_fail(*, publication: Publication, error: str, actor_label: str = "") -> Publication:
    """→ failed with the target's own message, for the editor to read and retry."""
    return _publication_transition(
        publication, to=PublicationState.FAILED, actor_label=actor_label,
        last_error=error[:5000], payload={"error": error[:500]},
    )


@transaction.atomic
def publication_retry(*, publication: Publication, actor: Actor = None) -> Publication:
    """failed → scheduled now (the editor's manual retry)."""
    return _publication_transition(publication, to=PublicationState.SCHEDULED, actor=actor,
                                   scheduled_at=timezone.now())


def publications_due_ids(*, limit: int = 200) -> list[int]:
    return list(
        Publication.objects.filter(state=PublicationState.SCHEDULED, scheduled_at__lte=timezone.now())
        .order_by("scheduled_at")
        .values_list("id", flat=True)[:limit]
    )
