"""Pictures in a real Chromium: choose one, see the preview, post, see the thumbnail, open
the post's page and see the large size; and the fallback to the original while a
thumbnail is missing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.browser_errors import record_failures
from tests.images import jpeg, sign_up, wait_for

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def new_page(browser, server, errors: list[str]):
    context = browser.new_context(
        base_url=server.url, locale="en-US", viewport={"width": 390, "height": 844}
    )
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    record_failures(tab, errors)
    return context, tab


def natural_width(locator) -> int:
    return int(locator.evaluate("img => img.complete ? img.naturalWidth : 0"))


def test_choose_preview_post_and_see_thumbnail_then_large(browser, server, tmp_path) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    not_found: list[str] = []
    context, tab = new_page(browser, server, errors)
    tab.on("response", lambda r: not_found.append(r.url) if r.status == 404 else None)
    try:
        sign_up(tab, server)
        photo = tmp_path / "여행 사진.jpg"
        photo.write_bytes(jpeg(2400, 1600))
        tab.get_by_label("Add pictures").set_input_files(str(photo))
        # The first upload starts the process pool, slow on a loaded machine.
        item = tab.locator(".picture-list .picture-item")
        expect(item.locator(".picture-status")).to_have_text("Picture ready.", timeout=60_000)
        preview = item.locator(".picture-thumb")
        expect(preview).to_be_visible()
        tab.wait_for_function("el => el.naturalWidth > 0", arg=preview.element_handle())
        url = item.locator("input.picture-url").input_value()
        assert url.startswith("/img/thumb/200/")

        marker = uuid.uuid4().hex[:8]
        tab.get_by_label("What's happening?").fill(f"바다 #여행 {marker}")
        tab.get_by_role("button", name="Post", exact=True).click()
        post = tab.locator("article.post", has_text=marker)
        expect(post).to_be_visible()
        thumbnail = post.locator(".post-picture img")
        expect(thumbnail).to_be_visible()
        tab.wait_for_function(
            "el => el.complete && el.naturalWidth > 0", arg=thumbnail.element_handle()
        )
        # At 390 px the srcset gives the 1080 size (the 200 one would be blurred); the
        # original only if the thumbnails were not made yet.
        shown = thumbnail.evaluate("img => img.currentSrc")
        assert "/thumb/1080/" in shown or "/original/" in shown, shown
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"picture-timeline-{server.backend}.png"))

        thumbnail.click()
        tab.wait_for_url("**/post/*")
        large = tab.locator(".post-picture.large img")
        expect(large).to_be_visible()
        tab.wait_for_function(
            "() => document.querySelector('.post-picture.large img').naturalWidth > 0"
        )
        # The 1080 size, drawn at the page's width (srcset: naturalWidth is density-corrected).
        assert natural_width(large) == 390
        assert "/thumb/1080/" in large.evaluate("img => img.currentSrc")
        tab.screenshot(path=str(ARTIFACTS / f"picture-post-page-{server.backend}.png"))
        # No picture is ever asked for before it exists (#19).
        assert not_found == [], not_found
    finally:
        context.close()
    assert errors == [], errors


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_missing_thumbnail_falls_back_to_the_original(browser, make_server, backend) -> None:
    server = make_server(backend)
    client = server.client()
    client.join()
    answer = client.http.post(
        server.url + "/post/img",
        files={"img": ("a.jpg", jpeg(900, 600), "image/jpeg")},
        headers={"X-XSRFToken": client.xsrf()},
        timeout=30,
    ).json()
    assert wait_for(client, answer["url"]).status_code == 200
    client.post("/post", {"content": "fallback", "url": answer["url"]})
    for size in ("200", "1080"):
        (server.data_dir / "images" / "thumb" / size / answer["name"]).unlink()

    errors: list[str] = []
    context, tab = new_page(browser, server, errors)
    try:
        tab.goto("/")
        picture = tab.locator("article.post", has_text="fallback").locator(".post-picture img")
        # The fallback may swap in a fresh <img>, so wait on the document, not on a handle.
        tab.wait_for_function(
            "url => [...document.querySelectorAll('.post-picture img')].some("
            "i => i.complete && i.naturalWidth > 0 && i.currentSrc.endsWith(url))",
            arg=answer["originalUrl"],
        )
        assert picture.get_attribute("src") == answer["originalUrl"]
        assert picture.get_attribute("srcset") is None
    finally:
        context.close()
    assert errors == [], errors
