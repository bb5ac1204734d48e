"""Publishing tasks (worker-io, `publishing` queue): thin around apps.publishing.outcomes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from apps.core.leases import leases_take
from apps.publishing.feedback import engagement_pull
from apps.publishing.outcomes import (
    publication_attempt,
    publication_push,
    publications_requeue_stale,
    retry_delay_s,
)
from apps.publishing.services import publication_claim, publications_due_ids

# A webhook waits at most 5 s + 30 s (connect + read); a file write is instant. The soft
# limit leaves the attempt time to record a transient error before the hard one (90 of 120 s).
PUBLISH_HARD_LIMIT_S = settings.PUBLISH_TIME_LIMIT_S
PUBLISH_SOFT_LIMIT_S = PUBLISH_HARD_LIMIT_S * 3 // 4
# Above the hard limit (settings refuse less): only dead workers' rows are re-sent.
STALE_AFTER = timedelta(seconds=settings.PUBLISH_STALE_AFTER_S)
PUBLICATION_LEASE = "publication"


@shared_task(bind=True, name="publishing.publish", acks_late=True, reject_on_worker_lost=True,
             soft_time_limit=PUBLISH_SOFT_LIMIT_S, time_limit=PUBLISH_HARD_LIMIT_S)
def publish(self: Task[Any, Any], publication_id: int) -> str | None:
    worker = self.request.hostname or "local"
    publication = publication_claim(publication_id=publication_id, worker_id=worker)
    if publication is None:  # not due, or another delivery has it
        return None
    outcome = publication_attempt(publication=publication, actor_label=worker)
    if outcome.redispatch_in_s is not None:
        publish.apply_async(args=(publication_id,), countdown=outcome.redispatch_in_s)
    return outcome.state


UPDATE_MAX_RETRIES = 4


@shared_task(bind=True, name="publishing.update", acks_late=True, reject_on_worker_lost=True,
             max_retries=UPDATE_MAX_RETRIES, soft_time_limit=PUBLISH_SOFT_LIMIT_S,
             time_limit=PUBLISH_HARD_LIMIT_S)
def update(self: Task[Any, Any], publication_id: int) -> str:
    """Push a published publication's newer revision to its post (idempotent)."""
    transient = publication_push(publication_id=publication_id)
    if transient is None:
        return "done"
    if self.request.retries >= UPDATE_MAX_RETRIES:
        return "gave up"  # its last error stays on the publication for the editor
    raise self.retry(countdown=retry_delay_s(attempt=self.request.retries + 1,
                                             retry_after_s=transient.retry_after))


@shared_task(name="publishing.dispatch_due")
def dispatch_due() -> int:
    """Beat: send every due publication to a worker (retries, scheduled posts, lost ones),
    at most once per AIGC_RESEND_AFTER_S: one still waiting in the queue is not sent again
    every run (a lease, apps/core/leases.py)."""
    publications_requeue_stale(older_than=STALE_AFTER)
    due = leases_take(kind=PUBLICATION_LEASE, ids=publications_due_ids(),
                      seconds=settings.RESEND_AFTER_S)
    for publication_id in due:
        publish.delay(publication_id)
    return len(due)


@shared_task(name="publishing.pull_engagement", soft_time_limit=600, time_limit=660)
def pull_engagement() -> int:
    """Beat: favourites, boosts, replies and comments of recent posts."""
    return engagement_pull()
