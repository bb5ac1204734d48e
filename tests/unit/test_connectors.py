"""Connectors against real peers: a local HTTP receiver and a real folder."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import yaml
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from apps.publishing.connectors import (
    CredentialsRejected,
    PermanentPublishError,
    PublishResult,
    TransientPublishError,
    connector_for,
)
from apps.publishing.connectors.base import PublishItem
from apps.publishing.connectors.file import FileConnector, yaml_str
from apps.publishing.connectors.http import attempt_deadline
from apps.publishing.connectors.webhook import WebhookConnector
from apps.publishing.models import PublishingTarget, TargetKind
from tests.factories import WEBHOOK_SECRET
from tests.http_peers import HttpPeer, Reply

PUBLISHED_AT = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def _item(**changes: object) -> PublishItem:
    item = PublishItem(
        idempotency_key="6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11", publication_id=41, brief_id=7,
        revision=2, title="Composting at home", body="# Start small\n\nA bucket will do.\n",
        keywords=("compost", "garden"), language="en", content_type="blog-post",
        published_at=PUBLISHED_AT,
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def _webhook(peer: HttpPeer, **kwargs: object) -> WebhookConnector:
    return WebhookConnector(url=f"{peer.url}/hooks/content", secret=WEBHOOK_SECRET, **kwargs)  # type: ignore[arg-type]


# --- webhook -----------------------------------------------------------------


def test_webhook_posts_one_signed_event_that_the_reference_library_verifies():
    with HttpPeer(Reply(201, {"id": "cms-7", "url": "https://cms.example/p/7"})) as peer:
        result = _webhook(peer).publish(_item())

    assert result == PublishResult(external_id="cms-7", external_url="https://cms.example/p/7")
    [request] = peer.requests
    assert (request.method, request.path) == ("POST", "/hooks/content")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11"
    assert request.headers["webhook-signature"].startswith("v1,")
    event = Webhook(WEBHOOK_SECRET).verify(request.body, request.headers)
    assert event == {
        "type": "publication.created",
        "timestamp": "2025-03-14T09:30:00+00:00",
        "data": {
            "idempotency_key": "6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11", "publication_id": 41,
            "brief_id": 7, "revision": 2, "title": "Composting at home",
            "body": "# Start small\n\nA bucket will do.\n", "format": "markdown",
            "keywords": ["compost", "garden"], "language": "en", "content_type": "blog-post",
        },
    }


def test_a_tampered_body_or_another_secret_fails_verification():
    with HttpPeer(200) as peer:
        _webhook(peer).publish(_item())
    [request] = peer.requests

    tampered = request.body.replace(b"A bucket will do.", b"A barrel will do.")
    with pytest.raises(WebhookVerificationError):
        Webhook(WEBHOOK_SECRET).verify(tampered, request.headers)
    other = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes------").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, request.headers)


def test_non_ascii_content_is_signed_over_its_utf8_bytes():
    item = _item(title="堆肥入门 🌱", body="Ünïcödé body — “quoted”")
    with HttpPeer(200) as peer:
        _webhook(peer).publish(item)

    [request] = peer.requests
    event = Webhook(WEBHOOK_SECRET).verify(request.body, request.headers)
    assert (event["data"]["title"], event["data"]["body"]) == (item.title, item.body)


def test_every_retry_carries_the_same_webhook_id_and_without_an_answered_id_it_is_the_external_id():
    with HttpPeer(Reply(200, "ok"), Reply(204)) as peer:
        first = _webhook(peer).publish(_item())
        second = _webhook(peer).publish(_item())

    key = "6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11"
    assert [r.headers["webhook-id"] for r in peer.requests] == [key, key]
    assert first == second == PublishResult(external_id=key, external_url="")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_throttling_and_server_errors_are_transient(status):
    with HttpPeer(Reply(status, "busy")) as peer:
        with pytest.raises(TransientPublishError) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.status == status
    assert caught.value.message == f"The target answered HTTP {status} while delivering the post: busy"
    assert caught.value.retry_after is None


def test_a_500_is_transient_with_the_targets_words():
    with HttpPeer(Reply(500, {"error": {"message": "database is down"}})) as peer:
        with pytest.raises(TransientPublishError) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.message == "The target answered HTTP 500 while delivering the post: database is down"


def test_a_429_with_retry_after_seconds_says_how_long_to_wait():
    with HttpPeer(Reply(429, {"message": "slow down"}, {"Retry-After": "17"})) as peer:
        with pytest.raises(TransientPublishError) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.retry_after == 17.0
    assert caught.value.message == "The target answered HTTP 429 while delivering the post: slow down"


def test_a_503_with_retry_after_as_an_http_date_is_converted_to_seconds():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with HttpPeer(Reply(503, "maintenance", {"Retry-After": when})) as peer:
        with pytest.raises(TransientPublishError) as caught:
            _webhook(peer).publish(_item())

    assert 115 <= caught.value.retry_after <= 120


def test_a_400_is_permanent_and_carries_the_targets_json_message():
    with HttpPeer(Reply(400, {"message": "title must be at most 60 characters"})) as peer:
        with pytest.raises(PermanentPublishError) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.status == 400
    assert caught.value.message == (
        "The target refused delivering the post (HTTP 400): title must be at most 60 characters"
    )


@pytest.mark.parametrize("status", [400, 404, 409, 410, 413, 422])
def test_other_client_errors_are_permanent(status):
    with HttpPeer(Reply(status, {"detail": "no"})) as peer:
        with pytest.raises(PermanentPublishError) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.message == f"The target refused delivering the post (HTTP {status}): no"


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_signature_is_refused_credentials(status):
    with HttpPeer(Reply(status, {"detail": "bad signature"})) as peer:
        with pytest.raises(CredentialsRejected) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.message == (f"The target refused our credentials while delivering the "
                                    f"post (HTTP {status}): bad signature")


def test_a_redirect_is_not_followed_and_asks_for_the_new_url():
    with HttpPeer(Reply(301, headers={"Location": "https://new.example/hooks"})) as peer:
        with pytest.raises(PermanentPublishError) as caught:
            _webhook(peer).publish(_item())

    assert caught.value.message == ("The target refused delivering the post (HTTP 301): redirected "
                                    "to https://new.example/hooks; update the target's URL.")
    assert len(peer.requests) == 1


def test_a_receiver_slower_than_the_read_timeout_is_transient():
    timeout = httpx.Timeout(0.2, connect=1.0)
    with HttpPeer(Reply(200, delay_s=1.0)) as peer:
        with pytest.raises(TransientPublishError) as caught:
            _webhook(peer, timeout=timeout).publish(_item())

    assert caught.value.message == "The target did not answer in time (ReadTimeout)."


def test_no_request_starts_once_the_attempts_deadline_passed():
    with HttpPeer(Reply(200)) as peer, attempt_deadline(0):
        with pytest.raises(TransientPublishError) as caught:
            _webhook(peer).publish(_item())
    assert caught.value.message.startswith("The attempt used up its time limit")
    assert peer.requests == []


def test_a_refused_connection_is_transient():
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connector = WebhookConnector(url=f"http://127.0.0.1:{port}/hooks", secret=WEBHOOK_SECRET)

    with pytest.raises(TransientPublishError) as caught:
        connector.publish(_item())

    assert caught.value.message.startswith("The target could not be reached: ")


@pytest.mark.parametrize(("url", "secret", "message"), [
    ("https://cms.example/h", "", "The webhook target's secret is unusable: "
     "A signing secret has the form whsec_<base64>."),
    ("https://cms.example/h", "plain-secret", "The webhook target's secret is unusable: "
     "A signing secret has the form whsec_<base64>."),
    ("https://cms.example/h", "whsec_%%%", "The webhook target's secret is unusable: "
     "The signing secret after whsec_ is not valid base64."),
    ("https://cms.example/h", "whsec_", "The webhook target's secret is unusable: "
     "The signing secret is empty."),
    ("ftp://cms.example/h", WEBHOOK_SECRET, "The webhook target needs an http(s) URL with a host."),
])
def test_validate_refuses_a_configuration_that_cannot_work(url, secret, message):
    with pytest.raises(PermanentPublishError) as caught:
        WebhookConnector(url=url, secret=secret).validate()

    assert caught.value.message == message


def test_validate_accepts_an_unpadded_secret_as_the_reference_library_does():
    WebhookConnector(url="https://cms.example/h", secret=WEBHOOK_SECRET.rstrip("=")).validate()


# --- file ----------------------------------------------------------------------


def _front_matter_and_body(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


def test_file_has_yaml_front_matter_and_the_body(tmp_path):
    item = _item(title='Compost: "the basics" \\ done', keywords=("compost", "soil: rich"))
    result = FileConnector(folder=tmp_path / "posts", base_url="https://blog.example/posts/")\
        .publish(item)

    assert result == PublishResult(external_id="compost-the-basics-done.md",
                                   external_url="https://blog.example/posts/compost-the-basics-done")
    front, body = _front_matter_and_body(tmp_path / "posts" / "compost-the-basics-done.md")
    assert front == {
        "title": 'Compost: "the basics" \\ done', "date": PUBLISHED_AT,
        "slug": "compost-the-basics-done", "tags": ["compost", "soil: rich"], "language": "en",
        "brief_id": 7, "revision": 2, "idempotency_key": "6f1c2b7e-1d2a-4c53-9a57-0b7f3c9d2e11",
    }
    assert body == "\n# Start small\n\nA bucket will do.\n"
    assert sorted(p.name for p in (tmp_path / "posts").iterdir()) == ["compost-the-basics-done.md"]


def test_publishing_the_same_publication_again_reuses_its_file(tmp_path):
    connector = FileConnector(folder=tmp_path)
    first = connector.publish(_item())
    content = (tmp_path / "composting-at-home.md").read_text()

    second = connector.publish(_item(published_at=PUBLISHED_AT + timedelta(hours=1)))

    assert second == first == PublishResult(external_id="composting-at-home.md")
    assert [p.name for p in tmp_path.iterdir()] == ["composting-at-home.md"]
    assert (tmp_path / "composting-at-home.md").read_text() == content


def test_another_publication_with_the_same_title_gets_its_own_file_and_finds_it_again(tmp_path):
    connector = FileConnector(folder=tmp_path, base_url="https://blog.example")
    connector.publish(_item())
    other = _item(idempotency_key="0d9e4a51-7c1b-4f0e-8d8a-5e2f9b3a4c77", publication_id=42)

    first = connector.publish(other)
    again = connector.publish(other)

    assert first == again == PublishResult(external_id="composting-at-home-2.md",
                                           external_url="https://blog.example/composting-at-home-2")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "composting-at-home-2.md", "composting-at-home.md"]
    assert _front_matter_and_body(tmp_path / "composting-at-home-2.md")[0]["slug"] == (
        "composting-at-home-2")


def test_a_chinese_title_gets_a_slug_of_its_words(tmp_path):
    result = FileConnector(folder=tmp_path).publish(_item(title="堆肥入门", language="zh-CN"))

    assert result.external_id == "堆肥-入门.md"
    assert _front_matter_and_body(tmp_path / "堆肥-入门.md")[0]["title"] == "堆肥入门"


def test_a_title_without_words_gets_a_name_from_the_key(tmp_path):
    result = FileConnector(folder=tmp_path).publish(_item(title="？！…"))

    assert result.external_id == "post-6f1c2b7e.md"


@pytest.mark.parametrize("value", [
    "plain", 'say "hi"', "back\\slash", "new\nline", "tab\there", "nel\x85", "ls\u2028ps\u2029",
    "bom\ufeff", "del\x7f", "emoji 🌱", "yes", "123", "null", "- dash", "# hash", ": colon", "",
])
def test_yaml_str_round_trips_through_a_yaml_reader(value):
    assert yaml.safe_load(f"v: {yaml_str(value)}") == {"v": value}


def test_a_relative_folder_is_resolved_under_the_publish_dir(settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path
    target = PublishingTarget(kind=TargetKind.FILE, config={"folder": "site/content/posts"})

    connector = connector_for(target)
    connector.publish(_item())

    assert isinstance(connector, FileConnector)
    assert (tmp_path / "site/content/posts/composting-at-home.md").is_file()


def test_an_absolute_folder_is_used_as_is(settings, tmp_path):
    settings.PUBLISH_FILES_DIR = tmp_path / "elsewhere"
    target = PublishingTarget(kind=TargetKind.FILE, config={"folder": str(tmp_path / "abs")})

    connector_for(target).publish(_item())

    assert (tmp_path / "abs" / "composting-at-home.md").is_file()


def test_validate_refuses_a_folder_that_is_a_file(tmp_path):
    (tmp_path / "posts").write_text("not a folder")

    with pytest.raises(PermanentPublishError) as caught:
        FileConnector(folder=tmp_path / "posts").validate()

    assert caught.value.message == f"{tmp_path / 'posts'} is not a folder."


NOBODY = 65534


def _publish_as_nobody(folder: Path) -> str:
    """Publish into `folder` from a child process without root's rights (CI runs as root,
    and root may write anywhere); the child's PermanentPublishError message, or ""."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, try, report, and leave at once
        os.close(read)
        message = ""
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            FileConnector(folder=folder).publish(_item())
        except PermanentPublishError as exc:
            message = exc.message
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        message = answer.read().decode()
    os.waitpid(pid, 0)
    return message


def test_a_read_only_folder_is_a_permanent_error():
    # A folder of its own under the shared temp dir: traversable by all, writable by none.
    folder = Path(tempfile.mkdtemp(prefix="aigc-read-only-"))
    folder.chmod(0o555)
    try:
        message = _publish_as_nobody(folder)
    finally:
        folder.chmod(0o700)
        shutil.rmtree(folder)

    assert message.startswith(f"Cannot write to {folder}: Permission denied")


# --- registry ------------------------------------------------------------------


def test_connector_for_picks_the_connector_by_kind(settings):
    webhook = PublishingTarget(kind=TargetKind.WEBHOOK, config={"url": "https://cms.example/h"})

    assert isinstance(connector_for(webhook), WebhookConnector)
    with pytest.raises(PermanentPublishError) as caught:
        connector_for(PublishingTarget(kind="carrier-pigeon", config={}))
    assert caught.value.message == "No connector publishes to targets of kind 'carrier-pigeon'."
