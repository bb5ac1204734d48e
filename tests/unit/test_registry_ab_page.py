"""The registry page's A/B test and retrain schedule: admins see a profile's candidate compared
with its version (gate, reviewers, edits, engagement, each with its count and interval),
promote from there, set or end a candidate, and set the retrain schedule; other roles are
refused, and bad input is a form error."""

from __future__ import annotations

import re

import pytest

from apps.accounts.models import Role
from apps.core.models import AuditEvent, Workspace
from apps.datasets.models import RetrainPolicy
from apps.datasets.services import dataset_create
from apps.generation.models import ModelProfile
from apps.generation.registry import model_profile_candidate_set
from tests import factories
from tests.clients import logged_in
from tests.unit.test_model_ab import registered_version
from tests.unit.test_model_comparison import simulate

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER])
def test_other_roles_cannot_test_candidates_or_schedule_retrains(ws: Workspace, role: str
                                                                 ) -> None:
    version = registered_version(ws, 1)
    profile = factories.model_profile(ws, name="House")
    dataset = dataset_create(workspace=ws, name="Feedback")
    client = logged_in(factories.member(ws, role))
    assert client.post(f"/models/profiles/{profile.pk}/candidate/",
                       {"version": version.pk, "share": 0.5}).status_code == 403
    assert client.post("/models/retrain-policy/", {
        "enabled": "on", "approved_threshold": 3, "dataset": dataset.pk, "profile": profile.pk,
        "candidate_share": 0.2}).status_code == 403
    profile.refresh_from_db()
    assert profile.candidate_version_id is None and not RetrainPolicy.objects.exists()


def test_the_ab_table_shows_each_version_with_counts_and_promotes_the_candidate(
        ws: Workspace, django_assert_max_num_queries) -> None:
    # given a profile on v1 testing v2 on half of 12 simulated briefs
    plan, profile_id = simulate(ws, briefs=12, seed=5)
    profile = ModelProfile.objects.get(pk=profile_id)
    v2 = profile.candidate_version
    client = logged_in(factories.member(ws, Role.ADMIN))
    # when an admin opens the registry (the comparison's eight queries added)
    with django_assert_max_num_queries(23):
        page = text(client.get("/models/"))
    # then the test's table has a row per version: its jobs, and each figure's count
    assert f"A/B test: {profile.name}" in page
    table = page[page.index('id="ab-title"'):page.index('id="retrain-title"')]
    rows = re.findall(r'<th scope="row">(v\d)(?: <span class="state">candidate</span>)?</th>'
                      r"<td>(\d+)</td>", table)
    assert rows == [("v2", str(len(plan[v2.pk]))),
                    ("v1", str(sum(len(p) for p in plan.values()) - len(plan[v2.pk])))]
    assert table.count('class="hint">n=') == 8 and "candidate</span>" in table
    assert re.search(r"\d+ % <span class=\"hint\">\(\d+–\d+ %\)</span>", table)
    # and only the candidate, which the profile does not run, has a Promote button
    assert table.count("Promote</button>") == 1
    assert f'action="/models/{v2.pk}/promote/"' in table
    assert f'<input type="hidden" name="profile" value="{profile.pk}">' in table
    # when it is promoted from there, the profile runs it and the test ends
    response = client.post(f"/models/{v2.pk}/promote/", {"profile": profile.pk})
    assert response["Location"] == "/models/"
    profile.refresh_from_db()
    assert (profile.model, profile.candidate_version_id) == (v2.folder, None)
    assert 'id="ab-title"' not in text(client.get("/models/"))


def test_an_admin_sets_and_ends_a_candidate_and_bad_input_is_a_form_error(
        ws: Workspace) -> None:
    v1, v2 = registered_version(ws, 1), registered_version(ws, 2)
    profile = factories.model_profile(ws, name="House", model=v1.folder)
    theirs = registered_version(factories.workspace(name="Other"), 1)
    client = logged_in(factories.member(ws, Role.ADMIN))
    path = f"/models/profiles/{profile.pk}/candidate/"
    # a share above 1, the version it runs, another workspace's version: form errors
    for data, reason in (({"version": v2.pk, "share": 1.5}, "less than or equal to 1"),
                         ({"version": v1.pk, "share": 0.5}, "already runs version 1"),
                         ({"version": theirs.pk, "share": 0.5}, "Select a valid choice")):
        refused = client.post(path, data)
        assert refused.status_code == 400 and reason in text(refused), text(refused)
    profile.refresh_from_db()
    assert profile.candidate_version_id is None
    # a good one starts the test, the page says so
    response = client.post(path, {"version": v2.pk, "share": 0.25})
    assert response["Location"] == "/models/"
    profile.refresh_from_db()
    assert (profile.candidate_version_id, profile.candidate_share) == (v2.pk, 0.25)
    page = text(client.get("/models/"))
    assert "House tries version 2 on 25% of its briefs." in page and "v2 on 25 %" in page
    # and no version ends it
    client.post(path, {"version": "", "share": 0})
    profile.refresh_from_db()
    assert (profile.candidate_version_id, profile.candidate_share) == (None, 0.0)
    # another workspace's profile is not found
    their_profile = factories.model_profile(theirs.workspace)
    assert client.post(f"/models/profiles/{their_profile.pk}/candidate/",
                       {"version": v2.pk, "share": 0.5}).status_code == 404


def test_an_admin_sets_the_retrain_schedule_and_bad_input_is_a_form_error(
        ws: Workspace) -> None:
    dataset = dataset_create(workspace=ws, name="Feedback")
    profile = factories.model_profile(ws, name="House")
    base = registered_version(ws, 1)
    admin = factories.member(ws, Role.ADMIN)
    client = logged_in(admin)
    good = {"enabled": "on", "approved_threshold": 20, "dataset": dataset.pk,
            "profile": profile.pk, "base_version": base.pk, "candidate_share": 0.2,
            "parameters": '{"steps": 50}'}
    # N of 0, parameters fine-tuning does not take, a share the service refuses
    for change, reason in (({"approved_threshold": 0}, "greater than or equal to 1"),
                           ({"parameters": '{"n_layer": 2}'}, "Unknown parameter"),
                           ({"parameters": "{steps"}, "Not valid JSON"),
                           ({"candidate_share": 0}, "share must be above 0")):
        refused = client.post("/models/retrain-policy/", {**good, **change})
        assert refused.status_code == 400 and reason in text(refused), text(refused)
    assert not RetrainPolicy.objects.exists()
    # a good schedule is saved, audited, and shown on the page as set
    response = client.post("/models/retrain-policy/", good)
    assert response["Location"] == "/models/"
    policy = RetrainPolicy.objects.get(workspace=ws)
    assert (policy.approved_threshold, policy.dataset_id, policy.profile_id,
            policy.base_version_id, policy.candidate_share, policy.training_parameters) == (
        20, dataset.pk, profile.pk, base.pk, 0.2, {"steps": 50})
    assert AuditEvent.objects.filter(action="retrain_policy.set", actor=admin).count() == 1
    page = text(client.get("/models/"))
    assert "The retrain schedule is saved." in page
    assert 'name="approved_threshold" value="20"' in page
    assert "{&quot;steps&quot;: 50}" in page
    # a candidate already tested keeps its table beside the schedule
    model_profile_candidate_set(profile=profile, version=base, share=0.5)
    assert 'id="ab-title"' in text(client.get("/models/"))
