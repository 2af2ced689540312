"""What blocks, mutes and muted words cost a timeline page (#21; mastodon#33765).

Seeds N posts (with the search index) by 200 busy authors, plus 400 accounts of one old
post each, and two readers who follow the same 20 busy authors: one with no block, mute
or muted word, one with 200 blocks (100 each way), 200 mutes and 200 muted words, all of
them of those quiet accounts and of words that old posts hold. Both read the first and a
deep page of / and /following (the service calls the pages make, decorated), in turns;
the ratio of the two is what must stay within 15%, and the statements per page equal (the
fastest run of each is printed too: on a shared machine it is the steadier figure):

    .venv/bin/python bench/safety.py --posts 100000
    .venv/bin/python bench/safety.py --posts 100000 --mariadb   # a MariaDB of its own
    .venv/bin/python bench/safety.py --url sqlite+aiosqlite:///kept.sqlite3 --reuse
                                    # seeds once, then measures what the file holds

The hidden accounts and words are chosen so that they hide few posts: what is measured
is the filter's own cost, not the longer walk a page makes when much of the site is
hidden from its reader (that grows with what is hidden, as it must).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sns.comments import CommentService
from sns.db import Database, utcnow
from sns.follows import FollowService
from sns.likes import LikeService
from sns.posts import PostService
from sns.reader_safety import reading_as, safety_columns, safety_from_row
from sns.safety import fold_word
from sns.schema import (
    blocks,
    comments,
    follows,
    muted_words,
    mutes,
    posts,
    search_terms,
    users,
)
from sns.search_index import index_rows

BUSY = 200
QUIET = 400
HIDDEN = 200
BATCH = 5000
WORDS = [
    "오늘 노드를 배웠다",
    "tornado async server",
    "점심은 김치찌개",
    "SQLAlchemy core queries",
    "주말에 등산 갔어요",
    "benchmark numbers look fine",
]


async def seed(db: Database, n_posts: int, rng: random.Random) -> tuple[int, int]:
    now = utcnow()
    async with db.transaction() as conn:
        await conn.execute(
            insert(users),
            [
                {"email": f"u{i}@example.com", "nick": f"user{i}", "created_at": now}
                for i in range(2 + BUSY + QUIET)
            ],
        )
        ids = list((await conn.execute(select(users.c.id).order_by(users.c.id))).scalars())
    plain, loaded = ids[0], ids[1]
    busy, quiet = ids[2 : 2 + BUSY], ids[2 + BUSY :]
    followed = rng.sample(busy, 20)
    async with db.transaction() as conn:
        await conn.execute(
            insert(follows),
            [
                {"follower_id": reader, "following_id": u, "created_at": now}
                for reader in (plain, loaded)
                for u in followed
            ],
        )
    hidden_words = [f"rareword{i}" for i in range(HIDDEN)]
    # The quiet accounts' posts and the muted words' posts come first: old ones.
    old = [(u, f"old post by a quiet account {u}") for u in quiet]
    old += [(rng.choice(busy), f"an old post with {word}") for word in hidden_words]
    rows = old + [
        (rng.choice(busy), f"{rng.choice(WORDS)} {n} #tag{n % 50} {rng.choice(WORDS)}")
        for n in range(n_posts)
    ]
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        async with db.transaction() as conn:
            await conn.execute(
                insert(posts),
                [
                    {"user_id": u, "content": c, "created_at": now, "updated_at": now}
                    for u, c in chunk
                ],
            )
            new = list(
                (
                    await conn.execute(
                        select(posts.c.id, posts.c.content)
                        .order_by(posts.c.id.desc())
                        .limit(len(chunk))
                    )
                ).all()
            )
            await conn.execute(insert(search_terms), index_rows((r.id, r.content) for r in new))
            await conn.execute(
                insert(comments),
                [
                    {"post_id": r.id, "user_id": rng.choice(ids), "content": "c", "created_at": now}
                    for r in new
                    if rng.random() < 0.3
                ],
            )
    async with db.transaction() as conn:
        half = HIDDEN // 2
        await conn.execute(
            insert(blocks),
            [{"blocker_id": loaded, "blocked_id": u, "created_at": now} for u in quiet[:half]]
            + [
                {"blocker_id": u, "blocked_id": loaded, "created_at": now}
                for u in quiet[half:HIDDEN]
            ],
        )
        await conn.execute(
            insert(mutes),
            [
                {"muter_id": loaded, "muted_id": u, "created_at": now, "until": None}
                for u in quiet[HIDDEN : 2 * HIDDEN]
            ],
        )
        folded = [fold_word(word) for word in hidden_words]
        await conn.execute(
            insert(muted_words),
            [
                {
                    "user_id": loaded,
                    "word": f.folded,
                    "folded": f.folded,
                    "term": f.term,
                    "pattern": f.pattern,
                    "created_at": now,
                }
                for f in folded
            ],
        )
    if not db.is_sqlite:
        async with db.read() as conn:
            for table in (
                posts,
                comments,
                follows,
                users,
                blocks,
                mutes,
                muted_words,
                search_terms,
            ):
                await conn.exec_driver_sql(f"ANALYZE TABLE {table.name}")
    return plain, loaded


async def measure(db: Database, plain: int, loaded: int, repeats: int) -> dict[str, tuple]:
    service = PostService(
        db,
        comments=CommentService(db),
        likes=LikeService(db),
        follows=FollowService(db),
        page_size=20,
    )
    calls = {}
    for who, reader in (("0", plain), ("200", loaded)):
        # What a request learns with its user (kept under the site version: no statement).
        async with db.read() as conn:
            row = (
                await conn.execute(select(*safety_columns(users.c.id)).where(users.c.id == reader))
            ).one()
        said = (reader, safety_from_row(row))

        async def timeline(before: int | None, said: tuple = said) -> Any:
            reading_as(*said)
            return await service.timeline(before, said[0])

        async def following(before: int | None, said: tuple = said) -> Any:
            reading_as(*said)
            return await service.following(said[0], before)

        calls["/", who] = timeline
        calls["/following", who] = following
    deep: dict[tuple[str, str], int | None] = {}
    for key, call in calls.items():
        cursor = None
        for _ in range(20):
            page = await call(cursor)
            cursor = page.next_before or cursor
        deep[key] = cursor
    samples: dict[tuple, list[float]] = {}
    counts: dict[tuple, int] = {}
    for _ in range(repeats):
        for key, call in calls.items():
            for label, before in (("first", None), ("deep", deep[key])):
                counted = db.statement_count
                started = time.perf_counter()
                await call(before)
                samples.setdefault((*key, label), []).append(time.perf_counter() - started)
                counts[(*key, label)] = db.statement_count - counted
    return {
        key: (statistics.median(values) * 1000, counts[key], min(values) * 1000)
        for key, values in samples.items()
    }


async def seeded(db: Database) -> tuple[int, int] | None:
    """The two readers of an earlier ``seed`` of this database, if it was seeded."""
    async with db.read() as conn:
        rows = await conn.execute(
            select(users.c.email, users.c.id).where(
                users.c.email.in_(["u0@example.com", "u1@example.com"])
            )
        )
        found = {row.email: row.id for row in rows}
        n_posts = (await conn.execute(select(func.count()).select_from(posts))).scalar()
    if len(found) < 2:
        return None
    print(f"reusing {n_posts} posts already seeded")
    return found["u0@example.com"], found["u1@example.com"]


async def run(n_posts: int, url: str | None, repeats: int, reuse: bool = False) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(
            url or f"sqlite+aiosqlite:///{Path(folder) / 'safety.sqlite3'}", query_timeout=None
        )
        await db.migrate()
        readers = await seeded(db) if reuse else None
        if readers is None:
            started = time.perf_counter()
            readers = await seed(db, n_posts, random.Random(21))
            print(f"seeded {n_posts} posts in {time.perf_counter() - started:.1f} s")
        plain, loaded = readers
        result = await measure(db, plain, loaded, repeats)
        await db.dispose()
    print(f"\nmedian ms per page (statements) at {n_posts} posts; reader with 0 vs 200 of each")
    print(f"{'page':<18} {'0':>14} {'200':>14} {'ratio':>6} {'min 0':>7} {'min 200':>7}")
    for page in ("/", "/following"):
        for label in ("first", "deep"):
            zero, zc, zero_min = result[page, "0", label]
            many, mc, many_min = result[page, "200", label]
            print(
                f"{page + ' ' + label:<18} {zero:>9.2f} ({zc:>2}) {many:>9.2f} ({mc:>2}) "
                f"{many / zero:>6.2f} {zero_min:>7.2f} {many_min:>7.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100000)
    parser.add_argument("--url", help="an empty, migrated-or-not database URL")
    parser.add_argument("--mariadb", action="store_true", help="start a MariaDB of our own")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--reuse", action="store_true", help="measure --url as an earlier run seeded it"
    )
    args = parser.parse_args()
    if not args.mariadb:
        asyncio.run(run(args.posts, args.url, args.repeats, args.reuse))
        return
    from testkit.mariadb import MariaDBServer

    with tempfile.TemporaryDirectory() as folder:
        server = MariaDBServer(Path(folder) / "mariadb")
        server.start()
        try:
            url = server.create_database("bench_safety")
            asyncio.run(run(args.posts, url, args.repeats))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
