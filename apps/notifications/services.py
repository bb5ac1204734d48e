"""Notifications: a row per user (the dashboard's list) and an email after commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

from apps.briefs.models import ContentBrief
from apps.notifications.models import Notification

logger = logging.getLogger(__name__)


def notify(*, user_ids: Iterable[int | None], workspace_id: int, kind: str, message: str,
           brief: ContentBrief | None = None, exclude_id: int | None = None) -> list[Notification]:
    """Notify each user once (None and `exclude_id`, usually the actor, are skipped).

    The rows are written in the caller's transaction; the emails go out only
    once it commits, so a rolled-back decision sends nothing.
    """
    ids = sorted({i for i in user_ids if i is not None and i != exclude_id})
    if not ids:
        return []
    notes = Notification.objects.bulk_create([
        Notification(workspace_id=workspace_id, user_id=i, kind=kind, brief=brief, message=message)
        for i in ids
    ])
    emails = dict(get_user_model().objects.filter(pk__in=ids).exclude(email="")
                  .values_list("pk", "email"))
    if emails:
        subject = f"[AIGC] {message}"[:200]
        body = message + (f"\n\nBrief: {brief.title} (#{brief.pk})" if brief else "")
        mails = [(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
                 for address in emails.values()]
        transaction.on_commit(lambda: _send(mails), robust=True)
    return notes


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
    return unread.update(read_at=timezone.now())
