"""Bulk actions from the queue: each brief goes through the same service as one at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from apps.accounts.roles import CAN_REVIEW, CAN_SUBMIT_BRIEFS, CAN_VIEW
from apps.accounts.selectors import member_require
from apps.briefs.models import ContentBrief
from apps.core.errors import DomainError, NotFound
from apps.core.models import Workspace
from apps.core.services import Actor
from apps.generation.models import Draft
from apps.reviews.services import assignment_round_robin, assignment_set
from apps.workflow.services import brief_cancel, brief_regenerate, review_approve, review_reject

BULK_ACTIONS = {
    "approve": ("Approve the best draft", CAN_REVIEW),
    "reject": ("Reject", CAN_REVIEW),
    "assign": ("Assign", CAN_VIEW),
    "regenerate": ("Regenerate", CAN_SUBMIT_BRIEFS),
    "cancel": ("Cancel", CAN_SUBMIT_BRIEFS),
}
ROUND_ROBIN = "round_robin"
BULK_MAX = 200  # one request's worth of work; more is a job for the API


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "title: why"


def _best_draft_id(brief: ContentBrief) -> int:
    draft = (Draft.objects.filter(brief=brief).order_by("-job_id", "-evaluation__score", "variant")
             .values_list("pk", flat=True).first())
    if draft is None:
        raise DomainError("No draft to approve.")
    return draft


def assign_choice(*, brief: ContentBrief, actor: Actor, choice: str) -> object:
    """Assign the chosen reviewer (a user id) or, for ROUND_ROBIN, the next in turn."""
    if choice != ROUND_ROBIN:
        return assignment_set(brief=brief, reviewer_id=int(choice), assigned_by=actor)
    assignment = assignment_round_robin(brief=brief, assigned_by=actor)
    if assignment is None:
        raise DomainError("This workspace has no reviewer to assign.")
    return assignment


def _one(action: str, brief: ContentBrief, actor: Actor, reviewer: str, comment: str) -> object:
    steps: dict[str, Callable[[], object]] = {
        "approve": lambda: review_approve(brief=brief, draft_id=_best_draft_id(brief),
                                          reviewer=actor, comment=comment),
        "reject": lambda: review_reject(brief=brief, reviewer=actor, comment=comment),
        "assign": lambda: assign_choice(brief=brief, actor=actor, choice=reviewer),
        "regenerate": lambda: brief_regenerate(brief=brief, actor=actor),
        "cancel": lambda: brief_cancel(brief=brief, actor=actor),
    }
    return steps[action]()


def queue_bulk_act(*, workspace: Workspace, actor: Actor, action: str, brief_ids: Sequence[int],
                   reviewer: str = "", comment: str = "") -> BulkResult:
    """Apply `action` to each of the workspace's briefs in `brief_ids`, each in its own
    transaction: one refusal (wrong state, say) neither stops nor undoes the others."""
    if action not in BULK_ACTIONS:
        raise DomainError(f"Unknown action {action!r}.")
    member_require(actor, BULK_ACTIONS[action][1], workspace.pk)
    if len(brief_ids) > BULK_MAX:
        raise DomainError(f"At most {BULK_MAX} briefs at once.")
    if action == "assign" and reviewer != ROUND_ROBIN and not reviewer.isdigit():
        raise DomainError("Choose a reviewer, or the next in turn.")
    briefs = list(ContentBrief.objects.filter(workspace=workspace, pk__in=brief_ids).order_by("id"))
    if len(briefs) != len(set(brief_ids)):
        raise NotFound("No such brief in this workspace.")
    result = BulkResult()
    for brief in briefs:
        try:
            with transaction.atomic():
                _one(action, brief, actor, reviewer, comment)
        except DomainError as exc:
            result.refused.append(f"{brief.title}: {exc}")
        else:
            result.done.append(brief.title)
    return result
