"""Redis under a burst and across a restart, and two deployments sharing one Redis.

Each test runs its own Redis (it restarts it, or fills it with the keys of two
deployments) and its own SNS processes on MariaDB, as production runs them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter

import pytest

from testkit.base import HOST
from testkit.redis import RedisServer
from testkit.sns import PASSWORD, Client, SnsServer, my_user_id
from tests.api_support import register_site, token_for
from tests.conftest import new_mariadb_url

BURST = 300  # requests sent at once; more than redis-py's default pool of 100 connections


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def on_mariadb(request, redis: RedisServer, **env: str) -> dict[str, str]:
    """A deployment of its own: a fresh MariaDB database, the given Redis."""
    database = new_mariadb_url(request.getfixturevalue("mariadb"))
    return {"SNS_DATABASE_URL": database, "SNS_REDIS_URL": redis.url, **env}


async def _burst(port: int, count: int, path: str) -> Counter[str]:
    """``count`` GETs on ``count`` connections, all opened first, then all sent at once."""

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(HOST, port)

    streams = await asyncio.gather(*(connect() for _ in range(count)))
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
    for _reader, writer in streams:
        writer.write(request.encode())

    async def status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        try:
            line = await reader.readline()
            await reader.read()  # the whole answer, then the server's close
            return line.split(b" ")[1].decode() if line else "closed"
        except ConnectionError as exc:
            return type(exc).__name__
        finally:
            writer.close()

    answers = await asyncio.wait_for(
        asyncio.gather(*(status(reader, writer) for reader, writer in streams)), 120
    )
    return Counter(answers)


def burst(server: SnsServer, count: int = BURST, path: str = "/") -> Counter[str]:
    return asyncio.run(_burst(server.port, count, path))


# --- item 3: a burst, and a burst right after Redis came back ---------------------------


def test_a_burst_on_a_fresh_process_is_answered_in_full(request, make_server, own_redis):
    server = make_server("sqlite", **on_mariadb(request, own_redis))
    assert burst(server) == {"200": BURST}


def test_a_burst_right_after_a_redis_restart_is_answered_in_full(request, make_server, own_redis):
    server = make_server("sqlite", **on_mariadb(request, own_redis))
    burst(server)  # the pool now holds as many connections as it ever will
    own_redis.stop()
    own_redis.start()  # same port, empty: every pooled connection is now a dead one
    assert burst(server) == {"200": BURST}
    # and nothing is left broken for the ones after
    assert burst(server, 20) == {"200": 20}


# --- item 12: two deployments on one Redis, each under its own prefix -------------------

PREFIXES = ("alpha:", "beta:")


@pytest.fixture
def two_deployments(request, make_server, own_redis):
    """Deployments A and B: their own databases, one Redis, different ``SNS_REDIS_PREFIX``.

    They even share a cookie secret (a staging copy of production's settings, say), so
    only the prefix keeps a session of one from being read by the other."""
    shared = {
        "SNS_COOKIE_SECRET": secrets.token_urlsafe(40),
        "SNS_QUERY_COUNT_HEADER": "true",
        "SNS_LOGIN_MAX_FAILURES": "2",
        "SNS_RATE_FREE": "2",
    }
    return tuple(
        make_server("sqlite", **on_mariadb(request, own_redis, SNS_REDIS_PREFIX=prefix, **shared))
        for prefix in PREFIXES
    )


def queries(response) -> int:
    assert response.status_code == 200
    return int(response.headers["X-SNS-Queries"])


def test_a_write_on_one_deployment_leaves_the_others_page_cache_alone(two_deployments):
    a, b = two_deployments
    reader = b.client()
    queries(reader.get("/"))
    assert queries(reader.get("/")) == 0  # B serves its front page from its cache
    writer = a.client()
    writer.join()
    assert writer.write("written on A").status_code == 302

    assert queries(reader.get("/")) == 0  # A's writes are none of B's business
    author = b.client()
    author.join()
    assert author.write("written on B").status_code == 302
    front = reader.get("/")
    assert queries(front) > 0 and "written on B" in front.text
    assert "written on A" not in front.text


def test_a_session_of_one_deployment_is_unknown_to_the_other(two_deployments):
    a, b = two_deployments
    bob = b.client()
    bob.join()  # user 1 of B's database
    alice = a.client()
    alice.join()  # user 1 of A's database, with a cookie B can verify
    assert my_user_id(alice.get("/").text) == 1

    stranger = Client(b.url)
    stranger.http.cookies.update(alice.http.cookies)
    page = stranger.get("/").text
    assert 'action="/auth/login"' in page and 'class="profile-box"' not in page


def test_failed_logins_on_one_deployment_do_not_lock_the_account_on_the_other(
    two_deployments,
):
    a, b = two_deployments
    email = f"same-{secrets.token_hex(4)}@example.com"
    for server in (a, b):
        server.client().join(email=email)
    guesser = a.client()
    assert [guesser.login(email, "wrong guess!").status_code for _ in range(3)][-1] == 429

    assert b.client().login(email, PASSWORD).status_code == 302


def test_an_api_quota_used_up_on_one_deployment_still_serves_on_the_other(two_deployments):
    a, b = two_deployments
    tokens = []
    for server in (a, b):
        owner = server.client()
        owner.join()
        site = register_site(owner, "quota.example")  # site 1 of each database
        tokens.append(token_for(server, site["clientSecret"]))

    def mine(server: SnsServer, token: str) -> int:
        return Client(server.url).get("/v2/posts/my", headers={"Authorization": token}).status_code

    assert [mine(a, tokens[0]) for _ in range(3)] == [200, 200, 429]
    assert mine(b, tokens[1]) == 200


def test_every_key_either_deployment_writes_is_under_its_prefix(two_deployments, own_redis):
    import redis

    for server in two_deployments:
        person = server.client()
        who = person.join()
        person.write("a post, so the site version moves")
        site = register_site(person, "keys.example")
        token = token_for(server, site["clientSecret"])
        Client(server.url).get("/v2/posts/my", headers={"Authorization": token})
        server.client().login(who["email"], "a wrong password")
    with redis.Redis.from_url(own_redis.url, decode_responses=True) as direct:
        keys = set(direct.scan_iter())
    assert keys
    for prefix in PREFIXES:
        mine = {key for key in keys if key.startswith(prefix)}
        kinds = {key[len(prefix) :].split(":")[0] for key in mine}
        assert {"session", "rate", "site-version"} <= kinds, (prefix, kinds)
    assert {key for key in keys if not key.startswith(PREFIXES)} == set()
