"""Throwaway MariaDB and Redis servers for the test suite.

The suite runs against real servers (not mocks) so that SQL dialect, collation and Redis
semantics match production. Each server lives in a temporary directory, listens on a free
loopback port only, and is stopped by the process handle we started, never by name.

Usage from the command line::

    python -m tests.services --ensure   # install the servers if missing (root + apt only)
    python -m tests.services --smoke    # start both, print URLs, create a database, stop
"""

from __future__ import annotations

import getpass
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Self

HOST = "127.0.0.1"

_MARIADBD_CANDIDATES = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
_INSTALL_DB_NAMES = ("mariadb-install-db", "mysql_install_db")
_MAX_SOCKET_PATH = 100


# --------------------------------------------------------------------------- discovery


def _which_any(names: tuple[str, ...], extra_paths: tuple[str, ...] = ()) -> str | None:
    """Return the first existing executable among explicit paths and names on PATH."""
    for path in extra_paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    search_path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    for name in names:
        found = shutil.which(name, path=search_path)
        if found:
            return found
    return None


def find_mariadbd() -> str | None:
    """Locate the MariaDB server binary (Debian puts it in /usr/sbin, often not on PATH)."""
    return _which_any(("mariadbd", "mysqld"), _MARIADBD_CANDIDATES)


def find_install_db() -> str | None:
    """Locate the datadir bootstrap script."""
    return _which_any(_INSTALL_DB_NAMES)


def find_redis_server() -> str | None:
    """Locate redis-server."""
    return _which_any(("redis-server",), ("/usr/bin/redis-server",))


def find_nginx() -> str | None:
    """Locate nginx (the reverse proxy in front of several nodes)."""
    return _which_any(("nginx",), ("/usr/sbin/nginx",))


CHROMIUM = "/usr/bin/chromium"
KOREAN_FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/nanum")


def _missing() -> dict[str, str]:
    """What is missing, by what it is called, with the Debian package that brings it."""
    missing = {}
    if find_mariadbd() is None:
        missing["mariadbd"] = "mariadb-server"
    if find_install_db() is None:
        missing["mariadb-install-db"] = "mariadb-server"
    if find_redis_server() is None:
        missing["redis-server"] = "redis-server"
    if find_nginx() is None:
        missing["nginx"] = "nginx-light"
    if not os.path.exists(CHROMIUM):
        missing["chromium"] = "chromium"
    if not any(os.path.isdir(path) for path in KOREAN_FONT_DIRS):
        missing["a Korean font"] = "fonts-noto-cjk"
    return missing


def ensure_installed(required: bool) -> None:
    """Make sure MariaDB, Redis, nginx, Chromium and a Korean font exist, installing them
    via apt when we can.

    Fresh CI machines may lack them; as root with apt-get we install them once. Otherwise
    raise (when ``required``) or return quietly so the caller can skip the tests.
    """
    missing = _missing()
    if not missing:
        return
    apt_get = shutil.which("apt-get")
    if os.geteuid() == 0 and apt_get:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([apt_get, "update", "-q"], env=env, check=False)
        subprocess.run(
            [apt_get, "install", "-y", "-q", *sorted(set(missing.values()))],
            env=env,
            check=False,
        )
        missing = _missing()
        if not missing:
            return
    if required:
        raise RuntimeError(
            "Test services missing: "
            + ", ".join(missing)
            + ". Install the Debian packages (apt-get install -y "
            + " ".join(sorted(set(missing.values())))
            + "), or run the tests as root on a machine with apt-get so they are installed "
            "automatically."
        )


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """Ask the kernel for a currently unused loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _current_user() -> str:
    """Name of the effective user; servers must run as it (mariadbd refuses root otherwise)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return getpass.getuser()


def _tail(path: pathlib.Path, lines: int = 40) -> str:
    """Last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<no log at {path}>"
    return "\n".join(text.splitlines()[-lines:])


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """SIGTERM our own child, wait, then SIGKILL; no-op if already gone."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    else:
        proc.wait()


class _Service:
    """Shared context-manager plumbing for the two servers."""

    proc: subprocess.Popen[bytes] | None

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- MariaDB


class MariaDBServer(_Service):
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
            raise RuntimeError("MariaDB is not installed (python -m tests.services --ensure)")
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
                f"mariadb-install-db failed (exit {result.returncode}):\n{_tail(install_log)}"
            )

    def start(self) -> None:
        """Bootstrap a datadir, launch mariadbd and wait until it accepts TCP logins."""
        import pymysql

        if self.proc is not None:
            raise RuntimeError("MariaDBServer already started")
        began = time.monotonic()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        user = _current_user()
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
        deadline = time.monotonic() + 60.0
        last_error: Exception | None = None
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(
                    f"mariadbd exited with code {code} during startup:\n"
                    f"{_tail(self.log_path)}\n{_tail(self.stdout_path)}"
                )
            try:
                conn = pymysql.connect(
                    host=HOST,
                    port=self.port,
                    user="root",
                    password="",
                    connect_timeout=2,
                    read_timeout=2,  # a foreign listener on our port must not hang us
                    write_timeout=2,
                )
            except pymysql.MySQLError as exc:
                last_error = exc
            else:
                conn.close()
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"mariadbd did not accept connections within 60 s ({last_error}):\n"
                    f"{_tail(self.log_path)}"
                )
            time.sleep(0.1)
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
        proc, self.proc = self.proc, None
        _stop_process(proc)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)
            self._short_dir = None


# --------------------------------------------------------------------------- Redis


class RedisServer(_Service):
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
            raise RuntimeError("redis-server is not installed (python -m tests.services --ensure)")
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
        deadline = time.monotonic() + 20.0
        while not self._ping():
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"redis-server exited with code {code}:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"redis-server did not answer PING in 20 s:\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)
        self.url = f"redis://{HOST}:{self.port}/0"
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop the server we started; safe to call more than once."""
        proc, self.proc = self.proc, None
        _stop_process(proc)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


# --------------------------------------------------------------------------- nginx

NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    upstream sns {{
{servers}
        keepalive 16;
    }}
    server {{
        listen {host}:{port};
        client_max_body_size 6m;
        location / {{
            proxy_pass http://sns;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class NginxServer(_Service):
    """A private nginx on 127.0.0.1 balancing over the given upstream ports (round robin);
    every answer names its upstream in ``X-Upstream``."""

    def __init__(self, base_dir: pathlib.Path, upstreams: list[int]) -> None:
        self.base_dir = pathlib.Path(base_dir)
        self.upstreams = upstreams
        self.port = 0
        self.url = ""
        self.proc = None

    def start(self) -> None:
        nginx = find_nginx()
        if nginx is None:
            raise RuntimeError("nginx is not installed (python -m tests.services --ensure)")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        servers = "\n".join(f"        server {HOST}:{port};" for port in self.upstreams)
        conf = self.base_dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                user="user root;" if os.geteuid() == 0 else "",  # its temp dirs are ours
                base=self.base_dir,
                servers=servers,
                host=HOST,
                port=self.port,
            )
        )
        self.proc = subprocess.Popen(
            [nginx, "-p", str(self.base_dir), "-c", str(conf), "-e", str(self.base_dir / "e.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20.0
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"nginx did not start:\n{_tail(self.base_dir / 'error.log')}"
                    ) from None
                time.sleep(0.05)
        self.url = f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        _stop_process(proc)


# --------------------------------------------------------------------------- CLI


def _smoke() -> None:
    """Start both servers, print their URLs, create a database, stop them."""
    ensure_installed(required=True)
    with tempfile.TemporaryDirectory(prefix="sns-services-") as tmp:
        base = pathlib.Path(tmp)
        with MariaDBServer(base / "mariadb") as db, RedisServer(base / "redis") as redis:
            print(f"mariadb: {db.host}:{db.port} (started in {db.startup_seconds:.2f} s)")
            print(f"redis:   {redis.url} (started in {redis.startup_seconds:.2f} s)")
            url = db.create_database("sns_smoke")
            print(f"database url: {url}")
        print("stopped")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: --ensure or --smoke."""
    args = sys.argv[1:] if argv is None else argv
    if "--ensure" in args:
        ensure_installed(required=True)
        return 0
    if "--smoke" in args:
        _smoke()
        return 0
    print("usage: python -m tests.services [--ensure | --smoke]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
