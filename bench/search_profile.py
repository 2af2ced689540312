"""Where the search index's extra time in ``PostService.create`` goes, part by part.

Seeds posts as ``bench/search.py`` does, then times in turns, 300 times each: ``create``
without and with the index, building the rows in Python, an empty write transaction, one
``SELECT 1`` (a round trip), and the index's INSERT with all of a post's rows, with the body
row only and with twice the rows, through SQLAlchemy and as a plain driver ``executemany``.

    .venv/bin/python bench/search_profile.py              # SQLite, 10,000 posts
    .venv/bin/python bench/search_profile.py --mariadb
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

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search import make_post, seed, services, vocabulary
from sns.db import Database
from sns.schema import search_terms
from sns.search_index import index_rows


async def run(url: str, n_posts: int, rounds: int) -> None:
    db = Database(url, query_timeout=None)
    await db.migrate()
    rng = random.Random(7)
    viewer = await seed(db, n_posts, rng)
    words = vocabulary(random.Random(11))
    plain, _ = services(db, indexed=False)
    indexed, _ = services(db, indexed=True)
    driver_sql = (
        "INSERT INTO search_terms (term, post_id, body) VALUES (?, ?, ?)"
        if db.is_sqlite
        else "INSERT INTO search_terms (term, post_id, body) VALUES (%s, %s, %s)"
    )
    samples: dict[str, list[float]] = {}
    rows_per_post: list[int] = []
    next_id = 10_000_000  # index rows of posts that do not exist: no foreign key to posts

    async def in_transaction(name: str, work: Callable[[Any], Awaitable[Any]]) -> None:
        async with db.transaction() as conn:
            started = time.perf_counter()
            await work(conn)
            samples.setdefault(name, []).append(time.perf_counter() - started)

    for number in range(rounds):
        content = make_post(rng, words, number).split(" #")[0]  # no hashtag: the worst case
        for name, service in (("create without the index", plain), ("create with it", indexed)):
            started = time.perf_counter()
            await service.create(viewer, content)
            samples.setdefault(name, []).append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = index_rows([(next_id, content)])
        samples.setdefault("building the rows in Python", []).append(time.perf_counter() - started)
        rows_per_post.append(len(rows))
        started = time.perf_counter()
        async with db.transaction():
            pass
        samples.setdefault("an empty write transaction", []).append(time.perf_counter() - started)
        await in_transaction("SELECT 1", lambda conn: conn.execute(text("SELECT 1")))
        variants = {
            "INSERT, all rows": lambda rows: rows,
            "INSERT, the body row only": lambda rows: rows[:1],
            "INSERT, twice the rows": lambda rows: (
                rows + [dict(row, post_id=row["post_id"] + 5_000_000) for row in rows]
            ),
        }
        for name, pick in variants.items():
            for driver in (False, True):
                next_id += 1
                chosen = pick(index_rows([(next_id, content)]))
                if driver:
                    as_tuples = [(row["term"], row["post_id"], row["body"]) for row in chosen]
                    await in_transaction(
                        f"{name}, plain driver",
                        lambda conn, rows=as_tuples: conn.exec_driver_sql(driver_sql, rows),
                    )
                else:
                    await in_transaction(
                        f"{name}, SQLAlchemy",
                        lambda conn, rows=chosen: conn.execute(insert(search_terms), rows),
                    )
    print(
        f"\nmedian ms of {rounds}, {n_posts} posts, {db.engine.name},"
        f" {statistics.median(rows_per_post):.0f} index rows per post"
    )
    for name, values in samples.items():
        print(f"  {name:<44} {statistics.median(values) * 1000:7.3f}")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--mariadb", action="store_true", help="start a MariaDB of our own")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.mariadb:
            from testkit.mariadb import MariaDBServer

            server = MariaDBServer(Path(folder) / "mariadb")
            server.start()
            try:
                url = server.create_database("bench_search_profile")
                asyncio.run(run(url, args.posts, args.rounds))
            finally:
                server.stop()
            return
        url = f"sqlite+aiosqlite:///{Path(folder) / 'profile.sqlite3'}"
        asyncio.run(run(url, args.posts, args.rounds))


if __name__ == "__main__":
    main()
