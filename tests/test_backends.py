"""One contract for each backend interface, run on the embedded and the production class."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_asyncio

from sns.db import Database
from sns.ratelimit import MemoryRateLimiter, RedisRateLimiter
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
        yield RedisSessionStore(redis_client(), ttl=120)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request, redis_client):
    if request.param == "memory":
        return MemoryRateLimiter()
    return RedisRateLimiter(redis_client())


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
        await RedisRateLimiter(first).hit("shared-key", 60)
        assert (await RedisRateLimiter(second).hit("shared-key", 60)).hits == 2
    finally:
        await first.aclose()
        await second.aclose()
