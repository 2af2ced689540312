"""Small hardening that every answer shares: XSRF only from the body or a header, no caching
of personal pages, HSTS and Secure cookies over HTTPS, HEAD wherever GET, no query strings in
the logs."""

from __future__ import annotations

import time

import pytest

from testkit.sns import Client

JSON = {"Accept": "application/json"}
HTTPS = {"X-Forwarded-Proto": "https"}


def test_an_xsrf_token_in_the_query_string_does_not_count(client: Client, user):
    token = client.xsrf()
    refused = client.post(f"/post?_xsrf={token}", {"content": "via the url"}, xsrf=False)
    assert refused.status_code == 403
    assert "via the url" not in client.get("/").text
    accepted = client.post("/post", {"content": "via the form"}, allow_redirects=False)
    assert accepted.status_code == 302
    by_header = client.post(
        "/post", {"content": "via a header"}, xsrf=False, headers={"X-XSRFToken": token, **JSON}
    )
    assert by_header.status_code == 201


@pytest.mark.parametrize("path", ["/", "/likes", "/profile", "/account", "/no-such-page"])
def test_pages_with_personal_data_are_not_cached(client: Client, user, path: str):
    response = client.get(path)
    assert response.headers["Cache-Control"] == "private, no-store", path


def test_a_fetch_answer_for_a_logged_in_user_is_not_cached(client: Client, user):
    response = client.post("/post", {"content": "json"}, headers=JSON)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "private, no-store"


def test_the_anonymous_timeline_is_not_marked_private(client: Client):
    assert "private" not in client.get("/").headers.get("Cache-Control", "")


def test_https_brings_hsts_and_secure_cookies_and_plain_http_does_not(shared_server):
    server = shared_server("sqlite", SNS_TRUSTED_PROXIES="127.0.0.1")
    over_https = server.client().get("/", headers=HTTPS)
    assert over_https.headers["Strict-Transport-Security"].startswith("max-age=")
    xsrf = [c for c in over_https.raw.headers.getlist("Set-Cookie") if c.startswith("_xsrf=")]
    assert xsrf and all("Secure" in cookie for cookie in xsrf)

    over_http = server.client().get("/")
    assert "Strict-Transport-Security" not in over_http.headers
    xsrf = [c for c in over_http.raw.headers.getlist("Set-Cookie") if c.startswith("_xsrf=")]
    assert xsrf and not any("Secure" in cookie for cookie in xsrf)


def test_https_from_an_untrusted_peer_is_not_believed(client: Client):
    assert "Strict-Transport-Security" not in client.get("/", headers=HTTPS).headers


@pytest.mark.parametrize(
    ("path", "status"),
    [("/", 200), ("/join", 200), ("/hashtag?hashtag=x", 200), ("/healthz", 200), ("/likes", 302)],
)
def test_head_is_answered_wherever_get_is(client: Client, path: str, status: int):
    get = client.get(path, allow_redirects=False)
    head = client.http.head(client.base_url + path, allow_redirects=False, timeout=30)
    assert get.status_code == head.status_code == status
    assert head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_head_where_there_is_no_get_is_a_405(client: Client):
    head = client.http.head(client.base_url + "/auth/logout", timeout=30)
    assert head.status_code == 405


def test_query_strings_stay_out_of_every_log(make_server):
    server = make_server("sqlite")
    client = server.client()
    client.join()
    secret = "SECRET-in-the-query-4711"
    refused = client.http.post(f"{server.url}/post?token={secret}", data={"content": "x"})
    assert refused.status_code == 403  # no XSRF token: Tornado logs a warning for it
    assert client.get(f"/hashtag?hashtag={secret}").status_code == 200
    assert client.get(f"/no-such-page?token={secret}").status_code == 404
    logs = server.data_dir / "logs"
    # Tornado writes the access line after the answer has gone out: wait for the last one.
    deadline = time.monotonic() + 10
    written = ""
    while "/no-such-page" not in written and time.monotonic() < deadline:
        time.sleep(0.05)
        written = "".join(path.read_text() for path in logs.glob("*.log"))
    assert "/post" in written and "/no-such-page" in written
    assert secret not in written
    assert secret not in server.output()
