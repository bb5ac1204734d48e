"""Secrets at rest: a dump of the whole database (pg_dump on PostgreSQL, the SQLite dump
otherwise) after creating every kind of credential holds none of them in plaintext."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
from django.db import connection

from apps.accounts.models import Role
from apps.apikeys.services import apikey_create
from apps.core.crypto import secret_decrypt
from apps.generation.services import model_profile_create
from apps.integrations.inbound import endpoint_create, endpoint_secret_rotate
from apps.integrations.outbound import subscription_create
from apps.publishing.models import TargetKind
from apps.publishing.targets import target_create, target_secret_set
from tests import factories

# Committed rows, so that another process (pg_dump) sees them.
pytestmark = pytest.mark.django_db(transaction=True)


def database_dump() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        with sqlite3.connect(settings["NAME"]) as db:
            return "\n".join(db.iterdump())
    assert connection.vendor == "postgresql"
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump (PostgreSQL's client) is needed to dump the test database"
    command = [pg_dump, "--data-only", "--no-owner", "-h", settings["HOST"] or "127.0.0.1",
               "-p", str(settings["PORT"] or 5432), "-U", settings["USER"] or "postgres",
               settings["NAME"]]
    env = {"PGPASSWORD": settings["PASSWORD"] or ""}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env,
                          timeout=120).stdout


def test_no_secret_is_in_a_dump_of_the_database():
    ws = factories.workspace()
    admin = factories.member(ws, Role.ADMIN, password="Login-pass-7731")
    ct = factories.content_type(ws)
    secrets = {
        "wordpress": "editor:abcd EFGH ijkl MNOP qrst UVWX",
        "ghost": "6489a0c2f1e3d4b5a6978899:" + "9f" * 32,
        "mastodon": "mastodon-token-QwErTy0987654321",
        "chat": "https://hooks.slack.invalid/services/T000/B000/XyZsecretPath42",
        "login password": "Login-pass-7731",
    }
    for kind in (TargetKind.WORDPRESS, TargetKind.GHOST, TargetKind.MASTODON):
        target_create(workspace=ws, name=kind, kind=kind, config={"url": "https://cms.invalid"},
                      secret=secrets[kind])
    target_create(workspace=ws, name="chat", kind=TargetKind.CHAT, config={"flavor": "slack"},
                  secret=secrets["chat"])
    hook = target_create(workspace=ws, name="webhook", kind=TargetKind.WEBHOOK,
                         config={"url": "https://receiver.invalid/in"})
    replaced = target_create(workspace=ws, name="mastodon 2", kind=TargetKind.MASTODON,
                             config={"url": "https://social.invalid"}, secret="first-token-777")
    target_secret_set(target=replaced, secret="second-token-888")
    secrets["replaced mastodon"] = "second-token-888"
    secrets["old mastodon"] = "first-token-777"
    endpoint, secrets["endpoint"] = endpoint_create(workspace=ws, name="CMS", slug="cms",
                                                    content_type_id=ct.pk)
    secrets["rotated endpoint"] = endpoint_secret_rotate(endpoint=endpoint)
    _, secrets["subscription"] = subscription_create(
        workspace=ws, name="Bot", url="https://bot.invalid/in", event_types=["brief.*"])
    model_profile_create(workspace_id=ws.pk, name="vLLM", backend="openai", model="qwen",
                         base_url="https://gpu.invalid/v1", api_key="sk-live-model-key-5566")
    secrets["model key"] = "sk-live-model-key-5566"
    _, secrets["api key"] = apikey_create(workspace=ws, user=admin, name="CMS",
                                          scopes=["briefs:read"])
    secrets["webhook target"] = secret_decrypt(hook.secret_encrypted)

    dump = database_dump()

    assert "cms.invalid" in dump  # the dump holds the rows (their public config)
    # The random part of each secret: prefixes like whsec_ and aigc_ are public.
    found = {name: secret for name, secret in secrets.items()
             if secret.split("_", 1)[-1] in dump}
    assert found == {}
