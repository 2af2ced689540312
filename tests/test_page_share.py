"""Readers' pages shared between processes through a real Redis (sns/page_share.py): found
under the same key in another process, and refused once something they depend on changed,
once older than a kept page may be, or when Redis does not answer."""

from __future__ import annotations

import asyncio
import secrets
import time

from sns.changes import KnownChanges
from sns.page_share import PageShare
from sns.pagecache import ReaderPage
from sns.redis_store import RedisKeys

KEY = ("/", "sns.example", "https", "ko_KR", 7, "session-id", (3, 9))


def test_a_page_shared_by_one_process_is_found_by_another_while_it_holds(redis_server):
    from redis.asyncio import Redis

    async def run():
        keys = RedisKeys(f"share-{secrets.token_hex(4)}:")
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        try:
            drew, other = KnownChanges(), KnownChanges()
            drew.seen = other.seen = 100
            mine = PageShare(redis, keys, drew, ttl=30)
            theirs = PageShare(redis, keys, other, ttl=30)
            page = ReaderPage.of("<p>안녕, 독자</p>".encode() * 50)
            mine.put(KEY, page, 100, ("n", "p5"))
            await asyncio.gather(*mine._storing)
            found = await theirs.get(KEY)
            missing = await theirs.get((*KEY[:-1], (3, 10)))  # another reader version
            other.note("p6", 101)
            other.seen = 101
            after_elsewhere = await theirs.get(KEY)
            other.note("p5", 102)
            other.seen = 102
            after_shown = await theirs.get(KEY)
            every_write = PageShare(redis, keys, other, ttl=30)
            every_write.put(("profile",), page, 102, None)
            await asyncio.gather(*every_write._storing)
            kept_while_quiet = await theirs.get(("profile",))
            other.seen = 103
            after_any_write = await theirs.get(("profile",))
            return (
                page,
                found,
                missing,
                after_elsewhere,
                after_shown,
                (
                    kept_while_quiet,
                    after_any_write,
                ),
            )
        finally:
            await redis.aclose()

    page, found, missing, after_elsewhere, after_shown, quiet = asyncio.run(run())
    assert found is not None
    shared, version, depends, age = found
    assert shared == page and version == 100 and depends == ("n", "p5") and 0 <= age < 5
    assert missing is None
    assert after_elsewhere is not None and after_elsewhere[0] == page
    assert after_shown is None
    assert quiet[0] is not None and quiet[1] is None


def test_an_old_shared_page_is_refused_and_keeps_its_age_when_taken(redis_server, monkeypatch):
    """A page drawn 20 s ago is taken with its age (so it is kept here only for what is
    left of its life); one drawn longer ago than a kept page may live is refused."""
    from redis.asyncio import Redis

    async def run():
        keys = RedisKeys(f"share-{secrets.token_hex(4)}:")
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        try:
            changes = KnownChanges()
            changes.seen = 1
            share = PageShare(redis, keys, changes, ttl=30)
            page = ReaderPage.of(b"<p>old</p>")
            now = time.time()
            for drawn, key in ((now - 20, ("twenty",)), (now - 31, ("stale",))):
                monkeypatch.setattr(time, "time", lambda drawn=drawn: drawn)
                share.put(key, page, 1, ("n",))
                await asyncio.gather(*share._storing)
            monkeypatch.setattr(time, "time", lambda: now)
            return await share.get(("twenty",)), await share.get(("stale",))
        finally:
            await redis.aclose()

    twenty, stale = asyncio.run(run())
    assert twenty is not None and 19 < twenty[3] < 25
    assert stale is None


def test_without_redis_a_shared_page_is_a_miss_not_an_error():
    from redis.asyncio import Redis

    async def run():
        redis = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
        try:
            changes = KnownChanges()
            changes.seen = 1
            share = PageShare(redis, RedisKeys("gone:"), changes, ttl=30)
            share.put(KEY, ReaderPage.of(b"x"), 1, None)
            await asyncio.gather(*share._storing)
            return await share.get(KEY)
        finally:
            await redis.aclose()

    assert asyncio.run(run()) is None


def test_pages_are_shared_by_a_nodes_workers_unless_said_otherwise():
    """``auto``: a process that is one of several workers (``--processes``, supervisor,
    both of which name it) shares; a process alone does not, and ``on``/``off`` hold."""
    from serving.process import for_worker
    from sns.settings import Settings

    def shared(value: str | None, worker: str | None) -> str:
        environ = {"SNS_SHARE_PAGES": value} if value else {}
        return for_worker(Settings.load(environ=environ, dotenv_path=None), worker).share_pages

    assert shared(None, "sns_01") == "on" and shared(None, "2") == "on"
    assert shared(None, None) == "off"
    assert shared("on", None) == "on" and shared("off", "sns_01") == "off"
