"""Live updates (#20): the sockets a process holds, and the bus that reaches every process.

A page keeps one WebSocket open (``handlers.live``); this module is what is behind it and
knows nothing of Tornado. ``LiveHub`` holds this process's sockets by user id and hands an
event to the ones it concerns; a ``LiveBus`` carries events to the hub of every process:

- ``RedisLiveBus``: one pub/sub subscription per process (never one per socket), which
  comes back by itself after a Redis outage; used whenever ``SNS_REDIS_URL`` is set.
- ``SqliteLiveBus``: the processes serving one SQLite file write events to the
  ``live_events`` table and each reads the rows past the last it saw, only when the file's
  ``PRAGMA data_version`` moved (a few microseconds to ask, no table touched).
- ``MemoryLiveBus``: one process alone: straight to its own hub.

Two kinds of event travel: ``{"kind": "user", "user": id, "message": {...}}`` for
``publish_user`` (what the notifications send: ``{"type": "unread", "count": n}``), and
``{"kind": "post", "post": id, "author": id, "tags": [...]}`` for every new post, which each
socket counts if the post belongs to the timeline its page shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, insert

from sns.db import Database, new_id, utcnow
from sns.schema import live_events

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("sns.live")

Event = dict[str, Any]
Deliver = Callable[[Event], None]

GOING_AWAY = 1001  # RFC 6455: the server is going down; the page connects again
REPLACED = 4001  # this person opened more pages than SNS_LIVE_PER_USER: the oldest gives way

SQLITE_POLL = 0.02  # seconds between two looks at the SQLite file's data_version
SQLITE_KEEP = 1000  # newest rows of live_events kept, and ...
SQLITE_KEEP_SECONDS = 60.0  # ... any younger than this: room for a process that lags behind
SQLITE_PRUNE_EVERY = 100  # a publish whose id is a multiple of this prunes the older rows
REDIS_IDLE = 5.0  # seconds without a message before the subscription is pinged
REDIS_DEAD = 15.0  # seconds without any answer (not even a pong) before it is made afresh
RETRY_FIRST, RETRY_MAX = 0.2, 5.0  # seconds between tries to subscribe again


class LiveBus(Protocol):
    """Carries an event to the hub of every process (this one included)."""

    async def start(self, deliver: Deliver) -> None:
        """From now on, hand every event published anywhere to ``deliver``."""

    async def publish(self, event: Event) -> None:
        """Send an event to every process; a failure is logged, never raised."""

    async def close(self) -> None:
        """Stop listening and let go of what the bus holds."""


class MemoryLiveBus:
    """One process alone (the embedded default without ``--processes``): no travel at all."""

    def __init__(self) -> None:
        self.deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver

    async def publish(self, event: Event) -> None:
        if self.deliver is not None:
            self.deliver(event)

    async def close(self) -> None:
        self.deliver = None


class RedisLiveBus:
    """One Redis channel; one subscription per process, on a connection of its own.

    The subscription has no read timeout (it waits for messages by design), so a quiet
    channel is pinged every ``REDIS_IDLE`` seconds, and one that answers nothing for
    ``REDIS_DEAD`` seconds, or fails, is made afresh after a growing pause: events sent
    while Redis was away are lost, later ones arrive again.
    """

    def __init__(self, redis: Redis, url: str, channel: str, *, timeout: float) -> None:
        self.redis = redis
        self.url = url
        self.channel = channel
        self.timeout = timeout
        self.task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self, deliver: Deliver) -> None:
        self.task = asyncio.create_task(self._listen(deliver))
        try:  # the first subscription, so that what is published from now on arrives
            await asyncio.wait_for(self.subscribed.wait(), self.timeout)
        except TimeoutError:
            log.warning("live: Redis subscription not ready yet; trying on")

    async def publish(self, event: Event) -> None:
        try:
            await self.redis.publish(self.channel, json.dumps(event))
        except Exception as exc:
            log.warning("live: could not publish to Redis: %s", exc)

    async def _listen(self, deliver: Deliver) -> None:
        from redis.asyncio import Redis

        pause = RETRY_FIRST
        while True:
            client = Redis.from_url(
                self.url, decode_responses=True, socket_connect_timeout=self.timeout
            )
            # Every answer counts as a sign of life (subscribe and pong too), so none is
            # ignored: an ignored pong returns None at once, as an idle timeout does.
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                pause = RETRY_FIRST
                heard = pinged = time.monotonic()
                while True:
                    message = await pubsub.get_message(timeout=REDIS_IDLE)
                    now = time.monotonic()
                    if message is not None:
                        heard = now
                        if message.get("type") == "message":
                            _hand_over(deliver, message["data"])
                    elif now - heard > REDIS_DEAD:
                        raise ConnectionError("no answer from Redis")
                    elif now - pinged >= REDIS_IDLE:
                        await pubsub.ping()
                        pinged = now
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                log.warning("live: Redis subscription lost (%s); again in %.1f s", exc, pause)
            finally:
                await _quietly(pubsub.aclose())  # type: ignore[no-untyped-call]
                await _quietly(client.aclose())
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, RETRY_MAX)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class SqliteLiveBus:
    """The processes of one SQLite file, through the ``live_events`` table.

    SQLite runs one write at a time, so ids are handed out in the order of the commits and
    "the rows past the last id I saw" misses nothing. The table is read only when the
    file's ``data_version`` moved, on a connection that only ever reads (in WAL mode a
    read never waits for a writer), and every ``SQLITE_PRUNE_EVERY``-th event prunes the
    rows that are both older than ``SQLITE_KEEP_SECONDS`` and not among the newest
    ``SQLITE_KEEP``: a process that stalls for less than that misses nothing.
    """

    def __init__(self, db: Database, path: str, *, poll: float = SQLITE_POLL) -> None:
        self.db = db
        self.path = path
        self.poll = poll
        self.connection: sqlite3.Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.last = 0

    async def start(self, deliver: Deliver) -> None:
        self.connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=1
        )
        self.connection.execute("PRAGMA query_only=ON")
        version = self._data_version()
        self.last = self.connection.execute(
            "SELECT coalesce(max(id), 0) FROM live_events"
        ).fetchone()[0]
        self.task = asyncio.create_task(self._watch(deliver, version))

    def _data_version(self) -> int:
        assert self.connection is not None
        return int(self.connection.execute("PRAGMA data_version").fetchone()[0])

    async def _watch(self, deliver: Deliver, version: int) -> None:
        assert self.connection is not None
        while True:
            await asyncio.sleep(self.poll)
            try:
                now = self._data_version()
                if now == version:
                    continue
                version = now
                rows = self.connection.execute(
                    "SELECT id, payload FROM live_events WHERE id > ? ORDER BY id", (self.last,)
                ).fetchall()
            except sqlite3.Error as exc:
                log.warning("live: could not read live_events: %s", exc)
                continue
            for event_id, payload in rows:
                self.last = event_id
                _hand_over(deliver, payload)

    async def publish(self, event: Event) -> None:
        try:
            async with self.db.transaction() as conn:
                result = await conn.execute(
                    insert(live_events).values(payload=json.dumps(event), created_at=utcnow())
                )
                event_id = new_id(result)
                if event_id % SQLITE_PRUNE_EVERY == 0:
                    await conn.execute(
                        delete(live_events).where(
                            live_events.c.id <= event_id - SQLITE_KEEP,
                            live_events.c.created_at
                            < utcnow() - timedelta(seconds=SQLITE_KEEP_SECONDS),
                        )
                    )
        except Exception as exc:
            log.warning("live: could not write live_events: %s", exc)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _hand_over(deliver: Deliver, payload: str) -> None:
    try:
        event = json.loads(payload)
    except ValueError:
        log.warning("live: an event that is not JSON was dropped")
        return
    if isinstance(event, dict):
        deliver(event)


async def _quietly(closing: Any) -> None:
    try:
        await closing
    except Exception as exc:
        log.debug("live: while closing: %s", exc)


# -- timelines --------------------------------------------------------------------------

HOME, FOLLOWING, HASHTAG = "home", "following", "hashtag"


@dataclass(frozen=True, slots=True)
class Timeline:
    """The list a page shows, as far as new posts go: every post (``/``), the posts of
    ``authors`` (``/following``: those the reader follows and the reader), or those
    carrying ``tag`` (``/hashtag``); ``after`` is the newest post the page already has."""

    kind: str = ""
    tag: str = ""
    authors: frozenset[int] = frozenset()
    after: int = 0

    def shows(self, reader: int, event: Event) -> bool:
        """Whether a new post belongs on this page for ``reader``: never one of their own
        (they know they wrote it), never one the page already shows."""
        post_id, author = event.get("post"), event.get("author")
        if not isinstance(post_id, int) or post_id <= self.after or author == reader:
            return False
        if self.kind == HOME:
            return True
        if self.kind == FOLLOWING:
            return author in self.authors
        if self.kind == HASHTAG:
            return self.tag in (event.get("tags") or ())
        return False


# -- the hub ----------------------------------------------------------------------------


class LiveSocket(Protocol):
    """One open socket as the hub sees it (``handlers.live.LiveHandler``)."""

    def push(self, message: dict[str, Any]) -> None:
        """Send one JSON message; a socket that is closing drops it."""

    def shut(self, code: int, reason: str) -> None:
        """Close the socket with this close code."""


@dataclass(slots=True)
class Seat:
    """What the hub keeps for one socket: whose it is, its timeline, posts counted."""

    socket: LiveSocket
    user_id: int
    timeline: Timeline
    new_posts: int = 0


class LiveHub:
    """This process's open sockets, by user id, and the bus that feeds them.

    ``publish_user`` and ``post_created`` go through the bus, so that every process (this
    one too) hands the event to the sockets it holds; nothing here waits on a socket.
    """

    def __init__(self, bus: LiveBus, *, per_user: int, max_sockets: int) -> None:
        self.bus = bus
        self.per_user = per_user
        self.max_sockets = max_sockets
        self.seats: dict[LiveSocket, Seat] = {}
        self.by_user: dict[int, dict[LiveSocket, Seat]] = {}

    async def start(self) -> None:
        await self.bus.start(self.deliver)

    @property
    def count(self) -> int:
        return len(self.seats)

    @property
    def full(self) -> bool:
        """No room for one more socket in this process (``SNS_LIVE_MAX``)."""
        return len(self.seats) >= self.max_sockets

    def join(self, socket: LiveSocket, user_id: int, timeline: Timeline) -> None:
        """Hold a new socket; past ``per_user`` of one person, their oldest gives way."""
        mine = self.by_user.setdefault(user_id, {})
        while len(mine) >= self.per_user:
            oldest = next(iter(mine))
            self.leave(oldest)
            oldest.shut(REPLACED, "too many live pages")
        seat = Seat(socket, user_id, timeline)
        mine[socket] = seat
        self.seats[socket] = seat

    def leave(self, socket: LiveSocket) -> None:
        seat = self.seats.pop(socket, None)
        if seat is None:
            return
        mine = self.by_user.get(seat.user_id)
        if mine is not None:
            mine.pop(socket, None)
            if not mine:
                del self.by_user[seat.user_id]

    async def publish_user(self, user_id: int, message: dict[str, Any]) -> None:
        """Deliver ``message`` to every socket of ``user_id``, on any process or node."""
        await self.bus.publish({"kind": "user", "user": user_id, "message": message})

    async def post_created(self, post_id: int, author_id: int, tags: list[str]) -> None:
        """Tell every page whose timeline this post belongs on (``PostService.after_create``)."""
        await self.bus.publish({"kind": "post", "post": post_id, "author": author_id, "tags": tags})

    def deliver(self, event: Event) -> None:
        """Hand an event that arrived from the bus to the sockets it concerns."""
        kind = event.get("kind")
        if kind == "user":
            message = event.get("message")
            user = event.get("user")
            if isinstance(message, dict) and isinstance(user, int):
                for socket in list(self.by_user.get(user, ())):
                    socket.push(message)
        elif kind == "post":
            for seat in list(self.seats.values()):
                if seat.timeline.shows(seat.user_id, event):
                    seat.new_posts += 1
                    seat.socket.push({"type": "posts", "count": seat.new_posts})

    def close_all(self, code: int = GOING_AWAY, reason: str = "server stopping") -> int:
        """Close every socket (a stopping process: the pages connect again elsewhere)."""
        sockets = list(self.seats)
        self.seats.clear()
        self.by_user.clear()
        for socket in sockets:
            socket.shut(code, reason)
        return len(sockets)

    async def close(self) -> None:
        self.close_all()
        await self.bus.close()


def choose_bus(
    choice: str,
    *,
    db: Database,
    redis: Redis | None,
    redis_url: str,
    channel: str,
    timeout: float,
    several_processes: bool,
) -> LiveBus:
    """Redis when there is one; else the SQLite file when other processes serve it
    (``--processes``, supervisor, or ``SNS_LIVE_BUS=database``); else this process alone."""
    if redis is not None:
        return RedisLiveBus(redis, redis_url, channel, timeout=timeout)
    path = db.url.split("///", 1)[-1].split("?", 1)[0] if db.is_sqlite else ""
    on_file = bool(path) and path != ":memory:"
    if choice == "database" or (choice == "auto" and several_processes):
        if on_file:
            return SqliteLiveBus(db, path)
        if several_processes:
            log.warning("live: several processes without Redis: each one's pages see its own")
    return MemoryLiveBus()
