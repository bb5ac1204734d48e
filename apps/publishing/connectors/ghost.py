"""Ghost through its Admin API, with a short-lived JWT signed from the Admin API key.

The key Ghost shows is `id:secret` (the secret in hex). Each request carries
`Authorization: Ghost <jwt>`: HS256 with the hex-decoded secret, header
`kid` = id, claims `iat`, `exp` (at most 5 minutes later) and `aud` "/admin/".
Posts are sent as HTML (`?source=html`). Ghost takes no idempotency key, so
the slug carries the publication's key (as for WordPress) and every attempt
looks it up (`GET /posts/slug/<slug>/`) before creating.

A publication whose time is still ahead (a target with `schedule_on_target`
is handed it as soon as it is scheduled) goes in as `scheduled` with that
`published_at`, and Ghost publishes it then. Ghost refuses to schedule less
than 2 minutes ahead (`times.cannotScheduleAPostBeforeInMinutes`), so a time
nearer than SCHEDULE_LEAD is published at once instead.

Engagement is what the Admin API counts per post (`?include=count.clicks,
count.signups,count.paid_conversions`): members who clicked a link in the
post's newsletter email, free signups and paid subscriptions attributed to
it. Ghost's comments have no count in the Admin API, so `replies` stays None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
import jwt
from django.utils import timezone

from apps.publishing.connectors import base
from apps.publishing.connectors.http import HttpConnector, base_url, checked, response_json, send
from apps.publishing.connectors.wordpress import slug_for
from apps.publishing.formatting import markdown_html
from apps.publishing.models import PublishingTarget

API = "/ghost/api/admin"
ACCEPT_VERSION = "v5.0"
TOKEN_TTL_S = 5 * 60  # Ghost refuses tokens valid for longer
STATUSES = ("published", "draft", "scheduled")
# Ghost's own minimum is 2 minutes; 30 s more covers our clock against its.
SCHEDULE_LEAD = timedelta(minutes=2, seconds=30)
# What the Admin API counts per post (`count.<name>` in its includes for posts), each
# kept under the same name in Engagement.
COUNTS = ("clicks", "signups", "paid_conversions")
POSTS_PER_PAGE = 100


def admin_token(key: str, *, now: int | None = None) -> str:
    """The JWT Ghost's Admin API expects, from an `id:secret` Admin API key."""
    key_id, _, secret = key.partition(":")
    try:
        secret_bytes = bytes.fromhex(secret)
    except ValueError as exc:
        raise base.PermanentPublishError("The Ghost Admin API key's secret is not hex.") from exc
    if not key_id or not secret_bytes:
        raise base.PermanentPublishError("A Ghost target needs its Admin API key 'id:secret'.")
    iat = int(time.time()) if now is None else now
    return jwt.encode({"iat": iat, "exp": iat + TOKEN_TTL_S, "aud": "/admin/"}, secret_bytes,
                      algorithm="HS256", headers={"kid": key_id})


@dataclass(frozen=True, kw_only=True)
class GhostConnector(HttpConnector):
    schema: ClassVar[base.TargetSchema] = base.TargetSchema(
        settings=(base.site_url("ghost"), base.Setting("status", "|".join(STATUSES))),
        secret="Admin API key 'id:secret'",
        secret_check=base.colon_pair("A Ghost secret is the Admin API key 'id:secret'."),
        schedules=True, sends_to=base.config_url)

    url: str
    key: str = field(repr=False)
    status: str = "published"

    @classmethod
    def from_target(cls, target: PublishingTarget) -> GhostConnector:
        return cls(url=str(target.config.get("url", "")), key=base.target_secret(target),
                   status=str(target.config.get("status", "published")))

    def validate(self) -> None:
        """The key signs tokens Ghost accepts: one GET of the newest post's id, which Ghost
        answers only to an authenticated integration (`site/` answers anyone, so a wrong
        key would pass there)."""
        if self.status not in STATUSES:
            raise base.PermanentPublishError(
                f"A Ghost target's status is one of {', '.join(STATUSES)}, not '{self.status}'."
            )
        with self._client() as client:
            checked(send(client, "GET", self._api("posts/"), params={"limit": 1, "fields": "id"}),
                    doing="checking the Admin API key")

    def publish(self, item: base.PublishItem) -> base.PublishResult:
        with self._client() as client:
            earlier = self._find(client, slug_for(item))
            if earlier is not None:
                return earlier
            response = send(client, "POST", self._api("posts/"), params={"source": "html"},
                            json={"posts": [self._post(item)]})
            posts = response_json(checked(response, doing="creating the post"))["posts"]
        return _result(posts[0])

    def update(self, external_id: str, item: base.PublishItem) -> base.PublishResult:
        """New title, HTML and tags on the same post. Ghost refuses an edit without the
        post's current `updated_at` (its guard against overwriting someone else's
        change), so the post is read first; status and publish time stay as they are."""
        with self._client() as client:
            current = response_json(checked(send(client, "GET", self._api(f"posts/{external_id}/")),
                                            doing="reading the post"))["posts"][0]
            post = {k: v for k, v in self._post(item).items() if k in ("title", "html", "tags")}
            post["updated_at"] = current["updated_at"]
            response = send(client, "PUT", self._api(f"posts/{external_id}/"),
                            params={"source": "html"}, json={"posts": [post]})
            posts = response_json(checked(response, doing="updating the post"))["posts"]
        return _result(posts[0])

    def unpublish(self, external_id: str) -> None:
        with self._client() as client:
            response = send(client, "DELETE", self._api(f"posts/{external_id}/"))
            if response.status_code != 404:  # already gone is what we wanted
                checked(response, doing="deleting the post")

    def engagement(self, external_id: str) -> base.Engagement:
        """Email link clicks, signups and paid conversions Ghost attributes to the post; a
        count the site does not give (an older Ghost) stays None."""
        with self._client() as client:
            response = send(client, "GET", self._api(f"posts/{external_id}/"),
                            params={"include": ",".join(f"count.{c}" for c in COUNTS)})
            post = response_json(checked(response, doing="reading the post's counts"))["posts"][0]
        counts = post.get("count") or {}
        return base.Engagement(**{c: counts[c] for c in COUNTS if isinstance(counts.get(c), int)})

    def preview(self, item: base.PublishItem) -> base.Preview:
        return base.Preview(format="html", title=item.title, parts=(markdown_html(item.body),))

    def list_posts(self, limit: int) -> list[base.RemotePost]:
        """The site's published posts, newest first, at most `limit`, page by page (the
        answer's `meta.pagination.pages` says when to stop)."""
        posts: list[base.RemotePost] = []
        page = 1
        with self._client() as client:
            while len(posts) < limit:
                response = send(client, "GET", self._api("posts/"), params={
                    "filter": "status:published", "formats": "html", "order": "published_at desc",
                    "limit": min(POSTS_PER_PAGE, limit - len(posts)), "page": page})
                data = response_json(checked(response, doing="reading the site's posts"))
                found = data.get("posts") or []
                posts += [base.RemotePost(external_id=str(p["id"]), title=str(p.get("title") or ""),
                                          html=str(p.get("html") or ""), url=str(p.get("url") or ""))
                          for p in found]
                pages = ((data.get("meta") or {}).get("pagination") or {}).get("pages") or page
                if not found or page >= int(pages):
                    break
                page += 1
        return posts[:limit]

    def _client(self) -> httpx.Client:
        # A fresh token per connector call: it lives 5 minutes, a call takes seconds.
        return self.http_client(headers={
            "authorization": f"Ghost {admin_token(self.key)}",
            "accept-version": ACCEPT_VERSION,
        })

    def _api(self, path: str) -> str:
        return f"{base_url(self.url)}{API}/{path}"

    def _find(self, client: httpx.Client, slug: str) -> base.PublishResult | None:
        response = send(client, "GET", self._api(f"posts/slug/{slug}/"))
        if response.status_code == 404:
            return None
        return _result(response_json(checked(response, doing="looking up an earlier post"))
                       ["posts"][0])

    def _post(self, item: base.PublishItem) -> dict[str, Any]:
        post: dict[str, Any] = {
            "title": item.title,
            "html": markdown_html(item.body),
            "slug": slug_for(item),
            "tags": [{"name": k} for k in item.keywords],  # Ghost creates missing tags
            "status": self.status,
        }
        when = item.scheduled_at
        if self.status != "draft" and when is not None and when >= timezone.now() + SCHEDULE_LEAD:
            post["status"] = "scheduled"  # Ghost publishes it at published_at
            post["published_at"] = when.isoformat()
        elif self.status == "scheduled":
            post["status"] = "published"  # nothing left to wait for
        return post


def _result(post: dict[str, Any]) -> base.PublishResult:
    url = post.get("url")
    scheduled_for = None
    if post.get("status") == "scheduled" and post.get("published_at"):
        scheduled_for = datetime.fromisoformat(str(post["published_at"]))
    return base.PublishResult(external_id=str(post["id"]),
                              external_url=url if isinstance(url, str) else "",
                              scheduled_for=scheduled_for)
