"""The content calendar: scheduled and published publications by month, week and day of the
user's own calendar (their zone's days), per target; moving and cancelling through the page
go through the services the API calls."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.profiles import profile_time_zone_set
from apps.core.models import AuditEvent
from apps.publishing.models import Publication, PublicationState, TargetKind
from apps.publishing.services import publication_claim, publication_succeed
from apps.publishing.targets import target_create
from tests import factories
from tests.clients import logged_in
from tests.peers.content import approved_publications

pytestmark = pytest.mark.django_db

YEAR = timezone.now().year + 1
# 05:00 UTC on July 2nd is 22:00 on July 1st in Los Angeles (PDT).
JULY_2_0500_UTC = datetime(YEAR, 7, 2, 5, 0, tzinfo=UTC)


@pytest.fixture
def site(ws):  # type: ignore[no-untyped-def]
    return target_create(workspace=ws, name="Site", kind=TargetKind.FILE, config={"folder": "s"})


@pytest.fixture
def eddie_in_la(eddie):  # type: ignore[no-untyped-def]
    profile_time_zone_set(user=eddie, time_zone="America/Los_Angeles")
    return eddie


def _day(html: str, day: str) -> str:
    """The markup of one day's cell (or the day view's hour slot list)."""
    start = html.index(f'data-drop-date="{day}"')
    end = html.find("data-drop-date=", start + 20)
    return html[start:end if end > 0 else len(html)]


def _calendar(user, **query):  # type: ignore[no-untyped-def]
    answer = logged_in(user).get("/calendar/", query)
    return answer, answer.content.decode()


def test_a_publication_shows_on_the_users_own_day_in_month_week_and_day(ws, site, eddie_in_la):
    # given a publication scheduled at 05:00 UTC on July 2nd, and an editor in Los Angeles
    [publication] = approved_publications(ws, site, publish_at=JULY_2_0500_UTC, title="Rain")
    # when they open the month, the week and the day
    month, month_html = _calendar(eddie_in_la, view="month", date=f"{YEAR}-07-15")
    week, week_html = _calendar(eddie_in_la, view="week", date=f"{YEAR}-07-01")
    day, day_html = _calendar(eddie_in_la, view="day", date=f"{YEAR}-07-01")
    _, next_day_html = _calendar(eddie_in_la, view="day", date=f"{YEAR}-07-02")
    # then it is on July 1st, at 22:00 PDT, in each (in the day view at 22:00)
    assert (month.status_code, week.status_code, day.status_code) == (200, 200, 200)
    for html in (month_html, week_html):
        assert f'data-calendar-item="{publication.pk}"' in _day(html, f"{YEAR}-07-01")
        assert f'data-calendar-item="{publication.pk}"' not in _day(html, f"{YEAR}-07-02")
    assert f"Jul 1, {YEAR}, 22:00 PDT" in month_html
    assert day_html.count("data-drop-hour=") == 24
    twenty_two = day_html[day_html.index('data-drop-hour="22"'):day_html.index('data-drop-hour="23"')]
    assert f'data-calendar-item="{publication.pk}"' in twenty_two
    assert f'data-calendar-item="{publication.pk}"' not in next_day_html
    # and the month spans whole weeks, Monday first: 5 or 6 rows of 7 days
    assert len(re.findall(r'class="calendar-day[ "]', month_html)) in (35, 42)
    assert f'<h2 id="period-title">July {YEAR}</h2>' in month_html


def test_published_ones_show_when_they_went_out_and_cannot_be_moved(ws, site, eddie):
    [publication] = approved_publications(ws, site, title="Out already")
    publication_succeed(publication=publication_claim(publication_id=publication.pk,
                                                      worker_id="io"), external_id="x")
    _, html = _calendar(eddie, view="week")
    today = timezone.localdate().isoformat()
    cell = _day(html, today)
    assert "Out already" in cell and "state-published" in cell
    assert 'draggable="true"' not in cell and "Move or cancel" not in cell


def test_one_target_at_a_time_and_a_bad_filter_is_a_form_error(ws, site, eddie):
    other = target_create(workspace=ws, name="Social", kind=TargetKind.FILE,
                          config={"folder": "o"})
    approved_publications(ws, site, publish_at=JULY_2_0500_UTC, title="For the site")
    approved_publications(ws, other, publish_at=JULY_2_0500_UTC, title="For social")
    _, both = _calendar(eddie, date=f"{YEAR}-07-02")
    _, one = _calendar(eddie, date=f"{YEAR}-07-02", target=other.pk)
    assert "For the site" in both and "For social" in both
    assert "For social" in one and "For the site" not in one
    # a target of another workspace, or a date that is not one: an error, the rest shown
    theirs = target_create(workspace=factories.workspace(), name="Theirs", kind=TargetKind.FILE,
                           config={"folder": "t"})
    answer, html = _calendar(eddie, date=f"{YEAR}-07-02", target=theirs.pk)
    assert answer.status_code == 200
    assert "Select a valid choice" in html and "For social" in html and "Theirs" not in html
    answer, html = _calendar(eddie, date="2026-13-45")
    assert answer.status_code == 200 and "Enter a valid date." in html
    answer, html = _calendar(eddie, date="9999-12-31", view="month")
    assert answer.status_code == 200 and "Choose a date from 2000 to 2999." in html


def test_moving_through_the_page_reads_the_users_zone_and_uses_the_service(
        ws, site, eddie_in_la):
    [publication] = approved_publications(ws, site, publish_at=JULY_2_0500_UTC)
    # when the editor moves it to 09:30 on July 3rd, their time
    client = logged_in(eddie_in_la)
    answer = client.post(
        f"/calendar/publications/{publication.pk}/reschedule/?view=week&date={YEAR}-07-01&target=",
        {"publish_at": f"{YEAR}-07-03T09:30"})
    # then it goes at 16:30 UTC, recorded by the service, and the calendar shows that week again
    assert answer.status_code == 302
    assert answer["Location"] == f"/calendar/?view=week&date={YEAR}-07-01&target="
    publication.refresh_from_db()
    assert publication.scheduled_at == datetime(YEAR, 7, 3, 16, 30, tzinfo=UTC)
    assert AuditEvent.objects.filter(action="publication.rescheduled",
                                     subject_id=publication.pk).count() == 1
    page = client.get(answer["Location"]).content.decode()
    assert f"moved to Jul 3, {YEAR}, 09:30 PDT" in page


def test_a_past_time_is_refused_on_the_items_form(ws, site, eddie):
    [publication] = approved_publications(ws, site, publish_at=JULY_2_0500_UTC)
    answer = logged_in(eddie).post(
        f"/calendar/publications/{publication.pk}/reschedule/?view=month&date={YEAR}-07-02",
        {"publish_at": "2020-01-01T09:00"})
    assert answer.status_code == 400
    html = answer.content.decode()
    item = html[html.index(f'data-calendar-item="{publication.pk}"'):]
    item = item[:item.index("</li>")]
    assert "is in the past; choose a later time." in item
    assert '<details class="calendar-actions" open>' in item
    assert 'value="2020-01-01T09:00"' in item  # what was typed stays
    publication.refresh_from_db()
    assert publication.scheduled_at == JULY_2_0500_UTC
    # and an empty time is the form's own error
    answer = logged_in(eddie).post(f"/calendar/publications/{publication.pk}/reschedule/",
                                   {"publish_at": ""})
    assert answer.status_code == 400 and "This field is required." in answer.content.decode()


def test_cancelling_through_the_page(ws, site, eddie):
    [publication] = approved_publications(ws, site, publish_at=JULY_2_0500_UTC, title="Rain")
    client = logged_in(eddie)
    answer = client.post(f"/calendar/publications/{publication.pk}/cancel/?view=day&date={YEAR}-07-02")
    assert answer.status_code == 302
    assert answer["Location"] == f"/calendar/?view=day&date={YEAR}-07-02"
    publication.refresh_from_db()
    assert publication.state == PublicationState.CANCELLED
    page = client.get(answer["Location"]).content.decode()
    assert "“Rain” on Site cancelled: it will not be published." in page
    assert f'data-calendar-item="{publication.pk}"' not in page
    # a second cancel is refused in words, not a 500
    again = client.post(f"/calendar/publications/{publication.pk}/cancel/", follow=True)
    assert again.status_code == 200
    assert "cannot" in again.content.decode() or "not" in again.content.decode()


def test_another_workspaces_publication_is_404(ws, eddie):
    theirs = factories.workspace(name="Theirs")
    target = target_create(workspace=theirs, name="Their site", kind=TargetKind.FILE,
                           config={"folder": "t"})
    [publication] = approved_publications(theirs, target, publish_at=JULY_2_0500_UTC)
    client = logged_in(eddie)
    moved = client.post(f"/calendar/publications/{publication.pk}/reschedule/",
                        {"publish_at": f"{YEAR}-08-01T09:00"})
    cancelled = client.post(f"/calendar/publications/{publication.pk}/cancel/")
    assert (moved.status_code, cancelled.status_code) == (404, 404)
    publication.refresh_from_db()
    assert (publication.state, publication.scheduled_at) == (PublicationState.SCHEDULED,
                                                            JULY_2_0500_UTC)


def test_reviewers_see_the_calendar_but_cannot_move_or_cancel(ws, site, rita):
    [publication] = approved_publications(ws, site, publish_at=JULY_2_0500_UTC, title="Rain")
    answer, html = _calendar(rita, date=f"{YEAR}-07-02")
    assert answer.status_code == 200 and "Rain" in html
    assert 'draggable="true"' not in html and "Move or cancel" not in html
    client = logged_in(rita)
    moved = client.post(f"/calendar/publications/{publication.pk}/reschedule/",
                        {"publish_at": f"{YEAR}-08-01T09:00"})
    cancelled = client.post(f"/calendar/publications/{publication.pk}/cancel/")
    assert (moved.status_code, cancelled.status_code) == (403, 403)
    assert Publication.objects.get(pk=publication.pk).state == PublicationState.SCHEDULED
    admin = factories.member(ws, Role.ADMIN)
    _, admin_html = _calendar(admin, date=f"{YEAR}-07-02")
    assert 'draggable="true"' in admin_html
    for name in ("calendar_reschedule", "calendar_cancel"):
        assert f'action="{reverse(f"dashboard:{name}", args=[publication.pk])}?' in admin_html


@pytest.mark.parametrize("publications", [1, 6])
def test_the_page_takes_the_same_queries_whatever_it_shows(
        ws, site, eddie, publications, django_assert_max_num_queries):
    targets = [site] + [target_create(workspace=ws, name=f"Site {n}", kind=TargetKind.FILE,
                                      config={"folder": f"s{n}"}) for n in range(publications - 1)]
    approved_publications(ws, *targets, publish_at=JULY_2_0500_UTC)
    client = logged_in(eddie)
    with django_assert_max_num_queries(12):
        answer = client.get("/calendar/", {"date": f"{YEAR}-07-02"})
    assert answer.content.decode().count("data-calendar-item=") == publications
