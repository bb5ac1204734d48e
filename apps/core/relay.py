"""Relay of committed outbox events to websockets and the next pipeline step."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from apps.core import pipeline, realtime
from apps.core.models import OutboxEvent
from apps.integrations.outbound import subscriptions_fanout

logger = logging.getLogger(__name__)


def event_message(event: OutboxEvent) -> dict:
    return {
        "id": event.pk,
        "type": event.type,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "data": event.payload,
        "at": event.created_at.isoformat(),
    }


def outbox_relay(*, event_id: int) -> bool:
    """Relay one event; returns False if it was already relayed (idempotent)."""
    event = OutboxEvent.objects.filter(pk=event_id, relayed_at__isnull=True).first()
    if event is None:
        return False
    realtime.broadcast(realtime.groups_for(event.workspace_id, event.payload), event_message(event))
    pipeline.dispatch(event.type, event.subject_id, event.payload, event_id=event.pk)
    subscriptions_fanout(event)  # one delivery per (subscription, event): safe to repeat
    OutboxEvent.objects.filter(pk=event_id, relayed_at__isnull=True).update(
        relayed_at=timezone.now()
    )
    return True


def outbox_relay_pending(*, older_than: timedelta = timedelta(seconds=15)) -> int:
    """Finish relays that a crash or a broker outage left undone."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboxEvent.objects.filter(relayed_at__isnull=True, created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:500]
    )
    relayed = 0
    for event_id in ids:
        try:
            relayed += outbox_relay(event_id=event_id)
        except Exception:  # one bad event must not block the rest
            logger.exception("relay of event %s failed", event_id)
    return relayed
