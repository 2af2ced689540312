"""CORS as Chromium enforces it: a page from a second loopback origin calls the API.

The second origin is the example site (``python -m sns.client demo``) on another port of
127.0.0.1; its /browser page fetches /v2/token (a preflighted JSON POST) and /v2/posts/my
from SNS. The browser lets the page read the answers only once the page's host is a
registered site. CORS works the same on both backends (test_api_http.py checks its
headers on each), so this runs on SQLite only.
"""

from __future__ import annotations

import uuid

import pytest

from testkit.base import free_port
from tests.api_support import JSON, demo_site, register_site

pytestmark = pytest.mark.parametrize("server", ["sqlite"], indirect=True)


def test_a_page_of_a_registered_origin_reads_the_api_and_any_other_is_blocked(browser, server):
    owner = server.client()
    owner.join()
    text = f"posted for the browser {uuid.uuid4().hex[:6]}"
    assert owner.post("/post", {"content": text}, headers=JSON).status_code == 201
    port = free_port()
    # The secret is good, but it belongs to a site of another host.
    elsewhere = register_site(owner, "elsewhere.example")
    context = browser.new_context()
    try:
        with demo_site(server.url, elsewhere["clientSecret"], port) as url:
            tab = context.new_page()
            refused_posts: list[str] = []
            tab.on("requestfailed", lambda request: refused_posts.append(request.url))
            tab.goto(url + "/browser")
            result = tab.locator("#result[data-state]")
            result.wait_for(timeout=15000)
            assert result.get_attribute("data-state") == "blocked"
            assert server.url + "/v2/token" in refused_posts
            assert text not in tab.content()

            register_site(owner, f"127.0.0.1:{port}")
            tab.reload()
            result = tab.locator("#result[data-state]")
            result.wait_for(timeout=15000)
            assert result.get_attribute("data-state") == "ok", tab.locator("#result").inner_text()
            assert tab.locator("#result li.post").first.inner_text() == text
    finally:
        context.close()
