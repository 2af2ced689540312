"""The live hub and its buses (sns/live.py), without a web server: which sockets an event
reaches, the per-person cap, and buses that survive what happens to them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from sns.db import Database
from sns.live import (
    FOLLOWING,
    HASHTAG,
    HOME,
    REPLACED,
    LiveHub,
    MemoryLiveBus,
    RedisLiveBus,
    SqliteLiveBus,
    Timeline,
)
from testkit.redis import RedisServer


class FakeSocket:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed: int | None = None

    def push(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def shut(self, code: int, reason: str) -> None:
        self.closed = code


def post(post_id: int, author: int, *tags: str) -> dict[str, Any]:
    return {"kind": "post", "post": post_id, "author": author, "tags": list(tags)}


@pytest.mark.parametrize(
    ("timeline", "event", "shown"),
    [
        (Timeline(HOME), post(5, 2), True),
        (Timeline(HOME), post(5, 1), False),  # the reader's own
        (Timeline(HOME, after=5), post(5, 2), False),  # the page has it already
        (Timeline(FOLLOWING, authors=frozenset({2})), post(5, 2), True),
        (Timeline(FOLLOWING, authors=frozenset({2})), post(5, 3), False),
        (Timeline(HASHTAG, tag="노드"), post(5, 3, "노드", "js"), True),
        (Timeline(HASHTAG, tag="노드"), post(5, 3, "js"), False),
        (Timeline(), post(5, 3), False),  # a page without a timeline
        (Timeline(HOME), {"kind": "post", "post": "5", "author": 2}, False),
    ],
)
def test_a_timeline_shows_the_new_posts_that_belong_on_it(timeline, event, shown):
    assert timeline.shows(1, event) is shown


def test_the_hub_counts_new_posts_per_socket_and_pushes_to_one_person_only():
    async def scenario() -> None:
        hub = LiveHub(MemoryLiveBus(), per_user=5, max_sockets=10)
        await hub.start()
        home, tagged, someone_else = FakeSocket(), FakeSocket(), FakeSocket()
        hub.join(home, 1, Timeline(HOME))
        hub.join(tagged, 1, Timeline(HASHTAG, tag="x"))
        hub.join(someone_else, 2, Timeline())
        await hub.post_created(10, 3, ["y"])
        await hub.post_created(11, 3, ["x"])
        await hub.publish_user(1, {"type": "unread", "count": 4})
        assert home.messages == [
            {"type": "posts", "count": 1},
            {"type": "posts", "count": 2},
            {"type": "unread", "count": 4},
        ]
        assert tagged.messages == [{"type": "posts", "count": 1}, {"type": "unread", "count": 4}]
        assert someone_else.messages == []
        assert hub.close_all() == 3
        assert home.closed == tagged.closed == 1001
        assert hub.count == 0

    asyncio.run(scenario())


def test_past_the_per_person_cap_the_oldest_socket_gives_way():
    hub = LiveHub(MemoryLiveBus(), per_user=2, max_sockets=3)
    sockets = [FakeSocket() for _ in range(3)]
    for socket in sockets:
        hub.join(socket, 1, Timeline())
    assert [s.closed for s in sockets] == [REPLACED, None, None]
    assert hub.count == 2 and not hub.full
    hub.join(FakeSocket(), 2, Timeline())
    assert hub.full
    hub.leave(sockets[1])
    assert hub.count == 2 and not hub.full


def test_processes_of_one_sqlite_file_hear_each_other_and_old_events_are_pruned(
    tmp_path, monkeypatch
):
    import sns.live

    monkeypatch.setattr(sns.live, "SQLITE_KEEP", 5)
    monkeypatch.setattr(sns.live, "SQLITE_PRUNE_EVERY", 10)
    monkeypatch.setattr(sns.live, "SQLITE_KEEP_SECONDS", -5)  # any age
    path = tmp_path / "sns.sqlite3"

    async def scenario() -> None:
        url = f"sqlite+aiosqlite:///{path}"
        dbs = [Database(url), Database(url)]
        await dbs[0].migrate()
        heard: list[list[dict[str, Any]]] = [[], []]
        buses = [SqliteLiveBus(db, str(path), poll=0.01) for db in dbs]
        for bus, got in zip(buses, heard, strict=True):
            await bus.start(got.append)
        try:
            started = time.monotonic()
            await buses[0].publish({"n": 1})
            while len(heard[1]) < 1:
                assert time.monotonic() - started < 2
                await asyncio.sleep(0.01)
            for n in range(2, 21):  # paced: with these small limits a row could go unread
                await buses[n % 2].publish({"n": n})
                await asyncio.sleep(0.03)
            await asyncio.sleep(0.2)
            for got in heard:  # each event once, in order, in both processes
                assert [e["n"] for e in got] == list(range(1, 21))
            async with dbs[0].read() as conn:
                left = (await conn.exec_driver_sql("SELECT count(*) FROM live_events")).scalar()
            assert left == 5  # pruned at the 20th: the newest 5 remain
        finally:
            for bus, db in zip(buses, dbs, strict=True):
                await bus.close()
                await db.dispose()

    asyncio.run(scenario())


def test_events_younger_than_a_minute_are_kept_for_a_process_that_lags(tmp_path, monkeypatch):
    import sns.live

    monkeypatch.setattr(sns.live, "SQLITE_KEEP", 5)
    monkeypatch.setattr(sns.live, "SQLITE_PRUNE_EVERY", 10)
    path = tmp_path / "sns.sqlite3"

    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        bus = SqliteLiveBus(db, str(path))
        try:
            for n in range(20):  # nobody reads: a process stalled for these events
                await bus.publish({"n": n})
            async with db.read() as conn:
                left = (await conn.exec_driver_sql("SELECT count(*) FROM live_events")).scalar()
            assert left == 20
        finally:
            await db.dispose()

    asyncio.run(scenario())


def test_the_redis_subscription_comes_back_after_an_outage(tmp_path):
    redis_server = RedisServer(tmp_path / "redis")
    try:
        redis_server.start()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.skip(f"no Redis: {exc}")

    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        heard: list[dict[str, Any]] = []
        bus = RedisLiveBus(redis, redis_server.url, "test:live", timeout=2)
        await bus.start(heard.append)
        try:
            await bus.publish({"n": 1})
            await asyncio.sleep(0.2)
            await asyncio.to_thread(redis_server.stop)
            await asyncio.sleep(0.5)
            await bus.publish({"n": "lost"})  # logged, not raised
            await asyncio.to_thread(redis_server.start)
            started = time.monotonic()
            while not bus.subscribed.is_set():
                assert time.monotonic() - started < 10
                await asyncio.sleep(0.05)
            await bus.publish({"n": 2})
            await asyncio.sleep(0.3)
            assert heard == [{"n": 1}, {"n": 2}]
        finally:
            await bus.close()
            await redis.aclose()

    try:
        asyncio.run(scenario())
    finally:
        redis_server.stop()
