"""What the broker holds, for the reconciler: the messages waiting on a queue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from amqp.protocol import queue_declare_ok_t
from celery import current_app


def messages_waiting(queues: Iterable[str]) -> dict[str, int]:
    """Messages ready on each queue, not yet handed to a worker (Redis and RabbitMQ alike).

    Each queue is declared as Celery declares it, so counting creates nothing Celery would
    not: a passive declaration fails on Redis for an empty queue, which has no key.
    """
    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        # kombu's stub types queue_declare() as str | None; the transport answers amqp's
        # queue_declare_ok_t.
        return {name: cast(queue_declare_ok_t,
                           current_app.amqp.queues[name](channel).queue_declare()).message_count
                for name in queues}
