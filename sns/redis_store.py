"""The process's Redis: one client, one bounded pool, and the one place that names keys.

Every key this program writes is ``RedisKeys(prefix).name(...)``: sessions, rate-limit
counters (failed logins, API quotas), the site version. Two deployments with different
``SNS_REDIS_PREFIX`` can share one Redis without sharing any of them.

The pool blocks instead of failing: a burst of requests larger than the pool waits for a
connection (at most ``SNS_REDIS_TIMEOUT``) rather than getting ``MaxConnectionsError``
(#17: 196 of 300 simultaneous requests to a fresh process were 503s). A command whose
pooled connection turns out dead (Redis restarted since it was last used) is sent once
more on a new connection; a timeout is not retried, so an outage still costs one timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

POOL_MAX = 32
"""Redis connections one process keeps at most: its share of the descriptors that the
connection cap leaves aside (``serving.http.FD_RESERVE``), with the database's pool
and the log files. A Redis round trip is short; a queue of requests waits its turn."""

DEFAULT_PREFIX = "sns:"


def pool_size(connection_cap: int) -> int:
    """Redis connections for a process serving at most ``connection_cap`` connections at
    once: never more than could be used at the same time, and at most ``POOL_MAX``."""
    return max(1, min(connection_cap, POOL_MAX))


@dataclass(frozen=True)
class RedisKeys:
    """Names of keys in Redis, all under one prefix (``SNS_REDIS_PREFIX``)."""

    prefix: str = DEFAULT_PREFIX

    def name(self, *parts: str) -> str:
        """``prefix`` + the parts joined by ``:``, e.g. ``sns:session:<hash>``."""
        return self.prefix + ":".join(parts)

    @property
    def site_version(self) -> str:
        return self.name("site-version")

    def session(self, key: str) -> str:
        return self.name("session", key)

    def rate(self, key: str) -> str:
        return self.name("rate", key)


def connect(url: str, *, timeout: float, max_connections: int) -> Redis:
    """A client on a blocking pool of at most ``max_connections`` (see the module).

    The Redis client is imported here, not with the module: the embedded default (no
    Redis) never loads it.
    """
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        decode_responses=True,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


STARTED_VERSION = """
local function version_of(key)
  local version = redis.call('GET', key)
  if version then
    return version
  end
  local now = redis.call('TIME')
  version = string.format('%.0f', now[1] * 1000000 + now[2])
  redis.call('SET', key, version)
  return version
end
"""
"""A site version that never goes back: a counter that, when missing (a new Redis, or one
that lost its data), starts at the time in microseconds, above anything it counted before
(a write a microsecond, for ever, would be needed to catch up). So a process may take a
smaller version than its caches' for a read that began before the newest write, and leave
its caches alone (``VersionedCache.get``)."""
