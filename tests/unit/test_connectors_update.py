"""Updating a published post in place: every connector's `update`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from apps.publishing.connectors import PermanentPublishError, PublishResult
from apps.publishing.connectors.chat import ChatConnector
from apps.publishing.connectors.file import FileConnector
from apps.publishing.connectors.ghost import GhostConnector, admin_token
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.connectors.webhook import WebhookConnector
from apps.publishing.connectors.wordpress import slug_for
from tests.factories import ITEM_KEY as KEY
from tests.factories import publish_item
from tests.http_peers import HttpPeer, Reply
from tests.peers.ghost import GhostPeer
from tests.peers.mastodon import MastodonPeer

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


REVISED = {"revision": 3, "title": "Composting, revised", "body": "Two buckets are better.",
           "keywords": ("compost",)}


# --- Ghost ------------------------------------------------------------------------


def test_ghost_update_edits_the_same_post_with_its_current_updated_at():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        first = connector.publish(publish_item())
        before = ghost.posts[first.external_id]["updated_at"]

        updated = connector.update(first.external_id, publish_item(**REVISED))

    [post] = ghost.posts.values()
    assert updated == first
    assert post["title"] == "Composting, revised"
    assert post["html"] == "<p>Two buckets are better.</p>"
    assert [t["name"] for t in post["tags"]] == ["compost"]
    assert (post["status"], post["slug"]) == ("published", slug_for(publish_item()))
    assert post["updated_at"] > before
    assert ghost.calls("PUT", f"/ghost/api/admin/posts/{first.external_id}/") == 1


def test_ghost_peer_refuses_a_stale_updated_at_and_the_connector_always_reads_it_fresh():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        post_id = connector.publish(publish_item()).external_id
        stale = ghost.posts[post_id]["updated_at"]
        connector.update(post_id, publish_item(title="Second"))
        with httpx.Client(headers={"authorization": f"Ghost {admin_token(ghost.admin_key)}"}) \
                as client:
            collision = client.put(f"{ghost.url}/ghost/api/admin/posts/{post_id}/?source=html",
                                   json={"posts": [{"title": "Lost", "updated_at": stale}]})
            missing = client.put(f"{ghost.url}/ghost/api/admin/posts/{post_id}/?source=html",
                                 json={"posts": [{"title": "Lost"}]})
        connector.update(post_id, publish_item(title="Third"))

    assert collision.status_code == 409
    assert collision.json()["errors"][0]["type"] == "UpdateCollisionError"
    assert missing.status_code == 422
    assert ghost.posts[post_id]["title"] == "Third"


def test_ghost_update_of_a_deleted_post_is_permanent_with_ghosts_message():
    with GhostPeer() as ghost, pytest.raises(PermanentPublishError) as refused:
        GhostConnector(url=ghost.url, key=ghost.admin_key).update("f" * 24, publish_item())

    assert refused.value.status == 404
    assert "Resource not found error, cannot read post." in refused.value.message


# --- Mastodon -----------------------------------------------------------------------


def test_mastodon_update_edits_a_single_status_in_place():
    with MastodonPeer(max_characters=500) as mastodon:
        connector = MastodonConnector(url=mastodon.url, token="peer-token")
        first = connector.publish(publish_item())

        updated = connector.update(first.external_id, publish_item(**REVISED))

    [status] = mastodon.statuses.values()
    assert updated == first
    assert status["text"] == "Composting, revised\n\nTwo buckets are better.\n\n#Compost"
    assert status["edited_at"] is not None
    assert mastodon.calls("PUT", f"/api/v1/statuses/{first.external_id}") == 1


def _words(count: int) -> str:
    return " ".join(f"word{i}" for i in range(count))


def _thread(mastodon: MastodonPeer, external_id: str) -> list[dict]:
    return [mastodon.statuses[i] for i in external_id.split(",")]


def test_mastodon_update_of_a_3_part_thread_to_4_parts_edits_all_three_and_replies_once():
    with MastodonPeer(max_characters=300) as mastodon:
        connector = MastodonConnector(url=mastodon.url, token="peer-token")
        first = connector.publish(publish_item(body=_words(90)))
        three = first.external_id.split(",")

        updated = connector.update(first.external_id, publish_item(revision=3, body=_words(130)))
        again = connector.update(first.external_id, publish_item(revision=3, body=_words(130)))

    thread = _thread(mastodon, updated.external_id)
    assert len(three) == 3
    assert updated == again == PublishResult(external_id=updated.external_id,
                                             external_url=first.external_url)
    assert [s["id"] for s in thread[:3]] == three  # the same three statuses, edited
    assert [s["text"][-6:] for s in thread] == [" (1/4)", " (2/4)", " (3/4)", " (4/4)"]
    assert all(s["edited_at"] is not None for s in thread[:3])
    assert "edited_at" not in thread[3]
    assert [s["in_reply_to_id"] for s in thread] == [None, *three]
    assert "word129" in thread[3]["text"]
    # Repeating the update sent the same key, so the server answered the same reply.
    assert [r.headers["idempotency-key"] for r in mastodon.requests if r.method == "POST"] == [
        f"{KEY}-1", f"{KEY}-2", f"{KEY}-3", f"{KEY}-r3-4", f"{KEY}-r3-4"]
    assert len(mastodon.statuses) == 4


def test_mastodon_update_of_a_3_part_thread_to_2_parts_edits_two_and_deletes_the_third():
    with MastodonPeer(max_characters=300) as mastodon:
        connector = MastodonConnector(url=mastodon.url, token="peer-token")
        first = connector.publish(publish_item(body=_words(90)))
        one, two, three = first.external_id.split(",")

        updated = connector.update(first.external_id, publish_item(revision=3, body=_words(60)))
        again = connector.update(first.external_id, publish_item(revision=3, body=_words(60)))

    assert updated == again == PublishResult(external_id=f"{one},{two}",
                                             external_url=first.external_url)
    assert set(mastodon.statuses) == {one, two}
    assert [s["text"][-6:] for s in _thread(mastodon, updated.external_id)] == [
        " (1/2)", " (2/2)"]
    assert "word59" in mastodon.statuses[two]["text"]
    assert mastodon.statuses[two]["replies_count"] == 0  # its reply is gone
    assert mastodon.calls("DELETE", f"/api/v1/statuses/{three}") == 2  # then 404: not an error


def test_mastodon_peer_edits_and_deletes_only_the_callers_own_known_statuses():
    with MastodonPeer() as mastodon:
        mastodon.tokens.add("other-token")
        status_id = MastodonConnector(url=mastodon.url, token="peer-token").publish(
            publish_item()).external_id
        url = f"{mastodon.url}/api/v1/statuses"
        answers = [
            httpx.put(f"{url}/{status_id}", json={"status": "x"}).status_code,
            httpx.put(f"{url}/{status_id}", json={"status": "x"},
                      headers={"authorization": "Bearer other-token"}).status_code,
            httpx.delete(f"{url}/{status_id}",
                         headers={"authorization": "Bearer other-token"}).status_code,
            httpx.put(f"{url}/1", json={"status": "x"},
                      headers={"authorization": "Bearer peer-token"}).status_code,
            httpx.delete(f"{url}/1", headers={"authorization": "Bearer peer-token"}).status_code,
        ]

    assert answers == [401, 404, 404, 404, 404]
    assert mastodon.statuses[status_id]["text"].startswith("Composting at home")


# --- chat -------------------------------------------------------------------------


def test_chat_webhooks_cannot_edit_and_say_so():
    connector = ChatConnector(flavor="slack", webhook_url="http://127.0.0.1:9/hook")

    with pytest.raises(PermanentPublishError) as refused:
        connector.update("x", publish_item())

    assert refused.value.message == (
        "A slack incoming webhook can only post new messages, not edit one; announce the new "
        "revision as a new publication instead.")


# --- webhook ------------------------------------------------------------------------


def test_webhook_update_is_a_verified_publication_updated_event_naming_the_post():
    with HttpPeer(Reply(200, {})) as peer:
        result = WebhookConnector(url=f"{peer.url}/hooks", secret=SECRET).update(
            "cms-7", publish_item(**REVISED))

    assert result == PublishResult(external_id="cms-7")
    [request] = peer.requests
    assert request.headers["webhook-id"] == f"{KEY}-r3"
    event = Webhook(SECRET).verify(request.body, request.headers)
    assert event["type"] == "publication.updated"
    assert event["data"] == {
        "idempotency_key": KEY, "publication_id": 41, "brief_id": 7, "revision": 3,
        "title": "Composting, revised", "body": "Two buckets are better.", "format": "markdown",
        "keywords": ["compost"], "language": "en", "content_type": "blog-post",
        "external_id": "cms-7",
    }


# --- file ---------------------------------------------------------------------------


def test_file_update_rewrites_the_same_file_and_leaves_no_other(tmp_path):
    connector = FileConnector(folder=tmp_path, base_url="https://blog.example")
    first = connector.publish(publish_item())

    updated = connector.update(first.external_id, publish_item(**REVISED))

    assert updated == first == PublishResult(external_id="composting-at-home.md",
                                             external_url="https://blog.example/composting-at-home")
    assert [p.name for p in tmp_path.iterdir()] == ["composting-at-home.md"]
    front, body = (tmp_path / "composting-at-home.md").read_text()[4:].split("\n---\n", 1)
    assert yaml.safe_load(front) == {
        "title": "Composting, revised", "date": datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
        "slug": "composting-at-home", "tags": ["compost"], "language": "en", "brief_id": 7,
        "revision": 3, "idempotency_key": KEY,
    }
    assert body == "\nTwo buckets are better.\n"


def test_file_update_refuses_a_name_outside_its_folder(tmp_path):
    with pytest.raises(PermanentPublishError) as refused:
        FileConnector(folder=tmp_path / "posts").update("../escape.md", publish_item())

    assert refused.value.message == f"'../escape.md' is not a post of {tmp_path / 'posts'}."
