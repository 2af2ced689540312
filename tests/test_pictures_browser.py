"""Up to four pictures a post in a real Chromium at phone width (#19): the picture controls
(add, describe, reorder, remove, cancel, errors in words), posting them, the grid for 1-4
pictures, no thumbnail asked for before it exists, and posting a picture without
JavaScript."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from PIL import Image

from tests.images import jpeg, png, sign_up, upload
from tests.pictures import encode

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 390, "height": 844}


def new_tab(browser, server, problems: list[str], **options):
    context = browser.new_context(base_url=server.url, locale="en-US", viewport=PHONE, **options)
    tab = context.new_page()
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return context, tab


def coloured(tmp_path: Path, name: str, colour: tuple[int, int, int], size=(900, 600)) -> str:
    path = tmp_path / name
    path.write_bytes(encode(Image.new("RGB", size, colour), "JPEG", quality=85))
    return str(path)


def test_four_pictures_chosen_described_reordered_and_posted(browser, server, tmp_path) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    context, tab = new_tab(browser, server, problems)
    try:
        sign_up(tab, server)
        add = tab.locator(".picture-button")
        expect(add).to_have_text("Add pictures")
        # A styled button: the file input is see-through over it, no "No file chosen".
        assert tab.locator(".picture-input").evaluate("i => getComputedStyle(i).opacity") == "0"
        files = [
            coloured(tmp_path, f"{n}.jpg", colour)
            for n, colour in enumerate([(200, 0, 0), (0, 160, 0), (0, 0, 200), (200, 200, 0)])
        ]
        tab.get_by_label("Add pictures").set_input_files(files[:3])
        items = tab.locator(".picture-list .picture-item")
        expect(items).to_have_count(3)
        for n in range(3):
            expect(items.nth(n).locator(".picture-status")).to_have_text(
                "Picture ready.", timeout=60_000
            )
        # No "Remove the picture" box with JavaScript: an ✕ on each preview.
        expect(tab.locator("#post-form input[type=checkbox]:visible")).to_have_count(0)
        items.nth(1).get_by_role("button", name="Remove the picture").click()
        expect(items).to_have_count(2)
        tab.get_by_label("Add pictures").set_input_files(files[3:] + files[:1])
        expect(items).to_have_count(4)
        for n in range(4):
            expect(items.nth(n).locator(".picture-status")).to_have_text(
                "Picture ready.", timeout=60_000
            )
        # A fifth: refused in words, the four kept.
        tab.get_by_label("Add pictures").set_input_files(files[1:2])
        expect(tab.locator(".form-error")).to_have_text("A post can have at most 4 pictures.")
        expect(items).to_have_count(4)
        # The first picture moves one place later; descriptions follow their pictures.
        urls = [items.nth(n).locator(".picture-url").input_value() for n in range(4)]
        items.nth(0).get_by_role("button", name="Move the picture later").click()
        expected = [urls[1], urls[0], urls[2], urls[3]]
        assert [items.nth(n).locator(".picture-url").input_value() for n in range(4)] == expected
        alts = ["파란 바다", "", "Yellow <field>", "Red again"]
        for n, alt in enumerate(alts):
            items.nth(n).get_by_label("Description (alt text)").fill(alt)
        assert "/thumb/" not in " ".join(
            items.nth(n).locator(".picture-thumb").get_attribute("src") or "" for n in range(4)
        )  # previews are the chosen files themselves, no thumbnail asked for

        marker = uuid.uuid4().hex[:8]
        tab.get_by_label("What's happening?").fill(f"네 장 {marker}")
        tab.get_by_role("button", name="Post", exact=True).click()
        post = tab.locator("article.post", has_text=marker)
        expect(post).to_be_visible()
        grid = post.locator(".post-pictures.count-4 img")
        expect(grid).to_have_count(4)
        shown = [grid.nth(n).get_attribute("alt") for n in range(4)]
        assert shown[0] == alts[0] and shown[2] == alts[2] and shown[3] == alts[3]
        assert re.fullmatch(r"Picture 2 of 4 in the post by .+", shown[1])
        for n in range(4):
            assert grid.nth(n).get_attribute("width") == "900"
            tab.wait_for_function(
                "el => el.complete && el.naturalWidth > 0", arg=grid.nth(n).element_handle()
            )
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"pictures-compose-{server.backend}.png"))
        page_url = post.locator(".permalink").get_attribute("href")
        tab.goto(page_url)
        expect(tab.locator(".post-pictures.large img")).to_have_count(4)

        # The edit page: "Change" puts a new picture in the second place, its alt kept.
        tab.goto(page_url + "/edit")
        items = tab.locator(".picture-list .picture-item")
        expect(items).to_have_count(4)
        before = items.nth(1).locator(".picture-url").input_value()
        with tab.expect_file_chooser() as chooser:
            items.nth(1).get_by_role("button", name="Change").click()
        chooser.value.set_files(coloured(tmp_path, "new.jpg", (90, 10, 140), (600, 800)))
        expect(items.nth(1).locator(".picture-status")).to_have_text(
            "Picture ready.", timeout=60_000
        )
        assert items.nth(1).locator(".picture-url").input_value() != before
        tab.get_by_role("button", name="Save").click()
        tab.goto(page_url)
        large = tab.locator(".post-pictures.large img")
        expect(large).to_have_count(4)
        assert large.nth(1).get_attribute("width") == "600"
        assert large.nth(1).get_attribute("alt").startswith("Picture 2 of 4")
    finally:
        context.close()
    # No thumbnail (nor anything else) asked for before it existed.
    assert problems == [], problems


def test_upload_errors_are_told_in_words_and_an_upload_can_be_cancelled(
    browser, server, tmp_path
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    context, tab = new_tab(browser, server, problems)
    try:
        sign_up(tab, server)
        text = tmp_path / "notes.jpg"
        text.write_bytes(b"just some text")
        tab.get_by_label("Add pictures").set_input_files(str(text))
        expect(tab.locator(".form-error")).to_contain_text(
            "not a picture we can read", timeout=60_000
        )
        expect(tab.locator(".picture-list .picture-item")).to_have_count(0)
        problems.remove(next(p for p in problems if p.startswith("400 ")))

        tab.route("**/post/img", lambda route: route.abort("connectionfailed"))
        tab.get_by_label("Add pictures").set_input_files(coloured(tmp_path, "a.jpg", (9, 9, 9)))
        expect(tab.locator(".form-error")).to_have_text(
            "The connection was lost during the upload. Please try again."
        )
        tab.unroute("**/post/img")

        held = []
        tab.route("**/post/img", lambda route: held.append(route))  # never answered
        tab.get_by_label("Add pictures").set_input_files(coloured(tmp_path, "b.jpg", (1, 2, 3)))
        item = tab.locator(".picture-list .picture-item")
        expect(item.locator(".picture-progress")).to_be_visible()
        expect(tab.locator("#post-form button[type=submit]")).to_be_disabled()
        item.get_by_role("button", name="Cancel upload").click()
        expect(tab.locator(".form-error")).to_have_text("The upload was cancelled.")
        expect(item).to_have_count(0)
        expect(tab.locator("#post-form button[type=submit]")).to_be_enabled()
        tab.unroute("**/post/img")
    finally:
        context.close()
    assert [p for p in problems if "/thumb/" in p] == [], problems


def test_the_grid_at_phone_width_for_one_to_four_pictures(browser, server) -> None:
    writer = server.client()
    writer.join()
    marker = uuid.uuid4().hex[:6]
    for count in range(1, 5):
        urls = [upload(writer, jpeg(1200, 800 + 100 * n)).json()["url"] for n in range(count)]
        form = {"content": f"grid {marker} {count}", "url": urls}
        assert writer.post("/post", form).status_code == 200

    problems: list[str] = []
    context, tab = new_tab(browser, server, problems)
    try:
        tab.goto("/")
        for count in range(1, 5):
            post = tab.locator("article.post", has_text=f"grid {marker} {count}")
            post.scroll_into_view_if_needed()
            images = post.locator(f".post-pictures.count-{count} img")
            assert images.count() == count
            box = post.locator(".post-pictures").bounding_box()
            article = post.bounding_box()
            assert box["width"] <= article["width"] and box["x"] >= article["x"]
            for n in range(count):
                image = images.nth(n)
                tab.wait_for_function(
                    "el => el.complete && el.naturalWidth > 0", arg=image.element_handle()
                )
                shape = image.bounding_box()
                # Every picture is readable: wide and tall enough, inside the grid.
                assert shape["width"] >= 100 and shape["height"] >= 80, (count, n, shape)
                assert shape["x"] >= box["x"] - 1
                assert shape["x"] + shape["width"] <= box["x"] + box["width"] + 1
            if count == 1:
                one = images.nth(0).bounding_box()
                assert abs(one["width"] / one["height"] - 1.5) < 0.05  # its own shape
            if count == 3:  # the first tall on the left, two on the right
                first, second = images.nth(0).bounding_box(), images.nth(1).bounding_box()
                assert first["height"] > 1.8 * second["height"]
            ARTIFACTS.mkdir(exist_ok=True)
            post.screenshot(path=str(ARTIFACTS / f"pictures-grid-{count}-{server.backend}.png"))
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
    assert [p for p in problems if "/thumb/" in p] == [], problems


def test_a_picture_is_posted_without_javascript(browser, server, tmp_path) -> None:
    (tmp_path / "p.png").write_bytes(png(200, 100))
    problems: list[str] = []
    context, tab = new_tab(browser, server, problems, java_script_enabled=False)
    try:
        sign_up(tab, server)
        box = tab.locator("input[type=file][name=img]")
        assert box.is_visible()
        box.set_input_files([coloured(tmp_path, "c.jpg", (30, 60, 90)), str(tmp_path / "p.png")])
        marker = uuid.uuid4().hex[:8]
        tab.get_by_label("What's happening?").fill(f"no script {marker}")
        tab.get_by_role("button", name="Post", exact=True).click()
        post = tab.locator("article.post", has_text=marker)
        images = post.locator(".post-pictures.count-2 img")
        assert images.count() == 2
        assert images.nth(1).get_attribute("width") == "200"
        post_id = post.get_attribute("data-post-id")
        # Checkboxes are not stretched: the edit page's remove box is its own size.
        tab.goto(post.locator(".edit-link").get_attribute("href"))
        remove = tab.get_by_role("checkbox", name="Remove the picture").first
        assert remove.bounding_box()["width"] < 40
        # Nor radios: the reasons of a report.
        tab.goto(f"/post/{post_id}/report")
        radios = tab.get_by_role("radio")
        assert radios.count() >= 2
        for n in range(radios.count()):
            assert radios.nth(n).bounding_box()["width"] < 40
    finally:
        context.close()
    assert [p for p in problems if "/thumb/" in p] == [], problems


def test_a_blurred_placeholder_shows_until_the_picture_arrives(browser, server) -> None:
    writer = server.client()
    writer.join()
    answer = upload(writer, jpeg(800, 600)).json()
    marker = uuid.uuid4().hex[:6]
    assert writer.post("/post", {"content": f"blur {marker}", "url": answer["url"]}).ok
    post_id = re.search(r'id="post-(\d+)"', writer.get("/").text).group(1)

    problems: list[str] = []
    context, tab = new_tab(browser, server, problems)
    held = []
    try:
        tab.route("**/img/**", lambda route: held.append(route))  # pictures wait
        tab.goto(f"/post/{post_id}", wait_until="domcontentloaded")
        picture = tab.locator(".post-pictures.large img")
        tab.wait_for_function(
            "el => el.style.backgroundImage.startsWith('url(\"data:image/png')",
            arg=picture.element_handle(),
        )
        box = picture.bounding_box()
        assert abs(box["width"] / box["height"] - 800 / 600) < 0.02  # its place kept
        for route in held:
            route.continue_()
        tab.unroute("**/img/**")
        tab.wait_for_function(
            "el => el.complete && el.naturalWidth > 0 && !el.style.backgroundImage",
            arg=picture.element_handle(),
        )
    finally:
        context.close()
    assert [p for p in problems if "/thumb/" in p] == [], problems


def test_a_heic_is_previewed_from_the_stored_jpeg_since_the_browser_cannot_draw_it(
    browser, server, tmp_path
) -> None:
    """Chromium cannot decode the HEIC the person chose, so the preview is the JPEG the
    server stored from it, not a broken picture."""
    from playwright.sync_api import expect

    from tests.phone_pictures import heic

    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(heic())
    problems: list[str] = []
    context, tab = new_tab(browser, server, problems)
    try:
        sign_up(tab, server)
        tab.get_by_label("Add pictures").set_input_files(str(path))
        item = tab.locator(".picture-list .picture-item")
        expect(item.locator(".picture-status")).to_have_text("Picture ready.", timeout=60_000)
        thumb = item.locator(".picture-thumb")
        expect(thumb).to_have_attribute("src", re.compile(r"/original/.+\.jpg$"))
        tab.wait_for_function(
            "el => el.complete && el.naturalWidth > 0", arg=thumb.element_handle()
        )
        assert thumb.evaluate("el => el.naturalWidth / el.naturalHeight") == 400 / 300
    finally:
        context.close()
    assert problems == [], problems
