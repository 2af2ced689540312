"""The whole first visit in a real Chromium: sign up, log out, log in, post, search, log out."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield instance
        instance.close()


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
    tab.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
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
