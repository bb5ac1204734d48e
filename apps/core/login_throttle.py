"""Where the login throttle (django-axes, see settings) keeps its counts: the shared cache.

While the cache is unreachable, logins go unthrottled, with a warning in the log, rather than
every login answering a 500; the API throttles fail open the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.handlers.cache import AxesCacheHandler
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _unthrottled(exc: RedisError) -> None:
    logger.warning("The login throttle is off: its cache is unreachable (%s: %s)",
                   type(exc).__name__, exc)


class FailOpenCacheHandler(AxesCacheHandler):
    """axes' cache handler, counting no failure and locking no one out while Redis is down."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        try:
            failures: int = super().get_failures(request, credentials)
            return failures
        except RedisError as exc:
            _unthrottled(exc)
            return 0

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None,
                          **kwargs: Any) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except RedisError as exc:
            _unthrottled(exc)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        try:
            super().user_logged_in(sender, request, user, **kwargs)
        except RedisError as exc:
            _unthrottled(exc)
