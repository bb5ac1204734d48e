"""The publication lifecycle: schedule, claim, succeed or retry or fail, reschedule, cancel,
update, withdraw; and the brief's own state as its publications settle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.briefs.models import BriefState, ContentBrief
from apps.core.errors import DomainError, IllegalTransition, NotFound
from apps.core.services import Actor, audit_record, event_emit, transition
from apps.publishing.models import (
    PUBLICATION_MACHINE,
    Publication,
    PublicationState,
    PublishingTarget,
)
from apps.publishing.targets import target_hold_until
from apps.reviews.models import Decision, DraftRevision, Review


def _publication_transition(publication: Publication, *, to: str, actor: Actor = None,
                            actor_label: str = "", payload: dict[str, Any] | None = None,
                            **fields: Any) -> Publication:
    return transition(
        publication, machine=PUBLICATION_MACHINE, to=to, workspace_id=publication.workspace_id,
        event_type=f"publication.{to}",
        payload={"publication_id": publication.pk, "brief_id": publication.brief_id,
                 "target_id": publication.target_id, "revision_id": publication.revision_id,
                 **(payload or {})},
        actor=actor, actor_label=actor_label, **fields,
    )


# A target that holds posts until their time itself (config `schedule_on_target`) is
# handed a publication as soon as it is scheduled, when that time is at least this far
# off; nearer, handing it over gains nothing (and Ghost refuses under 2 minutes).
SCHEDULE_ON_TARGET_LEAD = timedelta(minutes=5)


def _handed_over_early(publication: Publication, now: datetime) -> bool:
    """The first attempt of a publication whose target schedules posts itself, while its
    time is at least SCHEDULE_ON_TARGET_LEAD away. A later attempt (the handover failed)
    waits for the time and publishes as any other."""
    return (publication.target.config.get("schedule_on_target") is True
            and publication.attempts == 0 and publication.scheduled_at is not None
            and publication.scheduled_at >= now + SCHEDULE_ON_TARGET_LEAD)


def _not_before_its_time(publication: Publication, at: datetime) -> datetime:
    """`at`, or the publication's planned time if later: a post handed over early whose
    attempt failed is never published before its time by a retry."""
    planned = publication.scheduled_at
    return max(at, planned) if planned is not None else at


def _targets_for(brief: ContentBrief, target_ids: Sequence[int] | None) -> list[PublishingTarget]:
    targets = PublishingTarget.objects.filter(workspace_id=brief.workspace_id, enabled=True)
    if target_ids is None:
        return list(targets.filter(auto_publish=True).order_by("id"))
    chosen = list(targets.filter(pk__in=target_ids).order_by("id"))
    missing = set(target_ids) - {t.pk for t in chosen}
    if missing:
        raise DomainError(f"Unknown or disabled targets: {', '.join(map(str, sorted(missing)))}.")
    return chosen


def _publication_create(*, brief: ContentBrief, revision: DraftRevision, target: PublishingTarget,
                        publish_at: datetime, actor: Actor) -> Publication:
    """A new publication of `revision` to `target`, scheduled at `publish_at`."""
    try:
        with transaction.atomic():
            publication = Publication.objects.create(
                workspace_id=brief.workspace_id, brief=brief, revision=revision, target=target,
                scheduled_at=publish_at,
            )
    except IntegrityError as exc:
        raise DomainError(f"This revision is already published to '{target.name}'.") from exc
    return _publication_transition(publication, to=PublicationState.SCHEDULED, actor=actor,
                                   payload={"scheduled_at": publish_at.isoformat()})


@transaction.atomic
def publications_schedule(*, brief: ContentBrief, revision: DraftRevision,
                          target_ids: Sequence[int] | None = None,
                          publish_at: datetime | None = None, actor: Actor = None
                          ) -> list[Publication]:
    """One publication per (revision, target: default the automatic ones), scheduled.

    `publication.scheduled` sends each to a publishing worker after commit.
    """
    at = publish_at or timezone.now()
    return [_publication_create(brief=brief, revision=revision, target=target, publish_at=at,
                                actor=actor) for target in _targets_for(brief, target_ids)]


# A time up to this far back means "now" as the caller's clock read it (the
# request took a moment to arrive); an older one is refused as past.
RESCHEDULE_PAST_GRACE = timedelta(minutes=1)


def _publish_time_check(publish_at: datetime) -> None:
    """A time a caller chose to publish at: timezone-aware and not past (else DomainError)."""
    if timezone.is_naive(publish_at):
        raise DomainError("A publish time needs a time zone.")
    if publish_at < timezone.now() - RESCHEDULE_PAST_GRACE:
        raise DomainError(f"{publish_at.isoformat()} is in the past; choose a later time.")


class PublicationExists(DomainError):
    """The brief already has a publication to that target, and it is not cancelled."""

    status_code = 409


# The brief states `brief_publish` publishes from (to more targets, or again).
PUBLISHABLE_BRIEF_STATES = (BriefState.APPROVED, BriefState.SCHEDULED, BriefState.PUBLISHED)


def publication_holds_target(publication: Publication) -> bool:
    """Whether `publication` keeps `brief_publish` from publishing to its target again: in
    every state but cancelled (a cancelled publication is re-opened instead)."""
    return publication.state != PublicationState.CANCELLED


def _approved_revision(brief: ContentBrief) -> DraftRevision:
    """The revision the brief was approved with: the one its last standing approval names
    (`review_approve` schedules that revision, and no revision is written after approval)."""
    approval = (Review.objects.filter(brief=brief, decision=Decision.APPROVE, superseded=False,
                                      revision__isnull=False)
                .select_related("revision").order_by("-created_at", "-id").first())
    if approval is None or approval.revision is None:
        raise DomainError(f"Brief {brief.pk} has no approved revision to publish.")
    return approval.revision


@transaction.atomic
def publications_add(*, brief: ContentBrief, target_ids: Sequence[int],
                     publish_at: datetime | None = None, actor: Actor = None) -> list[Publication]:
    """The brief's approved revision scheduled to `target_ids` at `publish_at` (timezone-aware,
    not past; default now), after approval: to more targets, or again once cancelled.

    For an approved, scheduled or published brief (else IllegalTransition). A target
    whose publication was cancelled gets it back (cancelled → scheduled) with the same
    idempotency key: a connector that reached the target before the cancel finds that
    post instead of making a second. A target holding any other publication refuses the
    whole request (PublicationExists, 409) and nothing is scheduled. Unknown or disabled
    targets, none at all, or a naive or past time: DomainError.

    The brief's row lock orders this with publications finishing at the same moment.
    `publication.scheduled` sends each to a publishing worker after commit.
    """
    brief = ContentBrief.objects.select_for_update().get(pk=brief.pk)
    if brief.state not in PUBLISHABLE_BRIEF_STATES:
        raise IllegalTransition(f"Brief {brief.pk} is {brief.state}: only an approved, scheduled "
                                "or published brief can be published.")
    if not target_ids:
        raise DomainError("Choose at least one target to publish to.")
    if publish_at is not None:
        _publish_time_check(publish_at)
    revision = _approved_revision(brief)
    targets = _targets_for(brief, target_ids)
    earlier = {p.target_id: p for p in Publication.objects.select_for_update().filter(
        revision=revision, target__in=targets)}
    for target in targets:
        held = earlier.get(target.pk)
        if held is not None and publication_holds_target(held):
            out = held.state in (PublicationState.PUBLISHED, PublicationState.WITHDRAWN)
            raise PublicationExists(
                f"This brief is already {'published' if out else 'scheduled'} to "
                f"'{target.name}' (publication {held.pk} is {held.state}).")
    at = publish_at or timezone.now()
    publications = []
    for target in targets:
        held = earlier.get(target.pk)
        if held is None:
            publications.append(_publication_create(brief=brief, revision=revision, target=target,
                                                    publish_at=at, actor=actor))
        else:
            publications.append(_publication_transition(
                held, to=PublicationState.SCHEDULED, actor=actor, scheduled_at=at, last_error="",
                payload={"scheduled_at": at.isoformat(), "reopened": True}))
    return publications


@transaction.atomic
def publication_reschedule(*, publication: Publication, publish_at: datetime,
                           actor: Actor = None) -> Publication:
    """A scheduled publication's time moved to `publish_at` (timezone-aware, not past).

    A task already queued for the old time finds it not due and does nothing;
    beat sends it once due. Refused (IllegalTransition) unless still scheduled;
    a naive or past time is refused (DomainError).
    """
    _publish_time_check(publish_at)
    moved = Publication.objects.filter(pk=publication.pk, state=PublicationState.SCHEDULED).update(
        scheduled_at=publish_at, updated_at=timezone.now())
    if moved != 1:
        current = Publication.objects.filter(pk=publication.pk).values_list("state", flat=True)
        raise IllegalTransition(f"Publication {publication.pk} is {current.first()}, not "
                                "scheduled: it cannot be rescheduled.")
    before = publication.scheduled_at
    publication.scheduled_at = publish_at
    audit_record(workspace_id=publication.workspace_id, action="publication.rescheduled",
                 subject=publication, actor=actor,
                 before={"scheduled_at": before.isoformat() if before else None},
                 after={"scheduled_at": publish_at.isoformat()})
    event_emit(workspace_id=publication.workspace_id, type="publication.rescheduled",
               subject=publication,
               payload={"publication_id": publication.pk, "brief_id": publication.brief_id,
                        "target_id": publication.target_id,
                        "scheduled_at": publish_at.isoformat()})
    return publication


@transaction.atomic
def publication_cancel(*, publication: Publication, actor: Actor = None) -> Publication:
    """pending/scheduled/failed → cancelled: never published, whatever task is still queued
    (the claim only takes `scheduled` rows). A publication being sent right now
    cannot be cancelled; withdraw it from the target once published instead."""
    return _publication_transition(publication, to=PublicationState.CANCELLED, actor=actor)


@transaction.atomic
def publications_cancel(*, brief: ContentBrief, publication_ids: Sequence[int],
                        actor: Actor = None) -> list[Publication]:
    """Cancel the named publications of `brief`, all or none: the undo of a schedule just
    made. An id that is not one of the brief's is NotFound; a publication already being sent
    or out is refused by `publication_cancel`, and then none is cancelled."""
    publications = list(Publication.objects.filter(brief=brief, pk__in=publication_ids)
                        .order_by("id"))
    if not publications or len(publications) != len(set(publication_ids)):
        raise NotFound("No such publication of this brief.")
    return [publication_cancel(publication=p, actor=actor) for p in publications]


@transaction.atomic
def publication_withdrawn(*, publication: Publication, actor: Actor = None) -> Publication:
    """published → withdrawn, once the connector took the post down."""
    return _publication_transition(publication, to=PublicationState.WITHDRAWN, actor=actor)


@transaction.atomic
def publication_update(*, publication: Publication, revision: DraftRevision,
                       actor: Actor = None) -> Publication:
    """Point a published publication at a newer revision of its draft and have a
    publishing worker push it to the target in place (`publishing.update`, after commit).

    Refused (DomainError) unless published, and unless `revision` is a later
    revision of the same draft that no other publication to this target holds.
    """
    publication = Publication.objects.select_for_update().select_related("revision").get(
        pk=publication.pk)
    if publication.state != PublicationState.PUBLISHED:
        raise DomainError(f"Publication {publication.pk} is {publication.state}: only a "
                          "published publication can be updated.")
    current = publication.revision
    if revision.draft_id != current.draft_id:
        raise DomainError(f"Revision {revision.pk} belongs to another draft.")
    if revision.number <= current.number:
        raise DomainError(f"Publication {publication.pk} already has revision {current.number}; "
                          f"revision {revision.number} is not newer.")
    if Publication.objects.filter(revision=revision, target_id=publication.target_id).exists():
        raise DomainError(f"Revision {revision.number} has its own publication to this target.")
    publication.revision = revision
    publication.save(update_fields=["revision", "updated_at"])
    audit_record(workspace_id=publication.workspace_id, action="publication.updated",
                 subject=publication, actor=actor, before={"revision": current.number},
                 after={"revision": revision.number})
    event_emit(workspace_id=publication.workspace_id, type="publication.updated",
               subject=publication,
               payload={"publication_id": publication.pk, "brief_id": publication.brief_id,
                        "target_id": publication.target_id, "revision": revision.number,
                        "revision_id": revision.pk, "previous_revision_id": current.pk})
    return publication


@transaction.atomic
def publication_update_record(*, publication_id: int, external_id: str = "",
                              external_url: str = "", error: str = "") -> None:
    """What pushing an update to the target gave: the post's (possibly new) address, or
    the target's message for the editor (the post keeps its previous text)."""
    fields: dict[str, Any] = {"last_error": error[:5000], "updated_at": timezone.now()}
    if not error:
        fields |= {"external_id": external_id, "external_url": external_url}
    Publication.objects.filter(pk=publication_id, state=PublicationState.PUBLISHED).update(
        **fields)


@transaction.atomic
def publication_engagement_record(*, publication_id: int, engagement: dict[str, int]) -> None:
    Publication.objects.filter(pk=publication_id).update(
        engagement=engagement, engagement_at=timezone.now())


@transaction.atomic
def publication_claim(*, publication_id: int, worker_id: str) -> Publication | None:
    """scheduled → publishing for one worker, once it is due; None otherwise (idempotent).
    A target with `schedule_on_target` gets a publication due later at once (its first
    attempt, at least SCHEDULE_ON_TARGET_LEAD ahead), to hold until its time.

    A target that is paused (circuit open, credentials refused) or rate-limited
    moves the publication's due time to when it may go instead (one handed over
    early keeps its time, and goes out then as any other).
    """
    publication = (
        Publication.objects.select_related("target", "revision", "brief")
        .filter(pk=publication_id, state=PublicationState.SCHEDULED)
        .first()
    )
    now = timezone.now()
    if publication is None:
        return None
    early = _handed_over_early(publication, now)
    if publication.scheduled_at and publication.scheduled_at > now and not early:
        return None
    # The target row is locked so two workers cannot both take its next slot.
    target = PublishingTarget.objects.select_for_update().get(pk=publication.target_id)
    hold = target_hold_until(target, now)
    if hold is not None:
        if not early:  # spread, not failed: due again when the target may take it
            Publication.objects.filter(pk=publication.pk, state=PublicationState.SCHEDULED
                                       ).update(scheduled_at=hold, updated_at=now)
        return None
    if target.min_interval_s:
        target.next_slot_at = now + timedelta(seconds=target.min_interval_s)
        target.save(update_fields=["next_slot_at"])
    publication.target = target
    try:
        _publication_transition(publication, to=PublicationState.PUBLISHING, actor_label=worker_id,
                                attempts=F("attempts") + 1)
    except IllegalTransition:
        return None
    publication.refresh_from_db(fields=["attempts", "state"])
    return publication


@transaction.atomic
def publication_succeed(*, publication: Publication, external_id: str, external_url: str = "",
                        scheduled_for: datetime | None = None, actor_label: str = ""
                        ) -> Publication:
    """publishing → published.

    `scheduled_for`: the target holds the post and publishes it itself then
    (`schedule_on_target`); it becomes the publication's `published_at` and the
    event's `scheduled_for`. The publication is done for the platform: what is left
    (the CMS publishing at that time) happens there, and withdraw and update work on
    the held post as on a live one.
    """
    payload: dict[str, Any] = {"external_id": external_id, "external_url": external_url}
    if scheduled_for is not None:
        payload["scheduled_for"] = scheduled_for.isoformat()
    _publication_transition(
        publication, to=PublicationState.PUBLISHED, actor_label=actor_label,
        external_id=external_id, external_url=external_url,
        published_at=scheduled_for or timezone.now(), last_error="", payload=payload,
    )
    return publication


@transaction.atomic
def publication_retry_later(*, publication: Publication, error: str, retry_at: datetime,
                            actor_label: str = "") -> Publication:
    """publishing → scheduled after a transient error, due again at `retry_at` (or at
    its planned time, if later)."""
    return _publication_transition(
        publication, to=PublicationState.SCHEDULED, actor_label=actor_label,
        last_error=error[:5000], scheduled_at=_not_before_its_time(publication, retry_at),
        payload={"error": error[:500]},
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
    """failed → scheduled now, or at its planned time if that is still ahead (the
    editor's manual retry)."""
    return _publication_transition(publication, to=PublicationState.SCHEDULED, actor=actor,
                                   scheduled_at=_not_before_its_time(publication, timezone.now()))


def publications_due_ids(*, limit: int = 200) -> list[int]:
    return list(
        Publication.objects.filter(state=PublicationState.SCHEDULED, scheduled_at__lte=timezone.now())
        .order_by("scheduled_at")
        .values_list("id", flat=True)[:limit]
    )
