"""A publishing worker killed mid-post (SIGKILL, no chance to clean up) still publishes once.

Real processes on the real broker and database, and two Standard Webhooks
receivers on 127.0.0.1 that keep the worker waiting: one before it stores the
post (the post never arrived), one after (the post arrived, the answer never
left). The worker holding both deliveries is killed; a replacement of the same
shape starts, with the beat the killed one carried, and its
`publishing.dispatch_due` finds both publications stuck in `publishing` past the
stale threshold and sends them again. Every delivery carries the publication's
idempotency key as its `webhook-id`, so the receiver that had stored the post
answers with that post instead of making a second: each target ends with one post.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction

from aigc_platform.celery import app as celery_app
from aigc_platform.processes import (
    CPU_QUEUES,
    IO_QUEUES,
    ManagedProcess,
    database_url,
    worker_command,
)
from aigc_platform.stack import WORKER_READY, platform_running
from apps.accounts.models import Role
from apps.briefs.models import BriefState, ContentBrief
from apps.core.models import AuditEvent, Workspace
from apps.generation.models import Draft
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.targets import target_create
from apps.workflow.services import review_approve
from tests import factories
from tests.clients import wait_until
from tests.peers.webhooks import WebhookReceiver

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_" + base64.b64encode(b"publishing-recovery-secret-32-b!").decode()
# The production 120 s limit, 600 s threshold and 15 s beat, scaled down so the test
# takes seconds; a delivery to a receiver on this host answers in milliseconds.
TIME_LIMIT_S = 12
STALE_AFTER_S = 15
DISPATCH_INTERVAL_S = 1


@pytest.fixture
def platform(django_db_blocker, tmp_path: Path
             ) -> Iterator[tuple[list[ManagedProcess], dict[str, str], Path]]:
    with django_db_blocker.unblock():
        db_url = database_url(connection.settings_dict)
    env = {"DATABASE_URL": db_url, "AIGC_PUBLISH_DIR": str(tmp_path / "published"),
           "AIGC_PUBLISH_TIME_LIMIT_S": str(TIME_LIMIT_S),
           "AIGC_PUBLISH_STALE_AFTER_S": str(STALE_AFTER_S),
           "AIGC_PUBLISH_DISPATCH_INTERVAL_S": str(DISPATCH_INTERVAL_S)}
    celery_app.control.purge()
    with platform_running(env=env, log_dir=tmp_path / "logs", timeout=180) as processes:
        yield processes, env, tmp_path / "logs"


def approved_for(ws: Workspace, targets: list[PublishingTarget]) -> ContentBrief:
    """A brief taken through generation, scoring and review by the services, approved for
    `targets`, in one transaction: the follow-up tasks go out after commit and find nothing
    left to do but publishing, so the running workers cannot race these steps."""
    with transaction.atomic():
        brief = factories.brief_in_review(ws, scores=(0.8,))
        review_approve(brief=brief, draft_id=Draft.objects.get(brief=brief).pk,
                       reviewer=factories.member(ws, Role.REVIEWER, username="rita"),
                       target_ids=[t.pk for t in targets])
    return brief


def trail(publication_id: int) -> list[tuple[str, str]]:
    """The publication's audit entries: action and who (a worker's name without its host)."""
    entries = AuditEvent.objects.filter(subject_type="publication", subject_id=publication_id)
    return [(e.action, e.actor_label.split("@")[0]) for e in entries.order_by("id")]


def test_a_worker_killed_mid_publish_leaves_each_post_published_once(platform) -> None:
    processes, env, logs = platform
    # worker-cpu-io consumes the publishing queue and runs beat
    io = next(p for p in processes if p.name == "worker-cpu-io")
    with WebhookReceiver(secret=SECRET) as unreached, WebhookReceiver(secret=SECRET) as stored:
        # given two webhook targets whose receivers hold their first delivery open,
        # one before storing the post, one after
        unreached.hold_next(after_storing=False)
        stored.hold_next(after_storing=True)
        ws = factories.workspace()
        targets = [target_create(workspace=ws, name=name, kind=TargetKind.WEBHOOK,
                                 config={"url": receiver.url + receiver.path}, secret=SECRET)
                   for name, receiver in (("Unreached", unreached), ("Stored", stored))]
        # and an approved brief whose publications the worker is sending to both
        brief = approved_for(ws, targets)
        keys = [str(Publication.objects.get(brief=brief, target=t).idempotency_key)
                for t in targets]
        assert unreached.holding.wait(60) and stored.holding.wait(60)
        assert (unreached.posts, list(stored.posts)) == ({}, [keys[1]])
        # when that worker is killed outright
        io.kill()
        # and a replacement of the same shape starts
        replacement = ManagedProcess(
            "worker-cpu-io-2", worker_command("worker-cpu-io-2", CPU_QUEUES + IO_QUEUES,
                                              pool="threads", concurrency=4, beat=True),
            env, logs / "worker-cpu-io-2.log").start()
        try:
            replacement.wait_for_log(WORKER_READY, 120)
            # then beat sends both again once stale, and each is published on its second attempt
            states = wait_until(
                lambda: sorted(Publication.objects.filter(brief=brief)
                               .values_list("state", "attempts")),
                lambda s: s == [(PublicationState.PUBLISHED, 2)] * 2, 60, "both published")
        finally:
            replacement.stop()
    assert states == [(PublicationState.PUBLISHED, 2)] * 2
    brief.refresh_from_db()
    assert brief.state == BriefState.PUBLISHED
    for receiver, target, key in zip((unreached, stored), targets, keys, strict=True):
        # and each receiver got both deliveries with the same webhook-id, and stored one post
        assert [r.headers["webhook-id"] for r in receiver.requests] == [key, key]
        assert list(receiver.posts) == [key]
        publication = Publication.objects.get(brief=brief, target=target)
        assert (publication.external_id, publication.external_url, publication.last_error) == (
            "post-1", f"{receiver.url}/posts/1", "")
        # and the audit trail shows the dead worker's attempt handed back by the sweeper
        assert trail(publication.pk) == [
            ("publication.scheduled", "rita"),
            ("publication.publishing", "worker-cpu-io"),
            ("publication.scheduled", "sweeper"),
            ("publication.publishing", "worker-cpu-io-2"),
            ("publication.published", "worker-cpu-io-2"),
        ]
        requeue = AuditEvent.objects.get(subject_type="publication", subject_id=publication.pk,
                                         action="publication.scheduled", actor_label="sweeper")
        assert requeue.after["last_error"] == "The worker stopped while publishing."
