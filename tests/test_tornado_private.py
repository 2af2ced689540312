"""The Tornado private names serving relies on are still there, and nothing but
``serving/tornado_private.py`` touches them: a new Tornado fails here, naming the attribute,
rather than in a drain under load."""

from __future__ import annotations

import ast
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tornado
import tornado.web
from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.tcpserver import TCPServer

from serving import tornado_private
from serving.http import BoundedHTTPServer
from serving.tornado_private import PRIVATE_NAMES

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_MODULE = ROOT / "serving" / "tornado_private.py"


@pytest.fixture
async def instances() -> AsyncIterator[dict[type, object]]:
    """A real instance of each class named in ``PRIVATE_NAMES`` (on a running loop, as
    Tornado builds them), with the stream on one end of a socket pair."""
    ours, theirs = socket.socketpair()
    stream = IOStream(ours)
    server = HTTPServer(tornado.web.Application())
    built = {HTTPServer: server, TCPServer: server, IOStream: stream}
    yield built
    stream.close()
    theirs.close()


@pytest.mark.parametrize(
    ("cls", "name"), PRIVATE_NAMES, ids=[f"{cls.__name__}.{name}" for cls, name in PRIVATE_NAMES]
)
async def test_tornado_still_has_the_private_name(instances, cls: type, name: str):
    assert cls in instances, f"no instance of {cls.__name__} to check {name} on: add one above"
    instance = instances[cls]
    assert hasattr(instance, name), (
        f"tornado {tornado.version}: {cls.__name__}.{name} is gone, and "
        f"serving/tornado_private.py relies on it"
    )


async def test_the_private_names_work_as_serving_uses_them(instances):
    server = BoundedHTTPServer(tornado.web.Application())
    assert tornado_private.open_connections(server) == set()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    removed = []
    tornado_private.register_listener(server, listener, lambda: removed.append(True))
    client = socket.create_connection(listener.getsockname())
    accepted, address = listener.accept()
    tornado_private.handle_connection(server, accepted, address)
    connections = tornado_private.open_connections(server)
    assert len(connections) == 1
    (connection,) = connections
    assert isinstance(connection, HTTP1ServerConnection)
    server.stop()  # closes the listener it was told about, as for its own
    assert removed == [True] and listener.fileno() == -1
    await server.close_all_connections()
    client.close()


async def test_read_ahead_bytes_counts_what_the_stream_read_but_nobody_asked_for():
    ours, theirs = socket.socketpair()
    stream = IOStream(ours)
    try:
        assert tornado_private.read_ahead_bytes(stream) == 0
        theirs.sendall(b"GET / HTTP/1.1\r\n")
        assert await stream.read_bytes(4) == b"GET "
        assert tornado_private.read_ahead_bytes(stream) == len(b"/ HTTP/1.1\r\n")
    finally:
        stream.close()
        theirs.close()


def touches(path: Path, names: set[str], root: Path = ROOT) -> list[str]:
    """Where a file reads one of ``names`` as an attribute, or as a string (getattr)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in names:
            found.append(f"{path.relative_to(root)}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in names:
            found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def our_modules() -> list[Path]:
    folders = ("serving", "handlers", "sns", "resize", "bench")
    paths = [ROOT / "run.py", *(p for folder in folders for p in (ROOT / folder).rglob("*.py"))]
    return sorted(path for path in paths if path != PRIVATE_MODULE)


def test_only_the_private_module_touches_tornado_private_names():
    names = {name for _cls, name in PRIVATE_NAMES}
    assert [hit for path in our_modules() for hit in touches(path, names)] == []


@pytest.mark.parametrize(
    ("source", "hit"),
    [
        ("len(server._connections)", "module.py:1: ._connections"),
        ("getattr(stream, '_read_buffer_size', 0)", "module.py:1: '_read_buffer_size'"),
    ],
)
def test_the_check_finds_a_private_name_used_elsewhere(tmp_path: Path, source: str, hit: str):
    module = tmp_path / "module.py"
    module.write_text(source + "\n")
    names = {name for _cls, name in PRIVATE_NAMES}
    assert touches(module, names, root=tmp_path) == [hit]
