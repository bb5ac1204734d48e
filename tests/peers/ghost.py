"""A Ghost Admin API peer: JWT auth as Ghost checks it, posts with slugs, Ghost's error shape.

Follows the Admin API docs: `Authorization: Ghost <jwt>` (HS256, `kid` = the
key's id, the hex secret as the key, `aud` "/admin/", at most 5 minutes
between `iat` and `exp`); errors as `{"errors": [{"message", "context", "type"}]}`;
slugs made unique with "-2", "-3"…
"""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import jwt

from tests.peers.base import Answer, PeerServer, Request

API = "/ghost/api/admin"


def ghost_error(status: int, type_: str, message: str, context: str = "") -> Answer:
    return Answer(status, {"errors": [{"message": message, "context": context or None,
                                       "type": type_}]})


class GhostPeer(PeerServer):
    def __init__(self) -> None:
        super().__init__()
        self.key_id = secrets.token_hex(12)
        self.secret = secrets.token_hex(32)
        self.posts: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    @property
    def admin_key(self) -> str:
        return f"{self.key_id}:{self.secret}"

    def revoke_key(self) -> None:
        self.secret = secrets.token_hex(32)

    def handle(self, request: Request) -> Answer:
        refused = self._auth(request)
        if refused:
            return refused
        path = request.path.removeprefix(API)
        if request.method == "GET" and path == "/site/":
            return Answer(200, {"site": {"title": "Peer", "url": self.url + "/",
                                         "version": "5.0"}})
        if request.method == "POST" and path == "/posts/":
            return self._create(request)
        if match := re.fullmatch(r"/posts/slug/([^/]+)/", path):
            post = next((p for p in self.posts.values() if p["slug"] == match[1]), None)
            return Answer(200, {"posts": [post]}) if post else self._not_found()
        if match := re.fullmatch(r"/posts/([0-9a-f]+)/", path):
            post = self.posts.get(match[1])
            if post is None:
                return self._not_found()
            if request.method == "DELETE":
                del self.posts[match[1]]
                return Answer(204)
            if request.method == "PUT":
                return self._edit(post, request)
            return Answer(200, {"posts": [post]})
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
        for name in ("title", "html", "status", "published_at"):
            if name in post:
                stored[name] = post[name]
        if "tags" in post:
            stored["tags"] = [{"name": t["name"], "slug": t["name"].lower()}
                              for t in post["tags"]]
        # Microseconds, so two saves in one second still differ (Ghost's own are ms).
        stored["updated_at"] = datetime.now(UTC).isoformat()
        return Answer(200, {"posts": [stored]})

    @staticmethod
    def _not_found() -> Answer:
        return ghost_error(404, "NotFoundError", "Resource not found error, cannot read post.")
