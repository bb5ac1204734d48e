"""API v1: publishing targets and inbound endpoints updated by workspace admins (settings,
enabled, secrets that are never returned), target health in the API, and `target.*`
events for subscriptions; against local Mastodon and webhook peers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from apps.accounts.models import Role
from apps.accounts.services import member_add
from apps.apikeys.services import apikey_create
from apps.core import signing
from apps.core.crypto import secret_decrypt
from apps.core.models import AuditEvent, OutboxEvent
from apps.integrations.inbound import endpoint_create
from apps.integrations.models import Delivery, InboundEndpoint
from apps.integrations.outbound import (
    delivery_attempt,
    delivery_claim,
    subscription_create,
    subscriptions_fanout,
)
from apps.publishing.models import PublishingTarget, TargetKind
from apps.publishing.targets import (
    BREAKER_THRESHOLD,
    target_create,
    target_failure_record,
    target_success_record,
)
from tests import factories
from tests.clients import client_for
from tests.http_peers import HttpPeer
from tests.peers.mastodon import MastodonPeer

pytestmark = pytest.mark.django_db

API = "/api/v1"
HEALTHY = {"has_secret": True, "paused": False, "paused_until": None, "pause_reason": "",
           "credentials_rejected": False, "consecutive_failures": 0, "last_check_at": None,
           "last_check_ok": None, "last_check_message": ""}


@pytest.fixture
def mastodon():
    with MastodonPeer() as peer:
        yield peer


def _social(ws, peer: MastodonPeer, secret: str = "peer-token") -> PublishingTarget:
    return target_create(workspace=ws, name="Social", kind=TargetKind.MASTODON,
                         config={"url": peer.url}, secret=secret)


def _events(target: PublishingTarget, type_: str) -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(
        type=type_, subject_type="publishingtarget", subject_id=target.pk).order_by("id")]


def _health(body: dict) -> dict:
    return {name: body[name] for name in HEALTHY}


def test_an_admin_patches_a_targets_settings_and_secret_which_is_never_returned(ws, admin,
                                                                                mastodon):
    # given a Mastodon target
    social = _social(ws, mastodon)
    # when the workspace admin changes its settings, disables it and replaces its token
    response = client_for(admin).patch(f"{API}/targets/{social.pk}/", {
        "name": "Fediverse", "config": {"url": mastodon.url, "visibility": "unlisted"},
        "enabled": False, "min_interval_s": 60, "secret": "new-token"}, format="json")
    # then the answer shows the new settings and health, never the secret
    body = response.json()
    assert response.status_code == 200
    assert "secret" not in body and "new-token" not in response.content.decode()
    assert (body["name"], body["config"], body["enabled"], body["min_interval_s"]) == (
        "Fediverse", {"url": mastodon.url, "visibility": "unlisted"}, False, 60)
    assert _health(body) == HEALTHY
    # and the token is stored encrypted only
    social.refresh_from_db()
    assert "new-token" not in social.secret_encrypted
    assert secret_decrypt(social.secret_encrypted) == "new-token"
    # and the change is audited (public fields only) and emitted
    audit = AuditEvent.objects.get(action="target.updated", subject_id=social.pk)
    assert (audit.actor_id, audit.before, audit.after) == (admin.pk, {
        "name": "Social", "config": {"url": mastodon.url}, "enabled": True,
        "min_interval_s": 0}, {"name": "Fediverse", "config": {
            "url": mastodon.url, "visibility": "unlisted"}, "enabled": False,
            "min_interval_s": 60})
    assert AuditEvent.objects.filter(action="target.secret_set", subject_id=social.pk).count() == 1
    assert _events(social, "target.updated") == [{
        "target_id": social.pk, "name": "Fediverse", "enabled": False,
        "changed": ["name", "config", "enabled", "min_interval_s", "secret"]}]
    # and a GET shows it the same way
    shown = client_for(admin).get(f"{API}/targets/{social.pk}/").json()
    assert shown == {**body, "updated_at": shown["updated_at"]}


def test_replacing_a_rejected_token_resumes_the_target_and_health_shows_each_step(ws, admin,
                                                                                 mastodon):
    # given a Mastodon target whose token the server refuses
    social = _social(ws, mastodon, secret="revoked-token")
    client = client_for(admin)
    # when the admin tests it, then it is paused for its credentials, as the API shows
    client.post(f"{API}/targets/{social.pk}/test-connection/")
    refused = client.get(f"{API}/targets/{social.pk}/").json()
    message = ("The target refused our credentials while checking the access token (HTTP 401): "
               "The access token is invalid")
    assert _health(refused) == {**HEALTHY, "paused": True, "pause_reason": message,
                                "credentials_rejected": True,
                                "last_check_at": refused["last_check_at"], "last_check_ok": False,
                                "last_check_message": message}
    assert datetime.fromisoformat(refused["last_check_at"]) > timezone.now() - timedelta(
        minutes=1)
    # when the admin replaces the token and tests again
    replaced = client.patch(f"{API}/targets/{social.pk}/", {"secret": "peer-token"},
                            format="json").json()
    checked = client.post(f"{API}/targets/{social.pk}/test-connection/").json()
    healthy = client.get(f"{API}/targets/{social.pk}/").json()
    # then the pause is lifted at once, and the new check passes
    assert (replaced["paused"], replaced["credentials_rejected"], replaced["pause_reason"]) == (
        False, False, "")
    assert checked == {"ok": True, "message": "Social: connection and credentials work."}
    assert _health(healthy) == {**HEALTHY, "last_check_at": healthy["last_check_at"],
                                "last_check_ok": True}
    # and the pause and the resumption are events, the secret's replacement an update
    assert _events(social, "target.paused") == [{
        "target_id": social.pk, "name": "Social", "reason": message, "cause": "credentials",
        "until": None}]
    assert _events(social, "target.resumed") == [{
        "target_id": social.pk, "name": "Social", "cause": "credentials"}]
    assert _events(social, "target.updated") == [{
        "target_id": social.pk, "name": "Social", "enabled": True, "changed": ["secret"]}]


def test_the_circuit_breakers_pause_is_in_the_api_until_a_post_goes_through(ws, admin):
    # given a target that failed BREAKER_THRESHOLD times in a row
    folder = target_create(workspace=ws, name="Folder", kind=TargetKind.FILE,
                           config={"folder": "site"})
    for _ in range(BREAKER_THRESHOLD):
        target_failure_record(target_id=folder.pk, error="HTTP 503")
    client = client_for(admin)
    paused = client.get(f"{API}/targets/{folder.pk}/").json()
    # when a post goes through again
    target_success_record(target_id=folder.pk)
    resumed = client.get(f"{API}/targets/{folder.pk}/").json()
    # then the pause, its end and its reason were shown, and both are events
    until = datetime.fromisoformat(paused["paused_until"])
    assert timedelta(minutes=9) < until - timezone.now() <= timedelta(minutes=10)
    assert _health(paused) == {**HEALTHY, "has_secret": False, "paused": True,
                               "paused_until": paused["paused_until"],
                               "pause_reason": "5 failures in a row; last: HTTP 503",
                               "consecutive_failures": 5}
    assert _health(resumed) == {**HEALTHY, "has_secret": False}
    assert [e["cause"] for e in _events(folder, "target.paused")] == ["failures"]
    assert _events(folder, "target.resumed") == [{
        "target_id": folder.pk, "name": "Folder", "cause": "failures"}]


def test_only_the_workspaces_admins_may_patch_targets_and_endpoints(ws, admin, editor, reviewer):
    # given a target and an endpoint; an admin of another workspace who is only an editor
    # here; and an admin's API key without the integrations:write scope
    target = target_create(workspace=ws, name="Folder", kind=TargetKind.FILE,
                           config={"folder": "site"})
    endpoint, _ = endpoint_create(workspace=ws, name="CMS", slug="cms",
                                  content_type_id=factories.content_type(ws).pk)
    elsewhere = factories.workspace()
    other_admin = factories.member(elsewhere, Role.ADMIN)
    member_add(workspace=ws, username=other_admin.username, role=Role.EDITOR)
    _, read_only = apikey_create(workspace=ws, user=admin, name="r",
                                 scopes=["briefs:read", "events:read"])
    urls = [f"{API}/targets/{target.pk}/", f"{API}/webhook-endpoints/{endpoint.pk}/"]
    change = {"name": "Taken", "enabled": False}
    # when each tries to rename and disable both
    answers = {
        "editor": [client_for(editor).patch(u, change, format="json") for u in urls],
        "reviewer": [client_for(reviewer).patch(u, change, format="json") for u in urls],
        "other admin, as editor here": [
            client_for(other_admin).patch(u, change, format="json", HTTP_X_WORKSPACE=str(ws.pk))
            for u in urls],
        "other admin, in their workspace": [
            client_for(other_admin).patch(u, change, format="json",
                                          HTTP_X_WORKSPACE=str(elsewhere.pk)) for u in urls],
        "read-only key": [APIClient(HTTP_AUTHORIZATION=f"Bearer {read_only}").patch(
            u, change, format="json") for u in urls],
    }
    # then roles are refused, another workspace's rows are not found, and the body says no more
    assert {who: [r.status_code for r in rs] for who, rs in answers.items()} == {
        "editor": [403, 403], "reviewer": [403, 403], "other admin, as editor here": [403, 403],
        "other admin, in their workspace": [404, 404], "read-only key": [403, 403]}
    for responses in answers.values():
        for response in responses:
            assert set(response.json()) == {"detail"}
            assert "Folder" not in response.content.decode()
    # and nothing changed
    assert PublishingTarget.objects.filter(pk=target.pk, name="Folder", enabled=True).exists()
    assert InboundEndpoint.objects.filter(pk=endpoint.pk, name="CMS", enabled=True).exists()
    assert not AuditEvent.objects.filter(action__in=["target.updated", "endpoint.updated"]
                                         ).exists()


@pytest.mark.parametrize(("change", "answer"), [
    ({"kind": "webhook"}, {"kind": ["A target's kind cannot change; create another."]}),
    ({"config": {"url": "ftp://x"}},
     {"detail": "A mastodon target needs the site's http(s) 'url' in its config."}),
    ({"secret": ""}, {"detail": "Send the new secret; a target's secret cannot be made empty."}),
    ({"min_interval_s": -1}, {"min_interval_s": ["Ensure this value is greater than or equal "
                                                 "to 0."]}),
])
def test_a_patch_the_target_cannot_take_is_a_400_and_changes_nothing(ws, admin, mastodon, change,
                                                                     answer):
    social = _social(ws, mastodon)
    response = client_for(admin).patch(f"{API}/targets/{social.pk}/", change, format="json")
    assert (response.status_code, response.json()) == (400, answer)
    social.refresh_from_db()
    assert (social.kind, social.config, secret_decrypt(social.secret_encrypted)) == (
        TargetKind.MASTODON, {"url": mastodon.url}, "peer-token")


MAPPING = {"title": "headline", "topic": "summary"}


def _push(url: str, secret: str, msg_id: str) -> int:
    payload = json.dumps({"headline": "Mulch", "summary": "why mulch"})
    now = datetime.now(tz=UTC)
    return APIClient().post(url, payload, content_type="application/json",
                            HTTP_WEBHOOK_ID=msg_id, HTTP_WEBHOOK_TIMESTAMP=str(int(now.timestamp())),
                            HTTP_WEBHOOK_SIGNATURE=Webhook(secret).sign(msg_id, now, payload)
                            ).status_code


def test_an_admin_patches_an_endpoint_and_a_replaced_secret_stops_the_old_ones_at_once(ws, admin):
    # given an endpoint whose secret was rotated once (both secrets valid for a day)
    ct, other_ct = factories.content_type(ws, slug="blog"), factories.content_type(ws, slug="news")
    endpoint, first = endpoint_create(workspace=ws, name="CMS", slug="cms", content_type_id=ct.pk,
                                      field_mapping=MAPPING)
    client = client_for(admin)
    second = client.post(f"{API}/webhook-endpoints/{endpoint.pk}/rotate-secret/").json()["secret"]
    url = f"{API}/hooks/cms/"
    before = [_push(url, first, "m1"), _push(url, second, "m2")]
    # when the admin replaces its secret with one of the sender's, and changes its settings
    chosen = signing.secret_generate()
    patched = client.patch(f"{API}/webhook-endpoints/{endpoint.pk}/", {
        "secret": chosen, "content_type": other_ct.pk, "defaults": {"tone": "calm"},
        "max_body_bytes": 4096}, format="json")
    after = [_push(url, first, "m3"), _push(url, second, "m4"), _push(url, chosen, "m5")]
    # then only the new secret is accepted, and the answer never shows a secret
    assert (before, after) == ([202, 202], [401, 401, 202])
    assert patched.status_code == 200
    assert "secret" not in patched.json() and chosen not in patched.content.decode()
    assert {k: patched.json()[k] for k in ("content_type", "defaults", "max_body_bytes",
                                           "slug")} == {
        "content_type": other_ct.pk, "defaults": {"tone": "calm"}, "max_body_bytes": 4096,
        "slug": "cms"}
    assert [a.action for a in AuditEvent.objects.filter(subject_id=endpoint.pk,
                                                        subject_type="inboundendpoint"
                                                        ).order_by("id")] == [
        "endpoint.secret_rotated", "endpoint.secret_rotated", "endpoint.updated",
        "endpoint.secret_replaced"]
    # when the admin disables it, then pushes are refused as for an unknown endpoint
    disabled = client.patch(f"{API}/webhook-endpoints/{endpoint.pk}/", {"enabled": False},
                            format="json")
    assert (disabled.json()["enabled"], _push(url, chosen, "m6")) == (False, 404)


@pytest.mark.parametrize(("change", "answer"), [
    ({"secret": "plain"}, {"detail": "A signing secret has the form whsec_<base64>."}),
    ({"slug": "elsewhere"}, None),
    ({"field_mapping": {"owner": "a.b"}}, {"detail": "Not brief fields: owner."}),
    ({"content_type": 0}, {"content_type": ['Invalid pk "0" - object does not exist.']}),
])
def test_an_endpoint_patch_it_cannot_take_changes_nothing(ws, admin, change, answer):
    endpoint, secret = endpoint_create(workspace=ws, name="CMS", slug="cms",
                                       content_type_id=factories.content_type(ws).pk,
                                       field_mapping=MAPPING)
    response = client_for(admin).patch(f"{API}/webhook-endpoints/{endpoint.pk}/", change,
                                       format="json")
    if answer is None:  # the slug is read-only: ignored, as DRF ignores read-only fields
        assert (response.status_code, response.json()["slug"]) == (200, "cms")
    else:
        assert (response.status_code, response.json()) == (400, answer)
    assert _push(f"{API}/hooks/cms/", secret, "m1") == 202


def test_a_subscription_to_target_events_receives_the_pause(ws, admin):
    # given a subscription to target.* and a Mastodon server that refuses the target's token
    # with a 400
    with MastodonPeer(bad_token_status=400) as server, HttpPeer(default=200) as receiver:
        subscription, secret = subscription_create(
            workspace=ws, name="Ops", url=f"{receiver.url}/in", event_types=["target.*"])
        social = _social(ws, server, secret="revoked-token")
        # when the admin tests the target, and the paused event is fanned out and delivered
        checked = client_for(admin).post(f"{API}/targets/{social.pk}/test-connection/").json()
        [event] = OutboxEvent.objects.filter(type="target.paused")
        [delivery_id] = subscriptions_fanout(event)
        delivery_attempt(delivery=delivery_claim(delivery_id=delivery_id))
    # then the receiver got the signed event with the reason
    message = ("The target refused our credentials while checking the access token (HTTP 400): "
               "invalid_grant")
    assert checked == {"ok": False, "message": message}
    [received] = receiver.requests
    body = Webhook(secret).verify(received.body, received.headers)
    assert (body["type"], body["subject"], body["data"]) == (
        "target.paused", {"type": "publishingtarget", "id": social.pk},
        {"target_id": social.pk, "name": "Social", "reason": message, "cause": "credentials",
         "until": None})
    assert Delivery.objects.get(pk=delivery_id).state == "succeeded"
    assert subscription.event_types == ["target.*"]


def test_an_admin_creates_a_disabled_rate_limited_target_shown_with_its_health(ws, admin):
    response = client_for(admin).post(f"{API}/targets/", {
        "name": "Folder", "kind": "file", "config": {"folder": "site"}, "enabled": False,
        "min_interval_s": 30}, format="json")
    body = response.json()
    assert response.status_code == 201
    assert (body["enabled"], body["min_interval_s"], body["auto_publish"]) == (False, 30, True)
    assert _health(body) == {**HEALTHY, "has_secret": False}
    assert PublishingTarget.objects.filter(pk=body["id"], enabled=False, min_interval_s=30
                                           ).exists()
