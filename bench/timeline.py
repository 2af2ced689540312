"""How timeline pages scale with the size of the database.

Seeds a database with N users, posts, hashtags, follows, likes and comments (bulk inserts),
then times each timeline service call (first page and a deep page) and counts its SQL
statements. Two readers of /following: one follows 20 busy accounts ("following"), the
other 20 quiet ones of 3 old posts each ("quiet"); each is timed with the per-author merge
and with the walk of the posts index that /following did before ("..., walk"). Run at two
sizes in one go and compare the ratios, not the absolute numbers (the machines are shared
and noisy):

    .venv/bin/python bench/timeline.py --sizes 1000 100000
    .venv/bin/python bench/timeline.py --sizes 1000 100000 --mariadb   # as testkit/mariadb.py
    .venv/bin/python bench/timeline.py --sizes 1000 100000 --url mysql+aiomysql://...

Each size gets a fresh SQLite file in a temporary folder (or, with --url, the given empty
database is reused: tables are emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sns import post_pages
from sns.comments import CommentService
from sns.db import Database, utcnow
from sns.follows import FollowService
from sns.likes import LikeService
from sns.post_views import Page
from sns.posts import PostService
from sns.schema import comments, follows, hashtags, likes, post_hashtags, posts, users

USERS = 200
TAGS = 50
BATCH = 5000
QUIET_AUTHORS = 20
QUIET_POSTS = 3


async def seed(db: Database, n_posts: int, rng: random.Random) -> tuple[int, int, int, str]:
    async with db.transaction() as conn:
        for table in (comments, likes, post_hashtags, follows, posts, hashtags, users):
            await conn.execute(delete(table))
    now = utcnow()
    async with db.transaction() as conn:
        await conn.execute(
            insert(users),
            [
                {
                    "email": f"u{i}@example.com",
                    "nick": f"user{i}",
                    "provider": "local",
                    "created_at": now,
                }
                for i in range(USERS)
            ],
        )
        await conn.execute(
            insert(hashtags), [{"title": f"tag{i}", "created_at": now} for i in range(TAGS)]
        )
        user_ids = (await conn.execute(select(users.c.id))).scalars().all()
        tag_ids = (await conn.execute(select(hashtags.c.id))).scalars().all()
    viewer = user_ids[0]
    # The quiet follower follows 20 accounts of 3 posts each, all older than the rest.
    quiet_viewer, quiet_authors = user_ids[1], user_ids[-QUIET_AUTHORS:]
    busy_authors = user_ids[2:-QUIET_AUTHORS]
    async with db.transaction() as conn:
        await conn.execute(
            insert(follows),
            [
                {"follower_id": viewer, "following_id": u, "created_at": now}
                for u in rng.sample(busy_authors, 20)
            ]
            + [
                {"follower_id": quiet_viewer, "following_id": u, "created_at": now}
                for u in quiet_authors
            ],
        )
        await conn.execute(
            insert(posts),
            [
                {
                    "user_id": u,
                    "content": f"quiet post {n}",
                    "like_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(QUIET_POSTS)
                for u in quiet_authors
            ],
        )
    for start in range(0, n_posts, BATCH):
        count = min(BATCH, n_posts - start)
        async with db.transaction() as conn:
            await conn.execute(
                insert(posts),
                [
                    {
                        "user_id": rng.choice(busy_authors),
                        "content": f"post {start + i} #tag{i % TAGS}",
                        "like_count": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(count)
                ],
            )
            new_ids = (
                (await conn.execute(select(posts.c.id).order_by(posts.c.id.desc()).limit(count)))
                .scalars()
                .all()
            )
            await conn.execute(
                insert(post_hashtags),
                [{"post_id": p, "hashtag_id": tag_ids[p % TAGS]} for p in new_ids],
            )
            await conn.execute(
                insert(comments),
                [
                    {
                        "post_id": p,
                        "user_id": rng.choice(user_ids),
                        "content": "c",
                        "created_at": now,
                    }
                    for p in new_ids
                ],
            )
            liked = [p for p in new_ids if rng.random() < 0.2]
            if liked:
                await conn.execute(
                    insert(likes),
                    [{"user_id": viewer, "post_id": p, "created_at": now} for p in liked],
                )
    if not db.is_sqlite:
        # Bulk loads leave InnoDB's statistics behind; a live server refreshes them itself.
        async with db.read() as conn:
            for table in (posts, likes, comments, follows, post_hashtags, users, hashtags):
                await conn.exec_driver_sql(f"ANALYZE TABLE {table.name}")
    return viewer, quiet_viewer, busy_authors[0], "tag7"


def walking(call: Callable[[int | None], Awaitable[Page]]) -> Callable[[int | None], Any]:
    """The call with /following's merge turned off: the walk it did before (and still does
    for someone who follows more than MERGE_AUTHORS accounts)."""

    async def walk(before: int | None) -> Page:
        merge = post_pages.MERGE_AUTHORS
        post_pages.MERGE_AUTHORS = 0
        try:
            return await call(before)
        finally:
            post_pages.MERGE_AUTHORS = merge

    return walk


async def measure(
    db: Database, viewer: int, quiet_viewer: int, author: int, tag: str, repeats: int
) -> dict[str, tuple]:
    service = PostService(
        db,
        comments=CommentService(db),
        likes=LikeService(db),
        follows=FollowService(db),
        page_size=20,
    )
    calls = {
        "timeline": lambda before: service.timeline(before, viewer),
        "following": lambda before: service.following(viewer, before),
        "following, walk": walking(lambda before: service.following(viewer, before)),
        "quiet": lambda before: service.following(quiet_viewer, before),
        "quiet, walk": walking(lambda before: service.following(quiet_viewer, before)),
        "hashtag": lambda before: service.by_hashtag(tag, before, viewer),
        "user": lambda before: service.by_user(author, before, viewer),
        "likes": lambda before: service.liked_by(viewer, before),
    }
    cursors: dict[str, int | None] = {}
    for name, call in calls.items():
        first = await call(None)
        deep_cursor = first.next_before
        for _ in range(20):  # walk 20 pages in to measure a deep page too
            if deep_cursor is None:
                break
            page = await call(deep_cursor)
            deep_cursor = page.next_before or deep_cursor
        cursors[name] = deep_cursor
    # In turns, every page once per round: a busy moment of the machine weighs on all alike.
    samples: dict[tuple[str, str], list[float]] = {}
    statements: dict[tuple[str, str], int] = {}
    for _ in range(repeats):
        for name, call in calls.items():
            for label, before in (("first", None), ("deep", cursors[name])):
                start_count = db.statement_count
                started = time.perf_counter()
                await call(before)
                samples.setdefault((name, label), []).append(time.perf_counter() - started)
                statements[name, label] = db.statement_count - start_count
    return {
        name: tuple(
            (statistics.median(samples[name, label]) * 1000, statements[name, label])
            for label in ("first", "deep")
        )
        for name in calls
    }


async def run(sizes: list[int], url: str | None, repeats: int) -> None:
    rng = random.Random(7)
    table: dict[int, dict[str, tuple]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            db = Database(
                url or f"sqlite+aiosqlite:///{Path(folder) / f'bench{size}.sqlite3'}",
                query_timeout=None,  # a bulk batch may take longer than a request may
            )
            await db.migrate()
            started = time.perf_counter()
            viewer, quiet_viewer, author, tag = await seed(db, size, rng)
            print(f"seeded {size} posts in {time.perf_counter() - started:.1f} s")
            table[size] = await measure(db, viewer, quiet_viewer, author, tag, repeats)
            await db.dispose()
    small, large = sizes[0], sizes[-1]
    print(f"\nmedian ms per page (statements), {small} vs {large} posts")
    print(
        f"{'page':<16} {'first ' + str(small):>16} {'first ' + str(large):>16} "
        f"{'ratio':>6} {'deep ' + str(small):>16} {'deep ' + str(large):>16} {'ratio':>6}"
    )
    for name in table[small]:
        (fs, fsq), (ds, dsq) = table[small][name]
        (fl, flq), (dl, dlq) = table[large][name]
        print(
            f"{name:<16} {fs:>10.2f} ({fsq:>2}) {fl:>10.2f} ({flq:>2}) {fl / fs:>6.2f} "
            f"{ds:>10.2f} ({dsq:>2}) {dl:>10.2f} ({dlq:>2}) {dl / ds:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--url", help="an empty database URL instead of fresh SQLite files")
    parser.add_argument("--mariadb", action="store_true", help="start a MariaDB of our own")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    if not args.mariadb:
        asyncio.run(run(args.sizes, args.url, args.repeats))
        return
    from testkit.mariadb import MariaDBServer

    with tempfile.TemporaryDirectory() as folder:
        server = MariaDBServer(Path(folder) / "mariadb")
        server.start()
        try:
            url = server.create_database("bench_timeline")
            asyncio.run(run(args.sizes, url, args.repeats))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
