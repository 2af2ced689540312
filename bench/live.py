"""Live sockets (#20): memory per open socket, and how fast a write reaches another process.

Starts two SNS processes on one database (``--backend sqlite``: one SQLite file, watched
through ``live_events``; ``--backend mariadb``: MariaDB + Redis pub/sub, each started by
the test kit), then:

1. opens ``--sockets`` live sockets on server B and reads B's resident memory (``VmRSS``)
   before and after: (after - before) / sockets is the memory one socket costs;
2. with those sockets open (idle: they show no timeline), writes ``--posts`` posts on
   server A, one at a time, and times each from sending the POST to the "new posts"
   message arriving on a socket held by B (p50, p99);
3. optionally (``--fanout``) the same with every socket showing the timeline: the time
   until the last of them has the message (this includes this client reading them all).

    .venv/bin/python bench/live.py --backend sqlite
    .venv/bin/python bench/live.py --backend mariadb

Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testkit.live import next_message, open_live, server_pair  # noqa: E402
from testkit.sns import Client, SnsServer  # noqa: E402


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def open_many(server: SnsServer, clients: list[Client], count: int, query: str) -> list:
    sockets = []
    for start in range(0, count, 100):
        batch = [
            open_live(server, clients[n % len(clients)], query)
            for n in range(start, min(count, start + 100))
        ]
        sockets += await asyncio.gather(*batch)
    return sockets


async def measure(args: argparse.Namespace, first: SnsServer, second: SnsServer) -> None:
    assert second.process is not None
    pid = second.process.pid
    people = [second.client() for _ in range(max(1, args.sockets // 100))]
    for person in people:
        person.join()
    writer = first.client()
    writer.join()
    # Warm up: the first sockets load the WebSocket code paths; not counted.
    warm = await open_many(second, people, 20, "")
    for live in warm:
        live.close()
    await asyncio.sleep(1)
    before = rss_kib(pid)
    started = time.monotonic()
    idle = await open_many(second, people, args.sockets, "")
    opened = time.monotonic() - started
    await asyncio.sleep(2)
    after = rss_kib(pid)
    per_socket = (after - before) * 1024 / args.sockets
    print(f"{args.sockets} sockets opened on B in {opened:.1f} s")
    print(f"B's RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after")
    print(f"memory per socket: {per_socket / 1024:.1f} KiB")

    watcher = await open_live(second, people[0], "timeline=home")
    samples = []
    for n in range(args.posts):
        sent = time.perf_counter()
        post = asyncio.create_task(asyncio.to_thread(writer.write, f"bench {n}"))
        message = await next_message(watcher, 5)
        samples.append((time.perf_counter() - sent) * 1000)
        assert message == {"type": "posts", "count": n + 1}, message
        assert (await post).status_code == 302
        await asyncio.sleep(args.pause)
    print(
        f"write on A -> message on B ({args.posts} posts, {args.sockets} sockets held): "
        f"p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms, "
        f"max {max(samples):.1f} ms"
    )
    watcher.close()

    if args.fanout:
        for live in idle:
            live.close()
        await asyncio.sleep(1)
        readers = await open_many(second, people, args.sockets, "timeline=home")
        times = []
        for n in range(args.fanout):
            sent = time.perf_counter()
            post = asyncio.create_task(asyncio.to_thread(writer.write, f"fan-out {n}"))
            await asyncio.gather(*(next_message(live, 10) for live in readers))
            times.append((time.perf_counter() - sent) * 1000)
            await post
        print(
            f"fan-out to all {args.sockets} sockets (last one read by this client): "
            f"p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms"
        )
        idle = readers
    for live in idle:
        live.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between posts")
    parser.add_argument("--fanout", type=int, default=0, help="posts timed to every socket")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="sns-bench-live-"))
    services = []
    env = {
        "SNS_LIVE_PER_USER": "1000",
        "SNS_LIVE_MAX": str(args.sockets + 100),
        "SNS_LOG_TO": "files",
    }
    if args.backend == "sqlite":
        env["SNS_LIVE_BUS"] = "database"
        backend: dict[str, str] = {}
    else:
        from testkit.mariadb import MariaDBServer
        from testkit.redis import RedisServer

        mariadb, redis = MariaDBServer(base / "mariadb"), RedisServer(base / "redis")
        mariadb.start()
        redis.start()
        services += [mariadb, redis]
        backend = {
            "SNS_DATABASE_URL": mariadb.create_database("sns_bench_live"),
            "SNS_REDIS_URL": redis.url,
        }
    first, second = server_pair(base, backend, **env)
    try:
        first.start()
        second.start()
        print(f"backend {args.backend}; load average {os.getloadavg()[0]:.1f} before")
        asyncio.run(measure(args, first, second))
        print(f"load average {os.getloadavg()[0]:.1f} after")
    finally:
        second.stop()
        first.stop()
        for service in services:
            service.stop()


if __name__ == "__main__":
    main()
