"""A training run's loss curve is stored while it trains (bounded) and streamed live."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.generation.models import TrainingKind, TrainingRun, TrainingState
from apps.generation.running import loss_sender
from apps.generation.training import (
    LOSS_CURVE_MAX_POINTS,
    TrainingStopped,
    training_run_claim,
    training_run_fail,
    training_run_record_losses,
)
from tests import factories
from tests.generation_fixtures import receive_all
from workers.generation.progress import LossPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    created = TrainingRun.objects.create(workspace=factories.workspace(),
                                         kind=TrainingKind.FINETUNE)
    return training_run_claim(run_id=created.pk, worker_id="gpu-1")


def curve(run: TrainingRun) -> list:
    return TrainingRun.objects.get(pk=run.pk).loss_curve


def test_points_are_appended_while_the_run_is_this_workers(run):
    assert training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                                      points=[LossPoint(10, 3.5)])
    assert training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                                      points=[LossPoint(20, 3.25), LossPoint(30, 3.0)])
    assert curve(run) == [[10, 3.5], [20, 3.25], [30, 3.0]]
    # another worker's points, or points after the run ended, are not stored
    assert not training_run_record_losses(run_id=run.pk, worker_id="gpu-2",
                                          points=[LossPoint(40, 1.0)])
    training_run_fail(run_id=run.pk, error="out of memory")
    with pytest.raises(TrainingStopped, match="out of memory"):  # its worker stops there
        training_run_record_losses(run_id=run.pk, worker_id="gpu-1", points=[LossPoint(40, 1.0)])
    assert curve(run) == [[10, 3.5], [20, 3.25], [30, 3.0]]


def test_a_full_curve_drops_every_other_point_and_keeps_the_latest(run):
    # given a curve at its cap
    full = [LossPoint(step, 1.0) for step in range(1, LOSS_CURVE_MAX_POINTS + 1)]
    training_run_record_losses(run_id=run.pk, worker_id="gpu-1", points=full)
    assert len(curve(run)) == LOSS_CURVE_MAX_POINTS
    # when one more point comes
    training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                               points=[LossPoint(LOSS_CURVE_MAX_POINTS + 1, 0.5)])
    # then the curve keeps its whole span at half the density
    stored = curve(run)
    assert len(stored) == LOSS_CURVE_MAX_POINTS // 2 + 1
    assert (stored[0], stored[1], stored[-1]) == ([1, 1.0], [3, 1.0],
                                                  [LOSS_CURVE_MAX_POINTS + 1, 0.5])


def test_a_run_claimed_again_keeps_its_curve_up_to_the_steps_it_reports_again(run):
    # given a worker that reported up to step 30 and died after its checkpoint of step 20
    training_run_record_losses(run_id=run.pk, worker_id="gpu-1",
                               points=[LossPoint(10, 3.5), LossPoint(20, 3.4), LossPoint(30, 3.3)])
    TrainingRun.objects.filter(pk=run.pk).update(state=TrainingState.QUEUED)  # requeued
    training_run_claim(run_id=run.pk, worker_id="gpu-2")
    assert curve(run) == [[10, 3.5], [20, 3.4], [30, 3.3]]
    # when the next worker resumes from step 20, its points replace the dead attempt's
    training_run_record_losses(run_id=run.pk, worker_id="gpu-2", points=[LossPoint(30, 3.2)])
    assert curve(run) == [[10, 3.5], [20, 3.4], [30, 3.2]]
    # and a run that starts over from step 0 replaces the whole curve
    training_run_record_losses(run_id=run.pk, worker_id="gpu-2", points=[LossPoint(10, 3.6)])
    assert curve(run) == [[10, 3.6]]


def test_the_workers_loss_sender_stores_each_point_and_streams_them(run):
    # given the workspace's dashboard listening
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"workspace.{run.workspace_id}", channel)
    # when the engine reports three losses in quick succession and training ends
    on_loss, flush = loss_sender(run, "gpu-1")
    on_loss(10, 3.51234)
    on_loss(20, 3.2)
    on_loss(30, 2.9)
    flush()
    # then every point is stored, and the first and the last went out live
    assert curve(run) == [[10, 3.5123], [20, 3.2], [30, 2.9]]
    events = [m["event"] for m in receive_all(channel)]
    assert [(e["type"], e["subject"], e["data"]) for e in events] == [
        ("training.progress", {"type": "trainingrun", "id": run.pk},
         {"training_run_id": run.pk, "step": 10, "loss": 3.5123}),
        ("training.progress", {"type": "trainingrun", "id": run.pk},
         {"training_run_id": run.pk, "step": 30, "loss": 2.9}),
    ]
