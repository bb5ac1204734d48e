"""The Training page: runs listed with one run's loss chart, a start form for admins only,
bad input shown on the form."""

from __future__ import annotations

import json

import pytest

from apps.accounts.models import Role
from apps.generation.models import TrainingKind, TrainingRun, TrainingState
from apps.generation.training import training_run_claim, training_run_record_losses
from tests import factories
from tests.clients import logged_in
from workers.generation.progress import LossPoint

pytestmark = pytest.mark.django_db

PAGE = "/training/"


def running_run(ws, points: list) -> TrainingRun:
    run = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.FINETUNE)
    training_run_claim(run_id=run.pk, worker_id="gpu-1")
    training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                               points=[LossPoint(step, loss) for step, loss in points])
    return run


def chart_points(response) -> list:
    html = response.content.decode()
    start = html.index('<script id="loss-points" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_members_see_the_runs_and_the_newest_runs_recorded_losses(ws):
    # given an older finished run and a running one with two losses stored
    older = TrainingRun.objects.create(workspace=ws, kind=TrainingKind.TRAIN,
                                       state=TrainingState.FAILED, error="out of memory")
    run = running_run(ws, [[10, 3.5], [20, 3.1]])
    reviewer = factories.member(ws, Role.REVIEWER)
    # when a reviewer opens the page
    response = logged_in(reviewer).get(PAGE)
    # then it lists both runs and charts the newest, without the start form
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="?run={older.pk}"' in html and f'href="?run={run.pk}"' in html
    assert f'data-training-chart data-run-id="{run.pk}"' in html
    assert f'data-run-url="/api/v1/training-runs/{run.pk}/"' in html
    assert chart_points(response) == [[10, 3.5], [20, 3.1]]
    assert "step 20: loss 3.1000" in html
    assert "Start training" not in html
    assert 'href="/training/"' in html  # the nav links the page
    # and another run is charted when asked for
    response = logged_in(reviewer).get(PAGE, {"run": older.pk})
    assert chart_points(response) == []
    assert "out of memory" in response.content.decode()


def test_the_page_without_runs_has_no_chart(ws, admin):
    response = logged_in(admin).get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "No training runs yet." in html and "data-training-chart" not in html
    assert "Start training" in html


def test_an_admin_starts_a_run_and_sees_its_chart(ws, admin):
    client = logged_in(admin)
    response = client.post(PAGE, {"kind": "finetune", "parameters": '{"steps": 40}'})
    run = TrainingRun.objects.get(workspace=ws)
    assert (response.status_code, response["Location"]) == (302, f"/training/?run={run.pk}")
    assert (run.kind, run.state, run.parameters) == ("finetune", "queued", {"steps": 40})
    page = client.get(response["Location"])
    assert f"Training run {run.pk} is queued." in page.content.decode()
    assert f'data-run-id="{run.pk}"' in page.content.decode()


def test_empty_parameters_train_with_the_defaults(ws, admin):
    response = logged_in(admin).post(PAGE, {"kind": "train", "parameters": ""})
    assert response.status_code == 302
    assert TrainingRun.objects.get(workspace=ws).parameters == {}


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER])
def test_only_admins_start_runs(ws, role):
    member = factories.member(ws, role)
    response = logged_in(member).post(PAGE, {"kind": "finetune", "parameters": ""})
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()


def test_a_run_of_another_workspace_is_not_found_and_outsiders_are_refused(ws, admin):
    theirs = TrainingRun.objects.create(workspace=factories.workspace(), kind=TrainingKind.TRAIN)
    assert logged_in(admin).get(PAGE, {"run": theirs.pk}).status_code == 404
    outsider = factories.member(factories.workspace(), Role.ADMIN)
    running_run(ws, [[10, 1.0]])
    response = logged_in(outsider).get(PAGE)
    assert response.status_code == 200
    assert "data-training-chart" not in response.content.decode()  # their own, empty workspace
    # and an id that is none shows the newest run, never a server error
    for raw in ("99999999999999999999999", "1" * 5000, "²", "-1", "x"):
        assert logged_in(admin).get(PAGE, {"run": raw}).status_code == 200, raw[:10]


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "finetune", "parameters": "{steps: 40}"},
     "Not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2"),
    ({"kind": "finetune", "parameters": "[40]"},
     "A JSON object of parameters, e.g. {&quot;steps&quot;: 200}."),
    ({"kind": "finetune", "parameters": '{"steps": -1}'},
     "&#x27;steps&#x27; must be a whole number from 1 to 1,000,000."),
    ({"kind": "finetune", "parameters": '{"n_layer": 2}'},
     "Unknown parameter &#x27;n_layer&#x27; for finetune"),
    ({"kind": "distil", "parameters": ""}, "Select a valid choice. distil is not one of the "
                                          "available choices."),
])
def test_bad_input_is_shown_on_the_form(ws, admin, data, message):
    response = logged_in(admin).post(PAGE, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TrainingRun.objects.exists()
