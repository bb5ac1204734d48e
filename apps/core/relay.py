"""Relay of committed outbox events to their consumers: websockets, the next pipeline step,
and whatever apps above core register (outbound webhook subscriptions)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from apps.core import pipeline, realtime
from apps.core.models import OutboxEvent

logger = logging.getLogger(__name__)

# A consumer gets the relayed events, in order, and must be safe to call twice for one
# event: a relay a crash interrupted is finished later by the reconciler, from the first
# consumer. It gets them together so that it can look up what they share once (a brief's
# creation relays three).
RelayConsumer = Callable[[Sequence[OutboxEvent]], object]


def _next_steps(events: Sequence[OutboxEvent]) -> None:
    for event in events:
        pipeline.dispatch(event.type, event.subject_id, event.payload, event_id=event.pk)


# After the websockets (sent for a whole batch at once), the events go to these in turn.
CONSUMERS: list[RelayConsumer] = [_next_steps]


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
    for consumer in CONSUMERS:
        consumer(events)
    return OutboxEvent.objects.filter(pk__in=[e.pk for e in events],
                                      relayed_at__isnull=True).update(relayed_at=timezone.now())


class _BackgroundRelay:
    """One thread per process relays the events of the transactions that commit in it,
    taking every id waiting (up to 500) in one relay: the request that committed them does
    not wait for the channel layer and the broker, and under load one query, one trip to
    the channel layer and one update serve the events of many requests.

    The ids wait in memory only: those a crash or a stop loses are relayed by the
    reconciler (`outbox_relay_pending`), like a relay a crash interrupts.
    """

    BATCH = 500

    def __init__(self) -> None:
        self.enabled = False
        self._ids: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, event_ids: Iterable[int]) -> None:
        for event_id in event_ids:
            self._ids.put(event_id)
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="outbox-relay",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            ids = [self._ids.get()]
            while len(ids) < self.BATCH:
                try:
                    ids.append(self._ids.get_nowait())
                except queue.Empty:
                    break
            try:
                outbox_relay_many(event_ids=ids)
            except Exception:  # the reconciler finishes them; the next batch still runs
                logger.exception("relay of %d events failed", len(ids))
            finally:
                close_old_connections()  # back to the pool, as after a request


_BACKGROUND = _BackgroundRelay()


def relay_in_background(enabled: bool = True) -> None:
    """Whether this process relays committed events in a thread of its own (the web tier
    does: aigc_platform/asgi.py), or the thread that committed them relays them before it
    goes on (workers, commands, the test client)."""
    _BACKGROUND.enabled = enabled


def outbox_relay_committed(*, event_ids: Sequence[int]) -> None:
    """Relay a committed transaction's events, in the background or now (above)."""
    if _BACKGROUND.enabled:
        _BACKGROUND.submit(event_ids)
    else:
        outbox_relay_many(event_ids=event_ids)


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
