"""The whole first visit in a real Chromium: sign up, log out, log in, post, search, log out."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.browser_errors import record_failures

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def page(browser, server):
    context = browser.new_context(
        base_url=server.url, locale="en-US", viewport={"width": 390, "height": 844}
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # Script errors only: a 4xx answer we mean to give (a 401 for a wrong password)
    # also shows up in the console as a failed resource.
    tab.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    record_failures(tab, errors)
    tab.on("response", lambda r: errors.append(f"404: {r.url}") if r.status == 404 else None)
    yield tab
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def test_a_newcomer_signs_up_posts_with_hashtags_searches_and_logs_out(page, server):
    from playwright.sync_api import expect

    email = f"b{uuid.uuid4().hex[:10]}@example.com"
    nick = f"브라우저{uuid.uuid4().hex[:4]}"
    password = "browser pass 1"

    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page).to_have_url(server.url + "/join")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Nickname").fill(nick)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".greeting")).to_contain_text(nick)

    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".login-box")).to_be_visible()
    login = page.locator(".login-box")
    login.get_by_label("Email").fill(email)
    login.get_by_label("Password").fill("wrong password 9")
    login.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("The email or password is not right.")
    main = page.locator("main")
    main.get_by_label("Email").fill(email)
    main.get_by_label("Password").fill(password)
    main.get_by_role("button", name="Log in").click()
    expect(page.locator(".greeting")).to_contain_text(nick)

    marker = uuid.uuid4().hex[:8]
    box = page.get_by_label("What's happening?")
    box.fill(f"#노드 hello #Tornado {marker}")
    expect(page.locator(".counter")).to_have_text(f"{len('#노드 hello #Tornado ') + 8} / 140")
    page.get_by_role("button", name="Post").click()
    post = page.locator("article.post", has_text=marker)
    expect(post).to_be_visible()
    expect(post.get_by_role("link", name="#노드")).to_be_visible()
    expect(post.get_by_role("link", name="#Tornado")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"timeline-{server.backend}.png"), full_page=True)

    post.get_by_role("link", name="#노드").click()
    expect(page).to_have_url(server.url + "/hashtag?hashtag=%EB%85%B8%EB%93%9C")
    expect(page.get_by_role("heading", name="Posts tagged #노드")).to_be_visible()
    expect(page.locator("article.post", has_text=marker)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".login-box")).to_be_visible()
    expect(page.locator(".greeting")).to_have_count(0)


def test_the_language_switch_and_a_too_long_post_in_korean(page, server):
    from playwright.sync_api import expect

    page.goto("/")
    page.get_by_role("button", name="한국어").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.get_by_role("link", name="회원가입").first.click()
    page.get_by_label("이메일").fill(f"k{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("닉네임").fill("한국어사용자")
    page.get_by_label("비밀번호").fill("비밀번호는길게1")
    page.get_by_role("button", name="회원가입").click()
    expect(page.locator(".greeting")).to_contain_text("한국어사용자")
    box = page.locator("#post-content")
    box.evaluate("(el) => el.removeAttribute('maxlength')")
    box.fill("가" * 141)
    expect(page.locator(".counter")).to_have_class("counter over")
    page.locator("#post-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_contain_text("141")
    expect(page.locator("#post-content")).to_have_value("가" * 141)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"korean-{server.backend}.png"), full_page=True)


def sign_up(page, nick: str) -> str:
    """Sign up through the join page; returns the email."""
    email = f"s{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/join")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Nickname").fill(nick)
    page.get_by_label("Password").fill("social pass 1")
    page.get_by_role("button", name="Sign up").click()
    page.locator(".greeting").wait_for()
    return email


def test_two_people_follow_like_comment_and_reply_without_reloads(browser, server):
    from playwright.sync_api import expect

    xss = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
    contexts = [browser.new_context(base_url=server.url, locale="en-US") for _ in range(2)]
    a, b = (context.new_page() for context in contexts)
    alerts: list[str] = []
    for tab in (a, b):
        tab.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    try:
        sign_up(a, "에이" + xss[:10])
        b_nick = "B" + xss[:15]
        sign_up(b, b_nick)
        marker = uuid.uuid4().hex[:8]
        b.get_by_label("What's happening?").fill(f"B writes {marker} {xss[:60]}")
        b.get_by_role("button", name="Post").click()
        b_post = b.locator("article.post", has_text=marker)
        expect(b_post).to_be_visible()
        post_id = b_post.get_attribute("data-post-id")

        # A finds B's post, follows B, likes it and comments, all without a reload.
        a.goto("/")
        a.evaluate("window.__marker = 'same page'")
        post = a.locator(f"#post-{post_id}")
        expect(post.locator(".author")).to_have_text(b_nick)
        post.get_by_role("button", name="Follow").click()
        expect(post.get_by_role("button", name="Unfollow")).to_be_visible()
        expect(a.locator(".following-count")).to_have_text("1")
        post.get_by_role("button", name="Like").click()
        expect(post.locator(".like-count")).to_have_text("1")
        expect(post.locator(".like-button")).to_have_attribute("aria-pressed", "true")
        comment_text = f"A comments {xss}"
        post.get_by_label("Comment", exact=True).fill(comment_text)
        post.get_by_role("button", name="Comment", exact=True).click()
        expect(post.locator(".comment-text", has_text="A comments")).to_have_text(comment_text)
        assert a.evaluate("window.__marker") == "same page", "the page reloaded"

        # A cannot see edit or delete on B's post.
        expect(post.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
        expect(post.get_by_role("button", name="Delete")).to_have_count(0)

        # B sees the like and the comment, and replies.
        b.reload()
        b_post = b.locator(f"#post-{post_id}")
        expect(b_post.locator(".like-count")).to_have_text("1")
        expect(b.locator(".follower-count")).to_have_text("1")
        b_post.locator("summary", has_text="Reply").click()
        b_post.get_by_placeholder("Write a reply").fill("B replies 답글")
        b_post.get_by_role("button", name="Reply").click()
        expect(b_post.locator(".reply .comment-text")).to_have_text("B replies 답글")

        # A sees B's reply and the like count after a reload.
        a.reload()
        post = a.locator(f"#post-{post_id}")
        expect(post.locator(".reply .comment-text")).to_have_text("B replies 답글")
        expect(post.locator(".like-count")).to_have_text("1")

        # A forged POST from A's session to delete B's post is refused.
        status = a.evaluate(
            """async (id) => {
                const token = document.querySelector('meta[name="xsrf-token"]').content;
                const r = await fetch(`/post/${id}/delete`, {method: "POST",
                    headers: {"X-XSRFToken": token, "Accept": "application/json"}});
                return r.status;
            }""",
            post_id,
        )
        assert status == 403
        a.reload()
        expect(a.locator(f"#post-{post_id}")).to_be_visible()

        for tab in (a, b):
            assert tab.evaluate("window.__pwned") is None
        assert alerts == []
        ARTIFACTS.mkdir(exist_ok=True)
        a.screenshot(path=str(ARTIFACTS / f"social-{server.backend}.png"), full_page=True)
    finally:
        for context in contexts:
            context.close()


def test_the_author_edits_and_deletes_a_post_in_the_browser(page, server):
    from playwright.sync_api import expect

    sign_up(page, "editor")
    marker = uuid.uuid4().hex[:8]
    page.get_by_label("What's happening?").fill(f"draft {marker} #초안")
    page.get_by_role("button", name="Post").click()
    post = page.locator("article.post", has_text=marker)
    post.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Post text").fill(f"final {marker} #완성")
    page.get_by_role("button", name="Save").click()
    post = page.locator("article.post", has_text=marker)
    expect(post).to_contain_text("final")
    expect(post.get_by_role("link", name="#완성")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    post.get_by_role("button", name="Delete").click()
    expect(page.locator("article.post", has_text=marker)).to_have_count(0)


def test_a_post_is_found_from_the_top_bars_box_with_the_word_marked(page, server):
    from playwright.sync_api import expect

    page.goto("/join")
    page.get_by_label("Email").fill(f"s{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_label("Nickname").fill("searcher")
    page.get_by_label("Password").fill("browser pass 1")
    page.get_by_role("button", name="Sign up").click()
    marker = uuid.uuid4().hex[:8]
    page.get_by_label("What's happening?").fill(f"노드를 배우는 중 {marker}")
    page.get_by_role("button", name="Post").click()
    expect(page.locator("article.post", has_text=marker)).to_be_visible()

    box = page.get_by_role("searchbox", name="Search posts")
    box.fill(f"노드 {marker}")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))
    expect(page.get_by_role("heading", name=f"Posts with “노드 {marker}”")).to_be_visible()
    found = page.locator("article.post", has_text=marker)
    expect(found).to_have_count(1)
    expect(found.locator("mark")).to_have_text(["노드", marker])
    expect(box).to_have_value(f"노드 {marker}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"search-{server.backend}.png"), full_page=True)
