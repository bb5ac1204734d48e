"""Fan-out of events to websocket groups through the channel layer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.db import models
from django.utils import timezone
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def admins_group(workspace_id: int) -> str:
    """The sockets of a workspace's admins (apps.dashboard.consumers joins them): events only
    they may read, such as its settings' changes and a model profile's test text."""
    return f"workspace.{workspace_id}.admins"


def groups_for(workspace_id: int, payload: dict[str, Any]) -> list[str]:
    """The groups an event goes to: its workspace, and its job and brief if it names them."""
    groups = [f"workspace.{workspace_id}"]
    for key, prefix in (("job_id", "job"), ("brief_id", "brief")):
        if payload.get(key):
            groups.append(f"{prefix}.{payload[key]}")
    return groups


def live_message(*, workspace_id: int, type: str, subject_type: str, subject_id: int,
                 payload: dict[str, Any], at: datetime, event_id: int | None = None,
                 ) -> tuple[list[str], dict[str, Any]]:
    """The groups and the websocket message of one event. The relay sends outbox events
    (with their `event_id`) and the workers their live progress, which is never stored,
    through this one shape, so a page reads both alike."""
    message: dict[str, Any] = {"type": type, "subject": {"type": subject_type, "id": subject_id},
                               "data": payload, "at": at.isoformat()}
    if event_id is not None:
        message = {"id": event_id, **message}
    return groups_for(workspace_id, payload), message


def progress_send(*, workspace_id: int, type: str, subject: models.Model,
                  payload: dict[str, Any], admins_only: bool = False) -> None:
    """Send a live-only event (tokens written, a training loss, documents cleaned) to its
    groups now, or to the workspace's admins alone. Progress is a courtesy: a failure to send
    is logged, never raised, so it cannot fail the work it reports on."""
    try:
        groups, message = live_message(
            workspace_id=workspace_id, type=type, subject_type=subject._meta.model_name or "",
            subject_id=subject.pk, payload=payload, at=timezone.now())
        broadcast([admins_group(workspace_id)] if admins_only else groups, message)
    except Exception:
        logger.warning("%s of %s %s not sent", type, subject._meta.model_name, subject.pk,
                       exc_info=True)


def broadcast(groups: Iterable[str], message: dict[str, Any]) -> None:
    broadcast_many([(list(groups), message)])


SENDS_AT_ONCE = 32
SEND_TIMEOUT_S = 10.0  # a layer that takes longer is as good as down for live events

_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for sends from sync code, on a thread of its own.

    The channel layer keeps its Redis connections per event loop: a new loop for every
    send (what async_to_sync makes in a thread with none, a worker's) opened a new
    connection every time, a third of a worker's step time while it streams tokens. A
    process forked from this one (a prefork worker) starts its own loop.
    """
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sends",
                             daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


def broadcast_many(messages: Sequence[tuple[list[str], dict[str, Any]]]) -> None:
    """Send each message to its groups, all in one trip to the event loop: a hop from sync
    code into asyncio per group send cost more than the sends themselves. Messages to one
    group keep their order."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        by_group: dict[str, list[dict[str, Any]]] = {}
        for groups, message in messages:
            for group in groups:
                by_group.setdefault(group, []).append(message)

        # Each group's sends hold a connection of the layer's pool (redis-py's holds 100):
        # the web tier's relay sends many requests' events at once, several groups each.
        connections = asyncio.Semaphore(SENDS_AT_ONCE)

        async def in_order(group: str, queued: list[dict[str, Any]]) -> None:
            async with connections:
                for message in queued:
                    await layer.group_send(group, {"type": "event.message", "event": message})

        await asyncio.gather(*(in_order(g, queued) for g, queued in by_group.items()))

    # Best effort: the database is the source of truth and a client that reconnects gets a
    # snapshot, so while the channel layer is down the events are lost with a warning, and
    # the relay's other consumers (the pipeline's next step, webhooks) still run.
    sending = asyncio.run_coroutine_threadsafe(send_all(), _sender_loop())
    try:
        sending.result(SEND_TIMEOUT_S)
    except (RedisError, OSError, concurrent.futures.TimeoutError) as exc:
        sending.cancel()  # a send stuck on a dead layer must not hold the loop
        logger.warning("channel layer unavailable (%s: %s): %d live events not sent",
                       type(exc).__name__, exc, len(messages))
