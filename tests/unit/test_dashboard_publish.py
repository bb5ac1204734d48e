"""The brief page's "Publish to more targets" form: what it offers, what it schedules, and
its refusals shown on the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from apps.accounts.models import Role
from apps.briefs.models import BriefState, ContentBrief
from apps.publishing.models import Publication, PublicationState, PublishingTarget
from apps.publishing.services import publication_cancel
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import logged_in
from tests.peers.content import approved_publications
from tests.unit.test_dashboard_accessibility import Controls

pytestmark = pytest.mark.django_db

NEXT_YEAR = timezone.now().year + 1


def _folder(ws, name: str) -> PublishingTarget:
    return target_create(workspace=ws, name=name, kind="file", config={"folder": name.lower()})


@pytest.fixture
def scheduled(ws):
    """A brief scheduled to Site and Blog, Blog's publication cancelled; Mail unused; Off
    disabled."""
    site, blog, mail, off = (_folder(ws, n) for n in ("Site", "Blog", "Mail", "Off"))
    PublishingTarget.objects.filter(pk=off.pk).update(enabled=False)
    to_site, to_blog = approved_publications(ws, site, blog)
    publication_cancel(publication=to_blog)
    return {"brief": to_site.brief, "site": site, "blog": blog, "mail": mail,
            "publication": to_site}


def _publish_form(html: str) -> str:
    found = re.search(r'<form method="post" action="[^"]*/publish/" class="publish".*?</form>',
                      html, re.S)
    return found[0] if found else ""


def _offered(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'name="targets" value="(\d+)"', _publish_form(html))]


def test_the_form_offers_the_enabled_targets_not_holding_the_brief(ws, editor, reviewer,
                                                                  scheduled):
    brief = scheduled["brief"]
    # when the editor and a reviewer open the scheduled brief, and the editor one in review
    page = logged_in(editor).get(f"/briefs/{brief.pk}/").content.decode()
    as_reviewer = logged_in(reviewer).get(f"/briefs/{brief.pk}/").content.decode()
    in_review = factories.brief_in_review(ws)
    not_yet = logged_in(editor).get(f"/briefs/{in_review.pk}/").content.decode()
    # then the editor is offered the cancelled Blog and the unused Mail (not Site, which
    # holds a scheduled publication, nor the disabled Off), every control labelled
    assert _offered(page) == [scheduled["blog"].pk, scheduled["mail"].pk]
    controls = Controls()
    controls.feed(page)
    assert controls.unlabelled() == []
    assert '<label for="id_publish_publish_at">Publish at' in page
    # and neither a reviewer nor a brief still in review gets the form
    assert (_publish_form(as_reviewer), _publish_form(not_yet)) == ("", "")


def test_publishing_from_the_page_schedules_at_the_chosen_time(editor, scheduled):
    brief = scheduled["brief"]
    # when the editor publishes to the cancelled Blog and to Mail at a time next year
    response = logged_in(editor).post(f"/briefs/{brief.pk}/publish/", {
        "targets": [scheduled["blog"].pk, scheduled["mail"].pk],
        "publish_at": f"{NEXT_YEAR}-07-01T09:30"})
    # then the page comes back; Blog's publication is re-opened and Mail's added, both
    # scheduled then (the platform's time zone is UTC), and the brief still scheduled
    assert (response.status_code, response["Location"]) == (302, f"/briefs/{brief.pk}/")
    rows = Publication.objects.filter(brief=brief).order_by("target_id")
    assert [(p.target.name, p.state, p.scheduled_at) for p in rows[1:]] == [
        ("Blog", PublicationState.SCHEDULED, datetime(NEXT_YEAR, 7, 1, 9, 30, tzinfo=UTC)),
        ("Mail", PublicationState.SCHEDULED, datetime(NEXT_YEAR, 7, 1, 9, 30, tzinfo=UTC)),
    ]
    assert ContentBrief.objects.get(pk=brief.pk).state == BriefState.SCHEDULED
    # and the page no longer offers any target
    page = logged_in(editor).get(f"/briefs/{brief.pk}/").content.decode()
    assert (_offered(page), "Every enabled target already has this brief." in page) == ([], True)


def test_refusals_are_shown_on_the_form(editor, scheduled):
    brief = scheduled["brief"]
    client = logged_in(editor)

    def refused(data: dict) -> tuple[int, str]:
        response = client.post(f"/briefs/{brief.pk}/publish/", data)
        return response.status_code, _publish_form(response.content.decode())

    # when the editor picks a target already holding the brief, none, or a past time
    held = refused({"targets": [scheduled["site"].pk]})
    none = refused({"targets": []})
    past = refused({"targets": [scheduled["mail"].pk], "publish_at": "2020-01-01T08:00"})
    # then each is the brief page with the reason inside the form, and nothing scheduled
    assert held[0] == 409
    assert (f"This brief is already scheduled to &#x27;Site&#x27; (publication "
            f"{scheduled['publication'].pk} is scheduled).") in held[1]
    assert none[0] == 400
    assert '<p class="field-error" role="alert">Choose at least one target.</p>' in none[1]
    assert past[0] == 400
    assert "2020-01-01T08:00:00+00:00 is in the past; choose a later time." in past[1]
    assert not Publication.objects.filter(target=scheduled["mail"]).exists()


def test_reviewers_and_other_workspaces_cannot_publish(ws, reviewer, scheduled):
    brief = scheduled["brief"]
    outsider = factories.member(factories.workspace(), Role.EDITOR)
    data = {"targets": [scheduled["mail"].pk]}
    # when a reviewer and an editor of another workspace post the form
    answers = [logged_in(user).post(f"/briefs/{brief.pk}/publish/", data).status_code
               for user in (reviewer, outsider)]
    # then the role refuses one and the other does not find the brief; nothing scheduled
    assert answers == [403, 404]
    assert not Publication.objects.filter(target=scheduled["mail"]).exists()
