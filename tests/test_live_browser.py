"""Live pages in Chromium (#20): two server processes on one database, the reader's page on
one, the writer on the other; and a page that outlives a restart of its worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.live import SECRETS, running_pair, site_hub
from testkit.sns import SupervisedSns
from tests.conftest import backend_env


@pytest.fixture(scope="module", params=("sqlite", "mariadb"))
def pair(request, tmp_path_factory):
    env = backend_env(request.param, request)
    extra = {"SNS_LIVE_BUS": "database"} if request.param == "sqlite" else {}
    yield from running_pair(tmp_path_factory.mktemp("live-browser"), env, **extra)


def browser_page(browser, server, client):
    """A tab on ``server`` logged in as ``client`` (its cookies), failing on script errors."""
    context = browser.new_context(base_url=server.url, locale="en-US")
    context.add_cookies(
        [
            {"name": name, "value": value, "url": server.url, "httpOnly": name == "sid"}
            for name, value in client.http.cookies.items()
        ]
    )
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    return context, tab


def wait_until_live(tab, timeout: float = 30) -> None:
    """Until the page's socket is open (the server holds it from then on); polled from
    here: the page's CSP forbids the eval that ``wait_for_function`` uses."""
    deadline = time.monotonic() + timeout
    while not tab.evaluate("Boolean(live.socket && live.socket.readyState === 1)"):
        assert time.monotonic() < deadline, "the page's live socket did not open"
        tab.wait_for_timeout(50)


def test_a_post_on_another_process_shows_a_new_posts_button_that_loads_it_in_place(browser, pair):
    from playwright.sync_api import expect

    first, second = pair
    reader, writer = second.client(), first.client()
    reader.join()
    writer.join()
    context, tab = browser_page(browser, second, reader)
    try:
        with tab.expect_websocket() as opened:
            tab.goto("/")
        socket = opened.value
        assert socket.url.startswith(second.url.replace("http", "ws") + "/live?timeline=home")
        wait_until_live(tab)
        tab.evaluate("window.notReloaded = true")
        words = f"live browser {uuid.uuid4().hex[:8]}"
        written = time.monotonic()
        assert writer.write(words).status_code == 302
        button = tab.locator(".new-posts button")
        expect(button).to_have_accessible_name("1 new post", timeout=2000)
        assert time.monotonic() - written < 2.5
        assert tab.locator(".new-posts").get_attribute("aria-live") == "polite"
        assert writer.write(words + " again").status_code == 302
        expect(button).to_have_accessible_name("2 new posts", timeout=2000)
        # The socket drops and the page connects again: the count goes on from 2.
        tab.evaluate("live.socket.close()")
        wait_until_live(tab)
        assert writer.write(words + " after a drop").status_code == 302
        expect(button).to_have_accessible_name("3 new posts", timeout=2000)
        button.click()
        expect(tab.locator(".timeline")).to_contain_text(words + " after a drop")
        expect(button).to_be_hidden()
        assert tab.evaluate("window.notReloaded") is True
        assert tab.errors == []
    finally:
        context.close()


def test_a_like_and_a_mention_on_another_process_show_in_the_header_within_2_s(browser, pair):
    """#20 end to end: A's page open on one process; B, on the other, likes A's post and
    mentions A; A's header counts each within 2 seconds, without a reload."""
    from playwright.sync_api import expect

    first, second = pair
    a, b = second.client(), first.client()
    handle = f"mina{uuid.uuid4().hex[:6]}"
    a.join(nick=handle)
    b.join()
    assert a.post("/account/handle", {"handle": handle}, allow_redirects=False).status_code == 302
    post_id = a.post(
        "/post", {"content": "좋아요 눌러 주세요"}, headers={"Accept": "application/json"}
    )
    post_id = post_id.json()["payload"]["id"]
    context, tab = browser_page(browser, second, a)
    try:
        with tab.expect_websocket():
            tab.goto("/profile")
        wait_until_live(tab)
        tab.evaluate("window.notReloaded = true")
        badge = tab.locator("#unread-count")
        expect(badge).to_be_hidden()
        liked = time.monotonic()
        assert b.post(f"/post/{post_id}/like", headers={"Accept": "application/json"}).ok
        expect(badge).to_have_text("1", timeout=2000)
        assert time.monotonic() - liked < 2.5
        mentioned = time.monotonic()
        assert b.write(f"@{handle}님 안녕하세요").status_code == 302
        expect(badge).to_have_text("2", timeout=2000)
        assert time.monotonic() - mentioned < 2.5
        link = tab.locator("#notifications-link")
        assert link.get_attribute("aria-label") == "Notifications: 2 unread"
        assert tab.evaluate("window.notReloaded") is True
        assert tab.errors == []
    finally:
        context.close()


def test_an_unread_count_published_elsewhere_updates_the_header_badge(browser, pair):
    from playwright.sync_api import expect

    _, second = pair
    reader = second.client()
    reader.join()
    user_id = reader.user_id()
    context, tab = browser_page(browser, second, reader)
    try:
        with tab.expect_websocket():
            tab.goto("/profile")
        wait_until_live(tab)
        publish_user(second.environment(), user_id, {"type": "unread", "count": 3})
        badge = tab.locator("#unread-count")
        expect(badge).to_have_text("3", timeout=2000)
        expect(badge).to_be_visible()
        assert badge.get_attribute("data-count") == "3"
        link = tab.locator("#notifications-link")
        assert link.get_attribute("aria-label") == "Notifications: 3 unread"
        publish_user(second.environment(), user_id, {"type": "unread", "count": 0})
        expect(badge).to_be_hidden(timeout=2000)
        assert tab.errors == []
    finally:
        context.close()


def publish_user(env: dict[str, str], user_id: int, message: dict) -> None:
    """``publish_user`` from a process of its own (this test's), through the site's bus."""

    async def publish() -> None:
        async with site_hub(env, per_user=1, max_sockets=1) as hub:
            await hub.publish_user(user_id, message)

    # Playwright's own event loop runs in this thread: the publishing gets a thread of its own.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, publish()).result()


@pytest.mark.parametrize("backend", ("sqlite", "mariadb"))
def test_a_page_whose_worker_restarts_connects_again_and_stays_live(
    browser, tmp_path_factory, request, backend
):
    from playwright.sync_api import expect

    # A short path: supervisord's control socket lives under it (AF_UNIX paths are short).
    supervised = SupervisedSns(
        tmp_path_factory.mktemp("sup"),
        {**backend_env(backend, request), **SECRETS, "SNS_SHUTDOWN_GRACE": "5"},
    )
    supervised.start()
    try:
        reader, writer = supervised.client(), supervised.client()
        reader.join()
        writer.join()
        context, tab = browser_page(browser, supervised, reader)
        try:
            with tab.expect_websocket() as opened:
                tab.goto("/")
            assert not opened.value.is_closed()
            wait_until_live(tab)
            tab.evaluate(
                "live.socket.addEventListener('close', (e) => { window.closeCode = e.code; })"
            )
            assert "ERROR" not in supervised.ctl("restart", "sns:*")
            assert tab.evaluate("window.closeCode") == 1001  # Going Away, not a dropped line
            # The page tries again (with back-off) until a fresh worker takes its socket.
            wait_until_live(tab)
            words = f"after restart {uuid.uuid4().hex[:8]}"
            assert writer.write(words).status_code == 302
            expect(tab.get_by_role("button", name="1 new post")).to_be_visible(timeout=3000)
            assert [e for e in tab.errors if "WebSocket" not in e] == []
        finally:
            context.close()
    finally:
        supervised.stop()
