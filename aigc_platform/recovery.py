"""The reconciler: every work item has a live message or lease, or is sent again.

What each state's owner is, and how long a lost message takes to come back, is in README
("Recovery"). Re-sending is safe because every claim is an atomic state update. It spans the
apps (core's relay, generation's jobs and runs, datasets' builds), so it lives in the project
package above them; beat runs it as `platform.reconcile`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from aigc_platform.queues import Queue
from apps.core.broker import messages_waiting
from apps.core.relay import outbox_relay_pending
from apps.datasets.services import dataset_versions_requeue_stale
from apps.generation.profile_checks import profile_checks_expire
from apps.generation.recovery import jobs_evaluating_resend, jobs_queued_resend
from apps.generation.services import generation_queues, jobs_requeue_stale
from apps.generation.suite import suite_runs_expire
from apps.generation.training import training_runs_requeue_stale


def reconcile() -> dict[str, int]:
    """Relay events a crash or broker outage left unrelayed; requeue running jobs whose
    worker stopped its heartbeat, training runs (they resume from their last checkpoint)
    and dataset builds whose worker stopped reporting; send again the queued and evaluating
    jobs' lost messages; fail the profile checks and the model versions' evaluation suite
    runs no worker will finish."""
    resend_after = timedelta(seconds=settings.RESEND_AFTER_S)
    relayed = outbox_relay_pending()
    requeued = jobs_requeue_stale(older_than=timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_S))
    training = training_runs_requeue_stale()
    builds = dataset_versions_requeue_stale()
    # Counted after the requeued jobs' messages went out with their relay.
    waiting = messages_waiting([*generation_queues(), Queue.EVALUATION.value])
    evaluation_waiting = waiting.pop(Queue.EVALUATION.value)
    queued = jobs_queued_resend(waiting=waiting, older_than=resend_after)
    evaluating = jobs_evaluating_resend(waiting=evaluation_waiting, older_than=resend_after)
    return {"events_relayed": relayed, "running_requeued": len(requeued),
            "training_requeued": len(training), "builds_requeued": len(builds),
            "queued_resent": len(queued), "evaluating_resent": len(evaluating),
            "checks_expired": profile_checks_expire(), "suites_failed": suite_runs_expire()}
