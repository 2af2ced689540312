"""SNS over HTTP with wrk, against a Tornado hello-world in the same run (issue #11).

One command starts MariaDB and Redis on loopback as the tests do (``testkit/``),
fills a fresh database per size by bulk insert (users, posts with hashtags, comments and
replies, likes with consistent ``like_count``, follows, the search index, a registered API
site, and a "quiet follower" who follows only accounts with one post each), starts
``run.py`` on it with one process and then one per core, checks with one Python request
that every scenario answers as it should, and times each with wrk. Before each group of
scenarios it times ``bench/hello.py`` with the same processes and wrk options, so every
figure has a ratio to hello measured minutes apart, not hours. It also runs the embedded
default (SQLite, SQL sessions, no Redis), raw bcrypt on all cores, a login storm with a
second wrk on ``/``, and reads each worker's resident memory at the end of its run.

    bench/http                      # all sizes, both backends (~20 min); = make bench-http
    bench/http --quick              # tiny sizes, 2 s runs: does it work?
    bench/http --sizes 10000 --backends mariadb --processes 1 \\
        --scenarios anon user hashtag --duration 10
    bench/http --sizes 10000 --backends mariadb --scenarios crowd crowd-w5 --profile

Results go to ``bench/results/http-<UTC time>.{json,md,png}``. Every server it starts
listens on 127.0.0.1 and is stopped by its PID at the end, on errors and on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import urlencode

import bcrypt
import requests
import sqlalchemy
import tornado
from sqlalchemy import Engine, create_engine, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this worktree's sns/, tests/

from sns.api_clients import new_secret
from sns.db import migrate_url
from sns.schema import (
    comments,
    domains,
    follows,
    hashtags,
    likes,
    post_hashtags,
    posts,
    search_terms,
    users,
)
from sns.search_index import index_rows
from testkit.base import free_port
from testkit.install import ensure_installed, find_install_db, find_mariadbd, find_redis_server
from testkit.mariadb import MariaDBServer
from testkit.redis import RedisServer
from testkit.sns import PASSWORD, SnsServer, my_user_id

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "http.lua"
RESULTS = ROOT / "bench" / "results"
USERS = 1000
TAGS = 50
QUIET = 5  # accounts with one old post each, all the quiet follower follows
FOLLOWS_EACH = 20
BATCH = 5000
EMAIL = "user{}@bench.example"
BCRYPT_COST = 12
CROWD = range(4, 204)  # "a site in use": 200 readers, each with a session of their own
WRITERS = range(204, 224)  # and 20 people who post, like and comment meanwhile
CHEAP_COST = 4  # their passwords: 220 logins at cost 12 would take the bench a minute
WORDS = (
    "오늘 점심은 김치찌개 커피 한잔 날씨가 좋다 산책 주말에 영화를 봤다 퇴근길 버스 노드 "
    "공부 중 tornado python mariadb redis hello world 맛집 추천 고양이 사진 여행 제주도 "
    "새벽 코딩 배포 성공 실패 다시 시작"
).split()


# --------------------------------------------------------------------------- the data


@dataclass
class Fixture:
    """What the scenarios need to know about a filled database."""

    posts: int
    reader: str
    quiet_follower: str
    login_user: str
    popular_tag: str
    post_id: int
    client_secret: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    crowd: list[int] = field(default_factory=lambda: list(CROWD))
    writers: list[int] = field(default_factory=lambda: list(WRITERS))


def sync_url(url: str) -> str:
    """The same database through a blocking driver (the bulk load needs no event loop)."""
    return url.replace("+aiomysql", "+pymysql").replace("+aiosqlite", "")


def _insert(engine: Engine, table: Any, rows: list[dict[str, Any]], batch: int = BATCH) -> None:
    """One transaction per table, executemany in batches (multi-row INSERTs on MariaDB)."""
    with engine.begin() as conn:
        for start in range(0, len(rows), batch):
            conn.execute(insert(table), rows[start : start + batch])


def bulk_engine(url: str) -> Engine:
    """A blocking engine for the load; on SQLite without waiting for the disk (a crash
    during the load loses only the bench's own temporary file)."""
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":

        @sqlalchemy.event.listens_for(engine, "connect")
        def no_sync(connection: Any, record: Any) -> None:
            connection.execute("PRAGMA synchronous = OFF")

    return engine


def fill(url: str, n_posts: int, *, seed: int = 11, search_index: bool = True) -> Fixture:
    """Migrate the empty database at ``url`` and bulk-load ``n_posts`` posts and the rest.

    Ids are given explicitly (1..n) so that no row has to be read back. Users 1 and 3 are
    the reader and the login scenario's account; user 2 is the quiet follower; the last
    ``QUIET`` users wrote only the oldest posts, one each.
    """
    if n_posts < QUIET + 1:
        raise ValueError(f"a database needs at least {QUIET + 1} posts")
    started = time.perf_counter()
    asyncio.run(migrate_url(url))
    rng = Random(seed)
    engine = bulk_engine(url)
    try:
        password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
        cheap_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(CHEAP_COST)).decode()
        cheap = set(CROWD) | set(WRITERS)
        base = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(
            seconds=n_posts + 3600
        )
        _insert(
            engine,
            users,
            [
                {
                    "id": i,
                    "email": EMAIL.format(i),
                    "nick": f"user{i}",
                    "password_hash": cheap_hash if i in cheap else password_hash,
                    "provider": "local",
                    "created_at": base,
                }
                for i in range(1, USERS + 1)
            ],
        )
        _insert(
            engine,
            hashtags,
            [{"id": k + 1, "title": f"tag{k}", "created_at": base} for k in range(TAGS)],
        )
        quiet = list(range(USERS - QUIET + 1, USERS + 1))
        authors = list(range(1, USERS - QUIET + 1))
        tag_weights = [1 / (k + 1) for k in range(TAGS)]  # Zipf: tag0 is on a fifth of posts
        post_rows, tag_rows, comment_rows, like_rows, index_input = [], [], [], [], []
        comment_id = 0
        for post_id in range(1, n_posts + 1):
            author = quiet[post_id - 1] if post_id <= QUIET else rng.choice(authors)
            tags = {rng.choices(range(TAGS), tag_weights)[0]}
            if rng.random() < 0.3:
                tags.add(rng.choices(range(TAGS), tag_weights)[0])
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))
            content = f"{words} {post_id} " + " ".join(f"#tag{k}" for k in sorted(tags))
            at = base + timedelta(seconds=post_id)
            likers = set(
                rng.sample(authors, rng.choices((0, 1, 2, 3, 5, 12), (4, 4, 3, 2, 1, 1))[0])
            )
            if rng.random() < 0.2:
                likers.add(1)  # the reader likes a fifth of everything: filled hearts
            post_rows.append(
                {
                    "id": post_id,
                    "user_id": author,
                    "content": content,
                    "like_count": len(likers),
                    "created_at": at,
                    "updated_at": at,
                }
            )
            tag_rows += [{"hashtag_id": k + 1, "post_id": post_id} for k in tags]
            like_rows += [{"user_id": u, "post_id": post_id, "created_at": at} for u in likers]
            for _ in range(rng.choices((0, 1, 2, 3), (3, 4, 2, 1))[0]):
                comment_id += 1
                parent = comment_id
                comment_rows.append(
                    {
                        "id": comment_id,
                        "post_id": post_id,
                        "user_id": rng.choice(authors),
                        "parent_id": None,
                        "content": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
                        "created_at": at,
                    }
                )
                if rng.random() < 0.25:
                    comment_id += 1
                    comment_rows.append(
                        {
                            "id": comment_id,
                            "post_id": post_id,
                            "user_id": rng.choice(authors),
                            "parent_id": parent,
                            "content": f"@user {rng.choice(WORDS)}",
                            "created_at": at,
                        }
                    )
            if search_index:
                index_input.append((post_id, content))
        _insert(engine, posts, post_rows)
        _insert(engine, post_hashtags, tag_rows)
        _insert(engine, comments, comment_rows)
        _insert(engine, likes, like_rows)
        if search_index:
            with engine.begin() as conn:
                for start in range(0, len(index_input), 2000):
                    conn.execute(
                        insert(search_terms), index_rows(index_input[start : start + 2000])
                    )
        follow_rows = []
        for follower in range(1, USERS + 1):
            if follower == 2:
                chosen = quiet  # the quiet follower: only accounts with a single old post
            else:
                chosen = rng.sample(authors, 50 if follower == 1 else FOLLOWS_EACH)
            follow_rows += [
                {"follower_id": follower, "following_id": f, "created_at": base}
                for f in chosen
                if f != follower
            ]
        _insert(engine, follows, follow_rows)
        secret = new_secret()
        _insert(
            engine,
            domains,
            [
                {
                    "user_id": 1,
                    "host": "bench.example",
                    "type": "premium",
                    "client_secret": secret,
                    "created_at": base,
                }
            ],
        )
        if engine.dialect.name == "mysql":
            # Bulk loads leave InnoDB's statistics behind; a live server refreshes them itself.
            with engine.begin() as conn:
                for table in (users, posts, hashtags, post_hashtags, comments, likes, follows):
                    conn.exec_driver_sql(f"ANALYZE TABLE {table.name}")
                conn.exec_driver_sql(f"ANALYZE TABLE {search_terms.name}")
        counts = table_counts(engine)
    finally:
        engine.dispose()
    popular = Counter(r["hashtag_id"] for r in tag_rows).most_common(1)[0][0] - 1
    busiest = max(range(1, n_posts + 1), key=lambda p: (post_rows[p - 1]["like_count"], p))
    return Fixture(
        posts=n_posts,
        reader=EMAIL.format(1),
        quiet_follower=EMAIL.format(2),
        login_user=EMAIL.format(3),
        popular_tag=f"tag{popular}",
        post_id=busiest,
        client_secret=secret,
        seconds=time.perf_counter() - started,
        counts=counts,
    )


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, and how many posts disagree with their likes (must be 0)."""
    with engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (users, posts, hashtags, post_hashtags, comments, likes, follows)
        }
        counts[search_terms.name] = conn.execute(
            select(func.count()).select_from(search_terms)
        ).scalar_one()
        liked = (
            select(likes.c.post_id, func.count().label("n")).group_by(likes.c.post_id).subquery()
        )
        counts["like_count_wrong"] = conn.execute(
            select(func.count())
            .select_from(posts.outerjoin(liked, liked.c.post_id == posts.c.id))
            .where(posts.c.like_count != func.coalesce(liked.c.n, 0))
        ).scalar_one()
    return counts


def drop_posts_after(url: str, last_id: int) -> int:
    """Delete what the create-post scenario wrote, so the next run sees the same size."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            for table in (post_hashtags, likes, search_terms):
                conn.execute(table.delete().where(table.c.post_id > last_id))
            conn.execute(comments.delete().where(comments.c.post_id > last_id))
            return conn.execute(posts.delete().where(posts.c.id > last_id)).rowcount
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- processes


def server_cpu(pids: list[int]) -> float:
    """Seconds of CPU (user and system) these processes spent so far: per request, it does
    not move with what else the shared machine runs, as requests/s and hello do."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: the 14th and 15th
    return total / os.sysconf("SC_CLK_TCK")


def worker_pids(pid: int) -> list[int]:
    """The children of ``pid`` (the workers of ``--processes N``), or ``pid`` itself."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The second field (the command) may hold spaces; the parent PID follows its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return sorted(children) or [pid]


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process, from /proc/<pid>/status."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def private_mb(pid: int) -> float | None:
    """The part of a process's resident memory no other process shares (its heap, not the
    libraries' pages every worker and program maps once): what one more worker costs."""
    try:
        kb = 0
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                kb += int(line.split()[1])
    except OSError:
        return None
    return kb / 1024


class Hello:
    """bench/hello.py on a free loopback port, stopped by its PID."""

    def __init__(self, processes: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes = processes
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Hello:
        command = [
            sys.executable,
            str(ROOT / "bench" / "hello.py"),
            "--port",
            str(self.port),
            "--processes",
            str(self.processes),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url, timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"bench/hello.py did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The SNS settings of the bench: production's bcrypt cost, limits out of the way."""
    return {
        "SNS_DATABASE_URL": database_url,
        "SNS_REDIS_URL": redis_url,
        "SNS_COOKIE_SECRET": "bench-cookie-secret-" + "x" * 32,
        "SNS_JWT_SECRET": "bench-jwt-secret-" + "y" * 32,
        "SNS_BCRYPT_ROUNDS": str(BCRYPT_COST),
        "SNS_BCRYPT_WAIT": "120",  # a login storm queues; the bench counts it, not 503s
        "SNS_QUERY_COUNT_HEADER": "false",
        "SNS_DEBUG": "false",
        "SNS_LOG_TO": "files",  # JSON lines in the temp dir, as in production; none on the tty
        # Every request of the bench comes from 127.0.0.1, logins for one account at once:
        "SNS_LOGIN_MAX_FAILURES": "1000000",
        "SNS_LOGIN_MAX_FAILURES_IP": "1000000",
        "SNS_RATE_FREE": "10000000",
        "SNS_RATE_PREMIUM": "10000000",
        "SNS_RATE_ANONYMOUS": "10000000",
        # create-post writes from one account as fast as it can: no flood limit (#21).
        "SNS_POSTS_PER_WINDOW": "1000000",
        "SNS_COMMENTS_PER_WINDOW": "1000000",
    }


# --------------------------------------------------------------------------- wrk


@dataclass
class Call:
    """One scenario's request, for the Python check and for wrk (bench/http.lua)."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    expect: int = 200
    unique: bool = False  # "{n}" in the body becomes a number unique in the run
    user_id: int | None = None  # the page must be the one this user sees (logged in)
    cookies: list[str] = field(default_factory=list)  # wrk takes one at random per request
    writes: float = 0.0  # posts, likes and comments a second by others while it runs


@dataclass
class Timing:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    expected: int
    unexpected: int
    socket_errors: int
    non_2xx_3xx: int
    unexpected_status: int
    cpu_seconds: float = 0.0
    """CPU the server's processes spent during the timed run (``server_cpu``)."""

    @property
    def bad_share(self) -> float:
        return (self.unexpected + self.socket_errors) / max(1, self.requests)


def check(base_url: str, call: Call) -> None:
    """One request with Python first: a bench that times 403s or 429s is worthless."""
    answer = requests.request(
        call.method,
        base_url + call.path,
        headers=call.headers,
        data=call.body.replace("{n}", "check").encode() if call.body else None,
        allow_redirects=False,
        timeout=60,
    )
    if answer.status_code != call.expect:
        raise RuntimeError(
            f"{call.method} {call.path} answered {answer.status_code}, not {call.expect}: "
            f"{answer.text[:400]!r}"
        )
    if call.user_id is not None:
        try:
            seen = my_user_id(answer.text)
        except (ValueError, AttributeError):  # no profile box: an anonymous page
            seen = None
        if seen != call.user_id:
            raise RuntimeError(f"{call.path} was not the page of user {call.user_id}: {seen}")


def wrk(
    base_url: str,
    call: Call,
    *,
    threads: int,
    connections: int,
    seconds: float,
) -> Timing:
    """Run wrk with bench/http.lua and read its BENCH_JSON line. Every request says it
    takes gzip, as every browser does (a logged-in reader's kept page is kept gzipped)."""
    headers = {"Accept-Encoding": "gzip, deflate", **call.headers}
    env = dict(
        os.environ,
        BENCH_METHOD=call.method,
        BENCH_BODY=call.body,
        BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in headers.items()),
        BENCH_EXPECT=str(call.expect),
        BENCH_UNIQUE="1" if call.unique else "0",
        BENCH_COOKIES="\n".join(call.cookies),
    )
    command = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(LUA),
        base_url + call.path,
    ]
    done = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    match = re.search(r"^BENCH_JSON (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    data = json.loads(match.group(1))
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    errors = data["errors"]
    return Timing(
        rps=data["expected"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        expected=data["expected"],
        unexpected=data["unexpected"],
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        non_2xx_3xx=int(non.group(1)) if non else 0,
        unexpected_status=data["unexpected_status"],
    )


# --------------------------------------------------------------------------- scenarios


@dataclass
class Session:
    """Cookies and tokens taken over HTTP from a freshly started server."""

    reader_cookie: str
    reader_xsrf: str
    quiet_cookie: str
    anonymous_cookie: str
    anonymous_xsrf: str
    token: str
    crowd_cookies: list[str] = field(default_factory=list)
    writers: list[Any] = field(default_factory=list)  # logged-in testkit Clients


def cookie_header(client: Any) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.http.cookies.items())


def open_sessions(server: SnsServer, fixture: Fixture) -> Session:
    reader = server.client()
    if reader.login(fixture.reader).status_code != 302:
        raise RuntimeError(f"the reader could not log in:\n{server.output()}")
    quiet = server.client()
    if quiet.login(fixture.quiet_follower).status_code != 302:
        raise RuntimeError("the quiet follower could not log in")
    anonymous = server.client()
    anonymous_xsrf = anonymous.xsrf()
    answer = requests.post(
        server.url + "/v2/token", json={"clientSecret": fixture.client_secret}, timeout=30
    )
    if answer.status_code != 200:
        raise RuntimeError(f"/v2/token answered {answer.status_code}: {answer.text[:300]}")
    crowd = log_in_all(server, fixture.crowd)
    writers = log_in_all(server, fixture.writers)
    for writer in writers:
        writer.xsrf()  # read once now, not while the clock runs
    return Session(
        crowd_cookies=[cookie_header(client) for client in crowd],
        writers=writers,
        reader_cookie=cookie_header(reader),
        reader_xsrf=reader.xsrf(),
        quiet_cookie=cookie_header(quiet),
        anonymous_cookie=cookie_header(anonymous),
        anonymous_xsrf=anonymous_xsrf,
        token=answer.json()["token"],
    )


def log_in_all(server: SnsServer, user_ids: list[int]) -> list[Any]:
    """A logged-in client for each of these users (cheap passwords: CHEAP_COST)."""

    def log_in(user_id: int) -> Any:
        client = server.client()
        answer = client.login(EMAIL.format(user_id))
        if answer.status_code != 302:
            raise RuntimeError(f"user {user_id} could not log in: {answer.status_code}")
        return client

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(log_in, user_ids))


class Writers(threading.Thread):
    """Others using the site while a scenario is timed: a post, a like and a comment in
    turn, ``rate`` a second in all, each by the next of the writers, over HTTP as a
    browser sends them. Each write is sent when it is due, whether or not the ones before
    have been answered (at most one in flight per writer), so a slow server still gets
    the rate asked for."""

    def __init__(self, clients: list[Any], rate: float, posts: int, tag: str) -> None:
        super().__init__(daemon=True)
        self.clients, self.rate, self.posts, self.tag = clients, rate, posts, tag
        self.halt = threading.Event()
        self.done = 0
        self.failed = 0
        self.started_at = 0.0
        self.seconds = 0.0
        self.random = Random(5)
        self.in_flight = threading.Semaphore(len(clients))
        self.lock = threading.Lock()

    def write(self, number: int) -> bool:
        client = self.clients[number % len(self.clients)]
        post_id = self.random.randint(1, self.posts)
        kind = number % 3
        if kind == 0:
            answer = client.write(f"site in use {number} 새 글 #{self.tag}")
        elif kind == 1:
            answer = client.post(f"/post/{post_id}/like", allow_redirects=False)
        else:
            answer = client.post(
                f"/comment/{post_id}", {"content": f"댓글 {number}"}, allow_redirects=False
            )
        return answer.status_code in (200, 302)

    def send(self, number: int) -> None:
        try:
            ok = self.write(number)
        except requests.RequestException:
            ok = False
        finally:
            self.in_flight.release()
        with self.lock:
            self.done += ok
            self.failed += not ok

    def run(self) -> None:
        self.started_at = due = time.monotonic()
        number = 0
        with ThreadPoolExecutor(len(self.clients)) as pool:
            while not self.halt.is_set():
                if self.in_flight.acquire(timeout=1):
                    pool.submit(self.send, number)
                    number += 1
                # A late write is not made up for twice: the schedule lags at most a second.
                due = max(due + 1 / self.rate, time.monotonic() - 1)
                self.halt.wait(max(0.0, due - time.monotonic()))
            self.seconds = time.monotonic() - self.started_at

    def stop(self) -> str:
        self.halt.set()
        self.join(30)
        rate = self.done / self.seconds if self.seconds else 0.0
        return f"{rate:.1f} writes/s done ({self.failed} failed)"


FORM = "application/x-www-form-urlencoded"

SCENARIOS: dict[str, tuple[str, Callable[[Fixture, Session], Call]]] = {
    "anon": ("anonymous /", lambda f, s: Call("/")),
    "user": (
        "logged-in /",
        lambda f, s: Call("/", headers={"Cookie": s.reader_cookie}, user_id=1),
    ),
    "hashtag": (
        "/hashtag (logged in)",
        lambda f, s: Call(
            f"/hashtag?hashtag={f.popular_tag}", headers={"Cookie": s.reader_cookie}, user_id=1
        ),
    ),
    "following": (
        "/following",
        lambda f, s: Call("/following", headers={"Cookie": s.reader_cookie}, user_id=1),
    ),
    "following-quiet": (
        "/following, quiet follower",
        lambda f, s: Call("/following", headers={"Cookie": s.quiet_cookie}, user_id=2),
    ),
    "post": ("/post/<id> (anonymous)", lambda f, s: Call(f"/post/{f.post_id}")),
    "token": (
        "POST /v2/token",
        lambda f, s: Call(
            "/v2/token",
            method="POST",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"clientSecret": f.client_secret}),
        ),
    ),
    "api-hashtag": (
        "GET /v2/posts/hashtag/<tag>",
        lambda f, s: Call(
            f"/v2/posts/hashtag/{f.popular_tag}", headers={"Authorization": f"Bearer {s.token}"}
        ),
    ),
    "login": (
        "POST /auth/login (302s)",
        lambda f, s: Call(
            "/auth/login",
            method="POST",
            headers={"Cookie": s.anonymous_cookie, "Content-Type": FORM},
            body=urlencode(
                {"_xsrf": s.anonymous_xsrf, "email": f.login_user, "password": PASSWORD}
            ),
            expect=302,
        ),
    ),
    "create-post": (
        "POST /post",
        lambda f, s: Call(
            "/post",
            method="POST",
            headers={"Cookie": s.reader_cookie, "Content-Type": FORM},
            body=urlencode(
                {"_xsrf": s.reader_xsrf, "content": f"bench {{n}} 새 글 #{f.popular_tag}"}
            ).replace("%7Bn%7D", "{n}"),
            expect=302,
            unique=True,
        ),
    ),
}


def crowd(path: str, writes: float = 0.0) -> Callable[[Fixture, Session], Call]:
    """``path`` asked by the 200 readers of the crowd in turn, while others write."""

    def make(f: Fixture, s: Session) -> Call:
        return Call(
            path.format(tag=f.popular_tag),
            headers={"Cookie": s.crowd_cookies[0]},
            user_id=f.crowd[0],
            cookies=s.crowd_cookies,
            writes=writes,
        )

    return make


# "A site in use" (#22): many readers, each with a session of their own, while others
# post, like and comment 1 or 5 times a second.
SCENARIOS |= {
    "crowd": ("logged-in /, 200 readers", crowd("/")),
    "crowd-w1": ("logged-in /, 200 readers, 1 write/s", crowd("/", 1)),
    "crowd-w5": ("logged-in /, 200 readers, 5 writes/s", crowd("/", 5)),
    "anon-w5": ("anonymous /, 5 writes/s", lambda f, s: Call("/", writes=5)),
    "following-w5": ("/following, 200 readers, 5 writes/s", crowd("/following", 5)),
    "hashtag-w5": ("/hashtag, 200 readers, 5 writes/s", crowd("/hashtag?hashtag={tag}", 5)),
    "search-w5": ("/search, 200 readers, 5 writes/s", crowd("/search?q=%EC%BB%A4%ED%94%BC", 5)),
    "api-hashtag-w5": (
        "GET /v2/posts/hashtag/<tag>, 5 writes/s",
        lambda f, s: Call(
            f"/v2/posts/hashtag/{f.popular_tag}",
            headers={"Authorization": f"Bearer {s.token}"},
            writes=5,
        ),
    ),
}
SQLITE_SCENARIOS = ("anon", "user", "hashtag", "crowd", "crowd-w1", "crowd-w5", "anon-w5")


# --------------------------------------------------------------------------- the run


@dataclass
class Row:
    scenario: str
    backend: str
    size: int
    processes: int
    rps: float
    p50_ms: float
    p99_ms: float
    hello_rps: float
    ratio: float
    requests: int
    bad_share: float
    note: str = ""
    cpu_ms: float = 0.0
    """The server's CPU per request of the timed run, in milliseconds."""


@dataclass
class Run:
    options: dict[str, Any]
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    bcrypt: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def bcrypt_rate(threads: int, seconds: float) -> float:
    """bcrypt checks per second at cost 12 on ``threads`` threads (bcrypt drops the GIL)."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(BCRYPT_COST))
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        while time.monotonic() < stop:
            bcrypt.checkpw(PASSWORD.encode(), hashed)
            counts[index] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def machine() -> dict[str, Any]:
    def first_line(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)  # noqa: S603
        except OSError:
            return "not installed"
        return (
            (done.stdout or done.stderr).strip().splitlines()[0]
            if done.stdout or done.stderr
            else ""
        )

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    total = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE)
    return {
        "cpu": model.group(1) if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(int(total.group(1)) / 2**20, 1) if total else None,
        "load_average_start": os.getloadavg(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tornado": tornado.version,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "mariadb": first_line(["/usr/sbin/mariadbd", "--version"]),
        "redis": first_line(["redis-server", "--version"]),
        "wrk": first_line(["wrk", "-v"]),
    }


class Bench:
    """One run: the servers it starts, the groups of scenarios, what it records."""

    def __init__(self, args: argparse.Namespace, folder: Path, run: Run) -> None:
        self.args = args
        self.folder = folder
        self.run = run
        self.cores = os.cpu_count() or 1
        self.profiles = folder / "profiles"  # main() puts them beside the results

    def say(self, message: str) -> None:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)

    def time_call(
        self,
        base_url: str,
        call: Call,
        *,
        slow: bool = False,
        cpu: Callable[[], float] | None = None,
    ) -> Timing:
        """Check one answer, warm up, time. A ``slow`` call (a login: bcrypt at cost 12
        takes a core a quarter of a second or more) gets two connections per core and
        at least 10 s, or wrk would stop before the queued logins come back."""
        check(base_url, call)
        connections = min(self.args.connections, 2 * self.cores) if slow else None
        options = {
            "threads": self.args.threads,
            "connections": connections or self.args.connections,
        }
        if self.args.warmup > 0 and not slow:
            warm = wrk(base_url, call, seconds=self.args.warmup, **options)
            # wrk leaves up to one request per connection behind, which the server still
            # serves: let it finish them before the clock starts.
            time.sleep(min(10.0, warm.p99_ms / 1000 if warm.expected else 2.0))
        seconds = max(self.args.duration, 10) if slow else self.args.duration
        before = cpu() if cpu else 0.0
        timing = wrk(base_url, call, seconds=seconds, **options)
        return replace(timing, cpu_seconds=cpu() - before) if cpu else timing

    def hello(self, processes: int) -> float:
        with Hello(processes, self.folder / "hello.log") as hello:
            timing = self.time_call(hello.url, Call("/"))
        self.say(f"hello, {processes} process(es): {timing.rps:,.0f} req/s")
        return timing.rps

    def record(
        self,
        name: str,
        backend: str,
        size: int,
        processes: int,
        timing: Timing,
        hello: float,
        *,
        may_be_empty: bool = False,
        note: str = "",
    ) -> None:
        row = Row(
            scenario=name,
            backend=backend,
            size=size,
            processes=processes,
            rps=round(timing.rps, 1),
            p50_ms=round(timing.p50_ms, 2),
            p99_ms=round(timing.p99_ms, 2),
            hello_rps=round(hello, 1),
            ratio=round(timing.rps / hello, 4) if hello else 0.0,
            requests=timing.requests,
            bad_share=round(timing.bad_share, 4),
            note=note,
            cpu_ms=round(1000 * timing.cpu_seconds / timing.requests, 3) if timing.requests else 0,
        )
        self.run.rows.append(row)
        flag = ""
        if timing.bad_share > 0.01:
            flag = (
                f"  ** FAILED: {timing.unexpected} answers were not the expected status "
                f"(e.g. {timing.unexpected_status}), {timing.socket_errors} socket errors, "
                f"wrk's non-2xx/3xx: {timing.non_2xx_3xx} **"
            )
        elif timing.expected == 0 and not may_be_empty:
            flag = "  ** FAILED: no answer came back within the run **"
        if flag:
            self.run.failures.append(f"{name} {backend} {size} x{processes}: {flag.strip(' *')}")
        self.say(
            f"{name:<30} {backend:<7} {size:>7} x{processes}: {timing.rps:>8,.1f} req/s "
            f"p50 {timing.p50_ms:7.2f} ms p99 {timing.p99_ms:7.2f} ms "
            f"= {row.ratio:.1%} of hello, {row.cpu_ms:.2f} ms CPU/req"
            f"{' (' + note + ')' if note else ''}{flag}"
        )

    def block(
        self,
        backend: str,
        fixture: Fixture,
        url: str,
        env: dict[str, str],
        data_dir: Path,
        processes: int,
        names: list[str],
    ) -> None:
        """One server (1 or N processes) on one database: hello first, then each scenario."""
        hello = self.hello(processes)
        settings = dict(item.split("=", 1) for item in self.args.server_setting)
        server = SnsServer(data_dir, env | settings)
        server.python = self.args.server_python
        if processes > 1:
            server.args = ["--processes", str(processes)]
        server.start()
        try:
            if processes > 1:
                server.workers(processes)
            top = server.process.pid if server.process else 0
            pids = [top, *worker_pids(top)] if processes > 1 else [top]
            session = open_sessions(server, fixture)
            for name in names:
                title, make = SCENARIOS[name]
                call = make(fixture, session)
                if name == "login":
                    self.raw_bcrypt(backend, fixture.posts, processes, hello)
                writers = None
                if call.writes:
                    writers = Writers(
                        session.writers, call.writes, fixture.posts, fixture.popular_tag
                    )
                    writers.start()
                try:
                    with self.profiled(server, name, backend, fixture.posts, processes):
                        timing = self.time_call(
                            server.url, call, slow=name == "login", cpu=lambda: server_cpu(pids)
                        )
                finally:
                    note = writers.stop() if writers else ""
                self.record(title, backend, fixture.posts, processes, timing, hello, note=note)
                if name == "create-post" or writers:
                    removed = drop_posts_after(url, fixture.posts)
                    self.say(f"removed the {removed} posts the bench wrote")
            if "login" in names and backend == "mariadb":
                self.login_storm(server, fixture, session, processes, hello)
            pid = server.process.pid if server.process else 0
            pids = [pid] if processes == 1 else worker_pids(pid)
            self.run.memory.append(
                {
                    "backend": backend,
                    "size": fixture.posts,
                    "processes": processes,
                    "rss_mb": [round(rss_mb(pid) or 0, 1) for pid in pids],
                    "private_mb": [round(private_mb(pid) or 0, 1) for pid in pids],
                }
            )
        finally:
            server.stop()

    @contextlib.contextmanager
    def profiled(
        self, server: SnsServer, name: str, backend: str, size: int, processes: int
    ) -> Iterator[None]:
        """With ``--profile``: py-spy samples the server (and its workers) meanwhile."""
        if not self.args.profile or server.process is None:
            yield
            return
        self.profiles.mkdir(parents=True, exist_ok=True)
        out = self.profiles / f"{name}-{backend}-{size}-x{processes}.txt"
        spy = subprocess.Popen(  # noqa: S603
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--nonblocking",
                "--subprocesses",
                "--format",
                "raw",
                "--rate",
                "200",
                "--pid",
                str(server.process.pid),
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        if out.exists():
            self.say(f"profile of {name}: {out}\n{hot_functions(out)}")

    def raw_bcrypt(self, backend: str, size: int, processes: int, hello: float) -> None:
        """bcrypt checks per second on all cores right before the logins, the server idle:
        the ceiling of logins per second, measured under the same load of the machine."""
        rate = bcrypt_rate(self.cores, min(self.args.duration, 5))
        timing = Timing(rate, 0.0, 0.0, 0, 1, 0, 0, 0, 0)
        self.record(
            f"raw bcrypt cost {BCRYPT_COST}, {self.cores} threads",
            backend,
            size,
            processes,
            timing,
            hello,
        )

    def login_storm(
        self, server: SnsServer, fixture: Fixture, session: Session, processes: int, hello: float
    ) -> None:
        """wrk on /auth/login with the usual connections (far more than bcrypt can serve:
        most wait for a turn all along), and beside it a light wrk (two connections) on
        anonymous / whose p99 is what a reader meets during the storm."""
        login = SCENARIOS["login"][1](fixture, session)
        probe = Call("/")
        results: dict[str, Timing] = {}

        def storm() -> None:
            results["login"] = wrk(
                server.url,
                login,
                threads=self.args.threads,
                connections=self.args.connections,
                seconds=max(self.args.duration, 10) + 2,
            )

        thread = threading.Thread(target=storm)
        thread.start()
        time.sleep(1)
        results["probe"] = wrk(
            server.url, probe, threads=1, connections=2, seconds=max(self.args.duration, 10)
        )
        thread.join()
        self.record(
            "anonymous / during a login storm",
            "mariadb",
            fixture.posts,
            processes,
            results["probe"],
            hello,
        )
        self.record(
            "POST /auth/login, the storm",
            "mariadb",
            fixture.posts,
            processes,
            results["login"],
            hello,
            may_be_empty=True,
        )

    def mariadb(self, sizes: list[int], processes: list[int]) -> None:
        if not (find_mariadbd() and find_install_db() and find_redis_server()):
            # As root with apt-get this installs what the tests install; else it raises with
            # the apt-get command to run.
            ensure_installed(required=True)
        with (
            MariaDBServer(self.folder / "mariadb") as db,
            RedisServer(self.folder / "redis") as redis,
        ):
            connection: Any = db.connect()
            try:
                with connection.cursor() as cursor:
                    # The tests' 64 MB buffer pool is a test size; a site of 100,000 posts
                    # would give InnoDB more.
                    cursor.execute(f"SET GLOBAL innodb_buffer_pool_size = {512 * 2**20}")
            finally:
                connection.close()
            names = [n for n in SCENARIOS if n in self.args.scenarios]
            for size in sizes:
                url = db.create_database(f"bench_{size}")
                self.say(f"filling MariaDB with {size:,} posts")
                fixture = fill(url, size, search_index=not self.args.no_search_index)
                self.fill_done("mariadb", fixture)
                env = server_env(url, redis.url)
                for count in processes:
                    with self.redis_flushed(redis):
                        self.block(
                            "mariadb", fixture, url, env, self.folder / f"m{size}", count, names
                        )

    @contextlib.contextmanager
    def redis_flushed(self, redis: RedisServer) -> Iterator[None]:
        """Each server starts on an empty Redis: no sessions or counters of the last one."""
        with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)
        yield

    def sqlite(self, sizes: list[int], processes: list[int]) -> None:
        names = [n for n in SCENARIOS if n in self.args.scenarios and n in SQLITE_SCENARIOS]
        for size in sizes:
            data_dir = self.folder / f"s{size}"
            data_dir.mkdir()
            url = f"sqlite+aiosqlite:///{data_dir / 'sns.sqlite3'}"
            self.say(f"filling SQLite with {size:,} posts")
            fixture = fill(url, size, search_index=not self.args.no_search_index)
            self.fill_done("sqlite", fixture)
            for count in processes:
                self.block("sqlite", fixture, url, server_env("", ""), data_dir, count, names)

    def fill_done(self, backend: str, fixture: Fixture) -> None:
        self.say(f"filled in {fixture.seconds:.1f} s: {fixture.counts}")
        if fixture.counts["like_count_wrong"]:
            raise RuntimeError("posts.like_count disagrees with the likes table")
        self.run.fills.append(
            {"backend": backend, "size": fixture.posts, "seconds": round(fixture.seconds, 1)}
            | fixture.counts
        )


# --------------------------------------------------------------------------- output


def hot_functions(collapsed: Path, top: int = 15) -> str:
    """From py-spy's collapsed stacks of the serving processes' event-loop threads (the
    stacks that start in run.py; the database and bcrypt threads mostly wait): the
    functions most often on top of the stack (self) and on it at all (inclusive), as
    shares of those samples. The event loop waiting in ``select`` is idle time."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if not any("(run.py:" in frame for frame in frames):
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "  (no samples)"
    lines = ["  self:"]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["  inclusive (sns/, handlers/, templates):"]
    ours = [
        (frame, n)
        for frame, n in inclusive.most_common()
        if any(f"({part}" in frame for part in ("sns/", "handlers/", "templates/", "serving/"))
    ]
    lines += [f"    {n / total:6.1%}  {frame}" for frame, n in ours[:top]]
    return "\n".join(lines)


def markdown(run: Run) -> str:
    m = run.machine
    lines = [
        f"Run {run.options['started']} UTC; {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB; load average {_load(m['load_average_start'])} at the start, "
        f"{_load(m.get('load_average_end', ()))} at the end; Linux {m['kernel']}; "
        f"Python {m['python']}, Tornado {m['tornado']}, SQLAlchemy {m['sqlalchemy']}, "
        f"SQLite {m['sqlite']}; {m['mariadb']}; {m['redis']}; {m['wrk']}.",
        "",
        f"wrk -t{run.options['threads']} -c{run.options['connections']} "
        f"-d{run.options['duration']}s after a {run.options['warmup']} s warm-up; requests/s "
        "counts only answers with the expected status; ratio = requests/s / hello's "
        "requests/s, hello timed with the same processes just before each group; CPU ms "
        "= the server processes' CPU during the timed run per request (steadier than "
        "requests/s on a shared machine).",
        "",
        "| scenario | backend | posts | processes | req/s | p50 ms | p99 ms | ratio to hello "
        "| CPU ms | answers | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in run.rows:
        if r.requests == 0:  # a rate measured outside HTTP: raw bcrypt
            lines.append(
                f"| {r.scenario} | {r.backend} | {r.size:,} | {r.processes} | {r.rps:,.2f} "
                "| | | | | | |"
            )
            continue
        lines.append(
            f"| {r.scenario} | {r.backend} | {r.size:,} | {r.processes} | {r.rps:,.1f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.ratio:.1%} | {r.cpu_ms:.2f} | "
            f"{r.requests:,} | {r.note} |"
        )
    hellos = sorted({(r.backend, r.size, r.processes, r.hello_rps) for r in run.rows})
    lines += ["", "| hello before | posts | processes | req/s |", "|---|---|---|---|"]
    lines += [f"| {b} | {s:,} | {p} | {h:,.0f} |" for b, s, p, h in hellos]
    if run.bcrypt:
        lines += [
            "",
            "Raw bcrypt (cost 12) checks per second: "
            + ", ".join(f"{k}: {v:.2f}" for k, v in run.bcrypt.items())
            + ".",
        ]
    if run.memory:
        served_by = run.options.get("server_python") or "the bench's own Python"
        if run.options.get("server_settings"):
            served_by += ", with " + ", ".join(run.options["server_settings"])
        lines += [
            "",
            f"Served by {served_by}.",
            "",
            "| resident memory after the run | posts | processes | MB per worker | of it private |",
        ]
        lines += ["|---|---|---|---|---|"]
        for entry in run.memory:
            lines.append(
                f"| {entry['backend']} | {entry['size']:,} | {entry['processes']} | "
                + ", ".join(f"{mb:.0f}" for mb in entry["rss_mb"])
                + " | "
                + ", ".join(f"{mb:.0f}" for mb in entry.get("private_mb", []))
                + " |"
            )
    if run.fills:
        lines += ["", "| fill | posts | seconds | comments | likes | follows | search rows |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for f in run.fills:
            lines.append(
                f"| {f['backend']} | {f['size']:,} | {f['seconds']} | {f['comments']:,} | "
                f"{f['likes']:,} | {f['follows']:,} | {f['search_terms']:,} |"
            )
    if run.failures:
        lines += ["", "**Failed scenarios (more than 1% unexpected answers):**", ""]
        lines += [f"- {failure}" for failure in run.failures]
    return "\n".join(lines) + "\n"


def _load(values: Any) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"


def plot(run: Run, path: Path) -> None:
    """Requests/s against database size, one line per scenario (the same colour and marker in
    every panel), a panel per backend and process count, hello dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(r.backend for r in run.rows))
    counts = sorted({r.processes for r in run.rows})
    if not backends:
        return
    scenarios = list(dict.fromkeys(r.scenario for r in run.rows))
    colours = plt.get_cmap("tab20").colors
    markers = "osD^v<>phX*P"
    style = {
        name: {"color": colours[i % len(colours)], "marker": markers[i % len(markers)]}
        for i, name in enumerate(scenarios)
    }
    figure, axes = plt.subplots(
        len(backends),
        len(counts),
        figsize=(6 * len(counts) + 3, 4.5 * len(backends)),
        squeeze=False,
        sharey=True,
    )
    for row, backend in enumerate(backends):
        for column, processes in enumerate(counts):
            ax = axes[row][column]
            rows = [r for r in run.rows if r.backend == backend and r.processes == processes]
            for scenario in dict.fromkeys(r.scenario for r in rows):
                points = sorted((r.size, r.rps) for r in rows if r.scenario == scenario)
                ax.plot(*zip(*points, strict=True), label=scenario, **style[scenario])
            hello = sorted({(r.size, r.hello_rps) for r in rows})
            if hello:
                ax.plot(*zip(*hello, strict=True), "k--", marker="x", label="hello")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{backend}, {processes} process{'es' if processes > 1 else ''}")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("posts in the database")
        axes[row][0].set_ylabel("requests/s")
    handles = [plt.Line2D([], [], label=name, **style[name]) for name in scenarios]
    handles.append(plt.Line2D([], [], color="k", linestyle="--", marker="x", label="hello"))
    figure.legend(handles=handles, loc="center right", fontsize=8)
    figure.suptitle(
        f"SNS over HTTP, wrk -t{run.options['threads']} -c{run.options['connections']} "
        f"-d{run.options['duration']}s, {run.options['started']} UTC"
    )
    figure.tight_layout(rect=(0, 0, 1 - 2.8 / (6 * len(counts) + 3), 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def print_table(run: Run) -> None:
    print()
    print(
        f"{'scenario':<34} {'backend':<8} {'posts':>7} {'proc':>4} {'req/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'ratio':>7} {'CPU ms':>7}"
    )
    for r in run.rows:
        print(
            f"{r.scenario:<34} {r.backend:<8} {r.size:>7} {r.processes:>4} {r.rps:>9,.1f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.ratio:>7.1%} {r.cpu_ms:>7.2f}"
        )
    for entry in run.memory:
        print(
            f"RSS MB {entry['backend']} {entry['size']} x{entry['processes']}: "
            f"{entry['rss_mb']}, private {entry.get('private_mb')}"
        )
    if run.bcrypt:
        print("bcrypt checks/s:", run.bcrypt)


# --------------------------------------------------------------------------- main


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10000, 100000])
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument(
        "--backends", nargs="+", choices=["mariadb", "sqlite"], default=["mariadb", "sqlite"]
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 0],
        help="server processes, each count a run of its own; 0: one per core",
    )
    parser.add_argument("--quick", action="store_true", help="sizes 50 and 500, 2 s runs")
    parser.add_argument(
        "--no-search-index", action="store_true", help="leave search_terms empty (faster fill)"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where results go")
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="SNS_NAME=VALUE",
        help="a setting for the server (repeatable), to measure one against its default",
    )
    parser.add_argument(
        "--server-python",
        default=sys.executable,
        help="the interpreter that serves; memory as deployed wants a virtualenv with only "
        "the program's packages (`pip install .`): the tests' packages add to what the "
        "server imports (PyJWT loads cryptography when it is installed: 9 MB)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during each timed run: collapsed stacks and the "
        "functions that took the most time, per scenario, beside the results",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="only write the Markdown and the plot again from a run's JSON",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.duration, args.warmup = [50, 500], 2, 0.5
    return args


def load_run(path: Path) -> Run:
    data = json.loads(path.read_text())
    data["rows"] = [Row(**row) for row in data["rows"]]
    return Run(**data)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    if args.report:
        run = load_run(args.report)
        args.report.with_suffix(".md").write_text(markdown(run))
        plot(run, args.report.with_suffix(".png"))
        print_table(run)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401  (the plot; checked now, not after 20 minutes)
    except ImportError:
        print("matplotlib is missing: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    processes = list(dict.fromkeys(p or cores for p in args.processes))
    started = datetime.now(UTC)
    run = Run(
        options={
            "started": f"{started:%Y-%m-%d %H:%M}",
            "sizes": args.sizes,
            "duration": args.duration,
            "warmup": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "processes": processes,
            "backends": args.backends,
            "scenarios": args.scenarios,
            "search_index": not args.no_search_index,
            "server_python": args.server_python,
            "server_settings": args.server_setting,
        },
        machine=machine(),
    )
    stem = args.results / f"http-{started:%Y%m%d-%H%M%S}"
    with tempfile.TemporaryDirectory(prefix="sns-bench-http-") as tmp:
        bench = Bench(args, Path(tmp), run)
        bench.profiles = Path(f"{stem}-profiles")
        try:
            if "login" in args.scenarios:
                bench.say(f"raw bcrypt at cost {BCRYPT_COST}, 1 thread and {cores}")
                seconds = min(args.duration, 5)
                run.bcrypt = {
                    "1 thread": round(bcrypt_rate(1, seconds), 2),
                    f"{cores} threads": round(bcrypt_rate(cores, seconds), 2),
                }
                bench.say(f"bcrypt checks/s: {run.bcrypt}")
            if "mariadb" in args.backends:
                bench.mariadb(args.sizes, processes)
            if "sqlite" in args.backends:
                bench.sqlite(args.sizes, processes)
        except KeyboardInterrupt:
            run.failures.append("interrupted (Ctrl-C): the results are partial")
        finally:
            run.machine["load_average_end"] = os.getloadavg()
            if run.rows:
                args.results.mkdir(parents=True, exist_ok=True)
                payload = asdict(run)
                stem.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
                stem.with_suffix(".md").write_text(markdown(run))
                plot(run, stem.with_suffix(".png"))
                print_table(run)
                print(f"\nwrote {stem}.json, .md and .png")
    if run.failures:
        print("\nFAILED:\n  " + "\n  ".join(run.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
