"""A database or Redis that is frozen or down turns into a quick, clear 503, and the
server recovers by itself when it comes back. Each test runs private servers, because it
freezes or stops them."""

from __future__ import annotations

import json
import os
import signal
import time
from urllib.parse import urlencode

import pytest
import requests
from urllib3 import encode_multipart_formdata

from testkit.mariadb import MariaDBServer
from testkit.redis import RedisServer
from testkit.sns import PASSWORD

JSON = {"Accept": "application/json"}


@pytest.fixture
def private_mariadb(tmp_path):
    server = MariaDBServer(tmp_path / "mariadb")
    server.start()
    yield server
    if server.proc is not None:
        os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def freeze(pid: int) -> None:
    """SIGSTOP, then wait until every thread of the process is stopped: on a loaded machine
    a thread already running could still answer one more query."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    tasks = f"/proc/{pid}/task"
    while time.monotonic() < deadline:
        states = []
        for task in os.listdir(tasks):
            with open(f"{tasks}/{task}/stat") as stat:
                states.append(stat.read().rsplit(")", 1)[1].split()[0])
        if all(state in ("T", "t") for state in states):
            return
        time.sleep(0.01)
    raise AssertionError("the database process did not stop")


def test_a_frozen_database_answers_503_quickly_and_recovers(make_server, private_mariadb):
    url = private_mariadb.create_database("sns_frozen")
    server = make_server("sqlite", SNS_DATABASE_URL=url, SNS_DB_QUERY_TIMEOUT="3")
    client = server.client()
    client.join()
    assert client.get("/").status_code == 200
    client.xsrf()  # the form's token, read from the page the person has open before the outage

    freeze(private_mariadb.proc.pid)
    try:
        health, health_seconds = timed(lambda: requests.get(server.url + "/healthz", timeout=30))
        page, page_seconds = timed(lambda: client.get("/"))
        action, _ = timed(lambda: client.post("/post", {"content": "frozen"}, headers=JSON))
    finally:
        os.kill(private_mariadb.proc.pid, signal.SIGCONT)

    assert health.status_code == 503 and health_seconds < 2.5
    assert health.json()["checks"]["database"].startswith("down")
    assert page.status_code == 503 and page_seconds < 8
    assert "try again in a moment" in page.text
    assert "Traceback" not in page.text and "pymysql" not in page.text.lower()
    assert page.headers["Retry-After"] == "5"
    assert action.status_code == 503 and action.json()["code"] == 503
    assert action.headers.get("Connection") != "close"

    assert client.get("/").status_code == 200  # no restart needed, on the same connection
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def test_a_kept_alive_connection_outlasts_the_503s_of_several_freezes(make_server, private_mariadb):
    """Each write refused in an outage is a whole 503 that leaves the browser's connection
    open, and the page asked once the database is back comes on that same connection. The
    session is read before a streamed body (the post form, the picture upload), and a
    refusal then used to close the connection without saying so."""
    url = private_mariadb.create_database("sns_frozen_kept")
    server = make_server("sqlite", SNS_DATABASE_URL=url, SNS_DB_QUERY_TIMEOUT="1")
    client = server.client()
    client.join()
    form = urlencode({"content": "frozen", "_xsrf": client.xsrf()})
    picture, picture_type = encode_multipart_formdata({"img": ("a.png", b"png", "image/png")})
    connection = client.kept_alive()
    for _ in range(3):
        page, _ = connection.request("GET", "/")
        assert page.status == 200
        freeze(private_mariadb.proc.pid)
        try:
            post, post_body = connection.request(
                "POST",
                "/post",
                form,
                {**JSON, "Content-Type": "application/x-www-form-urlencoded"},
            )
            upload, upload_body = connection.request(
                "POST",
                "/post/img",
                picture,
                {**JSON, "Content-Type": picture_type, "X-XSRFToken": client.xsrf()},
            )
        finally:
            os.kill(private_mariadb.proc.pid, signal.SIGCONT)
        for answer, body in ((post, post_body), (upload, upload_body)):
            assert answer.status == 503 and json.loads(body)["code"] == 503
            assert answer.getheader("Connection") != "close"
    page, _ = connection.request("GET", "/")
    assert page.status == 200
    connection.close()


def test_redis_down_is_a_clear_503_and_a_restart_needs_no_server_restart(
    make_server, mariadb, private_redis
):
    from tests.conftest import new_mariadb_url

    server = make_server(
        "sqlite", SNS_DATABASE_URL=new_mariadb_url(mariadb), SNS_REDIS_URL=private_redis.url
    )
    client = server.client()
    who = client.join()
    assert client.get("/").status_code == 200

    private_redis.stop()
    page, seconds = timed(lambda: client.get("/"))
    assert page.status_code == 503 and seconds < 5
    assert "try again in a moment" in page.text and "Traceback" not in page.text
    login = server.client().login(who["email"], PASSWORD)
    assert login.status_code == 503
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 503

    private_redis.start()  # same port, empty: every session is gone, nothing else is
    first = [server.client().get("/").status_code for _ in range(5)]
    assert first == [200] * 5
    again = server.client()
    assert again.login(who["email"], PASSWORD).status_code == 302
    assert "greeting" in again.get("/").text
