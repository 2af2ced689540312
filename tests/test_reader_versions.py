"""Which readers each write touches, as the write watch reads it off the statements that
really run (#22): a like its liker, a follow both people, a block both, a mute the muter,
a profile its owner; what it cannot tell (a suspension, a deletion whose cascades reach
others) everyone; what touches no reader's own state, nobody. On both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, event, insert, update

from sns.db import Database, utcnow
from sns.follows import FollowService
from sns.likes import LikeService
from sns.notifications import NotificationService
from sns.reader_versions import EVERYONE, ReaderCache, WriteWatch, readers_of
from sns.safety import SafetyService
from sns.schema import likes, posts, users
from tests.test_following import add_people, database_url, post_service

A, B, C, D = 1, 2, 3, 4
POST = 10


async def seed(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as conn:
        await add_people(conn, (A, B, C, D), now)
        await conn.execute(
            insert(posts),
            [
                {"id": POST, "user_id": B, "content": "hello", "like_count": 0}
                | {"created_at": now, "updated_at": now}
            ],
        )


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_each_write_touches_the_readers_whose_own_state_it_changed(request, backend, tmp_path):
    url = database_url(request, backend, tmp_path)

    async def run() -> dict[str, Any]:
        db = Database(url)
        try:
            await db.migrate()
            await seed(db)
            event.listen(db.engine.sync_engine, "before_execute", WriteWatch().before_execute)
            committed: list[set[int]] = []
            told: list[set[int]] = []

            async def collect(touched: set[int]) -> None:
                committed.append(touched)

            async def tell(readers: set[int]) -> None:
                told.append(readers)

            db.after_commit_readers.append(collect)
            notifications = NotificationService(db)
            notifications.on_readers_change = tell
            liking = LikeService(db, notifications)
            following = FollowService(db, notifications)
            safety = SafetyService(db)
            found: dict[str, Any] = {}

            async def step(name: str, action: Any) -> None:
                committed.clear()
                told.clear()
                await action
                found[name] = (set().union(*committed), set().union(*told))

            async def raw(statement: Any) -> None:
                async with db.transaction() as conn:
                    await conn.execute(statement)

            await step("like", liking.like(A, POST))
            await step("unlike", liking.unlike(A, POST))
            await step("follow", following.follow(A, C))
            await step("unfollow", following.unfollow(A, C))
            await step("mute", safety.mute(A, D))
            await step("unmute", safety.unmute(A, D))
            await step("word", safety.add_word(A, "노드"))
            await step("block", safety.block(A, B))
            await step("unblock", safety.unblock(A, B))
            await step("nick", raw(update(users).where(users.c.id == C).values(nick="new")))
            await step("likes of many", raw(delete(likes).where(likes.c.post_id == POST)))
            await step(
                "suspend", raw(update(users).where(users.c.id == D).values(suspended_at=utcnow()))
            )
            await step("post", post_service(db).create(C, "a new post"))
            await step("delete post", post_service(db).delete(B, POST))
            return found
        finally:
            await db.dispose()

    found = asyncio.run(run())
    assert found["like"] == ({A}, {B})  # A's heart; B's badge, told by the notifications
    assert found["unlike"] == ({A}, {B})
    assert found["follow"] == ({A, C}, {C})
    assert found["unfollow"] == ({A, C}, {C})
    assert found["mute"] == ({A}, set()) and found["unmute"] == ({A}, set())
    assert found["word"] == ({A}, set())
    assert found["block"][0] == {A, B} and found["unblock"][0] == {A, B}
    assert found["nick"] == ({C}, set())
    assert found["likes of many"][0] == {EVERYONE}  # whose hearts: not named
    assert found["suspend"][0] == {EVERYONE}  # others' counts and lists
    assert found["post"][0] == set()  # what everyone sees moves the site version
    assert EVERYONE in found["delete post"][0]  # its notifications and likes cascade


def test_statements_that_name_no_rows_people_touch_everyone():
    from sqlalchemy import or_, select, text

    from sns.schema import follows

    within = delete(follows).where(follows.c.follower_id.in_(select(users.c.id)))
    assert readers_of(within, []) == {EVERYONE}
    either = delete(follows).where(or_(follows.c.follower_id == 1, follows.c.following_id == 2))
    assert readers_of(either, []) == {EVERYONE}  # whom 1 followed: not named
    both = delete(follows).where(
        or_(
            (follows.c.follower_id == 1) & (follows.c.following_id == 2),
            (follows.c.follower_id == 2) & (follows.c.following_id == 1),
        )
    )
    assert readers_of(both, []) == {1, 2}
    assert readers_of(text("UPDATE users SET nick = 'x'"), []) == {EVERYONE}
    assert readers_of(text("SELECT 1"), []) == set()
    many = insert(likes).values([{"user_id": 5, "post_id": 1}, {"user_id": 6, "post_id": 2}])
    assert readers_of(many, []) in ({5, 6}, {EVERYONE})  # named, or else everyone
    assert readers_of(insert(likes), [{"user_id": 5, "post_id": 1}, {"user_id": 7}]) == {5, 7}


def test_the_reader_cache_serves_only_the_version_it_was_read_at():
    cache: ReaderCache[str] = ReaderCache(2, ttl=60)
    cache.put((1, 5), ("user", A), "row at 5")
    assert cache.get((1, 5), ("user", A)) == "row at 5"
    assert cache.get((1, 6), ("user", A)) is None  # A wrote since
    assert cache.get((2, 5), ("user", A)) is None  # someone's write touched everyone
    cache.put((1, 5), ("user", B), "b")
    cache.put((1, 5), ("user", C), "c")  # beyond two: the least recent goes
    assert cache.get((1, 5), ("user", A)) is None
    assert cache.get(None, ("user", B)) is None  # no version: nothing kept
