"""Ghost, Mastodon, Slack and Discord connectors against local peers speaking their APIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from apps.publishing.connectors import (
    CredentialsRejected,
    Engagement,
    PermanentPublishError,
    PublishResult,
    TransientPublishError,
)
from apps.publishing.connectors.chat import ChatConnector
from apps.publishing.connectors.ghost import GhostConnector, admin_token
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.connectors.wordpress import slug_for
from tests.factories import ITEM_KEY as KEY
from tests.factories import publish_item
from tests.http_peers import HttpPeer, Reply
from tests.peers.ghost import GhostPeer
from tests.peers.mastodon import MastodonPeer

# --- Ghost ------------------------------------------------------------------------


def test_ghost_admin_token_is_the_documented_jwt():
    token = admin_token("abc123:" + "00ff" * 16, now=1_700_000_000)

    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "abc123", "typ": "JWT"}
    assert jwt.decode(token, bytes.fromhex("00ff" * 16), algorithms=["HS256"],
                      audience="/admin/", options={"verify_exp": False}) == {
        "iat": 1_700_000_000, "exp": 1_700_000_300, "aud": "/admin/"}


def test_ghost_post_has_html_tags_status_and_a_marker_slug_and_is_made_once():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        connector.validate()
        first = connector.publish(publish_item())
        again = connector.publish(publish_item())

    [post] = ghost.posts.values()
    assert first == again == PublishResult(external_id=post["id"],
                                           external_url=f"{ghost.url}/{slug_for(publish_item())}/")
    assert post["title"] == "Composting at home"
    assert post["html"] == "<h1>Start small</h1>\n<p>A <strong>bucket</strong> will do.</p>"
    assert [t["name"] for t in post["tags"]] == ["compost", "home garden"]
    assert post["status"] == "published"
    assert ghost.calls("POST", "/ghost/api/admin/posts/") == 1


def test_ghost_schedules_a_post_with_a_future_time():
    when = datetime.now(UTC) + timedelta(days=2)
    with GhostPeer() as ghost:
        GhostConnector(url=ghost.url, key=ghost.admin_key).publish(publish_item(scheduled_at=when))

    [post] = ghost.posts.values()
    assert (post["status"], post["published_at"]) == ("scheduled", when.isoformat())


def test_ghost_scheduled_post_reports_when_ghost_will_publish_it():
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        result = connector.publish(publish_item(scheduled_at=when))
        again = connector.publish(publish_item(scheduled_at=when))  # found by its slug

    assert result == again
    assert result.scheduled_for == when


def test_ghost_publishes_at_once_a_time_too_near_for_ghost_to_schedule():
    soon = datetime.now(UTC) + timedelta(seconds=90)  # Ghost wants 2 minutes at least
    with GhostPeer() as ghost:
        result = GhostConnector(url=ghost.url, key=ghost.admin_key).publish(
            publish_item(scheduled_at=soon))

    [post] = ghost.posts.values()
    assert post["status"] == "published"
    assert result.scheduled_for is None


def test_ghost_peer_refuses_to_schedule_without_a_published_at_2_minutes_ahead():
    def create(client: httpx.Client, **post: object) -> httpx.Response:
        return client.post(f"{ghost.url}/ghost/api/admin/posts/?source=html",
                           json={"posts": [{"title": "T", "status": "scheduled", **post}]})

    with GhostPeer() as ghost, httpx.Client(
            headers={"authorization": f"Ghost {admin_token(ghost.admin_key)}"}) as client:
        blank = create(client)
        near = create(client, published_at=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
        far = create(client, published_at=(datetime.now(UTC) + timedelta(minutes=3)).isoformat())

    assert (blank.status_code, blank.json()["errors"][0]["message"]) == (
        422, "Value in published_at cannot be blank.")
    assert (near.status_code, near.json()["errors"][0]["message"]) == (
        422, "Date must be at least 2 minutes in the future.")
    assert (far.status_code, far.json()["posts"][0]["status"]) == (201, "scheduled")


def test_ghost_engagement_is_the_admin_apis_counts_for_the_post():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        post_id = connector.publish(publish_item()).external_id
        before = connector.engagement(post_id)
        ghost.react(post_id, clicks=12, signups=3, paid_conversions=1, positive_feedback=5)

        engagement = connector.engagement(post_id)

    assert before == Engagement(clicks=0, signups=0, paid_conversions=0)
    assert engagement == Engagement(clicks=12, signups=3, paid_conversions=1)
    assert engagement.as_dict() == {"clicks": 12, "signups": 3, "paid_conversions": 1}
    read = [r for r in ghost.requests if r.method == "GET" and r.path.endswith(f"{post_id}/")]
    assert read[-1].query == {"include": "count.clicks,count.signups,count.paid_conversions"}


def test_ghost_peer_drops_unknown_includes_as_ghost_does():
    with GhostPeer() as ghost:
        post_id = GhostConnector(url=ghost.url, key=ghost.admin_key).publish(publish_item()).external_id
        ghost.react(post_id, clicks=2)
        with httpx.Client(headers={"authorization": f"Ghost {admin_token(ghost.admin_key)}"}) \
                as client:
            answer = client.get(f"{ghost.url}/ghost/api/admin/posts/{post_id}/",
                                params={"include": "count.comments,count.clicks"})

    assert answer.status_code == 200
    assert answer.json()["posts"][0]["count"] == {"clicks": 2}


def test_ghost_engagement_of_a_site_without_counts_is_empty():
    with GhostPeer(counts=False) as ghost:  # drops the count includes it does not know
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        post_id = connector.publish(publish_item()).external_id

        engagement = connector.engagement(post_id)

    assert engagement == Engagement()
    assert engagement.as_dict() == {}


def test_ghost_refuses_a_revoked_key_with_its_own_message():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        ghost.revoke_key()
        with pytest.raises(CredentialsRejected) as refused:
            connector.validate()

    assert refused.value.message == ("The target refused our credentials while checking the "
                                     "Admin API key (HTTP 401): Invalid token")


def test_ghost_validation_errors_are_permanent_with_the_message():
    with GhostPeer() as ghost, pytest.raises(PermanentPublishError) as refused:
        GhostConnector(url=ghost.url, key=ghost.admin_key).publish(publish_item(title=" "))

    assert refused.value.message == ("The target refused creating the post (HTTP 422): "
                                     "Validation error, cannot save post.")


def test_ghost_500_twice_then_a_dropped_answer_still_makes_one_post():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        ghost.fail("POST", "/ghost/api/admin/posts/", status=500, times=2)
        ghost.fail("POST", "/ghost/api/admin/posts/", drop=True)
        errors = []
        for _ in range(3):
            with pytest.raises(TransientPublishError) as failed:
                connector.publish(publish_item())
            errors.append(failed.value.status)
        result = connector.publish(publish_item())

    [post] = ghost.posts.values()
    assert errors == [500, 500, None]
    assert result.external_id == post["id"]
    assert ghost.calls("POST", "/ghost/api/admin/posts/") == 3


def test_ghost_unpublish_deletes_the_post_and_tolerates_it_gone():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        result = connector.publish(publish_item())
        connector.unpublish(result.external_id)
        connector.unpublish(result.external_id)

    assert ghost.posts == {}


# --- Mastodon ---------------------------------------------------------------------


def test_mastodon_posts_one_status_with_visibility_language_warning_and_hashtags():
    with MastodonPeer() as peer:
        connector = MastodonConnector(url=peer.url, token="peer-token", visibility="unlisted",
                                      spoiler_text="gardening")
        connector.validate()
        result = connector.publish(publish_item())

    [status] = peer.statuses.values()
    assert result == PublishResult(external_id=status["id"], external_url=status["url"])
    assert status["text"] == ("Composting at home\n\nStart small\n\nA bucket will do.\n\n"
                              "#Compost #HomeGarden")
    assert (status["visibility"], status["language"], status["spoiler_text"]) == (
        "unlisted", "en", "gardening")
    [post] = [r for r in peer.requests if r.method == "POST"]
    assert post.headers["idempotency-key"] == f"{KEY}-1"


def test_mastodon_splits_long_text_into_a_numbered_thread_at_the_server_limit():
    body = " ".join(f"word{i}" for i in range(120))  # ~900 characters
    with MastodonPeer(max_characters=300) as peer:
        result = MastodonConnector(url=peer.url, token="peer-token").publish(publish_item(body=body))

    statuses = list(peer.statuses.values())
    assert len(statuses) == 4
    assert [s["text"][-6:] for s in statuses] == [" (1/4)", " (2/4)", " (3/4)", " (4/4)"]
    assert all(len(s["text"]) <= 300 for s in statuses)
    assert [s["in_reply_to_id"] for s in statuses] == [None] + [s["id"] for s in statuses[:3]]
    assert result.external_id == ",".join(s["id"] for s in statuses)
    words = " ".join(s["text"][:-6] for s in statuses).split()
    assert words[:3] == ["Composting", "at", "home"] and "word119" in words


def test_mastodon_retry_after_lost_answers_reuses_the_idempotency_key():
    with MastodonPeer() as peer:
        connector = MastodonConnector(url=peer.url, token="peer-token")
        peer.fail("POST", "/api/v1/statuses", status=500, times=2)
        peer.fail("POST", "/api/v1/statuses", drop=True)
        for _ in range(3):
            with pytest.raises(TransientPublishError):
                connector.publish(publish_item())
        result = connector.publish(publish_item())

    [status] = peer.statuses.values()
    assert result.external_id == status["id"]
    assert peer.calls("POST", "/api/v1/statuses") == 4


def test_mastodon_invalid_token_is_refused_credentials_and_429_honours_retry_after():
    with MastodonPeer() as peer:
        with pytest.raises(CredentialsRejected) as refused:
            MastodonConnector(url=peer.url, token="revoked").validate()
        peer.fail("POST", "/api/v1/statuses", status=429, headers={"Retry-After": "120"})
        with pytest.raises(TransientPublishError) as limited:
            MastodonConnector(url=peer.url, token="peer-token").publish(publish_item())

    assert refused.value.message.endswith("(HTTP 401): The access token is invalid")
    assert (limited.value.status, limited.value.retry_after) == (429, 120.0)


def test_mastodon_engagement_counts_favourites_boosts_and_others_replies():
    with MastodonPeer(max_characters=120) as peer:
        connector = MastodonConnector(url=peer.url, token="peer-token")
        result = connector.publish(publish_item(body="x " * 80))
        first = result.external_id.split(",")[0]
        peer.react(first, favourites=5, reblogs=2, replies=3)
        engagement = connector.engagement(result.external_id)
        connector.unpublish(result.external_id)

    assert engagement == Engagement(likes=5, shares=2, replies=3)
    assert peer.statuses == {}


# --- Slack and Discord ------------------------------------------------------------


def test_mastodon_refuses_thread_lengths_that_leave_no_room_instead_of_splitting_forever():
    # given a length the API would refuse, set on the row directly (admin, an older target)
    tiny = MastodonConnector(url="http://127.0.0.1:9", token="t", max_characters=60,
                             spoiler_text="A content warning that eats the limit")
    with pytest.raises(PermanentPublishError, match="the content warning leaves too few"):
        tiny.preview(publish_item())

    class Target:
        secret_encrypted = ""
        config = {"url": "http://127.0.0.1:9", "max_characters": "lots"}

    with pytest.raises(PermanentPublishError, match="'max_characters' is not a whole number"):
        MastodonConnector.from_target(Target())


def test_slack_gets_text_and_a_removed_webhook_pauses_the_target():
    with HttpPeer(Reply(200, "ok"), Reply(404, "no_service")) as peer:
        connector = ChatConnector(flavor="slack", webhook_url=f"{peer.url}/services/T/B/x")
        result = connector.publish(publish_item())
        with pytest.raises(CredentialsRejected) as gone:
            connector.publish(publish_item())

    assert result == PublishResult(external_id=KEY)
    assert peer.requests[0].json() == {
        "text": "*Composting at home*\n\nStart small\n\nA bucket will do.\n\n#Compost #HomeGarden"}
    assert gone.value.message == ("The slack webhook no longer exists (HTTP 404: no_service); "
                                  "replace its URL.")


def test_discord_waits_for_the_message_id_and_honours_its_rate_limit():
    limited = Reply(429, {"message": "You are being rate limited.", "retry_after": 1.5},
                    headers={"Retry-After": "2"})
    with HttpPeer(limited, Reply(200, {"id": "1189", "content": "…"})) as peer:
        connector = ChatConnector(flavor="discord", webhook_url=f"{peer.url}/api/webhooks/1/t")
        with pytest.raises(TransientPublishError) as slowed:
            connector.publish(publish_item(body="y" * 3000))
        result = connector.publish(publish_item(body="y" * 3000))

    assert slowed.value.retry_after == 2.0
    assert result == PublishResult(external_id="1189")
    assert peer.requests[1].path == "/api/webhooks/1/t?wait=true"
    assert len(peer.requests[1].json()["content"]) <= 2000

