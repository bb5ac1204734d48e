"""Basic accessibility of every dashboard page: each visible control has a label, and
every action is a real link or button (so the keyboard reaches and operates it)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from apps.accounts.models import Role
from apps.publishing.targets import target_create
from apps.reviews.services import comment_add
from tests import factories

pytestmark = pytest.mark.django_db


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.clickable_non_controls: list[str] = []
        self.inside_label = 0
        self.ids: set[str] = set()
        self.described_by: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.ids.add(a.get("id") or "")
        self.described_by.update((a.get("aria-describedby") or "").split())
        if tag == "label":
            self.inside_label += 1
            if a.get("for"):
                self.labelled.add(a["for"] or "")
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            # A control inside its <label> is labelled by it.
            self.controls.append({"tag": tag, "wrapped": "1" if self.inside_label else "", **a})
        if "onclick" in a and tag not in ("a", "button"):
            self.clickable_non_controls.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.inside_label -= 1

    def unlabelled(self) -> list[str]:
        return [f"{c['tag']} {c.get('name')}" for c in self.controls
                if not (c["wrapped"] or c.get("aria-label") or c.get("id") in self.labelled)]


@pytest.fixture
def pages():
    ws = factories.workspace(name="Garden Weekly")
    editor = factories.member(ws, Role.EDITOR)
    reviewer = factories.member(ws, Role.REVIEWER)
    admin = factories.member(ws, Role.ADMIN)
    target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    brief = factories.brief_in_review(ws)
    comment_add(brief=brief, author=reviewer, body="A first comment")
    return {"editor": editor, "reviewer": reviewer, "admin": admin, "brief": brief}


@pytest.mark.parametrize("who,path", [
    ("editor", "/"), ("editor", "/?view=table"), ("editor", "/briefs/new/"),
    ("reviewer", "/briefs/{brief}/"), ("admin", "/training/"),
    ("editor", "/accounts/password_change/"), (None, "/accounts/login/"),
])
def test_every_control_is_labelled(pages, who, path):
    client = Client()
    if who:
        client.force_login(pages[who])
    response = client.get(path.format(brief=pages["brief"].pk))
    assert response.status_code == 200
    parsed = Controls()
    parsed.feed(response.content.decode())
    assert parsed.controls, "the page has controls to check"
    assert parsed.unlabelled() == []
    assert parsed.clickable_non_controls == []
    assert parsed.described_by - parsed.ids == set()  # every description a control names exists
