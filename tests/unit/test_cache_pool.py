"""The shared cache's connection pool (settings.CACHES) waits for a free connection: more
requests at once than its connections (throttles, dispatch leases) must not fail open."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from redis.exceptions import MaxConnectionsError

HELD_S = 0.5


def _one_connection(*, blocking: bool) -> dict[str, Any]:
    default = settings.CACHES["default"]
    options = {**default["OPTIONS"], "max_connections": 1}
    if not blocking:  # redis-py's own pool, which takes no `timeout`
        options = {k: v for k, v in options.items() if k not in ("pool_class", "timeout")}
    return {"default": {**default, "OPTIONS": options}}


def _while_the_connection_is_held(call: Any) -> Any:
    """`call` on the cache while another thread's blocking read holds the pool's one
    connection for HELD_S."""
    cache = caches["default"]
    holder = threading.Thread(target=cache._cache.get_client(write=True).blpop,
                              args=(["aigc-test-held"],), kwargs={"timeout": HELD_S})
    holder.start()
    time.sleep(0.1)  # it has the connection now
    try:
        return call(cache)
    finally:
        holder.join()


def test_a_request_waits_for_the_pools_connection_instead_of_failing():
    # redis-py's own pool refuses the second user at once: the failure the setting mends
    with override_settings(CACHES=_one_connection(blocking=False)):
        with pytest.raises(MaxConnectionsError):
            _while_the_connection_is_held(lambda cache: cache.get("aigc-test-key"))
    # the platform's waits for the connection to come back, then answers
    with override_settings(CACHES=_one_connection(blocking=True)):
        started = time.monotonic()
        assert _while_the_connection_is_held(
            lambda cache: cache.add("aigc-test-key", 1, timeout=5)) is True
        assert time.monotonic() - started >= HELD_S - 0.15
        caches["default"].delete("aigc-test-key")
