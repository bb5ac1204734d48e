"""The connector contract: plain data in, plain data out, two kinds of error.

A connector publishes one `PublishItem` to one target. It must be safe to call
again with the same item (the worker may die after the target accepted it), so
every connector uses `idempotency_key` to find or deduplicate an earlier post.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


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
    scheduled_at: datetime | None = None  # the planned time (a CMS may hold the post until then)


@dataclass(frozen=True)
class PublishResult:
    external_id: str  # the target's id for the post (at most 500 characters)
    external_url: str = ""
    # Set when the target holds the post and publishes it itself at this time
    # (WordPress "future", Ghost "scheduled"); None: the post is live now.
    scheduled_for: datetime | None = None


@dataclass(frozen=True)
class RemotePost:
    """A post already on a CMS, read back (to import a site's archive as training data)."""

    external_id: str
    title: str
    html: str
    url: str = ""


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


class CredentialsRejected(PermanentPublishError):
    """The target refused our credentials (401/403): revoked or expired, not transient.

    The target is paused until an editor replaces its secret.
    """


@dataclass(frozen=True)
class Engagement:
    """Reactions to a post, as the target counts them; None where it has no such count."""

    likes: int | None = None  # favourites (Mastodon)
    shares: int | None = None  # boosts
    replies: int | None = None  # replies (Mastodon), comments (WordPress)
    clicks: int | None = None  # members who clicked a link in the newsletter email (Ghost)
    signups: int | None = None  # members who signed up from the post (Ghost)
    paid_conversions: int | None = None  # paid subscriptions started from the post (Ghost)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Preview:
    """What a target would show: HTML for a CMS, text parts (a thread) for social posts."""

    format: str  # "html" | "text" | "markdown" | "json"
    title: str
    parts: tuple[str, ...]
    warnings: tuple[str, ...] = ()


class Connector(Protocol):
    def validate(self) -> None:
        """Raise PermanentPublishError (CredentialsRejected for bad credentials) if the
        target cannot work; remote connectors make one authenticated request."""

    def publish(self, item: PublishItem) -> PublishResult:
        """Publish `item` once (idempotent by `item.idempotency_key`)."""

    def update(self, external_id: str, item: PublishItem) -> PublishResult:
        """Replace the post `external_id` (from `publish`) with `item`'s title and text,
        in place: the same post, never a second one. Safe to repeat. A target that
        cannot edit raises PermanentPublishError."""

    def preview(self, item: PublishItem) -> Preview:
        """`item` formatted as this target would receive it; no network."""


@runtime_checkable
class CheckableConnector(Connector, Protocol):
    """A target whose `validate` makes no request (it runs before every post), but whose
    "test connection" can: a signed webhook target is sent a `ping` event."""

    def check(self) -> None:
        """`validate`, then one authenticated request that creates nothing."""


@runtime_checkable
class WithdrawableConnector(Connector, Protocol):
    """A target whose posts can be taken down again (a CMS, a social account, a folder)."""

    def unpublish(self, external_id: str) -> None:
        """Withdraw the post (trash, delete); a post already gone is not an error."""


@runtime_checkable
class RemoteConnector(WithdrawableConnector, Protocol):
    """A CMS or social account: the post can be withdrawn and measured."""

    def engagement(self, external_id: str) -> Engagement:
        """Current reactions to the post."""


@runtime_checkable
class ArchiveConnector(Connector, Protocol):
    """A CMS whose existing posts can be read back (WordPress, Ghost)."""

    def list_posts(self, limit: int) -> list[RemotePost]:
        """The published posts, newest first, at most `limit`."""
