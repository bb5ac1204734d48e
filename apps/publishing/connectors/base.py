"""The connector contract: plain data in, plain data out, two kinds of error.

A connector publishes one `PublishItem` to one target. It must be safe to call
again with the same item (the worker may die after the target accepted it), so
every connector uses `idempotency_key` to find or deduplicate an earlier post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PublishItem:
    idempotency_key: str  # the publication's UUID: the same on every attempt
    publication_id: int
    brief_id: int
    revision: int  # the approved revision's number
    title: str
    body: str  # Markdown (plain text is valid Markdown)
    keywords: tuple[str, ...]
    language: str
    content_type: str  # the content type's slug, e.g. "blog-post"
    published_at: datetime  # the time of this attempt, timezone-aware


@dataclass(frozen=True)
class PublishResult:
    external_id: str  # the target's id for the post (at most 500 characters)
    external_url: str = ""


class PublishError(Exception):
    """A failed publish; `message` is what the editor reads on the publication."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TransientPublishError(PublishError):
    """Worth retrying: timeouts, connection errors, 408, 429, 5xx.

    `retry_after` is the target's own wait in seconds (Retry-After), if it gave one.
    """

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentPublishError(PublishError):
    """Retrying cannot help (a 4xx, a bad configuration): the publication fails."""


class Connector(Protocol):
    def validate(self) -> None:
        """Raise PermanentPublishError if the target's configuration cannot work."""

    def publish(self, item: PublishItem) -> PublishResult:
        """Publish `item` once (idempotent by `item.idempotency_key`)."""
