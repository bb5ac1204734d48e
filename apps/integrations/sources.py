"""Brief sources beyond the API: RSS/Atom feeds and recurring briefs on a cron schedule."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import feedparser
import httpx
from croniter import croniter
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.briefs.models import Origin
from apps.briefs.serializers import BriefCreateSerializer
from apps.core.egress import egress_policy, egress_url_error
from apps.core.errors import DomainError
from apps.core.models import Workspace
from apps.core.services import Actor, audit_record
from apps.integrations.models import FeedEntry, FeedSource, RecurringBrief
from apps.workflow.services import brief_create
from workers.egress import EgressRefused, egress_client

logger = logging.getLogger(__name__)

FEED_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
FEED_MAX_BYTES = 5_000_000
SOURCE_MATERIAL_MAX = 50_000  # ContentBrief.source_material


@transaction.atomic
def feed_create(*, workspace: Workspace, name: str, url: str, content_type: Any,
                defaults: dict[str, Any] | None = None, enabled: bool = True,
                actor: Actor = None) -> FeedSource:
    if not url.startswith(("http://", "https://")):
        raise DomainError("A feed needs an http(s) URL.")
    if refusal := egress_url_error(url):
        raise DomainError(f"The workers may not fetch this URL: {refusal}")
    feed = FeedSource.objects.create(workspace=workspace, name=name, url=url,
                                     content_type=content_type, defaults=defaults or {},
                                     enabled=enabled)
    audit_record(workspace_id=workspace.pk, action="feed.created", subject=feed, actor=actor,
                 after={"url": url})
    return feed


def _entry_text(entry: Any) -> str:
    """The entry as source material: its content (or summary) and its link."""
    content = entry.get("content") or []
    body = content[0].get("value", "") if content else entry.get("summary", "")
    link = entry.get("link", "")
    return (f"{body}\n\nSource: {link}" if link else body)[:SOURCE_MATERIAL_MAX]


def feed_poll(*, feed: FeedSource) -> list[int]:
    """Fetch the feed and turn each entry not seen before into a submitted brief.

    Entries are deduplicated by their id (or link) per feed, under a unique
    constraint, so overlapping polls create each brief once. Returns the new brief ids.
    """
    try:
        # Every redirect hop passes the egress policy too.
        with egress_client(egress_policy(), timeout=FEED_TIMEOUT, follow_redirects=True) as client:
            response = client.get(feed.url)
        response.raise_for_status()
        if len(response.content) > FEED_MAX_BYTES:
            raise DomainError(f"The feed is larger than {FEED_MAX_BYTES} bytes.")
    except (httpx.HTTPError, DomainError, EgressRefused) as exc:
        FeedSource.objects.filter(pk=feed.pk).update(last_polled_at=timezone.now(),
                                                     last_error=str(exc)[:500])
        return []
    parsed = feedparser.parse(response.content)
    created = []
    for entry in parsed.entries:
        entry_id = entry.get("id") or entry.get("link") or entry.get("title", "")
        if not entry_id:
            continue
        brief_id = _feed_entry_brief(feed, entry, entry_id)
        if brief_id is not None:
            created.append(brief_id)
    FeedSource.objects.filter(pk=feed.pk).update(last_polled_at=timezone.now(), last_error="")
    return created


def feeds_poll() -> int:
    """Poll every enabled feed (beat); how many new entries became briefs."""
    return sum(len(feed_poll(feed=feed)) for feed in FeedSource.objects.filter(enabled=True))


def _feed_entry_brief(feed: FeedSource, entry: Any, entry_id: str) -> int | None:
    key = hashlib.sha256(entry_id.encode()).hexdigest()
    if FeedEntry.objects.filter(feed=feed, entry_key=key).exists():
        return None
    fields = BriefCreateSerializer(
        data={"content_type": str(feed.content_type_id), **feed.defaults,
              "title": (entry.get("title") or entry_id)[:200],
              "topic": (entry.get("summary") or entry.get("title") or entry_id)[:2000],
              "source_material": _entry_text(entry)},
        context={"workspace": feed.workspace})
    if not fields.is_valid():
        logger.warning("feed %s entry %s refused: %s", feed.pk, entry_id, fields.errors)
        return None
    try:
        with transaction.atomic():
            brief = brief_create(workspace=feed.workspace, origin=Origin.FEED, submit=True,
                                 **fields.validated_data)
            FeedEntry.objects.create(feed=feed, entry_key=key, entry_id=entry_id, brief=brief)
    except (IntegrityError, DomainError):  # another poll took this entry first
        return None
    return brief.pk


def schedule_next(*, cron: str, tz: str, after: datetime) -> datetime:
    """The next run strictly after `after`, reading the cron in the IANA zone `tz`."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"Unknown time zone '{tz}'; use an IANA name such as "
                          "Europe/Paris.") from exc
    if not croniter.is_valid(cron) or len(cron.split()) != 5:
        raise DomainError(f"'{cron}' is not a five-field cron expression.")
    next_run: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return next_run


@transaction.atomic
def recurring_create(*, workspace: Workspace, name: str, cron: str, tz: str,
                     content_type_id: int, brief_fields: dict[str, Any], actor: Actor = None
                     ) -> RecurringBrief:
    probe = BriefCreateSerializer(
        data={"content_type": str(content_type_id), **_titled(brief_fields, timezone.now())},
        context={"workspace": workspace})
    if not probe.is_valid():
        raise DomainError(f"The brief fields are invalid: {dict(probe.errors)}")
    recurring = RecurringBrief.objects.create(
        workspace=workspace, name=name, cron=cron, timezone=tz, content_type_id=content_type_id,
        brief_fields=brief_fields,
        next_run_at=schedule_next(cron=cron, tz=tz, after=timezone.now()),
    )
    audit_record(workspace_id=workspace.pk, action="recurring.created", subject=recurring,
                 actor=actor, after={"cron": cron, "timezone": tz})
    return recurring


def _titled(fields: dict[str, Any], at: datetime) -> dict[str, Any]:
    title = str(fields.get("title", ""))
    return {**fields, "title": title.replace("{date}", at.date().isoformat())}


def recurring_run_due(*, now: datetime | None = None) -> list[int]:
    """Create the briefs whose time has come; each schedule advances to its next run.

    The advance is a conditional UPDATE on the run it read, so two beat ticks
    racing create one brief per run, not two.
    """
    now = now or timezone.now()
    created = []
    for recurring in RecurringBrief.objects.filter(enabled=True, next_run_at__lte=now):
        with transaction.atomic():
            following = schedule_next(cron=recurring.cron, tz=recurring.timezone, after=now)
            claimed = RecurringBrief.objects.filter(
                pk=recurring.pk, next_run_at=recurring.next_run_at
            ).update(next_run_at=following, last_run_at=now)
            if not claimed:
                continue
            local = recurring.next_run_at.astimezone(ZoneInfo(recurring.timezone))
            fields = BriefCreateSerializer(
                data={"content_type": str(recurring.content_type_id),
                      **_titled(recurring.brief_fields, local)},
                context={"workspace": recurring.workspace})
            if not fields.is_valid():
                logger.warning("recurring brief %s invalid: %s", recurring.pk, fields.errors)
                continue
            brief = brief_create(workspace=recurring.workspace, origin=Origin.SCHEDULE, submit=True,
                                 **fields.validated_data)
            created.append(brief.pk)
    return created
