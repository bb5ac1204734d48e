"""A Standard Webhooks receiver, as a CMS plugin or a team's service implements one.

It verifies each delivery's signature (401 otherwise) and stores one post per
`webhook-id`: a redelivery of the same id gets the stored post back, not a
second post, as the specification asks of consumers. It can hold one delivery
open without answering, before or after storing it, the way a slow CMS keeps a
sender waiting while that sender dies:

    receiver.hold_next(after_storing=True)
    ...                                   # a delivery arrives, is stored, and waits
    assert receiver.holding.wait(30)

A held delivery is never answered: on leaving the `with` it is let go and the
connection is closed without a word.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.peers.base import Answer, PeerServer, Request

HOLD_MAX_S = 120.0  # a held delivery is let go after this even if the test never ends it


class WebhookReceiver(PeerServer):
    def __init__(self, *, secret: str, path: str = "/hooks") -> None:
        super().__init__()
        self.path = path
        self.posts: dict[str, dict[str, Any]] = {}  # by webhook-id
        self.holding = threading.Event()  # set while a delivery is held
        self._webhook = Webhook(secret)
        self._ids = itertools.count(1)
        self._hold: str = ""  # "before" or "after" storing, for the next delivery
        self._closing = threading.Event()

    def hold_next(self, *, after_storing: bool) -> None:
        with self._lock:
            self._hold = "after" if after_storing else "before"
        self.fail("POST", self.path, drop=True)  # the held delivery gets no answer

    def handle(self, request: Request) -> Answer:
        if (request.method, request.path) != ("POST", self.path):
            return Answer(404, {"error": "Not found"})
        try:
            event = self._webhook.verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            return Answer(401, {"error": str(exc)})
        with self._lock:
            hold, self._hold = self._hold, ""
        if hold == "before" and self._held():
            return Answer(503, {"error": "Shutting down"})
        with self._lock:
            post = self.posts.get(request.headers["webhook-id"])
            if post is None:
                number = next(self._ids)
                post = {"id": f"post-{number}", "url": f"{self.url}/posts/{number}",
                        "title": event["data"]["title"]}
                self.posts[request.headers["webhook-id"]] = post
        if hold == "after":
            self._held()
        return Answer(200, post)

    def _held(self) -> bool:
        """Wait until the receiver closes; True when it did."""
        self.holding.set()
        return self._closing.wait(HOLD_MAX_S)

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        super().__exit__(*exc_info)
