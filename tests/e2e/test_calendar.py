"""The content calendar in Chromium: an editor in Paris drags a scheduled publication to
another day with the mouse, then moves it with the keyboard through its Move form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.publishing.models import Publication, TargetKind
from apps.publishing.targets import target_create
from tests import factories
from tests.e2e.test_dashboard_everyday import PASSWORD, _sign_in
from tests.peers.content import approved_publications

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

YEAR = timezone.now().year + 1


def test_a_scheduled_publication_is_dragged_to_another_day_then_moved_by_keyboard(
        browser, live_platform, screenshot):
    # given a publication scheduled at 10:00 UTC on July 2nd (12:00 in Paris)
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.EDITOR, username="eddie", password=PASSWORD)
    site = target_create(workspace=ws, name="Site", kind=TargetKind.FILE,
                         config={"folder": "site"})
    [publication] = approved_publications(ws, site, title="Rain gardens",
                                          publish_at=datetime(YEAR, 7, 2, 10, 0, tzinfo=UTC))
    context, page = _sign_in(browser, live_platform, "eddie", timezone_id="Europe/Paris",
                             viewport={"width": 1400, "height": 900})
    page.goto(f"/calendar/?view=month&date={YEAR}-07-01")
    item = page.locator(f'[data-calendar-item="{publication.pk}"]')
    expect(item).to_contain_text(f"Jul 2, {YEAR}, 12:00 CEST")
    # when the editor drags it onto July 9th
    item.drag_to(page.locator(f'[data-drop-date="{YEAR}-07-09"]'))
    # then it goes at 12:00 Paris time that day, and the calendar shows it there
    moved = page.locator(f'[data-drop-date="{YEAR}-07-09"] [data-calendar-item="{publication.pk}"]')
    expect(moved).to_contain_text(f"Jul 9, {YEAR}, 12:00 CEST")
    expect(page.locator("main > .messages")).to_contain_text(
        f"“Rain gardens” on Site moved to Jul 9, {YEAR}, 12:00 CEST.")
    assert Publication.objects.get(pk=publication.pk).scheduled_at == datetime(
        YEAR, 7, 9, 10, 0, tzinfo=UTC)
    screenshot(page, "dragged")
    # and without a mouse: its Move form, opened and sent from the keyboard
    moved.locator("summary").focus()
    page.keyboard.press("Enter")
    field = moved.get_by_label("New time")
    field.fill(f"{YEAR}-07-10T08:15")
    field.press("Enter")
    expect(page.locator(f'[data-drop-date="{YEAR}-07-10"] [data-calendar-item="{publication.pk}"]')
           ).to_contain_text(f"Jul 10, {YEAR}, 08:15 CEST")
    assert Publication.objects.get(pk=publication.pk).scheduled_at == datetime(
        YEAR, 7, 10, 6, 15, tzinfo=UTC)
    context.close()
