"""Failure notifications, run after the failure event is relayed (apps.core.pipeline).

Keyed by the event: a redelivered message finds the rows and sends no mail twice."""

from celery import shared_task

from apps.notifications.services import notify_brief_failed, notify_publication_failed


@shared_task(name="notifications.brief_failed", acks_late=True)
def brief_failed(brief_id: int, event_id: int | None = None) -> int:
    return len(notify_brief_failed(brief_id=brief_id, event_id=event_id))


@shared_task(name="notifications.publication_failed", acks_late=True)
def publication_failed(publication_id: int, event_id: int | None = None) -> int:
    return len(notify_publication_failed(publication_id=publication_id, event_id=event_id))
