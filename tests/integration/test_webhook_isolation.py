"""A dead subscriber does not delay a healthy one, and its breaker pauses it, then probes.

A real webhooks worker (threads, 4 slots, running beat) delivers to two local receivers:
one answers at once, the other holds every request open past the worker's timeout, as a
hung service does. Events arrive in two waves. Before the hung receiver's first try fails,
its deliveries may hold every slot for one timeout (the first wave's bound allows that);
once it is failing it holds one slot at most, so the second wave's healthy deliveries must
each land within a bound below the worker's timeout: none waited behind a hung try. The dead
subscription trips its breaker, gets no request during the pause, and is tried again after
it; once it answers, every event reaches it exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import ManagedProcess, database_url, worker_command
from aigc_platform.queues import Queue
from aigc_platform.stack import WORKER_READY
from apps.core.services import event_emit
from apps.integrations.models import Delivery, DeliveryState, Subscription
from apps.integrations.outbound import subscription_create
from apps.publishing.models import TargetKind
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import wait_until
from tests.http_peers import HttpPeer, Reply

# Minutes of timeouts and breaker pauses: in the bounded stage with the other faults.
pytestmark = [pytest.mark.integration, pytest.mark.faults,
              pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 5  # the worker's webhook timeout: a hung receiver holds a slot this long
# Above the first wave's hung deliveries: the second wave meets a failing subscription
# whose breaker is still closed, so only the one-try-in-flight rule protects it.
BREAKER_FAILURES = 8
PAUSE_S = 8
WAVE = 6  # events per wave
# A healthy delivery lands within this of its event: well under one hung try (TIMEOUT_S).
HEALTHY_BOUND_S = 3.0


@pytest.fixture
def webhooks_worker(django_db_blocker, tmp_path: Path) -> Iterator[ManagedProcess]:
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    env = {"DATABASE_URL": db_url, "AIGC_WEBHOOK_TIMEOUT_S": str(TIMEOUT_S),
           "AIGC_WEBHOOK_BREAKER_FAILURES": str(BREAKER_FAILURES),
           "AIGC_WEBHOOK_BREAKER_PAUSE_S": str(PAUSE_S),
           "AIGC_WEBHOOK_DISPATCH_INTERVAL_S": "1", "AIGC_RESEND_AFTER_S": "3"}
    celery_app.control.purge()
    worker = ManagedProcess("worker-io", worker_command(
        "worker-io", (Queue.WEBHOOKS, Queue.DEFAULT), pool="threads", concurrency=4, beat=True),
        env, tmp_path / "worker-io.log").start()
    try:
        worker.wait_for_log(WORKER_READY, 120)
        yield worker
    finally:
        worker.stop()
        celery_app.control.purge()  # beat's sends to queues this worker does not consume


def emit_wave(target) -> list[int]:  # type: ignore[no-untyped-def]
    """WAVE events, each committed on its own (relayed and fanned out at once)."""
    ids = []
    for n in range(WAVE):
        with transaction.atomic():
            ids.append(event_emit(workspace_id=target.workspace_id, type="target.updated",
                                  subject=target, payload={"target_id": target.pk, "n": n}).pk)
    return ids


def latencies_s(subscription: Subscription, event_ids: list[int]) -> list[float]:
    rows = Delivery.objects.filter(subscription=subscription, event_id__in=event_ids,
                                   state=DeliveryState.SUCCEEDED)
    return [(d.delivered_at - d.created_at).total_seconds() for d in rows]


def test_a_hung_subscriber_neither_delays_a_healthy_one_nor_escapes_its_breaker(webhooks_worker):
    ws = factories.workspace()
    target = target_create(workspace=ws, name="Site", kind=TargetKind.FILE, config={"folder": "p"})
    with HttpPeer(default=200) as healthy_peer, \
            HttpPeer(default=Reply(200, delay_s=TIMEOUT_S * 6)) as hung_peer:
        healthy, _ = subscription_create(workspace=ws, name="healthy", url=healthy_peer.url,
                                         event_types=["target.updated"])
        hung, _ = subscription_create(workspace=ws, name="hung", url=hung_peer.url,
                                      event_types=["target.updated"])
        # given a first wave, during which the hung receiver starts failing
        first = emit_wave(target)
        wait_until(lambda: len(latencies_s(healthy, first)), lambda n: n == WAVE, 30,
                   "the healthy receiver got the first wave")
        assert max(latencies_s(healthy, first)) < TIMEOUT_S + HEALTHY_BOUND_S
        failing = wait_until(lambda: Subscription.objects.get(pk=hung.pk),
                             lambda s: s.consecutive_failures >= 1, 30,
                             "the hung subscription failing")
        assert failing.paused_until is None
        # when a second wave arrives while its tries keep failing
        second = emit_wave(target)
        # then the healthy receiver gets each event of it within the bound
        wait_until(lambda: len(latencies_s(healthy, second)), lambda n: n == WAVE,
                   30, "the healthy receiver got the second wave")
        assert max(latencies_s(healthy, second)) < HEALTHY_BOUND_S
        # and the hung one's breaker opens: no request reaches it during the pause
        paused_until = wait_until(lambda: Subscription.objects.get(pk=hung.pk).paused_until,
                                  lambda until: until is not None, 60, "the breaker open")
        hung_peer.answer(*[200] * (2 * WAVE))  # it recovers meanwhile
        tries_when_opened = len(hung_peer.requests)
        time.sleep(max(0.0, (paused_until - timezone.now()).total_seconds() - 1))
        assert len(hung_peer.requests) == tries_when_opened
        # and after the pause a probe goes out, succeeds, and every waiting delivery follows
        wait_until(lambda: len(latencies_s(hung, first + second)), lambda n: n == 2 * WAVE,
                   60, "every event delivered to the recovered receiver")
        healthy_requests, hung_requests = healthy_peer.requests, hung_peer.requests
    hung.refresh_from_db()
    assert (hung.enabled, hung.consecutive_failures, hung.paused_until) == (True, 0, None)
    # one delivery per event and subscription, each received once by the healthy receiver
    assert Delivery.objects.filter(event_id__in=first + second).count() == 4 * WAVE
    healthy_ids = [r.headers["webhook-id"] for r in healthy_requests]
    assert len(healthy_ids) == len(set(healthy_ids)) == 2 * WAVE
    assert len({r.headers["webhook-id"] for r in hung_requests}) == 2 * WAVE
