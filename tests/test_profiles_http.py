"""Faces and words on profiles (#19), end to end on both stores and both databases: an avatar
squared and sized under ``avatar/<size>/``, shown on every place a person appears, replaced
and removed with its objects; a bio with linked hashtags; the generated face of people
without an avatar; the Lambda mode, where the trigger makes the sizes.
"""

from __future__ import annotations

import html
import io
import os
import re
import time
from pathlib import Path

import pytest
from PIL import Image

from sns.profiles import FACE_COLOURS, face, initials
from testkit.sns import Client, SnsServer
from tests import phone_pictures, pictures
from tests.api_support import call, register_site, token_for
from tests.images import jpeg, opened, png, wait_for
from tests.test_images_http import run_images

NAME = re.compile(r"[0-9]{14}_[A-Za-z0-9_-]{16}\.(?:jpg|png|webp)")
JSON = {"Accept": "application/json"}


@pytest.fixture
def person(image_server: SnsServer) -> Client:
    client = image_server.client()
    client.join(nick=f"Ada {os.urandom(3).hex()}")
    return client


def set_avatar(
    client: Client, data: bytes, *, page: str = "profile", filename: str = "me.jpg"
) -> object:
    """POST /account/avatar as a plain form does (JavaScript off): the token in the body."""
    return client.http.post(
        client.base_url + "/account/avatar",
        data={"_xsrf": client.xsrf(), "page": page},
        files={"img": (filename, data, "application/octet-stream")},
        allow_redirects=False,
        timeout=60,
    )


def avatar_keys(held: dict, name: str | None = None) -> set[str]:
    return {key for key in held if key.startswith("avatar/") and (name is None or name in key)}


def my_avatar_name(client: Client) -> str:
    page = client.get("/profile").text
    pattern = r'class="avatar" src="[^"]*/avatar/(?:original|320)/(' + NAME.pattern + ")"
    found = re.search(pattern, page)
    assert found, "no avatar picture on /profile"
    return found.group(1)


def img_tags(page: str, name: str) -> list[str]:
    return re.findall(r'<img class="avatar"[^>]*' + re.escape(name) + r"[^>]*>", page)


def test_an_avatar_is_squared_sized_and_shown_next_to_everything(
    person: Client, image_server: SnsServer, objects
) -> None:
    answer = set_avatar(person, jpeg(1600, 1200))
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/profile?done=avatar"
    name = my_avatar_name(person)
    assert avatar_keys(objects(), name) == {
        f"avatar/original/{name}",
        f"avatar/96/{name}",
        f"avatar/320/{name}",
    }
    assert opened(person.get(f"/img/avatar/96/{name}")).size == (96, 96)
    assert opened(person.get(f"/img/avatar/320/{name}")).size == (320, 320)
    assert opened(person.get(f"/img/avatar/original/{name}")).size == (1024, 1024)

    me = person.user_id()
    nick = re.search(r'class="user-name">([^<]+)<', person.get(f"/user/{me}").text).group(1)
    post = person.post("/post", {"content": "my face #selfie"}, headers=JSON).json()
    post_id = post["payload"]["id"]
    comment = person.post(f"/comment/{post_id}", {"content": "hi"}, headers=JSON).json()
    assert comment["payload"]["author_avatar"]["url"].endswith(f"/avatar/96/{name}")
    person.post(f"/comment/reply/{comment['payload']['id']}", {"content": "again"}, headers=JSON)

    for path, count in (("/", 3), (f"/post/{post_id}", 3), (f"/user/{me}", 4), ("/profile", 1)):
        page = person.get(path).text
        tags = img_tags(page, name)
        assert len(tags) >= count, (path, tags)
        for tag in tags:
            assert f'alt="{nick}"' in html.unescape(tag)
            assert re.search(r'width="\d+" height="\d+"', tag)
            assert "/avatar/original/" not in tag, "the sizes exist: the page uses them"
    assert 'src="/img/avatar/320/' + name in person.get(f"/user/{me}").text


def test_a_phones_heic_becomes_an_upright_avatar_without_gps_and_the_picker_offers_it(
    person: Client, objects
) -> None:
    """The avatar takes what the post pictures take: an iPhone's HEIC, turned by its
    container, is stored as an upright JPEG without its camera data; and the form's file
    picker does not hide HEIC and AVIF files from the person choosing."""
    picker = re.search(r'<input type="file" name="img"[^>]*>', person.get("/profile").text)
    accept = re.search(r'accept="([^"]*)"', picker.group(0)).group(1).split(",")
    assert "image/*" in accept or {"image/heic", "image/avif"} <= set(accept), accept

    data = phone_pictures.heic(pictures.marked(400, 400), orientation=6)
    answer = set_avatar(person, data, filename="IMG_0003.HEIC")
    assert answer.status_code == 302, answer.text
    name = my_avatar_name(person)
    assert name.endswith(".jpg")
    assert avatar_keys(objects(), name) == {
        f"avatar/original/{name}",
        f"avatar/96/{name}",
        f"avatar/320/{name}",
    }
    for size in ("original", "96", "320"):
        stored = person.get(f"/img/avatar/{size}/{name}").content
        picture = Image.open(io.BytesIO(stored))
        assert picture.format == "JPEG" and picture.width == picture.height
        assert phone_pictures.corner(picture) == ("top-right",), size
        assert phone_pictures.no_camera_metadata(stored)


def test_a_new_avatar_replaces_the_old_and_remove_brings_back_the_face(
    person: Client, objects
) -> None:
    assert set_avatar(person, png(300, 200)).status_code == 302
    first = my_avatar_name(person)
    assert first.endswith(".png")
    assert set_avatar(person, jpeg(200, 400), page="account").headers["Location"] == (
        "/account?done=avatar"
    )
    second = my_avatar_name(person)
    assert second != first
    held = objects()
    assert not avatar_keys(held, first), "the replaced avatar leaves the store"
    assert len(avatar_keys(held, second)) == 3

    removed = person.post("/account/avatar/delete", {"page": "profile"}, allow_redirects=False)
    assert removed.status_code == 302
    assert not avatar_keys(objects(), second)
    page = person.get("/profile").text
    assert 'class="avatar avatar-face"' in page and second not in page


def test_a_bad_picture_is_refused_with_a_message_and_nothing_is_stored(
    person: Client, objects
) -> None:
    before = avatar_keys(objects())
    refused = set_avatar(person, b"not a picture at all", filename="x.jpg")
    assert refused.status_code == 400
    assert "This is not a picture we can read" in refused.text
    assert 'action="/account/avatar"' in refused.text, "the profile page, with its forms"
    empty = set_avatar(person, b"")
    assert empty.status_code == 400 and "Choose a picture to upload." in empty.text
    fetched = person.http.post(
        person.base_url + "/account/avatar",
        files={"img": ("x.jpg", b"GIF89a broken", "image/gif")},
        headers={"X-XSRFToken": person.xsrf(), **JSON},
        timeout=30,
    )
    assert fetched.status_code == 400 and fetched.json()["code"] == 400
    assert avatar_keys(objects()) == before


def test_an_avatar_form_without_its_token_is_refused(person: Client, objects) -> None:
    before = avatar_keys(objects())
    response = person.http.post(
        person.base_url + "/account/avatar",
        files={"img": ("me.jpg", jpeg(64, 64), "image/jpeg")},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 403
    assert avatar_keys(objects()) == before


def test_a_fetch_upload_answers_with_the_avatar_url(person: Client) -> None:
    response = person.http.post(
        person.base_url + "/account/avatar",
        files={"img": ("me.webp", pictures.webp(pictures.photo(120, 90)), "image/webp")},
        headers={"X-XSRFToken": person.xsrf(), **JSON},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    url = response.json()["payload"]["avatarUrl"]
    assert re.search(r"/avatar/320/" + NAME.pattern + "$", url)
    assert opened(wait_for(person, url)).size == (90, 90), "never enlarged"


def test_a_bio_links_its_hashtags_and_a_long_one_is_refused_with_the_form_refilled(
    person: Client,
) -> None:
    me = person.user_id()
    saved = person.post("/account/bio", {"bio": "서울 사는 개발자 #파이썬", "page": "profile"})
    assert saved.status_code == 200 and saved.url.endswith("/profile?done=bio")
    link = '<a class="hashtag" href="/hashtag?hashtag=%ED%8C%8C%EC%9D%B4%EC%8D%AC">#파이썬</a>'
    for path in (f"/user/{me}", "/profile"):
        page = person.get(path).text
        assert '<p class="bio">서울 사는 개발자 ' + link + "</p>" in page, path
    assert "서울 사는 개발자 #파이썬</textarea>" in person.get("/account").text

    typed = "가" * 161
    for page in ("profile", "account"):
        refused = person.post("/account/bio", {"bio": typed, "page": page})
        assert refused.status_code == 400
        assert "A bio is at most 160 characters; this one has 161." in refused.text
        assert f">{typed}</textarea>" in refused.text
        assert f'<input type="hidden" name="page" value="{page}">' in refused.text
    assert "서울 사는 개발자" in person.get(f"/user/{me}").text, "the old bio stays"

    script = person.post("/account/bio", {"bio": "<script>x</script>"}, headers=JSON)
    assert script.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt;" in person.get(f"/user/{me}").text
    person.post("/account/bio", {"bio": "  "})
    assert 'class="bio"' not in person.get(f"/user/{me}").text


def test_a_bio_shows_next_to_each_post_and_comment_and_follows_a_change(
    person: Client, image_server: SnsServer
) -> None:
    """Beside the face, the author's bio (hashtags linked) on every post and comment, on
    the timelines, the post's page and the person's page; a new bio replaces it at once,
    and people without one show none."""
    me = person.user_id()
    post = person.post("/post", {"content": "beside me"}, headers=JSON).json()["payload"]
    comment = person.post(f"/comment/{post['id']}", {"content": "c1"}, headers=JSON).json()
    person.post(f"/comment/reply/{comment['payload']['id']}", {"content": "r1"}, headers=JSON)
    other = image_server.client()
    other.join()
    other.post(f"/comment/{post['id']}", {"content": "from someone without words"})

    tag = '<a class="hashtag" href="/hashtag?hashtag={0}">#{0}</a>'
    for bio, shown in (
        ("Photographer in #jeju", "Photographer in " + tag.format("jeju")),
        ("Now in #seoul & <b>", "Now in " + tag.format("seoul") + " &amp; &lt;b&gt;"),
    ):
        assert person.post("/account/bio", {"bio": bio}, headers=JSON).status_code == 200
        for path in ("/", f"/post/{post['id']}", f"/user/{me}"):
            article = f'<article class="post" id="post-{post["id"]}".*?</article>'
            found = re.search(article, person.get(path).text, re.S)
            assert found, path
            bios = re.findall(r'<span class="author-bio">(.*?)</span>', found.group(0), re.S)
            # The post's byline, the comment and the reply; not the other person's comment.
            assert bios == [shown] * 3, (path, bios)


def test_someone_without_an_avatar_gets_initials_on_their_colour(image_server: SnsServer) -> None:
    client = image_server.client()
    client.join(nick="김하늘")
    me = client.user_id()
    client.post("/post", {"content": "얼굴 없음"}, headers=JSON)
    drawn = face(me, "김하늘")
    for path in (f"/user/{me}", "/", "/profile"):
        page = client.get(path).text
        svg = re.search(r'<svg class="avatar avatar-face"[^>]*aria-label="김하늘".*?</svg>', page)
        assert svg, path
        assert f'fill="{drawn.colour}"' in svg.group(0) and ">김</text>" in svg.group(0)
        assert "<img" not in svg.group(0) and "http" not in svg.group(0).replace(
            "http://www.w3.org", ""
        )


def test_initials_and_colours() -> None:
    assert initials("Ada Lovelace") == "AL"
    assert initials("ada") == "A"
    assert initials("김하늘") == "김"
    assert initials("Bob 밥") == "B"
    assert initials("  ") == "?"
    assert face(7, "x") == face(7, "y").__class__(initials="X", colour=face(7, "y").colour)

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for colour in FACE_COLOURS:
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, colour


def test_the_api_gives_the_authors_avatar_url(person: Client, image_server: SnsServer) -> None:
    assert set_avatar(person, jpeg(300, 300)).status_code == 302
    name = my_avatar_name(person)
    person.post("/post", {"content": "with a face"}, headers=JSON)
    token = token_for(image_server, register_site(person, "faces.example")["clientSecret"])
    answer = call(image_server, "/v2/posts/my", token).json()
    url = answer["payload"][0]["user"]["avatarUrl"]
    assert url.startswith("http") and url.endswith(f"/avatar/96/{name}")
    assert person.http.get(url, timeout=30).status_code == 200

    faceless = image_server.client()
    faceless.join()
    faceless.post("/post", {"content": "no face"}, headers=JSON)
    token = token_for(image_server, register_site(faceless, "noface.example")["clientSecret"])
    answer = call(image_server, "/v2/posts/my", token).json()
    assert answer["payload"][0]["user"]["avatarUrl"] is None


def test_a_deleted_account_takes_its_avatar_with_it(image_server: SnsServer, objects) -> None:
    client = image_server.client()
    typed = client.join()
    assert set_avatar(client, jpeg(100, 100)).status_code == 302
    name = my_avatar_name(client)
    assert avatar_keys(objects(), name)
    gone = client.post("/account/delete", {"password": typed["password"]}, allow_redirects=False)
    assert gone.status_code == 302
    assert not avatar_keys(objects(), name)


LOCAL_ONLY = pytest.mark.parametrize("image_server", ["sqlite-local"], indirect=True)


@LOCAL_ONLY  # ages of objects are set on the local folder
def test_the_sweep_removes_old_avatar_leftovers_but_not_avatars_in_use(
    person: Client, image_server: SnsServer, objects
) -> None:
    assert set_avatar(person, jpeg(100, 100)).status_code == 302
    used = my_avatar_name(person)
    root = image_server.data_dir / "images"
    leftover = root / "avatar" / "96" / "20200101000000_leftoverleftover.jpg"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(jpeg(64, 64))
    old = time.time() - 3 * 86400
    for path in [leftover, *root.glob(f"avatar/*/{used}")]:
        os.utime(path, (old, old))
    done = run_images(image_server, "clean", "--yes")
    assert done.returncode == 0, done.stderr
    assert not leftover.exists()
    assert len(avatar_keys(objects(), used)) == 3


def test_lambda_mode_shows_the_original_until_the_trigger_made_the_sizes(
    make_server, s3_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resize.lambda_handler import handler
    from tests.test_resize_lambda import event, record

    bucket = s3_server.new_bucket()
    server = make_server("mariadb", **s3_server.sns_env(bucket), SNS_RESIZE="lambda")
    client = server.client()
    client.join()
    assert set_avatar(client, jpeg(640, 480)).status_code == 302
    name = my_avatar_name(client)
    assert set(s3_server.objects(bucket)) == {f"avatar/original/{name}"}
    me = client.user_id()
    page = client.get(f"/user/{me}").text
    assert f"/img/avatar/original/{name}" in page and "/avatar/96/" not in page

    monkeypatch.setenv("SNS_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("SNS_S3_PATH_STYLE", "true")
    result = handler(event(record(bucket, f"avatar/original/{name}")), None)
    assert result["failed"] == [] and len(result["done"]) == 1, result
    assert set(s3_server.objects(bucket)) == {
        f"avatar/original/{name}",
        f"avatar/96/{name}",
        f"avatar/320/{name}",
    }
    deadline = time.monotonic() + 20
    while f"/img/avatar/320/{name}" not in client.get(f"/user/{me}").text:
        assert time.monotonic() < deadline, "the page never switched to the sizes"
        time.sleep(0.3)
    assert opened(client.get(f"/img/avatar/96/{name}")).size == (96, 96)


def test_the_batch_tool_makes_missing_avatar_sizes(tmp_path: Path) -> None:
    from tests.test_resize_batch import resize_cli

    folder = tmp_path / "images"
    name = "20260101000000_aaaaaaaaaaaaaaaa.jpg"
    (folder / "avatar" / "original").mkdir(parents=True)
    (folder / "avatar" / "original" / name).write_bytes(jpeg(500, 500))
    done = resize_cli(str(folder), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "done 1, skipped 0, failed 0; 2 thumbnails" in done.stdout
    for size in (96, 320):
        assert opened_file(folder / "avatar" / str(size) / name) == (size, size)
    again = resize_cli(str(folder), "--jobs", "1")
    assert "done 0, skipped 1" in again.stdout


def opened_file(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


@LOCAL_ONLY  # once is enough: the browser's part does not depend on the store
def test_in_chromium_the_form_sets_the_avatar_and_a_comment_added_shows_the_face(
    browser, person: Client, image_server: SnsServer, tmp_path: Path
) -> None:
    """The real form as a browser sends it (multipart, the token in the body), and the
    face the page's script draws beside a comment added without a reload."""
    photo = tmp_path / "me.jpg"
    photo.write_bytes(jpeg(800, 600))
    context = browser.new_context(base_url=image_server.url)
    context.add_cookies(
        [{"name": c.name, "value": c.value, "url": image_server.url} for c in person.http.cookies]
    )
    tab = context.new_page()
    failed: list[str] = []
    tab.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    long_bio = "Says hi from #busan" + " and the sea" * 11  # 151 characters
    person.post("/account/bio", {"bio": long_bio})
    tab.goto("/profile")
    picker = tab.get_by_label("Choose a profile picture")
    assert picker.evaluate("input => getComputedStyle(input).opacity") == "0"  # the button shows
    picker.set_input_files(str(photo))
    assert tab.locator(".avatar-chosen").text_content() == "me.jpg"
    tab.locator(".avatar-preview").wait_for()  # drawn before it is sent
    tab.get_by_role("button", name="Change picture").click()
    tab.wait_for_url("**/profile?done=avatar")
    shown = tab.locator(".my-face img.avatar")
    assert shown.evaluate("img => img.decode().then(() => img.naturalWidth)") == 320
    post_id = person.post("/post", {"content": "face"}, headers=JSON).json()["payload"]["id"]
    tab.goto(f"/post/{post_id}")
    tab.get_by_label("Comment", exact=True).fill("from the browser")
    tab.get_by_role("button", name="Comment", exact=True).click()
    added = tab.locator(".comment", has_text="from the browser").locator("img.avatar")
    added.wait_for()
    assert added.evaluate("img => img.decode().then(() => img.naturalWidth)") == 96
    bio = tab.locator(".comment", has_text="from the browser").locator(".author-bio")
    assert bio.text_content() == long_bio
    # At phone width the longest bio is cut on its line, never widening the page.
    tab.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/post/{post_id}", "/", f"/user/{person.user_id()}"):
        tab.goto(path)
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390, path
        for box in tab.locator(".author-bio").all():
            assert box.bounding_box()["x"] + box.bounding_box()["width"] <= 390, path
    assert failed == [], "no picture asked for before it existed"
    context.close()
