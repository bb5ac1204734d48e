"""Which task runs next after which event: the pipeline's wiring in one table.

Tasks are enqueued by name so the web tier never imports the compute side
(torch, transformers). Every task is idempotent, so a relay that runs twice
(the sweeper after a crash) does no harm.
"""

from __future__ import annotations

from celery import current_app

NEXT_STEP: dict[str, str] = {
    "job.queued": "generation.run_job",
    "job.evaluating": "evaluation.evaluate_job",
    "draft.edited": "evaluation.evaluate_revision",
    "publication.scheduled": "publishing.publish",
    "publication.updated": "publishing.update",
    "brief.in_review": "reviews.review_arrived",
    "brief.failed": "notifications.brief_failed",
    "publication.failed": "notifications.publication_failed",
}


# Steps whose effect is keyed by the event that caused them (a notification row per event
# and user), so a redelivered message creates nothing twice: they also get the event's id.
KEYED_BY_EVENT = {"notifications.brief_failed", "notifications.publication_failed"}


def next_step(event_type: str, subject_id: int, payload: dict | None = None,
              event_id: int | None = None) -> tuple[str, list[int | None], dict[str, str]] | None:
    """The task an event sends, its arguments and options: an event that names a queue (a
    queued job whose model profile has its own worker pool) goes there instead of the
    task's default queue."""
    task_name = NEXT_STEP.get(event_type)
    if task_name is None:
        return None
    queue = (payload or {}).get("queue")
    args = [subject_id, event_id] if task_name in KEYED_BY_EVENT else [subject_id]
    return task_name, args, ({"queue": queue} if queue else {})


def dispatch(event_type: str, subject_id: int, payload: dict | None = None,
             event_id: int | None = None) -> str | None:
    """Send the event's next step, if it has one."""
    step = next_step(event_type, subject_id, payload, event_id)
    if step is None:
        return None
    task_name, args, options = step
    current_app.send_task(task_name, args=args, **options)
    return task_name
