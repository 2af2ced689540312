"""A throwaway Redis server: private, non-persistent, on a free loopback port."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import time
from typing import IO

from testkit.base import HOST, Service, free_port, tail
from testkit.install import find_redis_server


class RedisServer(Service):
    """A private, non-persistent redis-server on 127.0.0.1."""

    host: str = HOST

    def __init__(self, base_dir: pathlib.Path) -> None:
        self.base_dir = pathlib.Path(base_dir)
        self.log_path = self.base_dir / "redis.log"
        self.port: int = 0
        self.url: str = ""
        self.proc = None
        self.startup_seconds: float = 0.0
        self._log_file: IO[bytes] | None = None

    def _ping(self) -> bool:
        """True when the server answers PING with +PONG."""
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        """Launch redis-server and wait until it answers PING."""
        if self.proc is not None:
            raise RuntimeError("RedisServer already started")
        redis_server = find_redis_server()
        if redis_server is None:
            raise RuntimeError("redis-server is not installed (python -m testkit --ensure)")
        began = time.monotonic()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()  # a restart keeps its port
        cmd = [
            redis_server,
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.base_dir),
            "--daemonize",
            "no",
        ]
        self._log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.wait_until_ready(
            "redis-server",
            lambda: None if self._ping() else "no answer to PING",
            20.0,
            lambda: tail(self.log_path),
        )
        self.url = f"redis://{HOST}:{self.port}/0"
        self.startup_seconds = time.monotonic() - began
