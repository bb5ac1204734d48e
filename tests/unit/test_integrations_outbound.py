"""Outbound webhooks: fan-out, signed delivery with retries, the log, redelivery, auto-disable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.core.errors import DomainError
from apps.core.models import AuditEvent, OutboxEvent
from apps.integrations.models import Delivery, DeliveryState, Subscription
from apps.integrations.outbound import (
    RETRY_DELAYS_S,
    SUBSCRIPTION_BREAKER,
    deliveries_due_ids,
    delivery_attempt,
    delivery_claim,
    delivery_redeliver,
    event_matches,
    subscription_create,
    subscriptions_fanout,
)
from tests import factories
from tests.http_peers import HttpPeer

pytestmark = pytest.mark.django_db


def brief_events(ws) -> list[OutboxEvent]:
    factories.brief(ws, submit=True)
    return list(OutboxEvent.objects.filter(workspace=ws).order_by("id"))


def run(delivery_id: int, now=None):
    delivery = delivery_claim(delivery_id=delivery_id, now=now)
    assert delivery is not None
    return delivery_attempt(delivery=delivery, now=now)


def test_globs_choose_the_events():
    assert event_matches(["brief.*"], "brief.queued")
    assert event_matches(["job.failed", "review.*"], "review.approve")
    assert not event_matches(["brief.*"], "job.queued")
    assert event_matches(["*"], "publication.published")


def test_subscriptions_refuse_unknown_families_and_non_http_urls(ws):
    with pytest.raises(DomainError, match="'comments.\\*' matches no event"):
        subscription_create(workspace=ws, name="x", url="https://a.test/", event_types=["comments.*"])
    with pytest.raises(DomainError, match="http"):
        subscription_create(workspace=ws, name="x", url="ftp://a.test/", event_types=["brief.*"])


def test_fanout_creates_one_delivery_per_matching_subscription_once(ws):
    # given a brief.* subscription, a job.* one, a disabled one and another workspace's
    briefs, _ = subscription_create(workspace=ws, name="b", url="http://127.0.0.1:9/",
                                    event_types=["brief.*"])
    jobs, _ = subscription_create(workspace=ws, name="j", url="http://127.0.0.1:9/",
                                  event_types=["job.*"])
    off, _ = subscription_create(workspace=ws, name="off", url="http://127.0.0.1:9/",
                                 event_types=["*"])
    Subscription.objects.filter(pk=off.pk).update(enabled=False)
    subscription_create(workspace=factories.workspace(), name="o", url="http://127.0.0.1:9/",
                        event_types=["*"])
    events = brief_events(ws)  # brief.created, brief.queued, job.queued
    # when every event is fanned out, twice (a repeated relay)
    for event in events + events:
        subscriptions_fanout(event)
    # then each matching pair has exactly one delivery, with the versioned payload
    pairs = sorted(Delivery.objects.values_list("subscription__name", "event_type"))
    assert pairs == [("b", "brief.created"), ("b", "brief.queued"), ("j", "job.queued")]
    queued = Delivery.objects.get(event_type="brief.queued")
    event = events[1]
    assert queued.payload == {
        "id": f"evt_{event.pk}", "version": 1, "type": "brief.queued",
        "timestamp": event.created_at.isoformat(), "workspace_id": ws.pk,
        "subject": {"type": "contentbrief", "id": event.subject_id}, "data": event.payload,
    }


def test_a_receiver_that_fails_twice_then_accepts_gets_one_signed_message(ws):
    with HttpPeer(500, 503, default=200) as receiver:
        subscription, secret = subscription_create(
            workspace=ws, name="r", url=f"{receiver.url}/hooks", event_types=["brief.queued"])
        event = brief_events(ws)[1]
        [delivery_id] = subscriptions_fanout(event)
        # when the worker tries, and tries again each time the retry comes due
        outcomes = [run(delivery_id)]
        for _ in range(2):
            due = Delivery.objects.get(pk=delivery_id).next_attempt_at
            outcomes.append(run(delivery_id, now=due))
        requests = receiver.requests
    # then two retries were scheduled 5 and 30 s (+10% jitter) out, and the third try landed
    assert [o.state for o in outcomes] == ["pending", "pending", "succeeded"]
    assert RETRY_DELAYS_S[0] <= outcomes[0].retry_in_s <= RETRY_DELAYS_S[0] * 1.1
    assert RETRY_DELAYS_S[1] <= outcomes[1].retry_in_s <= RETRY_DELAYS_S[1] * 1.1
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("succeeded", 3, 200)
    assert [(a.number, a.response_status) for a in delivery.log.all()] == [
        (1, 500), (2, 503), (3, 200)]
    assert all(a.latency_ms >= 0 for a in delivery.log.all())
    # and every try carried the same id, verifiable with the reference library
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for request in requests:
        assert Webhook(secret).verify(request.body, request.headers) == delivery.payload
    subscription.refresh_from_db()
    assert (subscription.enabled, subscription.failing_since) == (True, None)


def test_a_delivery_not_yet_due_or_already_taken_is_not_claimed(ws):
    subscription_create(workspace=ws, name="r", url="http://127.0.0.1:9/", event_types=["*"])
    [first, *_] = [d for e in brief_events(ws) for d in subscriptions_fanout(e)]
    assert delivery_claim(delivery_id=first, now=timezone.now() - timedelta(minutes=1)) is None
    assert delivery_claim(delivery_id=first) is not None
    assert delivery_claim(delivery_id=first) is None  # sending: another worker has it


def test_persistent_failure_disables_the_subscription_with_a_notice(ws):
    # given a receiver that is down, and a delivery on its last allowed try
    subscription, _ = subscription_create(workspace=ws, name="down", url="http://127.0.0.1:9/",
                                          event_types=["brief.queued"])
    [delivery_id] = subscriptions_fanout(brief_events(ws)[1])
    Delivery.objects.filter(pk=delivery_id).update(attempts=len(RETRY_DELAYS_S))
    # when that try fails too
    outcome = run(delivery_id)
    # then the delivery failed, the subscription is off with its reason, and the dashboard is told
    subscription.refresh_from_db()
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (outcome.state, delivery.state, delivery.response_status) == ("failed", "failed", None)
    assert delivery.last_error.startswith("ConnectError")
    assert subscription.enabled is False
    assert subscription.disabled_reason.startswith(
        f"Every try to deliver event {delivery.event_id} failed for 24 hours; the last: ConnectError")
    assert OutboxEvent.objects.filter(type="subscription.disabled", subject_id=subscription.pk
                                      ).count() == 1
    assert AuditEvent.objects.filter(action="subscription.disabled").count() == 1


def test_410_gone_disables_at_once(ws):
    with HttpPeer(410) as receiver:
        subscription, _ = subscription_create(workspace=ws, name="gone", url=receiver.url,
                                              event_types=["brief.queued"])
        [delivery_id] = subscriptions_fanout(brief_events(ws)[1])
        assert run(delivery_id).state == "failed"
    subscription.refresh_from_db()
    assert subscription.enabled is False
    assert subscription.disabled_reason.startswith("The receiver answered 410 Gone")


def test_manual_redelivery_sends_a_finished_delivery_again_with_the_same_id(ws):
    with HttpPeer(default=200) as receiver:
        subscription_create(workspace=ws, name="r", url=receiver.url, event_types=["brief.queued"])
        [delivery_id] = subscriptions_fanout(brief_events(ws)[1])
        with pytest.raises(DomainError, match="still being delivered"):
            delivery_redeliver(delivery=Delivery.objects.get(pk=delivery_id))
        run(delivery_id)
        delivery_redeliver(delivery=Delivery.objects.get(pk=delivery_id))
        assert run(delivery_id).state == DeliveryState.SUCCEEDED
        ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert Delivery.objects.get(pk=delivery_id).log.count() == 2


def test_a_failing_subscription_has_one_try_in_flight_while_a_healthy_one_has_many(ws):
    # given a receiver that is down and one that answers, each with three deliveries
    down, _ = subscription_create(workspace=ws, name="down", url="http://127.0.0.1:9/",
                                  event_types=["*"])
    events = brief_events(ws)
    deliveries = [d for e in events for d in subscriptions_fanout(e)]
    first, second, third = deliveries
    # when the first try fails (the subscription is failing now)
    assert run(first).state == DeliveryState.PENDING
    # then one more of its deliveries may be in flight, never two at once
    assert delivery_claim(delivery_id=second) is not None
    assert delivery_claim(delivery_id=third) is None
    down.refresh_from_db()
    assert (down.consecutive_failures, down.paused_until) == (1, None)
    # while a healthy subscription's deliveries are all claimed at once
    subscription_create(workspace=ws, name="up", url="http://127.0.0.1:9/up",
                        event_types=["*"])
    healthy = [d for e in events for d in subscriptions_fanout(e)]
    assert len(healthy) == 3
    assert all(delivery_claim(delivery_id=d) is not None for d in healthy)


def test_the_breaker_pauses_a_subscription_then_one_probe_reopens_it(ws, settings):
    # given a receiver down for SUBSCRIPTION_BREAKER.threshold tries, then back
    with HttpPeer(*[503] * SUBSCRIPTION_BREAKER.threshold, default=200) as receiver:
        subscription, _ = subscription_create(workspace=ws, name="flaky", url=receiver.url,
                                              event_types=["*"])
        events = brief_events(ws)
        deliveries = [d for e in events for d in subscriptions_fanout(e)]
        # when its deliveries fail that many times in a row (each try comes due in turn)
        now = timezone.now()
        for _ in range(SUBSCRIPTION_BREAKER.threshold):
            due = Delivery.objects.get(pk=deliveries[0]).next_attempt_at
            now = max(now, due)
            assert run(deliveries[0], now=now).state == DeliveryState.PENDING
        # then the breaker is open: no delivery of it is claimed or due until the pause ends
        subscription.refresh_from_db()
        assert subscription.consecutive_failures == SUBSCRIPTION_BREAKER.threshold
        assert subscription.paused_until == now + SUBSCRIPTION_BREAKER.pause
        assert all(delivery_claim(delivery_id=d, now=now) is None for d in deliveries)
        assert deliveries_due_ids(stale_after=timedelta(minutes=5)) == []
        paused = OutboxEvent.objects.get(type="subscription.paused")
        assert paused.payload["until"] == subscription.paused_until.isoformat()
        assert paused.payload["reason"] == (
            f"{SUBSCRIPTION_BREAKER.threshold} failed tries in a row; last: HTTP 503")
        # when the pause is over, one probe goes out and succeeds
        after = subscription.paused_until + timedelta(seconds=1)
        assert run(deliveries[1], now=after).state == DeliveryState.SUCCEEDED
        assert len(receiver.requests) == SUBSCRIPTION_BREAKER.threshold + 1
    # then the breaker is closed, resumed is told, and the others are claimed again
    subscription.refresh_from_db()
    assert (subscription.consecutive_failures, subscription.paused_until,
            subscription.failing_since) == (0, None, None)
    assert OutboxEvent.objects.filter(type="subscription.resumed").count() == 1
    assert AuditEvent.objects.filter(action__in=("subscription.paused", "subscription.resumed")
                                     ).count() == 2
    assert delivery_claim(delivery_id=deliveries[2], now=after) is not None
