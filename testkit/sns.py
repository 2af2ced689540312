"""A real SNS server process for the tests (``python run.py`` with a given environment),
and a small HTTP client that keeps cookies and sends the XSRF token like a browser form."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import make_url

from testkit.base import free_port
from testkit.templates import copy_template

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse 9"


class SnsServer:
    """``python run.py`` on a free loopback port; restartable on the same data."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir / "server.out"
        self.command_prefix: list[str] = []  # e.g. ["prlimit", "--nofile=200"]
        self.args: list[str] = []  # e.g. ["--processes", "2"] or ["supervise"]
        # The interpreter that serves: the bench may name a virtualenv with only the
        # program's own packages, as deployed (bench/README.md, memory).
        self.python = sys.executable
        # Start on a copy of a migrated database (testkit/templates.py) when there is none
        # yet; False leaves the migrating to the server's own start-up.
        self.premigrated = True

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SNS_")}
        env.update(
            SNS_DATA_DIR=str(self.data_dir),
            SNS_HOST="127.0.0.1",
            SNS_PORT=str(self.port),
            SNS_BCRYPT_ROUNDS="4",
            # Loopback is not a trusted proxy here, so tests can show that a spoofed
            # X-Forwarded-For changes nothing; tests that need a proxy say so.
            SNS_TRUSTED_PROXIES="192.0.2.1",
            SNS_LOGIN_MAX_FAILURES_IP="100000",
            # Every test calls the API from 127.0.0.1; tests of this limit set their own.
            SNS_RATE_ANONYMOUS="100000",
        )
        env.update(self.extra_env)
        # One Redis serves every MariaDB database of a test worker, as if each database were
        # a deployment of its own, and deployments sharing a Redis need their own prefixes
        # (README): site ids repeat across databases, so without one, a site's API quota
        # would count another database's calls too. Processes sharing a database share its
        # prefix, as a deployment's do; a test that sets SNS_REDIS_PREFIX keeps its own.
        url = env.get("SNS_DATABASE_URL", "")
        if env.get("SNS_REDIS_URL") and "SNS_REDIS_PREFIX" not in env and url.startswith("mysql"):
            env["SNS_REDIS_PREFIX"] = f"sns-{make_url(url).database}:"
        return env

    def start(self) -> SnsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        if self.premigrated:
            copy_template(Path(env["SNS_DATA_DIR"]), env)
        out = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                *self.command_prefix,
                self.python,
                str(ROOT / "run.py"),
                *self.args,
                "--env-file",
                "",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code in (200, 503):
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or (supervisor) the socket waits for a worker
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within 60 s:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def workers(self, count: int, timeout: float = 60) -> set[str]:
        """Wait until ``count`` different workers have answered (fresh connections)."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only workers {seen} answered:\n{self.output()}")
            try:
                answer = requests.get(self.url + "/healthz", timeout=5)
                if answer.status_code == 200:
                    seen.add(answer.headers["X-SNS-Worker"])
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        return seen

    def client(self) -> Client:
        return Client(self.url)

    @contextmanager
    def sql(self) -> Iterator[Connection]:
        """A transaction on the server's own database, straight from SQL."""
        url = self.extra_env.get("SNS_DATABASE_URL")
        url = url.replace("+aiomysql", "+pymysql") if url else f"sqlite:///{self.sqlite_path}"
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "sns.sqlite3"


class SupervisedSns(SnsServer):
    """``python run.py supervise``: supervisord.conf with ``workers`` workers on one port."""

    def __init__(self, data_dir: Path, env: dict[str, str], workers: int = 2) -> None:
        super().__init__(data_dir, {**env, "SNS_SUPERVISOR_WORKERS": str(workers)})
        self.args = ["supervise"]
        self.count = workers

    def start(self) -> SupervisedSns:
        super().start()
        try:
            self.workers(self.count)
        except BaseException:
            self.stop()  # supervisord and its workers, not left behind
            raise
        return self

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """supervisorctl, as docs/deploy.md says: SNS_RUN_DIR names the control socket."""
        command = [str(Path(sys.executable).parent / "supervisorctl"), "-c", "supervisord.conf"]
        result = subprocess.run(
            [*command, *args],
            cwd=ROOT,
            env={**os.environ, "SNS_RUN_DIR": str(self.data_dir / "run")},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return result.stdout + result.stderr

    def pids(self, wait: float = 10) -> dict[str, int]:
        """Worker name -> pid of the running workers, from ``supervisorctl status``.

        On a loaded machine supervisorctl now and then prints nothing (its socket was not
        answered in time); it is asked again, for up to ``wait`` seconds.
        """
        deadline = time.monotonic() + wait
        while True:
            found = {}
            for line in self.ctl("status").splitlines():
                match = re.match(r"sns:(\S+)\s+RUNNING\s+pid (\d+)", line)
                if match:
                    found[match.group(1)] = int(match.group(2))
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


XSRF_INPUT = re.compile(r'name="_xsrf" value="([^"]+)"')
USER_ID_HOOK = re.compile(r'data-user-id="(\d+)"')


def my_user_id(html: str) -> int:
    """The logged-in user's id: the ``data-user-id`` hook inside the page's profile box
    (on its "My posts" link), never the first ``/user/<id>`` link on the page."""
    start = html.index('class="profile-box"')
    box = html[start : html.index("</section>", start)]
    return int(USER_ID_HOOK.search(box).group(1))


def session_of(cookie: str | None) -> str | None:
    """The session id a signed ``sid`` cookie carries, without its time stamp and signature.

    Every logged-in GET sets the cookie again, stamped with the second it was signed, so
    the cookie's text changes while the session (and the XSRF token bound to it) stays the
    same. Keyed on the text, a form's token would be fetched again with an extra ``GET /``
    whenever a second had turned, a request of its own between the ones a test measures.
    Tornado's version-2 format: ``2|1:0|10:<time>|3:sid|<n>:<value>|<signature>``.
    """
    if cookie is None:
        return None
    fields = cookie.strip('"').split("|")
    if len(fields) == 6 and fields[0] == "2":
        return fields[4].split(":", 1)[-1]
    return cookie


class Client:
    """A requests session that behaves like a browser filling in our forms."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self._token: tuple[str, str] | None = None  # (session cookie, its form token)

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.get(self.base_url + path, **kwargs)

    def xsrf(self) -> str:
        """The XSRF token a form of this site carries for this browser now.

        Logged out, the ``_xsrf`` cookie's own value is a valid token; logged in, the token
        is bound to the session, so it is read from a page once per session cookie.
        """
        session = session_of(self.http.cookies.get("sid"))
        if session is None:
            token = self.http.cookies.get("_xsrf")
            if token is None:
                token = XSRF_INPUT.search(self.get("/").text).group(1)
            return token
        if self._token is None or self._token[0] != session:
            page = self.get("/")
            self._token = (session, XSRF_INPUT.search(page.text).group(1))
        return self._token[1]

    def post(self, path: str, data: dict | None = None, *, xsrf: bool = True, **kwargs):
        kwargs.setdefault("timeout", 30)
        data = dict(data or {})
        if xsrf:
            data.setdefault("_xsrf", self.xsrf())
        return self.http.post(self.base_url + path, data=data, **kwargs)

    def join(
        self, email: str | None = None, nick: str | None = None, password: str = PASSWORD
    ) -> dict:
        """Sign up a fresh user (and so log in); returns what was typed."""
        email = email or f"u{uuid.uuid4().hex[:12]}@example.com"
        nick = nick or f"nick{uuid.uuid4().hex[:6]}"
        response = self.post(
            "/auth/join",
            {"email": email, "nick": nick, "password": password},
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text
        return {"email": email, "nick": nick, "password": password}

    def login(self, email: str, password: str = PASSWORD, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self.post("/auth/login", {"email": email, "password": password}, **kwargs)

    def user_id(self) -> int:
        """The id of the user logged in on this client, read from the profile box."""
        return my_user_id(self.get("/").text)

    def logout(self) -> requests.Response:
        return self.post("/auth/logout", allow_redirects=False)

    def write(self, content: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self.post("/post", {"content": content}, **kwargs)

    def kept_alive(self) -> KeptAlive:
        """One connection of this browser, kept alive (see ``KeptAlive``)."""
        return KeptAlive(self)


class KeptAlive:
    """One HTTP/1.1 connection of a ``Client`` (its cookies), kept alive and never opened
    again: requests opens a new connection when it finds its old one closed, and so hides
    a server that drops connections; here the next request on a dropped connection fails,
    as a browser's is reset."""

    def __init__(self, client: Client) -> None:
        url = urlsplit(client.base_url)
        self.client = client
        self.http = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        self.http.connect()
        self.sock = self.http.sock

    def request(
        self, method: str, path: str, body: bytes | str = b"", headers: dict | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """The answer and its body, asked on this same connection."""
        assert self.http.sock is self.sock, "the server closed the kept-alive connection"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.client.http.cookies)
        self.http.request(method, path, body=body, headers={"Cookie": cookies, **(headers or {})})
        answer = self.http.getresponse()
        return answer, answer.read()

    def close(self) -> None:
        self.http.close()
