"""Rate limiters: count hits per key in a fixed window.

In-process counters for the embedded default; Redis when configured, so that every process
and node shares one count. Used for failed logins now, and for the API's tiers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class Count:
    """How many hits a key has in its current window, and seconds until the window ends."""

    hits: int
    reset_in: int


class RateLimiter(Protocol):
    async def hit(self, key: str, window: int) -> Count:
        """Count one more hit for ``key``; a new window starts at the first hit."""

    async def peek(self, key: str) -> Count:
        """The count so far, without adding to it."""

    async def clear(self, key: str) -> None:
        """Forget the key (a successful login clears its failures)."""


class MemoryRateLimiter:
    """Counters in this process's memory: right for one process, not shared."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}

    def _current(self, key: str) -> tuple[int, float] | None:
        entry = self._windows.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._windows[key]
            return None
        return entry

    async def hit(self, key: str, window: int) -> Count:
        now = self._clock()
        if len(self._windows) > 100_000:
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        entry = self._current(key)
        hits, ends = (entry[0] + 1, entry[1]) if entry else (1, now + window)
        self._windows[key] = (hits, ends)
        return Count(hits, max(1, round(ends - now)))

    async def peek(self, key: str) -> Count:
        entry = self._current(key)
        if entry is None:
            return Count(0, 0)
        return Count(entry[0], max(1, round(entry[1] - self._clock())))

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    """Counters in Redis (INCR + EXPIRE NX in one round trip), shared by all processes."""

    PREFIX = "sns:rate:"

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def hit(self, key: str, window: int) -> Count:
        name = self.PREFIX + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
            hits, _, ttl = await pipe.execute()
        return Count(int(hits), max(1, int(ttl)))

    async def peek(self, key: str) -> Count:
        name = self.PREFIX + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.ttl(name)
            hits, ttl = await pipe.execute()
        if hits is None:
            return Count(0, 0)
        return Count(int(hits), max(1, int(ttl)))

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.PREFIX + key)
