"""Integrations admin: secrets and API keys shown once, the disabled notice, redelivery."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.messages import get_messages

from apps.accounts.models import Role
from apps.apikeys.models import ApiKey
from apps.core.models import OutboxEvent
from apps.integrations.models import Delivery, EndpointSecret, InboundEndpoint, Subscription
from apps.integrations.outbound import subscription_create, subscriptions_fanout
from tests import factories

pytestmark = pytest.mark.django_db


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_api_key_made_in_the_admin_is_shown_once_and_stored_hashed(admin_client, ws):
    owner = factories.member(ws, Role.EDITOR)
    response = admin_client.post("/admin/apikeys/apikey/add/", {
        "workspace": ws.pk, "user": owner.pk, "name": "CMS", "scopes": ["briefs:write"]},
        follow=True)
    [message] = [m for m in shown(response) if "not shown again" in m]
    plaintext = re.search(r"aigc_\S+", message).group(0)
    key = ApiKey.objects.get()
    assert key.digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in admin_client.get(f"/admin/apikeys/apikey/{key.pk}/change/"
                                             ).content.decode()


def test_an_endpoint_made_in_the_admin_gets_a_secret_shown_once(admin_client, ws):
    ct = factories.content_type(ws)
    response = admin_client.post("/admin/integrations/inboundendpoint/add/", {
        "workspace": ws.pk, "name": "CMS", "slug": "cms", "content_type": ct.pk,
        "field_mapping": '{"title": "headline"}', "defaults": "{}", "max_body_bytes": 1000,
        "enabled": "on"}, follow=True)
    assert any(m.startswith("Copy this signing secret now") for m in shown(response))
    assert EndpointSecret.objects.filter(endpoint=InboundEndpoint.objects.get()).count() == 1
    refused = admin_client.post("/admin/integrations/inboundendpoint/add/", {
        "workspace": ws.pk, "name": "x", "slug": "x", "content_type": ct.pk,
        "field_mapping": '{"owner": "a"}', "defaults": "{}", "max_body_bytes": 1000})
    assert "Not brief fields: owner." in refused.content.decode()


def test_a_disabled_subscription_is_announced_and_redelivery_queues_again(admin_client, ws):
    subscription, _ = subscription_create(workspace=ws, name="Bot", url="http://127.0.0.1:9/",
                                          event_types=["brief.*"])
    Subscription.objects.filter(pk=subscription.pk).update(
        enabled=False, disabled_reason="Every try failed for 24 hours.")
    listing = admin_client.get("/admin/integrations/subscription/")
    assert ("Webhook subscription 'Bot' was disabled: Every try failed for 24 hours."
            in shown(listing))
    Subscription.objects.filter(pk=subscription.pk).update(enabled=True)
    factories.brief(ws)
    [delivery_id] = subscriptions_fanout(OutboxEvent.objects.get(type="brief.created"))
    Delivery.objects.filter(pk=delivery_id).update(state="failed")
    response = admin_client.post("/admin/integrations/delivery/", {
        "action": "redeliver", "_selected_action": [delivery_id]}, follow=True)
    assert Delivery.objects.get(pk=delivery_id).state == "pending"
    assert any(m.endswith("queued for delivery.") for m in shown(response))
