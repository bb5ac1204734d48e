"""What one publishing attempt leads to: published, due again after a backoff, or failed.

Not one transaction: the connector talks to the network between two short
ones (the claim before, the recording after), so no row lock is held while a
slow target answers.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.core.errors import IllegalTransition
from apps.publishing.connectors import (
    CredentialsRejected,
    PermanentPublishError,
    PublishError,
    TransientPublishError,
    WithdrawableConnector,
    connector_for,
)
from apps.publishing.connectors.http import attempt_deadline
from apps.publishing.models import Publication, PublicationState
from apps.publishing.selectors import publish_item_for
from apps.publishing.services import (
    publication_fail,
    publication_retry_later,
    publication_succeed,
    publication_update_record,
    publication_withdrawn,
)
from apps.publishing.targets import (
    target_credentials_accepted,
    target_credentials_rejected,
    target_failure_record,
    target_success_record,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Waits of 15-30 s, 30-60 s, 1-2 min and 2-4 min between the five attempts: a
# target down for a deploy (minutes) is caught; one down for longer fails
# after 4-8 minutes with its last error, and the editor retries by hand.
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 30 * 60.0
RETRY_AFTER_CAP_S = 6 * 3600.0  # honour a target's Retry-After, but not for days
# A countdown longer than the Redis visibility timeout (~21 min) is delivered
# twice; longer waits are left to the `publishing.dispatch_due` beat task.
REDISPATCH_MAX_S = 10 * 60.0


@dataclass(frozen=True)
class AttemptOutcome:
    state: str  # the publication's state afterwards
    error: str = ""
    redispatch_in_s: float | None = None  # enqueue the next attempt this much later


def retry_delay_s(*, attempt: int, retry_after_s: float | None,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds until attempt `attempt + 1`: the target's Retry-After, else exponential backoff.

    Equal jitter (half fixed, half random) spreads the retries of many
    publications to one recovering target without ever retrying at once.
    """
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), RETRY_AFTER_CAP_S)
    ceiling: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return ceiling / 2 + rand() * ceiling / 2


def publication_attempt(*, publication: Publication, actor_label: str) -> AttemptOutcome:
    """Publish a claimed (`publishing`) publication once and record what happened.

    publishing → published; → scheduled again after a transient error while
    fewer than MAX_ATTEMPTS were made; → failed with the target's own message
    after a permanent error or the last attempt. Idempotent towards the target:
    connectors deduplicate by the publication's idempotency key.

    The credentials are checked right before each post (`validate`); refused
    ones pause the target for the editor to replace them. Transient failures
    count towards the target's circuit breaker.
    """
    try:
        # Ends before the task's soft limit (3/4 of the hard one), so also on the thread pool,
        # which enforces neither, an attempt ends well inside the stale threshold.
        with attempt_deadline(settings.PUBLISH_TIME_LIMIT_S * 2 / 3):
            connector = connector_for(publication.target)
            connector.validate()
            target_credentials_accepted(target_id=publication.target_id)
            result = connector.publish(publish_item_for(publication))
    except TransientPublishError as exc:
        target_failure_record(target_id=publication.target_id, error=exc.message)
        return _transient(publication, exc.message, exc.retry_after, actor_label)
    except CredentialsRejected as exc:
        target_credentials_rejected(target_id=publication.target_id, reason=exc.message)
        message = f"{exc.message} The target is paused until its credentials are replaced."
        publication_fail(publication=publication, error=message, actor_label=actor_label)
        return AttemptOutcome(state=PublicationState.FAILED, error=message)
    except PermanentPublishError as exc:
        publication_fail(publication=publication, error=exc.message, actor_label=actor_label)
        return AttemptOutcome(state=PublicationState.FAILED, error=exc.message)
    except Exception as exc:  # a bug must not strand the row in `publishing`
        logger.exception("publishing publication %s failed unexpectedly", publication.pk)
        return _transient(publication, f"Unexpected error: {type(exc).__name__}: {exc}", None,
                          actor_label)
    publication_succeed(publication=publication, external_id=result.external_id,
                        external_url=result.external_url, scheduled_for=result.scheduled_for,
                        actor_label=actor_label)
    target_success_record(target_id=publication.target_id)
    return AttemptOutcome(state=PublicationState.PUBLISHED)


def _transient(publication: Publication, error: str, retry_after_s: float | None,
               actor_label: str) -> AttemptOutcome:
    if publication.attempts >= MAX_ATTEMPTS:
        message = f"Gave up after {publication.attempts} attempts. Last error: {error}"
        publication_fail(publication=publication, error=message, actor_label=actor_label)
        return AttemptOutcome(state=PublicationState.FAILED, error=message)
    delay = retry_delay_s(attempt=publication.attempts, retry_after_s=retry_after_s)
    publication_retry_later(publication=publication, error=error,
                            retry_at=timezone.now() + timedelta(seconds=delay),
                            actor_label=actor_label)
    return AttemptOutcome(state=PublicationState.SCHEDULED, error=error,
                          redispatch_in_s=delay if delay <= REDISPATCH_MAX_S else None)


def publications_requeue_stale(*, older_than: timedelta) -> list[int]:
    """Publications stuck in `publishing` whose worker died: due again now, or failed.

    A redelivered task cannot claim them (they are no longer `scheduled`), so
    this is how they come back; `older_than` must exceed the publish task's
    hard time limit so a slow but live attempt is never doubled.
    """
    cutoff = timezone.now() - older_than
    stale = Publication.objects.filter(state=PublicationState.PUBLISHING, updated_at__lt=cutoff)
    requeued = []
    for publication in stale.order_by("id")[:200]:
        error = "The worker stopped while publishing."
        try:
            if publication.attempts >= MAX_ATTEMPTS:
                publication_fail(publication=publication, actor_label="sweeper",
                                 error=f"Gave up after {publication.attempts} attempts. {error}")
                continue
            publication_retry_later(publication=publication, error=error,
                                    retry_at=timezone.now(), actor_label="sweeper")
        except IllegalTransition:  # its worker finished after all
            continue
        requeued.append(publication.pk)
    return requeued


def publication_withdraw(*, publication: Publication, actor: Any = None) -> str:
    """Take a published post down from its target (trash, delete), then published →
    withdrawn. Returns "" or the target's message; a failure leaves it published
    (the editor asks again: taking down twice is harmless, a gone post is not an error)."""
    if publication.state != PublicationState.PUBLISHED:
        return f"Only a published publication can be withdrawn (this one is {publication.state})."
    try:
        connector = connector_for(publication.target)
        if not isinstance(connector, WithdrawableConnector):
            return f"Posts on {publication.target.get_kind_display()} targets cannot be withdrawn."
        connector.unpublish(publication.external_id)
    except PublishError as exc:
        return exc.message
    publication_withdrawn(publication=publication, actor=actor)
    return ""


def publication_push(*, publication_id: int) -> TransientPublishError | None:
    """Push a published publication's current revision to its post in place.

    Returns a transient error for the task to retry after; a permanent one is
    recorded on the publication for the editor. Repeating a push is harmless.
    """
    publication = (Publication.objects.select_related("target", "revision", "brief")
                   .filter(pk=publication_id, state=PublicationState.PUBLISHED).first())
    if publication is None:  # withdrawn since: nothing left to update
        return None
    try:
        result = connector_for(publication.target).update(publication.external_id,
                                                          publish_item_for(publication))
    except TransientPublishError as exc:
        publication_update_record(publication_id=publication_id, error=exc.message)
        return exc
    except PublishError as exc:
        publication_update_record(publication_id=publication_id,
                                  error=f"Updating the post failed: {exc.message}")
        return None
    publication_update_record(publication_id=publication_id, external_id=result.external_id,
                              external_url=result.external_url)
    return None
