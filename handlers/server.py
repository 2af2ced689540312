"""Serving: the entry point of ``python run.py`` and the ``sns`` command.

The commands that need no web server (migrate, demo) live in ``sns.cli``; this module
hands it the one that does, so that ``sns`` stays free of the web layer.

Connections are bounded so that a flood of slow or half-sent requests cannot take the
process down: idle and body timeouts, a small body limit checked against
``Content-Length`` before anything is read, at most ``max_connections`` open at once, and
an accept loop that backs off (with one log line, not one per try) when the process runs
out of file descriptors anyway.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tornado.httpserver
import tornado.ioloop
from tornado.iostream import IOStream

from handlers.app import make_app
from sns import cli
from sns.services import build_services
from sns.settings import Settings

log = logging.getLogger("sns")

FD_RESERVE = 64  # descriptors kept for database and Redis pools, log files, the listener
ACCEPT_BACKOFF = 0.5  # seconds to stop accepting after the process ran out of descriptors
WARN_EVERY = 10.0  # seconds between two warnings about refused connections


def raise_open_file_limit() -> int:
    """Lift the soft limit on open files to the hard one; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class Throttled:
    """Say something at most once every ``WARN_EVERY`` seconds, counting what was not said."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.last = 0.0
        self.unsaid = 0

    def __call__(self) -> None:
        now = time.monotonic()
        self.unsaid += 1
        if now - self.last >= WARN_EVERY:
            log.warning(self.message, self.unsaid)
            self.last, self.unsaid = now, 0


class BoundedHTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTP server with a cap on open connections and a careful accept loop."""

    def initialize(self, *args: Any, max_connections: int = 1000, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self._refused = Throttled("refused %d connection(s): too many open at once")
        self._exhausted = Throttled("out of file descriptors %d time(s): accepting paused")

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if len(self._connections) >= self.max_connections:
            self._refused()
            stream.close()
            return
        super().handle_stream(stream, address)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._accept_with_backoff(sock)

    def _accept_with_backoff(self, sock: socket.socket) -> Callable[[], None]:
        """Like ``tornado.netutil.add_accept_handler``, but EMFILE pauses accepting for a
        moment instead of raising on every turn of the loop (a busy loop and a log flood)."""
        io_loop = tornado.ioloop.IOLoop.current()
        state: dict[str, Any] = {"listening": True, "timer": None}

        def resume() -> None:
            state["timer"] = None
            if not state["listening"]:
                io_loop.add_handler(sock, accept, tornado.ioloop.IOLoop.READ)
                state["listening"] = True

        def accept(fd: Any, events: int) -> None:
            for _ in range(128):
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        raise
                    self._exhausted()
                    io_loop.remove_handler(sock)
                    state["listening"] = False
                    state["timer"] = io_loop.call_later(ACCEPT_BACKOFF, resume)
                    return
                self._handle_connection(connection, address)

        def remove() -> None:
            if state["timer"] is not None:
                io_loop.remove_timeout(state["timer"])
            if state["listening"]:
                io_loop.remove_handler(sock)
            state["listening"] = False

        io_loop.add_handler(sock, accept, tornado.ioloop.IOLoop.READ)
        return remove


def make_server(settings: Settings, app: Any) -> BoundedHTTPServer:
    """The HTTP server with this process's limits (see the module's docstring)."""
    limit = settings.max_connections or max(16, raise_open_file_limit() - FD_RESERVE)
    # X-Forwarded-* headers are read by the handlers, only from trusted proxies.
    return BoundedHTTPServer(
        app,
        xheaders=False,
        max_body_size=settings.max_body_bytes,
        idle_connection_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout,
        max_connections=limit,
    )


async def serve(settings: Settings) -> None:
    """Listen until SIGTERM/SIGINT, then let in-flight requests finish and close backends."""
    services = await build_services(settings)
    server = make_server(settings, make_app(services))
    server.listen(settings.port, address=settings.host)
    log.info(
        "SNS listening on http://%s:%d (database: %s, sessions: %s, at most %d connections)",
        settings.host,
        settings.port,
        "sqlite" if services.db.is_sqlite else "mysql",
        services.session_backend,
        server.max_connections,
    )
    sweeper = asyncio.create_task(services.images.sweep_forever(settings.orphan_sweep))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping: finishing in-flight requests")
    server.stop()
    try:
        await asyncio.wait_for(server.close_all_connections(), timeout=10)
    except TimeoutError:
        log.warning("some connections were still open after 10 s")
    sweeper.cancel()
    await services.close()


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, serve=serve)


if __name__ == "__main__":
    sys.exit(main())
