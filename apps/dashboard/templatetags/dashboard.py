"""Template filters of the dashboard."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from apps.publishing.formatting import sanitized_html

register = template.Library()


@register.filter
def sanitized(html: str) -> SafeString:
    """{{ preview_html|sanitized }}: HTML shown as HTML only after the publishing sanitiser
    (the tags and attributes a post may hold), never trusted as it comes."""
    return mark_safe(sanitized_html(html))  # nh3 has just cleaned it


def time_text(value: datetime) -> str:
    """The dashboard's one format for a time, in the current zone (the user's, see
    apps.accounts.middleware) with its abbreviation: "Dec 5, 2026, 09:00 PST"."""
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}, {local.year}, {local:%H:%M} {local.tzname()}"


def date_text(value: date) -> str:
    """A day in the same format as `time_text`, without the year and time: "Dec 5"."""
    return f"{value:%b} {value.day}"


def duration_text(seconds: float) -> str:
    """A span as people say it: "45 s", "12 min", "2 h 14 min", "3 days 4 h"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def relative_text(value: datetime, now: datetime) -> str:
    """"in 2 h", "5 min ago", "now": how far a time is, rounded to what a reader needs."""
    seconds = (value - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "now"
    if span < 3600:
        amount = f"{int(span // 60)} min"
    elif span < 48 * 3600:
        amount = f"{int(span // 3600)} h"
    else:
        amount = f"{int(span // 86400)} days"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def _time_element(value: datetime | None, relative: bool) -> SafeString | str:
    if not isinstance(value, datetime):
        return ""
    text = time_text(value)
    if relative:
        text = f"{text} ({relative_text(value, timezone.now())})"
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), text)


@register.filter
def when(value: datetime | None) -> SafeString | str:
    """{{ brief.created_at|when }}: a <time> in the dashboard's one format."""
    return _time_element(value, relative=False)


@register.filter
def when_relative(value: datetime | None) -> SafeString | str:
    """{{ brief.due_at|when_relative }}: the same, with how far it is ("in 2 h"), for
    deadlines and schedules."""
    return _time_element(value, relative=True)
