"""The site version read for many requests in one round trip (sns/redis_versions.py),
against a real Redis: each request gets its own session and reader's version, never a
version older than a write that finished before it asked, and an error reaches each."""

from __future__ import annotations

import asyncio
import secrets

from sns.reader_versions import RedisReaderVersions
from sns.redis_store import RedisKeys
from sns.redis_versions import RedisSiteVersion
from sns.sessions import RedisSessionStore


def run_with_redis(redis_server, body):
    """Run ``body(redis, version, sessions, readers)`` on a fresh prefix of a real Redis."""
    from redis.asyncio import Redis

    async def main():
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        keys = RedisKeys(f"batch-{secrets.token_hex(4)}:")
        try:
            return await body(
                redis,
                RedisSiteVersion(redis, keys),
                RedisSessionStore(redis, 600, keys),
                RedisReaderVersions(redis, keys),
            )
        finally:
            await redis.aclose()

    return asyncio.run(main())


def test_many_requests_at_once_each_get_their_own_session_in_few_round_trips(redis_server):
    """Forty requests at once: readers with a user, a session without one, a session that
    is gone, and anonymous requests. Each gets exactly its own record and its own reader's
    version, in at most two round trips (the first may leave before the rest ask)."""

    async def body(redis, version, sessions, readers):
        ids = {user: await sessions.create({"user_id": user}) for user in range(1, 21)}
        guest = await sessions.create({"lang": "ko"})
        await readers.bump({7})
        await redis.expire(sessions.key_of(ids[3]), 5)
        asks = [("user", user, ids[user]) for user in ids] * 2
        asks += [("guest", None, guest), ("gone", None, "no-such-session")]
        answers = await asyncio.gather(
            *(version.current_with_session(sessions, sid, readers) for _, _, sid in asks),
            *(version.current() for _ in range(6)),
        )
        trips = version.round_trips(sessions.ttl, readers).trips + version.round_trips().trips
        ttl_after = await redis.ttl(sessions.key_of(ids[3]))
        started = [await redis.get(readers.key_of(user)) for user in (7, 8)]
        return asks, answers, trips, ttl_after, started

    asks, answers, trips, ttl_after, started = run_with_redis(redis_server, body)
    versions = {answer[0] if isinstance(answer, tuple) else answer for answer in answers}
    assert len(versions) == 1 and all(isinstance(v, int) for v in versions)
    for (kind, user, _), (_, session, reader) in zip(asks, answers, strict=False):
        if kind == "user":
            assert session == {"user_id": user}
            assert reader is not None
            if user in (7, 8):
                assert reader[1] == int(started[user - 7])
        elif kind == "guest":
            assert session == {"lang": "ko"} and reader is None
        else:
            assert session is None and reader is None
    everyone = {
        answer[2][0] for (kind, _, _), answer in zip(asks, answers, strict=False) if kind == "user"
    }
    assert len(everyone) == 1
    assert trips <= 3, f"{trips} round trips for 46 requests"
    assert ttl_after > 500, "a read pushes the session's expiry forward, as before"


def test_a_request_that_asks_while_a_trip_is_on_its_way_sees_writes_before_it(redis_server):
    """A read is held on its way; then another process moves the version; then a request
    asks. Sharing the trip on its way would give that request the version before the
    write it came after. It waits for the next trip instead and sees the write."""

    async def body(redis, version, sessions, readers):
        trips = version.round_trips()
        gate = asyncio.Event()
        real_send = trips.send

        async def held_send(keys):  # read, and the answer held on its way back
            reply = await real_send(keys)
            await gate.wait()
            return reply

        trips.send = held_send
        before = await real_send([])
        first = asyncio.ensure_future(version.current())
        await asyncio.sleep(0.01)  # the first trip is on its way, held
        await redis.incr(version.key)  # a write on another process, finished
        second = asyncio.ensure_future(version.current())
        await asyncio.sleep(0.01)
        gate.set()
        return int(before[0]), await first, await second, trips.trips

    before, first, second, trips = run_with_redis(redis_server, body)
    assert first == before
    assert second == before + 1
    assert trips == 2


def test_a_failed_round_trip_fails_every_request_waiting_for_it_and_the_next_one_works(
    redis_server,
):
    async def body(redis, version, sessions, readers):
        trips = version.round_trips()
        real_send = trips.send
        failures = [ConnectionError("redis went away")]

        async def failing_once(keys):
            if failures:
                raise failures.pop()
            return await real_send(keys)

        trips.send = failing_once
        results = await asyncio.gather(
            *(version.current() for _ in range(5)), return_exceptions=True
        )
        return results, await version.current()

    results, after = run_with_redis(redis_server, body)
    assert all(isinstance(r, ConnectionError) for r in results), results
    assert isinstance(after, int)
