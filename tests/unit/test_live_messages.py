"""Live progress, never stored, reaches a page in the shape of the relayed outbox events."""

from __future__ import annotations

import threading

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.core.models import OutboxEvent
from apps.core.realtime import broadcast
from apps.core.relay import outbox_relay
from apps.generation.models import TrainingKind, TrainingRun
from apps.generation.running import loss_sender
from apps.generation.training import training_run_claim, training_run_fail
from tests import factories
from tests.generation_fixtures import receive_all

pytestmark = pytest.mark.django_db


def test_a_loss_and_the_runs_relayed_event_arrive_in_one_shape():
    # given a running training run and its workspace's dashboard listening
    created = TrainingRun.objects.create(workspace=factories.workspace(),
                                         kind=TrainingKind.FINETUNE)
    run = training_run_claim(run_id=created.pk, worker_id="gpu-1")
    channel = async_to_sync(get_channel_layer().new_channel)()
    async_to_sync(get_channel_layer().group_add)(f"workspace.{run.workspace_id}", channel)
    # when the worker reports a loss, then the run fails and its event is relayed
    on_loss, flush = loss_sender(run, "gpu-1")
    on_loss(10, 3.5)
    flush()
    training_run_fail(run_id=run.pk, error="out of memory")
    outbox_relay(event_id=OutboxEvent.objects.get(type="training.failed").pk)
    # then both arrive in one shape, the relayed one with its outbox id first
    progress, relayed = [m["event"] for m in receive_all(channel)]
    assert (progress["type"], relayed["type"]) == ("training.progress", "training.failed")
    assert list(progress) == ["type", "subject", "data", "at"]
    assert list(relayed) == ["id", *progress]
    assert progress["subject"] == relayed["subject"] == {"type": "trainingrun", "id": run.pk}
    assert progress["data"] == {"training_run_id": run.pk, "step": 10, "loss": 3.5}
    assert relayed["data"]["training_run_id"] == run.pk


def test_a_worker_thread_sends_live_events_over_the_connections_it_already_has(broker):
    # given a worker-like thread (no event loop of its own) that has sent once
    client = redis.Redis.from_url(broker)
    channel = async_to_sync(get_channel_layer().new_channel)()
    async_to_sync(get_channel_layer().group_add)("workspace.1", channel)

    def send(count: int) -> None:
        for step in range(count):
            broadcast(["workspace.1"], {"type": "job.progress", "data": {"step": step}})

    first = threading.Thread(target=send, args=(1,))
    first.start()
    first.join()
    before = client.info("stats")["total_connections_received"]
    # when it sends 50 more events
    sender = threading.Thread(target=send, args=(50,))
    sender.start()
    sender.join()
    # then every event arrived, and the layer opened no new connection for them
    assert len(receive_all(channel)) == 51
    assert client.info("stats")["total_connections_received"] - before <= 1


def test_progress_sent_without_waiting_keeps_its_order_before_a_waited_event():
    # given a page listening to a job and to its workspace's admins, and a decoding thread
    # that hands its progress over unwaited, to one group then the other
    channel = async_to_sync(get_channel_layer().new_channel)()
    for group in ("job.7", "workspace.1.admins"):
        async_to_sync(get_channel_layer().group_add)(group, channel)

    def stream() -> None:
        for step in range(200):
            group = "job.7" if step % 2 else "workspace.1.admins"
            broadcast([group], {"type": "job.progress", "data": {"step": step}}, wait=False)

    decoder = threading.Thread(target=stream)
    decoder.start()
    decoder.join()
    # when another thread then sends the job's outcome and waits for it
    broadcast(["job.7"], {"type": "job.succeeded", "data": {}})
    # then every update arrived, in order across the two groups, and the outcome last
    events = [m["event"] for m in receive_all(channel)]
    assert [e["data"].get("step") for e in events[:-1]] == list(range(200))
    assert events[-1]["type"] == "job.succeeded"
