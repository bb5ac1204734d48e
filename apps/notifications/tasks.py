"""Failure notifications, run after the failure event is relayed (apps.core.pipeline)."""

from celery import shared_task

from apps.notifications.services import notify_brief_failed, notify_publication_failed


@shared_task(name="notifications.brief_failed", acks_late=True)
def brief_failed(brief_id: int) -> int:
    return len(notify_brief_failed(brief_id=brief_id))


@shared_task(name="notifications.publication_failed", acks_late=True)
def publication_failed(publication_id: int) -> int:
    return len(notify_publication_failed(publication_id=publication_id))
