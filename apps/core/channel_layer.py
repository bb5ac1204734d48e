"""The channel layer (settings.CHANNEL_LAYERS): channels_redis's, with two mends.

- Its connection pool waits for a free connection. redis-py's default pool raises "Too
  many connections" once its 100 are in use, and a burst of sockets (every dashboard
  reconnecting after a deploy: bench/websocket_fanout.py at 1,000 clients) takes more at
  once; the sockets over the count crashed in their consumers.
- A receive cancelled while it waits for the channel's receive lock (a socket refused or
  closed meanwhile) is taken off the lock's count of waiters. channels_redis counts a waiter
  before it waits and never uncounts a cancelled one, so the lock was never deleted: it
  stayed bound to the event loop it first ran on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels_redis.core import ChannelLock
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from redis.asyncio import BlockingConnectionPool


class _CountedChannelLock(ChannelLock):
    async def acquire(self, channel: str) -> bool:
        try:
            return bool(await super().acquire(channel))
        except asyncio.CancelledError:
            # Not holding it (asyncio.Lock hands a cancelled waiter's turn on): uncount,
            # and delete the lock with its last waiter as `release` does.
            self.wait_counts[channel] -= 1
            if self.wait_counts[channel] < 1:
                del self.locks[channel]
                del self.wait_counts[channel]
            raise


class RedisChannelLayer(BaseRedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.receive_clean_locks = _CountedChannelLock()

    def create_pool(self, index: int) -> Any:
        """A pool that waits for a free connection to the server settings name by URL, with
        its `max_connections` and `timeout` from the host's entry."""
        host = dict(self.hosts[index])
        return BlockingConnectionPool.from_url(host.pop("address"), **host)
