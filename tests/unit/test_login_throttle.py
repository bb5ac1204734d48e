"""The login throttle (django-axes on the shared cache): after 5 failed logins of a username,
the dashboard login, the admin login and API Basic auth refuse it, right password too, with
a 429 until the cool-off ends; then the right password works again."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.core.login_throttle import FailOpenCacheHandler
from tests import factories
from tests.clients import client_for, in_another_process

pytestmark = pytest.mark.django_db
PASSWORD = "right-pw-2026!"
ATTEMPTS = 40
LOCKED_PAGE = "Too many failed logins"


@pytest.fixture
def cool_off(settings) -> float:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    return 2.0


@pytest.fixture
def username() -> Iterator[str]:
    """A name no other test or earlier run has counted failures for; its count is cleared after."""
    name = f"throttled-{uuid.uuid4().hex[:12]}"
    yield name
    AxesProxyHandler.reset_attempts(username=name)


def _form_statuses(client: Client, url: str, username: str) -> list[int]:
    return [client.post(url, {"username": username, "password": f"wrong-{n}"}).status_code
            for n in range(ATTEMPTS)]


def test_dashboard_login_is_refused_after_5_failures_until_the_cool_off_ends(ws, username, cool_off):
    factories.member(ws, Role.EDITOR, username=username, password=PASSWORD)
    client = Client()

    # 40 wrong passwords: the first 4 get the form again, the 5th and later the lockout page
    assert _form_statuses(client, "/accounts/login/", username) == [200] * 4 + [429] * 36

    # The right password is refused too, with the page saying why, and logs nobody in
    locked = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert locked.status_code == 429
    assert LOCKED_PAGE in locked.text
    assert (f"“{username}” has failed to log in 5 times in a row, so logins for it are paused for "
            "2 seconds, with the right password too." in locked.text)
    assert "_auth_user_id" not in client.session

    # After the cool-off the right password logs in
    time.sleep(cool_off + 0.5)
    ok = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert (ok.status_code, ok.headers["Location"]) == (302, "/")
    assert client.session["_auth_user_id"] == str(get_user_model().objects.get(username=username).pk)


def test_a_wrong_password_before_the_limit_shows_the_form_error(ws, username, cool_off):
    factories.member(ws, Role.EDITOR, username=username, password=PASSWORD)

    response = Client().post("/accounts/login/", {"username": username, "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.text
    assert LOCKED_PAGE not in response.text


def test_admin_login_is_refused_after_5_failures_until_the_cool_off_ends(username, cool_off):
    get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)
    client = Client()

    assert _form_statuses(client, "/admin/login/", username) == [200] * 4 + [429] * 36
    locked = client.post("/admin/login/", {"username": username, "password": PASSWORD})
    assert locked.status_code == 429 and LOCKED_PAGE in locked.text
    assert "_auth_user_id" not in client.session

    time.sleep(cool_off + 0.5)
    ok = client.post("/admin/login/", {"username": username, "password": PASSWORD, "next": "/admin/"})
    assert (ok.status_code, ok.headers["Location"]) == (302, "/admin/")


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_api_basic_auth_is_refused_with_429_after_5_failures_until_the_cool_off_ends(
        ws, username, cool_off):
    factories.member(ws, Role.EDITOR, username=username, password=PASSWORD)
    client = APIClient()

    statuses = [client.get("/api/v1/briefs/", headers=_basic(username, f"wrong-{n}")).status_code
                for n in range(ATTEMPTS)]
    assert statuses == [401] * 4 + [429] * 36

    locked = client.get("/api/v1/briefs/", headers=_basic(username, PASSWORD))
    assert locked.status_code == 429
    assert locked.json() == {
        "detail": "Too many failed logins for this user. Expected available in 2 seconds."}
    assert locked.headers["Retry-After"] == "2"

    time.sleep(cool_off + 0.5)
    ok = client.get("/api/v1/briefs/", headers=_basic(username, PASSWORD))
    assert ok.status_code == 200
    assert ok.json()["results"] == []


def test_the_lockout_holds_in_every_process_of_the_deployment(ws, username, settings):
    # Given a username locked out by this process (a long cool-off: the other process's
    # start-up must not outlast it)
    settings.AXES_COOLOFF_TIME = timedelta(seconds=120)
    factories.member(ws, Role.EDITOR, username=username, password=PASSWORD)
    locked = Client()
    assert _form_statuses(locked, "/accounts/login/", username)[-1] == 429
    assert "paused for 2 minutes" in locked.post("/accounts/login/", {"username": username,
                                                                      "password": "x"}).text

    # When another web process checks the right password
    seen = in_another_process(
        "from django.contrib.auth import authenticate\n"
        "from django.test import RequestFactory\n"
        "request = RequestFactory().post('/accounts/login/')\n"
        f"user = authenticate(request, username={username!r}, password={PASSWORD!r})\n"
        "print(user is None, request.axes_locked_out)\n"
    )

    # Then it refuses it as locked out too
    assert seen == "True True"


def test_the_api_schema_describes_the_throttled_basic_auth(editor):
    spec = client_for(editor).get("/api/v1/schema/", {"format": "json"}).json()

    assert spec["components"]["securitySchemes"]["basicAuth"] == {"type": "http", "scheme": "basic"}
    assert {"basicAuth": []} in spec["paths"]["/api/v1/briefs/"]["get"]["security"]


@pytest.fixture
def cache_down(tmp_path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The throttle's cache unreachable, as in a Redis outage: a socket nothing listens on."""
    handler = FailOpenCacheHandler()
    handler.cache = RedisCache(f"unix://{tmp_path / 'gone.sock'}", {})
    AxesProxyHandler.implementation = handler
    yield
    AxesProxyHandler.get_implementation(force=True)


def test_while_the_cache_is_down_logins_go_unthrottled_with_a_warning(ws, username, cache_down,
                                                                       caplog):
    factories.member(ws, Role.EDITOR, username=username, password=PASSWORD)
    client = Client()

    assert _form_statuses(client, "/accounts/login/", username) == [200] * ATTEMPTS
    ok = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    api = APIClient().get("/api/v1/briefs/", headers=_basic(username, PASSWORD))

    assert (ok.status_code, ok.headers["Location"], api.status_code) == (302, "/", 200)
    assert "The login throttle is off: its cache is unreachable (ConnectionError" in caplog.text
