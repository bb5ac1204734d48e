"""The login throttle on the real web server (daphne, the ASGI path) in a real browser and over
the API: 5 failed logins lock the username out, the right password too, with a 429; an
operator's reset (the shared cache) lets it in again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from axes.handlers.proxy import AxesProxyHandler
from playwright.sync_api import expect

from apps.accounts.models import Role
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-lockout-2026!"


@pytest.fixture
def username() -> Iterator[str]:
    name = f"locked-{uuid.uuid4().hex[:10]}"
    factories.member(factories.workspace(), Role.EDITOR, username=name, password=PASSWORD)
    yield name
    AxesProxyHandler.reset_attempts(username=name)


def test_the_login_page_refuses_a_locked_out_username_until_it_is_reset(browser, live_platform,
                                                                        username, screenshot):
    context = browser.new_context(base_url=live_platform.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    statuses = []
    for password in [f"wrong-{n}" for n in range(5)] + [PASSWORD]:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation() as sent:
            page.get_by_role("button", name="Log in").click()
        statuses.append(sent.value.status)

    assert statuses == [200, 200, 200, 200, 429, 429]
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(f"“{username}” has failed to log in 5 times")
    screenshot(page, "locked-out")

    AxesProxyHandler.reset_attempts(username=username)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_platform.url}/")
    context.close()


def test_api_basic_auth_answers_429_json_to_a_locked_out_username(live_platform, username):
    with httpx.Client(base_url=live_platform.url, timeout=30) as client:
        statuses = [client.get("/api/v1/briefs/", auth=(username, f"wrong-{n}")).status_code
                    for n in range(5)]
        locked = client.get("/api/v1/briefs/", auth=(username, PASSWORD))

    assert statuses == [401, 401, 401, 401, 429]
    assert locked.status_code == 429
    assert locked.json()["detail"].startswith("Too many failed logins for this user.")
    assert int(locked.headers["Retry-After"]) == 900
