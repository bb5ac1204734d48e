"""Updating a published post in place: every connector's `update`."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from apps.publishing.connectors import PermanentPublishError, PublishResult
from apps.publishing.connectors.base import PublishItem
from apps.publishing.connectors.chat import ChatConnector
from apps.publishing.connectors.file import FileConnector
from apps.publishing.connectors.ghost import GhostConnector, admin_token
from apps.publishing.connectors.mastodon import MastodonConnector
from apps.publishing.connectors.webhook import WebhookConnector
from apps.publishing.connectors.wordpress import slug_for
from tests.http_peers import HttpPeer, Reply
from tests.peers.ghost import GhostPeer
from tests.peers.mastodon import MastodonPeer

KEY = "6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _item(**changes: object) -> PublishItem:
    item = PublishItem(
        idempotency_key=KEY, publication_id=41, brief_id=7, revision=2,
        title="Composting at home", body="# Start small\n\nA **bucket** will do.\n",
        keywords=("compost", "home garden"), language="en", content_type="blog-post",
        published_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
    )
    return replace(item, **changes)  # type: ignore[arg-type]


REVISED = {"revision": 3, "title": "Composting, revised", "body": "Two buckets are better.",
           "keywords": ("compost",)}


# --- Ghost ------------------------------------------------------------------------


def test_ghost_update_edits_the_same_post_with_its_current_updated_at():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        first = connector.publish(_item())
        before = ghost.posts[first.external_id]["updated_at"]

        updated = connector.update(first.external_id, _item(**REVISED))

    [post] = ghost.posts.values()
    assert updated == first
    assert post["title"] == "Composting, revised"
    assert post["html"] == "<p>Two buckets are better.</p>"
    assert [t["name"] for t in post["tags"]] == ["compost"]
    assert (post["status"], post["slug"]) == ("published", slug_for(_item()))
    assert post["updated_at"] > before
    assert ghost.calls("PUT", f"/ghost/api/admin/posts/{first.external_id}/") == 1


def test_ghost_peer_refuses_a_stale_updated_at_and_the_connector_always_reads_it_fresh():
    with GhostPeer() as ghost:
        connector = GhostConnector(url=ghost.url, key=ghost.admin_key)
        post_id = connector.publish(_item()).external_id
        stale = ghost.posts[post_id]["updated_at"]
        connector.update(post_id, _item(title="Second"))
        with httpx.Client(headers={"authorization": f"Ghost {admin_token(ghost.admin_key)}"}) \
                as client:
            collision = client.put(f"{ghost.url}/ghost/api/admin/posts/{post_id}/?source=html",
                                   json={"posts": [{"title": "Lost", "updated_at": stale}]})
            missing = client.put(f"{ghost.url}/ghost/api/admin/posts/{post_id}/?source=html",
                                 json={"posts": [{"title": "Lost"}]})
        connector.update(post_id, _item(title="Third"))

    assert collision.status_code == 409
    assert collision.json()["errors"][0]["type"] == "UpdateCollisionError"
    assert missing.status_code == 422
    assert ghost.posts[post_id]["title"] == "Third"


def test_ghost_update_of_a_deleted_post_is_permanent_with_ghosts_message():
    with GhostPeer() as ghost, pytest.raises(PermanentPublishError) as refused:
        GhostConnector(url=ghost.url, key=ghost.admin_key).update("f" * 24, _item())

    assert refused.value.status == 404
    assert "Resource not found error, cannot read post." in refused.value.message


# --- Mastodon -----------------------------------------------------------------------


def test_mastodon_update_edits_the_threads_first_status_in_place():
    with MastodonPeer(max_characters=500) as mastodon:
        connector = MastodonConnector(url=mastodon.url, token="peer-token")
        first = connector.publish(_item())

        updated = connector.update(first.external_id, _item(**REVISED))

    [status] = mastodon.statuses.values()
    assert updated == first
    assert status["text"] == "Composting, revised\n\nTwo buckets are better.\n\n#Compost"
    assert status["edited_at"] is not None
    assert mastodon.calls("PUT", f"/api/v1/statuses/{first.external_id}") == 1


# --- chat -------------------------------------------------------------------------


def test_chat_webhooks_cannot_edit_and_say_so():
    connector = ChatConnector(flavor="slack", webhook_url="http://127.0.0.1:9/hook")

    with pytest.raises(PermanentPublishError) as refused:
        connector.update("x", _item())

    assert refused.value.message == (
        "A slack incoming webhook can only post new messages, not edit one; announce the new "
        "revision as a new publication instead.")


# --- webhook ------------------------------------------------------------------------


def test_webhook_update_is_a_verified_publication_updated_event_naming_the_post():
    with HttpPeer(Reply(200, {})) as peer:
        result = WebhookConnector(url=f"{peer.url}/hooks", secret=SECRET).update(
            "cms-7", _item(**REVISED))

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
    first = connector.publish(_item())

    updated = connector.update(first.external_id, _item(**REVISED))

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
        FileConnector(folder=tmp_path / "posts").update("../escape.md", _item())

    assert refused.value.message == f"'../escape.md' is not a post of {tmp_path / 'posts'}."
