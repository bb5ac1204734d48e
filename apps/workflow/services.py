"""The workflow: the only code that moves a brief from state to state.

Commands (submit, regenerate, cancel, review decisions, publish) are called by the API, the
dashboard, integrations and the command line. Reactions run inside the transaction of an
outcome that an app below records (a job claimed, drafts recorded, a job failed, an
evaluation decided, a publication settled), so the brief's move commits with it, outbox
event included. `apps/workflow/pipeline.py` names every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from apps.accounts.roles import CAN_GOVERN, CAN_REVIEW
from apps.accounts.selectors import member_require, workspace_require
from apps.briefs import services as briefs
from apps.briefs.models import BRIEF_MACHINE, BriefState, ContentBrief
from apps.core.errors import DomainError, IllegalTransition, NotFound, PermissionDenied
from apps.core.models import OutboxEvent
from apps.core.services import Actor, audit_record, transition
from apps.evaluation import gating
from apps.evaluation.selectors import approval_group_required, revision_hard_findings
from apps.evaluation.services import GATE_ACTOR
from apps.generation.models import Draft, GenerationJob
from apps.generation.services import JOB_ACTIVE, job_cancel_active, job_create
from apps.generation.services import job_cancel as generation_job_cancel
from apps.publishing.models import GOING_OUT, Publication, PublicationState
from apps.publishing.services import publications_add, publications_schedule
from apps.reviews.models import Decision, DraftRevision, Review
from apps.reviews.services import (
    approval_record,
    changes_requested_record,
    decision_record,
    guest_link_spend,
    review_open,
    reviewable_draft,
    revision_latest,
    revision_went_out_set,
    revisions_create_initial,
)


def _brief_move(brief: ContentBrief, *, to: str, actor: Actor = None, actor_label: str = "",
                payload: dict[str, Any] | None = None, **fields: Any) -> ContentBrief:
    """Move a brief along an edge of BRIEF_MACHINE and announce `brief.<state>`."""
    return transition(
        brief, machine=BRIEF_MACHINE, to=to, workspace_id=brief.workspace_id,
        event_type=f"brief.{to}",
        payload={"brief_id": brief.pk, "title": brief.title, **(payload or {})},
        actor=actor, actor_label=actor_label, **fields,
    )


# --- commands on a brief -------------------------------------------------------


@transaction.atomic
def brief_create(*, submit: bool = True, **fields: Any) -> ContentBrief:
    """A new brief (the fields of `apps.briefs.services.brief_create`), submitted unless
    `submit` is False."""
    brief = briefs.brief_create(**fields)
    if submit:
        _queue(brief, actor=fields.get("created_by"))
    return brief


@transaction.atomic
def brief_submit(*, brief: ContentBrief, actor: Actor = None) -> ContentBrief:
    """draft → queued, with a generation job that runs once the transaction commits."""
    _queue(brief, actor=actor)
    return brief


@transaction.atomic
def brief_regenerate(*, brief: ContentBrief, actor: Actor = None) -> ContentBrief:
    """changes_requested or failed → queued, with a new job (the feedback goes into its prompt)."""
    _queue(brief, actor=actor)
    return brief


def _queue(brief: ContentBrief, *, actor: Actor) -> None:
    # In the caller's atomic block, with no savepoint of its own (two round trips each).
    _brief_move(brief, to=BriefState.QUEUED, actor=actor)
    job_create(brief=brief, actor=actor)


@transaction.atomic
def brief_cancel(*, brief: ContentBrief, actor: Actor = None) -> ContentBrief:
    """Cancel a brief that is not yet approved, and any job still working on it."""
    _brief_move(brief, to=BriefState.CANCELLED, actor=actor)
    job_cancel_active(brief=brief, actor=actor)
    return brief


@transaction.atomic
def job_cancel(*, workspace_id: int, job_id: int, actor: Actor = None) -> GenerationJob:
    """Cancel one queued, running or evaluating job of the workspace, and its brief while the
    brief waits for it. NotFound for another workspace's job, IllegalTransition for one
    that already ended."""
    job = GenerationJob.objects.select_related("brief").filter(
        pk=job_id, workspace_id=workspace_id).first()
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    if job.state not in JOB_ACTIVE:
        raise IllegalTransition(f"Job {job_id} already ended ({job.state}).")
    if job.brief.state in (BriefState.QUEUED, BriefState.GENERATING):
        brief_cancel(brief=job.brief, actor=actor)  # cancels the brief's active jobs with it
    else:
        generation_job_cancel(job=job, actor=actor)
    job.refresh_from_db()
    return job


# --- review decisions ------------------------------------------------------------


def _hold_to_hard_rules(*, brief: ContentBrief, revision: DraftRevision, reviewer: User | None,
                        override_justification: str) -> None:
    """Refuse an approval of a revision breaking a hard rule (banned terms, personal data, a
    copy, another language), the reasons in the message; a workspace admin may approve it
    anyway with a justification, recorded in the audit trail."""
    broken = revision_hard_findings(revision=revision)
    if not broken:
        return
    reasons = "; ".join(f.reason for f in broken)
    justification = override_justification.strip()
    if not justification:
        raise DomainError(f"Revision {revision.number} breaks a hard rule: {reasons}. Edit it, "
                          "or a workspace admin may approve it with a justification.")
    refusal = "Only a workspace admin may approve a revision that breaks a hard rule."
    if reviewer is None or not reviewer.is_authenticated:
        raise PermissionDenied(refusal)
    try:
        workspace_require(reviewer, CAN_GOVERN, brief.workspace_id)
    except PermissionDenied as exc:
        raise PermissionDenied(refusal) from exc
    audit_record(workspace_id=brief.workspace_id, action="review.hard_rule_overridden",
                 subject=brief, actor=reviewer,
                 after={"draft_id": revision.draft_id, "revision": revision.number,
                        "rules": [f.rule for f in broken], "reasons": [f.reason for f in broken],
                        "justification": justification})


def _approve(brief: ContentBrief, revision: DraftRevision, *, actor: Actor = None,
             actor_label: str = "", target_ids: Sequence[int] | None = None,
             publish_at: datetime | None = None, auto: bool = False) -> None:
    """The one way a brief is approved, by its reviewers or by the quality gate:
    in_review → approved, the revision scheduled on the chosen targets (default: the
    automatic ones), and the brief scheduled once any is."""
    _brief_move(brief, to=BriefState.APPROVED, actor=actor, actor_label=actor_label,
                payload={"draft_id": revision.draft_id, "revision": revision.number,
                         **({"auto_approved": True} if auto else {})})
    if publications_schedule(brief=brief, revision=revision, target_ids=target_ids,
                             publish_at=publish_at, actor=actor):
        _brief_move(brief, to=BriefState.SCHEDULED, actor=actor)


def _approval(*, brief: ContentBrief, draft: Draft, reviewer: User | None, guest_name: str,
              comment: str, target_ids: Sequence[int] | None, publish_at: datetime | None,
              override_justification: str = "") -> Review:
    brief = review_open(brief, BriefState.APPROVED)
    revision = revision_latest(draft)
    _hold_to_hard_rules(brief=brief, revision=revision, reviewer=None if guest_name else reviewer,
                        override_justification=override_justification)
    # The quality gate may also ask for an approval from a named group (a risky claim).
    approval = approval_record(brief=brief, revision=revision, reviewer=reviewer,
                               guest_name=guest_name, comment=comment,
                               required_group=approval_group_required(brief_id=brief.pk))
    if approval.complete:
        _approve(brief, revision, actor=reviewer, actor_label=guest_name, target_ids=target_ids,
                 publish_at=publish_at)
    return approval.review


@transaction.atomic
def review_approve(
    *,
    brief: ContentBrief,
    draft_id: int,
    reviewer: Actor,
    comment: str = "",
    target_ids: Sequence[int] | None = None,
    publish_at: datetime | None = None,
    override_justification: str = "",
) -> Review:
    """Record an approval of a draft's newest revision; once the content type's policy has
    its N approvals (from distinct reviewers if it says so), and one from the group the
    quality gate named if it named one, in_review → approved and the
    revision is scheduled on the chosen (default: auto-publish) targets at `publish_at`.

    An approval of a brief no longer in review is refused as an illegal transition; one of
    a revision breaking a hard rule (banned terms, personal data, a copy of a published
    piece, another language) is refused with the reasons, unless a workspace admin gives
    `override_justification`, which the audit trail records.
    """
    reviewer = member_require(reviewer, CAN_REVIEW, brief.workspace_id)
    return _approval(brief=brief, draft=reviewable_draft(brief, draft_id), reviewer=reviewer,
                     guest_name="", comment=comment, target_ids=target_ids,
                     publish_at=publish_at, override_justification=override_justification)


def _reject(*, brief: ContentBrief, reviewer: User | None, guest_name: str, comment: str
            ) -> Review:
    brief = review_open(brief, BriefState.REJECTED)
    _brief_move(brief, to=BriefState.REJECTED, actor=reviewer, actor_label=guest_name)
    return decision_record(brief=brief, reviewer=reviewer, decision=Decision.REJECT,
                           comment=comment, guest_name=guest_name)


@transaction.atomic
def review_reject(*, brief: ContentBrief, reviewer: Actor, comment: str = "") -> Review:
    """in_review → rejected; the author, the assignee and earlier reviewers are notified."""
    reviewer = member_require(reviewer, CAN_REVIEW, brief.workspace_id)
    return _reject(brief=brief, reviewer=reviewer, guest_name="", comment=comment)


@transaction.atomic
def review_request_changes(*, brief: ContentBrief, reviewer: Actor, feedback: str) -> Review:
    """in_review → changes_requested → queued: a new job writes with the feedback in its prompt.

    Approvals given in this round stop counting: the next round is another text.
    """
    reviewer = member_require(reviewer, CAN_REVIEW, brief.workspace_id)
    if not feedback.strip():
        raise DomainError("Say what should change: the feedback goes to the model.")
    _brief_move(brief, to=BriefState.CHANGES_REQUESTED, actor=reviewer, feedback=feedback)
    review = changes_requested_record(brief=brief, reviewer=reviewer, feedback=feedback)
    brief_regenerate(brief=brief, actor=reviewer)
    return review


@transaction.atomic
def guest_decide(*, token: str, decision: str, draft_id: int | None = None,
                 comment: str = "") -> Review:
    """An outside approver's approve or reject, recorded as a decision under their name;
    the link is spent by the first decision."""
    link = guest_link_spend(token=token)
    brief = link.brief
    name = f"{link.guest_name} (guest)"
    if decision == Decision.APPROVE:
        if draft_id is None:
            raise DomainError("Choose the draft to approve.")
        return _approval(brief=brief, draft=reviewable_draft(brief, draft_id), reviewer=None,
                         guest_name=name, comment=comment, target_ids=None, publish_at=None)
    if decision == Decision.REJECT:
        return _reject(brief=brief, reviewer=None, guest_name=name, comment=comment)
    raise DomainError("A guest may approve or reject.")


@transaction.atomic
def brief_publish(*, brief: ContentBrief, target_ids: Sequence[int],
                  publish_at: datetime | None = None, actor: Actor = None) -> list[Publication]:
    """The brief's approved revision scheduled to more targets, or again once cancelled
    (`apps.publishing.services.publications_add` says how). The brief goes approved →
    scheduled; a scheduled brief stays scheduled (published once all its publications are
    done); a published brief stays published (the extra post is followed on its own
    publication)."""
    publications = publications_add(brief=brief, target_ids=target_ids, publish_at=publish_at,
                                    actor=actor)
    current = ContentBrief.objects.get(pk=brief.pk)  # locked by publications_add
    if current.state == BriefState.APPROVED:
        _brief_move(current, to=BriefState.SCHEDULED, actor=actor)
    return publications


# --- reactions to outcomes below (apps/workflow/pipeline.py) --------------------


def _brief_of(event: OutboxEvent, *, lock: bool = False) -> ContentBrief:
    briefs_ = ContentBrief.objects.select_for_update() if lock else ContentBrief.objects
    return briefs_.get(pk=event.payload["brief_id"])


def on_job_claimed(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """A worker took the brief's job: queued → generating (a requeued job's brief already is)."""
    brief = _brief_of(event)
    if brief.state == BriefState.QUEUED:
        _brief_move(brief, to=BriefState.GENERATING, actor_label=actor_label,
                    payload={"job_id": event.subject_id})


def on_drafts_recorded(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """Revision 1 of each draft is the model's text, so every publication points at a
    revision (idempotent)."""
    revisions_create_initial(drafts=Draft.objects.filter(job_id=event.subject_id))


def on_job_failed(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """The brief waiting for the job fails with it, with the reason the editor will read."""
    brief = _brief_of(event)
    if brief.state in (BriefState.QUEUED, BriefState.GENERATING):
        _brief_move(brief, to=BriefState.FAILED, actor_label=actor_label,
                    payload={"error": event.payload.get("error", "")})


def on_evaluation_decided(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """The drafts are scored and the gate (if any) decided: a rewrite goes straight back to
    the queue with the gate's reasons as feedback; otherwise the brief goes to review, and
    an auto-approval takes the one approval path from there."""
    brief = _brief_of(event)
    decision = event.payload.get("decision", gating.REVIEW)
    if decision == gating.REGENERATE:
        _brief_move(brief, to=BriefState.QUEUED, actor_label=GATE_ACTOR,
                    feedback=event.payload["feedback"], payload={"regeneration": True})
        job_create(brief=brief)
        return
    _brief_move(brief, to=BriefState.IN_REVIEW, actor_label=actor_label,
                payload={"job_id": event.subject_id})
    if decision == gating.AUTO_APPROVE:
        best = Draft.objects.get(pk=event.payload["best_draft_id"])
        _approve(brief, revision_latest(best), actor_label=GATE_ACTOR, auto=True)


def on_publication_settled(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """A scheduled brief once none of its publications is left to go out: published when
    one went out (published, or since withdrawn) and the others went out or were
    cancelled; approved again when every one was cancelled, so that `brief_publish`
    can publish it later.

    The brief's row lock orders publications finishing at once: without it each
    transaction saw the other's publication still publishing (PostgreSQL, read
    committed) and neither moved the brief."""
    brief = _brief_of(event, lock=True)
    if brief.state != BriefState.SCHEDULED:
        return
    states = set(Publication.objects.filter(brief=brief).values_list("state", flat=True).distinct())
    went_out = {PublicationState.PUBLISHED, PublicationState.WITHDRAWN}
    if not states or states - went_out - {PublicationState.CANCELLED}:
        return
    _brief_move(brief, to=BriefState.PUBLISHED if states & went_out else BriefState.APPROVED,
                actor=actor, actor_label=actor_label)


def on_publication_moved(event: OutboxEvent, actor: Actor, actor_label: str) -> None:
    """A revision counts as out while any of its publications is scheduled, being sent or
    published: the duplicate checks of new texts compare with it. The event names the
    revision (and, for a publication pointed at a newer one, the revision it left); one
    written before events named it is read from the publication."""
    revision_ids = {event.payload.get("revision_id"), event.payload.get("previous_revision_id")}
    if "revision_id" not in event.payload:
        revision_ids.add(Publication.objects.filter(pk=event.subject_id).values_list(
            "revision_id", flat=True).first())
    for revision_id in revision_ids:
        if revision_id is not None:
            revision_went_out_set(revision_id=revision_id, went_out=Publication.objects.filter(
                revision_id=revision_id, state__in=GOING_OUT).exists())
