"""Workspace settings in Chromium: an admin adds a webhook target from the Settings link,
tests its connection against a local receiver, and makes an API key that is shown once,
while a second admin's settings pages follow live (without losing what she typed) and an
editor finds no settings at all; the pages fit a phone's width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.apikeys.models import ApiKey
from apps.apikeys.services import apikey_authenticate
from apps.core import signing
from apps.publishing.models import PublishingTarget
from tests import factories
from tests.http_peers import HttpPeer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"


def test_an_admin_adds_a_target_tests_it_and_makes_an_api_key_shown_once(
        signed_in, screenshot):
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.ADMIN, username="ada", password=PASSWORD)
    factories.member(ws, Role.ADMIN, username="bea", password=PASSWORD)
    factories.member(ws, Role.EDITOR, username="eddie", password=PASSWORD)
    # An editor has no Settings link, and the pages refuse her
    eddie = signed_in("eddie", PASSWORD)
    expect(eddie.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")
           ).to_have_count(0)
    assert eddie.goto("/settings/targets/").status == 403
    # A second admin watches the targets: her page is live, and never reloaded
    bea = signed_in("bea", PASSWORD)
    bea.goto("/settings/targets/")
    expect(bea.locator("[data-live-status]")).to_have_text("live")
    bea.evaluate("window.__sameDocument = true")
    secret = signing.secret_generate()
    with HttpPeer(default=200) as receiver:
        page = signed_in("ada", PASSWORD)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
        page.get_by_role("link", name="Publishing targets").click()
        page.get_by_label("Signed webhook").check()
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Name").fill("Team hook")
        page.get_by_label("url", exact=True).fill(f"{receiver.url}/hooks")
        page.get_by_label("Secret").fill(secret)
        page.get_by_role("button", name="Create target").click()
        expect(page.locator("[data-last-check]")).to_have_text("never checked")
        expect(page.get_by_text("A secret is stored")).to_be_visible()
        assert secret not in page.content()

        page.get_by_role("button", name="Test connection").click()
        expect(page.locator(".message.success")).to_contain_text(
            "connection and credentials work")
        expect(page.locator("[data-last-check]")).to_contain_text("passed")
        screenshot(page, "target-tested")
        [ping] = receiver.requests
        assert (ping.method, ping.path, ping.json()["type"]) == ("POST", "/hooks", "ping")
        assert "webhook-signature" in ping.headers
    assert PublishingTarget.objects.get(workspace=ws).last_check_ok is True
    # The target ada made came to bea's page by itself
    expect(bea.get_by_role("link", name="Team hook")).to_be_visible()
    assert bea.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # While bea types a key's name without sending it, ada makes a key
    bea.goto("/settings/api-keys/")
    expect(bea.locator("[data-live-status]")).to_have_text("live")
    bea.evaluate("window.__sameDocument = true")
    bea.get_by_label("Name").fill("Half a name")
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Newsroom CMS")
    page.get_by_label("Acts as").select_option(label="ada")
    page.get_by_label("Read briefs, jobs, drafts and publications").check()
    page.get_by_role("button", name="Create key").click()
    key = page.locator("[data-secret]").inner_text()
    assert re.fullmatch(r"aigc_[0-9a-f]{12}_\S+", key)
    assert apikey_authenticate(plaintext=key) is not None
    page.reload()  # the creation redirected: a refresh is a GET, the key is gone from it
    expect(page.locator("[data-secret]")).to_have_count(0)
    assert key not in page.content()
    assert ApiKey.objects.filter(workspace=ws).count() == 1
    expect(page.get_by_role("cell", name=re.compile("Newsroom CMS"))).to_be_visible()
    # bea's list shows the key (never its secret), and her typing is as she left it
    expect(bea.get_by_role("cell", name=re.compile("Newsroom CMS"))).to_be_visible()
    assert key not in bea.content()
    assert bea.get_by_label("Name").input_value() == "Half a name"
    assert bea.evaluate("window.__sameDocument === true"), "the page was reloaded"

    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/settings/", "/settings/targets/", "/settings/api-keys/",
                 "/settings/webhooks/"):
        page.goto(path)
        wide = page.evaluate("[...document.querySelectorAll('body *')].filter(e => "
                             "e.getBoundingClientRect().right > 390 && !e.closest('.table-scroll'))"
                             ".map(e => e.tagName + '.' + e.className).slice(0, 5)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (path, wide)
