"""WordPress through its REST API (v2), signed in with an application password.

Routes go through `/?rest_route=`, which every WordPress answers whatever its
permalink settings (`/wp-json/` needs pretty permalinks). WordPress takes no
idempotency key, so each post carries a marker: its slug ends with the first
eight characters of the publication's idempotency key. Every attempt looks
that slug up (in any status but trash) before creating, so an attempt whose
answer was lost (timeout, dropped connection) never yields a second post.

A publication whose time is still ahead (a target with `schedule_on_target`
is handed it as soon as it is scheduled) goes in as status `future` with
`date_gmt`, and WordPress publishes it then.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from django.utils import timezone

from apps.publishing.connectors import base
from apps.publishing.connectors.http import HttpConnector, base_url, checked, response_json, send
from apps.publishing.formatting import markdown_html, plain_text, slug, truncate
from apps.publishing.models import PublishingTarget

STATUSES = ("publish", "draft", "future")
SLUG_TITLE_MAX = 60
EXCERPT_MAX = 300
TERMS_PER_PAGE = 100
POSTS_PER_PAGE = 100  # the REST API's maximum


def slug_for(item: base.PublishItem) -> str:
    """The post's slug and exactly-once marker: title words, then the key's first 8 characters."""
    words = slug(item.title, language_tag=item.language, max_length=SLUG_TITLE_MAX,
                 percent_encoded=True)
    marker = item.idempotency_key.replace("-", "")[:8]
    return f"{words}-{marker}" if words else f"post-{marker}"


@dataclass(frozen=True, kw_only=True)
class WordPressConnector(HttpConnector):
    schema: ClassVar[base.TargetSchema] = base.TargetSchema(
        settings=(base.site_url("wordpress"), base.Setting("status", "|".join(STATUSES)),
                  base.Setting("categories", "[names]")),
        secret="'username:application password'",
        secret_check=base.colon_pair("A WordPress secret is 'username:application password'."),
        schedules=True, sends_to=base.config_url)

    url: str
    username: str
    password: str = field(repr=False)
    status: str = "publish"
    categories: tuple[str, ...] = ()

    @classmethod
    def from_target(cls, target: PublishingTarget) -> WordPressConnector:
        username, _, password = base.target_secret(target).partition(":")
        config = target.config
        return cls(url=str(config.get("url", "")), username=username, password=password,
                   status=str(config.get("status", "publish")),
                   categories=tuple(str(c) for c in config.get("categories", ())))

    # --- the connector interface --------------------------------------------

    def validate(self) -> None:
        """The site answers and the user may publish posts (one authenticated GET)."""
        self._check_config()
        with self._client() as client:
            me = response_json(self._call(client, "GET", "users/me", "checking the credentials",
                                          params={"context": "edit"}))
        capabilities = me.get("capabilities") or {}
        if isinstance(capabilities, dict) and not capabilities.get("publish_posts"):
            raise base.CredentialsRejected(
                f"The WordPress user '{self.username}' may not publish posts; give it the "
                "Author role or higher."
            )

    def publish(self, item: base.PublishItem) -> base.PublishResult:
        self._check_config()
        with self._client() as client:
            earlier = self._find(client, slug_for(item))
            if earlier is not None:
                return earlier
            body = self._post_body(client, item)
            post = response_json(self._call(client, "POST", "posts", "creating the post",
                                            json=body))
        return _result(post)

    def update(self, external_id: str, item: base.PublishItem) -> base.PublishResult:
        """New title, content, excerpt and tags on the same post; its slug (the marker),
        status and date stay as they are."""
        self._check_config()
        with self._client() as client:
            body = self._post_body(client, item)
            fields = {k: body[k] for k in ("title", "content", "excerpt", "tags")}
            post = response_json(self._call(client, "POST", f"posts/{int(external_id)}",
                                            "updating the post", json=fields))
        return _result(post)

    def unpublish(self, external_id: str) -> None:
        """Moves the post to the trash (WordPress keeps it 30 days)."""
        with self._client() as client:
            response = send(client, "DELETE", self._endpoint(), params=self._route(
                f"posts/{int(external_id)}"))
            if response.status_code in (404, 410):  # deleted, or already in the trash
                return
            checked(response, doing="trashing the post")

    def engagement(self, external_id: str) -> base.Engagement:
        """Approved comments on the post (WordPress counts nothing else)."""
        with self._client() as client:
            response = self._call(client, "GET", "comments", "counting comments",
                                  params={"post": int(external_id), "per_page": 1})
        return base.Engagement(replies=int(response.headers.get("x-wp-total", "0")))

    def preview(self, item: base.PublishItem) -> base.Preview:
        return base.Preview(format="html", title=item.title, parts=(markdown_html(item.body),))

    def list_posts(self, limit: int) -> list[base.RemotePost]:
        """The site's published posts, newest first, at most `limit`, page by page as the
        REST API serves them (its `X-WP-TotalPages` says when to stop)."""
        self._check_config()
        posts: list[base.RemotePost] = []
        page = 1
        with self._client() as client:
            while len(posts) < limit:
                response = self._call(client, "GET", "posts", "reading the site's posts", params={
                    "status": "publish", "per_page": min(POSTS_PER_PAGE, limit - len(posts)),
                    "page": page, "orderby": "date", "order": "desc"})
                found = response.json()
                posts += [base.RemotePost(external_id=str(p["id"]),
                                          title=html.unescape(str((p.get("title") or {}).get(
                                         "rendered", ""))),
                                          html=str((p.get("content") or {}).get("rendered", "")),
                                          url=str(p.get("link") or ""))
                          for p in (found if isinstance(found, list) else [])]
                if not found or page >= int(response.headers.get("x-wp-totalpages", page)):
                    break
                page += 1
        return posts[:limit]

    # --- details -------------------------------------------------------------

    def _check_config(self) -> None:
        base_url(self.url)
        if not self.username or not self.password:
            raise base.PermanentPublishError(
                "A WordPress target needs a secret 'username:application password'."
            )
        if self.status not in STATUSES:
            raise base.PermanentPublishError(
                f"A WordPress target's status is one of {', '.join(STATUSES)}, not '{self.status}'."
            )

    def _client(self) -> httpx.Client:
        return self.http_client(auth=(self.username, self.password),
                                headers={"accept": "application/json"})

    def _endpoint(self) -> str:
        return base_url(self.url) + "/"

    @staticmethod
    def _route(path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"rest_route": f"/wp/v2/{path}", **(params or {})}

    def _call(self, client: httpx.Client, method: str, path: str, doing: str, *,
              params: dict[str, Any] | None = None, json: Any = None) -> httpx.Response:
        response = send(client, method, self._endpoint(), params=self._route(path, params),
                        json=json)
        return checked(response, doing=doing)

    def _find(self, client: httpx.Client, slug: str) -> base.PublishResult | None:
        response = self._call(client, "GET", "posts", "looking up an earlier post",
                              params={"slug": slug, "status": "any", "context": "edit"})
        posts = response.json()
        return _result(posts[0]) if isinstance(posts, list) and posts else None

    def _post_body(self, client: httpx.Client, item: base.PublishItem) -> dict[str, Any]:
        body: dict[str, Any] = {
            "title": item.title,
            "content": markdown_html(item.body),
            "excerpt": truncate(" ".join(plain_text(item.body).split()), EXCERPT_MAX),
            "slug": slug_for(item),
            "status": self.status,
            "tags": [self._term_id(client, "tags", k) for k in item.keywords],
            "categories": [self._term_id(client, "categories", c) for c in self.categories],
        }
        if not body["categories"]:
            del body["categories"]  # WordPress then files it under the default category
        when = item.scheduled_at if _in_future(item) else None
        if self.status == "future" and when is None:
            body["status"] = "publish"  # a "future" post needs a future date
        if self.status in ("publish", "future") and when is not None:
            body["status"] = "future"  # WordPress holds it and publishes it at date_gmt
            body["date_gmt"] = when.astimezone(UTC).replace(tzinfo=None).isoformat(
                timespec="seconds")
        return body

    def _term_id(self, client: httpx.Client, taxonomy: str, name: str) -> int:
        """The id of the tag or category called `name`, created when missing."""
        found = self._call(client, "GET", taxonomy, f"looking up the {taxonomy}",
                           params={"search": name, "per_page": TERMS_PER_PAGE}).json()
        for term in found if isinstance(found, list) else []:
            if html.unescape(str(term.get("name", ""))).casefold() == name.casefold():
                return int(term["id"])
        response = send(client, "POST", self._endpoint(), params=self._route(taxonomy),
                        json={"name": name})
        data = response_json(response)
        if response.status_code == 400 and data.get("code") == "term_exists":  # a racing attempt
            return int((data.get("data") or {})["term_id"])
        return int(response_json(checked(response, doing=f"creating the {taxonomy}"))["id"])


def _in_future(item: base.PublishItem) -> bool:
    return item.scheduled_at is not None and item.scheduled_at > timezone.now()


def _result(post: dict[str, Any]) -> base.PublishResult:
    link = post.get("link")
    scheduled_for = None
    if post.get("status") == "future" and post.get("date_gmt"):  # held until then, in UTC
        scheduled_for = datetime.fromisoformat(str(post["date_gmt"])).replace(tzinfo=UTC)
    return base.PublishResult(external_id=str(post["id"]),
                              external_url=link if isinstance(link, str) else "",
                              scheduled_for=scheduled_for)
