"""The connector contract: plain data in, plain data out, two kinds of error.

A connector publishes one `PublishItem` to one target. It must be safe to call
again with the same item (the worker may die after the target accepted it), so
every connector uses `idempotency_key` to find or deduplicate an earlier post.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from apps.core.crypto import secret_decrypt
from apps.core.egress import egress_url_error
from apps.core.errors import DomainError
from apps.publishing.models import PublishingTarget


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


# Why a value is refused, or None when it is accepted.
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Setting:
    """One key of a target's public `config`."""

    name: str
    holds: str  # what the value is, in the words the admin's help shows
    # Run when the key is present (or missing but required); None: the connector reads
    # the value as given and refuses a bad one when it publishes.
    check: Check | None = None
    required: bool = False


def http_url(refusal: str) -> Check:
    return lambda value: (None if isinstance(value, str)
                          and value.startswith(("http://", "https://")) else refusal)


def boolean(refusal: str) -> Check:
    return lambda value: None if isinstance(value, bool) else refusal


def whole_number(low: int, high: int, refusal: str) -> Check:
    return lambda value: None if type(value) is int and low <= value <= high else refusal


def one_of(values: tuple[str, ...], refusal: str) -> Check:
    return lambda value: None if value in values else refusal


def site_url(kind: str) -> Setting:
    """The `url` of a CMS or social target: its site, where the workers send."""
    return Setting("url", "the site's http(s) URL", required=True, check=http_url(
        f"A {kind} target needs the site's http(s) 'url' in its config."))


def colon_pair(refusal: str) -> Check:
    """A secret of two parts joined by ':' (WordPress user and password, Ghost id and key)."""
    return lambda value: None if ":" in value else refusal


def config_url(config: Mapping[str, Any], secret: str) -> str:
    """Where a CMS, social or webhook target sends: its config's `url`."""
    return str(config.get("url", ""))


def secret_url(config: Mapping[str, Any], secret: str) -> str:
    """Where a chat target sends: its secret is the incoming-webhook URL."""
    return secret


def sends_nowhere(config: Mapping[str, Any], secret: str) -> str:
    return ""


@dataclass(frozen=True)
class TargetSchema:
    """What a kind of target holds: its config keys, its secret, and where the workers
    will send. `check` refuses, when the target is saved, what would only fail later
    as a failed publication."""

    settings: tuple[Setting, ...]
    secret: str = ""  # what the secret is, for the admin's help; "" when the kind has none
    secret_check: Check | None = None  # run on a secret sent (an empty one keeps the stored)
    secret_generate: Callable[[], str] | None = None  # a secret made when none is sent
    schedules: bool = False  # may hold a post until its time itself (`schedule_on_target`)
    sends_to: Callable[[Mapping[str, Any], str], str] = sends_nowhere

    def check(self, config: Mapping[str, Any], secret: str = "") -> None:
        """DomainError with the first refusal of `config` and `secret`."""
        if not isinstance(config, Mapping):  # the admin's JSON field takes any JSON
            raise DomainError("A target's config is a JSON object.")
        for setting in self.settings:
            # A required key that is missing is checked as empty.
            if setting.check is not None and (setting.name in config or setting.required):
                refuse(setting.check(config.get(setting.name, "")))
        if secret and self.secret_check is not None:
            refuse(self.secret_check(secret))
        self._schedule_check(config)
        # An address the egress policy refuses is an error now rather than a failed
        # publication later.
        url = self.sends_to(config, secret)
        if url and (refusal := egress_url_error(url)):
            raise DomainError(f"The workers may not send to this URL: {refusal}")

    def _schedule_check(self, config: Mapping[str, Any]) -> None:
        schedule_on_target = config.get("schedule_on_target", False)
        refuse(boolean("A target's 'schedule_on_target' is true or false.")(schedule_on_target))
        if schedule_on_target and not self.schedules:
            raise DomainError("Only WordPress and Ghost targets hold a post until its time "
                              "('schedule_on_target').")
        if schedule_on_target and config.get("status") == "draft":
            raise DomainError("A target with 'schedule_on_target' publishes: its 'status' "
                              "cannot be 'draft'.")

    def config_help(self) -> str:
        """The config keys as the admin's help lists them; `*` marks a required one."""
        settings = [*self.settings]
        if self.schedules:
            settings.append(Setting("schedule_on_target", "true|false"))
        return "{" + ", ".join(f'"{s.name}"{"*" if s.required else ""}: {s.holds}'
                               for s in settings) + "}"


def refuse(refusal: str | None) -> None:
    if refusal is not None:
        raise DomainError(refusal)


def target_secret(target: PublishingTarget) -> str:
    """The target's secret, decrypted for its connector; one the configured keys cannot
    decrypt fails the publication (replacing the secret or restoring the key cures it)."""
    try:
        return secret_decrypt(target.secret_encrypted)
    except DomainError as exc:
        raise PermanentPublishError(str(exc)) from exc


class Connector(Protocol):
    schema: ClassVar[TargetSchema]

    @classmethod
    def from_target(cls, target: PublishingTarget) -> Connector:
        """The connector for `target`, configured with its config and decrypted secret."""

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
