"""A Ghost Admin API peer: JWT auth as Ghost checks it, posts with slugs, Ghost's error shape.

Follows the Admin API docs: `Authorization: Ghost <jwt>` (HS256, `kid` = the
key's id, the hex secret as the key, `aud` "/admin/", at most 5 minutes
between `iat` and `exp`) on everything but `GET /site/`, which Ghost answers
anyone; errors as `{"errors": [{"message", "context", "type"}]}`;
slugs made unique with "-2", "-3"…

As Ghost 5 does: a `scheduled` post needs a `published_at` at least 2 minutes
ahead (when it is set or changed), and becomes `published` once that time
passes; `?include=` on a post adds the requested `count.*` relations under
`count` (unknown includes are dropped silently, not refused).
"""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from tests.peers.base import Answer, PeerServer, Request

API = "/ghost/api/admin"
# Ghost's `allowedIncludes` for Admin API posts (5.x), and its counted relations among them.
ALLOWED_INCLUDES = (
    "tags", "authors", "authors.roles", "email", "tiers", "newsletter", "count.conversions",
    "count.signups", "count.paid_conversions", "count.clicks", "sentiment",
    "count.positive_feedback", "count.negative_feedback", "post_revisions",
    "post_revisions.author",
)
COUNTS = ("conversions", "signups", "paid_conversions", "clicks", "positive_feedback",
          "negative_feedback")
SCHEDULE_LEAD = timedelta(minutes=2)  # config `times.cannotScheduleAPostBeforeInMinutes`


def ghost_error(status: int, type_: str, message: str, context: str = "") -> Answer:
    return Answer(status, {"errors": [{"message": message, "context": context or None,
                                       "type": type_}]})


class GhostPeer(PeerServer):
    def __init__(self, *, counts: bool = True) -> None:
        """`counts=False`: a Ghost from before member attribution (4.x), whose posts have
        no counted relations to include."""
        super().__init__()
        self.includes = ALLOWED_INCLUDES if counts else tuple(
            i for i in ALLOWED_INCLUDES if not i.startswith("count."))
        self.key_id = secrets.token_hex(12)
        self.secret = secrets.token_hex(32)
        self.posts: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, dict[str, int]] = {}  # post id → Ghost's counted relations
        self._ids = itertools.count(1)

    @property
    def admin_key(self) -> str:
        return f"{self.key_id}:{self.secret}"

    def revoke_key(self) -> None:
        self.secret = secrets.token_hex(32)

    def react(self, post_id: str, **counts: int) -> None:
        """Readers act on the post: e.g. `clicks=3, signups=2, paid_conversions=1`."""
        for name, value in counts.items():
            self.counts[post_id][name] += value

    def handle(self, request: Request) -> Answer:
        path = request.path.removeprefix(API)
        if request.method == "GET" and path == "/site/":  # public, as Ghost's is
            return Answer(200, {"site": {"title": "Peer", "url": self.url + "/",
                                         "version": "5.0"}})
        refused = self._auth(request)
        if refused:
            return refused
        self._publish_due()
        if request.method == "GET" and path == "/posts/":
            return self._browse(request)
        if request.method == "POST" and path == "/posts/":
            return self._create(request)
        if match := re.fullmatch(r"/posts/slug/([^/]+)/", path):
            post = next((p for p in self.posts.values() if p["slug"] == match[1]), None)
            return Answer(200, {"posts": [self._read(post, request)]}) if post \
                else self._not_found()
        if match := re.fullmatch(r"/posts/([0-9a-f]+)/", path):
            post = self.posts.get(match[1])
            if post is None:
                return self._not_found()
            if request.method == "DELETE":
                del self.posts[match[1]]
                return Answer(204)
            if request.method == "PUT":
                return self._edit(post, request)
            return Answer(200, {"posts": [self._read(post, request)]})
        return ghost_error(404, "NotFoundError", "Resource not found")

    def _auth(self, request: Request) -> Answer | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Ghost" or not token:
            return ghost_error(403, "NoPermissionError",
                               "Authorization header format is \"Authorization: Ghost [token]\"")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid != self.key_id:
                return ghost_error(401, "UnauthorizedError", "Unknown Admin API Key")
            claims = jwt.decode(token, bytes.fromhex(self.secret), algorithms=["HS256"],
                                audience="/admin/", options={"require": ["iat", "exp"]})
        except jwt.PyJWTError as exc:
            return ghost_error(401, "UnauthorizedError", "Invalid token", str(exc))
        if claims["exp"] - claims["iat"] > 5 * 60:
            return ghost_error(401, "UnauthorizedError", "Invalid token",
                               "jwt exp must be at most 5 minutes after iat")
        return None

    def _browse(self, request: Request) -> Answer:
        """`GET /posts/?limit=&fields=`: the newest posts first, with only `fields` if given."""
        limit = request.query.get("limit", "15")
        if not limit.isdigit() or int(limit) < 1:
            return ghost_error(422, "ValidationError", "Validation error, cannot list posts.",
                               "Value in [limit] is invalid.")
        posts = sorted(self.posts.values(), key=lambda p: p["created_at"], reverse=True)
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        shown = [{f: p[f] for f in fields if f in p} if fields else p
                 for p in posts[:int(limit)]]
        return Answer(200, {"posts": shown, "meta": {"pagination": {
            "page": 1, "limit": int(limit), "pages": max(1, -(-len(posts) // int(limit))),
            "total": len(posts)}}})

    def _create(self, request: Request) -> Answer:
        if request.query.get("source") != "html":
            return ghost_error(422, "ValidationError", "Posts are sent as ?source=html here.")
        [post] = request.json().get("posts") or [{}]
        if not str(post.get("title", "")).strip():
            return ghost_error(422, "ValidationError", "Validation error, cannot save post.",
                               "Value in [posts.title] cannot be blank.")
        if post.get("status", "draft") not in ("draft", "published", "scheduled"):
            return ghost_error(422, "ValidationError", "Validation error, cannot save post.",
                               "Value in [posts.status] is not a valid status.")
        refused = _schedule_refused(post.get("status", "draft"), post.get("published_at"),
                                    changed=True)
        if refused:
            return refused
        slug = post.get("slug") or re.sub(r"[^a-z0-9]+", "-", post["title"].lower()).strip("-")
        taken = {p["slug"] for p in self.posts.values()}
        for n in itertools.count(2):
            if slug not in taken:
                break
            slug = f"{post.get('slug')}-{n}"
        post_id = f"{next(self._ids):024x}"
        now = datetime.now(UTC).isoformat()
        stored = {
            "id": post_id, "title": post["title"], "slug": slug, "html": post.get("html", ""),
            "status": post.get("status", "draft"),
            "published_at": post.get("published_at") or (
                now if post.get("status") == "published" else None),
            "tags": [{"name": t["name"], "slug": t["name"].lower()} for t in post.get("tags", [])],
            "url": f"{self.url}/{slug}/", "created_at": now, "updated_at": now,
        }
        self.posts[post_id] = stored
        self.counts[post_id] = dict.fromkeys(COUNTS, 0)
        return Answer(201, {"posts": [stored]})

    def _edit(self, stored: dict[str, Any], request: Request) -> Answer:
        """`PUT /posts/{id}/`: Ghost requires the post's current `updated_at` and refuses a
        stale one (someone else saved in between) with 409 UpdateCollisionError."""
        if request.query.get("source") != "html":
            return ghost_error(422, "ValidationError", "Posts are sent as ?source=html here.")
        [post] = request.json().get("posts") or [{}]
        if not post.get("updated_at"):
            return ghost_error(422, "ValidationError", "Validation error, cannot edit post.",
                               "Value in [posts.updated_at] cannot be blank.")
        if post["updated_at"] != stored["updated_at"]:
            return ghost_error(409, "UpdateCollisionError",
                               "Saving failed! Someone else is editing this post.")
        published_at = post.get("published_at", stored["published_at"])
        refused = _schedule_refused(post.get("status", stored["status"]), published_at,
                                    changed=published_at != stored["published_at"])
        if refused:
            return refused
        for name in ("title", "html", "status", "published_at"):
            if name in post:
                stored[name] = post[name]
        if "tags" in post:
            stored["tags"] = [{"name": t["name"], "slug": t["name"].lower()}
                              for t in post["tags"]]
        # Microseconds, so two saves in one second still differ (Ghost's own are ms).
        stored["updated_at"] = datetime.now(UTC).isoformat()
        return Answer(200, {"posts": [stored]})

    def _read(self, post: dict[str, Any], request: Request) -> dict[str, Any]:
        """The post with the `count.*` relations `?include=` asked for."""
        asked = [i for i in request.query.get("include", "").strip().lower().split(",")
                 if i in self.includes]
        counts = {i.removeprefix("count."): self.counts[post["id"]][i.removeprefix("count.")]
                  for i in asked if i.startswith("count.")}
        return {**post, "count": counts} if counts else post

    def _publish_due(self) -> None:
        """Ghost's scheduler: a scheduled post goes live once its published_at passes."""
        now = datetime.now(UTC)
        for post in self.posts.values():
            if post["status"] != "scheduled":
                continue
            when = datetime.fromisoformat(str(post["published_at"]))
            if when.replace(tzinfo=when.tzinfo or UTC) <= now:
                post["status"] = "published"

    @staticmethod
    def _not_found() -> Answer:
        return ghost_error(404, "NotFoundError", "Resource not found error, cannot read post.")


def _schedule_refused(status: str, published_at: object, *, changed: bool) -> Answer | None:
    """Ghost's rule (its Post model's `onSaving`): a scheduled post needs a valid
    published_at, and one set or changed must be at least 2 minutes ahead."""
    if status != "scheduled":
        return None
    try:
        when = datetime.fromisoformat(str(published_at)) if published_at else None
    except ValueError:
        when = None
    if when is None:
        return ghost_error(422, "ValidationError", "Value in published_at cannot be blank.")
    if changed and when.replace(tzinfo=when.tzinfo or UTC) < datetime.now(UTC) + SCHEDULE_LEAD:
        return ghost_error(422, "ValidationError",
                           "Date must be at least 2 minutes in the future.")
    return None
