"""The one module that touches Tornado's private names.

The draining server (``serving.http``) needs four things Tornado does not offer in public:
the set of open connections, the listener table ``TCPServer.stop`` closes, the method that
turns an accepted socket into a connection, and how many bytes a stream has read ahead.
Each is reached through one small function here, Tornado is pinned below its next minor
version in setup.cfg, and tests/test_tornado_private.py fails, naming the attribute, when
one of ``PRIVATE_NAMES`` is gone.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.iostream import BaseIOStream, IOStream
from tornado.tcpserver import TCPServer

PRIVATE_NAMES: tuple[tuple[type, str], ...] = (
    (HTTPServer, "_connections"),
    (TCPServer, "_sockets"),
    (TCPServer, "_handlers"),
    (TCPServer, "_handle_connection"),
    (IOStream, "_read_buffer_size"),
)
"""(class, attribute): every private name used below, checked on real instances."""


def open_connections(server: HTTPServer) -> set[HTTP1ServerConnection]:
    """The server's open connections (Tornado's own set, not a copy: do not change it)."""
    connections: set[HTTP1ServerConnection] = server._connections
    return connections


def register_listener(server: TCPServer, sock: socket.socket, remove: Callable[[], None]) -> None:
    """Record a listening socket and how to stop accepting on it, where ``stop()`` and
    ``add_sockets`` keep them, so that ``server.stop()`` closes it like its own."""
    server._sockets[sock.fileno()] = sock
    server._handlers[sock.fileno()] = remove


def handle_connection(server: TCPServer, connection: socket.socket, address: Any) -> None:
    """Hand an accepted socket to the server, as its own accept handler would."""
    server._handle_connection(connection, address)


def read_ahead_bytes(stream: BaseIOStream) -> int:
    """Bytes the stream has read from its socket that nobody has asked for yet."""
    size: int = stream._read_buffer_size
    return size
