"""A stop drains: requests in flight finish, idle connections close, nothing waits longer
than the grace, and the process exits 0. Private servers: each test stops its own."""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid

import requests

from testkit.sns import PASSWORD


def in_thread(call):
    """Run ``call`` in a thread; returns a function giving its result or exception."""
    box: dict = {}

    def run():
        try:
            box["result"] = call()
        except Exception as exc:
            box["result"] = exc

    thread = threading.Thread(target=run)
    thread.start()

    def result(timeout: float = 60):
        thread.join(timeout)
        return box.get("result")

    return result


def test_a_sign_up_in_flight_finishes_during_a_stop(make_server):
    # bcrypt at cost 14 takes a second or more: long enough to stop the server meanwhile.
    server = make_server("sqlite", SNS_BCRYPT_ROUNDS="14", SNS_SHUTDOWN_GRACE="60")
    client = server.client()
    client.xsrf()
    email = f"slow{uuid.uuid4().hex[:8]}@example.com"
    answer = in_thread(
        lambda: client.post(
            "/auth/join",
            {"email": email, "nick": "slow", "password": PASSWORD},
            allow_redirects=False,
            timeout=120,
        )
    )
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    response = answer()
    assert isinstance(response, requests.Response), response
    assert response.status_code == 302, response.text
    assert response.headers["Connection"] == "close"
    assert server.process.wait(timeout=60) == 0
    assert "stopping: 1 request(s) in flight may finish" in server.output()
    with server.sql() as sql:
        assert sql.exec_driver_sql("SELECT nick FROM users WHERE email = ?", (email,)).scalar()


def test_a_stop_closes_idle_keep_alive_connections_without_waiting_for_the_grace(make_server):
    server = make_server("sqlite", SNS_SHUTDOWN_GRACE="60")
    session = requests.Session()
    assert session.get(server.url + "/healthz", timeout=10).status_code == 200  # kept alive
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert time.monotonic() - started < 10
    try:
        requests.get(server.url + "/healthz", timeout=5)
        raise AssertionError("the stopped server still answered")
    except requests.ConnectionError:
        pass


def test_a_request_that_outlives_the_grace_is_cut_and_the_process_still_exits(make_server):
    server = make_server("sqlite", SNS_SHUTDOWN_GRACE="1", SNS_BODY_TIMEOUT="120")
    trickle = socket.create_connection(("127.0.0.1", server.port))
    # Headers and a tenth of the body: in flight until the body is whole, which never comes.
    trickle.sendall(
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
        b"urlencoded\r\nContent-Length: 100\r\n\r\nemail=a"
    )
    time.sleep(0.5)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert time.monotonic() - started < 8
    assert "still in flight after 1 s are cut" in server.output()
    trickle.close()
