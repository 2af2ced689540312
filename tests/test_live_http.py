"""WebSocket /live (#20): who may open it, what it pushes, and across two server processes
on one database (MariaDB + Redis pub/sub; SQLite watched through live_events)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time

import pytest
from tornado.httpclient import HTTPClientError

from testkit.live import next_message, open_live, quiet, running_pair, site_hub
from testkit.sns import SnsServer
from tests.conftest import backend_env

PING = 1  # seconds between heartbeats in these servers


@pytest.fixture(scope="module", params=("sqlite", "mariadb"))
def pair(request, tmp_path_factory):
    """Server A and server B, two processes on one database."""
    env = backend_env(request.param, request)
    extra = {"SNS_LIVE_PING": str(PING), "SNS_LIVE_PER_USER": "2"}
    if request.param == "sqlite":
        extra["SNS_LIVE_BUS"] = "database"
    yield from running_pair(tmp_path_factory.mktemp("live"), env, **extra)


def logged_in(server):
    client = server.client()
    client.join()
    return client


def refusal(server, client, **kwargs) -> int:
    async def attempt() -> int:
        with pytest.raises(HTTPClientError) as refused:
            await open_live(server, client, **kwargs)
        return refused.value.code

    return asyncio.run(attempt())


def test_a_logged_out_visitor_is_refused_before_the_upgrade(pair):
    first, _ = pair
    assert refusal(first, None) == 401
    answer = first.client().get("/live")  # no upgrade at all: the same JSON refusal
    assert answer.status_code == 401
    assert answer.json()["code"] == 401


def test_a_page_of_another_site_cannot_open_the_socket_with_the_cookie(pair):
    first, _ = pair
    reader = logged_in(first)
    assert refusal(first, reader, origin="http://evil.example") == 403
    assert refusal(first, reader, origin=first.url.replace("127.0.0.1", "localhost")) == 403
    assert refusal(first, reader, origin="null") == 403

    async def own_origin_is_let_in() -> None:
        live = await open_live(first, reader)
        live.close()

    asyncio.run(own_origin_is_let_in())


def test_a_post_written_on_one_process_shows_as_new_posts_on_the_other(pair):
    first, second = pair
    reader, writer = logged_in(second), logged_in(first)

    async def scenario() -> None:
        live = await open_live(second, reader, "timeline=home")
        try:
            started = time.monotonic()
            assert (await asyncio.to_thread(writer.write, "live one")).status_code == 302
            assert await next_message(live, 2) == {"type": "posts", "count": 1}
            assert time.monotonic() - started < 2
            await asyncio.to_thread(writer.write, "live two")
            assert await next_message(live, 2) == {"type": "posts", "count": 2}
            # The reader's own post is no news to them.
            await asyncio.to_thread(reader.write, "mine")
            assert await quiet(live)
        finally:
            live.close()

    asyncio.run(scenario())


def test_the_following_timeline_counts_only_people_followed_and_the_hashtag_its_tag(pair):
    first, second = pair
    reader, followed, stranger = logged_in(second), logged_in(first), logged_in(first)
    followed_id = followed.user_id()
    assert reader.post(f"/user/{followed_id}/follow").status_code in (200, 302)
    tag = "live" + os.urandom(3).hex()

    async def scenario() -> None:
        following = await open_live(second, reader, "timeline=following")
        tagged = await open_live(second, reader, f"timeline=hashtag&tag=%23{tag.upper()}")
        try:
            await asyncio.to_thread(stranger.write, "not followed, no tag")
            await asyncio.to_thread(followed.write, f"followed, with #{tag}")
            assert await next_message(following, 2) == {"type": "posts", "count": 1}
            assert await next_message(tagged, 2) == {"type": "posts", "count": 1}
            await asyncio.to_thread(stranger.write, f"a stranger's #{tag}")
            assert await next_message(tagged, 2) == {"type": "posts", "count": 2}
            assert await quiet(following)
        finally:
            following.close()
            tagged.close()

    asyncio.run(scenario())


def test_posts_older_than_the_page_shows_are_not_counted(pair):
    first, second = pair
    reader, writer = logged_in(second), logged_in(first)

    async def scenario() -> None:
        live = await open_live(second, reader, "timeline=home&after=999999999")
        try:
            await asyncio.to_thread(writer.write, "older than the page says it has")
            assert await quiet(live, 0.5)
        finally:
            live.close()

    asyncio.run(scenario())


def test_publish_user_from_another_process_reaches_every_socket_of_that_person(pair):
    first, second = pair
    reader = logged_in(second)
    user_id = reader.user_id()
    other = logged_in(second)
    env = second.environment()

    async def scenario() -> None:
        # A hub of this test's own process: another worker, as far as the servers know.
        async with site_hub(env) as hub:
            on_a = await open_live(first, reader, "")
            on_b = await open_live(second, reader, "")
            bystander = await open_live(second, other, "")
            try:
                await hub.publish_user(user_id, {"type": "unread", "count": 3})
                assert await next_message(on_a, 2) == {"type": "unread", "count": 3}
                assert await next_message(on_b, 2) == {"type": "unread", "count": 3}
                assert await quiet(bystander)
            finally:
                for live in (on_a, on_b, bystander):
                    live.close()

    asyncio.run(scenario())


async def heard_within(live, seconds: float) -> list[dict]:
    """Every message that arrives on the socket ``live`` within ``seconds``."""
    heard = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            heard.append(await next_message(live, left))
        except TimeoutError:
            break
    return heard


def test_a_page_that_connects_again_hears_a_count_that_moved_while_it_was_away(pair):
    """#20: a page whose socket dropped (a worker restarted) missed what was published
    meanwhile; it says what its header shows, and hears the count if that is stale."""
    first, second = pair
    reader, fan = logged_in(second), logged_in(first)
    post_id = reader.post("/post", {"content": "like me"}, headers={"Accept": "application/json"})
    post_id = post_id.json()["payload"]["id"]
    assert fan.post(f"/post/{post_id}/like", headers={"Accept": "application/json"}).ok

    async def scenario() -> None:
        stale = await open_live(second, reader, "timeline=home&unread=0")
        try:
            assert await next_message(stale, 2) == {"type": "unread", "count": 1}
        finally:
            stale.close()
        # Two at a time: this pair lets one person hold two sockets.
        fresh = await open_live(second, reader, "timeline=home&unread=1")
        unsaid = await open_live(second, reader, "timeline=home")
        try:
            # Told nothing that differs from what they show: at most the like's own push,
            # which on SQLite reaches this process by watching the database, maybe late.
            for live in (fresh, unsaid):
                heard = await heard_within(live, 0.3)
                assert all(message == {"type": "unread", "count": 1} for message in heard)
        finally:
            fresh.close()
            unsaid.close()

    asyncio.run(scenario())
    assert refusal(second, reader, query="timeline=home&unread=x") == 400


def test_one_person_past_the_cap_closes_their_oldest_socket(pair):
    _, second = pair
    reader = logged_in(second)

    async def scenario() -> None:
        oldest = await open_live(second, reader)
        middle = await open_live(second, reader)
        newest = await open_live(second, reader)
        try:
            assert await next_message(oldest, 2) is None
            assert oldest.close_code == 4001
            assert await quiet(middle, 0.2) and await quiet(newest, 0.2)
        finally:
            for live in (middle, newest):
                live.close()

    asyncio.run(scenario())


def test_a_socket_that_stops_answering_pings_is_closed(pair):
    first, _ = pair
    reader = logged_in(first)
    cookie = "; ".join(f"{k}={v}" for k, v in reader.http.cookies.items())
    key = base64.b64encode(os.urandom(16)).decode()
    host = first.url.removeprefix("http://")
    handshake = (
        f"GET /live HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {first.url}\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    )
    host_name, port = host.split(":")
    with socket.create_connection((host_name, int(port)), timeout=10) as raw:
        raw.sendall(handshake.encode())
        started = time.monotonic()
        received = b""
        while b"\r\n\r\n" not in received:
            received += raw.recv(4096)
        assert received.startswith(b"HTTP/1.1 101")
        received = received.split(b"\r\n\r\n", 1)[1]
        opcodes = []
        # Read frames, never answering a ping, until the server closes (opcode 8).
        while 8 not in opcodes:
            while len(received) < 2:
                chunk = raw.recv(4096)
                assert chunk, "closed without a close frame"
                received += chunk
            length = received[1] & 0x7F
            while len(received) < 2 + length:
                received += raw.recv(4096)
            opcodes.append(received[0] & 0x0F)
            received = received[2 + length :]
        waited = time.monotonic() - started
    assert 9 in opcodes  # pinged first
    assert waited < 3 * PING + 2, waited


def test_a_process_holds_at_most_its_cap_of_sockets(make_server):
    server = make_server("sqlite", SNS_LIVE_MAX="2")
    people = [logged_in(server) for _ in range(3)]

    async def scenario() -> None:
        held = [await open_live(server, person) for person in people[:2]]
        try:
            with pytest.raises(HTTPClientError) as refused:
                await open_live(server, people[2])
            assert refused.value.code == 503
            held.pop().close()
            await asyncio.sleep(0.3)
            held.append(await open_live(server, people[2]))  # a place came free
        finally:
            for live in held:
                live.close()

    asyncio.run(scenario())


def test_a_stopping_server_closes_its_sockets_with_going_away_at_once(make_server):
    server = make_server("sqlite", SNS_SHUTDOWN_GRACE="10")
    reader = logged_in(server)

    async def scenario() -> float:
        live = await open_live(server, reader)
        started = time.monotonic()
        server.process.terminate()
        assert await next_message(live, 5) is None
        assert live.close_code == 1001
        await asyncio.to_thread(server.process.wait, 10)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 5  # the drain did not wait out its grace for it


def test_a_process_subscribes_to_redis_once_however_many_sockets_it_holds(make_server):
    """#20: one pub/sub subscription per process, never one per socket."""
    from redis import Redis

    server = make_server("mariadb")
    people = [logged_in(server) for _ in range(3)]
    env = server.environment()
    channel = env["SNS_REDIS_PREFIX"] + "live"

    async def scenario() -> None:
        held = [await open_live(server, person) for person in people for _ in range(2)]
        try:
            with Redis.from_url(env["SNS_REDIS_URL"]) as redis:
                [(_, subscribers)] = redis.pubsub_numsub(channel)
            assert subscribers == 1
        finally:
            for live in held:
                live.close()

    asyncio.run(scenario())


def test_the_workers_of_processes_on_sqlite_hear_each_others_posts(tmp_path):
    """#20: the embedded default under ``--processes`` (no Redis, no setting): each
    worker learns of a post written on another by watching the database."""
    server = SnsServer(tmp_path / "node", {})
    server.args = ["--processes", "2"]
    server.start()
    try:
        writer = logged_in(server)

        async def scenario() -> None:
            held: dict[str, object] = {}
            for _ in range(40):  # the kernel spreads connections over the two listeners
                # A reader per socket: closing the extra ones never nears the per-person cap.
                live = await open_live(server, await asyncio.to_thread(logged_in, server))
                worker = live.headers.get("X-SNS-Worker")
                if worker in held or len(held) == 2:
                    live.close()
                else:
                    held[worker] = live
                if len(held) == 2:
                    break
            assert len(held) == 2, "every socket landed on one worker"
            try:
                await asyncio.to_thread(writer.write, "heard by both workers")
                for live in held.values():
                    assert await next_message(live, 5) == {"type": "posts", "count": 1}
            finally:
                for live in held.values():
                    live.close()

        asyncio.run(scenario())
    finally:
        server.stop()
