"""The review screen over HTTP: variants side by side, one approve form, a typed edit's live
count and previews per target, the history folded away, and the toast's undo of a schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import Role
from apps.briefs.models import BriefState
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db

THREAD = " ".join(["Turn the heap every week so the middle stays warm and airy."] * 4)


@pytest.fixture
def site(ws):
    return target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})


@pytest.fixture
def brief(ws, site):
    return factories.brief_in_review(ws, scores=(0.6, 0.9))  # variant 1 is the best


def _preview(user, brief, text: str, draft=None):
    draft = draft or brief.drafts.get(variant=1)
    return logged_in(user).post(f"/briefs/{brief.pk}/drafts/{draft.pk}/preview/", {"text": text})


def test_the_page_shows_one_approve_form_with_the_best_variant_chosen(brief, rita):
    html = logged_in(rita).get(f"/briefs/{brief.pk}/").content.decode()
    best, other = brief.drafts.get(variant=1), brief.drafts.get(variant=0)
    assert html.count(f'action="/briefs/{brief.pk}/approve/"') == 1
    assert (f'type="radio" name="draft_id" value="{best.pk}" id="id_approve_draft_id_0" required checked'
            in html)
    assert "Variant 1 · score 0.900 (best)" in html and "Variant 0 · score 0.600<" in html
    assert f'value="{other.pk}"' in html
    # and the decisions and the audit trail are folded away
    assert '<details class="history" id="history">' in html
    assert html.index('id="history"') < html.index('id="audit"')


def test_approving_the_variant_chosen_in_the_one_form(brief, rita, site):
    other = brief.drafts.get(variant=0)
    response = logged_in(rita).post(f"/briefs/{brief.pk}/approve/",
                                    {"draft_id": other.pk, "targets": [site.pk]})
    assert response.status_code == 302
    assert Publication.objects.get(brief=brief).revision.draft_id == other.pk


def test_approving_with_no_variant_chosen_is_a_form_error(brief, rita):
    response = logged_in(rita).post(f"/briefs/{brief.pk}/approve/", {"comment": "Fine."})
    assert response.status_code == 400
    assert b'class="field-error" role="alert">This field is required.' in response.content
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW


def test_a_typed_edit_is_counted_in_words_and_previewed_per_target(brief, rita):
    response = _preview(rita, brief, "Start a small compost heap today.")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span data-count>6</span> words · target' in html
    assert "Preview on Site" in html and "Start a small compost heap today." in html


def test_a_chinese_brief_counts_characters(ws, site, rita):
    brief = factories.brief_in_review(ws, scores=(0.5, 0.9), language="zh-CN", title="堆肥")
    html = logged_in(rita).get(f"/briefs/{brief.pk}/").content.decode()
    assert " characters · target" in html
    # "AI" counts once, punctuation not at all: the scorer's count
    response = _preview(rita, brief, "在小花园里用AI堆肥。")
    assert '<span data-count>9</span> characters' in response.content.decode()


def test_a_mastodon_preview_shows_the_thread_split(ws, brief, rita):
    target_create(workspace=ws, name="Fediverse", kind=TargetKind.MASTODON,
                  config={"url": "https://social.invalid", "max_characters": 100},
                  secret="token-123456")
    html = _preview(rita, brief, THREAD).content.decode()
    assert "Preview on Fediverse · a thread of 3 posts" in html
    assert "Post 1 of 3 ·" in html and "Post 3 of 3 ·" in html


def test_a_preview_of_bad_input_is_a_form_error_not_a_500(brief, rita):
    empty = _preview(rita, brief, "")
    assert (empty.status_code, b"This field is required." in empty.content) == (400, True)
    long = _preview(rita, brief, "x" * 50_001)
    assert long.status_code == 400 and b"at most 50000 characters" in long.content


def test_only_reviewers_preview_and_only_their_own_workspaces_drafts(brief, editor):
    assert _preview(editor, brief, "Mine.").status_code == 403
    foreign = factories.brief_in_review(factories.workspace(name="Elsewhere"))
    reviewer = factories.member(brief.workspace, Role.REVIEWER)
    assert _preview(reviewer, brief, "Mine.", draft=foreign.drafts.first()).status_code == 404


def _approve_later(client, brief, site) -> list[int]:
    at = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = client.post(f"/briefs/{brief.pk}/approve/", {
        "draft_id": brief.drafts.get(variant=1).pk, "targets": [site.pk], "publish_at": at},
        follow=True)
    return list(page.context["undo"]["publication_ids"]) if page.context["undo"] else []


def test_the_toast_undoes_a_schedule_just_made(brief, admin, site):
    client = logged_in(admin)
    ids = _approve_later(client, brief, site)
    assert ids == [Publication.objects.get(brief=brief).pk]
    response = client.post(f"/briefs/{brief.pk}/undo/", {"publication_ids": ids}, follow=True)
    assert b"Undone: 1 publication(s) cancelled." in response.content
    assert Publication.objects.get(brief=brief).state == PublicationState.CANCELLED
    brief.refresh_from_db()
    assert brief.state == BriefState.APPROVED
    assert response.context["undo"] is None  # offered once


def test_a_live_read_of_the_page_leaves_the_toast_and_the_message_to_the_next_page(
        brief, admin, site):
    # The page the approval came from still follows the workspace's events while the browser
    # follows the redirect; its re-read of the brief page must not take the flash state.
    client = logged_in(admin)
    at = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/briefs/{brief.pk}/approve/", {
        "draft_id": brief.drafts.get(variant=1).pk, "targets": [site.pk], "publish_at": at})
    live = client.get(f"/briefs/{brief.pk}/", headers={"X-Live-Read": "1"})
    assert live.context["undo"] is None and b"Approved." not in live.content
    assert b'data-brief-state="scheduled"' in live.content
    page = client.get(f"/briefs/{brief.pk}/")
    assert page.context["undo"]["publication_ids"] == [Publication.objects.get(brief=brief).pk]
    assert b"Scheduled to Site." in page.content and b"Approved." in page.content


def test_undo_is_offered_only_to_roles_that_may_cancel(brief, rita, site):
    assert _approve_later(logged_in(rita), brief, site) == []
    publication = Publication.objects.get(brief=brief)
    refused = logged_in(rita).post(f"/briefs/{brief.pk}/undo/",
                                   {"publication_ids": [publication.pk]})
    assert refused.status_code == 403
    publication.refresh_from_db()
    assert publication.state == PublicationState.SCHEDULED


def test_undo_refuses_bad_input_and_another_briefs_publication(ws, brief, admin, site):
    client = logged_in(admin)
    _approve_later(client, brief, site)
    bad = client.post(f"/briefs/{brief.pk}/undo/", {"publication_ids": ["x"]})
    assert bad.status_code == 400
    assert bad.context["error"] == "Nothing to undo: no publication was named."
    other = factories.brief_in_review(ws, title="Other")
    ids = _approve_later(client, other, site)
    refused = client.post(f"/briefs/{brief.pk}/undo/", {"publication_ids": ids})
    assert refused.status_code == 404
    assert Publication.objects.filter(state=PublicationState.CANCELLED).count() == 0
