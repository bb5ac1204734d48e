"""The publish task end to end: an approved brief goes out to a signed webhook and a folder."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.briefs.models import BriefState
from apps.evaluation.services import evaluation_record
from apps.generation.models import Draft, GenerationJob
from apps.generation.services import job_claim, job_record_drafts
from apps.publishing.connectors import connector_for
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.outcomes import (
    BACKOFF_CAP_S,
    MAX_ATTEMPTS,
    RETRY_AFTER_CAP_S,
    retry_delay_s,
)
from apps.publishing.selectors import publish_item_for
from apps.publishing.services import publication_claim
from apps.publishing.targets import target_create
from apps.publishing.tasks import STALE_AFTER, dispatch_due, publish
from apps.workflow.services import review_approve
from tests import factories
from tests.factories import WEBHOOK_SECRET
from tests.http_peers import HttpPeer, Reply
from workers.evaluation.types import DraftScore
from workers.generation.types import GeneratedText

TEXT = "Composting turns kitchen scraps into soil. Start with a bucket and a shady corner."


def _approved(ws, *targets) -> list[Publication]:
    """A brief taken through generation, evaluation and review by the services, then approved."""
    brief = factories.brief(ws, submit=True, keywords=["compost", "garden"])
    job = GenerationJob.objects.get(brief=brief)
    job_claim(job_id=job.pk, worker_id="test-worker")
    job_record_drafts(job_id=job.pk, worker_id="test-worker", texts=[GeneratedText(
        variant=0, text=TEXT, seed=7, prompt_tokens=30, completion_tokens=16,
        model_name="hand-written")])
    draft = Draft.objects.get(job=job)
    evaluation_record(job_id=job.pk, scores=[DraftScore(
        draft_id=draft.pk, relevance=0.8, length_fit=0.9, score=0.85,
        embedding_model="hand-written")])
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    review_approve(brief=brief, draft_id=draft.pk, reviewer=factories.member(ws, "reviewer"),
                   target_ids=[t.pk for t in targets])
    return list(Publication.objects.filter(brief=brief).order_by("target_id"))


def _webhook_target(ws, peer: HttpPeer):
    return target_create(workspace=ws, name="CMS", kind=TargetKind.WEBHOOK,
                         config={"url": f"{peer.url}/hooks/content"}, secret=WEBHOOK_SECRET)


def _backoff_elapses(publication: Publication) -> None:
    Publication.objects.filter(pk=publication.pk).update(scheduled_at=timezone.now())


@pytest.fixture
def publish_dir(settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_an_approved_brief_is_published_to_a_webhook_and_a_folder_once(publish_dir):
    ws = factories.workspace()
    with HttpPeer(Reply(201, {"id": "cms-7", "url": "https://cms.example/p/7"})) as peer:
        webhook = _webhook_target(ws, peer)
        site = target_create(workspace=ws, name="Site", kind=TargetKind.FILE,
                             config={"folder": "site/posts", "base_url": "https://blog.example"})
        to_webhook, to_site = _approved(ws, webhook, site)

        states = [publish(to_webhook.pk), publish(to_site.pk)]
        again = [publish(to_webhook.pk), publish(to_site.pk)]

    assert states == [PublicationState.PUBLISHED, PublicationState.PUBLISHED]
    assert again == [None, None]
    to_webhook.refresh_from_db()
    to_site.refresh_from_db()
    assert (to_webhook.state, to_webhook.attempts, to_webhook.external_id,
            to_webhook.external_url) == ("published", 1, "cms-7", "https://cms.example/p/7")
    assert (to_site.state, to_site.attempts, to_site.external_id, to_site.external_url) == (
        "published", 1, "composting-at-home.md", "https://blog.example/composting-at-home")
    to_webhook.brief.refresh_from_db()
    assert to_webhook.brief.state == BriefState.PUBLISHED
    [request] = peer.requests
    assert request.headers["webhook-id"] == str(to_webhook.idempotency_key)
    event = Webhook(WEBHOOK_SECRET).verify(request.body, request.headers)
    assert (event["data"]["title"], event["data"]["body"], event["data"]["keywords"]) == (
        "Composting at home", TEXT, ["compost", "garden"])
    assert [p.name for p in (publish_dir / "site/posts").iterdir()] == ["composting-at-home.md"]


@pytest.mark.django_db(transaction=True)
def test_a_500_is_retried_after_a_backoff_and_succeeds_once():
    ws = factories.workspace()
    with HttpPeer(Reply(500, "upstream timeout"), Reply(200, {"id": "cms-8"})) as peer:
        [publication] = _approved(ws, _webhook_target(ws, peer))

        first = publish(publication.pk)
        publication.refresh_from_db()
        wait = publication.scheduled_at - timezone.now()
        early = publish(publication.pk)  # a delivery before the backoff ran out
        _backoff_elapses(publication)
        due = dispatch_due()  # beat finds it and enqueues it
        second = publish(publication.pk)

    assert (first, early, due, second) == ("scheduled", None, 1, "published")
    assert timedelta(seconds=14) < wait <= timedelta(seconds=30)  # attempt 1: 15-30 s
    publication.refresh_from_db()
    assert (publication.state, publication.attempts, publication.external_id,
            publication.last_error) == ("published", 2, "cms-8", "")
    ids = [r.headers["webhook-id"] for r in peer.requests]
    assert ids == [str(publication.idempotency_key)] * 2


@pytest.mark.django_db(transaction=True)
def test_a_429_waits_as_long_as_retry_after_says():
    ws = factories.workspace()
    with HttpPeer(Reply(429, {"message": "slow down"}, {"Retry-After": "120"})) as peer:
        [publication] = _approved(ws, _webhook_target(ws, peer))
        before = timezone.now()

        publish(publication.pk)

    publication.refresh_from_db()
    assert publication.state == "scheduled"
    assert publication.last_error == "The target answered HTTP 429 while delivering the post: slow down"
    wait = (publication.scheduled_at - before).total_seconds()
    assert 120 <= wait < 122


@pytest.mark.django_db(transaction=True)
def test_a_401_fails_the_publication_with_the_targets_message_pauses_it_and_stops():
    ws = factories.workspace()
    with HttpPeer(Reply(401, {"error": "unknown signing key"})) as peer:
        [publication] = _approved(ws, _webhook_target(ws, peer))

        state = publish(publication.pk)
        again = publish(publication.pk)
        due = dispatch_due()

    publication.refresh_from_db()
    assert (state, again, due) == ("failed", None, 0)
    assert (publication.state, publication.attempts, publication.last_error) == (
        "failed", 1, "The target refused our credentials while delivering the post (HTTP 401): "
        "unknown signing key The target is paused until its credentials are replaced.")
    assert publication.target.credentials_rejected is True
    assert len(peer.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_target_that_stays_down_fails_after_the_last_attempt():
    ws = factories.workspace()
    with HttpPeer(default=Reply(503, "down for maintenance")) as peer:
        [publication] = _approved(ws, _webhook_target(ws, peer))

        states = []
        for _ in range(MAX_ATTEMPTS):
            states.append(publish(publication.pk))
            _backoff_elapses(publication)

    assert states == ["scheduled"] * (MAX_ATTEMPTS - 1) + ["failed"]
    publication.refresh_from_db()
    assert (publication.state, publication.attempts, publication.last_error) == (
        "failed", MAX_ATTEMPTS, f"Gave up after {MAX_ATTEMPTS} attempts. Last error: "
        "The target answered HTTP 503 while delivering the post: down for maintenance")
    assert len(peer.requests) == MAX_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_an_attempt_slower_than_its_time_limit_ends_in_time_and_is_retried(settings):
    # given a 3 s publish limit (2 s for the attempt) and a target that answers after 5 s
    settings.PUBLISH_TIME_LIMIT_S = 3
    ws = factories.workspace()
    with HttpPeer(Reply(200, delay_s=5.0)) as peer:
        [publication] = _approved(ws, _webhook_target(ws, peer))
        # when a worker publishes it (the thread pool would enforce no task time limit)
        started = time.monotonic()
        state = publish(publication.pk)
        took = time.monotonic() - started
    # then the attempt gave up at its deadline and the publication waits for a retry
    publication.refresh_from_db()
    assert (state, publication.attempts) == (PublicationState.SCHEDULED, 1)
    assert publication.last_error == "The target did not answer in time (ReadTimeout)."
    assert 1.9 < took < 3.5


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_died_after_writing_the_file_leaves_one_file_once_swept(publish_dir):
    ws = factories.workspace()
    site = target_create(workspace=ws, name="Site", kind=TargetKind.FILE, config={"folder": "p"})
    [publication] = _approved(ws, site)
    claimed = publication_claim(publication_id=publication.pk, worker_id="doomed")
    connector_for(claimed.target).publish(publish_item_for(claimed))  # ...and the worker dies
    Publication.objects.filter(pk=publication.pk).update(
        updated_at=timezone.now() - STALE_AFTER - timedelta(seconds=1))

    redelivered = publish(publication.pk)  # the broker's redelivery cannot claim it
    due = dispatch_due()  # beat's sweep makes it due again
    state = publish(publication.pk)

    assert (redelivered, due, state) == (None, 1, "published")
    publication.refresh_from_db()
    assert (publication.attempts, publication.external_id) == (2, "composting-at-home.md")
    assert [p.name for p in (publish_dir / "p").iterdir()] == ["composting-at-home.md"]


@pytest.mark.parametrize(("attempt", "rand", "expected"), [
    (1, 0.0, 15.0), (1, 1.0, 30.0), (2, 0.5, 45.0), (4, 0.0, 120.0), (20, 1.0, BACKOFF_CAP_S),
])
def test_backoff_doubles_per_attempt_with_equal_jitter_up_to_a_cap(attempt, rand, expected):
    assert retry_delay_s(attempt=attempt, retry_after_s=None, rand=lambda: rand) == expected


@pytest.mark.parametrize(("retry_after", "expected"), [
    (0.0, 0.0), (17.0, 17.0), (-5.0, 0.0), (10 * 86400.0, RETRY_AFTER_CAP_S),
])
def test_the_targets_retry_after_wins_over_the_backoff_within_a_cap(retry_after, expected):
    assert retry_delay_s(attempt=3, retry_after_s=retry_after, rand=lambda: 1.0) == expected
