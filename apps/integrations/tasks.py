"""Integration tasks: webhook deliveries on the `webhooks` queue; feeds and schedules on `default`."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from apps.core.leases import leases_hold, leases_take
from apps.integrations.outbound import (
    DELIVERY_LEASE,
    deliveries_due_ids,
    delivery_attempt,
    delivery_claim,
)
from apps.integrations.sources import feeds_poll, recurring_run_due

# Short waits ride on a countdown; longer ones are picked up by `webhooks.dispatch_due`
# (a countdown beyond the broker's visibility timeout would be redelivered early).
COUNTDOWN_MAX_S = 300
STALE_AFTER = timedelta(minutes=5)  # 15 s connect+read timeouts: only dead workers' rows


@shared_task(name="webhooks.deliver", acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=60, time_limit=90)
def deliver(delivery_id: int) -> str | None:
    delivery = delivery_claim(delivery_id=delivery_id)
    if delivery is None:  # not due, already sent, or its subscription is disabled
        return None
    outcome = delivery_attempt(delivery=delivery)
    if outcome.retry_in_s is not None and outcome.retry_in_s <= COUNTDOWN_MAX_S:
        # The countdown message is this delivery's: dispatch_due leaves it alone meanwhile.
        leases_hold(kind=DELIVERY_LEASE, ids=[delivery_id],
                    seconds=outcome.retry_in_s + settings.RESEND_AFTER_S)
        deliver.apply_async(args=(delivery_id,), countdown=outcome.retry_in_s)
    return outcome.state


@shared_task(name="webhooks.dispatch_due")
def dispatch_due() -> int:
    """Beat: send each due delivery that holds no lease (none sent for it within
    AIGC_RESEND_AFTER_S), so a delivery waiting in the queue is not queued twice."""
    due = leases_take(kind=DELIVERY_LEASE, ids=deliveries_due_ids(stale_after=STALE_AFTER),
                      seconds=settings.RESEND_AFTER_S)
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


@shared_task(name="integrations.poll_feeds")
def poll_feeds() -> int:
    """Beat: poll every enabled feed; each new entry becomes a brief."""
    return feeds_poll()


@shared_task(name="integrations.run_recurring")
def run_recurring() -> int:
    """Beat: create the recurring briefs that have come due."""
    return len(recurring_run_due())
