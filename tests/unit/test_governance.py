"""Governance: roles per workspace (never the union across workspaces), members and API keys
managed by workspace admins in the admin, the API and management commands, all audited."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import get_resolver
from rest_framework.test import APIClient

from apps.accounts.models import Membership, Role
from apps.accounts.services import membership_grant
from apps.apikeys.models import ApiKey, Scope
from apps.apikeys.services import apikey_create
from apps.core.models import AuditEvent, Workspace
from apps.evaluation.models import QualityGate
from apps.generation.models import ModelProfile
from apps.integrations.models import RecurringBrief
from apps.publishing.models import PublishingTarget
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import client_for, logged_in

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def theirs() -> Workspace:
    return factories.workspace(name="Theirs")


@pytest.fixture
def their_admin(theirs):  # type: ignore[no-untyped-def]
    return factories.member(theirs, Role.ADMIN, username="their-admin")


@pytest.fixture
def double_agent(ws, theirs, their_admin):  # type: ignore[no-untyped-def]
    """Admin in `ws`, only a reviewer in `theirs`."""
    user = factories.member(ws, Role.ADMIN, username="double-agent")
    membership_grant(user=user, workspace=theirs, role=Role.REVIEWER)
    return user


def _post_admin(client: Client, url: str, data: dict) -> int:
    return client.post(url, data).status_code


def test_an_admin_elsewhere_cannot_promote_themselves_or_demote_the_workspaces_admin(
        ws, theirs, their_admin, double_agent):
    client = logged_in(double_agent)
    mine = Membership.objects.get(user=double_agent, workspace=theirs)
    admins = Membership.objects.get(user=their_admin, workspace=theirs)
    promote = client.post(f"/admin/accounts/membership/{mine.pk}/change/", {"role": "admin"})
    demote = client.post(f"/admin/accounts/membership/{admins.pk}/change/", {"role": "editor"})
    add_form = client.get("/admin/accounts/membership/add/")
    # then neither change happened, and the add form offers only their own workspace
    assert (promote.status_code, demote.status_code) == (302, 302)
    assert promote.url == demote.url == "/admin/"  # the admin's "does not exist" redirect
    assert list(add_form.context["adminform"].form.fields["workspace"].queryset) == [ws]
    assert Membership.objects.get(pk=mine.pk).role == Role.REVIEWER
    assert Membership.objects.get(pk=admins.pk).role == Role.ADMIN


def test_an_admin_elsewhere_cannot_touch_the_workspaces_keys_targets_or_profiles(
        ws, theirs, their_admin, double_agent):
    key, _ = apikey_create(workspace=theirs, user=their_admin, name="CMS", scopes=["briefs:read"])
    target = target_create(workspace=theirs, name="Site", kind="file", config={"folder": "site"})
    profile = factories.model_profile(theirs, name="Theirs")
    client = logged_in(double_agent)
    keys = client.get("/admin/apikeys/apikey/")
    revoke = client.post("/admin/apikeys/apikey/", {"action": "revoke_keys",
                                                    "_selected_action": [key.pk]})
    key_form = client.get("/admin/apikeys/apikey/add/").context["adminform"].form
    target_change = client.post(f"/admin/publishing/publishingtarget/{target.pk}/change/",
                                {"name": "Mine", "kind": "webhook", "enabled": "on",
                                 "config": '{"url": "https://evil.example/"}'})
    profile_change = client.post(f"/admin/generation/modelprofile/{profile.pk}/change/",
                                 {"name": "Mine", "backend": "openai", "model": "x",
                                  "base_url": "https://evil.example/v1"})
    # then nothing of theirs is listed or changed
    assert [k.pk for k in keys.context["cl"].result_list] == []
    assert revoke.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert list(key_form.fields["workspace"].queryset) == [ws]
    assert their_admin not in key_form.fields["user"].queryset
    assert (target_change.status_code, profile_change.status_code) == (302, 302)
    assert PublishingTarget.objects.get(pk=target.pk).config == {"folder": "site"}
    assert ModelProfile.objects.get(pk=profile.pk).name == "Theirs"


@pytest.mark.parametrize("model", ["reviews/approvalpolicy", "evaluation/qualitygate",
                                   "publishing/publishingtarget", "generation/modelprofile",
                                   "apikeys/apikey", "accounts/membership",
                                   "integrations/inboundendpoint", "integrations/subscription"])
def test_editors_do_not_govern_their_own_content_in_the_admin(ws, editor, model):
    client = logged_in(editor)
    assert client.get(f"/admin/{model}/add/").status_code == 403


def test_editors_may_read_the_rules_they_work_under_but_not_change_them(ws, editor):
    gate = QualityGate.objects.create(workspace=ws, name="House gate",
                                       content_type=factories.content_type(ws))
    client = logged_in(editor)
    page = client.get(f"/admin/evaluation/qualitygate/{gate.pk}/change/")
    changed = client.post(f"/admin/evaluation/qualitygate/{gate.pk}/change/", {"name": "Lax"})
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert changed.status_code == 403
    assert QualityGate.objects.get(pk=gate.pk).name == "House gate"


def test_admin_changes_are_in_the_platforms_audit_log(ws, admin):
    gate = QualityGate.objects.create(workspace=ws, name="House gate",
                                       content_type=factories.content_type(ws))
    client = logged_in(admin)
    page = client.get(f"/admin/evaluation/qualitygate/{gate.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(name="Strict gate", workspace=ws.pk)
    saved = client.post(f"/admin/evaluation/qualitygate/{gate.pk}/change/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else ""
    event = AuditEvent.objects.get(action="admin.changed")
    assert (event.workspace_id, event.actor_id, event.subject_type, event.subject_id) == (
        ws.pk, admin.pk, "qualitygate", gate.pk)
    assert (event.after["model"], event.after["object"]) == ("evaluation.QualityGate",
                                                             "Strict gate")
    assert "Name" in event.after["fields"]


def test_the_last_admin_cannot_be_demoted_or_removed(ws, admin):
    client = client_for(admin)
    membership = Membership.objects.get(user=admin)
    demoted = client.patch(f"{API}/members/{membership.pk}/", {"role": "editor"}, format="json")
    removed = client.delete(f"{API}/members/{membership.pk}/")
    message = {"detail": "A workspace keeps at least one admin: make someone else admin first."}
    assert [(r.status_code, r.json()) for r in (demoted, removed)] == [(400, message)] * 2
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_admins_manage_members_over_the_api(ws, admin, editor, mailoutbox,
                                           django_capture_on_commit_callbacks):
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(f"{API}/members/", {"username": "newcomer", "role": "reviewer",
                                                "email": "new@example.com"}, format="json")
    assert added.status_code == 201, added.content
    # A new username is invited as from the dashboard: an email with a link to set a password
    [mail] = mailoutbox
    assert mail.to == ["new@example.com"]
    assert f"{admin.username} invited you to {ws.name} as Reviewer" in mail.body
    assert "http://testserver/accounts/reset/" in mail.body
    nameless = client.post(f"{API}/members/", {"username": "ghost", "role": "editor"},
                           format="json")
    assert nameless.status_code == 400 and "give their email" in nameless.json()["detail"]
    member_id = added.json()["id"]
    promoted = client.patch(f"{API}/members/{member_id}/", {"role": "editor"}, format="json")
    listed = client.get(f"{API}/members/", {"role": "editor"})
    removed = client.delete(f"{API}/members/{member_id}/")
    assert added.json() | {"id": 0, "created_at": ""} == {
        "id": 0, "username": "newcomer", "email": "new@example.com", "role": "reviewer",
        "created_at": ""}
    assert promoted.json()["role"] == "editor"
    assert sorted(m["username"] for m in listed.json()["results"]) == sorted(
        ["newcomer", editor.username])
    assert removed.status_code == 204
    assert not Membership.objects.filter(pk=member_id).exists()
    assert list(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True)
                .order_by("id")) == ["member.role_set", "member.role_set", "member.removed"]


def test_only_admins_of_the_workspace_manage_members(ws, editor, theirs, their_admin):
    membership = Membership.objects.get(user=their_admin)
    as_editor = client_for(editor)
    refused = [as_editor.get(f"{API}/members/"),
               as_editor.post(f"{API}/members/", {"username": "x", "role": "admin"},
                              format="json")]
    other = client_for(factories.member(ws, Role.ADMIN))
    hidden = [other.patch(f"{API}/members/{membership.pk}/", {"role": "editor"}, format="json"),
              other.delete(f"{API}/members/{membership.pk}/")]
    assert [r.status_code for r in refused] == [403, 403]
    assert [r.status_code for r in hidden] == [404, 404]
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_admins_create_list_and_revoke_api_keys_and_the_key_is_shown_once(ws, admin, editor):
    client = client_for(admin)
    created = client.post(f"{API}/api-keys/", {"name": "CMS", "username": editor.username,
                                               "scopes": ["briefs:read", "briefs:write"]},
                          format="json")
    assert created.status_code == 201, created.content
    plaintext = created.json()["key"]
    listed = client.get(f"{API}/api-keys/")
    works = APIClient().get(f"{API}/briefs/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    revoked = client.post(f"{API}/api-keys/{created.json()['id']}/revoke/")
    refused = APIClient().get(f"{API}/briefs/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert plaintext.startswith("aigc_")
    assert plaintext not in listed.content.decode()
    assert [k["username"] for k in listed.json()["results"]] == [editor.username]
    assert (works.status_code, revoked.status_code, refused.status_code) == (200, 200, 401)
    assert revoked.json()["revoked_at"] is not None


def test_a_key_is_only_for_a_member_and_only_admins_mint_them(ws, admin, editor, theirs,
                                                               their_admin):
    stranger = client_for(admin).post(f"{API}/api-keys/", {
        "name": "x", "username": their_admin.username, "scopes": ["briefs:read"]}, format="json")
    nobody = client_for(admin).post(f"{API}/api-keys/", {
        "name": "x", "username": "no-such-user", "scopes": ["briefs:read"]}, format="json")
    as_editor = client_for(editor).post(f"{API}/api-keys/", {
        "name": "x", "username": editor.username, "scopes": ["briefs:read"]}, format="json")
    message = {"detail": "The key's user must be a member of this workspace."}
    assert [(r.status_code, r.json()) for r in (stranger, nobody)] == [(400, message)] * 2
    assert as_editor.status_code == 403
    assert ApiKey.objects.count() == 0


def test_an_api_key_manages_members_only_with_the_members_scope(ws, admin):
    _, narrow = apikey_create(workspace=ws, user=admin, name="n", scopes=["briefs:read"])
    _, members = apikey_create(workspace=ws, user=admin, name="m", scopes=["members:write"])
    refused = APIClient().get(f"{API}/members/", HTTP_AUTHORIZATION=f"Bearer {narrow}")
    allowed = APIClient().get(f"{API}/members/", HTTP_AUTHORIZATION=f"Bearer {members}")
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "This API key lacks the 'members:write' scope."})
    assert allowed.status_code == 200


def test_operators_script_workspaces_members_and_keys_with_commands():
    out = io.StringIO()
    call_command("workspace", "create", "garden", "--name", "Garden Weekly",
                 "--time-zone", "Europe/Paris", stdout=out)
    call_command("member", "add", "garden", "ana", "--role", "admin", "--password",
                 "pw-Garden-2026", "--email", "ana@example.com", stdout=out)
    call_command("member", "add", "garden", "ana", "--role", "admin", stdout=out)  # idempotent
    keys = io.StringIO()
    call_command("apikey", "create", "garden", "ana", "--scopes", "briefs:read,briefs:write",
                 "--name", "CMS", stdout=keys)
    workspace = Workspace.objects.get(slug="garden")
    membership = Membership.objects.get(workspace=workspace)
    plaintext = keys.getvalue().splitlines()[-1]
    assert (workspace.name, workspace.time_zone) == ("Garden Weekly", "Europe/Paris")
    assert (membership.user.username, membership.role) == ("ana", "admin")
    assert membership.user.check_password("pw-Garden-2026")
    assert APIClient().get(f"{API}/briefs/", HTTP_AUTHORIZATION=f"Bearer {plaintext}"
                           ).status_code == 200
    assert ApiKey.objects.get().scopes == ["briefs:read", "briefs:write"]


@pytest.mark.parametrize(("command", "message"), [
    (["workspace", "create", "Not A Slug"], "'Not A Slug' is not a slug"),
    (["workspace", "create", "ok", "--time-zone", "Mars/Base"], "'Mars/Base' is not an IANA"),
    (["member", "add", "nowhere", "ana", "--role", "admin"], "No workspace has the slug"),
    (["apikey", "create", "nowhere", "ana", "--scopes", "briefs:read"], "No workspace has"),
])
def test_commands_refuse_bad_input_with_a_message(command, message):
    with pytest.raises(CommandError, match=message):
        call_command(*command, stdout=io.StringIO())


def test_a_key_for_a_non_member_is_refused_by_the_command(ws):
    factories.member(factories.workspace(slug="elsewhere"), Role.EDITOR, username="outsider")
    ws.slug = "here"
    ws.save()
    with pytest.raises(CommandError, match="must be a member of this workspace"):
        call_command("apikey", "create", "here", "outsider", "--scopes", "briefs:read",
                     stdout=io.StringIO())


def test_the_docs_scope_table_lists_every_scope_the_api_checks():
    table = Path(settings.BASE_DIR, "docs", "integrations.md").read_text()
    documented = {line.split("`")[1] for line in table.splitlines()
                  if line.startswith("| `") and ":" in line.split("`")[1]}
    checked = set()
    for pattern in get_resolver().url_patterns:
        for route in getattr(pattern, "url_patterns", []):
            view = getattr(getattr(route, "callback", None), "view_class", None)
            checked |= {getattr(view, s, None) for s in ("read_scope", "write_scope")} - {None}
    assert documented == set(Scope.values) == checked


def test_a_create_the_service_refuses_in_the_admin_is_a_form_error_that_keeps_the_input(
        ws, root):
    url = "/admin/integrations/recurringbrief/add/"
    typed = {"workspace": ws.pk, "name": "Daily digest", "cron": "0 9 * * *",
             "timezone": "UTC", "content_type": factories.content_type(ws).pk,
             "brief_fields": '{"bogus": 1}', "enabled": "on"}
    # when the service refuses what an admin typed (fields a brief does not have)
    refused = root.post(url, typed)
    # then the add form comes back with the refusal and what was typed, and nothing is saved
    assert refused.status_code == 200
    form = refused.context["adminform"].form
    assert any("brief fields are invalid" in e for e in form.non_field_errors()), form.errors
    assert form["name"].value() == "Daily digest" and "Daily digest" in refused.content.decode()
    assert not RecurringBrief.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["admin.added", "recurring.created"]).exists()


def test_a_taken_endpoint_slug_in_the_admin_is_the_slugs_error_not_a_500(ws, root):
    ct = factories.content_type(ws)
    fields = {"workspace": ws.pk, "name": "CMS", "slug": "cms", "content_type": ct.pk,
              "field_mapping": '{"title": "headline"}', "defaults": "{}",
              "max_body_bytes": 65536, "enabled": "on"}
    first = root.post("/admin/integrations/inboundendpoint/add/", fields)
    assert first.status_code == 302, first.context["adminform"].form.errors
    again = root.post("/admin/integrations/inboundendpoint/add/", {**fields, "name": "Other"})
    assert again.status_code == 200
    assert again.context["adminform"].form.errors == {
        "slug": ["Inbound endpoint with this Slug already exists."]}
    assert list(ws.inbound_endpoints.values_list("name", flat=True)) == ["CMS"]
