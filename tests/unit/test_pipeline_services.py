"""The services that carry a brief from submission to publication, without workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.briefs.models import BriefState
from apps.core.errors import DomainError, IllegalTransition, PermissionDenied
from apps.core.models import AuditEvent, OutboxEvent
from apps.evaluation.services import evaluation_record
from apps.generation.models import Draft, GenerationJob, JobState
from apps.generation.services import (
    job_claim,
    job_claim_most_urgent,
    job_fail,
    job_record_drafts,
    jobs_requeue_stale,
)
from apps.publishing.models import Publication, PublicationState
from apps.publishing.services import publication_cancel, publication_claim, publication_succeed
from apps.publishing.targets import target_create
from apps.reviews.models import DraftRevision, Review
from apps.workflow.services import (
    brief_cancel,
    brief_create,
    brief_submit,
    on_publication_moved,
    review_approve,
    review_request_changes,
)
from tests import factories
from tests.factories import MARKDOWN
from workers.generation.types import GeneratedText

pytestmark = pytest.mark.django_db


def _texts(n: int) -> list[GeneratedText]:
    return [GeneratedText(variant=i, text=f"Variant {i} about compost.", seed=100 + i,
                          prompt_tokens=10, completion_tokens=5, model_name="builtin")
            for i in range(n)]


def _queued(**fields):
    """A brief of a new workspace, submitted: (the brief, its queued job)."""
    brief = factories.brief(factories.workspace(), **fields)
    brief_submit(brief=brief)
    return brief, brief.jobs.get()


def _in_review(ws=None):
    ws = ws or factories.workspace()
    brief = factories.brief_in_review(ws)
    return ws, brief, brief.jobs.get()


def test_submit_queues_a_job_with_the_rendered_prompt_and_events():
    brief, job = _queued(title="Rain gardens", topic="planting for heavy rain",
                         keywords=["rain", "garden"])
    assert (brief.state, job.state, job.variants) == (BriefState.QUEUED, JobState.QUEUED, 2)
    assert job.prompt.startswith(MARKDOWN + "Title: Rain gardens\nWrite a 40-word piece for "
                                 "beginners about planting for heavy rain. Keywords: rain, garden.")
    types = list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))
    assert types == ["brief.created", "brief.queued", "job.queued"]


def test_unknown_content_type_of_another_workspace_is_refused_and_nothing_written():
    ws, other = factories.workspace(), factories.workspace()
    foreign = factories.content_type(other)
    with pytest.raises(DomainError, match="Unknown content type for this workspace."):
        brief_create(workspace=ws, content_type=foreign, title="x", topic="y")
    assert ws.briefs.count() == 0


def test_duplicate_external_id_from_the_same_origin_is_refused():
    ws = factories.workspace()
    ct = factories.content_type(ws)
    factories.brief(ws, ct, origin="api", external_id="cms-42")
    with pytest.raises(DomainError, match="external id 'cms-42' already exists"):
        factories.brief(ws, ct, origin="api", external_id="cms-42")


def test_a_job_is_claimed_once_and_drafts_are_recorded_once():
    brief, job = _queued()
    claimed = job_claim(job_id=job.pk, worker_id="w1")
    assert (claimed.state, claimed.attempts, claimed.worker_id) == ("running", 1, "w1")
    assert job_claim(job_id=job.pk, worker_id="w2") is None  # a redelivered message
    brief.refresh_from_db()
    assert brief.state == BriefState.GENERATING
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=_texts(2))
    # a second delivery of the result, or a worker that lost the job, writes nothing
    assert job_record_drafts(job_id=job.pk, worker_id="w1", texts=_texts(2)) is None
    assert job_record_drafts(job_id=job.pk, worker_id="w2", texts=_texts(2)) is None
    assert Draft.objects.filter(job=job).count() == 2
    assert DraftRevision.objects.filter(draft__job=job, number=1).count() == 2
    job.refresh_from_db()
    assert (job.state, job.prompt_tokens, job.completion_tokens) == ("evaluating", 20, 10)


def test_evaluation_sends_the_brief_to_review_once():
    _, brief, job = _in_review()
    job.refresh_from_db()
    assert (brief.state, job.state) == (BriefState.IN_REVIEW, JobState.SUCCEEDED)
    assert evaluation_record(job_id=job.pk, scores=[]) is None


def test_a_stale_running_job_is_requeued_and_its_worker_loses_it():
    _, job = _queued()
    job_claim(job_id=job.pk, worker_id="dead-worker")
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert jobs_requeue_stale(older_than=timedelta(minutes=2)) == [job.pk]
    assert job_record_drafts(job_id=job.pk, worker_id="dead-worker", texts=_texts(1)) is None
    again = job_claim(job_id=job.pk, worker_id="w2")
    assert (again.state, again.attempts) == ("running", 2)


def test_a_failed_job_fails_the_brief_with_the_reason():
    brief, job = _queued()
    job_fail(job_id=job.pk, error="No built-in model: run manage.py train_model")
    brief.refresh_from_db()
    job.refresh_from_db()
    assert (brief.state, job.state, job.error) == (
        "failed", "failed", "No built-in model: run manage.py train_model")


def test_approval_schedules_one_publication_per_target_and_a_second_approval_is_refused():
    ws, brief, job = _in_review()
    target_create(workspace=ws, name="site", kind="file", config={"folder": "site"})
    target_create(workspace=ws, name="hook", kind="webhook",
                  config={"url": "http://127.0.0.1:9/hook"}, secret="whsec_c2VjcmV0")
    reviewer = factories.member(ws, "reviewer")
    best = Draft.objects.get(job=job, variant=1)
    review_approve(brief=brief, draft_id=best.pk, reviewer=reviewer, comment="good")
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED
    pubs = Publication.objects.filter(brief=brief).order_by("target__name")
    assert [(p.target.name, p.state, p.revision.number) for p in pubs] == [
        ("hook", "scheduled", 1), ("site", "scheduled", 1)]
    with pytest.raises(IllegalTransition, match="cannot go from 'scheduled' to 'approved'"):
        review_approve(brief=brief, draft_id=best.pk, reviewer=reviewer)
    assert Review.objects.filter(brief=brief).count() == 1
    assert Publication.objects.filter(brief=brief).count() == 2


def test_an_editor_cannot_approve_and_nothing_changes():
    ws, brief, job = _in_review()
    editor = factories.member(ws, "editor")
    with pytest.raises(PermissionDenied):
        review_approve(brief=brief, draft_id=job.drafts.first().pk, reviewer=editor)
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    assert not Review.objects.exists()


def test_approving_a_draft_of_another_brief_or_an_unknown_target_is_refused_whole():
    ws, brief, job = _in_review()
    _, other_brief, other_job = _in_review(ws)
    reviewer = factories.member(ws, "reviewer")
    with pytest.raises(DomainError, match="does not belong to this brief"):
        review_approve(brief=brief, draft_id=other_job.drafts.first().pk, reviewer=reviewer)
    with pytest.raises(DomainError, match="Unknown or disabled targets: 999"):
        review_approve(brief=brief, draft_id=job.drafts.first().pk, reviewer=reviewer,
                       target_ids=[999])
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW  # one transaction: the approval rolled back
    assert not Review.objects.exists()


def test_requesting_changes_queues_a_new_job_whose_prompt_carries_the_feedback():
    ws, brief, job = _in_review()
    reviewer = factories.member(ws, "reviewer")
    review_request_changes(brief=brief, reviewer=reviewer, feedback="Mention worm bins.")
    brief.refresh_from_db()
    new_job = brief.jobs.exclude(pk=job.pk).get()
    assert brief.state == BriefState.QUEUED
    assert new_job.prompt.endswith("Revise according to this feedback: Mention worm bins.\n")
    with pytest.raises(DomainError, match="Say what should change"):
        review_request_changes(brief=brief, reviewer=reviewer, feedback="  ")


def test_the_brief_is_published_when_its_last_publication_is():
    ws, brief, job = _in_review()
    target_create(workspace=ws, name="a", kind="file", config={"folder": "a"})
    target_create(workspace=ws, name="b", kind="file", config={"folder": "b"})
    review_approve(brief=brief, draft_id=job.drafts.first().pk,
                   reviewer=factories.member(ws, "reviewer"))
    first, second = Publication.objects.filter(brief=brief).order_by("id")
    publication_succeed(publication=publication_claim(publication_id=first.pk, worker_id="io"),
                        external_id="a/post.md")
    assert publication_claim(publication_id=first.pk, worker_id="io") is None
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED
    publication_succeed(publication=publication_claim(publication_id=second.pk, worker_id="io"),
                        external_id="b/post.md")
    brief.refresh_from_db()
    assert brief.state == BriefState.PUBLISHED
    assert set(Publication.objects.values_list("state", flat=True)) == {PublicationState.PUBLISHED}


def test_cancel_stops_active_jobs_and_is_audited():
    ws = factories.workspace()
    brief = factories.brief(ws)
    brief_submit(brief=brief)
    brief_cancel(brief=brief)
    assert brief.jobs.get().state == JobState.CANCELLED
    assert AuditEvent.objects.filter(subject_type="contentbrief", subject_id=brief.pk,
                                     action="brief.cancelled").count() == 1
    with pytest.raises(IllegalTransition):
        brief_cancel(brief=brief)


@pytest.mark.parametrize("kind,config,secret,message", [
    ("webhook", {"url": "ftp://x"}, "", "needs an http(s) 'url'"),
    ("webhook", {"url": "http://127.0.0.1/h"}, "plain",
     "A signing secret has the form whsec_<base64>. Leave it empty to have one generated."),
    ("webhook", {"url": "http://127.0.0.1/h"}, "whsec_%%%",
     "The signing secret after whsec_ is not valid base64."),
    ("file", {"folder": "/etc"}, "", "needs a relative 'folder'"),
    ("file", {"folder": "site/../../etc"}, "", "needs a relative 'folder'"),
    ("file", {}, "", "needs a relative 'folder'"),
    ("carrier-pigeon", {}, "", "Unknown target kind 'carrier-pigeon'."),
])
def test_bad_target_settings_are_refused(kind, config, secret, message):
    ws = factories.workspace()
    with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        target_create(workspace=ws, name="t", kind=kind, config=config, secret=secret)
    assert not ws.targets.exists()


def test_a_webhook_target_without_a_secret_gets_a_generated_one_stored_encrypted():
    from apps.core.crypto import secret_decrypt

    target = target_create(workspace=factories.workspace(), name="hook", kind="webhook",
                           config={"url": "http://127.0.0.1/h"})
    secret = secret_decrypt(target.secret_encrypted)
    assert secret.startswith("whsec_") and len(secret) == 6 + 44
    assert "whsec_" not in target.secret_encrypted


def test_prompts_can_carry_the_style_guides_examples_and_the_briefs_reference_texts():
    from apps.briefs.models import StyleGuide

    ws = factories.workspace()
    guide = StyleGuide.objects.create(workspace=ws, name="House", tone="warm",
                                      example_texts=["Example one.", "Example two."])
    ct = factories.content_type(ws, prompt_template="Like these:\n{example_texts}\n"
                                "Sources:\n{reference_texts}\nNow: {title}\n")
    brief = factories.brief(ws, ct, style_guide=guide, title="Leaf mould",
                            reference_texts=["Ref A.", "Ref B."])
    brief_submit(brief=brief)
    # the guide's tone, which the template leaves out, comes first: tone always reaches the model
    assert brief.jobs.get().prompt == ("Tone: warm.\n\n" + MARKDOWN
                                       + "Like these:\nExample one.\n\nExample two.\n"
                                       "Sources:\nRef A.\n\nRef B.\nNow: Leaf mould\n")


def test_a_template_without_style_fields_still_gives_the_model_the_guide_and_sources():
    from apps.briefs.models import StyleGuide

    # given a style guide and reference texts, and a template that names none of them
    ws = factories.workspace()
    guide = StyleGuide.objects.create(workspace=ws, name="House", example_texts=["Example one."],
                                      required_terms=["compost"], banned_terms=["synergy"])
    ct = factories.content_type(ws, prompt_template="Now: {title}\nUse {required_terms}.\n")
    brief = factories.brief(ws, ct, style_guide=guide, title="Leaf mould",
                            reference_texts=["Ref A."])
    # when the brief is submitted
    brief_submit(brief=brief)
    # then the missing ones come first as labelled blocks; the template's own stay where it put them
    assert brief.jobs.get().prompt == (MARKDOWN + "Examples of the house style:\n\nExample one.\n\n"
                                       "Reference material:\n\nRef A.\n\n"
                                       "Never use these terms: synergy.\n\n"
                                       "Now: Leaf mould\nUse compost.\n")


def test_a_brief_in_another_language_asks_for_it_where_the_template_does_not():
    ws = factories.workspace()
    plain = factories.content_type(ws, prompt_template="Now: {title}\n")
    own = factories.content_type(ws, slug="own", prompt_template="[{language}] {title}\n")
    for ct, language in ((plain, "fr"), (plain, "pt-BR"), (plain, "en-GB"), (own, "de")):
        brief_submit(brief=factories.brief(ws, ct, title="Leaf mould", language=language))
    prompts = list(GenerationJob.objects.order_by("id").values_list("prompt", flat=True))
    assert prompts == ["Write in French.\n\n" + MARKDOWN + "Now: Leaf mould\n",
                       "Write in Brazilian Portuguese.\n\n" + MARKDOWN + "Now: Leaf mould\n",
                       MARKDOWN + "Now: Leaf mould\n", MARKDOWN + "[de] Leaf mould\n"]


def test_control_characters_a_model_emits_are_dropped_before_storing():
    _, job = _queued(variants=1)
    job_claim(job_id=job.pk, worker_id="w1")
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=[GeneratedText(
        variant=0, text="Soil\x00 and\x07 worms.\n\tEnd", seed=1, prompt_tokens=1,
        completion_tokens=1, model_name="builtin")])
    assert Draft.objects.get(job=job).text == "Soil and worms.\n\tEnd"


def _scheduled_publication() -> Publication:
    """An approved brief's publication on its one target, scheduled."""
    ws, brief, job = _in_review()
    target_create(workspace=ws, name="a", kind="file", config={"folder": "a"})
    review_approve(brief=brief, draft_id=job.drafts.first().pk,
                   reviewer=factories.member(ws, "reviewer"))
    return Publication.objects.select_related("revision").get(brief=brief)


def test_a_revision_counts_as_out_while_a_publication_of_it_is_going_out():
    # Given an approved brief scheduled on one target
    publication = _scheduled_publication()
    # Then its revision is out: new texts are checked for copying it
    assert publication.revision.went_out
    # When the publication is cancelled, it no longer is
    publication_cancel(publication=publication)
    publication.revision.refresh_from_db()
    assert not publication.revision.went_out


def test_an_event_that_names_no_revision_moves_the_publications_own():
    # Given a scheduled publication whose revision is out
    publication = _scheduled_publication()
    Publication.objects.filter(pk=publication.pk).update(state=PublicationState.CANCELLED)
    # When its cancellation arrives as an event written before events named the revision
    on_publication_moved(OutboxEvent(workspace=publication.workspace, type="publication.cancelled",
                                     subject_type="publication", subject_id=publication.pk,
                                     payload={"state": "cancelled"}), None, "")
    # Then the revision it points at is no longer out
    publication.revision.refresh_from_db()
    assert not publication.revision.went_out


def test_a_message_claims_its_own_job_reading_it_once(django_capture_on_commit_callbacks):
    # Given a queued job, its message delivered
    _, job = _queued()
    with CaptureQueriesContext(connection) as queries, \
            django_capture_on_commit_callbacks(execute=True):
        # When the message claims its job (and the commit relays its events)
        claimed = job_claim_most_urgent(job_id=job.pk, worker_id="w1")
    # Then the job and its brief and profile were read once, and stay loaded for the run
    assert claimed is not None and claimed.pk == job.pk and claimed.attempts == 1
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")
             and 'WHERE "generation_generationjob"."id" = ' in q["sql"]
             and 'INNER JOIN "briefs_contentbrief"' in q["sql"]]
    assert len(reads) == 1
    with CaptureQueriesContext(connection) as later:
        assert (claimed.brief.pk, getattr(claimed.model_profile, "pk", None)) == (
            job.brief_id, job.model_profile_id)
    assert later.captured_queries == []
