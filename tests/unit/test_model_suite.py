"""The registry's evaluation suite: a version writes the fixed test briefs of the workspace's
languages on a generation worker, each draft scored and gated; the means and the gate pass
rate land in the version's metrics (the compare API shows them); a run is asked for over
the API, cancelled, and finished by the reconciler when no worker will; what it writes counts
in the workspace's monthly budget, and a spent budget refuses it."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command
from django.utils import timezone

from aigc_platform.recovery import reconcile
from apps.accounts.models import Role
from apps.core.models import Workspace
from apps.core.realtime import admins_group
from apps.evaluation.models import QualityGate
from apps.generation.models import (
    GenerationQuota,
    ModelVersion,
    SuiteRun,
    TrainingState,
)
from apps.generation.services import budget_left
from apps.generation.suite import (
    suite_run_after_training,
    suite_run_cancel,
    suite_run_claim,
    suite_run_create,
    suite_run_record,
    suite_run_spent,
)
from apps.workflow.model_suite import SUITE_TOKENS, suite_briefs
from tests import factories
from tests.clients import client_for, logged_in
from tests.generation_fixtures import receive_all
from workers.generation.types import GeneratedText
from workers.tasks.generation import evaluate_version

pytestmark = pytest.mark.django_db


def registered(ws: Workspace, number: int = 1) -> ModelVersion:
    """A version as a finished run registers it."""
    return factories.model_version(ws, number, metrics={"heldout_perplexity_after": 40.0})


def trained_version(ws: Workspace, models_dir, number: int = 1) -> ModelVersion:
    """A registered version whose folder holds the tiny model."""
    version = registered(ws, number)
    shutil.copytree(models_dir / "builtin",
                    models_dir / "workspaces" / str(ws.pk) / version.folder)
    return version


# The tests that run the suite through the worker's task are transactional: the batcher's
# thread beats the run's heartbeat on a connection of its own, so the run's rows must be
# committed for it to see them, as a worker's are (inside the test's transaction, a beat
# waited on its lock, and failed the run).
@pytest.mark.django_db(transaction=True)
def test_a_version_writes_the_test_briefs_and_records_its_scores_and_gate_pass_rate(
        ws, admin, models_dir) -> None:
    # given a version of a workspace writing English, and another one to compare it with
    version, other = trained_version(ws, models_dir), trained_version(ws, models_dir, 2)
    # when the suite runs on it through the generation worker's task
    run = suite_run_create(version=version)
    assert evaluate_version.apply(args=(run.pk,)).get() == "recorded"
    # then each English test brief was written in at most SUITE_TOKENS tokens, scored and
    # gated by the default gate (the workspace has none)
    run.refresh_from_db()
    assert run.state == TrainingState.SUCCEEDED
    assert [r["brief"] for r in run.results] == ["compost", "library-hours", "winter-cycling"]
    for result in run.results:
        assert result["text"] and 0 < result["tokens"] <= SUITE_TOKENS
        assert result["decision"] in ("pass", "review", "fail")
        assert result["passed"] == (result["decision"] != "fail")
        assert -1 <= result["relevance"] <= 1 and 0 <= result["score"] <= 1
    # and the version's metrics hold the means and the gate pass rate beside its perplexity
    version.refresh_from_db()
    suite = version.metrics["suite"]
    assert version.metrics["heldout_perplexity_after"] == 40.0
    assert (suite["briefs"], suite["languages"], suite["run_id"]) == (3, ["en"], run.pk)
    assert suite["gate_pass_rate"] == round(sum(r["passed"] for r in run.results) / 3, 4)
    assert suite["score"] == round(sum(r["score"] for r in run.results) / 3, 4)
    assert suite["tokens"] == sum(r["tokens"] for r in run.results)
    # and what it wrote counts in the workspace's monthly usage, as a job's tokens do
    assert run.completion_tokens == suite["tokens"] and run.prompt_tokens > 0
    assert run.device_seconds > 0
    usage = client_for(admin).get("/api/v1/usage/").json()["budget"]
    assert usage["tokens_used"] == run.prompt_tokens + run.completion_tokens
    assert usage["device_seconds_used"] == pytest.approx(run.device_seconds)
    # and the seeds are fixed: the same weights write the same drafts on demand
    again = client_for(admin).post(f"/api/v1/model-versions/{other.pk}/evaluate/")
    assert again.status_code == 202, again.content
    assert evaluate_version.apply(args=(again.json()["id"],)).get() == "recorded"
    other.refresh_from_db()
    assert [r["text"] for r in SuiteRun.objects.get(version=other).results] == [
        r["text"] for r in run.results]
    # and the compare API puts the two side by side with their suite figures
    compared = client_for(admin).get("/api/v1/model-versions/compare/",
                                     {"ids": f"{version.pk},{other.pk}"}).json()
    assert [c["metrics"]["suite"]["score"] for c in compared] == [suite["score"]] * 2
    # and so does the Models page
    page = logged_in(admin).get("/models/", {"compare": [version.pk, other.pk]})
    assert page.content.decode().count(f"<td>{suite['score']:.3f}</td>") == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_tells_the_workspace_live_where_it_stands(
        ws, admin, models_dir) -> None:
    # given a version, and the workspace's admins' sockets listening (the Models page), and
    # every member's
    version = trained_version(ws, models_dir)
    channel, members = (async_to_sync(get_channel_layer().new_channel)() for _ in range(2))
    async_to_sync(get_channel_layer().group_add)(admins_group(ws.pk), channel)
    async_to_sync(get_channel_layer().group_add)(f"workspace.{ws.pk}", members)
    # when its suite runs, and then a second run is asked for and cancelled
    run = suite_run_create(version=version)
    assert evaluate_version.apply(args=(run.pk,)).get() == "recorded"
    second = SuiteRun.objects.create(version=version)  # queued, its message not sent
    suite_run_cancel(version=version, actor=admin)  # its event is relayed as it commits
    # then the admins' pages heard it start, each test brief written, its end, and the cancel
    heard = [(m["event"]["data"]["suite_run_id"], m["event"]["data"]["state"],
              m["event"]["data"]["briefs_done"], m["event"]["data"]["briefs"])
             for m in receive_all(channel) if m["event"]["type"] == "suite.progress"]
    assert heard == [(run.pk, "running", 0, 3), (run.pk, "running", 1, 3),
                     (run.pk, "running", 2, 3), (run.pk, "running", 3, 3),
                     (run.pk, "succeeded", 3, 3), (second.pk, "cancelled", 0, 0)]
    # and only the admins did: the registry is theirs
    assert [m for m in receive_all(members) if m["event"]["type"] == "suite.progress"] == []


@pytest.mark.django_db(transaction=True)
def test_the_briefs_follow_the_workspace_languages_and_the_gate_is_the_workspace_s(
        ws, models_dir) -> None:
    assert [b["language"] for b in suite_briefs(workspace_id=ws.pk)] == ["en"] * 3
    chinese = factories.content_type(ws, language="zh-CN")
    assert [b["language"] for b in suite_briefs(workspace_id=ws.pk)] == ["zh-CN"] * 3
    factories.content_type(ws, language="en-GB")
    assert len(suite_briefs(workspace_id=ws.pk)) == 6
    # a gate that fails every draft: none passes it
    ws_gate = QualityGate.objects.create(workspace=ws, name="Strict", content_type=chinese,
                                         rules=[{"metric": "length", "min": 10_000,
                                                 "severity": "fail"}])
    version = trained_version(ws, models_dir)
    run = suite_run_create(version=version)
    assert evaluate_version.apply(args=(run.pk,)).get() == "recorded"
    version.refresh_from_db()
    assert version.metrics["suite"]["languages"] == ["en", "zh-CN"]
    assert version.metrics["suite"]["gate_pass_rate"] == 0.0
    assert all("length" in " ".join(r["reasons"]) for r in SuiteRun.objects.get(
        pk=run.pk).results)
    ws_gate.delete()


def test_runs_are_asked_for_cancelled_and_finished_by_the_reconciler(ws, admin, editor
                                                                    ) -> None:
    version = registered(ws)
    url = f"/api/v1/model-versions/{version.pk}/evaluate/"
    api = client_for(admin)
    # an admin asks for a run; a second one waits for the first to end
    asked = api.post(url)
    assert (asked.status_code, asked.json()["state"]) == (202, "queued")
    assert api.post(url).json() == {"detail": "Version 1 is being evaluated already; cancel "
                                              "that run first."}
    assert api.get(url).json()["id"] == asked.json()["id"]
    # an editor, or another workspace's admin, reaches none of it
    assert client_for(editor).post(url).status_code == 403
    assert client_for(factories.member(factories.workspace(), Role.ADMIN)).post(
        url).status_code == 404
    # a cancelled run is skipped by the worker that receives it; cancelling twice is refused
    cancelled = api.delete(url)
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert evaluate_version.apply(args=(asked.json()["id"],)).get() == "skipped"
    assert api.delete(url).status_code == 409
    # a run whose worker went silent, and one no worker took within an hour, are failed by
    # the reconciler with the reason; the silent worker's late results are not recorded
    lost = suite_run_create(version=version)
    assert suite_run_claim(run_id=lost.pk, worker_id="w1") is not None
    SuiteRun.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    waiting = SuiteRun.objects.create(version=registered(ws, 2))
    SuiteRun.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert reconcile()["suites_failed"] == 2
    lost.refresh_from_db()
    waiting.refresh_from_db()
    assert (lost.state, lost.error) == ("failed", "Its worker stopped reporting (killed or "
                                                  "lost). Run it again.")
    assert waiting.state == "failed" and "within an hour" in waiting.error
    assert suite_run_record(run_id=lost.pk, worker_id="w1", results=[], summary={}) is None
    version.refresh_from_db()
    assert "suite" not in version.metrics
    # though what it wrote was spent all the same: it counts in the month's usage
    suite_run_spent(run_id=lost.pk, worker_id="w1", written=[GeneratedText(
        variant=0, text="Late", seed=1, prompt_tokens=20, completion_tokens=8, model_name="m",
        device_s=0.5)])
    lost.refresh_from_db()
    assert (lost.prompt_tokens, lost.completion_tokens, lost.device_seconds) == (20, 8, 0.5)


def test_a_spent_budget_refuses_a_run_over_the_api_the_cli_and_after_training(ws, admin
                                                                            ) -> None:
    # given a run that wrote 900 tokens in 4 device seconds, and caps a little above that
    version = registered(ws)
    SuiteRun.objects.create(version=version, state=TrainingState.SUCCEEDED, prompt_tokens=600,
                            completion_tokens=300, device_seconds=4.0)
    quota = GenerationQuota.objects.create(workspace=ws, monthly_tokens=1_000,
                                           monthly_device_seconds=10.0)
    left = budget_left(workspace_id=ws.pk)
    assert (left.tokens, left.device_seconds) == (100, 6.0)
    # when the month's tokens are spent, then a run is refused with the reason
    quota.monthly_tokens = 900
    quota.save()
    url = f"/api/v1/model-versions/{version.pk}/evaluate/"
    refused = client_for(admin).post(url)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("This workspace used its monthly budget of "
                                               "tokens")
    with pytest.raises(CommandError, match="monthly budget of tokens"):
        call_command("model", "evaluate", ws.slug, "1")
    # and so it is when its device seconds are spent instead
    quota.monthly_tokens, quota.monthly_device_seconds = None, 4.0
    quota.save()
    assert client_for(admin).post(url).status_code == 429
    assert SuiteRun.objects.filter(version=version).count() == 1
    # and a version a training run writes is kept, its suite run failed with the reason
    after = suite_run_after_training(version=registered(ws, 2))
    assert (after.state, after.error.split(" (")[0]) == (
        "failed", "This workspace used its monthly budget of device seconds")
