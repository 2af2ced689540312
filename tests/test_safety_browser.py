"""Blocking from a post's "⋯" menu in a real Chromium: the post goes without a reload, and
stays gone after one (#21)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def tab(browser, server):
    context = browser.new_context(
        base_url=server.url, locale="en-US", viewport={"width": 1000, "height": 900}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def test_a_reader_blocks_the_author_from_the_post_menu(tab, server):
    from playwright.sync_api import expect

    author = server.client()
    typed = author.join(nick=f"loud{uuid.uuid4().hex[:4]}")
    marker = uuid.uuid4().hex[:10]
    author.write(f"#{marker} something loud")
    reader = server.client()
    reader.join()
    tab.context.add_cookies(
        [{"name": c.name, "value": c.value, "url": server.url} for c in reader.http.cookies]
    )

    tab.goto(f"/hashtag?hashtag={marker}")
    post = tab.locator("article.post", has_text="something loud")
    expect(post).to_be_visible()
    menu = post.locator("details.post-menu")
    menu.locator("summary").click()
    tab.once("dialog", lambda dialog: dialog.accept())
    menu.get_by_role("button", name=f"Block {typed['nick']}").click()
    expect(post).to_have_count(0)
    expect(tab.get_by_role("status")).to_contain_text(f"{typed['nick']} is blocked.")
    tab.reload()
    expect(tab.locator("article.post", has_text="something loud")).to_have_count(0)
    # On their page the reader finds the way back.
    author_id = author.user_id()
    tab.goto(f"/user/{author_id}")
    expect(tab.get_by_role("button", name="Unblock")).to_be_visible()
