"""How evenly the workers share keep-alive connections: ``bench/balance.py``.

Starts SNS with N workers in one of the two multi-process layouts, opens C keep-alive
connections at once, sends requests on each for a few seconds, and counts per worker (by
``X-SNS-Worker``) the connections it holds and the requests it answered.

    .venv/bin/python bench/balance.py --mode processes   # run.py --processes N
    .venv/bin/python bench/balance.py --mode supervisor  # run.py supervise (supervisord)
    .venv/bin/python bench/balance.py --mode single      # one process, for the ratio

Results and how to read them: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(mode: str, workers: int, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNS_")}
    env.update(SNS_DATA_DIR=str(data_dir), SNS_HOST="127.0.0.1", SNS_PORT=str(port))
    command = [sys.executable, str(ROOT / "run.py")]
    if mode == "supervisor":
        env["SNS_SUPERVISOR_WORKERS"] = str(workers)
        command.append("supervise")
    elif mode == "processes":
        command += ["--processes", str(workers)]
    command += ["--env-file", ""]
    with open(data_dir / "server.out", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: S603
    # Every worker must be serving before the count starts: fresh connections until each
    # has answered at least once.
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while len(seen) < (1 if mode == "single" else workers) and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                seen.add(answer.headers["X-SNS-Worker"])
        except OSError:
            time.sleep(0.2)
    if time.monotonic() >= deadline:
        process.kill()
        raise RuntimeError((data_dir / "server.out").read_text())
    return process


async def one_connection(port: int, path: str, until: float, counts: Counter[str]) -> str:
    """Requests one after another on one connection; returns the worker that held it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    holders: set[str] = set()
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            await reader.readexactly(int(headers.get("content-length", "0")))
            worker = headers["x-sns-worker"]
            holders.add(worker)
            counts[worker] += 1
    finally:
        writer.close()
    return ",".join(sorted(holders))


async def load(port: int, connections: int, seconds: float, path: str) -> tuple[Counter, Counter]:
    counts: Counter[str] = Counter()
    until = time.monotonic() + seconds
    holders = await asyncio.gather(
        *(one_connection(port, path, until, counts) for _ in range(connections))
    )
    return Counter(holders), counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("processes", "supervisor", "single"), required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--path", default="/")
    parser.add_argument("--rounds", type=int, default=3, help="fresh connections each round")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sns-balance-") as tmp:
        process = start(args.mode, args.workers, port, Path(tmp))
        try:
            for round_number in range(1, args.rounds + 1):
                holders, counts = asyncio.run(load(port, args.connections, args.seconds, args.path))
                total = sum(counts.values())
                shares = " ".join(
                    f"{worker}: {holders[worker]} conn, {counts[worker]} req "
                    f"({100 * counts[worker] / total:.0f}%)"
                    for worker in sorted(counts)
                )
                print(
                    f"{args.mode} x{args.workers} round {round_number}: "
                    f"{total / args.seconds:.0f} req/s; {shares}"
                )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
