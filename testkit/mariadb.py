"""A throwaway MariaDB server: a private mariadbd on loopback with a fresh datadir.

The suite runs against real servers (not mocks) so that SQL dialect, collation and Redis
semantics match production. Each server lives in a temporary directory, listens on a free
loopback port only, and is stopped by the process handle we started, never by name.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile
import time
from typing import IO

from testkit.base import HOST, Service, current_user, free_port, tail
from testkit.install import find_install_db, find_mariadbd

_MAX_SOCKET_PATH = 100


class MariaDBServer(Service):
    """A private mariadbd on 127.0.0.1 with a fresh datadir, root without password."""

    host: str = HOST

    def __init__(self, base_dir: pathlib.Path) -> None:
        self.base_dir = pathlib.Path(base_dir)
        self.datadir = self.base_dir / "data"
        self.log_path = self.base_dir / "mariadb.err"
        self.stdout_path = self.base_dir / "mariadb.out"
        self.pid_path = self.base_dir / "mariadb.pid"
        self.port: int = 0
        self.proc = None
        self.startup_seconds: float = 0.0
        self.install_seconds: float = 0.0
        self._log_file: IO[bytes] | None = None
        self._short_dir: str | None = None
        self.socket_path = self.base_dir / "my.sock"

    def _pick_socket_path(self) -> pathlib.Path:
        """Unix socket paths are limited to ~107 bytes; fall back to a short temp dir."""
        path = self.base_dir.resolve() / "my.sock"
        if len(str(path)) < _MAX_SOCKET_PATH:
            return path
        self._short_dir = tempfile.mkdtemp(prefix="snsdb")
        return pathlib.Path(self._short_dir) / "my.sock"

    def _install_db(self, user: str) -> None:
        """Create the system tables in an empty datadir."""
        install_db = find_install_db()
        mariadbd = find_mariadbd()
        if install_db is None or mariadbd is None:
            raise RuntimeError("MariaDB is not installed (python -m testkit --ensure)")
        self.datadir.mkdir(parents=True, exist_ok=True)
        cmd = [
            install_db,
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=normal",
            f"--user={user}",
            "--skip-test-db",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--innodb-doublewrite=0",
            "--innodb-flush-log-at-trx-commit=2",
            "--skip-log-bin",
        ]
        # Debian's script finds mariadbd via its compiled-in basedir; tell it explicitly
        # when the binary lives in the usual prefix so --no-defaults does not confuse it.
        prefix = pathlib.Path(mariadbd).resolve().parent.parent
        if (prefix / "share").is_dir():
            cmd.insert(2, f"--basedir={prefix}")
        install_log = self.base_dir / "install-db.log"
        with install_log.open("wb") as log:
            result = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"mariadb-install-db failed (exit {result.returncode}):\n{tail(install_log)}"
            )

    def start(self) -> None:
        """Bootstrap a datadir, launch mariadbd and wait until it accepts TCP logins."""
        import pymysql

        if self.proc is not None:
            raise RuntimeError("MariaDBServer already started")
        began = time.monotonic()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        user = current_user()
        self._install_db(user)
        self.install_seconds = time.monotonic() - began
        self.socket_path = self._pick_socket_path()
        self.port = free_port()
        mariadbd = find_mariadbd()
        assert mariadbd is not None
        cmd = [
            mariadbd,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--port={self.port}",
            f"--bind-address={HOST}",
            "--skip-networking=0",
            "--skip-grant-tables",
            "--skip-name-resolve",
            f"--user={user}",
            f"--pid-file={self.pid_path}",
            f"--log-error={self.log_path}",
            f"--tmpdir={self.base_dir}",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_bin",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=2",
            "--innodb-doublewrite=0",
            "--innodb-buffer-pool-dump-at-shutdown=0",
            "--innodb-buffer-pool-load-at-startup=0",
            "--sync-frm=0",
            "--skip-performance-schema",
            "--max-connections=200",
        ]
        self._log_file = self.stdout_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

        def refused_login() -> str | None:
            try:
                pymysql.connect(
                    host=HOST,
                    port=self.port,
                    user="root",
                    password="",
                    connect_timeout=2,
                    read_timeout=2,  # a foreign listener on our port must not hang us
                    write_timeout=2,
                ).close()
            except pymysql.MySQLError as exc:
                return str(exc)
            return None

        self.wait_until_ready(
            "mariadbd",
            refused_login,
            60.0,
            lambda: f"{tail(self.log_path)}\n{tail(self.stdout_path)}",
            interval=0.1,
        )
        self.startup_seconds = time.monotonic() - began

    def connect(self, database: str | None = None) -> object:
        """Open a pymysql connection as root (handy for fixtures and debugging)."""
        import pymysql

        return pymysql.connect(
            host=HOST,
            port=self.port,
            user="root",
            password="",
            database=database,
            charset="utf8mb4",
            autocommit=True,
        )

    def create_database(self, name: str) -> str:
        """Create a utf8mb4/utf8mb4_bin database and return its SQLAlchemy async URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name: {name!r}")
        conn = self.connect()
        try:
            with conn.cursor() as cur:  # type: ignore[attr-defined]
                cur.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )
        finally:
            conn.close()  # type: ignore[attr-defined]
        return self.url(name)

    def url(self, name: str) -> str:
        """SQLAlchemy URL (aiomysql driver) for a database on this server."""
        return f"mysql+aiomysql://root@{HOST}:{self.port}/{name}?charset=utf8mb4"

    def stop(self) -> None:
        """Stop the server we started; safe to call more than once."""
        super().stop()
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)
            self._short_dir = None
