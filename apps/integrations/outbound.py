"""Outbound webhooks: fan events out to subscriptions, deliver them signed, retry, give up.

A delivery is retried on any non-2xx answer or transport error at growing
intervals (RETRY_DELAYS_S) for about 24 hours. A subscription whose delivery
exhausts its retries with no success meanwhile is disabled, with the reason
shown in the admin and a `subscription.disabled` event for the dashboard; so is
one whose URL the egress policy refuses (workers/egress.py), at once.

A failing subscriber never holds up the others on the shared `webhooks` queue: once a
try of one of its deliveries failed, the subscription has at most one try in flight (its
other deliveries wait, pending, and are sent again later), and its circuit breaker
(apps/core/breaker.py) pauses all of its deliveries after AIGC_WEBHOOK_BREAKER_FAILURES
failed tries in a row, for AIGC_WEBHOOK_BREAKER_PAUSE_S. The first success after
failures sends the subscription's waiting deliveries at once.
"""

from __future__ import annotations

import fnmatch
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core import signing
from apps.core.breaker import BREAKER_FIELDS, Breaker
from apps.core.crypto import secret_decrypt, secret_encrypt
from apps.core.egress import egress_policy, egress_url_error
from apps.core.errors import DomainError
from apps.core.leases import leases_hold
from apps.core.models import OutboxEvent, Workspace
from apps.core.services import Actor, audit_record, event_emit
from apps.integrations.models import Delivery, DeliveryAttempt, DeliveryState, Subscription
from workers.egress import EgressRefused, egress_client

PAYLOAD_VERSION = 1
EVENT_FAMILIES = ("brief", "job", "draft", "review", "publication", "target", "subscription")
# Seconds to wait after try n (1-based); 11 tries spread over 23.7 hours.
RETRY_DELAYS_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)
TIMEOUT = httpx.Timeout(settings.WEBHOOK_TIMEOUT_S, connect=min(5.0, settings.WEBHOOK_TIMEOUT_S))
SUBSCRIPTION_BREAKER = Breaker(threshold=settings.WEBHOOK_BREAKER_FAILURES,
                               pause=timedelta(seconds=settings.WEBHOOK_BREAKER_PAUSE_S))
DELIVER_TASK = "webhooks.deliver"
DELIVERY_LEASE = "delivery"


@dataclass(frozen=True)
class DeliveryOutcome:
    state: str
    retry_in_s: float | None = None


def event_types_validate(patterns: Iterable[str]) -> list[str]:
    patterns = [p.strip() for p in patterns if p.strip()]
    if not patterns:
        raise DomainError("Subscribe to at least one event type, e.g. 'brief.*'.")
    for pattern in patterns:
        family = pattern.split(".", 1)[0]
        if pattern != "*" and family not in EVENT_FAMILIES:
            raise DomainError(f"'{pattern}' matches no event; event types start with "
                              f"{', '.join(f + '.' for f in EVENT_FAMILIES)}")
    return patterns


def event_matches(patterns: Iterable[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def event_payload(event: OutboxEvent, version: int = PAYLOAD_VERSION) -> dict[str, Any]:
    """Version 1 of the body we send (documented in docs/integrations.md and the schema)."""
    return {
        "id": f"evt_{event.pk}",
        "version": version,
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "workspace_id": event.workspace_id,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "data": event.payload,
    }


@transaction.atomic
def subscription_create(*, workspace: Workspace, name: str, url: str, event_types: list[str],
                        actor: Actor = None) -> tuple[Subscription, str]:
    """A subscription with a generated secret, returned once in plaintext."""
    if not url.startswith(("http://", "https://")):
        raise DomainError("A subscription needs an http(s) URL.")
    if refusal := egress_url_error(url):
        raise DomainError(f"The workers may not send to this URL: {refusal}")
    secret = signing.secret_generate()
    subscription = Subscription.objects.create(
        workspace=workspace, name=name, url=url, event_types=event_types_validate(event_types),
        secret_encrypted=secret_encrypt(secret),
    )
    audit_record(workspace_id=workspace.pk, action="subscription.created", subject=subscription,
                 actor=actor, after={"url": url, "event_types": subscription.event_types})
    return subscription, secret


@transaction.atomic
def subscription_enable(*, subscription: Subscription, actor: Actor = None) -> Subscription:
    subscription.enabled, subscription.failing_since, subscription.disabled_reason = True, None, ""
    SUBSCRIPTION_BREAKER.success(subscription)  # an admin's enable starts afresh
    subscription.save(update_fields=["enabled", "failing_since", "disabled_reason", *BREAKER_FIELDS,
                                     "updated_at"])
    audit_record(workspace_id=subscription.workspace_id, action="subscription.enabled",
                 subject=subscription, actor=actor)
    return subscription


def subscriptions_fanout(event: OutboxEvent) -> list[int]:
    """One delivery per matching enabled subscription, sent to the `webhooks` queue."""
    return subscriptions_fanout_many([event])


def subscriptions_fanout_many(events: Sequence[OutboxEvent]) -> list[int]:
    """One delivery per event and matching enabled subscription, sent to the `webhooks`
    queue; the subscriptions are read once for all the events.

    Called by the outbox relay; unique (subscription, event) makes a second
    relay of the same event create and send nothing.
    """
    subscriptions: dict[int, list[Subscription]] = {}
    for subscription in Subscription.objects.filter(
            workspace_id__in={e.workspace_id for e in events}, enabled=True):
        subscriptions.setdefault(subscription.workspace_id, []).append(subscription)
    wanted = [
        Delivery(subscription=subscription, event_id=event.pk, event_type=event.type,
                 next_attempt_at=timezone.now(),
                 payload=event_payload(event, subscription.payload_version))
        for event in events
        for subscription in subscriptions.get(event.workspace_id, ())
        if event_matches(subscription.event_types, event.type)]
    if not wanted:
        return []
    # One insert for all; the rows a relay already wrote are skipped by the constraint, and
    # the new ones are known by the message ids made here (ignore_conflicts returns no pks).
    Delivery.objects.bulk_create(wanted, ignore_conflicts=True)
    created = list(Delivery.objects.filter(message_id__in=[d.message_id for d in wanted])
                   .order_by("id").values_list("id", flat=True))
    if created:
        transaction.on_commit(lambda: deliveries_send(created))
    return created


def deliveries_send(delivery_ids: list[int]) -> None:
    """Send each delivery's task and hold its lease, so that `webhooks.dispatch_due` does
    not send it again while the message waits in the queue (one message per delivery)."""
    leases_hold(kind=DELIVERY_LEASE, ids=delivery_ids, seconds=settings.RESEND_AFTER_S)
    for delivery_id in delivery_ids:
        current_app.send_task(DELIVER_TASK, args=[delivery_id])


@transaction.atomic
def delivery_claim(*, delivery_id: int, now: datetime | None = None) -> Delivery | None:
    """pending and due → sending for one worker; None when not due, taken or disabled, when
    its subscription's breaker is open, or when its subscription is failing and already has
    a try in flight (a failing receiver holds one worker at most, never the pool)."""
    now = now or timezone.now()
    subscription = (Subscription.objects.filter(deliveries=delivery_id, enabled=True)
                    .values("pk", "consecutive_failures", "paused_until").first())
    if subscription is None:
        return None
    if subscription["paused_until"] is not None and subscription["paused_until"] > now:
        return None  # its breaker is open: dispatch_due sends it once the pause is over
    if subscription["consecutive_failures"]:
        # Locked so that two workers do not both see no try in flight.
        Subscription.objects.select_for_update().filter(pk=subscription["pk"]).first()
        if Delivery.objects.filter(subscription_id=subscription["pk"],
                                   state=DeliveryState.SENDING).exists():
            return None
    claimed = Delivery.objects.filter(
        pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now,
    ).update(state=DeliveryState.SENDING, attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return None
    return Delivery.objects.select_related("subscription").get(pk=delivery_id)


def delivery_attempt(*, delivery: Delivery, now: datetime | None = None) -> DeliveryOutcome:
    """POST a claimed delivery once, log the try, and decide: done, retry later, or give up."""
    subscription = delivery.subscription
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"content-type": "application/json", "user-agent": "aigc-platform-webhooks/1",
               **signing.signed_headers(secret=secret_decrypt(subscription.secret_encrypted),
                                        msg_id=f"msg_{delivery.message_id.hex}", body=body)}
    started = time.monotonic()
    status, error, refused = None, "", False
    try:
        with egress_client(egress_policy(), timeout=TIMEOUT) as client:
            status = client.post(subscription.url, content=body, headers=headers).status_code
    except EgressRefused as exc:
        error, refused = f"The workers may not send to this URL: {exc}"[:500], True
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    latency_ms = round((time.monotonic() - started) * 1000)
    return _delivery_record(delivery, status=status, error=error, latency_ms=latency_ms,
                            now=now or timezone.now(), refused=refused)


@transaction.atomic
def _delivery_record(delivery: Delivery, *, status: int | None, error: str, latency_ms: int,
                     now: datetime, refused: bool = False) -> DeliveryOutcome:
    subscription = Subscription.objects.select_for_update().get(pk=delivery.subscription_id)
    DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts,
                                   response_status=status, latency_ms=latency_ms, error=error)
    fields = {"response_status": status, "latency_ms": latency_ms, "updated_at": now}
    if status is not None and 200 <= status < 300:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=DeliveryState.SUCCEEDED, delivered_at=now, last_error="", **fields)
        _subscription_succeeded(subscription, now)
        return DeliveryOutcome(DeliveryState.SUCCEEDED)
    error = error or f"HTTP {status}"
    _subscription_failed(subscription, error, now)
    if status == 410:  # Gone: the receiver says this URL is retired for good
        _subscription_disable(subscription, f"The receiver answered 410 Gone on {now:%Y-%m-%d}.")
    elif refused:  # every event would be refused the same way: no retries, no more deliveries
        _subscription_disable(subscription, error)
    elif delivery.attempts > len(RETRY_DELAYS_S):
        _subscription_disable(subscription, f"Every try to deliver event {delivery.event_id} "
                              f"failed for 24 hours; the last: {error}.")
    else:
        delay = RETRY_DELAYS_S[delivery.attempts - 1] * random.uniform(1.0, 1.1)  # jitter
        Delivery.objects.filter(pk=delivery.pk).update(
            state=DeliveryState.PENDING, next_attempt_at=now + timedelta(seconds=delay),
            last_error=error, **fields)
        return DeliveryOutcome(DeliveryState.PENDING, retry_in_s=delay)
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, last_error=error,
                                                   **fields)
    return DeliveryOutcome(DeliveryState.FAILED)


def _subscription_failed(subscription: Subscription, error: str, now: datetime) -> None:
    """Count a failed try against the subscription's breaker (locked by the caller)."""
    opened = SUBSCRIPTION_BREAKER.failure(subscription, now=now)
    subscription.failing_since = subscription.failing_since or now
    subscription.save(update_fields=[*BREAKER_FIELDS, "failing_since", "updated_at"])
    if opened:
        assert subscription.paused_until is not None
        reason = f"{subscription.consecutive_failures} failed tries in a row; last: {error}"[:500]
        audit_record(workspace_id=subscription.workspace_id, action="subscription.paused",
                     subject=subscription, actor_label="webhooks", after={"reason": reason})
        event_emit(workspace_id=subscription.workspace_id, type="subscription.paused",
                   subject=subscription, payload={
                       "subscription_id": subscription.pk, "name": subscription.name,
                       "reason": reason, "until": subscription.paused_until.isoformat()})


def _subscription_succeeded(subscription: Subscription, now: datetime) -> None:
    """Close the breaker; after failures, send the deliveries that waited meanwhile."""
    if not subscription.consecutive_failures and subscription.paused_until is None:
        if subscription.failing_since is not None:
            Subscription.objects.filter(pk=subscription.pk).update(failing_since=None)
        return
    resumed = SUBSCRIPTION_BREAKER.success(subscription)
    subscription.failing_since = None
    subscription.save(update_fields=[*BREAKER_FIELDS, "failing_since", "updated_at"])
    if resumed:
        audit_record(workspace_id=subscription.workspace_id, action="subscription.resumed",
                     subject=subscription, actor_label="webhooks")
        event_emit(workspace_id=subscription.workspace_id, type="subscription.resumed",
                   subject=subscription,
                   payload={"subscription_id": subscription.pk, "name": subscription.name})
    waiting = list(Delivery.objects.filter(
        subscription_id=subscription.pk, state=DeliveryState.PENDING, next_attempt_at__lte=now,
    ).values_list("id", flat=True)[:500])
    if waiting:
        transaction.on_commit(lambda: deliveries_send(waiting))


def _subscription_disable(subscription: Subscription, reason: str) -> None:
    updated = Subscription.objects.filter(pk=subscription.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:500], updated_at=timezone.now())
    if updated:
        audit_record(workspace_id=subscription.workspace_id, action="subscription.disabled",
                     subject=subscription, actor_label="webhooks", after={"reason": reason})
        event_emit(workspace_id=subscription.workspace_id, type="subscription.disabled",
                   subject=subscription, payload={"subscription_id": subscription.pk,
                                                  "name": subscription.name, "reason": reason})


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, actor: Actor = None) -> Delivery:
    """Send a finished delivery again now (same webhook-id, so receivers can deduplicate)."""
    updated = Delivery.objects.filter(
        pk=delivery.pk, state__in=(DeliveryState.SUCCEEDED, DeliveryState.FAILED)
    ).update(state=DeliveryState.PENDING, next_attempt_at=timezone.now())
    if not updated:
        raise DomainError(f"Delivery {delivery.pk} is still being delivered.")
    audit_record(workspace_id=delivery.subscription.workspace_id, action="delivery.redelivered",
                 subject=delivery, actor=actor)
    transaction.on_commit(lambda: deliveries_send([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


def deliveries_due_ids(*, stale_after: timedelta, limit: int = 500) -> list[int]:
    """Due deliveries, after returning to pending those a dead worker left in `sending`."""
    now = timezone.now()
    Delivery.objects.filter(state=DeliveryState.SENDING, updated_at__lt=now - stale_after).update(
        state=DeliveryState.PENDING, next_attempt_at=now)
    return list(Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now,
                                        subscription__enabled=True)
                .exclude(subscription__paused_until__gt=now)  # their breaker is open
                .order_by("next_attempt_at").values_list("id", flat=True)[:limit])
