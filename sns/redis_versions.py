"""The site version in Redis, read for many requests at once.

Every kept page needs the site version (and a logged-in one its session and its reader's
version) before it can be served: one round trip to Redis per request was a quarter of a
process's time serving kept pages (py-spy, #22: redis-py's own work for each command, not
the wait). Requests that ask while a round trip is on its way wait for the next one, which
carries all of them: one script reads the version and every waiting session. Each read is
sent after its request asked, so a request never sees a version older than a write that
finished before it arrived, on any process: the same guarantee as a round trip of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Protocol

from sns.redis_store import STARTED_VERSION, RedisKeys
from sns.sessions import RedisSessionStore, SessionData, SessionStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("sns.pagecache")

VERSION_AND_SESSIONS = (
    STARTED_VERSION
    + """
local out = {version_of(KEYS[1]), false}
for i = 3, #KEYS do
  local session = redis.call('GETEX', KEYS[i], 'EX', ARGV[1])
  local reader = false
  if session and ARGV[2] ~= '' then
    local ok, data = pcall(cjson.decode, session)
    if ok and type(data) == 'table' and type(data['user_id']) == 'number' then
      reader = version_of(ARGV[2] .. string.format('%d', data['user_id']))
      out[2] = version_of(KEYS[2])
    end
  end
  out[#out + 1] = session
  out[#out + 1] = reader
end
return out
"""
)
"""The site version, then everyone's readers' version (nil unless some session has a
user), then for each session key its record (its expiry pushed forward; nil when missing)
and, when readers' versions are kept (``sns.reader_versions``), its reader's version. (The
readers' keys are made from the sessions, so they are not among ``KEYS``: one Redis, not a
cluster.)"""

BUMP_VERSION = STARTED_VERSION + "version_of(KEYS[1])\nreturn redis.call('INCR', KEYS[1])"


class ReaderKeys(Protocol):
    """Where readers' versions live in Redis (``sns.reader_versions.RedisReaderVersions``)."""

    everyone_key: str

    def key_of(self, user_id: int | str) -> str: ...


Reading = tuple[int, Any, Hashable]
"""What one request gets: the site version, its session's raw record, its reader's version."""


class RoundTrips:
    """Requests waiting for one round trip that answers them all (see the module).

    ``send`` takes the distinct session keys of a batch (maybe none) and returns the
    script's reply. Only one round trip is on its way at a time; whoever asks meanwhile
    waits for the next, sent as soon as the one on its way is back."""

    def __init__(self, send: Callable[[list[str]], Awaitable[list[Any]]]) -> None:
        self.send = send
        self._waiting: list[tuple[str | None, asyncio.Future[Reading]]] = []
        self._sender: asyncio.Task[None] | None = None
        self.trips = 0
        """Round trips sent (the tests count them)."""

    async def read(self, session_key: str | None) -> Reading:
        future: asyncio.Future[Reading] = asyncio.get_running_loop().create_future()
        self._waiting.append((session_key, future))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send_while_waited_for())
        return await future

    async def _send_while_waited_for(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._answer(batch)
        finally:
            self._sender = None

    async def _answer(self, batch: list[tuple[str | None, asyncio.Future[Reading]]]) -> None:
        keys = list(dict.fromkeys(key for key, _ in batch if key is not None))
        self.trips += 1
        try:
            reply = await self.send(keys)
        except Exception as exc:  # each waiter raises it, as its own round trip would
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        version, everyone = int(reply[0]), reply[1]
        sessions = {key: (reply[2 + 2 * n], reply[3 + 2 * n]) for n, key in enumerate(keys)}
        for key, future in batch:
            if future.done():  # its request went away
                continue
            raw, reader = sessions[key] if key is not None else (None, None)
            reader_version = (int(everyone), int(reader)) if reader is not None else None
            future.set_result((version, raw, reader_version))


class RedisSiteVersion:
    """A counter in Redis, shared by every process and node that uses the same Redis."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.key = keys.site_version
        self._script = redis.register_script(VERSION_AND_SESSIONS)
        self._bump = redis.register_script(BUMP_VERSION)
        self._trips: dict[tuple[int, str, str], RoundTrips] = {}

    def round_trips(self, ttl: int = 0, readers: ReaderKeys | None = None) -> RoundTrips:
        """The batches for sessions of this ``ttl`` and readers' keys (one of each in a
        process: one batch)."""
        everyone_key = readers.everyone_key if readers is not None else self.key
        prefix = readers.key_of("") if readers is not None else ""
        frame = (ttl, prefix, everyone_key)
        trips = self._trips.get(frame)
        if trips is None:

            async def send(session_keys: list[str]) -> list[Any]:
                return await self._script(  # type: ignore[no-any-return]
                    keys=[self.key, everyone_key, *session_keys], args=[ttl, prefix]
                )

            trips = self._trips[frame] = RoundTrips(send)
        return trips

    async def current(self) -> int | None:
        version, _, _ = await self.round_trips().read(None)
        return version

    async def bump(self) -> None:
        """A failed bump is logged, not raised: the write is stored, and entries age out."""
        try:
            await self._bump(keys=[self.key])
        except Exception as exc:
            log.warning("could not move the site version on: %s", exc)

    async def current_with_session(
        self, sessions: SessionStore, session_id: str, readers: ReaderKeys | None = None
    ) -> tuple[int | None, SessionData | None, Hashable]:
        """The version, a session record and its reader's version (None without
        ``readers``), in the batch's one round trip when they all live in this Redis."""
        if not isinstance(sessions, RedisSessionStore) or sessions.redis is not self.redis:
            return await self.current(), await sessions.get(session_id), None
        trips = self.round_trips(sessions.ttl, readers)
        version, raw, reader_version = await trips.read(sessions.key_of(session_id))
        return version, sessions.decode(raw), reader_version
