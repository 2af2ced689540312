"""The API's per-minute quotas: per site and tier, per client address, shared through Redis.

Each test starts servers with small limits. Quotas in Redis are keyed by site id, and site
ids repeat across the suite's databases, so the Redis tests here use a Redis of their own.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.redis import RedisServer
from tests.api_support import call, register_site, token_for
from tests.conftest import new_mariadb_url


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("api-redis"))
    try:
        server.start()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.fail(f"Redis did not start: {exc}")
    yield server
    server.stop()


def site_and_token(server, host="limits.example", tier="free") -> tuple[dict, str]:
    client = server.client()
    client.join()
    site = register_site(client, host, tier)
    return site, token_for(server, site["clientSecret"])


def quota(response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["RateLimit-Limit"]),
        int(headers["RateLimit-Remaining"]),
        int(headers["RateLimit-Reset"]),
    )


def test_a_free_site_gets_its_limit_then_429s(make_server):
    server = make_server("sqlite", SNS_RATE_FREE="3", SNS_RATE_PREMIUM="5")
    _, token = site_and_token(server)
    answers = [call(server, "/v2/posts/my", token) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [quota(a)[:2] for a in answers] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    assert all(1 <= quota(a)[2] <= 60 for a in answers)
    refused = answers[-1]
    assert refused.json()["code"] == 429
    assert "at most 3 a minute" in refused.json()["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Every endpoint counts on the same quota, errors too.
    assert call(server, "/v2/posts/hashtag/nothing", token).status_code == 429


def test_premium_sites_get_more_and_sites_do_not_share(make_server):
    server = make_server("sqlite", SNS_RATE_FREE="2", SNS_RATE_PREMIUM="4")
    _, free = site_and_token(server, "free.example", "free")
    _, premium = site_and_token(server, "premium.example", "premium")
    statuses = Counter(call(server, "/v2/test", premium).status_code for _ in range(5))
    assert statuses == {200: 4, 429: 1}
    assert [call(server, "/v2/test", free).status_code for _ in range(3)] == [200, 200, 429]


def test_token_requests_have_their_own_quota(make_server):
    server = make_server("sqlite", SNS_RATE_FREE="2")
    site, token = site_and_token(server)
    # Buying the token above did not use up a call.
    assert quota(call(server, "/v2/test", token))[:2] == (2, 1)
    ask = {"method": "POST", "json": {"clientSecret": site["clientSecret"]}}
    assert [call(server, "/v2/token", **ask).status_code for _ in range(2)] == [200, 429]


def test_guessing_secrets_runs_into_the_address_limit(make_server):
    server = make_server("sqlite", SNS_RATE_ANONYMOUS="3")
    site, token = site_and_token(server)
    guesses = [
        call(server, "/v2/token", method="POST", json={"clientSecret": secrets.token_urlsafe(32)})
        for _ in range(4)
    ]
    assert [g.status_code for g in guesses] == [401, 401, 401, 429]
    assert guesses[-1].json()["code"] == 429
    assert "Retry-After" in guesses[-1].headers
    # The address is refused now, even with the right secret (it might be the hundredth guess)...
    right = call(server, "/v2/token", method="POST", json={"clientSecret": site["clientSecret"]})
    assert right.status_code == 429
    # ...and bad tokens count on it too, while a good token counts on its site.
    assert call(server, "/v2/posts/my", "forged").status_code == 429
    assert call(server, "/v2/posts/my", token).status_code == 200


def test_real_secrets_do_not_use_up_the_address_limit(make_server):
    server = make_server("sqlite", SNS_RATE_ANONYMOUS="2", SNS_RATE_FREE="100")
    site, _ = site_and_token(server)
    ask = {"method": "POST", "json": {"clientSecret": site["clientSecret"]}}
    assert {call(server, "/v2/token", **ask).status_code for _ in range(5)} == {200}


def test_addresses_come_from_trusted_proxies_only(make_server):
    server = make_server("sqlite", SNS_RATE_ANONYMOUS="1", SNS_TRUSTED_PROXIES="127.0.0.1")
    guess = {"method": "POST", "json": {"clientSecret": "guess"}}
    for address in ("198.51.100.1", "198.51.100.2"):
        first = call(server, "/v2/token", headers={"X-Forwarded-For": address}, **guess)
        assert first.status_code == 401
    again = call(server, "/v2/token", headers={"X-Forwarded-For": "198.51.100.1"}, **guess)
    assert again.status_code == 429
    untrusted = make_server("sqlite", SNS_RATE_ANONYMOUS="1")  # loopback is no proxy here
    spoofs = [
        call(untrusted, "/v2/token", headers={"X-Forwarded-For": f"203.0.113.{i}"}, **guess)
        for i in range(2)
    ]
    assert [s.status_code for s in spoofs] == [401, 429]


def concurrent_calls(targets: list[tuple], token: str) -> list:
    """Send every call at the same moment (one thread each, released by a barrier)."""
    barrier = threading.Barrier(len(targets))

    def send(target):
        server, path = target
        barrier.wait()
        return call(server, path, token)

    with ThreadPoolExecutor(len(targets)) as pool:
        return list(pool.map(send, targets))


def test_n_plus_one_calls_at_once_get_exactly_one_429_in_one_process(make_server):
    limit = 12
    server = make_server("sqlite", SNS_RATE_FREE=str(limit))
    _, token = site_and_token(server)
    answers = concurrent_calls([(server, "/v2/test")] * (limit + 1), token)
    assert Counter(a.status_code for a in answers) == {200: limit, 429: 1}


def test_two_processes_share_one_count_through_redis(make_server, mariadb, own_redis):
    limit = 12
    shared = {
        "SNS_DATABASE_URL": new_mariadb_url(mariadb),
        "SNS_REDIS_URL": own_redis.url,
        "SNS_COOKIE_SECRET": "c" * 40,
        "SNS_JWT_SECRET": "j" * 40,
        "SNS_RATE_FREE": str(limit),
    }
    first = make_server("mariadb", **shared)
    second = make_server("mariadb", **shared)
    _, token = site_and_token(first)
    targets = [(first if i % 2 else second, "/v2/posts/my") for i in range(limit + 1)]
    answers = concurrent_calls(targets, token)
    assert Counter(a.status_code for a in answers) == {200: limit, 429: 1}
    workers = {a.headers["X-SNS-Worker"] for a in answers}
    assert len(workers) == 2
    # The next call is refused by either process: the count is one.
    assert call(first, "/v2/posts/my", token).status_code == 429
    assert call(second, "/v2/posts/my", token).status_code == 429
