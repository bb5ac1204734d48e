"""API v1 for integrators' own setup: inbound endpoints, subscriptions, deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from apps.accounts.models import Role
from apps.apikeys.services import apikey_create
from apps.core.models import OutboxEvent
from apps.integrations.models import Delivery, Subscription
from apps.integrations.outbound import delivery_attempt, delivery_claim, subscriptions_fanout
from tests import factories
from tests.clients import client_for
from tests.http_peers import HttpPeer

pytestmark = pytest.mark.django_db

API = "/api/v1"


def test_an_endpoint_created_over_the_api_accepts_pushes_signed_with_its_secret(ws, admin):
    ct = factories.content_type(ws, slug="blog")
    created = client_for(admin).post(f"{API}/webhook-endpoints/", {
        "name": "CMS", "slug": "cms", "content_type": ct.pk,
        "field_mapping": {"title": "headline", "topic": "summary"}}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["url"], body["secret"][:6]) == ("/api/v1/hooks/cms/", "whsec_")
    listed = client_for(admin).get(f"{API}/webhook-endpoints/").json()["results"]
    assert "secret" not in listed[0]
    payload = json.dumps({"headline": "Mulch", "summary": "why mulch"})
    sender = Webhook(body["secret"])
    now = datetime.now(tz=UTC)
    pushed = APIClient().post(body["url"], payload, content_type="application/json",
                              HTTP_WEBHOOK_ID="m1", HTTP_WEBHOOK_TIMESTAMP=str(int(now.timestamp())),
                              HTTP_WEBHOOK_SIGNATURE=sender.sign("m1", now, payload))
    assert pushed.status_code == 202
    rotated = client_for(admin).post(f"{API}/webhook-endpoints/{body['id']}/rotate-secret/")
    assert rotated.json()["secret"] != body["secret"]


def test_endpoints_refuse_unknown_fields_and_foreign_content_types(ws, admin):
    foreign = factories.content_type(factories.workspace())
    response = client_for(admin).post(f"{API}/webhook-endpoints/", {
        "name": "x", "slug": "x", "content_type": foreign.pk}, format="json")
    assert (response.status_code, response.json()) == (
        400, {"content_type": ["Unknown content type in this workspace."]})
    ct = factories.content_type(ws)
    bad_mapping = client_for(admin).post(f"{API}/webhook-endpoints/", {
        "name": "x", "slug": "x", "content_type": ct.pk, "field_mapping": {"owner": "a.b"}},
        format="json")
    assert (bad_mapping.status_code, bad_mapping.json()) == (
        400, {"detail": "Not brief fields: owner."})


def test_subscriptions_deliveries_and_redelivery_over_the_api(ws, admin):
    client = client_for(admin)
    with HttpPeer(500, default=200) as receiver:
        created = client.post(f"{API}/webhook-subscriptions/", {
            "name": "Bot", "url": f"{receiver.url}/in", "event_types": ["brief.queued"]},
            format="json")
        assert created.status_code == 201
        assert created.json()["secret"].startswith("whsec_")
        factories.brief(ws, submit=True)
        [delivery_id] = subscriptions_fanout(OutboxEvent.objects.get(type="brief.queued"))
        delivery_attempt(delivery=delivery_claim(delivery_id=delivery_id))  # 500: retry later
        health = client.get(f"{API}/webhook-subscriptions/{created.json()['id']}/").json()
        assert (health["consecutive_failures"], health["paused_until"]) == (1, None)
        Delivery.objects.filter(pk=delivery_id).update(state="failed")
        redelivered = client.post(f"{API}/webhook-deliveries/{delivery_id}/redeliver/")
        assert (redelivered.status_code, redelivered.json()["state"]) == (200, "pending")
        delivery_attempt(delivery=delivery_claim(delivery_id=delivery_id))
    log = client.get(f"{API}/webhook-deliveries/", {"state": "succeeded"}).json()["results"]
    assert [(a["number"], a["response_status"]) for a in log[0]["log"]] == [(1, 500), (2, 200)]
    Subscription.objects.update(enabled=False, disabled_reason="down")
    enabled = client.post(f"{API}/webhook-subscriptions/{created.json()['id']}/enable/")
    assert (enabled.json()["enabled"], enabled.json()["disabled_reason"]) == (True, "")
    refused = client.post(f"{API}/webhook-subscriptions/", {
        "name": "x", "url": "https://x.test/", "event_types": ["comments.*"]}, format="json")
    assert refused.status_code == 400


def test_only_admins_and_only_with_the_scope_manage_integrations(ws, editor, admin):
    reviewer = factories.member(ws, Role.REVIEWER)
    _, reader = apikey_create(workspace=ws, user=admin, name="r", scopes=["events:read"])
    body = {"name": "x", "url": "https://x.test/", "event_types": ["brief.*"]}
    as_reviewer = client_for(reviewer).post(f"{API}/webhook-subscriptions/", body, format="json")
    as_editor = client_for(editor).post(f"{API}/webhook-subscriptions/", body, format="json")
    as_reader = APIClient().post(f"{API}/webhook-subscriptions/", body, format="json",
                                 HTTP_AUTHORIZATION=f"Bearer {reader}")
    listed = APIClient().get(f"{API}/webhook-subscriptions/", HTTP_AUTHORIZATION=f"Bearer {reader}")
    assert (as_reviewer.status_code, as_editor.status_code, as_reader.status_code,
            listed.status_code) == (403, 403, 403, 200)
    assert Subscription.objects.count() == 0


def test_feeds_and_recurring_briefs_are_set_up_over_the_api(ws, editor):
    ct = factories.content_type(ws, slug="news")
    client = client_for(editor)
    feed = client.post(f"{API}/feeds/", {"name": "News", "url": "https://news.test/rss",
                                         "content_type": ct.pk, "defaults": {"variants": 1}},
                       format="json")
    recurring = client.post(f"{API}/recurring-briefs/", {
        "name": "Digest", "cron": "0 9 * * MON", "timezone": "Europe/Paris", "content_type": ct.pk,
        "brief_fields": {"title": "Digest {date}", "topic": "the week"}}, format="json")
    bad_zone = client.post(f"{API}/recurring-briefs/", {
        "name": "x", "cron": "0 9 * * MON", "timezone": "Mars/Olympus", "content_type": ct.pk,
        "brief_fields": {"title": "t", "topic": "x"}}, format="json")
    assert (feed.status_code, feed.json()["defaults"]) == (201, {"variants": 1})
    assert recurring.status_code == 201
    assert recurring.json()["next_run_at"] is not None
    assert (bad_zone.status_code, bad_zone.json()) == (400, {
        "detail": "Unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Paris."})
    assert [f["name"] for f in client.get(f"{API}/feeds/").json()["results"]] == ["News"]
