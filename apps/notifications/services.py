"""Notifications: a row per user (the dashboard's list) and an email after commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.briefs.models import ContentBrief
from apps.core.realtime import broadcast_many
from apps.generation.models import GenerationJob
from apps.notifications.models import Kind, Notification
from apps.publishing.models import Publication
from apps.reviews.models import Decision, Review, ReviewAssignment

logger = logging.getLogger(__name__)


def notify(*, user_ids: Iterable[int | None], workspace_id: int, kind: str, message: str,
           brief: ContentBrief | None = None, exclude_id: int | None = None,
           event_id: int | None = None) -> list[Notification]:
    """Notify each user once (None and `exclude_id`, usually the actor, are skipped).

    The rows are written in the caller's transaction; the emails go out only
    once it commits, so a rolled-back decision sends nothing. With `event_id`, users
    already notified of that event are skipped: a task run twice notifies once.
    """
    ids = {i for i in user_ids if i is not None and i != exclude_id}
    if event_id is not None:
        ids -= set(Notification.objects.filter(event_id=event_id).values_list("user_id", flat=True))
    if not ids:
        return []
    # ignore_conflicts: a concurrent run of the same task already wrote the row.
    notes = Notification.objects.bulk_create([
        Notification(workspace_id=workspace_id, user_id=i, kind=kind, brief=brief, message=message,
                     event_id=event_id)
        for i in sorted(ids)
    ], ignore_conflicts=event_id is not None)
    emails = dict(get_user_model().objects.filter(pk__in=ids).exclude(email="")
                  .values_list("pk", "email"))
    if emails:
        subject = f"[AIGC] {message}"[:200]
        body = message + (f"\n\nBrief: {brief.title} (#{brief.pk})" if brief else "")
        mails = [(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
                 for address in emails.values()]
        transaction.on_commit(lambda: _send(mails), robust=True)
    transaction.on_commit(lambda: unread_send(user_ids=ids, workspace_id=workspace_id),
                          robust=True)
    return notes


def notifications_group(*, user_id: int, workspace_id: int) -> str:
    """The websocket group of one user's notifications in one workspace: only that user's
    own sockets join it (apps/dashboard/consumers.py)."""
    return f"notifications.{workspace_id}.{user_id}"


def unread_send(*, user_ids: Iterable[int], workspace_id: int) -> None:
    """Tell each user's open pages their unread count in the workspace (the header's badge),
    read after the notifications committed. Best effort, as every live message."""
    ids = set(user_ids)
    rows = (Notification.objects.filter(user_id__in=ids, workspace_id=workspace_id,
                                        read_at__isnull=True)
            .order_by().values("user_id").annotate(n=Count("id")))
    counts = {row["user_id"]: row["n"] for row in rows}
    broadcast_many([([notifications_group(user_id=i, workspace_id=workspace_id)],
                     {"type": "notification.unread", "data": {"unread": counts.get(i, 0)}})
                    for i in sorted(ids)])


def _send(mails: list[tuple[str, str, str, list[str]]]) -> None:
    # The row is the record the user sees; a mail server that is down must not undo it.
    try:
        send_mass_mail(mails, fail_silently=False)
    except OSError:
        logger.exception("notification email failed for %d recipients", len(mails))


def notifications_mark_read(*, user_id: int, workspace_id: int,
                            ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications in a workspace read (all unread ones when `ids` is None)."""
    unread = Notification.objects.filter(user_id=user_id, workspace_id=workspace_id,
                                         read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    marked = unread.update(read_at=timezone.now())
    if marked:
        transaction.on_commit(lambda: unread_send(user_ids=[user_id], workspace_id=workspace_id),
                              robust=True)
    return marked


def notify_brief_failed(*, brief_id: int, event_id: int | None = None) -> list[Notification]:
    """Tell the brief's author and reviewer that generation failed, with the reason."""
    brief = ContentBrief.objects.filter(pk=brief_id).first()
    if brief is None:
        return []
    error = (GenerationJob.objects.filter(brief=brief).order_by("-id")
             .values_list("error", flat=True).first()) or "no reason recorded"
    assignee = ReviewAssignment.objects.filter(brief=brief).values_list("reviewer_id", flat=True)
    return notify(user_ids=[brief.created_by_id, *assignee], workspace_id=brief.workspace_id,
                  kind=Kind.FAILURE, brief=brief, event_id=event_id,
                  message=f"Generation of “{brief.title}” failed: {error}"[:500])


def notify_publication_failed(*, publication_id: int, event_id: int | None = None
                              ) -> list[Notification]:
    """Tell the brief's author and its approvers that a publication failed for good."""
    publication = (Publication.objects.select_related("brief", "target")
                   .filter(pk=publication_id).first())
    if publication is None:
        return []
    brief = publication.brief
    approvers = Review.objects.filter(brief=brief, decision=Decision.APPROVE,
                                      reviewer__isnull=False).values_list("reviewer_id", flat=True)
    return notify(user_ids=[brief.created_by_id, *approvers], workspace_id=brief.workspace_id,
                  kind=Kind.FAILURE, brief=brief, event_id=event_id,
                  message=f"Publishing “{brief.title}” to {publication.target.name} failed: "
                          f"{publication.last_error or 'no reason recorded'}"[:500])
