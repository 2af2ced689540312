"""Live sockets for the tests and bench/live.py: open ``/live`` as a logged-in browser
would (its cookies, this site's ``Origin``), read what it pushes, and two SNS servers on
one database (SQLite file or MariaDB + Redis) to show events crossing processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from sns.db import Database
from sns.live import LiveHub, RedisLiveBus, SqliteLiveBus
from testkit.sns import Client, SnsServer

SECRETS = {"SNS_COOKIE_SECRET": "live-test-cookie-secret-" + "c" * 24, "SNS_JWT_SECRET": "j" * 48}


def cookie_header(client: Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.http.cookies.items())


def live_request(
    server: SnsServer, client: Client | None, query: str = "timeline=home", origin: str | None = ""
) -> HTTPRequest:
    """``origin=""``: the server's own; None: no ``Origin`` header at all."""
    headers = {}
    if client is not None:
        headers["Cookie"] = cookie_header(client)
    if origin is not None:
        headers["Origin"] = origin or server.url
    url = server.url.replace("http://", "ws://") + "/live" + (f"?{query}" if query else "")
    return HTTPRequest(url, headers=headers, connect_timeout=10, request_timeout=10)


async def open_live(
    server: SnsServer, client: Client | None, query: str = "timeline=home", origin: str | None = ""
) -> WebSocketClientConnection:
    return await websocket_connect(live_request(server, client, query, origin))


async def next_message(socket: WebSocketClientConnection, timeout: float = 2.0) -> Any:
    """The next message as JSON; None when the socket closed; TimeoutError when none came."""
    raw = await asyncio.wait_for(socket.read_message(), timeout)
    return None if raw is None else json.loads(raw)


async def quiet(socket: WebSocketClientConnection, seconds: float = 0.3) -> bool:
    """Whether nothing arrives for ``seconds``."""
    try:
        await next_message(socket, seconds)
    except TimeoutError:
        return True
    return False


def server_pair(base: Path, backend_env: dict[str, str], **env: str) -> tuple[SnsServer, SnsServer]:
    """Two servers on one database: MariaDB + Redis as given, or (no database URL) the first
    one's SQLite file, which the second reaches through ``SNS_DATABASE_URL``."""
    shared = {**SECRETS, **backend_env, **env}
    first = SnsServer(base / "a", shared)
    if "SNS_DATABASE_URL" not in backend_env:
        shared = {**shared, "SNS_DATABASE_URL": f"sqlite+aiosqlite:///{first.sqlite_path}"}
    second = SnsServer(base / "b", shared)
    return first, second


def running_pair(
    base: Path, backend_env: dict[str, str], **env: str
) -> Iterator[tuple[SnsServer, SnsServer]]:
    """``server_pair``'s two servers started (the first first: it makes the database), for a
    module fixture to yield from; both are stopped after."""
    first, second = server_pair(base, backend_env, **env)
    first.start()
    try:
        second.start()
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()


@asynccontextmanager
async def site_hub(
    env: dict[str, str], *, per_user: int = 5, max_sockets: int = 10
) -> AsyncIterator[LiveHub]:
    """A live hub of the caller's own process on a site's bus (its Redis channel, or its
    SQLite file's events table): what it publishes reaches the site's sockets as another
    worker's would."""
    url = env["SNS_DATABASE_URL"]
    db = Database(url)
    redis = None
    if url.startswith("mysql"):
        from redis.asyncio import Redis

        redis = Redis.from_url(env["SNS_REDIS_URL"], decode_responses=True)
        channel = env["SNS_REDIS_PREFIX"] + "live"
        bus: Any = RedisLiveBus(redis, env["SNS_REDIS_URL"], channel, timeout=2)
    else:
        bus = SqliteLiveBus(db, url.split("///", 1)[1])
    hub = LiveHub(bus, per_user=per_user, max_sockets=max_sockets)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.close()
        if redis is not None:
            await redis.aclose()
        await db.dispose()
