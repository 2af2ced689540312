"""Login limits under concurrency, and the bound on bcrypt work, over HTTP on both backends.

Guesses are sent at once from threads, each with its own client, against a real server:
the limits must hold however the requests interleave (#12).
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest
import requests

from testkit.sns import PASSWORD, Client, SnsServer

BACKENDS = ["sqlite", "mariadb"]
LIMIT = 5
GUESSES = 20
TOO_MANY = "Too many failed logins"
BUSY = "The server is busy checking passwords"


def start(make_server, backend: str, **env: str) -> SnsServer:
    """A server that believes loopback's ``X-Forwarded-For``.

    The MariaDB servers of a test run share one Redis, and so their per-address counts:
    each test comes from an address of its own (see ``client_from``).
    """
    return make_server(backend, SNS_TRUSTED_PROXIES="127.0.0.1", **env)


def client_from(server: SnsServer, address: str) -> Client:
    """A client whose requests come from ``address``, with its XSRF cookie already."""
    client = server.client()
    client.http.headers["X-Forwarded-For"] = address
    client.xsrf()
    return client


def new_address() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def ready_clients(server: SnsServer, count: int, address: str) -> list[Client]:
    """Clients from one address that already hold an XSRF cookie, so that their login is
    their only request."""
    return [client_from(server, address) for _ in range(count)]


def storm(server: SnsServer, email: str) -> tuple[list[requests.Response], requests.Response]:
    """GUESSES wrong passwords at once, then the right one as soon as a guess has answered.

    The right password arrives while guesses are still being checked: before the fix it
    passed the limit check, because the failures in flight were not counted yet.
    """
    clients = ready_clients(server, GUESSES + 1, new_address())
    together = threading.Barrier(GUESSES)

    def guess(number: int) -> requests.Response:
        together.wait()
        return clients[number].login(email, f"wrong guess {number}")

    with ThreadPoolExecutor(GUESSES + 1) as pool:
        guesses = [pool.submit(guess, number) for number in range(GUESSES)]
        wait(guesses, return_when=FIRST_COMPLETED, timeout=60)
        right = pool.submit(clients[GUESSES].login, email, PASSWORD)
        return [future.result() for future in guesses], right.result()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("limit_by", ["account", "address"])
def test_guesses_sent_at_once_are_tried_only_up_to_the_limit(make_server, backend, limit_by):
    server = start(
        make_server,
        backend,
        # A check takes ~0.3 s, so guesses are still in flight when the right one comes.
        SNS_BCRYPT_ROUNDS="12",
        SNS_LOGIN_MAX_FAILURES=str(LIMIT) if limit_by == "account" else "1000",
        SNS_LOGIN_MAX_FAILURES_IP=str(LIMIT) if limit_by == "address" else "1000",
    )
    who = server.client().join()

    guesses, right = storm(server, who["email"])

    statuses = sorted(response.status_code for response in guesses)
    assert statuses == [401] * LIMIT + [429] * (GUESSES - LIMIT)
    assert right.status_code == 429
    assert TOO_MANY in right.text
    assert int(right.headers["Retry-After"]) > 0
    assert "sid" not in right.cookies


def test_a_right_password_in_time_still_logs_in_and_clears_the_account(make_server):
    server = start(make_server, "sqlite", SNS_LOGIN_MAX_FAILURES=str(LIMIT))
    who = server.client().join()
    attacker = client_from(server, new_address())
    assert [attacker.login(who["email"], "nope nope").status_code for _ in range(4)] == [401] * 4
    assert client_from(server, new_address()).login(who["email"]).status_code == 302
    # The success cleared the account's failures: a typo after it is not the last straw.
    assert [attacker.login(who["email"], "nope nope").status_code for _ in range(5)] == [401] * 5
    assert attacker.login(who["email"], "nope nope").status_code == 429


@pytest.mark.parametrize("backend", BACKENDS)
def test_successful_logins_do_not_use_up_the_address_limit(make_server, backend):
    # Every attempt takes a place before the password is checked; a success gives its
    # place back, so people behind one address can keep logging in.
    server = start(make_server, backend, SNS_LOGIN_MAX_FAILURES_IP="3")
    who = server.client().join()
    office = new_address()
    logins = [client_from(server, office).login(who["email"]).status_code for _ in range(6)]
    assert logins == [302] * 6
    guesses = [client_from(server, office).login(who["email"], "bad guess!") for _ in range(4)]
    assert [response.status_code for response in guesses] == [401, 401, 401, 429]


def test_a_storm_of_logins_cannot_make_other_logins_wait_long(make_server):
    # One bcrypt check at a time, and a second at most to get a turn: a storm of logins
    # for many accounts gets quick 503s instead of a queue that grows without end, and
    # someone else's login answers within about a second either way.
    server = start(
        make_server,
        "sqlite",
        SNS_BCRYPT_ROUNDS="12",
        SNS_BCRYPT_CONCURRENCY="1",
        SNS_BCRYPT_WAIT="1",
    )
    who = server.client().join()
    # One check alone, timed here: the machine's speed now, for the bound below.
    began = time.monotonic()
    assert client_from(server, new_address()).login("alone@example.com", "a guess").ok is False
    alone = time.monotonic() - began
    clients = [client_from(server, new_address()) for _ in range(GUESSES)]
    together = threading.Barrier(GUESSES)

    def unknown(number: int) -> tuple[requests.Response, float]:
        together.wait()
        began = time.monotonic()
        response = clients[number].login(f"nobody{number}@example.com", "some guess 1")
        return response, time.monotonic() - began

    with ThreadPoolExecutor(GUESSES) as pool:
        answers = list(pool.map(unknown, range(GUESSES)))

    statuses = [response.status_code for response, _ in answers]
    assert set(statuses) <= {401, 503}
    busy = [response for response, _ in answers if response.status_code == 503]
    assert busy, statuses
    assert all(BUSY in response.text and "Retry-After" in response.headers for response in busy)
    # A check waits at most 1 s for its turn and then takes one check's time (``alone``,
    # ~0.3 s on a quiet machine); the rest is slack for a loaded one, measured in checks.
    # Unbounded, the twenty checks would queue: twenty checks' time for the last.
    assert statuses.count(401) < GUESSES // 2, statuses
    assert max(took for _, took in answers) < 2 + 5 * alone, (alone, answers)
    assert server.client().login(who["email"]).status_code == 302
