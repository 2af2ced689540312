"""Rate limiters: count hits per key in a fixed window.

In-process counters for the embedded default; Redis when configured, so that every process
and node shares one count. Used for failed logins, the API's tiers and uploads per account
(a count and a number of bytes: a hit may weigh more than one).

``reserve`` checks the limit and counts in one atomic step. Checking first and counting
after some awaited work (a bcrypt check) lets every request that arrives meanwhile pass
the check: forty guesses sent at once were all tried (#12).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sns.redis_store import RedisKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class Count:
    """How many hits a key has in its current window, and seconds until the window ends."""

    hits: int
    reset_in: int


@dataclass(frozen=True)
class Reservation:
    """The answer to ``reserve``: whether a place was taken, and the count after it."""

    granted: bool
    count: Count


class RateLimiter(Protocol):
    async def hit(self, key: str, window: int, amount: int = 1) -> Count:
        """Count ``amount`` more hits for ``key``; a new window starts at the first hit."""

    async def peek(self, key: str) -> Count:
        """The count so far, without adding to it."""

    async def reserve(self, key: str, limit: int, window: int, amount: int = 1) -> Reservation:
        """Atomically: count ``amount`` more unless that would take ``key`` past ``limit``.

        Refused, nothing is counted. A new window starts at the first hit.
        """

    async def release(self, key: str, amount: int = 1) -> None:
        """Give back what was reserved (never below zero; a key that is gone stays gone)."""

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

    async def hit(self, key: str, window: int, amount: int = 1) -> Count:
        now = self._clock()
        if len(self._windows) > 100_000:
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        entry = self._current(key)
        hits, ends = (entry[0] + amount, entry[1]) if entry else (amount, now + window)
        self._windows[key] = (hits, ends)
        return Count(hits, max(1, round(ends - now)))

    async def peek(self, key: str) -> Count:
        entry = self._current(key)
        if entry is None:
            return Count(0, 0)
        return Count(entry[0], max(1, round(entry[1] - self._clock())))

    async def reserve(self, key: str, limit: int, window: int, amount: int = 1) -> Reservation:
        # Atomic because nothing here awaits: no other task runs in between.
        count = await self.peek(key)
        if count.hits + amount > limit:
            return Reservation(False, count)
        return Reservation(True, await self.hit(key, window, amount))

    async def release(self, key: str, amount: int = 1) -> None:
        entry = self._current(key)
        if entry is None:
            return
        if entry[0] <= amount:
            del self._windows[key]
        else:
            self._windows[key] = (entry[0] - amount, entry[1])

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)


# KEYS[1]: the counter; ARGV[1]: the limit; ARGV[2]: the window in seconds; ARGV[3]: the
# amount. Returns {granted (0|1), hits, ttl}. A counter found without expiry gets one, so
# that no key can refuse logins for ever.
_RESERVE = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
local granted = 0
if hits + tonumber(ARGV[3]) <= tonumber(ARGV[1]) then
    hits = redis.call('INCRBY', KEYS[1], ARGV[3])
    granted = 1
end
local ttl = redis.call('TTL', KEYS[1])
if hits > 0 and ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
end
return {granted, hits, ttl}
"""

# KEYS[1]: the counter; ARGV[1]: the amount. That much less, and no key at all once it
# reaches zero.
_RELEASE = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if hits > amount then
    redis.call('DECRBY', KEYS[1], amount)
elseif hits > 0 then
    redis.call('DEL', KEYS[1])
end
return hits
"""


class RedisRateLimiter:
    """Counters in Redis, shared by all processes: INCR + EXPIRE NX in one round trip,
    and ``reserve``/``release`` as Lua scripts, which Redis runs atomically."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    async def hit(self, key: str, window: int, amount: int = 1) -> Count:
        name = self.keys.rate(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, amount)
            pipe.expire(name, window, nx=True)
            pipe.ttl(name)
            hits, _, ttl = await pipe.execute()
        return Count(int(hits), max(1, int(ttl)))

    async def peek(self, key: str) -> Count:
        name = self.keys.rate(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.ttl(name)
            hits, ttl = await pipe.execute()
        if hits is None:
            return Count(0, 0)
        return Count(int(hits), max(1, int(ttl)))

    async def reserve(self, key: str, limit: int, window: int, amount: int = 1) -> Reservation:
        granted, hits, ttl = await self._reserve(
            keys=[self.keys.rate(key)], args=[limit, window, amount]
        )
        return Reservation(bool(granted), Count(int(hits), max(1, int(ttl))))

    async def release(self, key: str, amount: int = 1) -> None:
        await self._release(keys=[self.keys.rate(key)], args=[amount])

    async def clear(self, key: str) -> None:
        await self.redis.delete(self.keys.rate(key))
