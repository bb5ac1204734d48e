"""API v1 publication and target controls: reschedule, cancel, withdraw, preview, test
connection, against local Mastodon and Ghost peers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.apikeys.services import apikey_create
from apps.core.models import OutboxEvent
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.services import publication_claim, publication_succeed
from apps.publishing.targets import target_create
from apps.publishing.tasks import dispatch_due, publish
from tests import factories
from tests.clients import client_for
from tests.peers.content import approved_publications, backoff_elapses
from tests.peers.ghost import GhostPeer
from tests.peers.mastodon import MastodonPeer

pytestmark = pytest.mark.django_db

API = "/api/v1"
NEXT_YEAR = timezone.now().year + 1


@pytest.fixture
def mastodon():
    with MastodonPeer() as peer:
        yield peer


def _social(ws, peer: MastodonPeer, **config) -> PublishingTarget:
    return target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                         config={"url": peer.url, **config}, secret="peer-token")


def _folder(ws) -> PublishingTarget:
    return target_create(workspace=ws, name="Folder", kind=TargetKind.FILE,
                         config={"folder": "site"})


def _scheduled(ws, target: PublishingTarget, *, hours: int = 3) -> Publication:
    [publication] = approved_publications(
        ws, target, publish_at=timezone.now() + timedelta(hours=hours))
    return publication


def _url(publication: Publication, action: str) -> str:
    return f"{API}/publications/{publication.pk}/{action}/"


def _events(publication: Publication, type_: str) -> int:
    return OutboxEvent.objects.filter(type=type_, subject_id=publication.pk).count()


def test_reschedule_places_a_local_time_in_its_zone_or_takes_an_offset(ws, editor):
    # given a publication scheduled in three hours
    publication = _scheduled(ws, _folder(ws))
    client = client_for(editor)
    # when the editor moves it to 09:00 Paris time (summer: UTC+2), then to 18:30 at +05:30
    local = client.post(_url(publication, "reschedule"), {
        "publish_at": f"{NEXT_YEAR}-07-01T09:00:00", "timezone": "Europe/Paris"}, format="json")
    at_local = Publication.objects.get(pk=publication.pk).scheduled_at
    offset = client.post(_url(publication, "reschedule"), {
        "publish_at": f"{NEXT_YEAR}-07-02T18:30:00+05:30"}, format="json")
    # then each answer and the row hold that instant in UTC, still scheduled
    publication.refresh_from_db()
    assert (local.status_code, local.json()["scheduled_at"], local.json()["state"]) == (
        200, f"{NEXT_YEAR}-07-01T07:00:00Z", "scheduled")
    assert at_local == datetime(NEXT_YEAR, 7, 1, 7, 0, tzinfo=UTC)
    assert (offset.status_code, offset.json()["scheduled_at"]) == (
        200, f"{NEXT_YEAR}-07-02T13:00:00Z")
    assert (publication.state, publication.scheduled_at) == (
        PublicationState.SCHEDULED, datetime(NEXT_YEAR, 7, 2, 13, 0, tzinfo=UTC))
    assert _events(publication, "publication.rescheduled") == 2


def test_reschedule_refuses_past_missing_or_impossible_times_and_unknown_zones(ws, editor):
    # given a scheduled publication
    publication = _scheduled(ws, _folder(ws))
    before = publication.scheduled_at
    spring_forward = max(d for d in range(25, 32) if date(NEXT_YEAR, 3, d).weekday() == 6)
    client = client_for(editor)

    def refused(body: dict) -> tuple[int, dict]:
        response = client.post(_url(publication, "reschedule"), body, format="json")
        return response.status_code, response.json()

    # when the editor sends bad times, then each is a 400 saying why
    assert refused({"publish_at": "2020-01-01T08:00:00Z"}) == (400, {
        "detail": "2020-01-01T08:00:00+00:00 is in the past; choose a later time."})
    assert refused({"publish_at": f"{NEXT_YEAR}-07-01T09:00:00"}) == (400, {
        "publish_at": ["A time without an offset needs a 'timezone', e.g. Europe/Paris."]})
    assert refused({"publish_at": f"{NEXT_YEAR}-07-01T09:00:00",
                    "timezone": "Mars/Olympus"}) == (400, {
        "timezone": ["Unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Paris."]})
    assert refused({"publish_at": f"{NEXT_YEAR}-07-01T09:00:00Z",
                    "timezone": "Europe/Paris"}) == (400, {
        "timezone": ["publish_at already has an offset; send the offset or a timezone, "
                     "not both."]})
    assert refused({"publish_at": f"{NEXT_YEAR}-03-{spring_forward}T02:30:00",
                    "timezone": "Europe/Paris"}) == (400, {
        "publish_at": [f"{NEXT_YEAR}-03-{spring_forward} 02:30 does not exist in Europe/Paris "
                       "(the clocks skip it)."]})
    assert refused({"publish_at": "9999-12-31T23:00:00", "timezone": "America/New_York"}) == (
        400, {"publish_at": ["Datetime value out of range."]})
    assert refused({"publish_at": "soon"})[0] == 400
    # and the publication kept its time
    assert Publication.objects.get(pk=publication.pk).scheduled_at == before


def test_cancel_stops_a_scheduled_post_whose_task_is_already_queued(ws, editor, mastodon):
    # given a post scheduled for later on a Mastodon account, its publish task already sent
    publication = _scheduled(ws, _social(ws, mastodon))
    assert publish(publication.pk) is None  # the task sent on approval: not due yet
    # when the editor cancels it, and then its time comes
    cancelled = client_for(editor).post(_url(publication, "cancel"))
    backoff_elapses(publication)
    later = (publish(publication.pk), dispatch_due())
    # then it is cancelled and nothing ever reached the account
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert later == (None, 0)
    assert mastodon.statuses == {}
    publication.refresh_from_db()
    assert (publication.state, publication.attempts) == (PublicationState.CANCELLED, 0)
    assert _events(publication, "publication.cancelled") == 1


def test_cancel_refuses_a_published_post(ws, editor, mastodon):
    # given a published post
    [publication] = approved_publications(ws, _social(ws, mastodon))
    publish(publication.pk)
    # when the editor tries to cancel it, then it is a 409 and it stays published
    response = client_for(editor).post(_url(publication, "cancel"))
    assert (response.status_code, response.json()) == (409, {
        "detail": f"Publication {publication.pk} cannot go from 'published' to 'cancelled'."})
    assert Publication.objects.get(pk=publication.pk).state == PublicationState.PUBLISHED


def test_withdraw_takes_the_post_down_from_the_target(ws, editor, mastodon):
    # given a post published to a Mastodon account
    [publication] = approved_publications(ws, _social(ws, mastodon))
    publish(publication.pk)
    publication.refresh_from_db()
    assert list(mastodon.statuses) == [publication.external_id]
    # when the editor withdraws it
    response = client_for(editor).post(_url(publication, "withdraw"))
    # then the status is deleted at the target and the publication is withdrawn
    assert (response.status_code, response.json()["state"]) == (200, "withdrawn")
    assert mastodon.statuses == {}
    assert mastodon.calls("DELETE", f"/api/v1/statuses/{publication.external_id}") == 1
    assert Publication.objects.get(pk=publication.pk).state == PublicationState.WITHDRAWN
    assert _events(publication, "publication.withdrawn") == 1


def test_withdraw_refuses_unpublished_posts_webhook_messages_and_passes_on_a_target_error(
    ws, editor, mastodon
):
    # given a scheduled post, a delivered webhook message, and a published status the
    # server then fails to delete
    scheduled = _scheduled(ws, _social(ws, mastodon))
    hook = target_create(workspace=ws, name="Hook", kind=TargetKind.WEBHOOK,
                         config={"url": "http://127.0.0.1:9/hook"})
    [delivered] = approved_publications(ws, hook, title="Worm bins")
    publication_succeed(publication=publication_claim(publication_id=delivered.pk, worker_id="io"),
                        external_id="msg_1")
    [status] = approved_publications(ws, _social(ws, mastodon), title="Leaf mould")
    publish(status.pk)
    status.refresh_from_db()
    mastodon.fail("DELETE", f"/api/v1/statuses/{status.external_id}", status=503)
    client = client_for(editor)
    # when the editor withdraws each
    answers = [client.post(_url(p, "withdraw")) for p in (scheduled, delivered, status)]
    # then each is a 409 with the reason, and nothing changed
    assert [(a.status_code, a.json()) for a in answers] == [
        (409, {"detail": "Only a published publication can be withdrawn (this one is "
                         "scheduled)."}),
        (409, {"detail": "Posts on Signed webhook targets cannot be withdrawn."}),
        (409, {"detail": "The target answered HTTP 503 while deleting the status: "
                         "injected fault"}),
    ]
    assert [Publication.objects.get(pk=p.pk).state for p in (scheduled, delivered, status)] == [
        PublicationState.SCHEDULED, PublicationState.PUBLISHED, PublicationState.PUBLISHED]
    assert list(mastodon.statuses) == [status.external_id]


def test_preview_shows_the_revision_as_the_target_formats_it(ws, editor, mastodon,
                                                             django_assert_num_queries):
    # given a publication to a Mastodon account whose posts hold at most 60 characters
    publication = _scheduled(ws, _social(ws, mastodon, max_characters=60))
    client = client_for(editor)
    # when the editor previews it: membership, the publication with its brief and revision
    with django_assert_num_queries(2):
        response = client.get(_url(publication, "preview"))
    # then it is the thread the account would receive; the target was not called
    assert response.status_code == 200
    assert response.json() == {
        "format": "text", "title": "Composting at home",
        "parts": ["Composting at home\n\nVariant 0: start a compost heap. (1/2)",
                  "#Compost #Garden (2/2)"],
        "warnings": ["Split into a thread of 2 posts."],
    }
    assert mastodon.requests == []


def test_a_target_that_cannot_format_the_preview_is_a_409(ws, editor, mastodon):
    # given a publication whose target's secret was encrypted with a key since removed
    publication = _scheduled(ws, _social(ws, mastodon))
    PublishingTarget.objects.filter(pk=publication.target_id).update(
        secret_encrypted="gAAAAAB-not-a-token")
    # when the editor previews it, then the target's reason is the answer
    response = client_for(editor).get(_url(publication, "preview"))
    assert (response.status_code, response.json()) == (409, {
        "detail": "A stored secret cannot be decrypted with the configured keys."})

def test_test_connection_checks_ghost_credentials_and_pauses_on_a_revoked_key(ws, admin):
    with GhostPeer() as ghost:
        # given a Ghost target with a working Admin API key
        blog = target_create(workspace=ws, name="Blog", kind=TargetKind.GHOST,
                             config={"url": ghost.url}, secret=ghost.admin_key)
        url = f"{API}/targets/{blog.pk}/test-connection/"
        client = client_for(admin)
        # when the admin tests it, then the key works
        good = client.post(url)
        blog.refresh_from_db()
        checked_at, paused_before = blog.credentials_checked_at, blog.credentials_rejected
        # when the key is revoked at Ghost and the editor tests again
        ghost.revoke_key()
        bad = client.post(url)
    # then the second answer says why, and the target is paused for its credentials
    blog.refresh_from_db()
    assert (good.status_code, good.json()) == (200, {
        "ok": True, "message": "Blog: connection and credentials work."})
    assert (checked_at is not None, paused_before) == (True, False)
    message = ("The target refused our credentials while checking the Admin API key (HTTP 401): "
               "Invalid token")
    assert (bad.status_code, bad.json()) == (200, {"ok": False, "message": message})
    assert (blog.credentials_rejected, blog.pause_reason) == (True, message)


def test_test_connection_reports_a_rejected_mastodon_token(ws, admin, mastodon):
    # given a Mastodon target whose token the server does not know
    social = target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                           config={"url": mastodon.url}, secret="revoked-token")
    # when the admin tests it
    response = client_for(admin).post(f"{API}/targets/{social.pk}/test-connection/")
    # then the server's refusal is the message, after one authenticated request
    assert (response.status_code, response.json()) == (200, {"ok": False, "message": (
        "The target refused our credentials while checking the access token (HTTP 401): "
        "The access token is invalid")})
    assert mastodon.calls("GET", "/api/v1/accounts/verify_credentials") == 1
    assert PublishingTarget.objects.get(pk=social.pk).credentials_rejected is True


def test_another_workspaces_publications_and_targets_are_not_found(ws, mastodon):
    # given a scheduled publication and its target in another workspace
    theirs = _scheduled(ws, _social(ws, mastodon))
    outsider = factories.member(factories.workspace(), Role.ADMIN)
    client = client_for(outsider)
    # when an admin of another workspace acts on them, then each is a 404
    answers = [client.post(_url(theirs, action), {"publish_at": f"{NEXT_YEAR}-07-01T09:00:00Z"},
                           format="json").status_code
               for action in ("reschedule", "cancel", "withdraw", "retry")]
    answers += [client.get(_url(theirs, "preview")).status_code,
                client.post(f"{API}/targets/{theirs.target_id}/test-connection/").status_code]
    assert answers == [404] * 6
    # and nothing moved or reached the target
    assert Publication.objects.get(pk=theirs.pk).state == PublicationState.SCHEDULED
    assert mastodon.requests == []


def test_reviewers_and_read_only_keys_may_preview_but_not_act(ws, editor):
    # given a scheduled publication, a reviewer, and an editor's key that can only read
    publication = _scheduled(ws, _folder(ws))
    reviewer = factories.member(ws, Role.REVIEWER)
    _, read_only = apikey_create(workspace=ws, user=editor, name="r", scopes=["briefs:read"])
    keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    # when each previews and cancels
    previews = [client_for(reviewer).get(_url(publication, "preview")).status_code,
                keyed.get(_url(publication, "preview")).status_code]
    by_reviewer = client_for(reviewer).post(_url(publication, "cancel"))
    by_key = keyed.post(_url(publication, "cancel"))
    tested = keyed.post(f"{API}/targets/{publication.target_id}/test-connection/")
    # then both may read; the reviewer's role and the key's scopes refuse the actions
    assert previews == [200, 200]
    assert by_reviewer.status_code == 403
    assert (by_key.status_code, by_key.json()) == (
        403, {"detail": "This API key lacks the 'publications:write' scope."})
    assert (tested.status_code, tested.json()) == (
        403, {"detail": "This API key lacks the 'integrations:write' scope."})
    assert Publication.objects.get(pk=publication.pk).state == PublicationState.SCHEDULED


def test_targets_list_in_two_queries_and_a_bad_thread_length_is_refused(
    ws, admin, django_assert_num_queries
):
    # given three targets
    for n in range(3):
        target_create(workspace=ws, name=f"Folder {n}", kind=TargetKind.FILE,
                      config={"folder": f"site{n}"})
    client = client_for(admin)
    # when the admin lists them: membership, page
    with django_assert_num_queries(2):
        listed = client.get(f"{API}/targets/")
    # and creates a Mastodon target with a thread length too short to split at
    refused = client.post(f"{API}/targets/", {
        "name": "Tiny", "kind": "mastodon",
        "config": {"url": "http://127.0.0.1:9", "max_characters": 5}}, format="json")
    # then all three are listed and the short length is a 400
    assert [t["name"] for t in listed.json()["results"]] == ["Folder 2", "Folder 1", "Folder 0"]
    assert (refused.status_code, refused.json()) == (400, {
        "detail": "A Mastodon target's 'max_characters' is a whole number from 50 to 100000."})

