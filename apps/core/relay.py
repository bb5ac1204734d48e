"""Relay of committed outbox events to their consumers: websockets, the next pipeline step,
and whatever apps above core register (outbound webhook subscriptions)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.utils import timezone

from apps.core import pipeline, realtime
from apps.core.models import OutboxEvent

logger = logging.getLogger(__name__)

# Each consumer must be safe to call twice for one event: a relay a crash interrupted
# is finished later by the reconciler, from the first consumer.
RelayConsumer = Callable[[OutboxEvent], object]


def _next_step(event: OutboxEvent) -> None:
    pipeline.dispatch(event.type, event.subject_id, event.payload, event_id=event.pk)


# After the websockets (sent for a whole batch at once), each event goes to these in turn.
CONSUMERS: list[RelayConsumer] = [_next_step]


def relay_consumer_register(consumer: RelayConsumer) -> None:
    """Add a consumer of every relayed event; apps above core call it from AppConfig.ready,
    so core never imports them."""
    if consumer not in CONSUMERS:
        CONSUMERS.append(consumer)


def outbox_relay_many(*, event_ids: Iterable[int]) -> int:
    """Relay the events not relayed yet, in order; how many were (idempotent).

    A transaction's events go together (event_emit), in one query, one trip to the
    channel layer and one update: a brief's creation writes three.
    """
    events = list(OutboxEvent.objects.filter(pk__in=list(event_ids), relayed_at__isnull=True)
                  .order_by("id"))
    if not events:
        return 0
    realtime.broadcast_many([realtime.live_message(
        workspace_id=e.workspace_id, type=e.type, subject_type=e.subject_type,
        subject_id=e.subject_id, payload=e.payload, at=e.created_at, event_id=e.pk)
        for e in events])
    for event in events:
        for consumer in CONSUMERS:
            consumer(event)
    return OutboxEvent.objects.filter(pk__in=[e.pk for e in events],
                                      relayed_at__isnull=True).update(relayed_at=timezone.now())


def outbox_relay(*, event_id: int) -> bool:
    """Relay one event; returns False if it was already relayed (idempotent)."""
    return outbox_relay_many(event_ids=[event_id]) == 1


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
