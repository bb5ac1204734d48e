"""Publishing a brief after approval: to more targets, or again once every publication was
cancelled (POST /api/v1/briefs/<id>/publish/), against a local Mastodon peer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.apikeys.services import apikey_create
from apps.briefs.models import BriefState, ContentBrief
from apps.core.models import OutboxEvent
from apps.publishing.models import Publication, PublicationState, PublishingTarget, TargetKind
from apps.publishing.services import publication_cancel, publication_withdrawn
from apps.publishing.targets import target_create
from apps.publishing.tasks import publish
from apps.workflow.services import review_approve
from tests import factories
from tests.clients import client_for
from tests.peers.content import approved_publications
from tests.peers.mastodon import MastodonPeer

pytestmark = pytest.mark.django_db

API = "/api/v1"
NEXT_YEAR = timezone.now().year + 1
STATUSES = "/api/v1/statuses"


@pytest.fixture
def mastodon():
    with MastodonPeer() as peer:
        yield peer


def _social(ws, peer: MastodonPeer, name: str = "Social") -> PublishingTarget:
    return target_create(workspace=ws, name=name, kind=TargetKind.MASTODON,
                         config={"url": peer.url}, secret="peer-token")


def _approved_without_targets(ws) -> ContentBrief:
    """A brief approved with no target chosen: approved, nothing scheduled."""
    in_review = factories.brief_in_review(ws, scores=(0.8,))
    review_approve(brief=in_review, draft_id=in_review.drafts.get().pk,
                   reviewer=factories.member(ws, Role.REVIEWER), target_ids=[])
    return ContentBrief.objects.get(pk=in_review.pk)


def _publish(client: APIClient, brief_id: int, body: dict):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/briefs/{brief_id}/publish/", body, format="json")


def _brief_state(brief_id: int) -> str:
    return ContentBrief.objects.get(pk=brief_id).state


def test_an_all_cancelled_brief_is_approved_again_and_republished_once_with_the_same_key(
    ws, editor, mastodon
):
    # given a brief scheduled to a Mastodon account whose first attempt posted the status
    # but lost the answer (the connection dropped), so the publication waits for a retry
    social = _social(ws, mastodon)
    [publication] = approved_publications(ws, social)
    key = publication.idempotency_key
    mastodon.fail("POST", STATUSES, drop=True)
    assert publish(publication.pk) == PublicationState.SCHEDULED
    assert len(mastodon.statuses) == 1
    client = client_for(editor)
    # when the editor cancels it, the brief's only publication
    cancelled = client.post(f"{API}/publications/{publication.pk}/cancel/")
    # then the brief is approved again, not left scheduled
    assert cancelled.status_code == 200
    assert _brief_state(publication.brief_id) == BriefState.APPROVED
    assert OutboxEvent.objects.filter(type="brief.approved",
                                      subject_id=publication.brief_id).count() == 2
    # when the editor publishes it to that account again
    response = _publish(client, publication.brief_id, {"target_ids": [social.pk]})
    # then the cancelled publication is re-opened with its idempotency key, the brief scheduled
    assert response.status_code == 201
    [body] = response.json()
    assert (body["id"], body["state"], body["target"]["id"], body["last_error"]) == (
        publication.pk, "scheduled", social.pk, "")
    assert Publication.objects.get(pk=publication.pk).idempotency_key == key
    assert _brief_state(publication.brief_id) == BriefState.SCHEDULED
    # and once sent, the account finds the status it already holds: one status, published
    assert publish(publication.pk) == PublicationState.PUBLISHED
    publication.refresh_from_db()
    assert list(mastodon.statuses) == [publication.external_id]
    assert [r.headers["idempotency-key"] for r in mastodon.requests  # the thread's first part
            if r.method == "POST" and r.path == STATUSES] == [f"{key}-1", f"{key}-1"]
    assert _brief_state(publication.brief_id) == BriefState.PUBLISHED


def test_a_published_brief_publishing_to_an_extra_target_stays_published(ws, editor, mastodon):
    # given a brief published to one account, and a second account
    [first] = approved_publications(ws, _social(ws, mastodon, "First"))
    publish(first.pk)
    extra = _social(ws, mastodon, "Extra")
    assert _brief_state(first.brief_id) == BriefState.PUBLISHED
    # when the editor publishes it to the second account too
    response = _publish(client_for(editor), first.brief_id, {"target_ids": [extra.pk]})
    # then a new publication of the same revision is scheduled; the brief stays published
    assert response.status_code == 201
    [body] = response.json()
    added = Publication.objects.get(pk=body["id"])
    assert (added.target_id, added.revision_id, added.state) == (
        extra.pk, first.revision_id, PublicationState.SCHEDULED)
    assert added.idempotency_key != first.idempotency_key
    assert _brief_state(first.brief_id) == BriefState.PUBLISHED
    # and once sent, both accounts hold the text and the brief is still published
    assert publish(added.pk) == PublicationState.PUBLISHED
    assert len(mastodon.statuses) == 2
    assert _brief_state(first.brief_id) == BriefState.PUBLISHED


def test_an_approved_brief_is_scheduled_at_a_local_time(ws, editor, mastodon):
    # given a brief approved without any target, and an account
    brief = _approved_without_targets(ws)
    social = _social(ws, mastodon)
    assert brief.state == BriefState.APPROVED
    # when the editor publishes it there at 09:00 Paris time (summer: UTC+2)
    response = _publish(client_for(editor), brief.pk, {
        "target_ids": [social.pk], "publish_at": f"{NEXT_YEAR}-07-01T09:00:00",
        "timezone": "Europe/Paris"})
    # then one publication waits for 07:00 UTC and the brief is scheduled
    assert response.status_code == 201
    assert [(p["target"]["name"], p["scheduled_at"], p["state"]) for p in response.json()] == [
        ("Social", f"{NEXT_YEAR}-07-01T07:00:00Z", "scheduled")]
    publication = Publication.objects.get(brief=brief)
    assert publication.scheduled_at == datetime(NEXT_YEAR, 7, 1, 7, 0, tzinfo=UTC)
    assert _brief_state(brief.pk) == BriefState.SCHEDULED
    assert publish(publication.pk) is None  # not due yet
    assert mastodon.statuses == {}


def test_a_target_already_holding_the_brief_refuses_the_whole_request(ws, editor, mastodon):
    # given a brief scheduled later to one account and published to another, and a third
    later, now = _social(ws, mastodon, "Later"), _social(ws, mastodon, "Now")
    scheduled, published = approved_publications(ws, later, now)
    Publication.objects.filter(pk=scheduled.pk).update(
        scheduled_at=timezone.now() + timedelta(hours=3))
    publish(published.pk)
    spare = _social(ws, mastodon, "Spare")
    client = client_for(editor)
    # when the editor publishes it to the spare account and one already holding it
    answers = [_publish(client, scheduled.brief_id, {"target_ids": [spare.pk, t.pk]})
               for t in (later, now)]
    # then each is a 409 naming the target, and nothing was scheduled to the spare one
    assert [(a.status_code, a.json()) for a in answers] == [
        (409, {"detail": f"This brief is already scheduled to 'Later' (publication "
                         f"{scheduled.pk} is scheduled)."}),
        (409, {"detail": f"This brief is already published to 'Now' (publication "
                         f"{published.pk} is published)."}),
    ]
    assert not Publication.objects.filter(target=spare).exists()
    assert _brief_state(scheduled.brief_id) == BriefState.SCHEDULED


def test_a_brief_not_yet_approved_cannot_be_published(ws, editor, mastodon):
    # given a brief still in review
    brief = factories.brief_in_review(ws)
    social = _social(ws, mastodon)
    # when the editor publishes it, then it is a 409 and nothing is scheduled
    response = _publish(client_for(editor), brief.pk, {"target_ids": [social.pk]})
    assert (response.status_code, response.json()) == (409, {
        "detail": f"Brief {brief.pk} is in_review: only an approved, scheduled or published "
                  "brief can be published."})
    assert not Publication.objects.filter(brief=brief).exists()


def test_bad_targets_times_and_zones_are_a_400(ws, editor, mastodon):
    # given an approved brief, an account, and a disabled account
    brief = _approved_without_targets(ws)
    social = _social(ws, mastodon)
    off = _social(ws, mastodon, "Off")
    PublishingTarget.objects.filter(pk=off.pk).update(enabled=False)
    client = client_for(editor)

    def refused(body: dict) -> tuple[int, dict]:
        response = _publish(client, brief.pk, body)
        return response.status_code, response.json()

    # when the editor sends bad input, then each is a 400 saying why
    assert refused({"target_ids": [social.pk], "publish_at": f"{NEXT_YEAR}-07-01T09:00:00",
                    "timezone": "Mars/Olympus"}) == (400, {
        "timezone": ["Unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Paris."]})
    assert refused({"target_ids": [social.pk], "timezone": "Europe/Paris"}) == (400, {
        "timezone": ["A timezone places a publish_at without an offset; send that publish_at."]})
    assert refused({"target_ids": [social.pk], "publish_at": f"{NEXT_YEAR}-07-01T09:00:00"}) == (
        400, {"publish_at": ["A time without an offset needs a 'timezone', e.g. Europe/Paris."]})
    assert refused({"target_ids": [social.pk], "publish_at": "2020-01-01T08:00:00Z"}) == (400, {
        "detail": "2020-01-01T08:00:00+00:00 is in the past; choose a later time."})
    assert refused({"target_ids": [social.pk, off.pk, 999_999]}) == (400, {
        "detail": f"Unknown or disabled targets: {off.pk}, 999999."})
    assert refused({"target_ids": []}) == (400, {
        "target_ids": ["Ensure this field has at least 1 elements."]})
    assert refused({}) == (400, {"target_ids": ["This field is required."]})
    # and the brief is still approved, with nothing scheduled
    assert _brief_state(brief.pk) == BriefState.APPROVED
    assert not Publication.objects.filter(brief=brief).exists()


def test_another_workspaces_brief_is_not_found(ws, mastodon):
    # given an approved brief in another workspace, and an editor of this one with a target
    theirs = _approved_without_targets(factories.workspace())
    editor = factories.member(ws, Role.EDITOR)
    mine = _social(ws, mastodon)
    # when the editor publishes it, then it is a 404 and nothing is scheduled
    response = _publish(client_for(editor), theirs.pk, {"target_ids": [mine.pk]})
    assert (response.status_code, response.json()) == (404, {
        "detail": f"Brief {theirs.pk} not found."})
    assert not Publication.objects.filter(brief=theirs).exists()


def test_reviewers_and_read_only_keys_cannot_publish(ws, editor, reviewer, mastodon):
    # given an approved brief, an account, and an editor's key that can only read
    brief = _approved_without_targets(ws)
    social = _social(ws, mastodon)
    _, read_only = apikey_create(workspace=ws, user=editor, name="r", scopes=["briefs:read"])
    body = {"target_ids": [social.pk]}
    # when the reviewer and the key publish it
    by_reviewer = _publish(client_for(reviewer), brief.pk, body)
    by_key = _publish(APIClient(HTTP_AUTHORIZATION=f"Bearer {read_only}"), brief.pk, body)
    # then the role and the key's scopes refuse it
    assert by_reviewer.status_code == 403
    assert (by_key.status_code, by_key.json()) == (
        403, {"detail": "This API key lacks the 'publications:write' scope."})
    assert _brief_state(brief.pk) == BriefState.APPROVED


def test_a_withdrawn_post_counts_as_gone_out_when_the_last_publication_is_cancelled(
    ws, mastodon
):
    # given a brief published to one account (then withdrawn) while another post waits
    out, waiting = approved_publications(ws, _social(ws, mastodon, "Out"),
                                         _social(ws, mastodon, "Waiting"))
    Publication.objects.filter(pk=waiting.pk).update(
        scheduled_at=timezone.now() + timedelta(hours=3))
    publish(out.pk)
    publication_withdrawn(publication=Publication.objects.get(pk=out.pk))
    assert _brief_state(out.brief_id) == BriefState.SCHEDULED
    # when the waiting post is cancelled
    publication_cancel(publication=waiting)
    # then the brief is published: a post went out, nothing is left to go
    assert _brief_state(out.brief_id) == BriefState.PUBLISHED
