"""A CMS that holds a post until its time (`schedule_on_target`): through the publish task
against the local Ghost peer."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.briefs.models import BriefState
from apps.core.errors import DomainError
from apps.core.models import OutboxEvent
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.services import publication_retry
from apps.publishing.targets import target_config_validate, target_create
from apps.publishing.tasks import publish
from tests import factories
from tests.peers.content import approved_publications
from tests.peers.ghost import GhostPeer

POSTS = "/ghost/api/admin/posts/"


def _ghost(ws, ghost: GhostPeer, **config: object):
    return target_create(workspace=ws, name="Ghost", kind=TargetKind.GHOST,
                         config={"url": ghost.url, **config}, secret=ghost.admin_key)


def _in(delta: timedelta) -> datetime:
    return timezone.now().replace(microsecond=0) + delta


def _held_until(ghost: GhostPeer, when: datetime, **brief: object) -> Publication:
    """A publication approved for `when` to a Ghost target that holds a post until its time."""
    ws = factories.workspace()
    [publication] = approved_publications(ws, _ghost(ws, ghost, schedule_on_target=True),
                                          publish_at=when, **brief)
    return publication


@pytest.mark.django_db(transaction=True)
def test_a_future_publication_is_handed_to_ghost_at_once_as_scheduled():
    when = _in(timedelta(days=2))
    with GhostPeer() as ghost:
        publication = _held_until(ghost, when)

        state = publish(publication.pk)  # the task sent on approval, two days early
        again = publish(publication.pk)

    publication.refresh_from_db()
    [post] = ghost.posts.values()
    assert (state, again) == (PublicationState.PUBLISHED, None)
    assert (post["status"], datetime.fromisoformat(post["published_at"])) == ("scheduled", when)
    assert (publication.state, publication.external_id, publication.published_at) == (
        PublicationState.PUBLISHED, post["id"], when)
    event = OutboxEvent.objects.get(type="publication.published", subject_id=publication.pk)
    assert event.payload["scheduled_for"] == when.isoformat()
    assert publication.brief.state == BriefState.PUBLISHED  # nothing left for the platform


@pytest.mark.django_db(transaction=True)
def test_without_the_flag_or_too_near_its_time_a_publication_waits_for_its_time():
    ws = factories.workspace()
    with GhostPeer() as ghost:
        [plain] = approved_publications(ws, _ghost(ws, ghost), publish_at=_in(timedelta(days=2)))
        [near] = approved_publications(ws, _ghost(ws, ghost, schedule_on_target=True),
                                       publish_at=_in(timedelta(minutes=4)), title="Worm bins")

        results = (publish(plain.pk), publish(near.pk))

    assert results == (None, None)
    assert ghost.posts == {}


@pytest.mark.django_db(transaction=True)
def test_a_failed_handover_keeps_the_time_and_the_post_goes_out_then_not_before():
    when = _in(timedelta(hours=6))
    with GhostPeer() as ghost:
        publication = _held_until(ghost, when)
        ghost.fail("POST", POSTS, status=503)

        first = publish(publication.pk)
        redispatched = publish(publication.pk)  # the backoff's countdown ran out
        publication.refresh_from_db()

    assert (first, redispatched) == (PublicationState.SCHEDULED, None)
    assert (publication.state, publication.scheduled_at, publication.attempts) == (
        PublicationState.SCHEDULED, when, 1)
    assert ghost.posts == {}


@pytest.mark.django_db(transaction=True)
def test_a_manual_retry_of_a_failed_handover_keeps_its_time():
    when = _in(timedelta(hours=6))
    with GhostPeer() as ghost:
        publication = _held_until(ghost, when, title=" ")
        failed = publish(publication.pk)  # Ghost refuses a blank title: permanent
        publication.refresh_from_db()
        publication_retry(publication=publication)
        retried = publish(publication.pk)

    publication.refresh_from_db()
    assert (failed, retried) == (PublicationState.FAILED, None)
    assert (publication.state, publication.scheduled_at) == (PublicationState.SCHEDULED, when)


@pytest.mark.parametrize(("kind", "config", "message"), [
    (TargetKind.MASTODON, {"url": "https://social.example", "schedule_on_target": True},
     "Only WordPress and Ghost targets hold a post until its time ('schedule_on_target')."),
    (TargetKind.GHOST, {"url": "https://blog.example", "schedule_on_target": "yes"},
     "A target's 'schedule_on_target' is true or false."),
    (TargetKind.WORDPRESS, {"url": "https://blog.example", "schedule_on_target": True,
                            "status": "draft"},
     "A target with 'schedule_on_target' publishes: its 'status' cannot be 'draft'."),
])
def test_schedule_on_target_is_checked_with_the_config(kind, config, message):
    with pytest.raises(DomainError) as refused:
        target_config_validate(kind, config)

    assert str(refused.value) == message
