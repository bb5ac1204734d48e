"""Inbound webhooks, signed with the `standardwebhooks` package as the independent reference."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from apps.briefs.models import BriefState, ContentBrief
from apps.core.signing import secret_generate
from apps.integrations.inbound import endpoint_create, endpoint_secret_rotate
from apps.integrations.models import InboundDelivery
from tests import factories

pytestmark = pytest.mark.django_db

HOOK = "/api/v1/hooks/cms/"
ARTICLE = {"id": "post-881", "article": {"headline": "Rain gardens",
                                         "summary": "How to plan a rain garden"},
           "tags": ["garden", "rain"]}


@pytest.fixture
def endpoint(ws):
    ct = factories.content_type(ws, slug="blog")
    return endpoint_create(workspace=ws, name="CMS", slug="cms", content_type_id=ct.pk,
                           field_mapping={"title": "article.headline", "topic": "article.summary",
                                          "keywords": "tags", "external_id": "id"},
                           defaults={"audience": "gardeners", "variants": 1})


def signed(secret: str, body: bytes, msg_id: str = "msg_1", at: datetime | None = None
           ) -> dict[str, str]:
    at = at or datetime.now(tz=UTC)
    return {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": str(int(at.timestamp())),
            "HTTP_WEBHOOK_SIGNATURE": Webhook(secret).sign(msg_id, at, body.decode())}


def post(body: bytes, **headers: str):
    return APIClient().post(HOOK, body, content_type="application/json", **headers)


def test_a_signed_push_becomes_a_submitted_brief_through_the_mapping(ws, endpoint):
    _, secret = endpoint
    body = json.dumps(ARTICLE).encode()
    # when a correctly signed article is pushed
    response = post(body, **signed(secret, body))
    # then a webhook brief is created and submitted, answered with 202 and where to follow it
    brief = ContentBrief.objects.get()
    assert response.status_code == 202
    assert response.json() == {"brief_id": brief.pk, "state": "queued",
                               "status_url": f"/api/v1/briefs/{brief.pk}/"}
    assert (brief.title, brief.topic, brief.keywords, brief.audience, brief.variants) == (
        "Rain gardens", "How to plan a rain garden", ["garden", "rain"], "gardeners", 1)
    assert (brief.origin, brief.external_id, brief.state, brief.workspace) == (
        "webhook", "post-881", BriefState.QUEUED, ws)


def test_a_replayed_id_gets_the_first_answer_and_creates_nothing(endpoint):
    _, secret = endpoint
    body = json.dumps(ARTICLE).encode()
    first = post(body, **signed(secret, body, msg_id="msg_same"))
    # when the very same message arrives again, re-signed a little later
    again = post(body, **signed(secret, body, msg_id="msg_same",
                                at=datetime.now(tz=UTC) + timedelta(seconds=30)))
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert ContentBrief.objects.count() == 1
    assert InboundDelivery.objects.count() == 1


def test_an_idempotency_key_deduplicates_across_webhook_ids(endpoint):
    _, secret = endpoint
    body = json.dumps({**ARTICLE, "id": ""}).encode()
    first = post(body, HTTP_IDEMPOTENCY_KEY="k-1", **signed(secret, body, msg_id="msg_a"))
    second = post(body, HTTP_IDEMPOTENCY_KEY="k-1", **signed(secret, body, msg_id="msg_b"))
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert ContentBrief.objects.get().external_id == "msg_a"  # no id in the body: the message's


@pytest.mark.parametrize("case", ["tampered", "wrong_secret", "stale", "future", "unsigned",
                                  "bad_timestamp"])
def test_signature_failures_are_401_and_store_nothing(endpoint, case):
    _, secret = endpoint
    body = json.dumps(ARTICLE).encode()
    headers = {
        "tampered": lambda: signed(secret, body.replace(b"Rain", b"Acid")),
        "wrong_secret": lambda: signed(secret_generate(), body),
        "stale": lambda: signed(secret, body, at=datetime.now(tz=UTC) - timedelta(minutes=6)),
        "future": lambda: signed(secret, body, at=datetime.now(tz=UTC) + timedelta(minutes=6)),
        "unsigned": dict,
        "bad_timestamp": lambda: {**signed(secret, body), "HTTP_WEBHOOK_TIMESTAMP": "soon"},
    }[case]()
    response = post(body, **headers)
    assert response.status_code == 401
    assert response.json()["detail"] == {
        "tampered": "No webhook-signature matches a secret of this endpoint.",
        "wrong_secret": "No webhook-signature matches a secret of this endpoint.",
        "stale": "The webhook-timestamp is more than 5 minutes away from now.",
        "future": "The webhook-timestamp is more than 5 minutes away from now.",
        "unsigned": "Missing webhook-id, webhook-timestamp or webhook-signature header.",
        "bad_timestamp": "The webhook-timestamp is not a Unix time in seconds.",
    }[case]
    assert (ContentBrief.objects.count(), InboundDelivery.objects.count()) == (0, 0)


def test_old_and_new_secrets_both_verify_during_a_rotation(endpoint):
    hook, old = endpoint
    new = endpoint_secret_rotate(endpoint=hook)
    bodies = [json.dumps({**ARTICLE, "id": f"p{i}"}).encode() for i in range(2)]
    with_old = post(bodies[0], **signed(old, bodies[0], msg_id="m0"))
    with_new = post(bodies[1], **signed(new, bodies[1], msg_id="m1"))
    assert (with_old.status_code, with_new.status_code) == (202, 202)


def test_an_expired_secret_no_longer_verifies(endpoint):
    hook, old = endpoint
    endpoint_secret_rotate(endpoint=hook, keep_old_for=timedelta(0))
    body = json.dumps(ARTICLE).encode()
    assert post(body, **signed(old, body)).status_code == 401


def test_mapping_errors_are_422_per_field_and_replayed_as_such(endpoint):
    _, secret = endpoint
    body = json.dumps({"id": "x", "article": {"headline": "h" * 201}, "tags": "garden"}).encode()
    response = post(body, **signed(secret, body))
    again = post(body, **signed(secret, body))
    assert response.status_code == 422
    assert response.json() == {"detail": "The mapped brief is invalid.", "errors": {
        "title": ["Ensure this field has no more than 200 characters."],
        "topic": ["This field is required."],
        "keywords": ['Expected a list of items but got type "str".'],
    }}
    assert (again.status_code, again.json()) == (422, response.json())
    assert ContentBrief.objects.count() == 0


def test_a_known_external_id_under_a_new_message_is_a_409(endpoint):
    _, secret = endpoint
    body = json.dumps(ARTICLE).encode()
    post(body, **signed(secret, body, msg_id="m1"))
    response = post(body, **signed(secret, body, msg_id="m2"))
    assert (response.status_code, response.json()) == (
        409, {"detail": "A brief with external id 'post-881' already exists."})
    assert ContentBrief.objects.count() == 1


def test_not_json_oversized_and_unknown_endpoints_are_clear_4xx(endpoint, settings):
    hook, secret = endpoint
    not_json = b"<xml/>"
    assert post(not_json, **signed(secret, not_json)).json()["detail"].startswith(
        "The body is not JSON")
    hook.max_body_bytes = 100
    hook.save(update_fields=["max_body_bytes"])
    big = json.dumps({**ARTICLE, "pad": "x" * 200}).encode()
    too_big = post(big, **signed(secret, big))
    assert (too_big.status_code, too_big.json()) == (
        413, {"detail": "The body is larger than 100 bytes."})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50
    assert post(big, **signed(secret, big)).json() == {
        "detail": "The body is larger than 50 bytes."}
    unknown = APIClient().post("/api/v1/hooks/nope/", b"{}", content_type="application/json")
    assert (unknown.status_code, unknown.json()) == (
        404, {"detail": "No enabled inbound endpoint 'nope'."})
    assert ContentBrief.objects.count() == 0
