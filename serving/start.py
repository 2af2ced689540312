"""Start serving, one of three ways (docs/deploy.md):

- one process on ``--host``/``--port`` (the default);
- one process on an inherited listening socket (``--fd N``): supervisor's
  ``[fcgi-program]`` owns the port and passes the socket to every worker as fd 0;
- ``--processes N`` (0: one per core): forked workers, each on its own ``SO_REUSEPORT``
  listener (``serving.workers``).

Every way stops the same way: a drain (``serving.http``), then exit 0.
"""

from __future__ import annotations

import os
import socket

import tornado.netutil

from serving.process import Build, serve_process
from serving.workers import Workers
from sns.settings import Settings


def serve(settings: Settings, build: Build) -> int:
    """Serve the way the settings ask until stopped; the exit status."""
    fd = settings.listen_fd
    if fd is not None:
        worker = os.environ.get("SUPERVISOR_PROCESS_NAME")  # set by supervisor
        return serve_process(settings, build, lambda: [inherited_socket(fd)], worker)
    count = settings.processes or os.cpu_count() or 1
    if count == 1:
        return serve_process(
            settings,
            build,
            lambda: tornado.netutil.bind_sockets(settings.port, settings.host),
            None,
        )
    return Workers(settings, build, count).run()


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
