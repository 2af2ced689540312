"""Session stores: a random id (carried in a signed cookie) maps to a small JSON record.

Both stores key records by the SHA-256 of the id, so a leaked table or dump holds no
usable session ids. The TTL slides: every read pushes the expiry forward.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, insert, select, update

from sns.db import Database
from sns.redis_store import RedisKeys
from sns.schema import sessions

if TYPE_CHECKING:
    from redis.asyncio import Redis

SessionData = dict[str, Any]


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _owner(data: SessionData) -> int | None:
    """The account a session record belongs to, if it names one."""
    owner = data.get("user_id")
    return int(owner) if owner is not None else None


class SessionStore(Protocol):
    """Where session records live; chosen once at start-up."""

    ttl: int

    async def create(self, data: SessionData) -> str:
        """Store ``data`` under a fresh id and return the id."""

    async def get(self, session_id: str, *, version: int | None = None) -> SessionData | None:
        """The record, its expiry pushed forward; None when unknown or expired.

        ``version``: the site version read for this request (``sns.pagecache``), under
        which a store may answer from what it read before.
        """

    async def save(self, session_id: str, data: SessionData) -> None:
        """Replace the record's data."""

    async def delete(self, session_id: str) -> None:
        """Forget the record (logout)."""

    async def delete_user(self, user_id: int) -> int:
        """Forget every record of one account (a suspension, #21); how many went."""

    async def ping(self) -> None:
        """Raise when the store cannot be reached."""


async def rotate(store: SessionStore, old_id: str | None, data: SessionData) -> str:
    """A new id for new privileges (login): the old record goes, the data moves over."""
    if old_id:
        await store.delete(old_id)
    return await store.create(data)


class KeptRecords(Protocol):
    """Records read before, kept under the site version (``sns.pagecache.VersionedCache``)."""

    def get(self, version: int | None, key: Hashable) -> tuple[SessionData, int] | None: ...

    def put(self, version: int | None, key: Hashable, value: tuple[SessionData, int]) -> None: ...


class SqlSessionStore:
    """Sessions in the SQL database: the embedded default, needs nothing else running.

    A record read once is kept in this process under the site version (``kept``), which
    every committed write to the database moves, on any process: a logout, a login or a
    password change anywhere makes the next request read it again, and a logged-in page
    costs no SQL while nothing changes (#22).
    """

    # Writing the new expiry on every request would make each page a write, and on SQLite
    # every write empties every process's kept pages; the expiry moves at most once per
    # fourteenth of the TTL (a day of the default two weeks), and at least a minute apart.
    SLIDE_EVERY = 60

    def __init__(self, db: Database, ttl: int, kept: KeptRecords | None = None) -> None:
        self.db = db
        self.ttl = ttl
        self.kept = kept

    @property
    def slide_every(self) -> int:
        return max(self.SLIDE_EVERY, self.ttl // 14) if self.SLIDE_EVERY else 0

    def _slides(self, expires_at: int, now: int) -> bool:
        """Whether a record expiring then is due for its expiry to move forward now."""
        return expires_at - now < self.ttl - self.slide_every

    async def create(self, data: SessionData) -> str:
        session_id = new_session_id()
        now = int(time.time())
        async with self.db.transaction() as conn:
            await conn.execute(delete(sessions).where(sessions.c.expires_at < now))
            await conn.execute(
                insert(sessions).values(
                    id=_key(session_id),
                    data=json.dumps(data),
                    expires_at=now + self.ttl,
                    user_id=_owner(data),
                )
            )
        return session_id

    async def get(self, session_id: str, *, version: int | None = None) -> SessionData | None:
        now = int(time.time())
        key = _key(session_id)
        if self.kept is not None:
            kept = self.kept.get(version, key)
            if kept is not None and kept[1] > now and not self._slides(kept[1], now):
                return kept[0]
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(sessions.c.data, sessions.c.expires_at).where(
                        sessions.c.id == _key(session_id)
                    )
                )
            ).first()
        if row is None or row.expires_at <= now:
            return None
        data: SessionData = json.loads(row.data)
        if self._slides(row.expires_at, now):
            async with self.db.transaction() as conn:
                await conn.execute(
                    update(sessions).where(sessions.c.id == key).values(expires_at=now + self.ttl)
                )
        elif self.kept is not None:
            self.kept.put(version, key, (data, row.expires_at))
        return data

    async def save(self, session_id: str, data: SessionData) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                update(sessions)
                .where(sessions.c.id == _key(session_id))
                .values(data=json.dumps(data), expires_at=int(time.time()) + self.ttl)
            )

    async def delete(self, session_id: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id == _key(session_id)))

    async def delete_user(self, user_id: int) -> int:
        async with self.db.transaction() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        return int(result.rowcount or 0)

    async def ping(self) -> None:
        await self.db.ping()


class RedisSessionStore:
    """Sessions in Redis with a TTL, shared by every process and node.

    Each account's session keys are also kept in a set of its own (``user-sessions:<id>``,
    living as long as its newest session), so that a suspension can delete them all; a
    key in the set whose session already expired costs nothing to delete.
    """

    def __init__(self, redis: Redis, ttl: int, keys: RedisKeys) -> None:
        self.redis = redis
        self.ttl = ttl
        self.keys = keys

    async def create(self, data: SessionData) -> str:
        while True:
            session_id = new_session_id()
            key = self.keys.session(_key(session_id))
            created = await self.redis.set(key, json.dumps(data), ex=self.ttl, nx=True)
            if created:
                owner = _owner(data)
                if owner is not None:
                    async with self.redis.pipeline(transaction=True) as pipe:
                        pipe.sadd(self._owned(owner), key)
                        pipe.expire(self._owned(owner), self.ttl)
                        await pipe.execute()
                return session_id

    async def get(self, session_id: str, *, version: int | None = None) -> SessionData | None:
        raw = await self.redis.getex(self.keys.session(_key(session_id)), ex=self.ttl)
        return self.decode(raw)

    def key_of(self, session_id: str) -> str:
        """The Redis key of a session's record."""
        return self.keys.session(_key(session_id))

    @staticmethod
    def decode(raw: str | bytes | None) -> SessionData | None:
        return None if raw is None else json.loads(raw)

    async def save(self, session_id: str, data: SessionData) -> None:
        await self.redis.set(
            self.keys.session(_key(session_id)), json.dumps(data), ex=self.ttl, xx=True
        )

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(self.keys.session(_key(session_id)))

    def _owned(self, user_id: int) -> str:
        return self.keys.name("user-sessions", str(user_id))

    async def delete_user(self, user_id: int) -> int:
        owned = self._owned(user_id)
        keys = list(await self.redis.smembers(owned))
        async with self.redis.pipeline(transaction=True) as pipe:
            if keys:
                pipe.delete(*keys)
            pipe.delete(owned)
            done = await pipe.execute()
        return int(done[0]) if keys else 0

    async def ping(self) -> None:
        await self.redis.ping()
