"""A Mastodon API peer: bearer tokens, `/api/v2/instance` limits, statuses with
`Idempotency-Key`, reply threads, counts, edits and deletes of one's own statuses
(another account's answer 404, as Mastodon's do), and Mastodon's `{"error": "..."}` shape."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.peers.base import Answer, PeerServer, Request

URL_RE = re.compile(r"https?://\S+")
VISIBILITIES = {"public", "unlisted", "private", "direct"}


class MastodonPeer(PeerServer):
    def __init__(self, *, max_characters: int = 500, token: str = "peer-token",
                 bad_token_status: int = 401) -> None:
        """`bad_token_status=400`: a server that refuses an unknown or revoked token with
        OAuth's 400 `invalid_grant` instead of Mastodon's 401."""
        super().__init__()
        self.max_characters = max_characters
        self.tokens = {token}
        self.bad_token_status = bad_token_status
        self.statuses: dict[str, dict[str, Any]] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._owners: dict[str, str] = {}  # status id → the token (account) that posted it
        self._ids = itertools.count(109000000000000001)

    def handle(self, request: Request) -> Answer:
        if request.method == "GET" and request.path == "/api/v2/instance":  # public
            return Answer(200, {"domain": "peer.local", "configuration": {"statuses": {
                "max_characters": self.max_characters, "max_media_attachments": 4,
                "characters_reserved_per_url": 23}}})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens and self.bad_token_status == 400:
            return Answer(400, {"error": "invalid_grant",
                                "error_description": "The access token is invalid"})
        if token not in self.tokens:
            return Answer(401, {"error": "The access token is invalid"})
        if request.method == "GET" and request.path == "/api/v1/accounts/verify_credentials":
            return Answer(200, {"id": "1", "username": "editor", "acct": "editor"})
        if request.method == "POST" and request.path == "/api/v1/statuses":
            return self._post(request, token)
        if match := re.fullmatch(r"/api/v1/statuses/(\d+)", request.path):
            status = self.statuses.get(match[1])
            if request.method in ("PUT", "DELETE") and self._owners.get(match[1]) != token:
                # Mastodon looks these up among the caller's own statuses only, so
                # another account's status is as unknown as a missing one.
                status = None
            if status is None:
                return Answer(404, {"error": "Record not found"})
            if request.method == "DELETE":
                return self._delete(status)
            if request.method == "PUT":
                return self._edit(status, request.json())
            return Answer(200, status)
        return Answer(404, {"error": "Record not found"})

    def react(self, status_id: str, *, favourites: int = 0, reblogs: int = 0,
              replies: int = 0) -> None:
        status = self.statuses[status_id]
        status["favourites_count"] += favourites
        status["reblogs_count"] += reblogs
        status["replies_count"] += replies

    def _post(self, request: Request, token: str) -> Answer:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = request.json()
        else:
            data = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        key = request.headers.get("idempotency-key")
        if key and (token, key) in self._by_key:  # the same status, not a second one
            return Answer(200, self.statuses[self._by_key[(token, key)]])
        text, spoiler = str(data.get("status", "")), str(data.get("spoiler_text", ""))
        if refusal := self._text_refusal(text, spoiler):
            return refusal
        visibility = data.get("visibility", "public")
        if visibility not in VISIBILITIES:
            return Answer(422, {"error": f"Validation failed: Visibility '{visibility}' is "
                                         "not a valid visibility"})
        parent = data.get("in_reply_to_id")
        if parent is not None and parent not in self.statuses:
            return Answer(404, {"error": "Record not found"})
        status_id = str(next(self._ids))
        status = {
            "id": status_id, "url": f"{self.url}/@editor/{status_id}",
            "content": f"<p>{text}</p>", "text": text, "spoiler_text": spoiler,
            "sensitive": bool(spoiler), "visibility": visibility,
            "language": data.get("language"), "in_reply_to_id": parent,
            "favourites_count": 0, "reblogs_count": 0, "replies_count": 0,
        }
        self.statuses[status_id] = status
        self._owners[status_id] = token
        if parent is not None:
            self.statuses[parent]["replies_count"] += 1
        if key:
            self._by_key[(token, key)] = status_id
        return Answer(200, status)

    def _text_refusal(self, text: str, spoiler: str) -> Answer | None:
        """Mastodon's 422 for a blank or too long status (a link counts as 23 characters)."""
        if not text.strip():
            return Answer(422, {"error": "Validation failed: Text can't be blank"})
        if len(URL_RE.sub("x" * 23, text)) + len(spoiler) > self.max_characters:
            return Answer(422, {"error": "Validation failed: Text character limit of "
                                         f"{self.max_characters} exceeded"})
        return None

    def _edit(self, status: dict[str, Any], data: dict[str, Any]) -> Answer:
        """`PUT /api/v1/statuses/:id` (Mastodon 3.5+): new text, warning and language;
        `edited_at` set; visibility and thread place cannot change."""
        text, spoiler = str(data.get("status", "")), str(data.get("spoiler_text", ""))
        if refusal := self._text_refusal(text, spoiler):
            return refusal
        status.update(text=text, content=f"<p>{text}</p>", spoiler_text=spoiler,
                      sensitive=bool(spoiler), language=data.get("language", status["language"]),
                      edited_at=datetime.now(UTC).isoformat())
        return Answer(200, status)

    def _delete(self, status: dict[str, Any]) -> Answer:
        """`DELETE /api/v1/statuses/:id`: gone, its parent counts one reply less, and the
        answer is the deleted status with its source `text` (for "delete and redraft")."""
        del self.statuses[status["id"]]
        parent = self.statuses.get(status["in_reply_to_id"] or "")
        if parent is not None:
            parent["replies_count"] = max(parent["replies_count"] - 1, 0)
        return Answer(200, status)
