"""Serving: the entry point of ``python run.py`` and the ``sns`` command.

The commands that need no web server (migrate, demo, supervise) live in ``sns.cli``; this
module hands it the one that does, so that ``sns`` stays free of the web layer.

Three ways to listen (docs/deploy.md):

- one process on ``--host``/``--port`` (the default);
- one process on an inherited listening socket (``--fd N``): supervisor's
  ``[fcgi-program]`` owns the port and passes the socket to every worker as fd 0;
- ``--processes N`` (0: one per core): this process forks N workers and restarts those that
  die; each worker binds the port with its own ``SO_REUSEPORT`` listener, so that the kernel
  spreads connections evenly over them (one listener shared by forked children hands most
  connections to whichever child wakes first: bench/README.md).

A stop (SIGTERM, SIGINT) drains: the process stops accepting, answers ``Connection: close``
to the requests in flight and to those still arriving on kept-alive connections, closes a
kept-alive connection once it has gone unused for a second, lets requests finish for up to
``SNS_SHUTDOWN_GRACE`` seconds, then closes what is left and its pools, and exits 0.

Connections are bounded so that a flood of slow or half-sent requests cannot take the
process down: idle and body timeouts, a small body limit checked against
``Content-Length`` before anything is read, at most ``max_connections`` open at once, and
an accept loop that backs off (with one log line, not one per try) when the process runs
out of file descriptors anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import gc
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import FrameType
from typing import Any

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
from tornado import httputil
from tornado.concurrent import Future
from tornado.http1connection import HTTP1ServerConnection
from tornado.iostream import IOStream

from handlers.app import make_app
from sns import cli
from sns.db import SchemaBehind, run_migrations
from sns.logs import access_lines, setup_logging
from sns.services import build_services
from sns.settings import Settings

log = logging.getLogger("sns")

FD_RESERVE = 64  # descriptors kept for database and Redis pools, log files, the listener
ACCEPT_BACKOFF = 0.5  # seconds to stop accepting after the process ran out of descriptors
ACCEPT_YIELD = 0.001  # on a shared socket: seconds of pause after an accept, per connection held
ACCEPT_YIELD_MAX = 0.02  # ... and at most this
WARN_EVERY = 10.0  # seconds between two warnings about refused connections
DRAIN_POLL = 0.05  # seconds between two looks at the connections while draining
DRAIN_QUIET = 1.0  # seconds a kept-alive connection must sit unused before a drain closes it
RESTART_DELAY = 1.0  # seconds before --processes starts a worker again after it died
EXIT_CONFIG = 2  # a setting the program cannot use (as for a bad flag)
EXIT_SCHEMA = 3  # the database is not at head under SNS_MIGRATE=check
FATAL = (EXIT_CONFIG, EXIT_SCHEMA)  # a worker exiting so is not restarted: it would again


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
        self._in_flight: dict[_DrainingConnection, HTTP1ServerConnection] = {}
        self._closing: set[HTTP1ServerConnection] = set()
        self._told_to_close: set[HTTP1ServerConnection] = set()
        self._last_used: dict[HTTP1ServerConnection, float] = {}
        self._closers: set[asyncio.Task[None]] = set()
        self._refused = Throttled("refused %d connection(s): too many open at once")
        self._exhausted = Throttled("out of file descriptors %d time(s): accepting paused")

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        assert isinstance(server_conn, HTTP1ServerConnection)
        connection = _DrainingConnection(self, server_conn, request_conn)
        delegate = super().start_request(server_conn, connection)
        return _InFlight(connection, delegate)

    def request_started(self, connection: _DrainingConnection) -> None:
        self._in_flight[connection] = connection.server_conn

    def request_ended(self, connection: _DrainingConnection) -> None:
        self._in_flight.pop(connection, None)
        if self.draining:
            self._last_used[connection.server_conn] = time.monotonic()

    def told_to_close(self, connection: _DrainingConnection) -> None:
        """The answer going out on this connection says ``Connection: close``."""
        self._told_to_close.add(connection.server_conn)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

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
            busy = set(self._in_flight.values())
            for conn in list(self._connections):
                if conn in busy or conn in self._closing or conn.stream.writing():
                    continue
                if conn not in self._told_to_close:
                    idle_since = max(started, self._last_used.get(conn, started))
                    if now - idle_since < quiet or _next_request_waiting(conn):
                        continue
                self._closing.add(conn)
                closer = asyncio.ensure_future(conn.close())
                self._closers.add(closer)
                closer.add_done_callback(self._closers.discard)
            if not self._connections:
                return True
            if now >= deadline:
                break
            await asyncio.sleep(DRAIN_POLL)
        log.warning("stop: %d request(s) still in flight after %d s are cut", self.in_flight, grace)
        await self.close_all_connections()
        return False

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
                    self._exhausted()
                    pause(ACCEPT_BACKOFF)
                    return
                self._handle_connection(connection, address)
            if self.shared_listener:
                # Every worker on the shared socket wakes for a new connection and the
                # first to run takes it; left alone, one busy worker can take nearly all
                # of them. Each one taken holds this worker back a little longer, so the
                # worker holding fewer connections takes the next one (bench/README.md).
                pause(min(len(self._connections) * ACCEPT_YIELD, ACCEPT_YIELD_MAX))

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
    if getattr(stream, "_read_buffer_size", 0):
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


def make_server(settings: Settings, app: Any) -> BoundedHTTPServer:
    """The HTTP server with this process's limits (see the module's docstring)."""
    limit = connection_cap(settings)
    # X-Forwarded-* headers are read by the handlers, only from trusted proxies.
    return BoundedHTTPServer(
        app,
        xheaders=False,
        max_body_size=settings.max_body_bytes,
        idle_connection_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout,
        max_connections=limit,
        # An inherited socket is shared by every worker of supervisor's fcgi-program.
        shared_listener=settings.listen_fd is not None,
    )


Listen = Callable[[], list[socket.socket]]


async def serve(settings: Settings, listen: Listen) -> None:
    """Serve until SIGTERM/SIGINT, then drain (see the module's docstring)."""
    services = await build_services(settings, connection_cap=connection_cap(settings))
    try:
        server = make_server(settings, make_app(services))
        try:
            sockets = listen()
        except (OSError, ValueError) as exc:
            raise CannotListen(str(exc)) from exc
        server.add_sockets(sockets)
        log.info(
            "SNS listening on %s (database: %s, sessions: %s, at most %d connections)",
            ", ".join(_address(sock) for sock in sockets),
            "sqlite" if services.db.is_sqlite else "mysql",
            services.session_backend,
            server.max_connections,
        )
        sweeper = asyncio.create_task(services.orphans.sweep_forever(settings.orphan_sweep))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        sweeper.cancel()
        log.info("stopping: %d request(s) in flight may finish", server.in_flight)
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


def inherited_socket(fd: int) -> socket.socket:
    """The listening TCP socket a supervisor handed down as ``fd``."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ValueError(f"--fd {fd}: not a socket ({exc.strerror})") from None
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()
        raise ValueError(f"--fd {fd}: not a listening TCP socket")
    sock.setblocking(False)
    return sock


def serve_process(settings: Settings, listen: Listen, worker: str | None) -> int:
    """Run one serving process to its end; the exit status."""
    to_stdout = settings.log_to == "stdout" or (
        settings.log_to == "auto" and settings.listen_fd is not None
    )
    setup_logging(
        settings.logs_dir, console=not settings.production, worker=worker, to_stdout=to_stdout
    )
    try:
        asyncio.run(serve(settings, listen))
    except SchemaBehind as exc:
        return _refuse(f"refusing to serve: {exc}", EXIT_SCHEMA)
    except CannotListen as exc:
        return _refuse(f"cannot listen: {exc}", EXIT_CONFIG)
    return 0


def _refuse(message: str, code: int) -> int:
    log.error("%s", message)
    print(f"run.py: {message}", file=sys.stderr)
    return code


class CannotListen(Exception):
    """The port is taken or the inherited descriptor is no listening socket."""


def run(settings: Settings) -> int:
    """Serve the way the settings ask: inherited socket, one process, or N processes."""
    fd = settings.listen_fd
    if fd is not None:
        worker = os.environ.get("SUPERVISOR_PROCESS_NAME")  # set by supervisor
        return serve_process(settings, lambda: [inherited_socket(fd)], worker)
    count = settings.workers or os.cpu_count() or 1
    if count == 1:
        return serve_process(
            settings, lambda: tornado.netutil.bind_sockets(settings.port, settings.host), None
        )
    return Workers(settings, count).run()


class Workers:
    """``--processes N``: fork N workers, start again those that die, stop them all on
    SIGTERM/SIGINT (each drains), and exit 0 once they are gone.

    Migrations run here once, before any worker exists; the workers then only check that
    the database is at head. Each worker binds its own ``SO_REUSEPORT`` listener.
    """

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.children: dict[int, int] = {}  # pid -> worker number
        self.stopping = False

    def listen(self) -> list[socket.socket]:
        return tornado.netutil.bind_sockets(self.settings.port, self.settings.host, reuse_port=True)

    def run(self) -> int:
        settings = self.settings
        setup_logging(settings.logs_dir, console=not settings.production, worker="main")
        if settings.migrate == "auto":
            run_migrations(settings.sql_url)
        try:
            for sock in self.listen():  # fail here, once, if the port is taken
                sock.close()
        except OSError as exc:
            return _refuse(f"cannot listen: {exc}", EXIT_CONFIG)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        # What is loaded now (modules, migrations) is shared with the workers; kept out of
        # the collector's walks, its pages stay shared instead of being copied into each.
        gc.freeze()
        for number in range(1, self.count + 1):
            self.spawn(number)
        log.info("started %d workers on port %d", self.count, settings.port)
        status = 0
        while self.children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            if pid not in self.children:
                continue
            number = self.children.pop(pid)
            if self.stopping:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            if code in FATAL:
                log.error("worker w%d exited with %d; stopping the others", number, code)
                status = code
                self.stop(signal.SIGTERM, None)
                continue
            log.warning("worker w%d (pid %d) died with %d; starting it again", number, pid, code)
            time.sleep(RESTART_DELAY)
            if not self.stopping:
                self.spawn(number)
        log.info("all workers stopped")
        return status

    def spawn(self, number: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = number
            return
        code = 1
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            worker_settings = dataclasses.replace(self.settings, migrate="check")
            code = serve_process(worker_settings, self.listen, f"w{number}")
        except BaseException:
            log.exception("worker w%d failed", number)
        finally:
            logging.shutdown()
            os._exit(code)

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler: pass the stop on to every worker; each drains on its own."""
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, serve=run)


if __name__ == "__main__":
    sys.exit(main())
