"""A member of another workspace gets 403 or 404 from every dashboard page, action, API
endpoint and socket that names this workspace's objects, and changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import Role
from apps.briefs.models import BriefState
from apps.notifications.models import Notification
from apps.publishing.targets import target_create
from apps.reviews.models import DraftRevision, EditLock, Review, ReviewAssignment, ReviewComment
from apps.reviews.services import comment_add, guest_link_create
from tests import factories

DASHBOARD = [
    ("get", "/briefs/{brief}/"),
    ("get", "/briefs/{brief}/card/"),
    ("post", "/briefs/{brief}/approve/"),
    ("post", "/briefs/{brief}/reject/"),
    ("post", "/briefs/{brief}/request-changes/"),
    ("post", "/briefs/{brief}/comments/"),
    ("post", "/briefs/{brief}/assign/"),
    ("post", "/briefs/{brief}/guest-link/"),
    ("post", "/briefs/{brief}/drafts/{draft}/edit/"),
    ("post", "/briefs/{brief}/drafts/{draft}/lock/"),
    ("post", "/bulk/"),
]
API = [
    ("get", "/api/v1/briefs/{brief}/"),
    ("post", "/api/v1/briefs/{brief}/approve/"),
    ("post", "/api/v1/briefs/{brief}/reject/"),
    ("post", "/api/v1/briefs/{brief}/request-changes/"),
    ("post", "/api/v1/briefs/{brief}/cancel/"),
    ("get", "/api/v1/jobs/{job}/"),
    ("get", "/api/v1/drafts/{draft}/"),
    ("get", "/api/v1/publications/{publication}/"),
    ("get", "/api/v1/targets/{target}/"),
    ("get", "/api/v1/briefs/"),  # a list, asked for with the foreign workspace's header
]


@pytest.fixture
def world(db):
    ws = factories.workspace(name="Garden Weekly")
    owner = factories.member(ws, Role.REVIEWER, username="rita")
    brief = factories.brief_in_review(ws, title="Secret compost plans")
    target = target_create(workspace=ws, name="Site", kind="file", config={"folder": "site"})
    published = factories.brief_in_review(ws, title="Already out")
    from apps.workflow.services import review_approve

    review_approve(brief=published, draft_id=published.drafts.first().pk, reviewer=owner)
    comment = comment_add(brief=brief, author=owner, body="Internal note")
    outsider = factories.member(factories.workspace(name="Elsewhere"), Role.REVIEWER,
                                username="olga")
    return {"ws": ws, "brief": brief, "draft": brief.drafts.first(), "comment": comment,
            "job": brief.jobs.get(), "target": target, "outsider": outsider,
            "publication": published.publications.get(), "owner": owner}


def _ids(world) -> dict[str, int]:
    return {k: world[k].pk for k in ("brief", "draft", "job", "target", "publication")}


def _payload(world) -> dict:
    return {"draft_id": world["draft"].pk, "feedback": "mine now", "comment": "no",
            "body": "hi", "reviewer": world["owner"].pk, "guest_name": "Eve", "valid_days": 1,
            "text": "Overwritten.", "base_revision": 1, "action": "reject",
            "brief_ids": [world["brief"].pk], "parent_id": world["comment"].pk}


def _unchanged(world) -> None:
    brief = world["brief"]
    brief.refresh_from_db()
    assert brief.state == BriefState.IN_REVIEW
    assert Review.objects.filter(brief=brief).count() == 0
    assert DraftRevision.objects.filter(draft__brief=brief).count() == 2  # the models' own
    assert ReviewComment.objects.filter(brief=brief).count() == 1
    assert not ReviewAssignment.objects.filter(brief=brief).exists()
    assert not EditLock.objects.exists()
    assert not brief.guest_links.exists()


@pytest.mark.parametrize("method,path", DASHBOARD)
def test_dashboard_pages_and_actions_refuse_an_outsider(world, method, path):
    client = Client()
    client.force_login(world["outsider"])
    response = getattr(client, method)(path.format(**_ids(world)), _payload(world))
    assert response.status_code == 404
    _unchanged(world)


@pytest.mark.parametrize("method,path", API)
def test_api_endpoints_refuse_an_outsider(world, method, path):
    client = Client()
    client.force_login(world["outsider"])
    response = getattr(client, method)(path.format(**_ids(world)), _payload(world),
                                       content_type="application/json",
                                       headers={"X-Workspace": str(world["ws"].pk)})
    assert response.status_code in (403, 404), response.content
    _unchanged(world)


def test_the_outsiders_own_queue_and_notifications_show_nothing_of_ours(world):
    client = Client()
    client.force_login(world["outsider"])
    for path in ("/", "/?view=table", "/notifications/", "/insights/", "/insights.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"Secret compost plans" not in response.content, path
    assert not Notification.objects.filter(user=world["outsider"]).exists()


def test_a_guest_link_opens_only_its_own_brief(world):
    # A guest link is the one way in without membership: it shows its brief, nothing else.
    _, token = guest_link_create(brief=world["brief"], created_by=world["owner"],
                                 guest_name="Clara")
    response = Client().get(f"/guest/{token}/")
    assert response.status_code == 200
    assert b"Secret compost plans" in response.content
    assert b"Internal note" not in response.content  # comments stay inside
    assert Client().get(f"/guest/{token[:-2]}xx/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_sockets_refuse_an_outsider():
    from tests.unit.test_consumers import close_codes, queued_job, session_cookie

    ws = factories.workspace()
    job = queued_job(ws)
    cookie = session_cookie(factories.member(factories.workspace(), Role.REVIEWER))
    assert close_codes((f"/ws/jobs/{job.pk}/", cookie),
                       (f"/ws/workspace/?workspace={ws.pk}", cookie)) == [4403, 4403]
