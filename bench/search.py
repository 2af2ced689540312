"""What search costs at 100,000 posts, next to a hashtag page of the same database.

Seeds N posts of Korean text with particles and some English (bulk inserts, indexed with
the same functions the app uses), then measures, for a common two-syllable word, a rare
one, a word of each together and a one-character query:

- SQL statements per search (first page and a page 20 pages deep),
- median time per search page against a hashtag page (first and deep),
- post creation time through ``PostService.create`` with and without the index,
- post creation as a user meets it: ``POST /post`` (the form, logged in, with its XSRF
  token) to two real server processes on the same database, one with the index and one
  without (``bench/search_server.py``), taking turns: median latency one request at a
  time, then requests per second with a few clients at once,
- index rows and bytes per post.

    .venv/bin/python bench/search.py                 # SQLite, 100,000 posts
    .venv/bin/python bench/search.py --mariadb       # starts MariaDB as testkit/mariadb.py does
    .venv/bin/python bench/search.py --url mysql+aiomysql://...   # an empty database
    .venv/bin/python bench/search.py --posts 2000 --repeats 3 --creates 20 \
        --http-rounds 20 --http-slices 1 --http-seconds 1                 # a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sns.comments import CommentService
from sns.db import Database, utcnow
from sns.follows import FollowService
from sns.likes import LikeService
from sns.post_views import Page
from sns.posts import PostService
from sns.schema import (
    comments,
    follows,
    hashtags,
    likes,
    post_hashtags,
    posts,
    search_terms,
    users,
)
from sns.search import SearchService
from sns.search_index import BODY_TERM, SearchIndex, index_rows
from testkit.sns import Client, SnsServer

HERE = Path(__file__).resolve().parent

USERS = 200
TAGS = 50
BATCH = 2000
COMMON = "노드"  # in about one post in ten, with particles
RARE = "도커"  # in about one post in five thousand
SYLLABLES = (
    "가나다라마바사아자차카타파하고노도로모보소오조초코토포호구누두루무부수우주추쿠투푸후"
    "기니디리미비시이지치키티피히강공동문민산상성영정진한"
)
PARTICLES = ["", "", "", "가", "를", "는", "에서", "와", "도", "의", "로"]
LATIN = ["node", "tornado", "python", "async", "sql", "redis", "api", "web", "js", "2024"]


def vocabulary(rng: random.Random) -> list[str]:
    """Two- and three-syllable words that never contain the measured ones."""
    words: set[str] = set()
    while len(words) < 3000:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3))))
        if COMMON not in word and RARE not in word:
            words.add(word)
    return sorted(words)


def make_post(rng: random.Random, words: list[str], number: int) -> str:
    """About 40-60 characters: Zipf-ish Korean words with particles, a little English."""
    parts = []
    for _ in range(rng.randint(6, 11)):
        if rng.random() < 0.15:
            parts.append(rng.choice(LATIN))
        else:
            index = min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)
            parts.append(words[index] + rng.choice(PARTICLES))
    if rng.random() < 0.1:
        parts.insert(rng.randrange(len(parts) + 1), COMMON + rng.choice(PARTICLES))
    if number % 5000 == 17:
        parts.insert(rng.randrange(len(parts) + 1), RARE + rng.choice(PARTICLES))
    return (" ".join(parts) + f" #tag{number % TAGS}")[:140]


async def seed(db: Database, n_posts: int, rng: random.Random) -> int:
    async with db.transaction() as conn:
        for table in (
            search_terms,
            comments,
            likes,
            post_hashtags,
            follows,
            posts,
            hashtags,
            users,
        ):
            await conn.execute(delete(table))
    now = utcnow()
    words = vocabulary(rng)
    async with db.transaction() as conn:
        await conn.execute(
            insert(users),
            [
                {"email": f"u{i}@example.com", "nick": f"user{i}", "created_at": now}
                for i in range(USERS)
            ],
        )
        await conn.execute(
            insert(hashtags), [{"title": f"tag{i}", "created_at": now} for i in range(TAGS)]
        )
        user_ids = (await conn.execute(select(users.c.id))).scalars().all()
        tag_ids = {
            row.title: row.id for row in await conn.execute(select(hashtags.c.id, hashtags.c.title))
        }
    for start in range(0, n_posts, BATCH):
        count = min(BATCH, n_posts - start)
        contents = [make_post(rng, words, start + i) for i in range(count)]
        async with db.transaction() as conn:
            await conn.execute(
                insert(posts),
                [
                    {
                        "user_id": rng.choice(user_ids),
                        "content": content,
                        "like_count": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for content in contents
                ],
            )
            new_ids = (
                (await conn.execute(select(posts.c.id).order_by(posts.c.id.desc()).limit(count)))
                .scalars()
                .all()
            )[::-1]
            await conn.execute(
                insert(post_hashtags),
                [
                    {"post_id": p, "hashtag_id": tag_ids[f"tag{(start + i) % TAGS}"]}
                    for i, p in enumerate(new_ids)
                ],
            )
            await conn.execute(
                insert(search_terms), index_rows(zip(new_ids, contents, strict=True))
            )
        print(f"\r  seeded {start + count} posts", end="", flush=True)
    print()
    if not db.is_sqlite:
        async with db.read() as conn:
            for table in (posts, users, hashtags, post_hashtags, search_terms):
                await conn.exec_driver_sql(f"ANALYZE TABLE {table.name}")
    return int(user_ids[0])


def services(db: Database, *, indexed: bool) -> tuple[PostService, SearchService]:
    post_service = PostService(
        db,
        comments=CommentService(db),
        likes=LikeService(db),
        follows=FollowService(db),
        page_size=20,
        search_index=SearchIndex() if indexed else None,
    )
    return post_service, SearchService(db, posts=post_service)


async def cursors(call: Callable[[int | None], Awaitable[Page]]) -> dict[str, int | None]:
    """The first page's cursor (None) and that of a page 20 pages deep (or the last)."""
    cursor = (await call(None)).next_before
    for _ in range(19):
        if cursor is None:
            break
        cursor = (await call(cursor)).next_before or cursor
    return {"first": None, "deep": cursor}


async def time_pages(
    db: Database, calls: dict[str, Callable[[int | None], Awaitable[Page]]], repeats: int
) -> dict[str, dict[str, tuple[float, int, int]]]:
    """Median ms, statements and posts shown of each call's first and deep page.

    The calls take turns within each repeat, so a busy machine weighs on all of them alike
    and the ratios hold even when the absolute times do not.
    """
    where = {name: await cursors(call) for name, call in calls.items()}
    samples: dict[tuple[str, str], list[float]] = {}
    seen: dict[tuple[str, str], tuple[int, int]] = {}
    for _ in range(repeats):
        for name, call in calls.items():
            for label, before in where[name].items():
                start_count = db.statement_count
                started = time.perf_counter()
                page = await call(before)
                samples.setdefault((name, label), []).append(time.perf_counter() - started)
                seen[(name, label)] = (db.statement_count - start_count, len(page.posts))
    return {
        name: {
            label: (statistics.median(samples[(name, label)]) * 1000, *seen[(name, label)])
            for label in ("first", "deep")
        }
        for name in calls
    }


async def time_creates(
    db: Database, viewer: int, rounds: int
) -> dict[str, dict[bool, tuple[float, int]]]:
    """Median ms and statements per ``PostService.create`` without and with the index,
    for posts with a hashtag (as seeded) and without one; all four take turns."""
    rng = random.Random(11)
    words = vocabulary(rng)
    plain, _ = services(db, indexed=False)
    indexed, _ = services(db, indexed=True)
    samples: dict[tuple[str, bool], list[float]] = {}
    statements: dict[tuple[str, bool], int] = {}
    for number in range(rounds):
        for kind in ("with a hashtag", "without"):
            for with_index, service in ((False, plain), (True, indexed)):
                content = make_post(rng, words, number)
                if kind == "without":
                    content = content.split(" #")[0]
                start_count = db.statement_count
                started = time.perf_counter()
                await service.create(viewer, content)
                samples.setdefault((kind, with_index), []).append(time.perf_counter() - started)
                statements[(kind, with_index)] = db.statement_count - start_count
    return {
        kind: {
            with_index: (
                statistics.median(samples[(kind, with_index)]) * 1000,
                statements[(kind, with_index)],
            )
            for with_index in (False, True)
        }
        for kind in ("with a hashtag", "without")
    }


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


class HttpCreates:
    """``POST /post`` timed against two server processes on one database, one with the
    search index and one without (``bench/search_server.py``), taking turns."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.servers: dict[bool, SnsServer] = {}
        for indexed in (False, True):
            server = SnsServer(data_dir, env)
            server.command_prefix = [
                sys.executable,
                str(HERE / "search_server.py"),
                "--index" if indexed else "--no-index",
            ]
            server.log_path = data_dir / f"server-{'index' if indexed else 'no-index'}.out"
            self.servers[indexed] = server
        self.clients: dict[bool, Client] = {}
        self.sent = {False: 0, True: 0}
        self.rng = random.Random(13)
        self.words = vocabulary(self.rng)
        self.lock = threading.Lock()

    def start(self) -> int:
        """Start both servers (one after the other: they share the data dir), sign up one
        user on the first and log in on the second; returns the user's id."""
        account: dict[str, str] | None = None
        for indexed, server in self.servers.items():
            server.start()
            client = server.client()
            if account is None:
                account = client.join()
            else:
                assert client.login(account["email"]).status_code == 302
            self.clients[indexed] = client
        return self.clients[True].user_id()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def content(self) -> str:
        with self.lock:
            return make_post(self.rng, self.words, self.rng.randrange(100_000))

    def write(self, client: Client, indexed: bool) -> float:
        """One post through the form; its latency in seconds."""
        content = self.content()
        started = time.perf_counter()
        response = client.write(content)
        elapsed = time.perf_counter() - started
        if response.status_code != 302:  # the form's answer: back to the timeline
            raise RuntimeError(f"POST /post answered {response.status_code}: {response.text}")
        with self.lock:
            self.sent[indexed] += 1
        return elapsed

    def one_at_a_time(self, rounds: int) -> dict[bool, list[float]]:
        """Latencies of one request at a time, the two servers taking turns (and turns
        about who goes first)."""
        for indexed in (False, True):  # warm-up: connections, templates, caches
            for _ in range(10):
                self.write(self.clients[indexed], indexed)
        latencies: dict[bool, list[float]] = {False: [], True: []}
        for number in range(rounds):
            for indexed in (False, True) if number % 2 == 0 else (True, False):
                latencies[indexed].append(self.write(self.clients[indexed], indexed))
        return latencies

    def at_once(
        self, threads: int, seconds: float, slices: int
    ) -> dict[bool, tuple[int, float, list[float]]]:
        """``threads`` clients posting as fast as they are answered, for ``seconds`` on one
        server then on the other, ``slices`` times each: requests, seconds and latencies
        per server."""
        found: dict[bool, tuple[int, float, list[float]]] = {False: (0, 0, []), True: (0, 0, [])}
        for number in range(slices):
            for indexed in (False, True) if number % 2 == 0 else (True, False):
                spent, latencies = self.turn(indexed, threads, seconds)
                count, total, earlier = found[indexed]
                found[indexed] = (count + len(latencies), total + spent, earlier + latencies)
        return found

    def turn(self, indexed: bool, threads: int, seconds: float) -> tuple[float, list[float]]:
        """One server's turn: the seconds it took and the latencies of its requests."""
        clients = []
        for _ in range(threads):
            client = Client(self.servers[indexed].url)
            client.http.cookies.update(self.clients[indexed].http.cookies)
            clients.append(client)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        def post_until_deadline(client: Client) -> None:
            mine = []
            while time.perf_counter() < deadline:
                mine.append(self.write(client, indexed))
            with self.lock:
                latencies.extend(mine)

        workers = [threading.Thread(target=post_until_deadline, args=(c,)) for c in clients]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        spent = time.perf_counter() - started
        for client in clients:
            client.http.close()
        return spent, latencies


async def indexed_posts(db: Database, user_id: int) -> tuple[int, int]:
    """The user's posts and how many of them have a body row in the index: the check that
    the server without the index really wrote none and the other indexed every post."""
    async with db.read() as conn:
        total = (
            await conn.execute(
                select(func.count()).select_from(posts).where(posts.c.user_id == user_id)
            )
        ).scalar_one()
        indexed = (
            await conn.execute(
                select(func.count())
                .select_from(posts)
                .join(
                    search_terms,
                    (search_terms.c.post_id == posts.c.id) & (search_terms.c.term == BODY_TERM),
                )
                .where(posts.c.user_id == user_id)
            )
        ).scalar_one()
    return int(total), int(indexed)


async def time_http_creates(
    db: Database, bench: HttpCreates, rounds: int, threads: int, seconds: float, slices: int
) -> None:
    print(f"\nPOST /post over HTTP, two server processes on this database ({load()})")
    user_id = await asyncio.to_thread(bench.start)
    try:
        sequential = await asyncio.to_thread(bench.one_at_a_time, rounds)
        print(f"  one at a time, {rounds} each, in turns ({load()}):")
        medians = {}
        for indexed, latencies in sequential.items():
            medians[indexed] = statistics.median(latencies) * 1000
            name = "with" if indexed else "without"
            print(
                f"    {name} the index: median {medians[indexed]:.2f} ms,"
                f" {len(latencies) / sum(latencies):.1f} requests/s"
            )
        print(f"    with/without: median {(medians[True] / medians[False] - 1) * 100:+.0f}%")
        if slices:
            together = await asyncio.to_thread(bench.at_once, threads, seconds, slices)
            print(f"  {threads} clients at once, {slices} turns of {seconds:g} s each ({load()}):")
            rates = {}
            for indexed, (count, spent, latencies) in together.items():
                rates[indexed] = count / spent
                print(
                    f"    {'with' if indexed else 'without'} the index: {rates[indexed]:.1f}"
                    f" requests/s, median {statistics.median(latencies) * 1000:.2f} ms"
                    f" ({count} requests)"
                )
            print(f"    with/without: {(rates[True] / rates[False] - 1) * 100:+.0f}% requests/s")
    finally:
        await asyncio.to_thread(bench.stop)
    total, indexed = await indexed_posts(db, user_id)
    print(
        f"  check: {total} posts written, {indexed} of them indexed;"
        f" sent {bench.sent[True]} to the server with the index, {bench.sent[False]} without"
    )
    if indexed != bench.sent[True] or total != indexed + bench.sent[False]:
        raise RuntimeError("the servers did not index as they were told")


async def sizes(db: Database) -> dict[str, Any]:
    async with db.read() as conn:
        n_posts = (await conn.execute(select(func.count()).select_from(posts))).scalar_one()
        n_rows = (await conn.execute(select(func.count()).select_from(search_terms))).scalar_one()
        found: dict[str, Any] = {"posts": n_posts, "index rows per post": n_rows / n_posts}
        if db.is_sqlite:
            rows = await conn.execute(
                text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY name")
            )
            by_name = {row[0]: int(row[1]) for row in rows}
            found["bytes per post"] = {
                "posts": by_name.get("posts", 0) / n_posts,
                "search_terms": by_name.get("search_terms", 0) / n_posts,
            }
        else:
            rows = await conn.execute(
                text(
                    "SELECT table_name, data_length + index_length FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                )
            )
            by_name = {row[0]: int(row[1]) for row in rows}
            found["bytes per post"] = {
                name: by_name.get(name, 0) / n_posts for name in ("posts", "search_terms")
            }
    return found


async def run(url: str, n_posts: int, args: argparse.Namespace, http: HttpCreates) -> None:
    # No per-transaction timeout: a bulk batch may take longer than a request may.
    db = Database(url, query_timeout=None)
    await db.migrate()
    if not db.is_sqlite:
        # testkit/mariadb.py starts MariaDB with a 64 MB buffer pool, fine for tests but
        # smaller than the index; a server holding 100,000 posts would have more.
        async with db.read() as conn:
            await conn.exec_driver_sql(f"SET GLOBAL innodb_buffer_pool_size = {512 * 2**20}")
    rng = random.Random(7)
    started = time.perf_counter()
    viewer = await seed(db, n_posts, rng)
    print(f"seeded and indexed {n_posts} posts in {time.perf_counter() - started:.1f} s")
    print(f"{db.engine.name}, {load()}")
    sized = await sizes(db)  # before the posts the bench writes, some without the index
    post_service, search = services(db, indexed=True)
    calls: dict[str, Callable[[int | None], Awaitable[Page]]] = {
        "hashtag page #tag7": lambda before: post_service.by_hashtag("tag7", before, viewer),
        f"search {COMMON} (common)": lambda before: search.search(COMMON, before, viewer),
        f"search {RARE} (rare)": lambda before: search.search(RARE, before, viewer),
        f"search {COMMON}를 (word+particle)": lambda before: search.search(
            COMMON + "를", before, viewer
        ),
        f"search {COMMON} {RARE}": lambda before: search.search(f"{COMMON} {RARE}", before, viewer),
        "search tornado": lambda before: search.search("tornado", before, viewer),
        "search 노 (one char)": lambda before: search.search("노", before, viewer),
    }
    print(f"\nmedian ms per page (statements, posts shown), {n_posts} posts, {db.engine.name}")
    print(f"{'page':<32} {'first':>18} {'deep (20 pages in)':>20}")
    await time_pages(db, calls, 2)  # warm the caches for every query alike
    results = await time_pages(db, calls, args.repeats)
    for name in calls:
        (fm, fs, fp), (dm, ds, dp) = results[name]["first"], results[name]["deep"]
        print(f"{name:<32} {fm:>8.2f} ({fs:>2}, {fp:>2}) {dm:>10.2f} ({ds:>2}, {dp:>2})")
    base_first = results["hashtag page #tag7"]["first"][0]
    base_deep = results["hashtag page #tag7"]["deep"][0]
    print("\nratio to the hashtag page (first, deep):")
    for name, result in results.items():
        first_ratio = result["first"][0] / base_first
        print(f"  {name:<32} {first_ratio:>5.2f} {result['deep'][0] / base_deep:>5.2f}")
    print(f"\npost creation, median ms (statements) of {args.creates} each ({load()}):")
    for kind, timings in (await time_creates(db, viewer, args.creates)).items():
        (plain_ms, plain_n), (indexed_ms, indexed_n) = timings[False], timings[True]
        print(
            f"  {kind:<16} without the index {plain_ms:6.2f} ({plain_n}), "
            f"with it {indexed_ms:6.2f} ({indexed_n}): {(indexed_ms / plain_ms - 1) * 100:+.0f}%"
        )
    if args.http_rounds:
        await time_http_creates(
            db, http, args.http_rounds, args.http_clients, args.http_seconds, args.http_slices
        )
    print(f"\nsizes: {sized}")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--url", help="an empty database URL instead of a fresh SQLite file")
    parser.add_argument("--mariadb", action="store_true", help="start a MariaDB of our own")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument(
        "--http-rounds", type=int, default=300, help="POST /post one at a time (0: no HTTP)"
    )
    parser.add_argument("--http-clients", type=int, default=4, help="clients at once")
    parser.add_argument("--http-seconds", type=float, default=5, help="length of a turn")
    parser.add_argument("--http-slices", type=int, default=6, help="turns of each server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        if args.mariadb:
            from testkit.mariadb import MariaDBServer

            server = MariaDBServer(Path(folder) / "mariadb")
            server.start()
            try:
                url = server.create_database("bench_search")
                http = HttpCreates(data_dir, {"SNS_DATABASE_URL": url})
                asyncio.run(run(url, args.posts, args, http))
            finally:
                server.stop()
            return
        if args.url:
            http = HttpCreates(data_dir, {"SNS_DATABASE_URL": args.url})
            asyncio.run(run(args.url, args.posts, args, http))
            return
        # The file the servers open by default in their data dir.
        http = HttpCreates(data_dir, {})
        url = f"sqlite+aiosqlite:///{http.servers[True].sqlite_path}"
        asyncio.run(run(url, args.posts, args, http))


if __name__ == "__main__":
    main()
