"""A/B between model versions: a profile routes a share of its briefs to a candidate version,
drawn per brief so a brief's regenerations stay with it; the job records the version and the
worker loads that version's folder; promoting the candidate ends the test."""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.generation.models import ModelProfile, ModelVersion
from apps.generation.registry import (
    model_profile_candidate_set,
    model_version_archive,
    model_version_promote,
)
from apps.generation.routing import ab_draw
from apps.generation.running import job_request
from apps.generation.services import job_create
from tests import factories
from tests.clients import client_for


def registered_version(ws: Workspace, number: int) -> ModelVersion:
    """A version as a finished run registers it (training itself is tested elsewhere)."""
    return factories.model_version(ws, number)


def test_the_draw_is_fixed_per_brief_and_near_the_share() -> None:
    # given 10,000 briefs of one profile
    draws = [ab_draw(profile_id=3, brief_id=b) for b in range(1, 10_001)]
    # then each draw repeats exactly, lies in [0, 1), and 30 % of them fall below 0.3
    assert draws == [ab_draw(profile_id=3, brief_id=b) for b in range(1, 10_001)]
    assert all(0 <= d < 1 for d in draws)
    assert abs(sum(d < 0.3 for d in draws) / len(draws) - 0.3) < 0.015
    # and another profile draws independently of this one
    other = [ab_draw(profile_id=4, brief_id=b) < 0.3 for b in range(1, 10_001)]
    assert sum(a == (d < 0.3) for a, d in zip(other, draws, strict=True)) < 6_000


@pytest.mark.django_db
def test_jobs_record_the_drawn_version_and_regenerations_keep_it(ws: Workspace) -> None:
    # given a profile on v1 testing v2 on 40 % of its briefs
    v1, v2 = registered_version(ws, 1), registered_version(ws, 2)
    profile = factories.model_profile(ws, model=v1.folder)
    ct = factories.content_type(ws, model_profile=profile)
    model_profile_candidate_set(profile=profile, version=v2, share=0.4)
    # when 60 briefs are submitted, then each submitted again (a regeneration's new job)
    briefs = [factories.brief(ws, ct=ct, submit=True) for _ in range(60)]
    again = {b.pk: job_create(brief=b).model_version_id for b in briefs}
    # then each job ran the version its draw picked, and the second job the same one
    for brief in briefs:
        expected = v2.pk if ab_draw(profile_id=profile.pk, brief_id=brief.pk) < 0.4 else v1.pk
        assert brief.jobs.order_by("id").first().model_version_id == expected == again[brief.pk]
    candidates = sum(v == v2.pk for v in again.values())
    assert 12 <= candidates <= 36  # 24 expected; a binomial(60, 0.4) stays within 3 sd
    # and the worker loads the candidate's folder for a candidate's job
    job = next(b.jobs.first() for b in briefs if again[b.pk] == v2.pk)
    assert job_request(job).model.endswith(f"workspaces/{ws.pk}/run-2")


@pytest.mark.django_db
def test_without_a_candidate_no_version_is_recorded(ws: Workspace) -> None:
    # given a profile on the built-in model, no test running
    ct = factories.content_type(ws, model_profile=factories.model_profile(ws))
    # then its jobs record no version and run the built-in model
    job = factories.brief(ws, ct=ct, submit=True).jobs.get()
    assert job.model_version_id is None
    assert job_request(job).model == "builtin"


@pytest.mark.django_db
def test_candidate_rules_and_promotion_ends_the_test(ws: Workspace) -> None:
    # given a profile on v1 and an archived v3
    v1, v2, v3 = (registered_version(ws, n) for n in (1, 2, 3))
    profile = factories.model_profile(ws, model=v1.folder)
    model_version_archive(version=v3)
    theirs = registered_version(factories.workspace(), 9)
    # then a share out of 0..1, an archived version, another workspace's version and the
    # version already running are refused, each with its reason
    for version, share, reason in ((v2, 1.5, "from 0 to 1"), (v3, 0.5, "archived"),
                                   (theirs, 0.5, "No model version"),
                                   (v1, 0.5, "already runs version 1")):
        with pytest.raises(DomainError, match=reason):
            model_profile_candidate_set(profile=profile, version=version, share=share)
    # when v2 is the candidate, it cannot be archived
    model_profile_candidate_set(profile=profile, version=v2, share=0.5)
    with pytest.raises(DomainError, match="in use by"):
        model_version_archive(version=v2)
    # and promoting it ends the test: the profile runs it, with no candidate left
    model_version_promote(version=v2, profile=profile)
    profile.refresh_from_db()
    assert (profile.model, profile.candidate_version_id, profile.candidate_share) == (
        "run-2", None, 0.0)


@pytest.mark.django_db
def test_the_candidate_api_sets_and_ends_a_test(ws: Workspace) -> None:
    # given a workspace admin and a profile on v1
    v1, v2 = registered_version(ws, 1), registered_version(ws, 2)
    profile = factories.model_profile(ws, model=v1.folder)
    api = client_for(factories.member(ws, Role.ADMIN))
    url = f"/api/v1/model-profiles/{profile.pk}/candidate/"
    # when v2 is set as candidate on a quarter of the briefs
    started = api.post(url, {"version_id": v2.pk, "share": 0.25}, format="json")
    # then the profile says so
    assert started.status_code == 200, started.content
    assert started.json() == {"id": profile.pk, "model": "run-1",
                              "candidate_version_id": v2.pk, "candidate_share": 0.25}
    # and bad input is a clear 400, not a 500
    bad = api.post(url, {"version_id": v2.pk, "share": 2}, format="json")
    assert bad.status_code == 400 and "share" in bad.json()
    # when the test is ended
    ended = api.post(url, {"version_id": None}, format="json")
    assert ended.json()["candidate_version_id"] is None
    assert ModelProfile.objects.get(pk=profile.pk).candidate_share == 0.0
