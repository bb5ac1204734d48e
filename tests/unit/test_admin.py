"""The Django admin: every model lists and opens, states move only through service actions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Role
from apps.briefs.models import BriefState, ContentBrief
from apps.core.crypto import secret_decrypt
from apps.core.models import AuditEvent
from apps.datasets.models import Dataset, DatasetImport, DatasetVersion, ImportSource
from apps.evaluation.models import (
    GateDecision,
    GateOutcome,
    QualityGate,
    WorkspaceEvaluationSettings,
)
from apps.generation.models import GenerationQuota, JobState
from apps.publishing.models import Publication, PublicationState, PublishingTarget
from apps.publishing.services import publication_claim, publication_fail
from apps.publishing.targets import target_create
from apps.reviews.models import ApprovalPolicy
from apps.workflow.services import review_approve, review_reject
from tests import factories

pytestmark = pytest.mark.django_db

OUR_APPS = {"core", "accounts", "briefs", "generation", "evaluation", "reviews", "publishing",
            "notifications", "datasets"}
MODELS = {
    (model._meta.app_label, model._meta.model_name): model
    for model in admin.site._registry
    if model._meta.app_label in OUR_APPS
}
OUR_MODELS = sorted(MODELS)


def published_round(ws, name: str) -> Publication:
    """A brief in review, approved by a reviewer to a file target, whose publishing failed."""
    brief = factories.brief_in_review(ws, title=name)
    reviewer = factories.member(ws, Role.REVIEWER)
    target = target_create(workspace=ws, name=f"{name} site", kind="file",
                           config={"folder": "site"})
    review_approve(brief=brief, draft_id=brief.drafts.first().pk, reviewer=reviewer,
                   target_ids=[target.pk])
    publication = publication_claim(publication_id=brief.publications.get().pk, worker_id="io1")
    return publication_fail(publication=publication, error="HTTP 503 from the CMS")


def review_round(ws, name: str) -> None:
    """A brief in review with a policy, a comment, an assignee (notified), a lock and a guest link."""
    brief = factories.brief_in_review(ws, title=f"{name} in review")
    reviewer = factories.member(ws, Role.REVIEWER)
    ApprovalPolicy.objects.create(content_type=brief.content_type, approvals_required=2,
                                  escalate_to=reviewer)
    factories.review_underway(brief, reviewer, note="Looks fine.", guest="Clara")


def gate_round(ws, name: str) -> None:
    """A quality gate on a content type, the workspace's gate settings and one gate decision."""
    brief = factories.brief_in_review(ws, title=f"{name} gated")
    QualityGate.objects.create(workspace=ws, name=f"{name} gate", content_type=brief.content_type)
    WorkspaceEvaluationSettings.objects.get_or_create(workspace=ws)
    GateDecision.objects.create(workspace=ws, job=brief.jobs.get(), brief=brief,
                                decision=GateOutcome.REVIEW, passed=True)


def every_model_in(ws, name: str) -> None:
    factories.model_profile(ws, name=f"{name} model")
    GenerationQuota.objects.get_or_create(workspace=ws)
    factories.model_version(ws)
    dataset = Dataset.objects.create(workspace=ws, name=f"{name} archive")
    DatasetImport.objects.create(dataset=dataset, source=ImportSource.UPLOAD, label="a.txt",
                                 documents=1)
    DatasetVersion.objects.create(dataset=dataset, workspace=ws, number=1)
    ws.style_guides.create(name=f"{name} style", tone="warm")
    published_round(ws, name)
    review_round(ws, name)
    gate_round(ws, name)


def _changelist_queries(client: Client, app: str, model: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/{app}/{model}/")
    assert response.status_code == 200, (app, model)
    return len(queries)


def test_every_model_is_registered():
    assert OUR_MODELS == [
        ("accounts", "membership"), ("briefs", "contentbrief"), ("briefs", "contenttype"),
        ("briefs", "styleguide"), ("core", "auditevent"), ("core", "outboxevent"),
        ("core", "workspace"), ("datasets", "dataset"), ("datasets", "datasetversion"),
        ("evaluation", "evaluation"), ("evaluation", "gatedecision"),
        ("evaluation", "qualitygate"), ("evaluation", "workspaceevaluationsettings"),
        ("generation", "draft"),
        ("generation", "generationjob"), ("generation", "generationquota"),
        ("generation", "modelprofile"), ("generation", "modelversion"),
        ("generation", "trainingrun"),
        ("notifications", "notification"), ("publishing", "publication"),
        ("publishing", "publishingtarget"), ("reviews", "approvalpolicy"),
        ("reviews", "draftrevision"), ("reviews", "editlock"), ("reviews", "guestlink"),
        ("reviews", "review"), ("reviews", "reviewassignment"), ("reviews", "reviewcomment"),
    ]


def test_changelists_render_in_a_fixed_number_of_queries(ws, root):
    # given one row of every model
    every_model_in(ws, "First")
    with_one = {m: _changelist_queries(root, *m) for m in OUR_MODELS}
    # when there are three rounds
    for name in ("Second", "Third"):
        published_round(ws, name)
        review_round(ws, name)
    with_three = {m: _changelist_queries(root, *m) for m in OUR_MODELS}
    # then every changelist renders with the same number of queries (no N+1)
    assert with_three == with_one


def test_change_pages_render(ws, root):
    # given one row of every model
    every_model_in(ws, "Only")
    # when the superuser opens each one's change page
    statuses = {
        (app, model): root.get(
            f"/admin/{app}/{model}/{MODELS[app, model].objects.order_by('pk').first().pk}/change/"
        ).status_code
        for app, model in OUR_MODELS
    }
    # then every page renders
    assert statuses == dict.fromkeys(OUR_MODELS, 200)


def _act(client: Client, path: str, action: str, ids: list[int]) -> list[tuple[str, str]]:
    response = client.post(path, {"action": action, "_selected_action": ids}, follow=True)
    assert response.status_code == 200
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_cancel_action_cancels_a_queued_brief_and_reports_an_illegal_one(ws, root):
    # given a queued brief and a rejected one
    queued = factories.brief(ws, title="Queued", submit=True)
    rejected = factories.brief_in_review(ws, title="Rejected")
    review_reject(brief=rejected, reviewer=factories.member(ws, Role.REVIEWER))
    # when the admin cancels both
    reported = _act(root, "/admin/briefs/contentbrief/", "cancel_briefs",
                    [queued.pk, rejected.pk])
    # then the queued one and its job are cancelled; the other is refused with the reason
    queued.refresh_from_db()
    rejected.refresh_from_db()
    assert queued.state == BriefState.CANCELLED
    assert queued.jobs.get().state == JobState.CANCELLED
    assert rejected.state == BriefState.REJECTED
    assert sorted(reported) == sorted([
        ("success", "Queued: cancelled."),
        ("error", f"Rejected: Brief {rejected.pk} cannot go from 'rejected' to 'cancelled'."),
    ])


def test_submit_action_queues_a_draft_brief(ws, root):
    draft = factories.brief(ws, title="Fresh")
    reported = _act(root, "/admin/briefs/contentbrief/", "submit_briefs", [draft.pk])
    draft.refresh_from_db()
    assert draft.state == BriefState.QUEUED
    assert draft.jobs.get().state == JobState.QUEUED
    assert reported == [("success", "Fresh: submitted.")]


def test_job_cancel_action_cancels_the_brief_and_refuses_a_finished_job(ws, root):
    # given a queued job and a succeeded one
    queued = factories.brief(ws, title="Queued", submit=True).jobs.get()
    finished = factories.brief_in_review(ws, title="Done").jobs.get()
    # when the admin cancels both
    reported = _act(root, "/admin/generation/generationjob/", "cancel_jobs",
                    [queued.pk, finished.pk])
    # then the queued one is cancelled with its brief; the finished one is left alone
    queued.refresh_from_db()
    finished.refresh_from_db()
    assert queued.state == JobState.CANCELLED
    assert ContentBrief.objects.get(pk=queued.brief_id).state == BriefState.CANCELLED
    assert finished.state == JobState.SUCCEEDED
    assert sorted(reported) == sorted([
        ("success", f"{queued}: cancelled."),
        ("error", f"{finished}: This job has already ended (succeeded)."),
    ])


def test_retry_action_reschedules_a_failed_publication(ws, root):
    failed = published_round(ws, "Flaky")
    reported = _act(root, "/admin/publishing/publication/", "retry_publications", [failed.pk])
    failed.refresh_from_db()
    assert failed.state == PublicationState.SCHEDULED
    assert reported == [("success", f"{failed}: scheduled again.")]
    # a second retry is refused: it is no longer failed
    again = _act(root, "/admin/publishing/publication/", "retry_publications", [failed.pk])
    assert again == [("error", f"{failed}: Publication {failed.pk} cannot go from "
                               "'scheduled' to 'scheduled'.")]


def test_state_cannot_be_edited_in_a_form(ws, root):
    # given a draft brief
    brief = factories.brief(ws, title="Draft one")
    path = f"/admin/briefs/contentbrief/{brief.pk}/change/"
    assert b'name="state"' not in root.get(path).content
    # when a crafted post sets its state
    form = root.get(path).context["adminform"].form
    data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
    data.update({"state": BriefState.PUBLISHED, "title": "Renamed",
                 "keywords": '["compost"]', "reference_texts": "[]"})
    for prefix in ("jobs", "drafts", "publications"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = root.post(path, data)
    # then the other fields change, the state does not
    assert response.status_code == 302
    brief.refresh_from_db()
    assert (brief.title, brief.state) == ("Renamed", BriefState.DRAFT)


def test_adding_a_brief_goes_through_the_service(ws, root):
    ct = factories.content_type(ws)
    response = root.post("/admin/briefs/contentbrief/add/", {
        "workspace": ws.pk, "title": "From admin", "content_type": ct.pk, "topic": "mulch",
        "keywords": '["mulch"]', "reference_texts": "[]", "target_length": 80, "variants": 2,
        "language": "en", "priority": 0,
    })
    assert response.status_code == 302
    brief = ContentBrief.objects.get(title="From admin")
    assert brief.state == BriefState.DRAFT
    assert AuditEvent.objects.filter(action="brief.created", subject_id=brief.pk).exists()


def test_target_secret_is_write_only(ws, root):
    # when a target is added with a secret
    response = root.post("/admin/publishing/publishingtarget/add/", {
        "workspace": ws.pk, "name": "CMS", "kind": "webhook",
        "config": '{"url": "http://127.0.0.1:9/hook"}', "enabled": "on", "auto_publish": "on",
        "secret": "whsec_dG9wc2VjcmV0",
    })
    # then it is stored encrypted and never shown again
    assert response.status_code == 302
    target = PublishingTarget.objects.get(name="CMS")
    assert secret_decrypt(target.secret_encrypted) == "whsec_dG9wc2VjcmV0"
    page = root.get(f"/admin/publishing/publishingtarget/{target.pk}/change/").content.decode()
    assert "whsec_dG9wc2VjcmV0" not in page
    assert target.secret_encrypted not in page
    assert 'name="secret"' in page


def test_target_config_is_validated(ws, root):
    response = root.post("/admin/publishing/publishingtarget/add/", {
        "workspace": ws.pk, "name": "Bad", "kind": "webhook", "config": "{}",
    })
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["config"] == [
        "A webhook target needs an http(s) 'url' in its config."]


def test_members_see_only_their_workspaces(ws):
    # and an editor of one workspace, and briefs in it and in another
    editor = factories.member(ws, Role.EDITOR)
    mine = factories.brief(ws, title="Mine")
    theirs = factories.brief(factories.workspace(), title="Theirs")
    client = Client()
    client.force_login(editor)
    # when they open the briefs changelist and the other brief
    listing = client.get("/admin/briefs/contentbrief/")
    other = client.get(f"/admin/briefs/contentbrief/{theirs.pk}/change/")
    # then they see only their own
    assert listing.status_code == 200
    assert [b.pk for b in listing.context["cl"].result_list] == [mine.pk]
    assert other.status_code == 302  # the admin's "does not exist" redirect


def test_members_act_and_pick_only_within_their_workspaces(ws):
    # given an editor and a queued brief of theirs
    editor = factories.member(ws, Role.EDITOR)
    queued = factories.brief(ws, title="Queued", submit=True)
    factories.workspace(name="Someone else's")
    client = Client()
    client.force_login(editor)
    # when they open the add form and cancel their brief
    choices = client.get("/admin/briefs/contentbrief/add/").context["adminform"].form.fields[
        "workspace"].queryset
    reported = _act(client, "/admin/briefs/contentbrief/", "cancel_briefs", [queued.pk])
    # then only their workspace is offered, and the cancel went through the service
    assert list(choices) == [ws]
    assert reported == [("success", "Queued: cancelled.")]
    queued.refresh_from_db()
    assert queued.state == BriefState.CANCELLED


@pytest.mark.parametrize("config,message", [
    ("[" * 2000 + "]" * 2000, "nests deeper than"),
    ('{"url": "http://127.0.0.1/h\\u0000"}', "NUL character"),
])
def test_deep_or_nul_json_in_an_admin_form_is_a_form_error(ws, root, config, message):
    # JSON Python would recurse on, or a NUL the database refuses, typed into any JSON field
    response = root.post("/admin/publishing/publishingtarget/add/", {
        "workspace": ws.pk, "name": "Bad", "kind": "webhook", "config": config,
    })
    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors["config"][0]
    assert not ws.targets.exists()
