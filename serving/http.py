"""The bounded HTTP server and its draining stop.

Connections are bounded so that a flood of slow or half-sent requests cannot take the
process down: idle and body timeouts, a small body limit checked against
``Content-Length`` before anything is read, at most ``max_connections`` open at once, and
an accept loop that backs off (with one log line, not one per try) when the process runs
out of file descriptors anyway.

A drain (on SIGTERM, SIGINT: ``serving.process``) stops accepting, answers
``Connection: close`` to the requests in flight and to those still arriving on kept-alive
connections, closes a kept-alive connection once it has gone unused for a second, and lets
requests finish for up to ``SNS_SHUTDOWN_GRACE`` seconds before cutting what is left.

What Tornado keeps private (its set of connections, its listener table) is reached only
through ``serving.tornado_private``. The attributes this subclass adds have no leading
underscore, so that none of them can take the place of one Tornado adds later.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.ioloop
import tornado.web
from tornado import httputil
from tornado.concurrent import Future
from tornado.http1connection import HTTP1ServerConnection
from tornado.iostream import IOStream

from serving import tornado_private
from sns.settings import Settings

log = logging.getLogger("sns")

FD_RESERVE = 64  # descriptors kept for database and Redis pools, log files, the listener
ACCEPT_BACKOFF = 0.5  # seconds to stop accepting after the process ran out of descriptors
ACCEPT_YIELD = 0.001  # on a shared socket: seconds of pause after an accept, per connection held
ACCEPT_YIELD_MAX = 0.02  # ... and at most this
WARN_EVERY = 10.0  # seconds between two warnings about refused connections
DRAIN_POLL = 0.05  # seconds between two looks at the connections while draining
DRAIN_QUIET = 1.0  # seconds a kept-alive connection must sit unused before a drain closes it


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

    def initialize(
        self,
        *args: Any,
        max_connections: int = 1000,
        shared_listener: bool = False,
        **kwargs: Any,
    ) -> None:
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.shared_listener = shared_listener
        self.draining = False
        self.requests_in_flight: dict[_DrainingConnection, HTTP1ServerConnection] = {}
        self.closing: set[HTTP1ServerConnection] = set()
        self.closing_after_answer: set[HTTP1ServerConnection] = set()
        self.last_used: dict[HTTP1ServerConnection, float] = {}
        self.closers: set[asyncio.Task[None]] = set()
        self.warn_refused = Throttled("refused %d connection(s): too many open at once")
        self.warn_exhausted = Throttled("out of file descriptors %d time(s): accepting paused")

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        assert isinstance(server_conn, HTTP1ServerConnection)
        connection = _DrainingConnection(self, server_conn, request_conn)
        delegate = super().start_request(server_conn, connection)
        return _InFlight(connection, delegate)

    def request_started(self, connection: _DrainingConnection) -> None:
        self.requests_in_flight[connection] = connection.server_conn

    def request_ended(self, connection: _DrainingConnection) -> None:
        self.requests_in_flight.pop(connection, None)
        if self.draining:
            self.last_used[connection.server_conn] = time.monotonic()

    def told_to_close(self, connection: _DrainingConnection) -> None:
        """The answer going out on this connection says ``Connection: close``."""
        self.closing_after_answer.add(connection.server_conn)

    @property
    def in_flight(self) -> int:
        return len(self.requests_in_flight)

    async def drain(self, grace: float) -> bool:
        """Stop accepting, let the requests in flight finish, then close every connection.

        A connection whose answer said ``Connection: close`` is closed as soon as that
        answer is sent. An idle keep-alive connection is closed only once it has gone
        unused for ``DRAIN_QUIET`` seconds and no bytes of a next request wait on it: a
        client may be sending on it right now, and closing it under that request fails
        the request (#17: 2 of 3,441 in a rolling restart). A request that does arrive is
        answered, with ``Connection: close``, so the client goes elsewhere for the next.
        After ``grace`` seconds whatever is left is cut. True when nothing had to be cut.
        """
        self.draining = True
        self.stop()
        started = time.monotonic()
        deadline = started + grace
        quiet = min(DRAIN_QUIET, grace)
        while True:
            now = time.monotonic()
            busy = set(self.requests_in_flight.values())
            connections = tornado_private.open_connections(self)
            for conn in list(connections):
                if conn in busy or conn in self.closing or conn.stream.writing():
                    continue
                if conn not in self.closing_after_answer:
                    idle_since = max(started, self.last_used.get(conn, started))
                    if now - idle_since < quiet or _next_request_waiting(conn):
                        continue
                self.closing.add(conn)
                closer = asyncio.ensure_future(conn.close())
                self.closers.add(closer)
                closer.add_done_callback(self.closers.discard)
            if not connections:
                return True
            if now >= deadline:
                break
            await asyncio.sleep(DRAIN_POLL)
        log.warning("stop: %d request(s) still in flight after %d s are cut", self.in_flight, grace)
        await self.close_all_connections()
        return False

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if len(tornado_private.open_connections(self)) >= self.max_connections:
            self.warn_refused()
            stream.close()
            return
        super().handle_stream(stream, address)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            tornado_private.register_listener(self, sock, self.accept_with_backoff(sock))

    def accept_with_backoff(self, sock: socket.socket) -> Callable[[], None]:
        """Like ``tornado.netutil.add_accept_handler``, but EMFILE pauses accepting for a
        moment instead of raising on every turn of the loop (a busy loop and a log flood)."""
        io_loop = tornado.ioloop.IOLoop.current()
        state: dict[str, Any] = {"listening": True, "timer": None}

        def resume() -> None:
            state["timer"] = None
            if not state["listening"]:
                io_loop.add_handler(sock, accept, tornado.ioloop.IOLoop.READ)
                state["listening"] = True

        def pause(seconds: float) -> None:
            io_loop.remove_handler(sock)
            state["listening"] = False
            state["timer"] = io_loop.call_later(seconds, resume)

        def accept(fd: Any, events: int) -> None:
            for _ in range(1 if self.shared_listener else 128):
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        raise
                    self.warn_exhausted()
                    pause(ACCEPT_BACKOFF)
                    return
                tornado_private.handle_connection(self, connection, address)
            if self.shared_listener:
                # Every worker on the shared socket wakes for a new connection and the
                # first to run takes it; left alone, one busy worker can take nearly all
                # of them. Each one taken holds this worker back a little longer, so the
                # worker holding fewer connections takes the next one (bench/README.md).
                held = len(tornado_private.open_connections(self))
                pause(min(held * ACCEPT_YIELD, ACCEPT_YIELD_MAX))

        def remove() -> None:
            if state["timer"] is not None:
                io_loop.remove_timeout(state["timer"])
            if state["listening"]:
                io_loop.remove_handler(sock)
            state["listening"] = False

        io_loop.add_handler(sock, accept, tornado.ioloop.IOLoop.READ)
        return remove


def _next_request_waiting(conn: HTTP1ServerConnection) -> bool:
    """Whether bytes of a next request have arrived on an idle connection (read into its
    stream's buffer, or still in the socket): closing it now would fail that request."""
    stream = conn.stream
    if tornado_private.read_ahead_bytes(stream):
        return True
    if stream.closed():
        return False
    try:
        return bool(stream.socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing there (EAGAIN), or the connection is already broken
        return False


class _DrainingConnection(httputil.HTTPConnection):
    """The connection of one request as the application sees it: marks the request done
    when its answer is finished, and asks the client to go elsewhere while draining."""

    def __init__(
        self,
        server: BoundedHTTPServer,
        server_conn: HTTP1ServerConnection,
        request_conn: httputil.HTTPConnection,
    ) -> None:
        self.server = server
        self.server_conn = server_conn
        self.request_conn = request_conn

    def write_headers(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Future[None]:
        if self.server.draining:
            headers["Connection"] = "close"
            self.server.told_to_close(self)
        return self.request_conn.write_headers(start_line, headers, chunk)

    def write(self, chunk: bytes) -> Future[None]:
        return self.request_conn.write(chunk)

    def finish(self) -> None:
        try:
            self.request_conn.finish()
        finally:
            self.server.request_ended(self)

    def __getattr__(self, name: str) -> Any:
        # context, stream, set_close_callback, detach...: the real connection's
        return getattr(self.request_conn, name)


class _InFlight(httputil.HTTPMessageDelegate):
    """Counts a request as in flight from its headers until its answer is finished.

    A request whose headers were read just before a draining server closed its connection
    (as idle) is dropped unanswered rather than run: its client sees the connection fail
    and can send it again without it having been done twice.
    """

    def __init__(
        self, connection: _DrainingConnection, delegate: httputil.HTTPMessageDelegate
    ) -> None:
        self.connection = connection
        self.delegate = delegate
        self.dropped = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        if self.connection.server_conn.stream.closed():
            self.dropped = True
            return None
        self.connection.server.request_started(self.connection)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return None if self.dropped else self.delegate.data_received(chunk)

    def finish(self) -> None:
        if not self.dropped:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        self.connection.server.request_ended(self.connection)
        if not self.dropped:
            self.delegate.on_connection_close()


def connection_cap(settings: Settings) -> int:
    """The most connections one process serves at once (``SNS_MAX_CONNECTIONS``, or the
    open-file limit less what the pools and logs need)."""
    return settings.max_connections or max(16, raise_open_file_limit() - FD_RESERVE)


def make_server(settings: Settings, app: tornado.web.Application) -> BoundedHTTPServer:
    """The HTTP server with this process's limits (see the module's docstring)."""
    # X-Forwarded-* headers are read by the handlers, only from trusted proxies.
    return BoundedHTTPServer(
        app,
        xheaders=False,
        max_body_size=settings.max_body_bytes,
        idle_connection_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout,
        max_connections=connection_cap(settings),
        # An inherited socket is shared by every worker of supervisor's fcgi-program.
        shared_listener=settings.listen_fd is not None,
    )
