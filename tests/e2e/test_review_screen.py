"""The review screen in Chromium: a live count in the brief's unit and a preview tab per target
while typing, one approve form with the variant chosen in it and the toast's undo (followed
live by an editor on a phone, offered only what his role allows), and the header's unread
count bumped live when a notification arrives."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.briefs.models import BriefState
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.targets import target_create
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def desk(live_platform):  # type: ignore[no-untyped-def]
    ws = factories.workspace(name="Garden Weekly")
    for username, role in (("rita", Role.REVIEWER), ("ada", Role.ADMIN), ("eddie", Role.EDITOR)):
        factories.member(ws, role, username=username, password=PASSWORD)
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    target_create(workspace=ws, name="Fediverse", kind=TargetKind.MASTODON,
                  config={"url": "https://social.invalid", "max_characters": 60},
                  secret="token-123456")
    return ws


def test_a_chinese_edit_is_counted_in_characters_and_previewed_per_target(signed_in, desk):
    brief = factories.brief_in_review(desk, scores=(0.9,), language="zh-CN", title="堆肥")
    rita = signed_in("rita", PASSWORD)
    rita.goto(f"/briefs/{brief.pk}/")
    card = rita.locator("#drafts article.draft").first
    tabs = card.get_by_role("tab")
    expect(tabs).to_have_text(["Fediverse", "Site"])
    # When rita types a rewrite in Chinese (no spaces to split on)
    card.get_by_text("Edit variant 0").click()
    card.get_by_label("Text").fill("在小花园里用AI堆肥。" * 8)
    # Then the count is in characters, as the scorer counts them ("AI" once, no punctuation)
    expect(card.locator("[data-count-line] [data-count]")).to_have_text("72")
    expect(card.locator("[data-count-line]")).to_contain_text("characters · target")
    # and the previews show her text, the Mastodon one as a thread, one tab at a time
    expect(card.locator("[data-previewing-edit]")).to_be_visible()
    fediverse = card.get_by_role("tabpanel", name="Fediverse")
    expect(fediverse.locator("[data-part]").first).to_contain_text(re.compile(r"^Post 1 of \d"))
    expect(card.get_by_role("tabpanel", name="Site")).to_be_hidden()
    tabs.filter(has_text="Site").click()
    site = card.get_by_role("tabpanel", name="Site")
    expect(site).to_contain_text("在小花园里用AI堆肥。")
    expect(fediverse).to_be_hidden()


def test_approving_the_chosen_variant_from_the_one_form_and_undoing_the_schedule(
        signed_in, desk):
    brief = factories.brief_in_review(desk, scores=(0.6, 0.9), title="Mulch")
    # eddie, an editor, follows the brief on his phone: his role decides nothing here
    eddie = signed_in("eddie", PASSWORD)
    eddie.set_viewport_size(PHONE)
    eddie.goto(f"/briefs/{brief.pk}/")
    expect(eddie.locator("[data-live-status]")).to_have_text("live")
    expect(eddie.locator("#decision")).to_have_count(0)
    expect(eddie.get_by_text(re.compile(r"^Edit variant"))).to_have_count(0)
    eddie.evaluate("window.__sameDocument = true")
    ada = signed_in("ada", PASSWORD)
    ada.goto(f"/briefs/{brief.pk}/")
    decision = ada.locator("#decision")
    expect(decision.get_by_role("radio", name=re.compile(r"^Variant 1 .*\(best\)$"))).to_be_checked()
    # When ada chooses variant 0 and schedules it on the site for tomorrow
    decision.get_by_role("radio", name=re.compile(r"^Variant 0 ")).check()
    decision.get_by_role("checkbox", name="Fediverse").uncheck()
    decision.get_by_role("checkbox", name="Site").check()
    tomorrow = timezone.localtime() + timedelta(days=1)
    decision.get_by_label("Publish at").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    # The approval's answer is held until the page it came from has re-read itself live (as it
    # may on a loaded machine): that read must leave the toast to the page the redirect opens.
    answers = []
    ada.route(f"**/briefs/{brief.pk}/approve/",
              lambda route: answers.append((route, route.fetch(max_redirects=0))))
    with ada.expect_response(lambda r: r.request.headers.get("x-live-read") == "1"):
        # (not waiting for the navigation it starts, which is held)
        decision.get_by_role("button", name="Approve", exact=True).click(no_wait_after=True)
    for _ in range(100):  # the route's own fetch of the answer may not be handed back yet
        if answers:
            break
        ada.wait_for_timeout(50)
    route, answer = answers[0]
    route.fulfill(response=answer)
    ada.unroute(f"**/briefs/{brief.pk}/approve/")
    # Then variant 0 is what is scheduled, and the toast offers to undo it
    toast = ada.locator("[data-undo]")
    expect(toast).to_contain_text("Scheduled to Site.")
    publication = Publication.objects.get(brief=brief)
    assert (publication.revision.draft.variant, publication.state) == (0,
                                                                       PublicationState.SCHEDULED)
    expect(eddie.locator("#publications .state")).to_have_text("scheduled")
    # When she undoes it, the publication is cancelled and the brief approved again
    toast.get_by_role("button", name="Undo").click()
    expect(ada.locator("main > .messages")).to_contain_text("Undone: 1 publication(s) cancelled.")
    expect(ada.locator("[data-brief-state]")).to_have_attribute("data-brief-state", "approved")
    publication.refresh_from_db()
    brief.refresh_from_db()
    assert (publication.state, brief.state) == (PublicationState.CANCELLED, BriefState.APPROVED)
    # and eddie's page followed, now offering what an editor may do with an approved brief
    expect(eddie.locator("#publications .state")).to_have_text("cancelled")
    expect(eddie.locator("[data-brief-state]")).to_have_attribute("data-brief-state", "approved")
    expect(eddie.get_by_role("heading", name="Publish to more targets")).to_be_visible()
    assert eddie.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert eddie.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_unread_count_bumps_live_when_a_notification_arrives(signed_in, desk):
    brief = factories.brief_in_review(desk, scores=(0.9,), title="Mulch")
    # Given rita on the queue, told once that the brief waits for review
    rita = signed_in("rita", PASSWORD)
    expect(rita.locator("[data-live-status]")).to_have_text("live")
    badge = rita.locator("[data-unread]")
    expect(badge).to_have_text("1")
    rita.evaluate("window.__sameDocument = true")
    # When eddie mentions her in a comment
    eddie = signed_in("eddie", PASSWORD)
    eddie.goto(f"/briefs/{brief.pk}/")
    eddie.locator("#id_comment_body").fill("@rita does this read well?")
    eddie.get_by_role("button", name="Comment", exact=True).click()
    expect(eddie.locator("main > .messages")).to_contain_text("Comment added.")
    # Then her header counts it at once, without a reload; eddie's own stays at none
    expect(badge).to_have_text("2")
    expect(badge).to_have_attribute("aria-label", "2 unread")
    assert rita.evaluate("window.__sameDocument === true")
    expect(eddie.locator("[data-unread]")).to_be_hidden()
