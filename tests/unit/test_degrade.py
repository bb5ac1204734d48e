"""Faults and bad input degrade to clear JSON errors (413, 400, 404, 503), never a 500."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from rest_framework.test import APIClient

from aigc_platform.processes import free_port
from apps.accounts.models import Role
from apps.apikeys.authentication import FailOpenRateThrottle
from apps.core import health
from apps.core.api_errors import UNAVAILABLE_DETAIL
from apps.core.json_input import JsonRejected, json_checked
from apps.integrations.inbound import endpoint_create
from apps.integrations.models import Delivery, InboundDelivery
from apps.integrations.outbound import subscription_create
from tests import factories
from tests.clients import client_for, logged_in
from tests.unit.test_integrations_inbound import signed

API = "/api/v1"
HOOK = "/api/v1/hooks/cms/"
DEEP = b"[" * 1000 + b"]" * 1000
NUL_IN_VALUE = b'{"name": "Blog", "parameters": {"temperature": "hot\\u0000"}}'


def nested(levels: int) -> bytes:
    return b'{"a": ' * (levels - 1) + b"[1]" + b"}" * (levels - 1)


# --- JSON input: depth and NUL characters


def test_json_up_to_the_depth_limit_parses_and_one_level_more_is_refused():
    assert json_checked(nested(32)) == json.loads(nested(32))
    with pytest.raises(JsonRejected, match="^The JSON nests deeper than 32 levels.$"):
        json_checked(nested(33))


def test_brackets_and_escaped_quotes_inside_strings_do_not_count_as_nesting():
    text = '{"title": "' + "[{" * 100 + '\\" ]]] {{{", "k": ["\\\\"]}'
    assert json_checked(text) == {"title": "[{" * 100 + '" ]]] {{{', "k": ["\\"]}


def test_json_far_deeper_than_python_can_parse_is_refused_without_recursion():
    with pytest.raises(JsonRejected, match="deeper than 32"):
        json_checked(b"[" * 200_000)


def test_nul_characters_are_refused_in_values_and_keys_alike():
    for raw in ('{"a": ["x\\u0000y"]}', '{"a": {"b\\u0000": 1}}', '"\\u0000"'):
        with pytest.raises(JsonRejected, match="NUL character"):
            json_checked(raw)
    # an escaped backslash before u0000 is the six characters \u0000, not a NUL
    assert json_checked('{"a": "\\\\u0000"}') == {"a": "\\u0000"}


def test_nan_and_infinity_are_refused():
    for raw in ("[NaN]", '{"a": Infinity}', "-Infinity"):
        with pytest.raises(JsonRejected, match="is not a JSON number"):
            json_checked(raw)


@pytest.mark.django_db
def test_every_api_endpoint_answers_400_for_deep_json_and_nul_characters(ws, admin):
    client = client_for(admin)
    for path in ("/briefs/", "/briefs/import/", "/model-profiles/", "/targets/",
                 "/webhook-endpoints/", "/feeds/", "/recurring-briefs/"):
        deep = client.generic("POST", API + path, DEEP, content_type="application/json")
        nul = client.generic("POST", API + path, NUL_IN_VALUE, content_type="application/json")
        assert (deep.status_code, deep.json()) == (
            400, {"detail": "The JSON nests deeper than 32 levels."}), path
        assert (nul.status_code, nul.json()) == (
            400, {"detail": "The JSON holds a NUL character (\\u0000), which cannot be stored."}
        ), path


@pytest.mark.django_db
def test_an_imported_json_file_is_checked_like_a_body(ws, editor):
    upload = SimpleUploadedFile("briefs.json", b'[{"title": "a\\u0000"}]',
                                content_type="application/json")
    response = client_for(editor).post(f"{API}/briefs/import/", {"file": upload},
                                       format="multipart")
    assert (response.status_code, response.json()) == (400, {"file": [
        "The JSON holds a NUL character (\\u0000), which cannot be stored."]})


@pytest.mark.django_db
def test_the_dashboards_json_field_shows_deep_json_and_nul_characters_as_form_errors(ws, admin):
    client = logged_in(admin)
    deep = client.post("/training/", {"kind": "finetune", "parameters": "[" * 3000})
    nul = client.post("/training/", {"kind": "finetune", "parameters": '{"steps\\u0000": 1}'})
    assert (deep.status_code, nul.status_code) == (400, 400)
    assert "The JSON nests deeper than 32 levels." in deep.content.decode()
    assert "The JSON holds a NUL character (\\u0000), which cannot be stored." in (
        nul.content.decode())


@pytest.fixture
def hook_secret(ws) -> str:
    ct = factories.content_type(ws, slug="blog")
    _, secret = endpoint_create(workspace=ws, name="CMS", slug="cms", content_type_id=ct.pk,
                                field_mapping={"title": "title"})
    return secret


@pytest.mark.django_db
def test_the_signed_inbound_hook_answers_400_for_deep_json_and_nul_characters(hook_secret):
    deep = APIClient().post(HOOK, DEEP, content_type="application/json",
                            **signed(hook_secret, DEEP, msg_id="msg_deep"))
    nul = b'{"title": "Rain\\u0000"}'
    with_nul = APIClient().post(HOOK, nul, content_type="application/json",
                                **signed(hook_secret, nul, msg_id="msg_nul"))
    assert (deep.status_code, deep.json()) == (
        400, {"detail": "The JSON nests deeper than 32 levels."})
    assert (with_nul.status_code, with_nul.json()) == (
        400, {"detail": "The JSON holds a NUL character (\\u0000), which cannot be stored."})
    # the refusals are the stored answers to those ids, like any other after the signature
    assert sorted(InboundDelivery.objects.values_list("message_id", "response_status")) == [
        ("msg_deep", 400), ("msg_nul", 400)]


# --- Sizes, paths, empty bodies


@pytest.mark.django_db
def test_a_body_above_the_limit_is_a_json_413_on_the_api_and_the_hook(ws, editor, hook_secret):
    big = b'{"title": "' + b"x" * 1_000_001 + b'"}'
    api = client_for(editor).generic("POST", f"{API}/briefs/", big,
                                     content_type="application/json")
    hook = APIClient().post(HOOK, big, content_type="application/json",
                            **signed(hook_secret, big))
    for response in (api, hook):
        assert (response.status_code, response.json()) == (
            413, {"detail": "The body is larger than 1000000 bytes."})


@pytest.mark.django_db
def test_a_multipart_field_above_the_limit_is_a_json_413(ws, editor):
    response = client_for(editor).post(f"{API}/briefs/", {"title": "x" * 1_000_001},
                                       format="multipart")
    assert (response.status_code, response.json()) == (
        413, {"detail": "The body is larger than 1000000 bytes."})


@pytest.mark.django_db
def test_ids_below_1_are_json_404s(ws, editor):
    client = client_for(editor)
    negative = client.get(f"{API}/briefs/-1/")
    zero = client.get(f"{API}/briefs/0/")
    assert (negative.status_code, negative["Content-Type"], negative.json()) == (
        404, "application/json", {"detail": "Not Found."})
    assert (zero.status_code, zero.json()) == (404, {"detail": "Brief 0 not found."})


@pytest.mark.django_db
def test_an_empty_multipart_body_is_a_json_400_with_a_message(ws, editor):
    response = client_for(editor).generic("POST", f"{API}/briefs/import/", b"",
                                          content_type="multipart/form-data; boundary=b")
    assert (response.status_code, response.json()) == (400, {"non_field_errors": [
        "Send a JSON list of briefs, a text/csv body, or a multipart 'file'."]})


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404_and_a_page_path_stays_html(ws, editor):
    api = client_for(editor).get("/api/v2/briefs/")
    page = Client().get("/no-such-page/")
    assert (api.status_code, api.json()) == (404, {"detail": "Not Found."})
    assert (page.status_code, page["Content-Type"]) == (404, "text/html; charset=utf-8")


# --- Cache, database and broker outages


@pytest.fixture
def cache_down() -> Iterator[None]:
    """The throttles' cache points at a port nobody listens on."""
    location = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(CACHES={"default": {**settings.CACHES["default"],
                                              "LOCATION": location}}):
        yield


@pytest.mark.django_db
def test_throttles_fail_open_with_a_warning_when_their_cache_is_down(
        ws, editor, cache_down, caplog, monkeypatch):
    monkeypatch.setattr(FailOpenRateThrottle, "warned_at", float("-inf"))
    client = client_for(editor)
    with caplog.at_level(logging.WARNING, logger="apps.apikeys.authentication"):
        answers = [client.get(f"{API}/briefs/").status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    # one warning for the outage, not one per request
    assert [r.getMessage().split(" (")[0] for r in caplog.records
            if r.name == "apps.apikeys.authentication"] == [
        "API throttles are off: their cache is unreachable"]


@pytest.fixture
def database_unreachable(django_db_blocker, tmp_path: Path) -> Iterator[None]:
    """The default connection points at a database that cannot be opened (a closed port on
    PostgreSQL, a missing folder on SQLite), outside any test transaction; restored after."""
    pooled = getattr(connection, "pool", None) is not None
    with django_db_blocker.unblock():
        connection.close()
        if pooled:  # the pool holds the old address: a new one is built from the settings
            connection.close_pool()
        saved = copy.deepcopy(connection.settings_dict)
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
            if pooled:  # give up on the closed port in a second, not the pool's ten
                connection.settings_dict["OPTIONS"]["pool"]["timeout"] = 1.0
        try:
            yield
        finally:
            connection.close()
            if pooled:
                connection.close_pool()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def test_the_api_answers_503_json_with_retry_after_when_the_database_is_unreachable(
        database_unreachable):
    client = APIClient()
    client.force_authenticate(get_user_model()(pk=1, username="editor"))
    response = client.get(f"{API}/briefs/")
    assert (response.status_code, response["Retry-After"], response.json()) == (
        503, "5", {"detail": UNAVAILABLE_DETAIL})


def test_a_page_answers_the_503_page_when_the_database_is_unreachable(database_unreachable):
    response = Client().post("/accounts/login/", {"username": "editor", "password": "pw"})
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert b"<h1>Briefly unavailable</h1>" in response.content


def test_readyz_names_the_unreachable_database(database_unreachable, monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)  # an earlier probe in this process passed
    response = Client().get("/readyz")
    body = response.json()
    assert (response.status_code, response["Retry-After"], body["status"], body["failed"]) == (
        503, "5", "unavailable", ["database", "migrations"])
    assert (body["checks"]["broker"], body["checks"]["channel_layer"]) == ("ok", "ok")
    assert body["checks"]["database"] == "failed: OperationalError"


@pytest.mark.django_db
def point_broker_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # Celery fills in the read and write URLs from CELERY_BROKER_URL when one is set; as
    # items, so that undoing brings back the computed values.
    for name in ("broker_url", "broker_read_url", "broker_write_url"):
        monkeypatch.setitem(current_app.conf, name, url)


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker_and_channel_layer(monkeypatch):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    point_broker_at(monkeypatch, closed)
    layers = {"default": {**settings.CHANNEL_LAYERS["default"],
                          "CONFIG": {"hosts": [closed]}}}
    with override_settings(CHANNEL_LAYERS=layers):
        response = Client().get("/readyz")
    body = response.json()
    assert (response.status_code, body["failed"]) == (503, ["broker", "channel_layer"])
    assert (body["checks"]["database"], body["checks"]["migrations"]) == ("ok", "ok")


@pytest.mark.django_db
def test_readyz_is_ready_and_healthz_alive_whatever_host_the_probe_sends():
    probe = Client(HTTP_HOST="10.1.2.3:8000")
    ready = probe.get("/readyz")
    alive = probe.get("/healthz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {
        "database": "ok", "migrations": "ok", "broker": "ok", "channel_layer": "ok"}})
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})


def broker_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery sends to a port nobody listens on, through fresh connection pools (the
    session's pools stay connected to the real broker and come back after the test)."""
    point_broker_at(monkeypatch, f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(current_app.amqp, "_producer_pool", None)


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_when_the_broker_does_not_take_a_message(monkeypatch):
    # given a failed delivery (its task is sent when the redelivery commits)
    ws = factories.workspace()
    admin = factories.member(ws, Role.ADMIN)
    subscription_create(workspace=ws, name="Bot", url="https://hooks.test/in",
                        event_types=["brief.queued"])
    factories.brief(ws, submit=True)  # relayed on commit: one delivery to the subscription
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(state="failed")
    # when it is redelivered while the broker is unreachable
    broker_unreachable(monkeypatch)
    response = client_for(admin).post(f"{API}/webhook-deliveries/{delivery.pk}/redeliver/")
    # then the client is told to come back, in JSON
    assert (response.status_code, response["Retry-After"], response.json()) == (
        503, "5", {"detail": UNAVAILABLE_DETAIL})


def test_a_database_met_down_by_a_middleware_is_a_503_too(database_unreachable):
    # A signed-in browser's session is read by the middleware (session, user, time zone)
    # before any view runs, so the view's own 503 handling never sees the error
    client = Client(raise_request_exception=False)  # answer as a server would
    client.cookies["sessionid"] = "a" * 32
    response = client.get("/")
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert b"<h1>Briefly unavailable</h1>" in response.content
