"""Risky actions: only what the user's role allows is offered, bulk menus start on no
action, and reject and bulk actions carry a confirm step (done by confirm.js)."""

from __future__ import annotations

import re

import pytest

from apps.briefs.models import BriefState
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db


def _bulk_menu(html: str) -> list[str]:
    menu = re.search(r'<select id="bulk-action" name="action" required>(.*?)</select>', html, re.S)
    assert menu is not None
    return re.findall(r'<option value="([^"]*)"', menu.group(1))


def test_the_bulk_menu_offers_each_role_its_own_actions_and_no_default(ws, editor, reviewer,
                                                                       admin):
    menus = {user.username: _bulk_menu(logged_in(user).get("/").content.decode())
             for user in (editor, reviewer, admin)}
    assert menus == {
        editor.username: ["", "assign", "regenerate", "cancel"],
        reviewer.username: ["", "approve", "reject", "assign"],
        admin.username: ["", "approve", "reject", "assign", "regenerate", "cancel"],
    }
    page = logged_in(reviewer).get("/").content.decode()
    assert '<option value="" selected>Choose an action…</option>' in page
    assert 'aria-label="Bulk actions" data-confirm-bulk>' in page


def test_a_bulk_post_without_an_action_does_nothing(ws, reviewer):
    brief = factories.brief_in_review(ws)
    response = logged_in(reviewer).post("/bulk/", {"action": "", "brief_ids": [brief.pk]},
                                        follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Choose an action and at least one brief."]
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW


def test_reject_asks_first_and_editors_get_no_reviewer_actions(ws, editor, reviewer):
    brief = factories.brief_in_review(ws, title="Spring beds")
    as_reviewer = logged_in(reviewer).get(f"/briefs/{brief.pk}/").content.decode()
    assert (f'<form method="post" action="/briefs/{brief.pk}/reject/" '
            'data-confirm="Reject “Spring beds”? It will not be published.">') in as_reviewer
    assert "Ask an outside approver" in as_reviewer
    as_editor = logged_in(editor).get(f"/briefs/{brief.pk}/").content.decode()
    for offered in ("/reject/", "/approve/", "/request-changes/", "/guest-link/", "Edit variant"):
        assert offered not in as_editor


def test_the_confirm_script_is_on_every_page(ws, editor):
    page = logged_in(editor).get("/insights/").content.decode()
    assert '<script src="/static/dashboard/confirm.js" defer></script>' in page
