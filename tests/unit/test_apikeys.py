"""API keys: shown once, stored hashed, scoped, revocable, last use recorded, throttled."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.apikeys.models import ApiKey, Scope
from apps.apikeys.services import apikey_create, apikey_revoke
from apps.core.errors import DomainError
from apps.core.models import AuditEvent
from tests import factories
from tests.clients import in_another_process

pytestmark = pytest.mark.django_db

BRIEFS = "/api/v1/briefs/"


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()


def bearer(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def test_a_key_is_returned_once_and_only_its_digest_is_stored(ws, editor):
    # when a key is created
    key, plaintext = apikey_create(workspace=ws, user=editor, name="CMS",
                                   scopes=["briefs:write", "briefs:read"])
    # then the plaintext carries the prefix, and the row holds its SHA-256 only
    assert plaintext.startswith(f"aigc_{key.prefix}_")
    assert key.digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert key.scopes == ["briefs:read", "briefs:write"]
    assert AuditEvent.objects.filter(action="apikey.created", subject_id=key.pk).count() == 1


def test_unknown_scopes_and_strangers_are_refused(ws, editor):
    stranger = factories.member(factories.workspace(), Role.EDITOR)
    with pytest.raises(DomainError, match="Unknown scopes: admin:all."):
        apikey_create(workspace=ws, user=editor, name="x", scopes=["admin:all"])
    with pytest.raises(DomainError, match="Give the key at least one scope."):
        apikey_create(workspace=ws, user=editor, name="x", scopes=[])
    with pytest.raises(DomainError):
        apikey_create(workspace=ws, user=stranger, name="x", scopes=["briefs:read"])
    assert ApiKey.objects.count() == 0


def test_a_key_reads_its_own_workspace_and_records_its_last_use(ws, editor):
    # given a read key, a brief in its workspace and one in another workspace of the same user
    other = factories.workspace()
    factories.member(other, Role.EDITOR)
    factories.brief(ws, title="mine")
    factories.brief(other, title="theirs")
    key, plaintext = apikey_create(workspace=ws, user=editor, name="r", scopes=["briefs:read"])
    # when it lists briefs, even asking for another workspace
    response = bearer(plaintext).get(BRIEFS, HTTP_X_WORKSPACE=str(other.pk))
    # then it sees its own workspace only and its use is recorded
    assert response.status_code == 200
    assert [b["title"] for b in response.json()["results"]] == ["mine"]
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=5)


def test_a_key_without_the_write_scope_may_not_create(ws, editor):
    factories.content_type(ws, slug="blog")
    _, read_only = apikey_create(workspace=ws, user=editor, name="r", scopes=["briefs:read"])
    _, writer = apikey_create(workspace=ws, user=editor, name="w", scopes=["briefs:write"])
    body = {"title": "t", "content_type": "blog", "topic": "x"}
    refused = bearer(read_only).post(BRIEFS, body, format="json")
    created = bearer(writer).post(BRIEFS, body, format="json")
    assert (refused.status_code, refused.json()) == (
        403, {"detail": "This API key lacks the 'briefs:write' scope."})
    assert created.status_code == 201
    assert created.json()["origin"] == "api"


def test_wrong_revoked_and_malformed_keys_are_401_with_a_bearer_challenge(ws, editor):
    key, plaintext = apikey_create(workspace=ws, user=editor, name="r", scopes=["briefs:read"])
    apikey_revoke(key=key, actor=editor)
    apikey_revoke(key=key, actor=editor)  # a second revoke changes nothing
    for header in (f"Bearer {plaintext}", f"Bearer {plaintext[:-1]}x", "Bearer aigc_nope",
                   "Bearer two words"):
        response = APIClient().get(BRIEFS, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"] == "Bearer"
    assert AuditEvent.objects.filter(action="apikey.revoked").count() == 1


def test_throttles_count_per_key_and_per_user(ws, editor, settings):
    # given limits of 2 requests a minute per key and 4 per user
    settings.API_THROTTLE_KEY_RATE = "2/min"
    settings.API_THROTTLE_USER_RATE = "4/min"
    _, first = apikey_create(workspace=ws, user=editor, name="a", scopes=[Scope.BRIEFS_READ])
    _, second = apikey_create(workspace=ws, user=editor, name="b", scopes=[Scope.BRIEFS_READ])
    # when the first key calls three times and the second twice
    statuses = [bearer(first).get(BRIEFS).status_code for _ in range(3)]
    statuses += [bearer(second).get(BRIEFS).status_code for _ in range(2)]
    # then the key limit stops the first key's third call; the user limit the second key's second
    assert statuses == [200, 200, 429, 200, 429]
    assert "Retry-After" in bearer(second).get(BRIEFS).headers


def test_throttle_counts_are_shared_by_every_process(ws, editor, settings):
    # given a key limited to 2 requests a minute that used both in this process
    settings.API_THROTTLE_KEY_RATE = "2/min"
    _, key = apikey_create(workspace=ws, user=editor, name="a", scopes=[Scope.BRIEFS_READ])
    assert [bearer(key).get(BRIEFS).status_code for _ in range(2)] == [200, 200]
    # when another process (a second web worker) reads the throttle history of the cache
    seen = in_another_process(
        "from django.core.cache import cache\n"
        "keys = cache._cache.get_client().keys('aigc:1:throttle_*')\n"
        "print(sum(len(cache.get(k.decode().removeprefix('aigc:1:'))) for k in keys))")
    # then it sees the same two requests (4: the key's and the user's history)
    assert seen == "4"
