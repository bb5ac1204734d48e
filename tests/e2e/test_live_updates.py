"""Live updates never lose input, in Chromium with three people at work on one brief.

What others do reaches the reviewer's page over the websocket and is merged into it;
a section the reviewer is typing in is left alone, with a quiet notice of what changed.
A marker set on `window` after loading proves the page was never reloaded.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.reviews.models import ApprovalPolicy, DraftRevision, EditLock
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
REWRITE = "Our own opening, typed by hand. Start the heap in a shady corner."
COMMENT_TYPED = "Half a thought about the"

# Before any script runs: count every change inside the live root once the page has loaded,
# and record each read of the page that live.js merges (or finds unchanged).
WATCH_PAGE = """
window.__refreshes = [];
document.addEventListener("dashboard:refreshed", (e) => window.__refreshes.push(e.detail.merged));
document.addEventListener("DOMContentLoaded", () => {
  window.__mutations = 0;
  new MutationObserver((list) => { window.__mutations += list.length; })
    .observe(document.querySelector("[data-live-root]"),
             {subtree: true, childList: true, attributes: true, characterData: true});
});
"""


@pytest.fixture
def brief(live_platform):  # type: ignore[no-untyped-def]
    ws = factories.workspace(name="Garden Weekly")
    for username, role in (("rita", Role.REVIEWER), ("ada", Role.REVIEWER),
                           ("eddie", Role.EDITOR)):
        factories.member(ws, role, username=username, password=PASSWORD)
    ct = factories.content_type(ws, name="Blog post", slug="blog-post")
    # Two approvals: ada's approval is recorded while the brief stays in review.
    ApprovalPolicy.objects.create(content_type=ct, approvals_required=2)
    return factories.brief_in_review(ws, ct=ct, title="Mulch")


def open_brief(signed_in, username: str, brief):  # type: ignore[no-untyped-def]
    page = signed_in(username, PASSWORD)
    page.add_init_script(WATCH_PAGE)
    page.goto(f"/briefs/{brief.pk}/")
    expect(page.locator("[data-live-status]")).to_have_text("live")
    # The read after connecting, which finds nothing new.
    page.wait_for_function("() => window.__refreshes.length >= 1")
    return page


def variant(page, n: int):  # type: ignore[no-untyped-def]
    return page.locator("#drafts article.draft").filter(
        has=page.get_by_role("heading", name=f"Variant {n}"))


def variant_pk(brief, n: int) -> int:  # type: ignore[no-untyped-def]
    return brief.drafts.get(variant=n).pk


def test_an_unsaved_rewrite_survives_a_comment_an_approval_and_lock_events(signed_in, brief):
    rita = open_brief(signed_in, "rita", brief)
    rita.evaluate("window.__sameDocument = true")
    # Given rita typing a rewrite of variant 0 (typing took its lock) and half a comment
    editor = variant(rita, 0).locator("[data-edit]")
    editor.get_by_text("Edit variant 0").click()
    box = editor.get_by_label("Text")
    box.fill(REWRITE)
    expect(editor.locator("[data-lock-message]")).to_contain_text("You are editing")
    rita.locator("#id_comment_body").fill(COMMENT_TYPED)
    box.focus()
    box.evaluate("(el) => el.setSelectionRange(9, 9)")  # her caret, after "Our own o"

    # When eddie comments, ada approves variant 0 and starts editing variant 1
    eddie = signed_in("eddie", PASSWORD)
    eddie.goto(f"/briefs/{brief.pk}/")
    eddie.locator("#id_comment_body").fill("Keep it under 300 words, please.")
    eddie.get_by_role("button", name="Comment", exact=True).click()
    expect(eddie.locator("main > .messages")).to_contain_text("Comment added.")
    comments = rita.locator("#comments")
    expect(comments.locator("[data-live-notice]")).to_have_text("New comment from eddie. Show")

    ada = signed_in("ada", PASSWORD)
    ada.goto(f"/briefs/{brief.pk}/")
    decision = ada.locator("#decision")
    decision.get_by_role("radio", name=re.compile(r"^Variant 0 ")).check()
    decision.get_by_role("button", name="Approve", exact=True).click()
    expect(ada.locator("main > .messages")).to_contain_text("Approved.")
    variant(ada, 1).get_by_text("Edit variant 1").click()
    variant(ada, 1).get_by_label("Text").fill("Ada's version.")
    expect(variant(ada, 1).locator("[data-lock-message]")).to_contain_text("You are editing")

    # Then rita's page says what changed, without touching what she typed
    drafts = rita.locator("#drafts")
    expect(drafts.locator("[data-live-notice]")).to_have_text(
        "Approval of variant 0 from ada; ada is editing variant 1. Show")
    expect(rita.locator("#reviews")).to_contain_text("Approve by ada")  # not being edited
    assert box.input_value() == REWRITE
    expect(editor).to_have_attribute("open", "")
    assert rita.evaluate("[document.activeElement.id, document.activeElement.selectionStart]") \
        == [f"id_edit{variant_pk(brief, 0)}_text", 9]
    assert rita.locator("#id_comment_body").input_value() == COMMENT_TYPED
    expect(comments.locator(".comment")).to_have_count(0)
    expect(editor.locator("[data-lock-message]")).to_contain_text("You are editing")

    # When she asks to see the changes, they are merged around her input
    drafts.get_by_role("button", name="Show").click()
    expect(drafts.locator("[data-live-notice]")).to_have_count(0)
    expect(variant(rita, 0).locator(".meta").first).to_contain_text("1 of 2 approvals (ada)")
    expect(variant(rita, 1).locator("[data-lock-holder]")).to_have_text(
        "✎ ada is editing this draft.")
    comments.get_by_role("button", name="Show").click()
    expect(comments.locator(".comment")).to_contain_text("Keep it under 300 words, please.")
    assert box.input_value() == REWRITE
    assert rita.locator("#id_comment_body").input_value() == COMMENT_TYPED
    expect(editor).to_have_attribute("open", "")
    assert rita.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # and her rewrite saves as the next revision, on the revision she started from
    editor.get_by_role("button", name="Save edit").click()
    expect(rita.locator("main > .messages")).to_contain_text("Edit saved as a new revision.")
    saved = DraftRevision.objects.filter(draft__brief=brief).order_by("-number").first()
    assert (saved.number, saved.text, saved.author.username) == (2, REWRITE, "rita")


def test_loading_changes_nothing_and_an_open_editor_takes_no_lock_and_stays_open(
        signed_in, brief):
    rita = open_brief(signed_in, "rita", brief)
    # The read after connecting brought nothing new, and nothing on the page changed
    refreshes, mutations = rita.evaluate("[window.__refreshes, window.__mutations]")
    assert (set(refreshes), mutations) == ({False}, 0)

    # When rita opens an editor without typing, nobody's lock is taken
    asked: list[str] = []
    rita.on("request", lambda request: asked.append(request.url) if "/lock/" in request.url
            else None)
    editor = variant(rita, 0).locator("[data-edit]")
    editor.get_by_text("Edit variant 0").click()
    expect(editor.get_by_label("Text")).to_be_visible()
    rita.wait_for_timeout(500)  # the old script asked for the lock at once
    assert (asked, EditLock.objects.count()) == ([], 0)

    # When ada takes variant 1 by typing in it
    ada = signed_in("ada", PASSWORD)
    ada.goto(f"/briefs/{brief.pk}/")
    variant(ada, 1).get_by_text("Edit variant 1").click()
    variant(ada, 1).get_by_label("Text").fill("Ada's version.")

    # Then rita sees it at once (she types nowhere, so nothing is held back), her editor open
    expect(variant(rita, 1).locator("[data-lock-holder]")).to_have_text(
        "✎ ada is editing this draft.")
    expect(rita.locator("[data-live-notice]")).to_have_count(0)
    expect(editor).to_have_attribute("open", "")
    assert list(EditLock.objects.values_list("draft__variant", "holder__username")) == \
        [(1, "ada")]


def test_a_ticked_card_stays_ticked_when_its_brief_changes(signed_in, brief):
    # Given rita on the queue, the brief's card ticked for a bulk action
    rita = signed_in("rita", PASSWORD)
    expect(rita.locator("[data-live-status]")).to_have_text("live")
    expect(rita.locator("[data-unread]")).to_have_text("1")  # the brief waits for review
    card = rita.locator(f'.card[data-brief-id="{brief.pk}"]')
    card.get_by_role("checkbox").check()
    # When ada assigns the brief to rita
    ada = signed_in("ada", PASSWORD)
    ada.goto(f"/briefs/{brief.pk}/")
    ada.locator("#assignment").get_by_label("Reviewer").select_option(label="rita")
    ada.get_by_role("button", name="Assign").click()
    expect(ada.locator("main > .messages")).to_contain_text("Reviewer assigned.")
    # Then the card shows its reviewer, read again from the server, and is still ticked
    expect(card.locator(".card-meta")).to_contain_text("Reviewer")
    expect(card.locator(".card-meta")).to_contain_text("rita")
    expect(card.get_by_role("checkbox")).to_be_checked()
    # and she is told at once that it is hers to review
    expect(rita.locator("[data-unread]")).to_have_text("2")
    expect(rita.locator(f'[data-column="in_review"] .card[data-brief-id="{brief.pk}"]')).to_have_count(1)
