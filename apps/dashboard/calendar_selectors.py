"""The content calendar's read: a workspace's scheduled and published publications in a
month, week or day of the user's own calendar, per target: one query for the targets, one
for the publications, whatever their number."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from django.db.models import Q
from django.db.models.functions import Coalesce

from apps.publishing.models import Publication, PublicationState, PublishingTarget

MONTH, WEEK, DAY = "month", "week", "day"
VIEWS = {MONTH: "Month", WEEK: "Week", DAY: "Day"}
# What the calendar shows: on its way out (at its scheduled time) or out (when it went).
COMING = (PublicationState.SCHEDULED, PublicationState.PUBLISHING)
# A month of a busy workspace can hold thousands: the page draws at most this many (each
# with its move form) and says so; a week, a day or one target shows the rest.
ITEMS_SHOWN = 300


@dataclass(frozen=True)
class CalendarItem:
    publication: Publication
    at: datetime  # when it goes (scheduled) or went (published), in the calendar's zone
    movable: bool  # still scheduled: it can be moved or cancelled

    @property
    def local(self) -> str:
        """`at` as a date-time field holds it ("2030-07-01T22:00"), for the move form."""
        return f"{self.at:%Y-%m-%dT%H:%M}"


@dataclass
class CalendarDay:
    day: date
    in_period: bool  # false for the other months' days that fill a month's first and last week
    today: bool
    items: list[CalendarItem] = field(default_factory=list)


@dataclass(frozen=True)
class CalendarHour:
    hour: int
    items: list[CalendarItem]


@dataclass(frozen=True)
class CalendarPeriod:
    view: str
    anchor: date
    title: str
    previous: date
    next: date
    days: list[CalendarDay]
    hours: list[CalendarHour]  # the day view's hours; empty otherwise
    shown: int
    truncated: bool


def _bounds(view: str, anchor: date) -> tuple[date, date, date, date, str]:
    """(first day shown, day after the last, previous anchor, next anchor, title); weeks start
    on Monday."""
    if view == DAY:
        return (anchor, anchor + timedelta(days=1), anchor - timedelta(days=1),
                anchor + timedelta(days=1), f"{anchor:%A}, {anchor:%b} {anchor.day}, {anchor.year}")
    if view == WEEK:
        monday = anchor - timedelta(days=anchor.weekday())
        return (monday, monday + timedelta(days=7), anchor - timedelta(days=7),
                anchor + timedelta(days=7), f"Week of {monday:%b} {monday.day}, {monday.year}")
    first = anchor.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return (first - timedelta(days=first.weekday()),
            following + timedelta(days=(7 - following.weekday()) % 7),
            previous, following, f"{first:%B} {first.year}")


def calendar_targets(*, workspace_id: int) -> list[PublishingTarget]:
    """Every target of the workspace, disabled ones too (their publications still show)."""
    return list(PublishingTarget.objects.filter(workspace_id=workspace_id).order_by("name", "id")
                .only("id", "name", "kind"))


def calendar_period(*, workspace_id: int, view: str, anchor: date, zone: tzinfo, today: date,
                    target_id: int | None = None) -> CalendarPeriod:
    """The month, week or day around `anchor` in `zone` (the user's: its days are theirs),
    with the publications scheduled or published in it, by day (and by hour in the day
    view), in time order; `target_id` keeps one target's."""
    first, after, previous, following, title = _bounds(view, anchor)
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(after, time.min, tzinfo=zone)
    rows = (
        Publication.objects.filter(workspace_id=workspace_id)
        .filter(Q(state__in=COMING, scheduled_at__gte=start, scheduled_at__lt=end)
                | Q(state=PublicationState.PUBLISHED, published_at__gte=start,
                    published_at__lt=end))
        .annotate(at=Coalesce("published_at", "scheduled_at"))
        .select_related("brief", "target")
        .only("id", "state", "scheduled_at", "published_at", "external_url", "brief_id",
              "target_id", "brief__title", "target__name", "target__kind")
        .order_by("at", "id")
    )
    if target_id is not None:
        rows = rows.filter(target_id=target_id)
    publications = list(rows[:ITEMS_SHOWN + 1])
    by_day: dict[date, list[CalendarItem]] = defaultdict(list)
    for publication in publications[:ITEMS_SHOWN]:
        at = publication.at.astimezone(zone)  # annotated: published_at, else scheduled_at
        by_day[at.date()].append(CalendarItem(
            publication=publication, at=at,
            movable=publication.state == PublicationState.SCHEDULED))
    days = [CalendarDay(day=day, in_period=view != MONTH or day.month == anchor.month,
                        today=day == today, items=by_day.get(day, []))
            for day in (first + timedelta(days=n) for n in range((after - first).days))]
    hours = []
    if view == DAY:
        hours = [CalendarHour(hour=h, items=[i for i in days[0].items if i.at.hour == h])
                 for h in range(24)]
    return CalendarPeriod(view=view, anchor=anchor, title=title, previous=previous,
                          next=following, days=days, hours=hours,
                          shown=min(len(publications), ITEMS_SHOWN),
                          truncated=len(publications) > ITEMS_SHOWN)
