"""What each write changes, as read off the statements that really run, and how a kept page
outlives the writes it does not show (#22, ``sns.changes``): a like or a comment changes its
post, a new post the lists and its author's pages, a follow or a block nobody's page (their
people's own versions move), a name everything; what cannot be told, everything."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, select, text, update

from sns.changes import (
    ANY_TERM,
    EVERYTHING,
    NEW_POSTS,
    ChangeAwareCache,
    ChangeLog,
    KnownChanges,
    changes_of,
    depends_on,
    search_changes,
    term_token,
)
from sns.comments import CommentService
from sns.db import Database
from sns.follows import FollowService
from sns.likes import LikeService
from sns.notifications import NotificationService
from sns.reader_versions import CHANGED, WriteWatch
from sns.redis_store import RedisKeys
from sns.safety import SafetyService
from sns.schema import comments, likes, posts, search_terms, users
from sns.search_index import BODY_TERM, SearchIndex, document
from tests.test_following import database_url, post_service
from tests.test_reader_versions import POST, A, B, C, D, seed


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_each_write_changes_what_it_shows(request, backend, tmp_path):
    url = database_url(request, backend, tmp_path)

    async def run() -> dict[str, set[str]]:
        db = Database(url)
        try:
            await db.migrate()
            await seed(db)
            watch = WriteWatch((CHANGED, changes_of))
            event.listen(db.engine.sync_engine, "before_execute", watch.before_execute)
            committed: list[set[str]] = []

            async def collect(changed: set[str]) -> None:
                committed.append(changed)

            db.after_commit_changes.append(collect)
            notifications = NotificationService(db)
            liking = LikeService(db, notifications)
            following = FollowService(db, notifications)
            safety = SafetyService(db)
            writing = post_service(db)
            writing.search_index = SearchIndex()  # as build_services wires it
            commenting = CommentService(db, notifications)
            found: dict[str, set[str]] = {}

            async def step(name: str, action: Any) -> None:
                committed.clear()
                await action
                found[name] = set().union(*committed)

            async def raw(statement: Any) -> None:
                async with db.transaction() as conn:
                    await conn.execute(statement)

            await step("like", liking.like(A, POST))
            await step("unlike", liking.unlike(A, POST))
            await step("comment", commenting.comment(C, POST, "nice"))
            await step("follow", following.follow(A, C))
            await step("mute", safety.mute(A, D))
            await step("block", safety.block(A, D))
            await step("nick", raw(update(users).where(users.c.id == C).values(nick="new")))
            created: list[int] = []

            async def create(author: int, content: str) -> None:
                created.append(await writing.create(author, content))

            await step("post", create(C, "a new post #tag"))
            await step("reworded", writing.update(C, created[0], "a newer text"))
            await step("edit", writing.update(B, POST, "hello again #other"))
            await step("delete", writing.delete(B, POST))
            return found
        finally:
            await db.dispose()

    found = asyncio.run(run())
    assert found["like"] == {f"p{POST}"} and found["unlike"] == {f"p{POST}"}
    assert found["comment"] == {f"p{POST}"}
    assert found["follow"] == found["mute"] == found["block"] == set()
    assert found["nick"] == {EVERYTHING}  # shown on every post and comment of theirs
    words = {term_token(term) for term in {BODY_TERM, *document("a new post #tag")[1]}}
    assert found["post"] - words == {NEW_POSTS, f"a{C}"} and words <= found["post"]
    # An edit: its hashtags and words change lists; the words it gained and lost, searches.
    assert found["edit"] >= {f"p{POST}", NEW_POSTS} and EVERYTHING not in found["edit"]
    after = {term_token(term) for term in {BODY_TERM, *document("a newer text")[1]}}
    gained, lost = after - words, words - after
    assert gained and lost and gained | lost <= found["reworded"]
    assert ANY_TERM in found["reworded"]  # its body rewritten: every search looks again
    assert {f"p{POST}", NEW_POSTS} <= found["delete"] and EVERYTHING not in found["delete"]


def test_statements_that_cannot_be_told_change_everything():
    assert changes_of(text("UPDATE posts SET like_count = 0"), []) == {EVERYTHING}
    assert changes_of(text("SELECT 1"), []) == set()
    assert changes_of(delete(comments).where(comments.c.id == 5), []) == {EVERYTHING}
    assert changes_of(update(posts).where(posts.c.id == 5).values(user_id=2), []) == {EVERYTHING}
    assert changes_of(update(posts).values(like_count=0), []) == {EVERYTHING}  # which rows?
    assert changes_of(
        insert(likes).from_select(["user_id", "post_id"], select(users.c.id, users.c.id)), []
    ) == {EVERYTHING}
    assert changes_of(insert(likes), [{"user_id": 5, "post_id": 1}, {"user_id": 6}]) == {EVERYTHING}
    assert changes_of(
        insert(likes), [{"user_id": 5, "post_id": 1}, {"user_id": 6, "post_id": 2}]
    ) == {"p1", "p2"}
    liked = update(posts).where(posts.c.id == 7).values(like_count=posts.c.like_count + 1)
    assert changes_of(liked, []) == {"p7"}
    rebuilt = delete(search_terms)  # the whole index, rebuilt: every search
    assert changes_of(rebuilt, []) == {NEW_POSTS, ANY_TERM}
    lost = delete(search_terms).where(
        search_terms.c.term.in_(["a", "b"]), search_terms.c.post_id == 3
    )
    assert changes_of(lost, []) == {NEW_POSTS, term_token("a"), term_token("b")}
    assert search_changes(["b", "a"]) == {ANY_TERM, term_token("a")}


def test_a_kept_page_lives_until_something_it_depends_on_changes():
    log = KnownChanges(known=3)
    log.seen = 100
    cache: ChangeAwareCache[str] = ChangeAwareCache(log, 1000, ttl=60, size=len)
    following = depends_on({"a1", "a2"}, [7, 8])
    cache.put(100, "following", "F", following)
    cache.put(100, "home", "H", depends_on({NEW_POSTS}, [7]))
    cache.put(100, "profile", "P")  # says nothing: every write
    log.seen = 101
    log.note("p9", 101)  # a like elsewhere
    assert cache.get(101, "following") == "F" and cache.get(101, "home") == "H"
    assert cache.get(101, "profile") is None
    log.seen = 102
    log.note(NEW_POSTS, 102)
    log.note("a3", 102)  # someone not followed wrote
    assert cache.get(102, "following") == "F" and cache.get(102, "home") is None
    log.seen = 103
    log.note("p8", 103)  # a comment on a post of the page
    assert cache.get(103, "following") is None
    cache.put(102, "following", "F2", following)  # drawn before that comment: not kept
    assert cache.get(103, "following") is None
    cache.put(103, "following", "F3", following)
    log.seen = 104
    log.note(EVERYTHING, 104)
    assert cache.get(104, "following") is None
    cache.put(104, "following", "F4", following)
    for n, token in enumerate(("x1", "x2", "x3", "x4"), start=105):
        log.seen = n
        log.note(token, n)  # beyond what the process keeps: the oldest is forgotten
    assert log.floor == 105 and cache.get(108, "following") is None


def test_the_change_log_in_redis_tells_each_process_what_changed_since_it_looked(redis_server):
    from redis.asyncio import Redis

    async def run() -> None:
        redis = Redis.from_url(redis_server.url)
        keys = RedisKeys(f"changes-{secrets.token_hex(4)}:")
        writer, reader = ChangeLog(redis, keys), ChangeLog(redis, keys)
        try:
            await writer.bump({NEW_POSTS, "a1"})
            first = int(await redis.get(keys.site_version))
            await reader.catch_up(first)
            assert reader.seen == first and reader.floor == first
            assert reader.unchanged(first, frozenset({NEW_POSTS}))
            assert not reader.unchanged(first - 1, frozenset())  # before it knew anything

            await writer.bump({"p5"})
            await writer.bump({"a2", NEW_POSTS})
            assert reader.unchanged(first, frozenset({"p6"}))  # not learnt yet, seen unmoved
            await reader.catch_up(first + 2)
            assert reader.seen == first + 2
            assert reader.unchanged(first, frozenset({"p6", "a1"}))
            assert not reader.unchanged(first, frozenset({"p5"}))
            assert not reader.unchanged(first + 1, frozenset({NEW_POSTS}))
            assert reader.unchanged(first + 2, frozenset({NEW_POSTS}))

            await redis.delete(keys.site_version, keys.name("changes"), keys.name("changes-floor"))
            await writer.bump({"p7"})  # Redis lost its data: a version above all before
            restarted = int(await redis.get(keys.site_version))
            await reader.catch_up(restarted)
            assert not reader.unchanged(first + 2, frozenset({"p6"}))  # forgotten: changed
            assert reader.unchanged(restarted, frozenset({"p6"}))
        finally:
            await redis.aclose()

    asyncio.run(run())


def test_the_redis_log_keeps_its_newest_tokens_and_raises_its_floor(redis_server, monkeypatch):
    from redis.asyncio import Redis

    import sns.changes

    monkeypatch.setattr(sns.changes, "LOG_TOKENS", 3)

    async def run() -> None:
        redis = Redis.from_url(redis_server.url)
        keys = RedisKeys(f"floor-{secrets.token_hex(4)}:")
        writer, behind, along = (
            ChangeLog(redis, keys),
            ChangeLog(redis, keys),
            ChangeLog(redis, keys),
        )
        try:
            await writer.bump({"p1"})
            start = int(await redis.get(keys.site_version))
            await behind.catch_up(start)
            await along.catch_up(start)
            for n in range(2, 6):
                await writer.bump({f"p{n}"})
                await along.catch_up(start + n - 1)
            assert await redis.zcard(keys.name("changes")) == 3
            await behind.catch_up(start + 4)  # p2 was cut from the log: it cannot know
            assert not behind.unchanged(start, frozenset({"p9"}))
            assert along.unchanged(start, frozenset({"p9"}))  # it learnt each in time
            assert not along.unchanged(start, frozenset({"p2"}))
        finally:
            await redis.aclose()

    asyncio.run(run())


def test_the_deploy_guides_command_makes_every_worker_read_afresh(redis_server):
    """docs/deploy.md's command after a change behind the app's back: every kept page,
    whatever it depends on, is drawn again."""
    import re
    import shlex
    from pathlib import Path

    from redis.asyncio import Redis

    guide = (Path(__file__).parent.parent / "docs" / "deploy.md").read_text()
    line = re.search(r"^redis-cli EVAL .*$", guide, re.M)
    assert line is not None
    _cli, _eval, script, count, *key_names = shlex.split(line.group(0))

    async def run() -> None:
        redis = Redis.from_url(redis_server.url)
        prefix = f"afresh-{secrets.token_hex(4)}:"
        keys = RedisKeys(prefix)
        worker = ChangeLog(redis, keys)
        try:
            await ChangeLog(redis, keys).bump({"p1"})
            version = int(await redis.get(keys.site_version))
            await worker.catch_up(version)
            assert worker.unchanged(version, frozenset({"p2"}))
            names = [prefix + name.removeprefix("sns:") for name in key_names]
            moved = await redis.eval(script, int(count), *names)
            await worker.catch_up(int(moved))
            assert not worker.unchanged(version, frozenset({"p2"}))
            assert not worker.unchanged(version, frozenset())
        finally:
            await redis.aclose()

    asyncio.run(run())
