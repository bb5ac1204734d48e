"""The review screen over HTTP: inline edit with diff, lock, comments, previews, publish
time, assignment, guest links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Role
from apps.briefs.models import BriefState
from apps.publishing.models import Publication
from apps.publishing.targets import target_create
from apps.reviews.models import Decision, DraftRevision, Review, ReviewAssignment, ReviewComment
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def brief(ws):
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    return factories.brief_in_review(ws, scores=(0.9,))


def test_an_inline_edit_saves_a_revision_and_the_page_shows_the_word_diff(brief, rita):
    draft = brief.drafts.get()
    client = logged_in(rita)
    response = client.post(f"/briefs/{brief.pk}/drafts/{draft.pk}/edit/",
                           {"text": "Variant 0: start a small compost heap.", "base_revision": 1},
                           follow=True)
    assert response.status_code == 200
    assert DraftRevision.objects.filter(draft=draft).order_by("number").last().number == 2
    assert (b'<p class="diff-text" data-diff>Variant 0: start a <ins>small </ins>compost heap.</p>'
            in response.content)


def test_a_stale_edit_is_refused_with_409_and_the_text_kept_in_the_form(brief, rita):
    draft = brief.drafts.get()
    other = factories.member(brief.workspace, Role.REVIEWER, username="sam")
    logged_in(other).post(f"/briefs/{brief.pk}/drafts/{draft.pk}/edit/",
                          {"text": "Sam was first.", "base_revision": 1})
    response = logged_in(rita).post(f"/briefs/{brief.pk}/drafts/{draft.pk}/edit/",
                                    {"text": "Rita's version.", "base_revision": 1})
    assert response.status_code == 409
    assert b"Revision 2 was saved meanwhile" in response.content
    # in her editor, open, in a form the page's live updates leave alone
    html = response.content.decode()
    assert f'id="edit-{draft.pk}" data-edit' in html and '/lock/" open>' in html
    assert f'/drafts/{draft.pk}/edit/" data-live-keep>' in html
    assert ">\nRita&#x27;s version.</textarea>" in html


def test_the_lock_endpoint_names_the_holder_to_a_second_reviewer(brief, rita):
    draft = brief.drafts.get()
    sam = factories.member(brief.workspace, Role.REVIEWER, username="sam")
    url = f"/briefs/{brief.pk}/drafts/{draft.pk}/lock/"
    assert logged_in(rita).post(url).json()["holder"] == "rita"
    refused = logged_in(sam).post(url)
    assert (refused.status_code, refused.json()) == (409, {"error": "rita is editing this draft."})
    # the page shows who is editing
    assert b"rita is editing this draft." in logged_in(sam).get(f"/briefs/{brief.pk}/").content
    assert logged_in(rita).post(url, {"release": "1"}).json() == {"released": True}
    assert logged_in(sam).post(url).status_code == 200


def test_comments_and_replies_render_as_a_thread(brief, rita):
    client = logged_in(rita)
    client.post(f"/briefs/{brief.pk}/comments/", {"body": "Is the tone right?"})
    parent = ReviewComment.objects.get()
    client.post(f"/briefs/{brief.pk}/comments/", {"body": "Yes.", "parent_id": parent.pk})
    page = client.get(f"/briefs/{brief.pk}/")
    [thread] = page.context["page"].comments
    assert (thread.body, [r.body for r in thread.thread]) == ("Is the tone right?", ["Yes."])


def test_the_page_previews_each_target_and_approval_takes_a_publish_time(brief, rita):
    client = logged_in(rita)
    page = client.get(f"/briefs/{brief.pk}/")
    assert b"Preview on Site" in page.content
    draft = brief.drafts.get()
    at = (timezone.localtime() + timedelta(days=2)).replace(second=0, microsecond=0)
    target = brief.workspace.targets.get()
    client.post(f"/briefs/{brief.pk}/approve/", {
        "draft_id": draft.pk, "targets": [target.pk], "comment": "Ship it Tuesday.",
        "publish_at": at.strftime("%Y-%m-%dT%H:%M")})
    assert Publication.objects.get(brief=brief).scheduled_at == at
    assert Review.objects.get(brief=brief).comment == "Ship it Tuesday."


def test_assigning_by_hand_from_the_page(brief, rita):
    editor = factories.member(brief.workspace, Role.EDITOR)
    logged_in(editor).post(f"/briefs/{brief.pk}/assign/", {"reviewer": rita.pk})
    assert ReviewAssignment.objects.get(brief=brief).reviewer == rita


def test_a_guest_approves_through_the_link_once(brief, rita):
    page = logged_in(rita).post(f"/briefs/{brief.pk}/guest-link/",
                                  {"guest_name": "Clara", "valid_days": 2})
    url = page.context["guest_url"]
    path = url.removeprefix("http://testserver")
    guest = Client()
    assert b"Hello Clara" in guest.get(path).content
    done = guest.post(path, {"decision": "approve", "draft_id": brief.drafts.get().pk})
    assert b"Your decision" in done.content
    brief.refresh_from_db()
    assert brief.state == BriefState.SCHEDULED
    assert Review.objects.get(brief=brief).decision == Decision.APPROVE
    assert guest.get(path).status_code == 409
