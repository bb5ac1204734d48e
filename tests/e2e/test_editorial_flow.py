"""An editor and a reviewer at work in a real browser, with real workers behind the page:
the editor's page follows the reviewer's edit (and its scores), decisions and publication,
down to the brief's lineage.

The pages are never reloaded by the test after the first load: what changes
arrives over the websocket. A marker set on `window` after loading proves it
(a reload or navigation would drop it).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import Role
from apps.generation.models import Backend, ModelProfile
from apps.publishing.targets import target_create
from tests import factories
from tests.live import paused

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456!"
# Generation and scoring by the real workers on two CPU cores: seconds, with margin.
PIPELINE_MS = 180_000


# Before any script runs: every text a job's progress shows, as it changes.
WATCH_PROGRESS = """
window.__progress = [];
new MutationObserver(() => document.querySelectorAll("[data-progress-text]").forEach((el) => {
  const text = el.textContent.trim();
  if (text && !window.__progress.includes(text)) window.__progress.push(text);
})).observe(document, {subtree: true, childList: true, characterData: true});
"""
PROGRESS_TEXT = re.compile(r"\d+ of 24 tokens · \d+%")


def mark_loaded(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("window.__sameDocument = true")


def assert_not_reloaded(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


@pytest.fixture
def newsroom(live_platform):  # type: ignore[no-untyped-def]
    ws = factories.workspace(name="Garden Weekly")
    factories.member(ws, Role.EDITOR, username="eddie", password=PASSWORD)
    factories.member(ws, Role.REVIEWER, username="rita", password=PASSWORD)
    profile = ModelProfile.objects.create(workspace=ws, name="Built-in", backend=Backend.BUILTIN,
                                          parameters={"max_new_tokens": 24})
    factories.content_type(ws, name="Blog post", slug="blog-post", model_profile=profile,
                           default_length=20, default_variants=2)
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    return ws


def test_editor_creates_a_brief_and_a_reviewer_edits_requests_changes_and_approves(
        newsroom, signed_in, screenshot, live_platform):
    # Given the editor on the new-brief form
    editor = signed_in("eddie", PASSWORD)
    editor.add_init_script(WATCH_PROGRESS)
    screenshot(editor, "queue-empty")
    editor.get_by_role("link", name="New brief").first.click()
    editor.get_by_label("Title").fill("Composting in a small garden")
    editor.get_by_label("Content type").select_option(label="Blog post")
    editor.get_by_label("Topic").fill("starting a compost heap with kitchen scraps")
    screenshot(editor, "brief-form")

    # When they create it (a warm worker writes 24 tokens faster than a page connects, so
    # it waits until the brief's page is live)
    with paused(live_platform.process("worker-gpu")):
        editor.get_by_role("button", name="Create and queue").click()
        expect(editor.get_by_role("heading", level=1)).to_have_text(
            "Composting in a small garden")
        expect(editor.locator("[data-live-status]")).to_have_attribute("data-live-state", "live")
    mark_loaded(editor)

    # Then they watch it being generated and scored until it waits for review, live
    state = editor.locator("[data-brief-state]")
    expect(state).to_have_attribute("data-brief-state", "in_review", timeout=PIPELINE_MS)
    expect(editor.locator("#drafts article.draft")).to_have_count(2)
    assert_not_reloaded(editor)
    # its progress told as tokens written out of the profile's max new tokens
    seen = editor.evaluate("window.__progress")
    assert any(PROGRESS_TEXT.fullmatch(text) for text in seen), seen
    screenshot(editor, "brief-in-review")

    # Given the reviewer on the brief
    reviewer = signed_in("rita", PASSWORD)
    reviewer.get_by_role("link", name="Composting in a small garden").click()
    first = reviewer.locator("#drafts article.draft").first
    model_text = first.locator("[data-draft-text]").inner_text().strip()

    # When they edit the best variant (typing takes its edit lock) and save
    first.get_by_text(re.compile(r"^Edit variant")).click()
    editor_box = first.get_by_label("Text")
    editor_box.fill("Our reviewed opening. " + model_text)
    expect(first.locator("[data-lock-message]")).to_contain_text("You are editing")
    first.get_by_role("button", name="Save edit").click()

    # Then the word diff against the model's text shows the added words
    first = reviewer.locator("#drafts article.draft").first
    expect(first.locator("[data-diff] ins")).to_have_text("Our reviewed opening. ")
    expect(first.locator("[data-diff] del")).to_have_count(0)
    screenshot(reviewer, "edit-diff")
    # and the edit's own scores arrive once it is scored, on the editor's page as well
    rescored = re.compile(r"^Revision 2: score \d")
    expect(first.locator("[data-revision-scores]")).to_have_text(rescored, timeout=PIPELINE_MS)
    expect(editor.locator("#drafts [data-revision-scores]")).to_have_text(rescored)

    # When they request changes
    reviewer.get_by_label("Feedback").fill("Mention the smell: keep the heap aerated.")
    reviewer.get_by_role("button", name="Request changes").click()
    mark_loaded(reviewer)

    # Then a new round is generated and reaches review again, without a reload
    expect(reviewer.locator("[data-brief-state]")).to_have_attribute(
        "data-brief-state", "in_review", timeout=PIPELINE_MS)
    expect(reviewer.locator("#jobs article.job")).to_have_count(2)
    expect(reviewer.locator("#drafts").get_by_text(re.compile(r"^Earlier rounds"))).to_be_visible()
    assert_not_reloaded(reviewer)
    screenshot(reviewer, "regenerated")

    # When they approve the regenerated best variant (the one form's choice to begin with)
    decision = reviewer.locator("#decision")
    expect(decision.get_by_role("radio", name=re.compile(r"\(best\)$"))).to_be_checked()
    decision.get_by_role("button", name="Approve", exact=True).click()
    mark_loaded(reviewer)

    # Then the publication appears on the brief, published, without a reload
    publications = reviewer.locator("#publications")
    expect(publications.locator("td", has_text="Site")).to_be_visible()
    expect(publications.locator(".state")).to_have_text("published", timeout=60_000)
    expect(reviewer.locator("[data-brief-state]")).to_have_attribute(
        "data-brief-state", "published")
    assert_not_reloaded(reviewer)
    screenshot(reviewer, "published")

    # and the editor's page followed all of it too, its lineage telling the whole story
    expect(editor.locator("[data-brief-state]")).to_have_attribute(
        "data-brief-state", "published", timeout=30_000)
    lineage = editor.locator("#lineage")
    lineage.get_by_text("Lineage", exact=True).click()
    expect(lineage.locator("article.lineage-round")).to_have_count(2)
    expect(lineage.locator(".lineage-edit")).to_contain_text(re.compile(r"edited to r2 by rita"))
    expect(lineage.locator(".lineage-reviews li")).to_contain_text(
        [re.compile(r"^Request Changes by rita"), re.compile(r"^Approve by rita")])
    expect(lineage.locator("tr", has_text="Site")).to_contain_text("published")
    assert_not_reloaded(editor)
    editor.get_by_role("link", name="Queue").click()
    expect(editor.locator('[data-column="published"] .card')).to_have_count(1)
    screenshot(editor, "queue-published")
