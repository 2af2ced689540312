"""In Chromium (#20): a comment added without a reload gets its reply box at once, its
mentions are linked at once, and the header tells the other person."""

from __future__ import annotations

import re
import uuid

from tests.test_browser import sign_up


def choose_handle(page, handle: str) -> None:
    page.goto("/account")
    page.get_by_label("Handle").fill(handle)
    page.get_by_role("button", name="Change handle").click()
    page.locator(".notice").wait_for()


def test_a_new_comment_gets_its_reply_box_and_its_mention_link_at_once(browser, server):
    from playwright.sync_api import expect

    contexts = [browser.new_context(base_url=server.url, locale="en-US") for _ in range(2)]
    a, b = (context.new_page() for context in contexts)
    errors: list[str] = []
    for tab in (a, b):
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        handle = "에이" + uuid.uuid4().hex[:6]
        sign_up(a, "에이")
        choose_handle(a, handle)
        sign_up(b, "비")
        marker = uuid.uuid4().hex[:8]
        a.goto("/")
        a.get_by_label("What's happening?").fill(f"A asks {marker}")
        a.get_by_role("button", name="Post").click()
        post_id = a.locator("article.post", has_text=marker).get_attribute("data-post-id")

        b.goto(f"/post/{post_id}")
        b.evaluate("window.__marker = 'same page'")
        post = b.locator(f"#post-{post_id}")
        post.get_by_label("Comment", exact=True).fill(f"@{handle}님 first")
        post.get_by_role("button", name="Comment", exact=True).click()
        comment = post.locator(".comment-list > li.comment").last
        expect(comment.locator(".comment-text")).to_have_text(f"@{handle}님 first")
        mention = comment.locator("a.mention")
        expect(mention).to_have_text(f"@{handle}")
        expect(mention).to_have_attribute("href", "/@" + uuid_quote(handle))

        # The reply box is there at once, labelled in the reader's language, and works.
        comment.locator("summary", has_text="Reply").click()
        comment.get_by_label("Reply to 비").fill("a reply without a reload")
        comment.get_by_role("button", name="Reply").click()
        expect(comment.locator(".reply .comment-text")).to_have_text("a reply without a reload")
        assert b.evaluate("window.__marker") == "same page", "the page reloaded"

        # A's header tells of the comment (which names A too: told once), with an
        # accessible label.
        a.reload()
        link = a.locator("#notifications-link")
        expect(a.locator("#unread-count")).to_have_text("1")
        expect(link).to_have_attribute("aria-label", "Notifications: 1 unread")
        link.click()
        expect(a.locator(".notification")).to_have_count(1)
        expect(a.locator("#unread-count")).to_be_hidden()
        a.get_by_role("link", name=re.compile(r"^비 \(@\w+\) commented on your post$")).click()
        expect(a.locator(f"#post-{post_id}")).to_be_visible()
        assert errors == []
    finally:
        for context in contexts:
            context.close()


def uuid_quote(handle: str) -> str:
    from urllib.parse import quote

    return quote(handle)
