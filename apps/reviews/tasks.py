"""Review assignment and SLA tasks: thin wrappers over the review services."""

from celery import shared_task

from apps.reviews.services import review_arrived, reviews_sla_sweep


@shared_task(name="reviews.review_arrived", acks_late=True)
def brief_in_review(brief_id: int) -> bool:
    """After `brief.in_review`: assign a reviewer in turn where the policy asks (idempotent)."""
    return review_arrived(brief_id=brief_id) is not None


@shared_task(name="reviews.sweep_slas")
def sweep_slas() -> dict[str, int]:
    """From beat: reminders, escalations, and in-turn assignments missed by the event."""
    return reviews_sla_sweep()
