"""Brief sources: an RSS feed over local HTTP, recurring briefs in a time zone, bulk import."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.briefs.models import BriefState, ContentBrief
from apps.core.errors import DomainError
from apps.integrations.models import FeedEntry, FeedSource, RecurringBrief
from apps.integrations.sources import feed_poll, recurring_create, recurring_run_due, schedule_next
from tests import factories
from tests.http_peers import HttpPeer, Reply

pytestmark = pytest.mark.django_db

RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Garden news</title><link>https://news.test/</link>
<description>d</description>
<item><guid>https://news.test/1</guid><title>Drought rules eased</title>
<link>https://news.test/1</link><description>Hosepipe bans end in the south.</description></item>
<item><guid>https://news.test/2</guid><title>Bees return early</title>
<link>https://news.test/2</link><description>A warm March woke the hives.</description></item>
</channel></rss>"""


@pytest.fixture
def ct(ws):
    return factories.content_type(ws, slug="news")


def test_new_feed_entries_become_briefs_once_with_the_entry_as_source(ws, ct):
    feed = FeedSource.objects.create(workspace=ws, name="News", url="http://x", content_type=ct,
                                     defaults={"variants": 1})
    rss = Reply(200, RSS, {"Content-Type": "application/rss+xml"})
    with HttpPeer(rss, rss) as server:
        FeedSource.objects.filter(pk=feed.pk).update(url=f"{server.url}/feed.xml")
        feed.refresh_from_db()
        # when the feed is polled twice
        first = feed_poll(feed=feed)
        second = feed_poll(feed=feed)
    # then each entry became one submitted brief, the second poll none
    assert len(first) == 2 and second == []
    briefs = ContentBrief.objects.order_by("id")
    assert {b.origin for b in briefs} == {"feed"}
    assert [(b.title, b.topic, b.state, b.variants) for b in briefs] == [
        ("Drought rules eased", "Hosepipe bans end in the south.", BriefState.QUEUED, 1),
        ("Bees return early", "A warm March woke the hives.", BriefState.QUEUED, 1)]
    assert briefs[0].source_material == ("Hosepipe bans end in the south.\n\n"
                                         "Source: https://news.test/1")
    assert sorted(FeedEntry.objects.values_list("entry_id", flat=True)) == [
        "https://news.test/1", "https://news.test/2"]
    feed.refresh_from_db()
    assert (feed.last_error, feed.last_polled_at is not None) == ("", True)


def test_an_unreachable_feed_records_its_error_and_creates_nothing(ws, ct):
    with HttpPeer(503) as server:
        feed = FeedSource.objects.create(workspace=ws, name="News", url=f"{server.url}/f",
                                         content_type=ct)
        assert feed_poll(feed=feed) == []
    feed.refresh_from_db()
    assert feed.last_error.startswith("Server error '503 Service Unavailable'")
    assert ContentBrief.objects.count() == 0


def test_cron_reads_in_the_given_time_zone_across_daylight_saving():
    # Mondays 09:00 in Paris: 08:00 UTC in winter, 07:00 UTC in summer
    winter = schedule_next(cron="0 9 * * MON", tz="Europe/Paris",
                           after=datetime(2026, 3, 20, tzinfo=UTC))
    summer = schedule_next(cron="0 9 * * MON", tz="Europe/Paris", after=winter)
    assert winter.astimezone(UTC) == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    with pytest.raises(DomainError, match="Unknown time zone 'Mars/Olympus'"):
        schedule_next(cron="0 9 * * MON", tz="Mars/Olympus", after=winter)
    with pytest.raises(DomainError, match="not a five-field cron"):
        schedule_next(cron="every monday", tz="UTC", after=winter)


def test_a_recurring_brief_is_created_once_per_run_with_the_local_date(ws, ct):
    recurring = recurring_create(
        workspace=ws, name="Newsletter", cron="0 9 * * MON", tz="Europe/Paris",
        content_type_id=ct.pk,
        brief_fields={"title": "Weekly digest {date}", "topic": "the week in gardening"})
    RecurringBrief.objects.filter(pk=recurring.pk).update(
        next_run_at=datetime(2026, 3, 23, 8, 0, tzinfo=UTC))
    # when the beat runs at the due time, and again a minute later
    at = datetime(2026, 3, 23, 8, 0, 30, tzinfo=UTC)
    created = recurring_run_due(now=at)
    again = recurring_run_due(now=at)
    # then one brief, titled with Paris's date, and the next run is next Monday 09:00 Paris
    assert (len(created), again) == (1, [])
    assert (ContentBrief.objects.get().title, ContentBrief.objects.get().origin) == (
        "Weekly digest 2026-03-23", "schedule")
    recurring.refresh_from_db()
    assert recurring.next_run_at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_recurring_brief_with_invalid_fields_is_refused(ws, ct):
    with pytest.raises(DomainError, match="The brief fields are invalid"):
        recurring_create(workspace=ws, name="x", cron="0 9 * * *", tz="UTC",
                         content_type_id=ct.pk, brief_fields={"title": "no topic"})


def test_bulk_import_from_csv_reports_each_row(ws, ct):
    editor = factories.member(ws, Role.EDITOR)
    client = APIClient()
    client.force_authenticate(editor)
    csv_body = ("title,content_type,topic,keywords,variants\n"
                "Rain gardens,news,planning one,rain;garden,1\n"
                ",news,no title,,\n"
                "Mulch,blog-nope,why mulch,,\n")
    response = client.post("/api/v1/briefs/import/", csv_body, content_type="text/csv")
    assert response.status_code == 200
    body = response.json()
    brief = ContentBrief.objects.get()
    assert (body["created"], body["refused"]) == (1, 2)
    assert body["rows"] == [
        {"row": 1, "status": "created", "brief_id": brief.pk, "errors": {}},
        {"row": 2, "status": "refused", "brief_id": None,
         "errors": {"title": ["This field is required."]}},
        {"row": 3, "status": "refused", "brief_id": None,
         "errors": {"content_type": ["Unknown content type 'blog-nope' in this workspace."]}},
    ]
    assert (brief.keywords, brief.variants, brief.origin) == (["rain", "garden"], 1, "api")


def test_bulk_import_from_json_and_its_limits(ws, ct):
    editor = factories.member(ws, Role.EDITOR)
    client = APIClient()
    client.force_authenticate(editor)
    rows = [{"title": "A", "content_type": "news", "topic": "a", "external_id": "e1"},
            {"title": "B", "content_type": "news", "topic": "b", "external_id": "e1"}, "junk"]
    body = client.post("/api/v1/briefs/import/", rows, format="json").json()
    assert [(r["status"], r["errors"]) for r in body["rows"]] == [
        ("created", {}),
        ("refused", {"non_field_errors": ["A brief with external id 'e1' already exists."]}),
        ("refused", {"non_field_errors": ["A row is an object of fields."]})]
    not_a_list = client.post("/api/v1/briefs/import/", {"title": "A"}, format="json")
    assert (not_a_list.status_code, not_a_list.json()) == (400, {"non_field_errors": [
        "Send a JSON list of briefs, a text/csv body, or a multipart 'file'."]})
    reviewer = factories.member(ws, Role.REVIEWER)
    client.force_authenticate(reviewer)
    assert client.post("/api/v1/briefs/import/", rows, format="json").status_code == 403
