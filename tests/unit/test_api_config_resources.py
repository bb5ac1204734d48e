"""API v1 writes of the workspace's configuration: content types, style guides, model profiles."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.api_auth import (
    WorkspaceDetailApi,
    WorkspaceListApi,
    WorkspaceRowCreate,
    WorkspaceRowsApi,
    WorkspaceRowUpdate,
)
from apps.accounts.models import Role
from apps.briefs.models import ContentType, StyleGuide
from apps.core.api import ApiBase
from apps.core.crypto import secret_decrypt
from apps.core.models import AuditEvent
from apps.core.serializers import WorkspaceScopedSerializer
from apps.generation.models import ModelProfile
from tests import factories
from tests.clients import client_for, key_client

pytestmark = pytest.mark.django_db

API = "/api/v1"
TEMPLATE = "Write about {topic} for {audience}."


def audit_actions(ws) -> list[tuple[str, str]]:
    """The workspace's audit trail after its members were added."""
    return list(AuditEvent.objects.filter(workspace=ws).exclude(action="member.role_set")
                .order_by("id").values_list("action", "actor_label"))


def test_an_editor_creates_and_updates_a_content_type(ws, editor):
    # given a model profile of the workspace
    profile = factories.model_profile(ws)
    client = client_for(editor)
    # when the editor creates a content type on it, then changes its template
    created = client.post(f"{API}/content-types/", {
        "name": "Newsletter", "slug": "newsletter", "prompt_template": TEMPLATE,
        "default_length": 200, "model_profile_id": profile.pk}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    updated = client.patch(f"{API}/content-types/{pk}/",
                           {"prompt_template": "Title: {title}", "model_profile_id": None},
                           format="json")
    # then both answers show the row, and both writes are audited with the editor
    assert {k: created.json()[k] for k in ("slug", "default_length", "default_variants",
                                           "model_profile_id")} == {
        "slug": "newsletter", "default_length": 200, "default_variants": 3,
        "model_profile_id": profile.pk}
    assert updated.status_code == 200, updated.content
    assert (updated.json()["prompt_template"], updated.json()["model_profile_id"]) == (
        "Title: {title}", None)
    row = ContentType.objects.get(pk=pk)
    assert (row.workspace_id, row.name, row.model_profile_id) == (ws.pk, "Newsletter", None)
    assert audit_actions(ws) == [("content_type.created", editor.username),
                                 ("content_type.updated", editor.username)]
    event = AuditEvent.objects.get(action="content_type.updated")
    assert (event.before["prompt_template"], event.after["prompt_template"]) == (
        TEMPLATE, "Title: {title}")


def test_content_type_input_is_refused_field_by_field(ws, editor):
    # given a taken slug and another workspace's model profile
    factories.content_type(ws, slug="taken")
    theirs = factories.model_profile(factories.workspace())
    client = client_for(editor)
    # when the editor sends an unknown prompt field, the taken slug and the foreign profile
    refused = client.post(f"{API}/content-types/", {
        "name": "X", "slug": "taken", "prompt_template": "About {subject}",
        "model_profile_id": theirs.pk, "default_variants": 9}, format="json")
    malformed = client.post(f"{API}/content-types/", {
        "name": "X", "slug": "fresh", "prompt_template": "About {topic"}, format="json")
    # then each field says what is wrong and nothing is written
    assert refused.status_code == 400
    assert refused.json() == {
        "slug": ["A content type with slug 'taken' already exists."],
        "prompt_template": [
            "Unknown prompt fields: subject. Known: title, topic, audience, tone, keywords, "
            "target_length, language, source_material, feedback, banned_terms, required_terms, "
            "example_texts, reference_texts, target_format."],
        "model_profile_id": [f"Unknown model profile {theirs.pk} in this workspace."],
        "default_variants": ["Ensure this value is less than or equal to 8."],
    }
    assert malformed.status_code == 400
    assert list(malformed.json()) == ["prompt_template"]
    assert malformed.json()["prompt_template"][0].startswith("The prompt template is malformed")
    assert ContentType.objects.filter(workspace=ws).count() == 1
    assert audit_actions(ws) == []


def test_patching_a_content_type_keeps_its_own_slug_but_refuses_anothers(ws, editor):
    first = factories.content_type(ws, slug="first")
    factories.content_type(ws, slug="second")
    client = client_for(editor)
    same = client.patch(f"{API}/content-types/{first.pk}/", {"slug": "first"}, format="json")
    clash = client.patch(f"{API}/content-types/{first.pk}/", {"slug": "second"}, format="json")
    assert same.status_code == 200
    assert (clash.status_code, clash.json()) == (
        400, {"slug": ["A content type with slug 'second' already exists."]})


def test_an_editor_creates_and_updates_a_style_guide(ws, editor):
    client = client_for(editor)
    created = client.post(f"{API}/style-guides/", {
        "name": "House", "tone": "warm", "banned_terms": ["synergy"]}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    updated = client.patch(f"{API}/style-guides/{pk}/",
                           {"required_terms": ["rain"], "example_texts": ["An example."]},
                           format="json")
    assert updated.status_code == 200, updated.content
    assert {k: updated.json()[k] for k in ("name", "tone", "banned_terms", "required_terms",
                                           "example_texts")} == {
        "name": "House", "tone": "warm", "banned_terms": ["synergy"], "required_terms": ["rain"],
        "example_texts": ["An example."]}
    assert StyleGuide.objects.get(pk=pk).required_terms == ["rain"]
    assert audit_actions(ws) == [("style_guide.created", editor.username),
                                 ("style_guide.updated", editor.username)]


def test_style_guide_lists_must_be_short_lists_of_strings(ws, editor):
    refused = client_for(editor).post(f"{API}/style-guides/", {
        "name": "House", "banned_terms": "synergy", "required_terms": ["x" * 101],
        "example_texts": ["e"] * 21}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "banned_terms": ['Expected a list of items but got type "str".'],
        "required_terms": {"0": ["Ensure this field has no more than 100 characters."]},
        "example_texts": ["Ensure this field has no more than 20 elements."],
    }
    assert StyleGuide.objects.count() == 0


def test_an_admin_creates_and_updates_a_model_profile_with_a_write_only_key(ws, admin):
    client = client_for(admin)
    created = client.post(f"{API}/model-profiles/", {
        "name": "vLLM", "backend": "openai", "model": "qwen", "base_url": "http://gpu:8000/v1",
        "parameters": {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 512},
        "api_key": "sk-secret"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    updated = client.patch(f"{API}/model-profiles/{pk}/",
                           {"parameters": {"temperature": 1.2}, "device": "cuda:1"},
                           format="json")
    removed = client.patch(f"{API}/model-profiles/{pk}/", {"api_key": ""}, format="json")
    # then the key is stored encrypted, never answered nor audited
    assert "api_key" not in created.json()
    assert created.json()["has_api_key"] is True
    assert (updated.status_code, updated.json()["parameters"], updated.json()["device"],
            updated.json()["has_api_key"]) == (200, {"temperature": 1.2}, "cuda:1", True)
    assert (removed.status_code, removed.json()["has_api_key"]) == (200, False)
    assert ModelProfile.objects.get(pk=pk).api_key_encrypted == ""
    assert audit_actions(ws) == [("model_profile.created", admin.username),
                                 ("model_profile.updated", admin.username),
                                 ("model_profile.updated", admin.username)]
    assert all("sk-secret" not in str(e.before) + str(e.after) for e in AuditEvent.objects.all())


def test_a_model_profiles_key_is_encrypted_at_rest(ws, admin):
    created = client_for(admin).post(f"{API}/model-profiles/", {
        "name": "vLLM", "backend": "openai", "model": "qwen", "base_url": "http://gpu:8000/v1",
        "api_key": "sk-secret"}, format="json")
    stored = ModelProfile.objects.get(pk=created.json()["id"]).api_key_encrypted
    assert "sk-secret" not in stored
    assert secret_decrypt(stored) == "sk-secret"


def test_model_profile_input_is_refused_field_by_field(ws, admin):
    client = client_for(admin)
    refused = client.post(f"{API}/model-profiles/", {
        "name": "Bad", "backend": "gpt", "device": "gpu",
        "parameters": {"temperature": 3, "top_p": 0, "max_new_tokens": 5000, "beam": 2}},
        format="json")
    needs_server = client.post(f"{API}/model-profiles/", {"name": "vLLM", "backend": "openai"},
                               format="json")
    not_an_object = client.post(f"{API}/model-profiles/", {"name": "B", "parameters": [1]},
                                format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "backend": ['"gpt" is not a valid choice.'],
        "device": ["auto, cpu, mps, cuda or cuda:N."],
        "parameters": [
            "Unknown parameter 'beam'; known: temperature, temperatures, top_p, max_new_tokens, "
            "min_new_tokens, seed, stop, chat.",
            "'temperature' must be a number from 0 to 2.",
            "'top_p' must be a number from 0.01 to 1.",
            "'max_new_tokens' must be a whole number from 1 to 4096.",
        ],
    }
    assert (needs_server.status_code, needs_server.json()) == (400, {
        "model": ["The openai backend needs a model name."],
        "base_url": ["An openai profile needs the server's base URL."]})
    assert (not_an_object.status_code, list(not_an_object.json())) == (400, ["parameters"])
    assert ModelProfile.objects.count() == 0


def test_editors_may_not_write_model_profiles(ws, editor):
    profile = factories.model_profile(ws)
    client = client_for(editor)
    denied = [client.post(f"{API}/model-profiles/", {"name": "P"}, format="json"),
              client.patch(f"{API}/model-profiles/{profile.pk}/", {"name": "N"}, format="json")]
    assert [(r.status_code, r.json()) for r in denied] == [
        (403, {"detail": "You do not have a role in this workspace that allows this."})] * 2
    assert client.get(f"{API}/model-profiles/{profile.pk}/").status_code == 200
    assert ModelProfile.objects.get(pk=profile.pk).name == profile.name


def test_reviewers_may_read_but_not_write_configuration(ws):
    reviewer = factories.member(ws, Role.REVIEWER)
    content_type = factories.content_type(ws)
    client = client_for(reviewer)
    denied = [
        client.post(f"{API}/style-guides/", {"name": "G"}, format="json"),
        client.post(f"{API}/model-profiles/", {"name": "P"}, format="json"),
        client.patch(f"{API}/content-types/{content_type.pk}/", {"name": "N"}, format="json"),
    ]
    assert [r.status_code for r in denied] == [403, 403, 403]
    assert client.get(f"{API}/content-types/{content_type.pk}/").status_code == 200
    assert ContentType.objects.get(pk=content_type.pk).name == content_type.name
    assert audit_actions(ws) == []


def test_another_workspaces_rows_are_not_found(ws, admin):
    other = factories.workspace()
    rows = {"content-types": factories.content_type(other),
            "style-guides": StyleGuide.objects.create(workspace=other, name="Theirs"),
            "model-profiles": factories.model_profile(other)}
    client = client_for(admin)
    answers = {kind: client.patch(f"{API}/{kind}/{row.pk}/", {"name": "Mine"}, format="json")
               .status_code for kind, row in rows.items()}
    assert answers == {"content-types": 404, "style-guides": 404, "model-profiles": 404}
    assert ContentType.objects.get(pk=rows["content-types"].pk).name != "Mine"


def test_an_api_key_needs_the_catalog_write_scope(ws, editor):
    body = {"name": "House"}
    refused = key_client(ws, editor, "briefs:read").post(f"{API}/style-guides/", body,
                                                         format="json")
    created = key_client(ws, editor, "briefs:read", "catalog:write").post(
        f"{API}/style-guides/", body, format="json")
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "This API key lacks the 'catalog:write' scope."})
    assert created.status_code == 201


def test_the_schema_documents_the_writes():
    schema = APIClient().get(f"{API}/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for kind in ("content-types", "style-guides", "model-profiles"):
        assert set(paths[f"/api/v1/{kind}/"]) == {"get", "post"}
        assert set(paths[f"/api/v1/{kind}/{{id}}/"]) == {"get", "patch"}
    profile = schema.json()["components"]["schemas"]["ModelProfileRequest"]["properties"]
    assert profile["api_key"]["writeOnly"] is True


def test_the_schema_describes_operations_and_bodies_only_in_their_own_words():
    """The platform's base classes document the code; their docstrings reaching integrators
    would describe every list as "rows of the caller's workspace" and name internal modules."""
    schema = APIClient().get(f"{API}/schema/", {"format": "json"}).json()
    described = [op.get("description", "") for path in schema["paths"].values()
                 for op in path.values()]
    described += [body.get("description", "") for body in schema["components"]["schemas"].values()]
    bases = [ApiBase, WorkspaceRowsApi, WorkspaceListApi, WorkspaceDetailApi, WorkspaceRowCreate,
             WorkspaceRowUpdate, WorkspaceScopedSerializer]
    for base in bases:
        first_line = (base.__doc__ or "").strip().splitlines()[0]
        assert not [text for text in described if first_line in text], base
    assert all("apps." not in text for text in described)
    brief = schema["paths"]["/api/v1/briefs/{brief_id}/"]["get"]["description"]
    assert brief == "A brief with its jobs, drafts and their scores, reviews and publications."
