"""Every edge of every lifecycle: legal ones move and leave a trace, illegal ones refuse."""

from __future__ import annotations

import itertools

import pytest

from apps.briefs.models import BRIEF_MACHINE, BriefState
from apps.core.errors import IllegalTransition
from apps.core.models import AuditEvent, OutboxEvent
from apps.core.services import transition
from apps.generation.models import JOB_MACHINE, Draft, GenerationJob, JobState
from apps.generation.services import job_create
from apps.publishing.models import PUBLICATION_MACHINE, Publication, PublicationState
from apps.publishing.targets import target_create
from apps.reviews.services import revision_latest
from tests import factories

pytestmark = pytest.mark.django_db


def _all_pairs(states):
    return [(a, b) for a, b in itertools.product(states, states) if a != b]


def _brief():
    ws = factories.workspace()
    return factories.brief(ws)


def _job():
    brief = _brief()
    return job_create(brief=brief)


def _publication():
    job = _job()
    draft = Draft.objects.create(job=job, brief=job.brief, variant=0, text="t", model_name="m",
                                 seed=1)
    target = target_create(workspace=job.brief.workspace, name="files", kind="file",
                           config={"folder": "site"})
    return Publication.objects.create(workspace=job.brief.workspace, brief=job.brief,
                                      revision=revision_latest(draft), target=target)


# The lifecycles, written out edge by edge: the machines must allow exactly these.
BRIEF_EDGES = {
    ("draft", "queued"), ("draft", "cancelled"),
    ("queued", "generating"), ("queued", "failed"), ("queued", "cancelled"),
    ("generating", "in_review"), ("generating", "failed"), ("generating", "cancelled"),
    ("generating", "queued"),  # the quality gate asked for a rewrite
    ("in_review", "approved"), ("in_review", "changes_requested"), ("in_review", "rejected"),
    ("in_review", "cancelled"),
    ("changes_requested", "queued"), ("changes_requested", "cancelled"),
    ("approved", "scheduled"),
    ("scheduled", "published"), ("scheduled", "failed"), ("scheduled", "approved"),
    ("failed", "queued"),
}
JOB_EDGES = {
    ("queued", "running"), ("queued", "failed"), ("queued", "cancelled"),
    ("running", "evaluating"), ("running", "queued"), ("running", "failed"),
    ("running", "cancelled"),
    ("evaluating", "succeeded"), ("evaluating", "failed"), ("evaluating", "cancelled"),
}
PUBLICATION_EDGES = {
    ("pending", "scheduled"), ("pending", "cancelled"),
    ("scheduled", "publishing"), ("scheduled", "failed"), ("scheduled", "cancelled"),
    ("publishing", "published"), ("publishing", "failed"), ("publishing", "scheduled"),
    ("failed", "scheduled"), ("failed", "cancelled"),
    ("cancelled", "scheduled"),
    ("published", "withdrawn"),
}
CASES = [
    (BRIEF_MACHINE, BriefState.values, BRIEF_EDGES, _brief),
    (JOB_MACHINE, JobState.values, JOB_EDGES, _job),
    (PUBLICATION_MACHINE, PublicationState.values, PUBLICATION_EDGES, _publication),
]


@pytest.mark.parametrize(
    "machine,source,target,legal,make",
    [
        pytest.param(m, a, b, (a, b) in edges, make, id=f"{m.name}:{a}->{b}")
        for m, states, edges, make in CASES
        for a, b in _all_pairs(states)
    ],
)
def test_each_edge_is_taken_only_if_declared(machine, source, target, legal, make):
    # Given an object in `source`
    obj = make()
    type(obj).objects.filter(pk=obj.pk).update(state=source)
    obj.state = source
    audits, events = AuditEvent.objects.count(), OutboxEvent.objects.count()

    # When it is asked to go to `target`
    def move():
        return transition(obj, machine=machine, to=target, workspace_id=obj.workspace_id,
                          event_type=f"test.{target}", payload={})

    assert machine.allows(source, target) is legal
    if legal:
        move()
        # Then it moved, with one audit entry and one event saying so
        assert type(obj).objects.get(pk=obj.pk).state == target
        audit = AuditEvent.objects.order_by("-id").first()
        assert (audit.before, audit.after["state"]) == ({"state": source}, target)
        assert AuditEvent.objects.count() == audits + 1
        event = OutboxEvent.objects.order_by("-id").first()
        assert (event.type, event.payload["previous_state"]) == (f"test.{target}", source)
        assert OutboxEvent.objects.count() == events + 1
    else:
        # Then it refuses with a clear message and writes nothing
        with pytest.raises(IllegalTransition) as err:
            move()
        assert str(err.value) == f"{machine.name} {obj.pk} cannot go from '{source}' to '{target}'."
        assert type(obj).objects.get(pk=obj.pk).state == source
        assert (AuditEvent.objects.count(), OutboxEvent.objects.count()) == (audits, events)


def test_a_stale_instance_cannot_take_an_edge_twice():
    # Given two copies of the same queued job (two workers got the same message)
    job = _job()
    copy = GenerationJob.objects.get(pk=job.pk)
    transition(job, machine=JOB_MACHINE, to=JobState.RUNNING, workspace_id=job.workspace_id,
               event_type="test.running", payload={})
    # When the second copy tries the same edge, then it is refused
    with pytest.raises(IllegalTransition, match="cannot go from 'running' to 'running'"):
        transition(copy, machine=JOB_MACHINE, to=JobState.RUNNING,
                   workspace_id=copy.workspace_id, event_type="test.running", payload={})
