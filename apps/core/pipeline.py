"""Which task an event sends once its transaction commits.

Core holds the registry and sends; the workflow fills it from its pipeline table
(apps/workflow/pipeline.py) in AppConfig.ready, so core never imports the apps above it.
Tasks are enqueued by name so the web tier never imports the compute side (torch,
transformers). Every task is idempotent, so a relay that runs twice (the reconciler after a
crash) does no harm.
"""

from __future__ import annotations

from typing import Any

from celery import current_app

NEXT_STEP: dict[str, str] = {}
# Steps whose effect is keyed by the event that caused them (a notification row per event
# and user), so a redelivered message creates nothing twice: they also get the event's id.
KEYED_BY_EVENT: set[str] = set()


def next_step_register(event_type: str, task_name: str, *, keyed: bool = False) -> None:
    """After an `event_type` event commits, send `task_name` with the event's subject id (and
    the event's id when `keyed`)."""
    NEXT_STEP[event_type] = task_name
    if keyed:
        KEYED_BY_EVENT.add(task_name)


def next_step(event_type: str, subject_id: int, payload: dict[str, Any] | None = None,
              event_id: int | None = None) -> tuple[str, list[int | None], dict[str, Any]] | None:
    """The task an event sends, its arguments and options: an event that names a queue (a
    queued job whose model profile has its own worker pool) goes there instead of the
    task's default queue."""
    task_name = NEXT_STEP.get(event_type)
    if task_name is None:
        return None
    queue = (payload or {}).get("queue")
    args: list[int | None] = [subject_id, event_id] if task_name in KEYED_BY_EVENT else [subject_id]
    return task_name, args, ({"queue": queue} if queue else {})


def dispatch(event_type: str, subject_id: int, payload: dict[str, Any] | None = None,
             event_id: int | None = None) -> str | None:
    """Send the event's next step, if it has one."""
    step = next_step(event_type, subject_id, payload, event_id)
    if step is None:
        return None
    task_name, args, options = step
    current_app.send_task(task_name, args=args, **options)
    return task_name
