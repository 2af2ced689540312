"""Limits against floods (#21) at their defaults, on both backends (Redis-shared counters,
in-process ones): sign-ups per client address (5 per 30 minutes; 127.0.0.1 never counted,
nor a network of SNS_SIGNUP_EXEMPT), posts and comments per account (30 each per 10
minutes, the API's POST /v2/posts counted with the compose form), reports per account (20
an hour). Each refusal is a 429 with Retry-After and RateLimit-* headers, as a page with
the form refilled or as ``{code, message}``.

A client is bound to another loopback address (127.0.0.2, ...) to sign up from it: the
server sees that address as the socket's peer, no proxy header involved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from requests.adapters import HTTPAdapter

from testkit.sns import Client, SnsServer
from tests.api_support import register_site, token_for
from tests.conftest import BACKENDS, backend_env

JSON = {"Accept": "application/json"}


class SourceAddress(HTTPAdapter):
    """Connections from one local address (any loopback address works on Linux)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(server: SnsServer, address: str) -> Client:
    client = server.client()
    client.http.mount("http://", SourceAddress(address))
    return client


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[SnsServer]:
    """Default limits; only 127.0.0.4 is named exempt."""
    env = backend_env(request.param, request)
    env["SNS_SIGNUP_EXEMPT"] = "127.0.0.4/32"
    instance = SnsServer(tmp_path_factory.mktemp(f"floods-{request.param}"), env)
    instance.backend = request.param
    instance.start()
    yield instance
    instance.stop()


def sign_up(client: Client, **headers: str):
    email = f"f{uuid.uuid4().hex[:12]}@example.com"
    fields = {"email": email, "nick": "flood", "password": "correct horse 9"}
    return client.post("/auth/join", fields, allow_redirects=False, headers=headers), email


def test_sign_ups_from_one_address_stop_at_five_with_retry_after(server):
    answers = []
    for _ in range(5):
        answer, _email = sign_up(client_from(server, "127.0.0.2"))
        answers.append((answer.status_code, answer.headers.get("RateLimit-Remaining")))
    assert answers == [(302, "4"), (302, "3"), (302, "2"), (302, "1"), (302, "0")]
    refused, email = sign_up(client_from(server, "127.0.0.2"))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 1800
    assert refused.headers["RateLimit-Limit"] == "5"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert "Too many sign-ups from your address: at most 5." in refused.text
    assert f'value="{email}"' in refused.text
    assert "sid" not in refused.cookies
    fetched, _email = sign_up(client_from(server, "127.0.0.2"), Accept="application/json")
    assert fetched.status_code == 429
    assert fetched.json()["message"].startswith("Too many sign-ups from your address")
    assert sign_up(client_from(server, "127.0.0.3"))[0].status_code == 302


def test_sign_ups_from_the_servers_own_loopback_or_an_exempt_network_never_count(server):
    for address in ("127.0.0.1", "127.0.0.4"):
        answers = [sign_up(client_from(server, address))[0] for _ in range(7)]
        assert [answer.status_code for answer in answers] == [302] * 7, address
        assert "RateLimit-Limit" not in answers[-1].headers


def test_an_account_writes_thirty_posts_in_ten_minutes_pages_and_api_together(server):
    writer = server.client()
    writer.join()
    token = token_for(
        server, register_site(writer, f"{uuid.uuid4().hex[:8]}.example")["clientSecret"]
    )
    for number in range(15):
        answer = writer.post("/post", {"content": f"flood {number}"}, allow_redirects=False)
        assert answer.status_code == 302, number
    assert answer.headers["RateLimit-Remaining"] == "15"
    for number in range(15):
        made = writer.http.post(
            f"{server.url}/v2/posts",
            json={"content": f"api flood {number}"},
            headers={"Authorization": token},
            timeout=30,
        )
        assert made.status_code == 201, made.text
    refused = writer.post("/post", {"content": "one too many"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert refused.headers["RateLimit-Limit"] == "30"
    assert "You are posting too fast: at most 30 posts in a while." in refused.text
    assert ">one too many</textarea>" in refused.text
    by_api = writer.http.post(
        f"{server.url}/v2/posts",
        json={"content": "api too"},
        headers={"Authorization": token},
        timeout=30,
    )
    assert by_api.status_code == 429
    assert by_api.json()["code"] == 429
    assert int(by_api.headers["Retry-After"]) > 0
    assert by_api.headers["RateLimit-Limit"] == "30"
    other = server.client()
    other.join()
    assert other.write("someone else").status_code == 302


def test_a_refused_post_does_not_count(server):
    writer = server.client()
    writer.join()
    for _ in range(35):
        assert writer.post("/post", {"content": ""}).status_code == 400
    assert writer.write("still allowed").status_code == 302


def test_an_account_writes_thirty_comments_and_replies_in_ten_minutes(server):
    author, talker = server.client(), server.client()
    author.join()
    talker.join()
    post_id = author.post("/post", {"content": "talk here"}, headers=JSON).json()["payload"]["id"]
    first = talker.post(f"/comment/{post_id}", {"content": "c0"}, headers=JSON)
    comment_id = first.json()["payload"]["id"]
    for number in range(29):
        path = f"/comment/reply/{comment_id}" if number % 2 else f"/comment/{post_id}"
        answer = talker.post(path, {"content": f"c{number}"}, headers=JSON)
        assert answer.status_code == 201, number
    refused = talker.post(f"/comment/{post_id}", {"content": "more"}, headers=JSON)
    assert refused.status_code == 429
    assert refused.json()["message"].startswith("You are commenting too fast: at most 30")
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert author.post(f"/comment/{post_id}", {"content": "mine"}, headers=JSON).status_code == 201


def test_an_account_sends_twenty_reports_an_hour(server):
    author, reporter = server.client(), server.client()
    author.join()
    reporter.join()
    for number in range(21):
        post_id = author.post("/post", {"content": f"r{number}"}, headers=JSON).json()["payload"]
        answer = reporter.post(f"/post/{post_id['id']}/report", {"reason": "spam"})
        assert answer.status_code == (201 if number < 20 else 429), number
    assert "You have sent too many reports: at most 20." in answer.text
    assert int(answer.headers["Retry-After"]) > 0
