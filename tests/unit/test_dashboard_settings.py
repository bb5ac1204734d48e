"""Workspace settings pages: admins list, create and change; editors and reviewers are
refused (403) on every page and see no Settings link; bad input is a form error (400);
another workspace's row is 404; secrets are never shown back."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.models import Membership, Role
from apps.apikeys.models import ApiKey
from apps.apikeys.services import apikey_authenticate, apikey_create
from apps.briefs.models import ContentBrief, ContentType
from apps.core.crypto import secret_decrypt, secret_encrypt
from apps.core.models import AuditEvent
from apps.core.realtime import admins_group
from apps.evaluation.models import QualityGate
from apps.generation.models import CheckState, GenerationJob, ModelProfile, ProfileCheck
from apps.generation.profile_checks import CHECK_TOKENS
from apps.generation.services import usage_since
from apps.integrations.inbound import endpoint_create
from apps.integrations.models import Delivery, DeliveryState, InboundEndpoint, Subscription
from apps.integrations.outbound import subscription_create
from apps.publishing.models import PublishingTarget
from apps.publishing.targets import target_create
from apps.reviews.models import ApprovalPolicy
from tests import factories
from tests.generation_fixtures import receive_all
from tests.peers.openai_chat import ChatPeer
from workers.tasks.generation import check_profile

pytestmark = pytest.mark.django_db

# Every settings page a GET reaches, with the placeholders the rows fill in.
PAGES = ("/settings/", "/settings/members/", "/settings/api-keys/", "/settings/targets/",
         "/settings/targets/new/?kind=file", "/settings/targets/{target}/",
         "/settings/content-types/", "/settings/content-types/{content_type}/",
         "/settings/model-profiles/", "/settings/model-profiles/{profile}/",
         "/settings/webhooks/")
# Every write, with a body an admin's request would carry.
WRITES = {
    "/settings/members/": {"username": "newbie", "role": "editor"},
    "/settings/members/{member}/": {"role": "admin"},
    "/settings/api-keys/": {"name": "CI", "user": "{admin_id}", "scopes": ["briefs:read"]},
    "/settings/api-keys/{api_key}/revoke/": {},
    "/settings/targets/new/": {"kind": "file", "name": "Site", "config_folder": "s",
                               "min_interval_s": "0"},
    "/settings/targets/{target}/": {"name": "Renamed", "config_folder": "s2",
                                    "min_interval_s": "0"},
    "/settings/targets/{target}/test/": {},
    "/settings/content-types/{content_type}/gate/": {"name": "G", "rules": "[]"},
    "/settings/content-types/{content_type}/policy/": {"approvals_required": "2"},
    "/settings/model-profiles/": {"name": "M", "backend": "builtin", "queue": "generation",
                                  "device": "auto", "timeout_s": "600"},
    "/settings/model-profiles/{profile}/": {"name": "M2", "backend": "builtin",
                                            "queue": "generation", "device": "auto",
                                            "timeout_s": "600"},
    "/settings/model-profiles/{profile}/check/": {},
    "/settings/webhooks/endpoints/": {"name": "E", "slug": "e-1", "content_type": "{content_type}"},
    "/settings/webhooks/endpoints/{endpoint}/rotate/": {},
    "/settings/webhooks/subscriptions/": {"name": "S", "url": "https://example.com/h",
                                          "event_types": "brief.*"},
    "/settings/webhooks/subscriptions/{subscription}/enable/": {},
    "/settings/webhooks/deliveries/{delivery}/redeliver/": {},
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rows(ws, admin):
    """One row of each kind in `ws`, by the name the paths use."""
    ct = factories.content_type(ws)
    target = target_create(workspace=ws, name="Folder", kind="file", config={"folder": "f"})
    endpoint, _ = endpoint_create(workspace=ws, name="Hook", slug="hook-1", content_type_id=ct.pk)
    subscription, _ = subscription_create(workspace=ws, name="Sub", url="https://example.com/h",
                                          event_types=["brief.*"])
    delivery = Delivery.objects.create(subscription=subscription, event_id=1,
                                       event_type="brief.created", payload={},
                                       state=DeliveryState.FAILED, attempts=3,
                                       response_status=502)
    key, _ = apikey_create(workspace=ws, user=admin, name="Old", scopes=["briefs:read"])
    return {"target": target.pk, "content_type": ct.pk, "endpoint": endpoint.pk,
            "subscription": subscription.pk, "delivery": delivery.pk, "api_key": key.pk,
            "profile": factories.model_profile(ws).pk, "admin_id": admin.pk,
            "member": Membership.objects.get(user=admin, workspace=ws).pk}


def _fill(template: str, rows: dict[str, int]) -> str:
    return template.format(**rows)


def _body(data: dict, rows: dict[str, int]) -> dict:
    return {k: ([_fill(x, rows) for x in v] if isinstance(v, list) else _fill(v, rows))
            for k, v in data.items()}


def test_admin_reaches_every_page_and_sees_the_settings_link(admin, rows):
    client = _client(admin)
    for page in PAGES:
        answer = client.get(_fill(page, rows))
        assert answer.status_code == 200, page
        assert b'href="/settings/"' in answer.content, page


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER])
def test_editors_and_reviewers_are_refused_everywhere_and_see_no_link(ws, rows, role):
    user = factories.member(ws, role)
    client = _client(user)
    before = (AuditEvent.objects.count(), PublishingTarget.objects.count())
    for page in PAGES:
        assert client.get(_fill(page, rows)).status_code == 403, page
    for path, data in WRITES.items():
        assert client.post(_fill(path, rows), _body(data, rows)).status_code == 403, path
    assert (AuditEvent.objects.count(), PublishingTarget.objects.count()) == before
    assert b'href="/settings/"' not in client.get("/").content


def test_another_workspaces_rows_are_not_found(rows):
    """An admin of another workspace asks for this one's rows by id: 404, nothing changes."""
    stranger = factories.member(factories.workspace(name="Elsewhere"), Role.ADMIN)
    client = _client(stranger)
    before = AuditEvent.objects.count()
    for page in PAGES:
        if "{" in page:
            assert client.get(_fill(page, rows)).status_code == 404, page
    for path, data in WRITES.items():
        if "{" in path:
            assert client.post(_fill(path, rows), _body(data, rows)).status_code == 404, path
    assert AuditEvent.objects.count() == before


def test_members_add_invite_change_role_and_keep_the_last_admin(ws, admin, editor):
    client = _client(admin)
    answer = client.post("/settings/members/", {"username": "newbie", "email": "n@example.org",
                                                "role": "reviewer"}, follow=True)
    assert b"invited: no password yet" in answer.content
    newbie = Membership.objects.get(workspace=ws, user__username="newbie")
    assert newbie.role == Role.REVIEWER and not newbie.user.has_usable_password()

    client.post(f"/settings/members/{newbie.pk}/", {"role": "editor"})
    assert Membership.objects.get(pk=newbie.pk).role == Role.EDITOR
    client.post(f"/settings/members/{newbie.pk}/", {"remove": "1"})
    assert not Membership.objects.filter(pk=newbie.pk).exists()

    own = Membership.objects.get(user=admin, workspace=ws)
    refused = client.post(f"/settings/members/{own.pk}/", {"role": "editor"})
    assert refused.status_code == 400
    assert b"keeps at least one admin" in refused.content
    bad = client.post("/settings/members/", {"username": "no spaces", "role": "boss"})
    assert bad.status_code == 400
    assert b"field-error" in bad.content


def test_inviting_a_new_username_emails_a_link_that_sets_the_password(
        ws, admin, editor, mailoutbox, django_capture_on_commit_callbacks):
    """The invitation goes out after commit with a password-set link that works once; an
    existing user is added without one; a new username without an email is a form error."""
    client = _client(admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/settings/members/", {"username": "nova", "email": "nova@example.org",
                                                    "role": "reviewer"}, follow=True)
    assert b"An invitation to set a password was sent to nova@example.org" in answer.content
    [mail] = mailoutbox
    assert mail.to == ["nova@example.org"] and ws.name in mail.subject
    assert f"{admin.username} invited you to {ws.name} as Reviewer" in mail.body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.body)[1]

    guest = Client()
    form = guest.get(link, follow=True)
    assert form.status_code == 200 and b"new_password1" in form.content
    done = guest.post(form.redirect_chain[-1][0], {"new_password1": "Nova-pass-2026!",
                                                   "new_password2": "Nova-pass-2026!"})
    assert done.status_code == 302
    assert User.objects.get(username="nova").check_password("Nova-pass-2026!")
    assert b"new_password1" not in Client().get(link, follow=True).content  # used up

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/members/", {"username": editor.username, "role": "reviewer"})
    refused = client.post("/settings/members/", {"username": "ghost", "role": "editor"})
    assert refused.status_code == 400 and b"give their email" in refused.content
    assert len(mailoutbox) == 1
    assert not Membership.objects.filter(user__username="ghost").exists()
    assert Membership.objects.get(user=editor, workspace=ws).role == Role.REVIEWER


def test_api_key_is_shown_once_and_revoked(ws, admin):
    """Created, redirected, shown once from the session; a reload neither shows it again nor
    makes a second key."""
    client = _client(admin)
    made = client.post("/settings/api-keys/", {"name": "CI", "user": admin.pk,
                                               "scopes": ["briefs:read", "briefs:write"]})
    assert (made.status_code, made["Location"]) == (302, "/settings/api-keys/")
    # the page the form was sent from may re-read itself live (the key's settings event)
    # before the browser follows the redirect: that read neither shows nor takes the key
    live = client.get("/settings/api-keys/", headers={"X-Live-Read": "1"})
    assert live.context["secret"] is None and b"data-secret-once" not in live.content
    shown = client.get("/settings/api-keys/")
    label, plaintext = shown.context["secret"]
    assert label == "Your new API key CI" and plaintext.encode() in shown.content
    key = ApiKey.objects.get(workspace=ws, name="CI")
    assert apikey_authenticate(plaintext=plaintext) == key
    reloaded = client.get("/settings/api-keys/")
    assert plaintext.encode() not in reloaded.content
    assert b"data-secret-once" not in reloaded.content
    assert key.prefix.encode() in reloaded.content
    assert ApiKey.objects.filter(workspace=ws).count() == 1

    client.post(f"/settings/api-keys/{key.pk}/revoke/")
    assert apikey_authenticate(plaintext=plaintext) is None
    bad = client.post("/settings/api-keys/", {"name": "", "user": admin.pk, "scopes": ["nope"]})
    assert bad.status_code == 400
    assert ApiKey.objects.filter(workspace=ws).count() == 1


def test_target_created_from_its_schema_and_its_secret_write_only(ws, admin):
    client = _client(admin)
    page = client.get("/settings/targets/new/?kind=wordpress")
    assert b'name="config_url"' in page.content and b'name="secret"' in page.content
    answer = client.post("/settings/targets/new/", {
        "kind": "wordpress", "name": "Blog", "config_url": "https://blog.example.com",
        "config_categories": '["Garden"]', "secret": "ed:app pass word", "enabled": "on",
        "min_interval_s": "0"})
    target = PublishingTarget.objects.get(workspace=ws, name="Blog")
    assert answer.status_code == 302
    assert target.config == {"url": "https://blog.example.com", "categories": ["Garden"]}
    assert secret_decrypt(target.secret_encrypted) == "ed:app pass word"
    edit = client.get(f"/settings/targets/{target.pk}/")
    assert b"app pass word" not in edit.content
    assert b"A secret is stored" in edit.content

    # An empty secret keeps the stored one.
    client.post(f"/settings/targets/{target.pk}/", {
        "name": "Blog 2", "config_url": "https://blog.example.com", "min_interval_s": "5"})
    target.refresh_from_db()
    assert (target.name, target.min_interval_s, target.enabled) == ("Blog 2", 5, False)
    assert secret_decrypt(target.secret_encrypted) == "ed:app pass word"

    refused = client.post("/settings/targets/new/", {
        "kind": "wordpress", "name": "Bad", "config_url": "ftp://x", "secret": "no-colon",
        "min_interval_s": "0"})
    assert refused.status_code == 400
    assert b"needs the site&#x27;s http(s) &#x27;url&#x27;" in refused.content
    assert client.get("/settings/targets/new/?kind=telegraph").status_code == 400


def test_target_connection_test_records_the_check(ws, admin, settings, tmp_path):
    settings.PUBLISH_ROOT = tmp_path
    target = target_create(workspace=ws, name="Folder", kind="file", config={"folder": "site"})
    answer = _client(admin).post(f"/settings/targets/{target.pk}/test/", follow=True)
    target.refresh_from_db()
    assert target.last_check_ok is True
    assert b"connection and credentials work" in answer.content
    assert b"last check" in answer.content


def test_gate_and_policy_saved_with_validation_and_audit(ws, admin, reviewer, editor):
    ct = factories.content_type(ws)
    client = _client(admin)
    client.post(f"/settings/content-types/{ct.pk}/gate/", {
        "name": "Strict", "rules": '[{"metric": "relevance", "min": 0.4}]',
        "weights": '{"relevance": 1}'})
    gate = QualityGate.objects.get(content_type=ct, target=None)
    assert (gate.name, gate.rules, gate.weights) == (
        "Strict", [{"metric": "relevance", "min": 0.4}], {"relevance": 1})
    assert AuditEvent.objects.filter(action="quality_gate.set", actor=admin).exists()
    bad_rule = client.post(f"/settings/content-types/{ct.pk}/gate/", {
        "name": "Strict", "rules": '[{"metric": "relevance", "severity": "loud", "min": 1}]'})
    assert bad_rule.status_code == 400 and b"severity must be" in bad_rule.content
    bad_json = client.post(f"/settings/content-types/{ct.pk}/gate/", {"name": "S",
                                                                     "rules": "[{"})
    assert bad_json.status_code == 400 and b"Not valid JSON" in bad_json.content

    client.post(f"/settings/content-types/{ct.pk}/policy/", {
        "approvals_required": "2", "round_robin": "on", "review_sla_hours": "4",
        "escalate_after_hours": "8", "escalate_to": reviewer.pk})
    policy = ApprovalPolicy.objects.get(content_type=ct)
    assert (policy.approvals_required, policy.round_robin, policy.distinct_reviewers,
            policy.escalate_to) == (2, True, False, reviewer)
    assert AuditEvent.objects.get(action="approval_policy.set").after["approvals_required"] == 2
    for data, message in (({"approvals_required": "2", "escalate_to": editor.pk},
                           b"must be a reviewer or admin"),
                          ({"approvals_required": "2", "review_sla_hours": "8",
                            "escalate_after_hours": "4"}, b"more hours than the reminder"),
                          ({"approvals_required": "11"}, b"less than or equal to 10")):
        refused = client.post(f"/settings/content-types/{ct.pk}/policy/", data)
        assert refused.status_code == 400 and message in refused.content, data
    assert ApprovalPolicy.objects.get(content_type=ct).escalate_to == reviewer


def test_model_profile_created_updated_and_its_key_write_only(ws, admin):
    client = _client(admin)
    client.post("/settings/model-profiles/", {
        "name": "Server", "backend": "openai", "model": "qwen", "queue": "generation",
        "device": "auto", "timeout_s": "120", "base_url": "https://llm.example.com/v1",
        "parameters": '{"temperature": 0.5}', "api_key": "sk-secret-1"})
    profile = ModelProfile.objects.get(workspace=ws, name="Server")
    assert profile.parameters == {"temperature": 0.5}
    assert secret_decrypt(profile.api_key_encrypted) == "sk-secret-1"
    page = client.get(f"/settings/model-profiles/{profile.pk}/")
    assert b"sk-secret-1" not in page.content and b"A secret is stored" in page.content

    client.post(f"/settings/model-profiles/{profile.pk}/", {
        "name": "Server", "backend": "openai", "model": "qwen2", "queue": "generation",
        "device": "auto", "timeout_s": "120", "base_url": "https://llm.example.com/v1"})
    profile.refresh_from_db()
    assert profile.model == "qwen2" and secret_decrypt(profile.api_key_encrypted) == "sk-secret-1"
    refused = client.post("/settings/model-profiles/", {
        "name": "Elsewhere", "backend": "builtin", "queue": "publishing", "device": "auto",
        "timeout_s": "600"})
    assert refused.status_code == 400
    assert b"is not a generation queue" in refused.content
    assert not ModelProfile.objects.filter(name="Elsewhere").exists()


def _check_live(profile: ModelProfile, client: Client) -> tuple[ProfileCheck, list[dict]]:
    """The admin's test-generate button, then a generation worker's task run on the check;
    returns the check and the live events its admins' sockets received."""
    answer = client.post(f"/settings/model-profiles/{profile.pk}/check/")
    assert answer["Location"] == f"/settings/model-profiles/{profile.pk}/"
    check = ProfileCheck.objects.get(model_profile=profile)
    assert check.state == CheckState.QUEUED
    layer = get_channel_layer()
    everyone, admins = (async_to_sync(layer.new_channel)() for _ in range(2))
    async_to_sync(layer.group_add)(f"workspace.{profile.workspace_id}", everyone)
    async_to_sync(layer.group_add)(admins_group(profile.workspace_id), admins)
    check_profile.apply(args=(check.pk,)).get()
    check.refresh_from_db()
    # Settings are the admins': every member's group hears nothing of the test text.
    assert [m for m in receive_all(everyone)
            if m["event"]["type"].startswith("profile_check.")] == []
    return check, [m["event"] for m in receive_all(admins)]


@pytest.mark.usefixtures("models_dir")
def test_test_generate_writes_a_bounded_text_live_and_counts_its_tokens(ws, admin):
    """The built-in model writes at most CHECK_TOKENS for the fixed prompt; the page shows the
    text; the tokens count in the month's usage; no brief or job is made."""
    profile = factories.model_profile(ws, parameters={"max_new_tokens": 400,
                                                      "temperatures": [0.7, 0.9]})
    client = _client(admin)
    check, events = _check_live(profile, client)
    assert (check.state, check.error) == (CheckState.SUCCEEDED, "") and check.text.strip()
    assert 0 < check.completion_tokens <= CHECK_TOKENS
    assert [e["type"] for e in events][-1] == "profile_check.finished"
    assert {e["type"] for e in events[:-1]} == {"profile_check.progress"}
    assert events[-1]["data"] == {"check_id": check.pk, "state": "succeeded",
                                  "text": check.text, "tokens": check.completion_tokens}
    assert (GenerationJob.objects.count(), ContentBrief.objects.count()) == (0, 0)
    assert usage_since(workspace_id=ws.pk, since=check.created_at).tokens == (
        check.prompt_tokens + check.completion_tokens)
    page = client.get(f"/settings/model-profiles/{profile.pk}/")
    assert page.context["check"] == check
    assert f'data-profile-check="{check.pk}"'.encode() in page.content


@pytest.mark.django_db(transaction=True)
def test_test_generate_on_an_openai_compatible_server_and_its_egress_refusal(settings):
    """The check reaches a local OpenAI-compatible peer with the profile's key; under the
    production egress policy it is refused before any request, as a job is."""
    ws = factories.workspace()
    admin = factories.member(ws, Role.ADMIN)
    client = _client(admin)
    with ChatPeer() as peer:
        profile = factories.model_profile(ws, backend="openai", model="m", base_url=peer.url,
                                          api_key_encrypted=secret_encrypt(peer.api_key))
        check, _ = _check_live(profile, client)
        assert check.state == CheckState.SUCCEEDED
        assert check.text == peer.text_for(peer.requests[0]["seed"], CHECK_TOKENS)
        [request] = peer.requests
        assert request["max_tokens"] == CHECK_TOKENS
        settings.EGRESS_ALLOW_LOOPBACK = False
        ProfileCheck.objects.all().delete()
        refused, events = _check_live(profile, client)
        assert len(peer.requests) == 1
    assert refused.state == CheckState.FAILED and "may not be reached" in refused.error
    assert events[-1]["data"]["error"] == refused.error
    assert b"may not be reached" in client.get(f"/settings/model-profiles/{profile.pk}/").content


def test_webhooks_endpoint_and_subscription_secrets_once_and_the_delivery_log(ws, admin, rows):
    client = _client(admin)
    made = client.post("/settings/webhooks/endpoints/", {
        "name": "CMS", "slug": "cms-in", "content_type": rows["content_type"],
        "field_mapping": '{"title": "post.title"}'}, follow=True)
    assert made.redirect_chain == [("/settings/webhooks/", 302)]
    assert b"whsec_" in made.content and b"data-secret-once" in made.content
    assert b"Signing secret of CMS" in made.content
    assert InboundEndpoint.objects.get(slug="cms-in").field_mapping == {"title": "post.title"}
    listing = client.get("/settings/webhooks/")
    assert b"whsec_" not in listing.content
    assert b"HTTP 502" in listing.content  # the delivery log

    taken = client.post("/settings/webhooks/endpoints/", {
        "name": "Again", "slug": "cms-in", "content_type": rows["content_type"]})
    assert taken.status_code == 400 and b"This slug is taken" in taken.content
    bad = client.post("/settings/webhooks/subscriptions/", {
        "name": "X", "url": "https://example.com/x", "event_types": "nothing.here"})
    assert bad.status_code == 400 and b"matches no event" in bad.content
    made = client.post("/settings/webhooks/subscriptions/", {
        "name": "Out", "url": "https://example.com/out", "event_types": "brief.*, job.failed"},
        follow=True)
    assert b"whsec_" in made.content
    assert Subscription.objects.get(name="Out").event_types == ["brief.*", "job.failed"]

    rotated = client.post(f"/settings/webhooks/endpoints/{rows['endpoint']}/rotate/",
                          follow=True)
    assert b"whsec_" in rotated.content
    assert b"whsec_" not in client.get("/settings/webhooks/").content
    client.post(f"/settings/webhooks/deliveries/{rows['delivery']}/redeliver/")
    assert Delivery.objects.get(pk=rows["delivery"]).state == DeliveryState.PENDING
    assert AuditEvent.objects.filter(action="delivery.redelivered").count() == 1

    Subscription.objects.filter(pk=rows["subscription"]).update(
        enabled=False, disabled_reason="failing for 3 days")
    assert b"failing for 3 days" in client.get("/settings/webhooks/").content
    client.post(f"/settings/webhooks/subscriptions/{rows['subscription']}/enable/")
    assert Subscription.objects.get(pk=rows["subscription"]).enabled


def test_list_pages_take_a_bounded_number_of_queries(ws, admin, rows,
                                                     django_assert_max_num_queries):
    """Twenty more rows of each kind cost no query more per row."""
    ct = ContentType.objects.get(pk=rows["content_type"])
    subscription = Subscription.objects.get(pk=rows["subscription"])
    for n in range(20):
        factories.member(ws, Role.EDITOR)
        apikey_create(workspace=ws, user=admin, name=f"Key {n}", scopes=["briefs:read"])
        target_create(workspace=ws, name=f"Folder {n}", kind="file", config={"folder": f"f{n}"})
        endpoint_create(workspace=ws, name=f"Hook {n}", slug=f"hook-n{n}", content_type_id=ct.pk)
        Delivery.objects.create(subscription=subscription, event_id=100 + n,
                                event_type="brief.created", payload={})
        factories.content_type(ws, name=f"Type {n}", slug=f"type-{n}")
    client = _client(admin)
    for page in ("/settings/", "/settings/members/", "/settings/api-keys/", "/settings/targets/",
                 "/settings/content-types/", "/settings/webhooks/"):
        with django_assert_max_num_queries(16):
            assert client.get(page).status_code == 200, page
