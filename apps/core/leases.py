"""Dispatch leases: a work item whose message was sent holds a lease while it may still be
waiting in the broker; nobody sends it another until the lease runs out.

Leases live in the shared cache with a time to live, so a lost message (a broker that
restarted empty, a worker killed before it acknowledged) is sent again after a bounded time.
A duplicate is safe (every claim is an atomic state update); a lost message is not, so on a
cache outage every item counts as unleased.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def leases_take(*, kind: str, ids: Iterable[int], seconds: float) -> list[int]:
    """The ids whose `kind` lease this call took for `seconds`: none of them held a live one."""
    ids = list(ids)
    try:
        return [pk for pk in ids if cache.add(f"lease:{kind}:{pk}", 1, timeout=seconds)]
    except RedisError as exc:
        logger.warning("dispatch leases unavailable (%s: %s): sending %d %s messages anyway",
                       type(exc).__name__, exc, len(ids), kind)
        return ids


def leases_hold(*, kind: str, ids: Iterable[int], seconds: float) -> None:
    """Take or renew the ids' `kind` leases for `seconds`, whoever held them: a message was
    just sent for each."""
    try:
        cache.set_many({f"lease:{kind}:{pk}": 1 for pk in ids}, timeout=seconds)
    except RedisError as exc:
        logger.warning("dispatch leases unavailable (%s: %s)", type(exc).__name__, exc)
