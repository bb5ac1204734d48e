"""The dashboard as editors and reviewers use it every day, in Chromium: times in their own
zone, status that matches the work, a confirm step before a reject, phone-sized pages
that never scroll sideways, and the product's own 404 for another workspace's brief."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLResolver, reverse
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.briefs.models import BriefState, ContentBrief
from apps.dashboard import urls as dashboard_urls
from apps.dashboard.templatetags.dashboard import date_text
from apps.datasets.services import dataset_create
from apps.generation.models import Backend, ModelProfile
from apps.workflow.services import review_reject
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
PHONE = {"width": 390, "height": 844}
# Generation and scoring by the real workers on two CPU cores: seconds, with margin.
PIPELINE_MS = 180_000


@pytest.fixture
def desk(live_platform):  # type: ignore[no-untyped-def]
    ws = factories.workspace(name="Garden Weekly")
    for username, role in (("eddie", Role.EDITOR), ("rita", Role.REVIEWER), ("ada", Role.ADMIN)):
        factories.member(ws, role, username=username, password=PASSWORD)
    profile = ModelProfile.objects.create(workspace=ws, name="Built-in", backend=Backend.BUILTIN,
                                          parameters={"max_new_tokens": 24})
    factories.content_type(ws, name="Blog post", slug="blog-post", model_profile=profile,
                           default_length=20, default_variants=1)
    return ws


def _sign_in(browser, live_platform, username: str, **context_options):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_platform.url, **context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    # The first dashboard page sends the browser's zone once: wait for it.
    with page.expect_response(lambda r: r.url.endswith("/profile/time-zone/")) as sent:
        page.get_by_role("button", name="Log in").click()
    assert sent.value.json() == {"kept": True}
    return context, page


def test_a_due_time_typed_in_los_angeles_is_read_there_and_shown_back_in_pdt(
        browser, live_platform, desk, screenshot):
    # given an editor whose browser is in Los Angeles (the workspace is in UTC)
    context, page = _sign_in(browser, live_platform, "eddie", timezone_id="America/Los_Angeles",
                             viewport={"width": 1400, "height": 900})
    year = timezone.now().year + 1
    # when they create a brief due at 09:00 on July 1st
    page.goto("/briefs/new/")
    page.get_by_label("Title").fill("Spring beds")
    page.get_by_label("Content type").select_option(label="Blog post")
    page.get_by_label("Topic").fill("raised beds for vegetables")
    page.get_by_label(re.compile(r"^Due \(America/Los_Angeles\)")).fill(f"{year}-07-01T09:00")
    page.get_by_role("button", name="Create and queue").click()
    # then it is stored as 16:00 UTC and shown back as 09:00 PDT
    expect(page.locator("[aria-labelledby=facts-title] .facts time")).to_contain_text(
        f"Jul 1, {year}, 09:00 PDT")
    assert ContentBrief.objects.get(title="Spring beds").due_at.isoformat() == \
        f"{year}-07-01T16:00:00+00:00"
    screenshot(page, "due-in-pdt")
    # and the "queued for generation" banner goes once the real workers have put it in review
    banner = page.locator("main > .messages")
    expect(banner).to_contain_text("is queued for generation")
    expect(page.locator("[data-brief-state]")).to_have_attribute(
        "data-brief-state", "in_review", timeout=PIPELINE_MS)
    expect(banner).to_have_count(0)
    context.close()


def test_finished_cards_have_no_bar_every_page_is_live_and_reject_asks_first(
        browser, live_platform, desk):
    brief = factories.brief_in_review(desk, title="Mulch")
    context, page = _sign_in(browser, live_platform, "rita",
                             viewport={"width": 1400, "height": 900})
    # a brief in review shows no progress bar on its card
    card = page.locator(f'.card[data-brief-id="{brief.pk}"]')
    expect(card).to_be_visible()
    expect(card.locator("[data-progress]")).to_be_hidden()
    # the live-connection indicator connects on pages with no live parts of their own
    for path in ("/insights/", "/training/", "/notifications/"):
        page.goto(path)
        expect(page.locator("[data-live-status]")).to_have_text("live")
    # a bulk action asks first, naming the action and how many briefs
    page.goto("/")
    page.locator(f"#pick-{brief.pk}").check()
    page.get_by_label("With the selected briefs").select_option("reject")
    page.get_by_role("button", name="Apply").click()
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_contain_text("Reject: 1 selected brief?")
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).to_be_hidden()
    # so does a reject on the brief page: going back keeps the brief in review
    page.goto(f"/briefs/{brief.pk}/")
    decision = page.locator("#decision")
    decision.get_by_role("button", name="Reject").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Reject “Mulch”? It will not be published.")
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).to_be_hidden()
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    # and confirming rejects it
    decision.get_by_role("button", name="Reject").click()
    dialog.get_by_role("button", name="Reject").click()
    expect(page.locator("[data-brief-state]")).to_have_attribute("data-brief-state", "rejected")
    context.close()


def _pages_naming_no_object() -> list[str]:
    """The path of every dashboard route that takes no object id, settings and datasets
    included: pages added later are measured without editing this test."""
    paths = []

    def walk(patterns: list) -> None:  # type: ignore[type-arg]
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif pattern.name and pattern.pattern.regex.groups == 0:
                paths.append(reverse(f"dashboard:{pattern.name}"))

    walk(dashboard_urls.urlpatterns)
    return paths


def test_no_page_scrolls_sideways_on_a_phone(browser, live_platform, desk, screenshot):
    brief = factories.brief_in_review(desk, title="A rather long title about composting "
                                      "kitchen scraps in a very small urban garden")
    dataset = dataset_create(workspace=desk, name="Garden notes from the allotment committee")
    # a long name in the queue's content-type filter (a <select> as wide as its longest option)
    factories.content_type(desk, name="Product description for the seasonal garden catalogue")
    context, page = _sign_in(browser, live_platform, "ada", viewport=PHONE)
    widths, not_pages = {}, []
    for path in [*_pages_naming_no_object(), "/?view=table", f"/briefs/{brief.pk}/",
                 f"/datasets/{dataset.pk}/"]:
        # A route that only takes a POST (405) or answers JSON is not a page to look at.
        probe = page.request.get(path)
        if probe.status == 405 or "html" not in probe.headers["content-type"]:
            not_pages.append(path)
            continue
        # (400: a page that needs a choice first, such as a new target's kind, says so)
        assert page.goto(path).status in (200, 400), path
        page.wait_for_load_state("load")
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
        screenshot(page, "phone" + re.sub(r"\W+", "-", path).rstrip("-"))
    assert {path: width for path, width in widths.items() if width > 390} == {}
    assert set(widths) >= {"/", "/?view=table", f"/briefs/{brief.pk}/", "/briefs/new/",
                           "/insights/", "/training/", "/notifications/", "/profile/",
                           "/datasets/", f"/datasets/{dataset.pk}/", "/models/"}
    assert "/insights.json" in not_pages and "/bulk/" in not_pages
    # the whole navigation is reachable: Admin is on the screen, not cut off
    box = page.get_by_role("link", name="Admin").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390
    context.close()


def test_insights_draws_each_figure_as_a_chart_beside_its_table(browser, live_platform, desk):
    brief = factories.brief_in_review(desk, scores=(0.9,))
    review_reject(brief=brief, reviewer=get_user_model().objects.get(username="rita"))
    # made at 23:30 UTC three days ago: the next morning in Tokyo, that afternoon in LA
    made = (timezone.now() - timedelta(days=3)).replace(hour=23, minute=30)
    ContentBrief.objects.filter(pk=brief.pk).update(created_at=made)
    context, page = _sign_in(browser, live_platform, "rita", timezone_id="Asia/Tokyo")
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto("/insights/")
    charts = json.loads(page.locator("#insights-charts").text_content())
    assert {c["key"] for c in charts} >= {"briefs-per-day", "decisions", "time-in-state",
                                          "generation-cost", "scores"}
    expect(page.locator("[data-chart][data-drawn]")).to_have_count(len(charts))
    # every canvas has a size and painted pixels, drawn by Chart.js from the JSON
    painted = page.evaluate("""() => [...document.querySelectorAll('[data-chart] canvas')].map(c => {
        const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) inked++;
        return [c.width, c.height, inked];
    })""")
    assert len(painted) == len(charts) and all(w > 0 and h > 0 and n > 0 for w, h, n in painted)
    assert page.evaluate("Chart.getChart(document.querySelector('[data-chart=decisions] canvas'))"
                         ".data.labels") == ["Approved", "Changes requested", "Rejected"]
    # and the numbers are a table a screen reader reads
    expect(page.get_by_role("row", name="Rejected 1")).to_be_visible()
    assert refused == []
    # whose days are each reader's own: eddie in Los Angeles counts the brief a day earlier
    expect(page.get_by_role("row", name=f"{date_text(made.date() + timedelta(days=1))} 1",
                            exact=True)).to_be_visible()
    eddie_context, eddie = _sign_in(browser, live_platform, "eddie",
                                    timezone_id="America/Los_Angeles")
    eddie.goto("/insights/")
    expect(eddie.get_by_role("row", name=f"{date_text(made.date())} 1", exact=True)
           ).to_be_visible()
    eddie_context.close()
    context.close()


def test_another_workspaces_brief_and_an_unknown_address_answer_the_products_own_404(
        browser, live_platform, desk):
    # given a brief of the desk, which its admin opens
    brief = factories.brief(desk, title="Mulch beds")
    factories.member(factories.workspace(name="Elsewhere"), Role.EDITOR, username="otto",
                     password=PASSWORD)
    ada_context, ada = _sign_in(browser, live_platform, "ada")
    assert ada.goto(f"/briefs/{brief.pk}/").status == 200
    # when otto, of another workspace, opens the same address, then one that does not exist
    otto_context, otto = _sign_in(browser, live_platform, "otto")
    refused = otto.goto(f"/briefs/{brief.pk}/")
    # then both are the product's pages (DEBUG is off), telling him nothing of the brief
    assert refused.status == 404
    expect(otto.get_by_role("heading", level=1)).to_have_text("That did not work")
    assert "Mulch beds" not in otto.content()
    unknown = otto.goto("/no/such/page/")
    assert unknown.status == 404
    expect(otto.get_by_role("heading", level=1)).to_have_text("Not found")
    assert "URLconf" not in otto.content()  # Django's debug 404 lists every URL pattern
    ada_context.close()
    otto_context.close()
