from datetime import timedelta

from celery import shared_task

from apps.core.relay import outbox_relay_pending


@shared_task(name="events.relay_pending")
def relay_pending() -> int:
    return outbox_relay_pending(older_than=timedelta(seconds=15))
