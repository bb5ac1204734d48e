"""HTTP for connectors: one client call, and the target's answer mapped to our errors.

Every remote connector sorts answers the same way: 2xx is success; 401/403,
and a 400 that says the token is bad (`token_refused`), mean the credentials
were refused (revoked, expired: retrying cannot help and the target is
paused); 408, 429 and 5xx are transient (retried with the target's
Retry-After if it sent one); any other 4xx is permanent, with the target's
own message for the editor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.utils import timezone

from apps.core.egress import egress_policy
from apps.publishing.connectors.base import (
    CredentialsRejected,
    PermanentPublishError,
    TransientPublishError,
)
from workers.egress import EgressRefused, egress_client

# Connecting fails fast (an unreachable host is retried later anyway); storing
# a post may take a CMS a while, so reading gets longer.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MESSAGE_MAX = 500  # characters of the target's own message kept for the editor


_deadline: ContextVar[float | None] = ContextVar("publish_attempt_deadline", default=None)


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[None]:
    """Every request sent inside ends within `seconds` from now, or fails as transient.

    Celery's thread pool (worker-io) enforces no task time limit, and a Mastodon
    thread of 20 parts at 35 s a request could outlast the stale threshold, after
    which the sweeper sends the publication again while this attempt still posts.
    """
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _within_deadline(timeout: httpx.Timeout) -> httpx.Timeout | None:
    """`timeout` cut to the time the attempt has left; None when there is no deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TransientPublishError("The attempt used up its time limit; it is retried later "
                                    "(looking the post up first).")

    def cut(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(connect=cut(timeout.connect), read=cut(timeout.read),
                         write=cut(timeout.write), pool=cut(timeout.pool))


@dataclass(frozen=True, kw_only=True)
class HttpConnector:
    """What every connector that talks to its target over HTTP shares: the timeouts of its
    requests (a test shortens them) and the client it sends them with. Subclasses keep their
    credentials out of the generated repr (`field(repr=False)`), so a connector in a log
    line or a traceback shows none."""

    # A factory, because dataclasses refuse an unhashable default (httpx.Timeout is one).
    timeout: httpx.Timeout = field(default_factory=lambda: TIMEOUT)

    def http_client(self, **options: Any) -> httpx.Client:
        """The client the connector talks to its target with (options as for httpx.Client):
        every request passes the deployment's egress policy (workers/egress.py)."""
        return egress_client(egress_policy(), timeout=self.timeout, **options)


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; a timeout or a dropped connection is transient (the outcome is unknown,
    so the next attempt looks the post up before creating it); an address the egress policy
    refuses is permanent (the target's URL must change, or the operator's policy)."""
    bounded = _within_deadline(client.timeout)
    if bounded is not None:
        kwargs["timeout"] = bounded
    try:
        return client.request(method, url, **kwargs)
    except EgressRefused as exc:
        raise PermanentPublishError(f"The target may not be reached from the workers: {exc}") \
            from exc
    except httpx.TimeoutException as exc:
        raise TransientPublishError(
            f"The target did not answer in time ({type(exc).__name__})."
        ) from exc
    except httpx.TransportError as exc:
        raise TransientPublishError(f"The target could not be reached: {exc}.") from exc


def checked(response: httpx.Response, *, doing: str) -> httpx.Response:
    """`response` if it is a 2xx, else the matching PublishError (see the module doc)."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    message = target_message(response)
    if status in (401, 403) or token_refused(response):
        raise CredentialsRejected(
            f"The target refused our credentials while {doing} (HTTP {status}): {message}",
            status=status,
        )
    if status in (408, 429) or status >= 500:
        raise TransientPublishError(
            f"The target answered HTTP {status} while {doing}: {message}", status=status,
            retry_after=retry_after_s(response.headers.get("retry-after")),
        )
    raise PermanentPublishError(
        f"The target refused {doing} (HTTP {status}): {message}", status=status
    )


# OAuth 2.0's error codes for a bad token or grant (RFC 6749 5.2, RFC 6750 3.1): a server
# may answer them with a 400 (Mastodon and its kin do for a revoked token).
TOKEN_ERRORS = frozenset({"invalid_token", "invalid_grant", "invalid_client",
                          "unauthorized_client"})
TOKEN_WORDS = ("token is invalid", "token was revoked", "token is expired", "token has expired",
               "invalid access token", "invalid token")


def token_refused(response: httpx.Response) -> bool:
    """A 400 that says the token itself is bad (an OAuth error code in the body or in
    WWW-Authenticate, or the server's words), which pauses the target like a 401."""
    if response.status_code != 400:
        return False
    data = response_json(response)
    challenge = response.headers.get("www-authenticate", "")
    if str(data.get("error", "")).lower() in TOKEN_ERRORS or any(
            f'error="{code}"' in challenge.lower() for code in TOKEN_ERRORS):
        return True
    return any(words in target_message(response).lower() for words in TOKEN_WORDS)


def response_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def target_message(response: httpx.Response) -> str:
    """The target's own words: a JSON message/error/detail/title (or Ghost's
    `errors[0].message`), else its text."""
    if response.is_redirect:
        return f"redirected to {response.headers.get('location', '?')}; update the target's URL."
    data = response_json(response)
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        data = errors[0]
    for name in ("message", "error", "detail", "title"):
        value = data.get(name)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            return value.strip()[:MESSAGE_MAX]
    return response.text.strip()[:MESSAGE_MAX] or response.reason_phrase


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def base_url(value: object) -> str:
    """A target's configured site URL without a trailing slash, or PermanentPublishError."""
    url = str(value or "").rstrip("/")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise PermanentPublishError(f"The target URL is invalid: {exc}.") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise PermanentPublishError("The target needs an http(s) 'url' with a host.")
    return url
