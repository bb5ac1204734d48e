"""Times on the dashboard: shown and read in the user's zone, else the workspace's, in one
format with the zone's abbreviation; the browser's zone taken once, at the first visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Profile, Role
from apps.accounts.profiles import profile_time_zone_set
from apps.briefs.models import ContentBrief
from apps.core.errors import DomainError
from apps.dashboard.templatetags.dashboard import relative_text, time_text
from apps.reviews.models import GuestLink
from tests import factories
from tests.clients import logged_in

pytestmark = pytest.mark.django_db

YEAR = timezone.now().year + 1


@pytest.fixture
def ws():
    return factories.workspace(name="Garden Weekly", time_zone="Europe/Paris")


@pytest.fixture
def ed(ws):
    return factories.member(ws, Role.EDITOR, username="eda")


def _new_brief(client, ws, due: str) -> ContentBrief:
    response = client.post("/briefs/new/", {
        "title": "Spring beds", "content_type": factories.content_type(ws).pk,
        "topic": "Raised beds", "language": "en", "priority": 0, "due_at": due})
    assert response.status_code == 302, response.content
    return ContentBrief.objects.get(title="Spring beds")


def test_a_typed_due_time_is_read_and_shown_in_the_users_zone(ws, ed):
    # given an editor in Los Angeles, in a workspace in Paris
    profile_time_zone_set(user=ed, time_zone="America/Los_Angeles")
    client = logged_in(ed)
    # when they type a due time of 09:00 on July 1st
    brief = _new_brief(client, ws, f"{YEAR}-07-01T09:00")
    # then it is 09:00 in Los Angeles (UTC-7 in summer), shown back with its abbreviation
    assert brief.due_at == datetime(YEAR, 7, 1, 16, 0, tzinfo=UTC)
    page = client.get(f"/briefs/{brief.pk}/").content.decode()
    assert f'<time datetime="{YEAR}-07-01T16:00:00+00:00">Jul 1, {YEAR}, 09:00 PDT (in ' in page
    # and the form says which zone it reads times in
    assert "(America/Los_Angeles)" in client.get("/briefs/new/").content.decode()


def test_without_a_zone_of_their_own_the_workspaces_is_used(ws, ed):
    # given an editor who chose no zone (the workspace's, Paris)
    profile_time_zone_set(user=ed, time_zone="")
    client = logged_in(ed)
    brief = _new_brief(client, ws, f"{YEAR}-01-15T09:00")
    # then 09:00 is read in Paris (UTC+1 in winter) and shown as CET on the queue's table
    assert brief.due_at == datetime(YEAR, 1, 15, 8, 0, tzinfo=UTC)
    table = client.get("/?view=table").content.decode()
    assert f"Jan 15, {YEAR}, 09:00 CET (in " in table


def test_the_api_keeps_to_utc_whatever_the_users_zone(ws, ed):
    profile_time_zone_set(user=ed, time_zone="Asia/Tokyo")
    brief = factories.brief(ws, due_at=datetime(YEAR, 7, 1, 16, 0, tzinfo=UTC))
    body = logged_in(ed).get(f"/api/v1/briefs/{brief.pk}/").json()
    assert body["due_at"] == f"{YEAR}-07-01T16:00:00Z"


def test_the_browsers_zone_is_taken_once_and_never_over_a_choice(ws, ed):
    client = logged_in(ed)
    # given a first visit: the page asks the browser for its zone
    first = client.get("/").content.decode()
    assert '<form hidden data-browser-zone method="post" action="/profile/time-zone/">' in first
    # when the browser sends it, twice
    kept = client.post("/profile/time-zone/", {"time_zone": "America/New_York"})
    again = client.post("/profile/time-zone/", {"time_zone": "Asia/Tokyo"})
    # then the first is kept, the second is not, and pages no longer ask
    assert (kept.json(), again.json()) == ({"kept": True}, {"kept": False})
    assert Profile.objects.get(user=ed).time_zone == "America/New_York"
    assert "data-browser-zone" not in client.get("/").content.decode()


def test_a_bad_browser_zone_is_refused_and_keeps_asking(ws, ed):
    client = logged_in(ed)
    refused = client.post("/profile/time-zone/", {"time_zone": "Mars/Olympus"})
    assert (refused.status_code, refused.json()) == (
        400, {"error": "'Mars/Olympus' is not an IANA time zone, such as Europe/Paris."})
    assert not Profile.objects.filter(user=ed).exists()


def test_the_profile_page_sets_and_clears_the_zone(ws, ed):
    client = logged_in(ed)
    page = client.get("/profile/")
    assert page.status_code == 200
    assert ('<option value="" selected>The workspace&#x27;s (Europe/Paris)</option>'
            in page.content.decode())
    assert client.post("/profile/", {"time_zone": "Asia/Kolkata"}).status_code == 302
    assert Profile.objects.get(user=ed).time_zone == "Asia/Kolkata"
    bad = client.post("/profile/", {"time_zone": "Nowhere"})
    assert bad.status_code == 400
    assert Profile.objects.get(user=ed).time_zone == "Asia/Kolkata"
    assert client.post("/profile/", {"time_zone": ""}).status_code == 302
    assert Profile.objects.get(user=ed).time_zone == ""


def test_the_service_refuses_an_unknown_zone(ed):
    with pytest.raises(DomainError, match=r"'UTC\+2' is not an IANA time zone"):
        profile_time_zone_set(user=ed, time_zone="UTC+2")


def test_one_format_with_the_abbreviation_and_relative_times():
    moment = datetime(YEAR, 12, 5, 17, 0, tzinfo=UTC)
    with timezone.override("America/Los_Angeles"):
        assert time_text(moment) == f"Dec 5, {YEAR}, 09:00 PST"
    with timezone.override("Asia/Shanghai"):
        assert time_text(moment) == f"Dec 6, {YEAR}, 01:00 CST"
    assert [relative_text(moment + delta, moment) for delta in (
        timedelta(seconds=30), timedelta(minutes=5), timedelta(hours=2, minutes=40),
        -timedelta(hours=3), timedelta(days=3))] == [
        "now", "in 5 min", "in 2 h", "3 h ago", "in 3 days"]


def test_a_guest_sees_times_in_the_workspaces_zone(ws):
    # given a guest link (expiring in 2 days) on a brief of the Paris workspace
    reviewer = factories.member(ws, Role.REVIEWER, username="rita")
    brief = factories.brief_in_review(ws)
    page = logged_in(reviewer).post(f"/briefs/{brief.pk}/guest-link/",
                                    {"guest_name": "Clara", "valid_days": 2})
    path = page.context["guest_url"].removeprefix("http://testserver")
    # when the guest opens it, then its expiry is in Paris time, in the one format
    expires = GuestLink.objects.get().expires_at
    guest = Client().get(path).content.decode()
    with timezone.override("Europe/Paris"):
        assert f"{time_text(expires)} (in 47 h)" in guest
