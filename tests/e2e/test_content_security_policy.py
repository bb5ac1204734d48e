"""Chromium enforcing the Content-Security-Policy refuses nothing on the dashboard's pages and
the admin's: every script and style they need is a static file (DEBUG off, as in production).
"""

from __future__ import annotations

import pytest

from apps.accounts.models import Role
from apps.publishing.targets import target_create
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"


def test_no_page_breaks_the_content_security_policy(live_platform, signed_in):
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.ADMIN, username="ada", password=PASSWORD)
    target = target_create(workspace=ws, name="Blog", kind="wordpress",
                           config={"url": "https://blog.example.com"}, secret="editor:app pass word")
    brief = factories.brief_in_review(ws, scores=(0.9, 0.7))
    page = signed_in("ada", PASSWORD)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)

    pages = ["/", "/?view=table", "/briefs/new/", f"/briefs/{brief.pk}/", "/notifications/",
             "/insights/", "/training/", "/no/such/page/", "/admin/",
             "/admin/briefs/contentbrief/", f"/admin/publishing/publishingtarget/{target.pk}/change/"]
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("load")
    # The brief page's scripts at work: typing in an editor takes its lock over fetch.
    page.goto(f"/briefs/{brief.pk}/")
    page.get_by_text("Edit variant 0").click()
    page.locator("[data-edit] textarea").first.press("End")
    page.keyboard.type(" More.")
    page.locator("[data-lock-message]").first.wait_for()
    page.wait_for_function(
        "document.querySelector('[data-lock-message]').textContent.includes('You are editing')")

    assert refused == []
