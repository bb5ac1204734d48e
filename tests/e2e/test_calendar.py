"""The content calendar in Chromium, with two editors at work on one month: one in Paris
drags a scheduled publication to another day with the mouse, then moves it with the
keyboard through its Move form; the other, in Los Angeles, follows every move live in her
own zone, sees a publication scheduled by a reviewer appear, and cancels it, which leaves
the Paris calendar too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.targets import target_create
from tests import factories
from tests.e2e.test_dashboard_everyday import PASSWORD, _sign_in
from tests.peers.content import approved_publications

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

YEAR = timezone.now().year + 1
DESKTOP = {"width": 1400, "height": 900}


def test_a_scheduled_publication_is_dragged_to_another_day_then_moved_by_keyboard(
        browser, live_platform, screenshot):
    # given a publication scheduled at 10:00 UTC on July 2nd (12:00 in Paris, 03:00 in LA)
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.EDITOR, username="eddie", password=PASSWORD)
    factories.member(ws, Role.EDITOR, username="lou", password=PASSWORD)
    site = target_create(workspace=ws, name="Site", kind=TargetKind.FILE,
                         config={"folder": "site"})
    [publication] = approved_publications(ws, site, title="Rain gardens",
                                          publish_at=datetime(YEAR, 7, 2, 10, 0, tzinfo=UTC))
    month = f"/calendar/?view=month&date={YEAR}-07-01"

    def on_day(page, day: int, pk: int):  # type: ignore[no-untyped-def]
        return page.locator(f'[data-drop-date="{YEAR}-07-{day:02d}"] [data-calendar-item="{pk}"]')

    # and lou in Los Angeles on the month, her page live (and never reloaded below)
    lou_context, lou = _sign_in(browser, live_platform, "lou", timezone_id="America/Los_Angeles",
                                viewport=DESKTOP)
    lou.goto(month)
    expect(on_day(lou, 2, publication.pk)).to_contain_text(f"Jul 2, {YEAR}, 03:00 PDT")
    expect(lou.locator("[data-live-status]")).to_have_text("live")
    lou.evaluate("window.__sameDocument = true")
    context, page = _sign_in(browser, live_platform, "eddie", timezone_id="Europe/Paris",
                             viewport=DESKTOP)
    page.goto(month)
    item = page.locator(f'[data-calendar-item="{publication.pk}"]')
    expect(item).to_contain_text(f"Jul 2, {YEAR}, 12:00 CEST")
    # when the editor drags it onto July 9th
    item.drag_to(page.locator(f'[data-drop-date="{YEAR}-07-09"]'))
    # then it goes at 12:00 Paris time that day, and the calendar shows it there
    moved = on_day(page, 9, publication.pk)
    expect(moved).to_contain_text(f"Jul 9, {YEAR}, 12:00 CEST")
    expect(page.locator("main > .messages")).to_contain_text(
        f"“Rain gardens” on Site moved to Jul 9, {YEAR}, 12:00 CEST.")
    assert Publication.objects.get(pk=publication.pk).scheduled_at == datetime(
        YEAR, 7, 9, 10, 0, tzinfo=UTC)
    screenshot(page, "dragged")
    # and lou's calendar moved it too, in her zone
    expect(on_day(lou, 9, publication.pk)).to_contain_text(f"Jul 9, {YEAR}, 03:00 PDT")
    expect(on_day(lou, 2, publication.pk)).to_have_count(0)
    # and without a mouse: its Move form, opened and sent from the keyboard
    moved.locator("summary").focus()
    page.keyboard.press("Enter")
    field = moved.get_by_label("New time")
    field.fill(f"{YEAR}-07-10T08:15")
    field.press("Enter")
    expect(on_day(page, 10, publication.pk)).to_contain_text(f"Jul 10, {YEAR}, 08:15 CEST")
    assert Publication.objects.get(pk=publication.pk).scheduled_at == datetime(
        YEAR, 7, 10, 6, 15, tzinfo=UTC)
    # which for lou is still the 9th, late in the evening
    expect(on_day(lou, 9, publication.pk)).to_contain_text(f"Jul 9, {YEAR}, 23:15 PDT")

    # when a reviewer approves another brief for July 3rd, it appears on both calendars
    [other] = approved_publications(ws, site, title="Leaf mould",
                                    publish_at=datetime(YEAR, 7, 3, 10, 0, tzinfo=UTC))
    expect(on_day(lou, 3, other.pk)).to_contain_text(f"Jul 3, {YEAR}, 03:00 PDT")
    expect(on_day(page, 3, other.pk)).to_contain_text(f"Jul 3, {YEAR}, 12:00 CEST")
    assert lou.evaluate("window.__sameDocument === true"), "lou's calendar was reloaded"
    # and when lou cancels it from her calendar (after saying yes), it leaves eddie's
    on_day(lou, 3, other.pk).get_by_text("Move or cancel").click()
    on_day(lou, 3, other.pk).get_by_role("button", name="Cancel publication").click()
    dialog = lou.locator("dialog.confirm")
    expect(dialog).to_contain_text("Cancel “Leaf mould” on Site? It will not be published.")
    dialog.get_by_role("button", name="Cancel publication").click()
    expect(lou.locator("main > .messages")).to_contain_text(
        "“Leaf mould” on Site cancelled: it will not be published.")
    expect(on_day(page, 3, other.pk)).to_have_count(0)
    assert Publication.objects.get(pk=other.pk).state == PublicationState.CANCELLED
    context.close()
    lou_context.close()
