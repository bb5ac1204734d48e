"""The channel layer's two mends (apps.core.channel_layer), on the tests' own Redis or Valkey:
a burst larger than the connection pool waits instead of failing, and a receive cancelled
while it waits for the channel's lock leaves no lock behind."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from django.conf import settings
from redis.exceptions import MaxConnectionsError

from apps.core.channel_layer import RedisChannelLayer

SOCKETS = 60  # group joins at once, over a pool of 4 connections


def _host(**pool: int) -> dict[str, object]:
    return {**settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0], **pool}


async def _burst(layer: BaseRedisChannelLayer) -> None:
    channels = [await layer.new_channel() for _ in range(SOCKETS)]
    try:
        await asyncio.gather(*(layer.group_add("burst", c) for c in channels))
    finally:
        await layer.close_pools()


async def _flush(prefix: str) -> None:
    layer = RedisChannelLayer(hosts=[_host()], prefix=prefix)
    await layer.flush()
    await layer.close_pools()


def test_the_platform_uses_the_mended_layer():
    assert type(get_channel_layer()) is RedisChannelLayer


def test_a_burst_larger_than_the_pool_waits_for_connections():
    # channels_redis's own pool refuses the burst: the failure this layer mends
    plain = BaseRedisChannelLayer(hosts=[{k: v for k, v in _host(max_connections=4).items()
                                          if k != "timeout"}], prefix="burst-plain")
    with pytest.raises(MaxConnectionsError):
        asyncio.run(_burst(plain))
    asyncio.run(_flush("burst-plain"))
    # the platform's waits its turn: every socket joins
    layer = RedisChannelLayer(hosts=[_host(max_connections=4, timeout=10)], prefix="burst")
    try:
        asyncio.run(_burst(layer))
    finally:
        asyncio.run(_flush("burst"))


def test_a_receive_cancelled_while_waiting_for_the_lock_leaves_none_behind():
    locks = RedisChannelLayer(hosts=[_host()]).receive_clean_locks

    async def cancel_a_waiter() -> None:
        await locks.acquire("socket!")
        waiter = asyncio.ensure_future(locks.acquire("socket!"))
        await asyncio.sleep(0)  # it waits on the held lock
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        locks.release("socket!")

    asyncio.run(cancel_a_waiter())
    # nothing is left to bind the next socket's receive to this test's event loop
    assert (dict(locks.locks), dict(locks.wait_counts)) == ({}, {})
