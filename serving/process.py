"""One serving process: build the site, listen, serve until SIGTERM/SIGINT, drain, close.

The site (services and the Application on them) is built inside the process that serves
it, by the ``build`` step ``run.py`` hands in: pools and event loops do not survive a fork.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol

import tornado.web

from serving.http import connection_cap, make_server
from sns.db import SchemaBehind
from sns.logs import access_lines, setup_logging
from sns.services import Services
from sns.settings import Settings

log = logging.getLogger("sns")

EXIT_CONFIG = 2  # a setting the program cannot use (as for a bad flag)
EXIT_SCHEMA = 3  # the database is not at head under SNS_MIGRATE=check
FATAL = (EXIT_CONFIG, EXIT_SCHEMA)  # a worker exiting so is not restarted: it would again

YOUNG_COLLECTION = 20_000
"""Objects allocated (less freed) between two of the cycle collector's young collections:
Python's 700 ran one every few requests, and every tenth of those a middle one, which
sweeps what the caches hold. With what the process built frozen out of its walks too
(``tune_collector``), kept pages went from 30-34% of hello to 48-50% and their p99 from
60-70 ms to 17-19 ms (bench/http, #22); memory stayed within a megabyte; 100,000 took
17 MB more and was no faster."""


def tune_collector() -> None:
    """Collect cycles as a server should: what the process built before serving (modules,
    templates, pools, SQLAlchemy's compiled statements) lives as long as it does, so it is
    left out of every collection (``gc.freeze``): a full collection walked it all, the long
    pauses of p99. And young collections run less often (``YOUNG_COLLECTION``)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION, middle, old)


@dataclasses.dataclass(frozen=True)
class Site:
    """What one process serves: the services (closed at the end) and the app on them."""

    services: Services
    app: tornado.web.Application


class Build(Protocol):
    """Builds the site in the serving process (``run.build_site``)."""

    def __call__(self, settings: Settings, *, connection_cap: int) -> Awaitable[Site]: ...


Listen = Callable[[], list[socket.socket]]
"""Opens (or adopts) this process's listening sockets."""


class CannotListen(Exception):
    """The port is taken or the inherited descriptor is no listening socket."""


async def serve(settings: Settings, build: Build, listen: Listen) -> None:
    """Serve until SIGTERM/SIGINT, then drain (``serving.http``) and close the services."""
    site = await build(settings, connection_cap=connection_cap(settings))
    services = site.services
    try:
        server = make_server(settings, site.app)
        try:
            sockets = listen()
        except (OSError, ValueError) as exc:
            raise CannotListen(str(exc)) from exc
        server.add_sockets(sockets)
        tune_collector()
        log.info(
            "SNS listening on %s (database: %s, sessions: %s, at most %d connections)",
            ", ".join(_address(sock) for sock in sockets),
            "sqlite" if services.db.is_sqlite else "mysql",
            services.session_backend,
            server.max_connections,
        )
        for advice in settings.advice():
            log.warning("%s", advice)
        sweeper = asyncio.create_task(services.orphans.sweep_forever(settings.orphan_sweep))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        sweeper.cancel()
        # Live sockets are not requests in flight: they are told to go away (1001) now,
        # and their pages connect again to a process that stays (#20).
        closed = services.live.close_all()
        log.info(
            "stopping: %d request(s) in flight may finish, %d live socket(s) closed",
            server.in_flight,
            closed,
        )
        await server.drain(settings.shutdown_grace)
    finally:
        await services.close()
        access_lines.flush()
    log.info("stopped")


def _address(sock: socket.socket) -> str:
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def serve_process(settings: Settings, build: Build, listen: Listen, worker: str | None) -> int:
    """Run one serving process to its end; the exit status."""
    to_stdout = settings.log_to == "stdout" or (
        settings.log_to == "auto" and settings.listen_fd is not None
    )
    setup_logging(
        settings.logs_dir, console=not settings.production, worker=worker, to_stdout=to_stdout
    )
    try:
        asyncio.run(serve(settings, build, listen))
    except SchemaBehind as exc:
        return refuse(f"refusing to serve: {exc}", EXIT_SCHEMA)
    except CannotListen as exc:
        return refuse(f"cannot listen: {exc}", EXIT_CONFIG)
    return 0


def refuse(message: str, code: int) -> int:
    """Say why the process will not serve, in its log and on stderr; the exit status."""
    log.error("%s", message)
    print(f"run.py: {message}", file=sys.stderr)
    return code
