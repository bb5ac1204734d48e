"""The quality gate through the real services and evaluation task, with the real model."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries
from rest_framework.test import APIRequestFactory, force_authenticate

from apps.briefs.models import BriefState, ContentBrief, StyleGuide
from apps.core.models import OutboxEvent, Workspace
from apps.evaluation import gating, selectors
from apps.evaluation.api import BriefScoreCardsApi
from apps.evaluation.models import Evaluation, GateDecision, QualityGate, TextFingerprint
from apps.evaluation.selectors import approval_group_required
from apps.evaluation.services import evaluation_settings_set, fingerprints_store
from apps.generation.models import GenerationJob, JobState
from apps.generation.services import job_claim, job_record_drafts
from apps.publishing.models import Publication, PublicationState
from apps.publishing.targets import target_create
from apps.reviews.models import DraftRevision
from apps.reviews.services import revision_edit
from apps.workflow.services import brief_submit, review_approve
from tests import factories
from workers.evaluation.types import PublishedPiece
from workers.generation.types import GeneratedText
from workers.tasks.evaluation import evaluate_job

ON_TOPIC = (
    "Composting turns kitchen scraps into food for your garden. Pick a shady corner, set up a "
    "small bin, and layer vegetable peelings and coffee grounds with dry leaves. Keep the heap "
    "damp and turn it over every week or two."
)
BUZZWORDS = (
    "Composting brings real synergy to your garden: kitchen scraps and dry leaves become rich "
    "compost. Keep the heap damp, turn it every week or two, and in a few months dig the dark, "
    "crumbly compost into your beds."
)
LEAKY = (
    "Composting turns kitchen scraps into food for your garden. Questions about your compost bin? "
    "Mail ann.lee@example.org, and pay for a starter kit with card 4111 1111 1111 1111."
)
OFF_TOPIC = (
    "The quarterly earnings call covered currency hedging, bond yields and the outlook for "
    "semiconductor exports, with analysts asking about inventory write-downs in Asia and "
    "the timing of the next share buyback."
)
PUBLISHED = (
    "Composting turns kitchen scraps into food for your garden. Pick a shady corner and set up a "
    "small bin with a lid. Layer vegetable peelings and coffee grounds with dry leaves or shredded "
    "cardboard. Keep the heap as damp as a wrung-out sponge and turn it every week or two. In "
    "three to six months you will have dark, crumbly compost to dig into your beds."
)


def evaluated(brief: ContentBrief, texts: list[str]) -> GenerationJob:
    """The brief's queued job generated (as given) and evaluated by the real task."""
    job = brief.jobs.get(state=JobState.QUEUED)
    job_claim(job_id=job.pk, worker_id="w1")
    job_record_drafts(job_id=job.pk, worker_id="w1", texts=[
        GeneratedText(variant=v, text=t, seed=v, prompt_tokens=10, completion_tokens=40,
                      model_name="builtin") for v, t in enumerate(texts)])
    evaluate_job.apply(args=[job.pk], throw=True)
    job.refresh_from_db()
    return job


def gated_brief(ws: Workspace, *, max_regenerations: int = 2, submit: bool = True,
                **gate: object) -> ContentBrief:
    guide = StyleGuide.objects.create(workspace=ws, name="House", banned_terms=["synergy"],
                                      required_terms=["kitchen scraps"])
    content_type = factories.content_type(ws)
    QualityGate.objects.create(workspace=ws, name="Blog", content_type=content_type,
                               max_regenerations=max_regenerations, **gate)
    brief = factories.brief(ws, content_type, style_guide=guide, target_length=40)
    if submit:
        brief_submit(brief=brief)
    return brief


@pytest.mark.django_db(transaction=True)
def test_banned_term_fails_the_gate_and_the_next_prompt_carries_the_reason() -> None:
    # Given a gate allowing one automatic regeneration and a style guide banning "synergy"
    ws = factories.workspace()
    brief = gated_brief(ws, max_regenerations=1)
    # When every variant of the first job uses the banned term
    first = evaluated(brief, [BUZZWORDS, BUZZWORDS.replace("real", "true")])
    # Then the job succeeded, its score card says why, and the brief was sent back to generation
    assert first.state == JobState.SUCCEEDED
    card = GateDecision.objects.get(job=first)
    assert (card.decision, card.passed, card.regeneration) == ("regenerate", False, 0)
    assert card.reasons == ["banned terms found (none allowed): synergy"]
    brief.refresh_from_db()
    assert brief.state == BriefState.QUEUED
    # Straight back: the brief never stopped in review, so no reviewer was asked to look
    moves = list(OutboxEvent.objects.filter(subject_type="contentbrief", subject_id=brief.pk,
                                            type__startswith="brief.").values_list("type", flat=True)
                 .order_by("id"))
    assert moves == ["brief.created", "brief.queued", "brief.generating", "brief.queued"]
    # And the new job's prompt carries the gate's reason
    second_job = brief.jobs.get(state=JobState.QUEUED)
    assert ("Revise according to this feedback: The quality gate rejected every variant: banned "
            "terms found (none allowed): synergy. Write a new version that fixes this."
            in second_job.prompt)
    assert {e.passed for e in Evaluation.objects.filter(draft__job=first)} == {False}

    # When the regeneration fails again, with the one allowed regeneration spent
    second = evaluated(brief, [BUZZWORDS])
    # Then the brief goes to review marked as failing, and the history shows both decisions
    card = GateDecision.objects.get(job=second)
    assert (card.decision, card.passed, card.regeneration) == ("review", False, 1)
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    assert list(brief.gate_decisions.order_by("id").values_list("decision", flat=True)) == [
        "regenerate", "review"]


@pytest.mark.django_db(transaction=True)
def test_email_and_card_number_fail_the_variant_and_the_clean_one_ranks_first() -> None:
    # Given a gated brief whose job wrote a leaky variant and a clean one
    ws = factories.workspace()
    brief = gated_brief(ws)
    # When it is evaluated
    job = evaluated(brief, [LEAKY, ON_TOPIC])
    # Then the leaky variant failed on the email and the card number, and ranks last
    evaluations = {e.draft.variant: e for e in Evaluation.objects.filter(draft__job=job)
                   .select_related("draft")}
    leaky, clean = evaluations[0], evaluations[1]
    assert leaky.metrics["emails"] == ["ann.lee@example.org"]
    assert leaky.metrics["card_numbers"] == ["4111 1111 1111 1111"]
    assert [f["reason"] for f in leaky.findings if f["severity"] == "fail"] == [
        "email addresses found (none allowed): ann.lee@example.org",
        "payment card numbers found (none allowed): 4111 1111 1111 1111",
    ]
    assert (leaky.passed, leaky.rank, clean.passed, clean.rank) == (False, 2, True, 1)
    # And the brief went to review with the clean variant as the best
    card = GateDecision.objects.get(job=job)
    assert (card.decision, card.passed, card.best_draft_id) == ("review", True, clean.draft_id)


@pytest.mark.django_db(transaction=True)
def test_a_copy_of_a_published_piece_is_caught_as_a_duplicate() -> None:
    # Given a workspace that published an edited version of a piece (revision 2)
    ws = factories.workspace()
    target_create(workspace=ws, name="site", kind="file", config={"folder": "site"})
    first = factories.brief(ws, submit=True, target_length=80)
    job = evaluated(first, [PUBLISHED])
    reviewer = factories.member(ws, "reviewer")
    draft = job.drafts.get()
    revision_edit(draft=draft, text=PUBLISHED.replace("shady corner", "quiet corner"),
                  author=reviewer)
    review_approve(brief=first, draft_id=draft.pk, reviewer=reviewer)
    assert Publication.objects.get(brief=first).state == PublicationState.SCHEDULED
    # When a later brief's job writes a near copy of it next to a fresh variant
    second = gated_brief(ws)
    later = evaluated(second, [PUBLISHED.replace("Pick a shady", "Choose a quiet"), ON_TOPIC])
    # Then the published revision was fingerprinted once, and the copy is caught
    published_revision = draft.revisions.get(number=2)
    assert TextFingerprint.objects.filter(revision=published_revision).count() == 1
    evaluations = {e.draft.variant: e for e in Evaluation.objects.filter(draft__job=later)
                   .select_related("draft")}
    copy = evaluations[0]
    assert copy.metrics["duplicate_similarity_of"] == published_revision.pk
    assert copy.metrics["duplicate_similarity"] > 0.97
    assert copy.metrics["duplicate_overlap"] > 0.5
    assert not copy.passed and copy.rank == 2
    assert {f["metric"] for f in copy.findings if f["severity"] == "fail"} == {
        "duplicate_similarity", "duplicate_overlap"}
    assert evaluations[1].passed and evaluations[1].metrics["duplicate_overlap"] < 0.5


@pytest.mark.django_db(transaction=True)
def test_auto_approval_schedules_the_best_variant_where_the_workspace_allows_it() -> None:
    # Given a workspace that allows auto-approval, a gate that never samples, and a target
    ws = factories.workspace()
    evaluation_settings_set(workspace_id=ws.pk, auto_approve=True)
    target_create(workspace=ws, name="site", kind="file", config={"folder": "site"})
    brief = gated_brief(ws, audit_rate=0.0,
                        rules=[r for r in gating.default_rules() if r["severity"] == "fail"])
    # When a clean job is evaluated
    job = evaluated(brief, [ON_TOPIC])
    # Then the brief was approved by the gate and scheduled on the target
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED
    card = GateDecision.objects.get(job=job)
    assert (card.decision, card.passed, card.audit_sampled) == ("auto_approve", True, False)
    publication = Publication.objects.get(brief=brief)
    assert publication.revision.draft_id == card.best_draft_id


@pytest.mark.django_db(transaction=True)
def test_a_risky_claim_needs_the_named_reviewer_group() -> None:
    ws = factories.workspace()
    evaluation_settings_set(workspace_id=ws.pk, auto_approve=True)
    brief = gated_brief(ws, audit_rate=0.0, risk_reviewer_group="Compliance",
                        risk_patterns=[{"name": "health claim", "pattern": r"\bcures?\b"}],
                        rules=[r for r in gating.default_rules() if r["severity"] == "fail"])
    job = evaluated(brief, [ON_TOPIC + " Fresh compost cures tired soil."])
    card = GateDecision.objects.get(job=job)
    assert (card.decision, card.required_group, card.risks) == (
        "review", "Compliance", ["health claim"])
    assert approval_group_required(brief_id=brief.pk) == "Compliance"
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW


@pytest.mark.django_db(transaction=True)
def test_without_a_gate_the_brief_goes_to_review_unranked() -> None:
    ws = factories.workspace()
    brief = factories.brief(ws, submit=True)
    job = evaluated(brief, [ON_TOPIC])
    assert not GateDecision.objects.filter(job=job).exists()
    evaluation = Evaluation.objects.get(draft__job=job)
    assert (evaluation.passed, evaluation.rank, evaluation.findings) == (None, None, [])
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW


@pytest.mark.django_db(transaction=True)
def test_an_off_topic_variant_fails_the_gate_on_relevance() -> None:
    # Given the default gate and a brief about composting
    ws = factories.workspace()
    brief = gated_brief(ws, max_regenerations=0)
    # When one variant is on topic and the other is about something else entirely
    job = evaluated(brief, [ON_TOPIC, OFF_TOPIC])
    # Then the gate read the relevance score: the off-topic one failed on it, the other passed
    verdicts = {e.draft.text: (e.passed, [f["metric"] for f in e.findings])
                for e in Evaluation.objects.filter(draft__job=job).select_related("draft")}
    assert verdicts[ON_TOPIC][0] is True
    assert verdicts[OFF_TOPIC][0] is False and "relevance" in verdicts[OFF_TOPIC][1]


@pytest.mark.django_db(transaction=True)
def test_score_cards_over_the_api_and_in_admin(
    django_assert_num_queries: DjangoAssertNumQueries, root: Client,
) -> None:
    # Given a gated brief regenerated once for a banned term, then sent to review
    ws = factories.workspace()
    brief = gated_brief(ws, max_regenerations=1)
    first = evaluated(brief, [BUZZWORDS, LEAKY])
    second = evaluated(brief, [ON_TOPIC])
    viewer = factories.member(ws, "reviewer")
    # When a workspace member reads the brief's score cards
    request = APIRequestFactory().get(f"/api/v1/briefs/{brief.pk}/scorecards/",
                                      HTTP_X_WORKSPACE=str(ws.pk))
    force_authenticate(request, user=viewer)
    with django_assert_num_queries(5):  # membership, brief, cards, jobs, drafts with scores
        response = BriefScoreCardsApi.as_view()(request, brief_id=brief.pk)
    # Then the history is there, newest first, with each job's variants ranked
    assert response.status_code == 200
    cards = response.data
    assert [(c["job_id"], c["decision"], c["passed"]) for c in cards] == [
        (second.pk, "review", True), (first.pk, "regenerate", False)]
    # (the leaky variant scores higher, so its reason leads; one reason per failing metric)
    assert cards[1]["reasons"] == [
        "email addresses found (none allowed): ann.lee@example.org",
        "payment card numbers found (none allowed): 4111 1111 1111 1111",
        "banned terms found (none allowed): synergy",
    ]
    assert [(v["variant"], v["rank"], v["passed"]) for v in cards[1]["variants"]] == [
        (1, 1, False), (0, 2, False)]
    # And another workspace's member is told it does not exist
    outsider_ws = factories.workspace()
    outsider = factories.member(outsider_ws, "reviewer")
    request = APIRequestFactory().get("/", HTTP_X_WORKSPACE=str(outsider_ws.pk))
    force_authenticate(request, user=outsider)
    assert BriefScoreCardsApi.as_view()(request, brief_id=brief.pk).status_code == 404

    # When a superuser opens the failing variant's evaluation in admin
    evaluation = Evaluation.objects.get(draft__job=first, draft__variant=1)
    page = root.get(f"/admin/evaluation/evaluation/{evaluation.pk}/change/").content.decode()
    # Then its score card and the brief's gate history read in plain words
    assert "Rank 1: failed a hard check." in page
    assert "<li>fail: email addresses found (none allowed): ann.lee@example.org</li>" in page
    assert (f"<li>job {first.pk}: regenerated (regeneration 0) — email addresses found (none "
            "allowed): ann.lee@example.org; " in page)


@pytest.mark.django_db
def test_fingerprints_are_stored_once_and_replaced_on_a_model_change() -> None:
    ws = factories.workspace()
    revision = factories.brief_in_review(ws, scores=(0.5,)).drafts.get().revisions.get()
    piece = PublishedPiece(piece_id=revision.pk, embedding=(0.6, 0.8), signature=(1, 2, 3))
    for model in ("a", "a", "b"):
        fingerprints_store(workspace_id=ws.pk, pieces=[piece], embedding_model=model)
        assert TextFingerprint.objects.filter(revision=revision).count() == 1
    stored = TextFingerprint.objects.get(revision=revision)
    assert stored.embedding_model == "b"
    assert np.frombuffer(bytes(stored.signature), dtype="<u8").tolist() == [1, 2, 3]
    assert np.frombuffer(bytes(stored.embedding), dtype="<f4").tolist() == pytest.approx([0.6, 0.8])


@pytest.mark.django_db
def test_published_pieces_are_read_by_language_whatever_the_tags_case_or_region(
        django_assert_num_queries: DjangoAssertNumQueries) -> None:
    # Given published revisions in English ("EN-gb") and Chinese ("zh-CN") and one not sent out;
    # the English one and the unsent one fingerprinted with model "m"
    ws = factories.workspace()
    english, chinese, unsent = (
        factories.brief_in_review(ws, scores=(0.5,), language=tag).drafts.get().revisions.get()
        for tag in ("EN-gb", "zh-CN", "en"))
    DraftRevision.objects.filter(pk__in=[english.pk, chinese.pk]).update(went_out=True)
    fingerprints_store(workspace_id=ws.pk, embedding_model="m", pieces=[
        PublishedPiece(piece_id=r.pk, embedding=(0.6, 0.8), signature=(1, 2, 3))
        for r in (english, unsent)])
    # Then English has nothing left to fingerprint, and Chinese its one piece
    assert selectors.published_texts_unindexed(
        workspace_id=ws.pk, embedding_model="m", language="en") == []
    assert selectors.published_texts_unindexed(
        workspace_id=ws.pk, embedding_model="m", language="zh") == [(chinese.pk, chinese.text)]
    # And the stored English piece is read as matrices, in one query
    with django_assert_num_queries(1):
        pieces = selectors.published_pieces(workspace_id=ws.pk, embedding_model="m")
    assert pieces.piece_ids == (english.pk,)
    assert pieces.vectors.shape == (1, 2)
    assert pieces.vectors[0].tolist() == pytest.approx([0.6, 0.8])
    assert pieces.signatures.tolist() == [[1, 2, 3]]
    # And the signatures a language's edit is checked against are that language's alone
    signatures = selectors.published_signatures(workspace_id=ws.pk, language="en-US")
    assert (signatures.piece_ids, signatures.vectors.shape) == ((english.pk,), (1, 0))
    assert len(selectors.published_signatures(workspace_id=ws.pk, language="zh")) == 0
