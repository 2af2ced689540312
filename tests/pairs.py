"""Two SNS processes on one database, and the people using them: what the tests of pages
staying fresh across processes (tests/test_page_cache_http.py) and of moderation
(tests/test_moderation_http.py) start once per module and backend.

Backends: MariaDB + Redis sessions (separate data dirs, shared secrets, as docs/deploy.md
says) and the embedded default (two processes on one data dir: one SQLite file, SQL
sessions, one generated secrets file).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from testkit.sns import PASSWORD, Client, SnsServer, my_user_id
from tests.conftest import backend_env


def unique(prefix: str) -> str:
    """A word (or hashtag) no other test uses, so each test reads only its own posts."""
    return prefix + uuid.uuid4().hex[:10]


@dataclass
class Person:
    """One browser (one cookie jar) that may talk to either process."""

    a: Client
    b: Client
    id: int = 0
    nick: str = ""
    email: str = ""
    password: str = PASSWORD

    @property
    def http(self) -> requests.Session:
        return self.a.http


@dataclass
class Pair:
    """Processes A (where people act) and B (where they read), on one database."""

    backend: str
    a: SnsServer
    b: SnsServer
    started: list[SnsServer] = field(default_factory=list)

    def browser(self) -> Person:
        """A new browser, logged out, whose cookies go to both processes."""
        on_a, on_b = Client(self.a.url), Client(self.b.url)
        on_b.http = on_a.http
        # Its XSRF cookie from a page no cache keeps, so that signing up and logging in
        # never depend on the pages under test.
        assert on_a.get("/join").status_code == 200 and on_a.http.cookies.get("_xsrf")
        return Person(on_a, on_b)

    def person(self, nick: str | None = None) -> Person:
        """A fresh account, signed up (and so logged in) on A."""
        someone = self.browser()
        typed = someone.a.join(nick=nick or unique("n"))
        someone.nick, someone.email = typed["nick"], typed["email"]
        # /account: a settings page, never one the page cache keeps.
        someone.id = my_user_id(someone.a.get("/account").text)
        return someone

    def other_session(self, of: Person) -> Person:
        """Another browser of the same account, logged in on B (a second device)."""
        device = self.browser()
        assert device.b.login(of.email, of.password).status_code == 302
        device.id, device.nick, device.email = of.id, of.nick, of.email
        return device


def started_pair(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    settings: dict[str, str] | None = None,
) -> Iterator[Pair]:
    """A and B on the backend ``request.param``, for a module fixture to yield from; ``name``
    prefixes their data directories; ``settings`` are added to both's environment."""
    backend = request.param
    env = backend_env(backend, request) | (settings or {})
    if backend == "sqlite":
        # The embedded default as `run.py --processes 2` has it: one data dir, so one
        # SQLite file and the secrets A generated; each process logs to a file of its own.
        data_dir = tmp_path_factory.mktemp(f"{name}-sqlite")
        a, b = SnsServer(data_dir, env), SnsServer(data_dir, env)
        b.log_path = data_dir / "server-b.out"
    else:
        env.update(
            SNS_COOKIE_SECRET=secrets.token_urlsafe(40), SNS_JWT_SECRET=secrets.token_urlsafe(40)
        )
        a = SnsServer(tmp_path_factory.mktemp(f"{name}-mariadb-a"), env)
        b = SnsServer(tmp_path_factory.mktemp(f"{name}-mariadb-b"), env)
    processes = Pair(backend, a, b)
    try:
        for server in (a, b):  # A first: it creates the schema (and, on SQLite, the secrets)
            server.start()
            processes.started.append(server)
        yield processes
    finally:
        for server in processes.started:
            server.stop()
