"""Who hears of what the review workflow records: reactions to its events, run in the
event's transaction (`reaction_register`) and keyed by the event, so an event handled twice
notifies once. Failures are notified by tasks after commit (apps/workflow/pipeline.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from apps.accounts.models import Membership, Role
from apps.briefs.models import ContentBrief
from apps.core.models import OutboxEvent
from apps.core.services import Actor, reaction_register
from apps.evaluation.models import GateDecision, GateOutcome
from apps.notifications.models import Kind
from apps.notifications.services import notify
from apps.reviews.models import ApprovalPolicy, ReviewAssignment


def _notify(event: OutboxEvent, user_ids: Sequence[int | None], kind: str,
            message: Callable[[str], str], exclude_id: int | None = None) -> None:
    """Notify `user_ids` of the event's brief; `message` gets the brief's title."""
    brief = ContentBrief.objects.get(pk=event.payload["brief_id"])
    notify(user_ids=user_ids, workspace_id=event.workspace_id, kind=kind, brief=brief,
           exclude_id=exclude_id, event_id=event.pk, message=message(brief.title))


def on_approval(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    data = event.payload
    progress = ""
    if not data.get("complete", True):
        missing = data.get("group_missing")
        progress = (f" ({data['approvals']} of {data['required']} approvals"
                    + (f"; one from {missing} still needed)" if missing else ")"))
    _notify(event, data["audience"], Kind.DECISION,
            lambda title: f"{data['by']} approved “{title}”{progress}.", exclude_id=data["by_id"])


def on_rejection(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    data = event.payload
    reason = f": {data['comment']}" if data.get("comment") else "."
    _notify(event, data["audience"], Kind.DECISION,
            lambda title: f"{data['by']} rejected “{title}”{reason}", exclude_id=data["by_id"])


def on_changes_requested(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    data = event.payload
    _notify(event, data["audience"], Kind.DECISION,
            lambda title: f"{data['by']} requested changes to “{title}”.",
            exclude_id=data["by_id"])


def on_comment(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    data = event.payload
    _notify(event, data["mentioned"], Kind.MENTION,
            lambda title: f"{data['by']} mentioned you on “{title}”.", exclude_id=data["by_id"])
    if data["reply_to"] is not None and data["reply_to"] not in data["mentioned"]:
        _notify(event, [data["reply_to"]], Kind.MENTION,
                lambda title: f"{data['by']} replied to you on “{title}”.",
                exclude_id=data["by_id"])


def on_assignment(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    data = event.payload
    _notify(event, [data["reviewer_id"]], Kind.ASSIGNMENT,
            lambda title: f"“{title}” is yours to review, {data['reviewer']}.",
            exclude_id=data.get("by_id"))


def on_review_arrived(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """A brief entered review: its reviewer hears of it, or, with nobody assigned, the
    workspace's reviewers (its admins where it has none). Not when round robin is about to
    assign it (that assignment is notified), nor when the gate approves it at once."""
    brief = ContentBrief.objects.get(pk=event.payload["brief_id"])
    if GateDecision.objects.filter(job_id=event.payload.get("job_id"),
                                   decision=GateOutcome.AUTO_APPROVE).exists():
        return
    assignee = ReviewAssignment.objects.filter(brief=brief).values_list("reviewer_id", flat=True)
    if assignee:
        _notify(event, list(assignee), Kind.ASSIGNMENT,
                lambda title: f"“{title}” is in your review queue.")
        return
    if ApprovalPolicy.objects.filter(content_type_id=brief.content_type_id,
                                     round_robin=True).exists():
        return
    members = Membership.objects.filter(workspace_id=event.workspace_id)
    pool = (list(members.filter(role=Role.REVIEWER).values_list("user_id", flat=True))
            or list(members.filter(role=Role.ADMIN).values_list("user_id", flat=True)))
    _notify(event, pool, Kind.ASSIGNMENT, lambda title: f"“{title}” is waiting for review.")


def on_overdue(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    hours = event.payload["sla_hours"]
    _notify(event, [event.payload["reviewer_id"]], Kind.REMINDER,
            lambda title: f"Review of “{title}” is overdue (SLA {hours} h).")


def on_escalation(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    hours = event.payload["overdue_hours"]
    _notify(event, event.payload["user_ids"], Kind.ESCALATION,
            lambda title: f"Review of “{title}” was escalated: overdue by {hours} h.")


REACTIONS = {
    "review.approve": on_approval,
    "review.reject": on_rejection,
    "review.request_changes": on_changes_requested,
    "comment.added": on_comment,
    "brief.assigned": on_assignment,
    "brief.in_review": on_review_arrived,
    "review.overdue": on_overdue,
    "review.escalated": on_escalation,
}


def reactions_register() -> None:
    for event_type, reaction in REACTIONS.items():
        reaction_register(event_type, reaction)
