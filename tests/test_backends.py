"""One contract for each backend interface, run on the embedded and the production class."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis_asyncio
from sqlalchemy import select, update

from sns.db import Database
from sns.pagecache import VersionedCache
from sns.ratelimit import MemoryRateLimiter, RedisRateLimiter
from sns.redis_store import RedisKeys
from sns.schema import sessions
from sns.sessions import RedisSessionStore, SqlSessionStore, rotate


@pytest.fixture
async def redis_client(request):
    """A client of the test Redis, made only when a test's parameter asks for Redis."""
    clients = []

    def connect():
        url = request.getfixturevalue("redis_server").url
        clients.append(redis_asyncio.from_url(url, decode_responses=True))
        return clients[-1]

    yield connect
    for client in clients:
        await client.aclose()


@pytest.fixture(params=["sql", "redis"])
async def store(request, tmp_path, redis_client):
    if request.param == "sql":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}")
        await db.migrate()
        yield SqlSessionStore(db, ttl=120)
        await db.dispose()
    else:
        yield RedisSessionStore(redis_client(), ttl=120, keys=RedisKeys())


@pytest.fixture(params=["memory", "redis"])
async def limiter(request, redis_client):
    if request.param == "memory":
        return MemoryRateLimiter()
    return RedisRateLimiter(redis_client(), RedisKeys())


async def test_a_session_is_created_read_saved_and_deleted(store):
    session_id = await store.create({"user_id": 7})
    assert len(session_id) >= 40
    assert await store.get(session_id) == {"user_id": 7}
    await store.save(session_id, {"user_id": 7, "note": "노트"})
    assert await store.get(session_id) == {"user_id": 7, "note": "노트"}
    await store.delete(session_id)
    assert await store.get(session_id) is None


async def test_unknown_session_ids_are_none(store):
    assert await store.get("made-up") is None
    await store.delete("made-up")


async def test_rotation_moves_the_data_to_a_new_id(store):
    old = await store.create({"user_id": 1})
    new = await rotate(store, old, {"user_id": 2})
    assert new != old
    assert await store.get(old) is None
    assert await store.get(new) == {"user_id": 2}


async def test_ids_are_not_stored_in_clear(store):
    session_id = await store.create({"user_id": 3})
    if isinstance(store, RedisSessionStore):
        keys = await store.redis.keys("sns:session:*")
        assert keys and all(session_id not in key for key in keys)
    else:
        from sqlalchemy import select

        from sns.schema import sessions

        async with store.db.read() as conn:
            ids = (await conn.execute(select(sessions.c.id))).scalars().all()
        assert ids and session_id not in ids


async def test_an_expired_session_is_gone(store):
    store.ttl = 1
    session_id = await store.create({"user_id": 4})
    await asyncio.sleep(2.2)
    assert await store.get(session_id) is None


async def test_reading_a_session_slides_its_expiry(store, monkeypatch):
    if isinstance(store, SqlSessionStore):
        monkeypatch.setattr(SqlSessionStore, "SLIDE_EVERY", 0)
    store.ttl = 3
    session_id = await store.create({"user_id": 5})
    for _ in range(4):
        await asyncio.sleep(1.1)
        assert await store.get(session_id) == {"user_id": 5}


async def test_the_limiter_counts_hits_in_a_window(limiter):
    key = f"test:{id(limiter)}"
    assert (await limiter.peek(key)).hits == 0
    counts = [(await limiter.hit(key, window=60)).hits for _ in range(3)]
    assert counts == [1, 2, 3]
    peeked = await limiter.peek(key)
    assert peeked.hits == 3 and 0 < peeked.reset_in <= 60
    await limiter.clear(key)
    assert (await limiter.peek(key)).hits == 0


async def test_the_limiter_window_ends(limiter):
    key = f"window:{id(limiter)}"
    await limiter.hit(key, window=1)
    await asyncio.sleep(2.1)
    assert (await limiter.peek(key)).hits == 0
    assert (await limiter.hit(key, window=1)).hits == 1


async def test_the_redis_limiter_is_shared_between_clients(redis_server):
    first = redis_asyncio.from_url(redis_server.url, decode_responses=True)
    second = redis_asyncio.from_url(redis_server.url, decode_responses=True)
    try:
        await RedisRateLimiter(first, RedisKeys()).hit("shared-key", 60)
        assert (await RedisRateLimiter(second, RedisKeys()).hit("shared-key", 60)).hits == 2
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_limiter_reserves_up_to_the_limit_and_no_more_when_asked_at_once(limiter):
    # Login attempts are counted before the password is checked; twenty at once must get
    # exactly five places, whichever way they interleave (#12).
    key = f"reserve:{uuid.uuid4().hex}"
    answers = await asyncio.gather(*(limiter.reserve(key, 5, 60) for _ in range(20)))
    granted = [answer for answer in answers if answer.granted]
    assert len(granted) == 5
    assert sorted(answer.count.hits for answer in granted) == [1, 2, 3, 4, 5]
    refused = [answer for answer in answers if not answer.granted]
    assert all(answer.count.hits == 5 and 0 < answer.count.reset_in <= 60 for answer in refused)
    assert (await limiter.peek(key)).hits == 5


async def test_the_limiter_reserves_amounts_up_to_the_limit_when_asked_at_once(limiter):
    # Uploads count their bytes too (#17): ten reservations of 300 against 1,000 get three
    # places, whichever way they interleave; a release gives its amount back.
    key = f"amount:{uuid.uuid4().hex}"
    answers = await asyncio.gather(*(limiter.reserve(key, 1000, 60, amount=300) for _ in range(10)))
    assert sum(answer.granted for answer in answers) == 3
    assert (await limiter.peek(key)).hits == 900
    assert not (await limiter.reserve(key, 1000, 60, amount=101)).granted
    assert (await limiter.reserve(key, 1000, 60, amount=100)).granted
    await limiter.release(key, amount=300)
    assert (await limiter.peek(key)).hits == 700


async def test_a_released_reservation_gives_its_place_back(limiter):
    key = f"release:{uuid.uuid4().hex}"
    assert [(await limiter.reserve(key, 2, 60)).granted for _ in range(3)] == [True, True, False]
    await limiter.release(key)
    assert (await limiter.peek(key)).hits == 1
    assert (await limiter.reserve(key, 2, 60)).granted
    await limiter.release(key)
    await limiter.release(key)
    assert (await limiter.peek(key)).hits == 0
    # Releasing more than was reserved, or a key that is gone, never goes below zero.
    await limiter.release(key)
    await limiter.release(f"never:{uuid.uuid4().hex}")
    assert (await limiter.peek(key)).hits == 0
    assert (await limiter.reserve(key, 1, 60)).count.hits == 1


async def test_reservations_end_with_their_window(limiter):
    key = f"reserve-window:{uuid.uuid4().hex}"
    assert (await limiter.reserve(key, 1, 1)).granted
    assert not (await limiter.reserve(key, 1, 1)).granted
    await asyncio.sleep(2.1)
    assert (await limiter.reserve(key, 1, 1)).granted


async def test_the_redis_limiter_gives_a_key_without_expiry_one(redis_server, redis_client):
    limiter = RedisRateLimiter(redis_client(), RedisKeys())
    key = f"stuck:{uuid.uuid4().hex}"
    await limiter.redis.set(limiter.keys.rate(key), 9)  # a count left with no TTL
    answer = await limiter.reserve(key, 5, 60)
    assert not answer.granted
    assert 0 < await limiter.redis.ttl(limiter.keys.rate(key)) <= 60


async def test_a_kept_sql_session_costs_no_statement_until_the_version_moves(tmp_path):
    """#22: the embedded default's logged-in pages read no session row while nothing changes;
    any committed write moves the site version (SQLite's data_version), and then the row is
    read again, so a logout or a password change anywhere still ends the session at once."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}")
    await db.migrate()
    try:
        store = SqlSessionStore(db, ttl=14 * 86400, kept=VersionedCache(100, ttl=60))
        session_id = await store.create({"user_id": 7})
        assert await store.get(session_id, version=1) == {"user_id": 7}
        read = db.statement_count
        for _ in range(3):
            assert await store.get(session_id, version=1) == {"user_id": 7}
        assert db.statement_count == read
        await store.delete(session_id)
        assert await store.get(session_id, version=2) is None  # the delete moved it
    finally:
        await db.dispose()


async def test_a_sql_session_expiry_moves_once_a_fourteenth_of_its_life_has_passed(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}")
    await db.migrate()
    try:
        ttl = 14 * 86400
        store = SqlSessionStore(db, ttl=ttl, kept=VersionedCache(100, ttl=60))
        session_id = await store.create({"user_id": 8})

        async def expiry() -> int:
            async with db.read() as conn:
                return (await conn.execute(select(sessions.c.expires_at))).scalar_one()

        first = await expiry()
        await store.get(session_id, version=1)
        assert await expiry() == first  # read a minute (or an hour) later: not written
        async with db.transaction() as conn:  # as if the session were a day and a second old
            await conn.execute(update(sessions).values(expires_at=first - 86400 - 1))
        assert await store.get(session_id, version=2) == {"user_id": 8}
        assert await expiry() >= first  # pushed forward to a full TTL from now
    finally:
        await db.dispose()
