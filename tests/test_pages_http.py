"""Pages, headers, errors, languages and health, over HTTP on both backends."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest
import requests

from sns.settings import Settings
from testkit.sns import Client

MAX_BODY_BYTES = Settings.load(environ={}, dotenv_path=None).max_body_bytes


def test_every_response_names_its_worker_and_carries_security_headers(client: Client):
    for path in ("/", "/join", "/login", "/healthz", "/no-such-page", "/static/css/sns.css"):
        response = client.get(path)
        assert response.headers["X-SNS-Worker"].isdigit(), path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert "Server" not in response.headers, path


def test_pages_reference_no_outside_host(client: Client):
    for path in ("/", "/join", "/login"):
        html = client.get(path).text
        assert "http://" not in html and "https://" not in html, path
        assert "//" not in html.replace("<!doctype html>", "").split("<body>")[0].replace(
            'content="width=device-width', ""
        )


def test_unknown_page_is_a_404_page_without_traceback(client: Client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "There is no such page." in response.text
    assert "Traceback" not in response.text
    # The page's own way back; the top bar's brand links to "/" on every page.
    assert '<a href="/">Back to the timeline</a>' in response.text


def test_wrong_method_is_a_405_page(client: Client):
    response = client.get("/auth/login")
    assert response.status_code == 405
    assert "Traceback" not in response.text


def test_errors_are_json_for_json_clients(client: Client):
    response = client.get("/missing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "There is no such page."}


def test_korean_is_served_to_browsers_that_ask_for_it(client: Client):
    page = client.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert '<html lang="ko">' in page.text
    assert "로그인" in page.text
    english = client.get("/", headers={"Accept-Language": "en-US"})
    assert "Log in" in english.text


def test_the_language_switch_remembers_the_choice(client: Client):
    response = client.post("/locale", {"locale": "ko_KR", "next": "/join"}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/join"
    page = client.get("/join", headers={"Accept-Language": "en-US"})
    assert "회원가입" in page.text
    assert client.post("/locale", {"locale": "xx"}).status_code == 400


def test_korean_error_messages_are_translated(client: Client):
    client.post("/locale", {"locale": "ko_KR"})
    response = client.post("/auth/join", {"email": "bad", "nick": "n", "password": "x" * 9})
    assert response.status_code == 400
    # The message itself, in its alert: "이메일" alone is the field's label, always there.
    alert = re.search(r'role="alert"[^>]*>([^<]*)<', response.text).group(1)
    assert alert == "올바른 이메일 주소가 아닙니다."


def test_healthz_reports_each_dependency(server):
    response = requests.get(server.url + "/healthz", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "sessions": "ok"}
    assert body["session_store"] == ("redis" if server.backend == "mariadb" else "sql")


def test_healthz_is_503_naming_what_is_down(make_server, redis_server, mariadb):
    from tests.conftest import new_mariadb_url

    dead_redis = "redis://127.0.0.1:9/0"  # the discard port: nothing answers there
    server = make_server(
        "sqlite", SNS_DATABASE_URL=new_mariadb_url(mariadb), SNS_REDIS_URL=dead_redis
    )
    response = requests.get(server.url + "/healthz", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["sessions"].startswith("down")


def test_json_logs_are_written_with_one_access_line_per_request(make_server):
    server = make_server("sqlite")
    client = server.client()
    client.get("/join?secret=token123")
    log = server.data_dir / "logs" / "combined.log"

    def access_lines() -> list[dict]:
        """The access lines of /join written so far (whole lines only)."""
        whole = log.read_text().split("\n")[:-1] if log.exists() else []
        lines = [json.loads(line) for line in whole]
        return [one for one in lines if one["logger"] == "sns.access" and one["path"] == "/join"]

    # Tornado writes the access line after the answer has gone out: wait for it, not a while.
    deadline = time.monotonic() + 10
    while not access_lines() and time.monotonic() < deadline:
        time.sleep(0.02)
    access = access_lines()
    assert len(access) == 1
    assert access[0]["status"] == 200 and access[0]["method"] == "GET"
    assert "token123" not in (server.data_dir / "logs" / "combined.log").read_text()


def test_secrets_are_generated_once_into_the_data_dir_with_private_mode(make_server):
    server = make_server("sqlite")
    secrets_file = server.data_dir / "secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    before = secrets_file.read_text()
    server.restart()
    assert secrets_file.read_text() == before


def test_a_server_error_shows_a_page_without_traceback(shared_server):
    """A session record that is not JSON (a corrupt store, not an outage): a clean 500 page,
    the details in the error log."""
    import hashlib
    import sqlite3

    from tornado.web import create_signed_value

    server = shared_server("sqlite")
    secret = json.loads((server.data_dir / "secrets.json").read_text())["cookie_secret"]
    with sqlite3.connect(server.data_dir / "sns.sqlite3") as db:
        db.execute(
            "INSERT INTO sessions (id, data, expires_at) VALUES (?, ?, ?)",
            (hashlib.sha256(b"broken-session").hexdigest(), "{not json", int(time.time()) + 600),
        )
    client = server.client()
    client.http.cookies.set("sid", create_signed_value(secret, "sid", "broken-session").decode())
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong." in response.text
    assert "Traceback" not in response.text and "JSONDecodeError" not in response.text
    errors = (server.data_dir / "logs" / "error.log").read_text()
    # The details go to the log instead: a JSON line whose trace is the decoding failure's.
    traces = [json.loads(line).get("trace", "") for line in errors.splitlines()]
    assert any("JSONDecodeError" in trace for trace in traces), errors


def test_the_session_cookie_is_secure_behind_a_trusted_https_proxy(shared_server):
    server = shared_server("sqlite", SNS_TRUSTED_PROXIES="127.0.0.1")
    client = server.client()
    response = client.post(
        "/auth/join",
        {"email": f"tls{time.time_ns()}@example.com", "nick": "tls", "password": "secure pass 1"},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
    )
    sid = next(c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith("sid="))
    assert "Secure" in sid


def test_an_oversized_body_is_refused_without_reading_it(server):
    """Tornado compares Content-Length with max_body_size before it reads the body: a
    client announcing too much gets a 400 and a closed connection, not a wait."""
    declared = 8 * MAX_BODY_BYTES
    head = (
        f"POST /post HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + b"content=" + b"x" * 1000)
        started, answer = time.monotonic(), b""
        try:
            while chunk := sock.recv(65536):  # until the server closes the connection
                answer += chunk
        except TimeoutError:
            pytest.fail(f"the server waited for the body; it said {answer[:80]!r}")
        assert time.monotonic() - started < 5
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
        # The rest of the announced body has nowhere to go: the server hung up.
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(declared // 65536):
                sock.sendall(b"x" * 65536)
    assert server.client().get("/").status_code == 200
