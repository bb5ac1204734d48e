"""Fan-out of events to websocket groups through the channel layer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    """The groups an event goes to: its workspace, and its job if it names one (the groups
    apps.dashboard.consumers joins; a group nobody joins still costs the layer a lookup)."""
    groups = [f"workspace.{workspace_id}"]
    if payload.get("job_id"):
        groups.append(f"job.{payload['job_id']}")
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
    groups, or to the workspace's admins alone, without waiting for the layer. Progress is a
    courtesy: a failure to send is logged, never raised, so it cannot fail the work it reports
    on."""
    try:
        groups, message = live_message(
            workspace_id=workspace_id, type=type, subject_type=subject._meta.model_name or "",
            subject_id=subject.pk, payload=payload, at=timezone.now())
        broadcast([admins_group(workspace_id)] if admins_only else groups, message, wait=False)
    except Exception:
        logger.warning("%s of %s %s not sent", type, subject._meta.model_name, subject.pk,
                       exc_info=True)


def broadcast(groups: Iterable[str], message: dict[str, Any], *, wait: bool = True) -> None:
    broadcast_many([(list(groups), message)], wait=wait)


SENDS_AT_ONCE = 32
SEND_TIMEOUT_S = 10.0  # a layer that takes longer is as good as down for live events
MAX_UNWAITED = 10_000  # progress batches queued behind a slow layer before new ones are dropped

Messages = Sequence[tuple[list[str], dict[str, Any]]]  # (groups, message)


@dataclass(frozen=True)
class _Batch:
    messages: Messages
    done: concurrent.futures.Future[None] | None  # None: the sender did not wait


class _Sender:
    """The process's one event loop for sends from sync code, on a thread of its own, and its
    one queue. The channel layer keeps its Redis connections per event loop: a new loop for
    every send (what async_to_sync makes in a thread with none, a worker's) opened a new
    connection every time. Batches go out one at a time, in the order they were handed over
    from whatever thread (a batch's groups at once), so a message is never overtaken by a
    later one, to its group or another: a job's last progress, sent without waiting, goes
    before its outcome's event, and a build's last progress (to the admins) before its end
    (to the workspace)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue[_Batch] = asyncio.Queue()
        self._unwaited = 0  # batches queued that nobody waits for
        self._count_lock = threading.Lock()
        threading.Thread(target=self.loop.run_forever, name="channel-layer-sends",
                         daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._drain(), self.loop)

    def put(self, batch: _Batch) -> bool:
        if batch.done is None:
            with self._count_lock:
                if self._unwaited >= MAX_UNWAITED:
                    return False
                self._unwaited += 1
        self.loop.call_soon_threadsafe(self.queue.put_nowait, batch)
        return True

    async def _drain(self) -> None:
        while True:
            batch = await self.queue.get()
            if batch.done is None:
                with self._count_lock:
                    self._unwaited -= 1
            try:
                # A send stuck on a dead layer must not hold the queue.
                await asyncio.wait_for(_send_all(batch.messages), SEND_TIMEOUT_S)
            except Exception as exc:  # reported to a waiting sender; logged for the others
                if batch.done is None:
                    _unsent(exc, len(batch.messages))
                else:
                    batch.done.set_exception(exc)
            else:
                if batch.done is not None:
                    batch.done.set_result(None)


async def _send_all(messages: Messages) -> None:
    layer = get_channel_layer()
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
                await layer.group_send(group, message)

    await asyncio.gather(*(in_order(g, queued) for g, queued in by_group.items()))


def _unsent(exc: BaseException, count: int) -> None:
    logger.warning("channel layer unavailable (%s: %s): %d live events not sent",
                   type(exc).__name__, exc, count)


_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _process_sender() -> _Sender:
    """The process's sender; a process forked from this one (a prefork worker) starts its own."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender.pid != os.getpid():
            _sender = _Sender()
        return _sender


def broadcast_many(messages: Messages, *, wait: bool = True) -> None:
    """Send each message to its groups, all in one trip to the event loop: a hop from sync
    code into asyncio per group send cost more than the sends themselves. Messages to one
    group keep their order. `wait=False` hands them over and returns at once: live progress
    must not hold the decoding loop for a round trip to the layer per update."""
    _layer_send([(groups, {"type": "event.message", "event": message})
                 for groups, message in messages], wait=wait)


def consumers_tell(group: str, type: str) -> None:
    """A message for the sockets' consumers themselves, not their pages (the consumer's
    method named after `type` handles it), without waiting, from any thread."""
    _layer_send([([group], {"type": type})], wait=False)


def _layer_send(messages: Messages, *, wait: bool) -> None:
    if get_channel_layer() is None or not messages:
        return
    # Best effort: the database is the source of truth and a client that reconnects gets a
    # snapshot, so while the channel layer is down the events are lost with a warning, and
    # the relay's other consumers (the pipeline's next step, webhooks) still run.
    done: concurrent.futures.Future[None] | None = concurrent.futures.Future() if wait else None
    if not _process_sender().put(_Batch(messages, done)):
        _unsent(OverflowError(f"over {MAX_UNWAITED} batches waiting"), len(messages))
        return
    if done is None:
        return
    try:
        done.result(2 * SEND_TIMEOUT_S)  # its batch's turn, then at most its own timeout
    except (RedisError, OSError, TimeoutError) as exc:
        _unsent(exc, len(messages))
