"""Scheduling, cancelling, rate limits, the circuit breaker and engagement, through the
publish task against a local Mastodon peer (engagement against a Ghost peer as well)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.briefs.models import BriefState
from apps.core.errors import DomainError, IllegalTransition
from apps.core.models import OutboxEvent
from apps.publishing.feedback import engagement_pull
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.services import publication_cancel, publication_reschedule
from apps.publishing.targets import BREAKER_PAUSE, BREAKER_THRESHOLD, target_create
from apps.publishing.tasks import dispatch_due, publish
from tests import factories
from tests.peers.content import approved_publications, backoff_elapses
from tests.peers.ghost import GhostPeer
from tests.peers.mastodon import MastodonPeer

TOKYO = ZoneInfo("Asia/Tokyo")
STATUSES = "/api/v1/statuses"


def _mastodon(ws, peer: MastodonPeer, name: str = "Social", **fields):
    target = target_create(workspace=ws, name=name, kind=TargetKind.MASTODON,
                           config={"url": peer.url}, secret="peer-token")
    if fields:
        type(target).objects.filter(pk=target.pk).update(**fields)
        target.refresh_from_db()
    return target


@pytest.mark.django_db(transaction=True)
def test_a_post_scheduled_in_another_time_zone_goes_out_when_due_not_before():
    ws = factories.workspace()
    tomorrow_in_tokyo = timezone.now().astimezone(TOKYO) + timedelta(days=1)
    with MastodonPeer() as peer:
        [publication] = approved_publications(ws, _mastodon(ws, peer),
                                              publish_at=tomorrow_in_tokyo)
        early = publish(publication.pk)  # the task sent on approval: not due yet
        dispatched_early = dispatch_due()
        publication_reschedule(publication=publication, publish_at=timezone.now())
        on_time = publish(publication.pk)

    publication.refresh_from_db()
    assert (early, dispatched_early, on_time) == (None, 0, PublicationState.PUBLISHED)
    assert len(peer.statuses) == 1
    assert publication.brief.state == BriefState.PUBLISHED


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_or_postponed_publication_is_never_sent_by_its_old_task():
    ws = factories.workspace()
    with MastodonPeer() as peer:
        cancelled, = approved_publications(ws, _mastodon(ws, peer))
        postponed, = approved_publications(ws, _mastodon(ws, peer, name="Other"))
        publication_cancel(publication=cancelled)
        later = timezone.now() + timedelta(hours=3)
        publication_reschedule(publication=postponed, publish_at=later)

        results = (publish(cancelled.pk), publish(postponed.pk), dispatch_due())

    cancelled.refresh_from_db()
    postponed.refresh_from_db()
    assert results == (None, None, 0)
    assert peer.statuses == {}
    assert cancelled.state == PublicationState.CANCELLED
    assert (postponed.state, postponed.scheduled_at) == (PublicationState.SCHEDULED, later)
    with pytest.raises(IllegalTransition):
        publication_reschedule(publication=cancelled, publish_at=later)
    with pytest.raises(DomainError, match="time zone"):
        publication_reschedule(publication=postponed, publish_at=datetime(2030, 1, 1, 9))


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_target_spreads_a_burst_instead_of_failing_it():
    ws = factories.workspace()
    with MastodonPeer() as peer:
        target = _mastodon(ws, peer, min_interval_s=600)
        first, = approved_publications(ws, target)
        second, = approved_publications(ws, target, title="Worm bins")

        started = timezone.now()
        states = (publish(first.pk), publish(second.pk))

    second.refresh_from_db()
    assert states == (PublicationState.PUBLISHED, None)
    assert len(peer.statuses) == 1
    assert (second.state, second.attempts) == (PublicationState.SCHEDULED, 0)
    wait = (second.scheduled_at - started).total_seconds()
    assert 599 <= wait <= 605


@pytest.mark.django_db(transaction=True)
def test_repeated_failures_open_the_circuit_and_a_success_closes_it():
    ws = factories.workspace()
    with MastodonPeer() as peer:
        target = _mastodon(ws, peer)
        failing, = approved_publications(ws, target)
        waiting, = approved_publications(ws, target, title="Worm bins")
        peer.fail("POST", STATUSES, status=503, times=BREAKER_THRESHOLD)
        for _ in range(BREAKER_THRESHOLD):  # one publication's attempts, up to giving up
            publish(failing.pk)
            backoff_elapses(failing)
        target.refresh_from_db()
        paused = (target.consecutive_failures, target.paused_until, target.pause_reason)
        held = publish(waiting.pk)
        type(target).objects.filter(pk=target.pk).update(paused_until=timezone.now())
        backoff_elapses(waiting)
        recovered = publish(waiting.pk)
        target.refresh_from_db()

    assert paused[0] == BREAKER_THRESHOLD
    assert paused[1] - timezone.now() > BREAKER_PAUSE - timedelta(seconds=30)
    assert paused[2].startswith("5 failures in a row; last: The target answered HTTP 503")
    assert OutboxEvent.objects.filter(type="target.paused", subject_id=target.pk).count() == 1
    assert Publication.objects.get(pk=failing.pk).state == PublicationState.FAILED
    assert held is None
    assert recovered == PublicationState.PUBLISHED
    assert (target.consecutive_failures, target.paused_until) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_the_brief_is_published_when_its_other_publications_are_cancelled():
    ws = factories.workspace()
    with MastodonPeer() as peer:
        sent, dropped = approved_publications(ws, _mastodon(ws, peer, "A"), _mastodon(ws, peer, "B"))
        publication_cancel(publication=dropped)
        publish(sent.pk)

    sent.refresh_from_db()
    assert sent.brief.state == BriefState.PUBLISHED


@pytest.mark.parametrize(("peer_class", "kind", "secret", "reactions", "engagement"), [
    pytest.param(MastodonPeer, TargetKind.MASTODON, lambda peer: "peer-token",
                 {"favourites": 4, "reblogs": 1, "replies": 2},
                 {"likes": 4, "shares": 1, "replies": 2}, id="mastodon"),
    pytest.param(GhostPeer, TargetKind.GHOST, lambda peer: peer.admin_key,
                 {"clicks": 7, "signups": 2, "paid_conversions": 1},
                 {"clicks": 7, "signups": 2, "paid_conversions": 1}, id="ghost"),
])
@pytest.mark.django_db(transaction=True)
def test_engagement_is_pulled_into_the_publication(peer_class, kind, secret, reactions,
                                                   engagement):
    ws = factories.workspace()
    with peer_class() as peer:
        target = target_create(workspace=ws, name="Site", kind=kind, config={"url": peer.url},
                               secret=secret(peer))
        [publication] = approved_publications(ws, target)
        publish(publication.pk)
        publication.refresh_from_db()
        peer.react(publication.external_id, **reactions)
        pulled = engagement_pull()

    publication.refresh_from_db()
    assert pulled == 1
    assert publication.engagement == engagement
    assert Publication.objects.get(pk=publication.pk).engagement_at is not None
