"""Pictures end to end over HTTP, on both stores: the local folder (with SQLite) and an S3
bucket on moto's server (with MariaDB + Redis).

Upload checks, what is served (no camera metadata, turned upright, thumbnails in both
sizes), who may attach which picture, what editing and deleting leave behind, and
``images usage``/``clean`` agreeing with what the store really holds.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from testkit.sns import ROOT, Client, SnsServer
from tests import pictures
from tests.images import GPS_IFD, MAKE, jpeg, opened, png, png_claiming, upload, wait_for

NAME = re.compile(r"[0-9]{14}_[A-Za-z0-9_-]{16}\.(?:jpg|png|gif|webp)")


@pytest.fixture
def author(image_server: SnsServer) -> Client:
    client = image_server.client()
    client.join()
    return client


def keys_of(name: str) -> set[str]:
    return {f"original/{name}", f"thumb/200/{name}", f"thumb/1080/{name}"}


def uploaded(client: Client, data: bytes | None = None) -> dict:
    response = upload(client, data or jpeg())
    assert response.status_code == 200, response.text
    answer = response.json()
    # Both thumbnails, so that a later test's "nothing stored" sees no late arrival.
    assert wait_for(client, answer["url"]).status_code == 200
    large = answer["url"].replace("/thumb/200/", "/thumb/1080/")
    assert wait_for(client, large).status_code == 200
    return answer


def post_with(client: Client, content: str, url: str) -> int:
    response = client.post("/post", {"content": content, "url": url}, allow_redirects=False)
    assert response.status_code == 302, response.text
    page = client.get("/").text
    return int(re.search(r'id="post-(\d+)"', page).group(1))


def test_an_upload_is_cleaned_and_thumbnailed(author: Client, objects) -> None:
    response = upload(author, jpeg(1600, 1200, orientation=6), filename="../../etc/passwd.png")
    assert response.status_code == 200, response.text
    answer = response.json()
    name = answer["name"]
    assert NAME.fullmatch(name) and name.endswith(".jpg")  # never the client's file name
    assert answer["url"].endswith(f"/thumb/200/{name}")
    assert answer["originalUrl"].endswith(f"/original/{name}")
    # EXIF orientation 6: stored 1600x1200, shown upright as 1200x1600.
    assert (answer["width"], answer["height"]) == (1200, 1600)

    original = author.get(answer["originalUrl"])
    assert original.status_code == 200
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in original.headers["Cache-Control"]
    picture = opened(original)
    assert picture.size == (1200, 1600)
    exif = picture.getexif()
    assert MAKE not in exif and GPS_IFD not in exif and b"TestCam" not in original.content
    # The red corner, stored top left, is top right once turned clockwise.
    assert picture.getpixel((1199 - 10, 10))[0] > 200
    assert picture.getpixel((10, 10))[0] < 200

    small = opened(wait_for(author, answer["url"]))
    large = opened(wait_for(author, answer["url"].replace("/thumb/200/", "/thumb/1080/")))
    assert small.format == large.format == "JPEG"
    assert small.size == (150, 200) and large.size == (810, 1080)
    assert GPS_IFD not in small.getexif() and GPS_IFD not in large.getexif()
    assert keys_of(name) <= set(objects())


def test_a_picture_of_several_mib_is_taken(author: Client) -> None:
    """Above the 64 KiB every other route allows: the upload route raises its own limit."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.effect_noise((2000, 1500), 120).convert("RGB").save(out, "JPEG", quality=97)
    data = out.getvalue()
    assert 2 * 2**20 < len(data) < 5 * 2**20
    answer = uploaded(author, data)
    assert opened(author.get(answer["originalUrl"])).size == (2000, 1500)


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ({"img": ("photo.jpg", b"just some text, renamed", "image/jpeg")}, 400, "not a picture"),
        ({"img": ("photo.jpg", jpeg()[:3000], "image/jpeg")}, 400, "damaged"),
        (
            {"img": ("cut.gif", pictures.cut_in_last_frame(pictures.animated()), "image/gif")},
            400,
            "damaged",
        ),
        ({"img": ("photo.jpg", b"", "image/jpeg")}, 400, "empty"),
        ({"img": ("bomb.png", png_claiming(100_000, 100_000), "image/png")}, 400, "pixels"),
        ({"other": ("photo.jpg", jpeg(), "image/jpeg")}, 400, "field img"),
        (
            [("img", ("a.jpg", jpeg(), "image/jpeg")), ("img", ("b.png", png(), "image/png"))],
            400,
            "one picture",
        ),
        ({}, 400, "Choose a picture"),
    ],
    ids=[
        "text-as-jpg",
        "truncated",
        "cut-animation",
        "zero-bytes",
        "bomb",
        "wrong-field",
        "two-files",
        "none",
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    author: Client, objects, image_server: SnsServer, files, status: int, message: str
) -> None:
    before = objects()
    with image_server.sql() as sql:
        rows_before = sql.execute(text("SELECT COUNT(*) FROM uploads")).scalar()
    if files:
        response = upload(author, None, files=files)
    else:  # a multipart body with a text field and no file at all
        response = upload(author, None, files={"note": (None, "hello")})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and message.lower() in body["message"].lower()
    assert objects() == before
    with image_server.sql() as sql:
        assert sql.execute(text("SELECT COUNT(*) FROM uploads")).scalar() == rows_before


def test_an_upload_that_is_not_multipart_is_refused(author: Client) -> None:
    response = author.http.post(
        author.base_url + "/post/img",
        data=jpeg(),
        headers={"X-XSRFToken": author.xsrf(), "Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "multipart" in response.json()["message"]


def headers_only_upload(client: Client, port: int, length: int) -> str:
    """The answer to an upload's headers, declaring ``length`` bytes and sending none."""
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.http.cookies)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            (
                "POST /post/img HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Cookie: {cookies}\r\nX-XSRFToken: {client.xsrf()}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {length}\r\n\r\n"
            ).encode()
        )
        return sock.recv(65536).decode("latin-1")


def test_a_body_over_the_limit_gets_413_before_it_is_sent(
    author: Client, image_server: SnsServer, objects
) -> None:
    """The answer comes from the Content-Length alone: the client sends only headers."""
    before = objects()
    answer = headers_only_upload(author, image_server.port, 50 * 2**20)
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "\r\nConnection: close\r\n" in answer  # the unread body ends the connection
    assert "larger than 20 MiB" in answer
    assert objects() == before


def test_logged_out_uploads_are_refused(image_server: SnsServer, objects) -> None:
    before = objects()
    response = upload(image_server.client(), jpeg())
    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert objects() == before


def test_a_post_shows_its_thumbnail_and_its_page_the_large_size(
    author: Client, image_server: SnsServer
) -> None:
    answer = uploaded(author)
    post_id = post_with(author, "사진 한 장 #여행", answer["url"])
    home = author.get("/").text
    block = home[home.index(f'id="post-{post_id}"') :]
    assert f'href="/post/{post_id}"' in block
    assert f'src="{answer["url"]}"' in block
    assert f'data-fallback="{answer["originalUrl"]}"' in block

    anonymous = image_server.client()
    page = anonymous.get(f"/post/{post_id}")
    assert page.status_code == 200
    large = answer["url"].replace("/thumb/200/", "/thumb/1080/")
    assert f'src="{large}"' in page.text
    assert '<meta property="og:description" content="사진 한 장 #여행">' in page.text
    og_image = re.search(r'<meta property="og:image" content="([^"]+)">', page.text).group(1)
    assert og_image.startswith("http") and og_image.endswith(large)
    assert "<title>" in page.text and "사진 한 장" in page.text.split("</title>")[0]
    assert anonymous.get("/post/999999999").status_code == 404


def test_only_ones_own_upload_can_be_attached_and_only_once(
    author: Client, image_server: SnsServer
) -> None:
    other = image_server.client()
    other.join()
    theirs = uploaded(other)
    mine = uploaded(author)
    for url in (
        theirs["url"],
        theirs["originalUrl"],
        "https://evil.example/thumb/200/" + mine["name"],
        "/img/original/../../secrets.json",
        "javascript:alert(1)",
    ):
        response = author.post("/post", {"content": "not mine", "url": url})
        assert response.status_code == 400, url
        assert "uploaded here" in response.text
        assert ">not mine</textarea>" in response.text  # the text is kept for another try
    assert "not mine" not in author.get(f"/user/{author.user_id()}").text

    post_with(author, "first use", mine["url"])
    again = author.post("/post", {"content": "second use", "url": mine["originalUrl"]})
    assert again.status_code == 400
    assert "already in a post" in again.text


def test_deleting_a_post_deletes_its_picture(author: Client, objects) -> None:
    answer = uploaded(author)
    post_id = post_with(author, "going away", answer["url"])
    assert keys_of(answer["name"]) <= set(objects())
    response = author.post(f"/post/{post_id}/delete", allow_redirects=False)
    assert response.status_code == 302
    assert not keys_of(answer["name"]) & set(objects())
    assert author.get(answer["originalUrl"]).status_code == 404


def test_editing_keeps_replaces_or_removes_the_picture(
    author: Client, objects, image_server: SnsServer
) -> None:
    first = uploaded(author)
    post_id = post_with(author, "v1", first["url"])
    edit_page = author.get(f"/post/{post_id}/edit").text
    assert first["originalUrl"] in edit_page

    # A form without the url field (an old script) keeps the picture.
    assert author.post(f"/post/{post_id}/update", {"content": "v2"}).status_code == 200
    assert first["name"] in author.get(f"/post/{post_id}").text

    second = uploaded(author)
    response = author.post(f"/post/{post_id}/update", {"content": "v3", "url": second["url"]})
    assert response.status_code == 200
    page = author.get(f"/post/{post_id}").text
    assert second["name"] in page and first["name"] not in page
    assert not keys_of(first["name"]) & set(objects())

    response = author.post(
        f"/post/{post_id}/update",
        {"content": "v4", "url": second["url"], "remove_img": "1"},
    )
    assert response.status_code == 200
    assert "post-picture" not in author.get(f"/post/{post_id}").text
    assert not keys_of(second["name"]) & set(objects())
    with image_server.sql() as sql:
        names = {first["name"], second["name"]}
        rows = sql.execute(text("SELECT name FROM uploads")).scalars().all()
        assert not names & set(rows)


def backdate(image_server: SnsServer, name: str, hours: int = 48) -> None:
    then = datetime.utcnow().replace(microsecond=0) - timedelta(hours=hours)
    with image_server.sql() as sql:
        sql.execute(
            text("UPDATE uploads SET created_at = :t WHERE name = :n"), {"t": then, "n": name}
        )


def run_images(image_server: SnsServer, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "images", *args, "--env-file", ""],
        cwd=ROOT,
        env=image_server.environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def usage_numbers(output: str) -> dict[str, tuple[int, int]]:
    found = {}
    for line in output.splitlines():
        match = re.match(r"(\w[\w ]*?)\s+(\d+)\s+(\d+) bytes", line)
        if match:
            found[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return found


def test_usage_matches_the_store_and_clean_removes_only_old_orphans(
    author: Client, objects, image_server: SnsServer
) -> None:
    kept = uploaded(author)
    post_with(author, "kept", kept["url"])
    old_orphan = uploaded(author)
    new_orphan = uploaded(author)
    backdate(image_server, old_orphan["name"])

    result = run_images(image_server, "usage")
    assert result.returncode == 0, result.stderr
    numbers = usage_numbers(result.stdout)
    held = objects()
    assert numbers["objects"] == (len(held), sum(held.values()))
    originals = {k: v for k, v in held.items() if k.startswith("original/")}
    assert numbers["originals"] == (len(originals), sum(originals.values()))
    assert numbers["thumbnails"][0] == len(held) - len(originals)
    old_keys = keys_of(old_orphan["name"])
    assert numbers["orphans older than 24 h"] == (3, sum(held[k] for k in old_keys))
    assert numbers["orphans"][0] >= 6  # both orphans, and any left by other tests

    dry = run_images(image_server, "clean", "--dry-run")
    assert dry.returncode == 0 and "would remove 3 objects" in dry.stdout
    assert objects() == held

    refused = run_images(image_server, "clean")
    assert refused.returncode == 2 and "--yes" in refused.stderr

    done = run_images(image_server, "clean", "--yes")
    assert done.returncode == 0, done.stderr
    left = set(objects())
    assert not old_keys & left
    assert keys_of(kept["name"]) <= left and keys_of(new_orphan["name"]) <= left
    assert author.get(kept["url"]).status_code == 200


def test_a_leftover_object_counts_as_an_orphan_by_its_own_age(
    author: Client, image_server: SnsServer, objects, request: pytest.FixtureRequest
) -> None:
    """An object with no upload row (a crash between storing and recording) is an orphan,
    removable once the object itself is old."""
    key = "original/20200101000000_leftoverleftover.jpg"
    if image_server.store == "s3":
        moto = request.getfixturevalue("s3_server")
        moto.client().put_object(Bucket=image_server.bucket, Key=key, Body=jpeg(64, 64))
    else:
        path = image_server.data_dir / "images" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg(64, 64))
    numbers = usage_numbers(run_images(image_server, "usage").stdout)
    assert numbers["orphans"][0] >= 1
    assert key in objects()
    if image_server.store == "local":
        old = time.time() - 3 * 86400
        path = Path(image_server.data_dir / "images" / key)
        os.utime(path, (old, old))
        run_images(image_server, "clean", "--yes")
        assert key not in objects()


def test_the_server_sweeps_old_orphans_by_itself(make_server, tmp_path: Path) -> None:
    server = make_server("sqlite", SNS_ORPHAN_SWEEP="1")
    client = server.client()
    client.join()
    answer = uploaded(client)
    backdate(server, answer["name"])
    original = server.data_dir / "images" / "original" / answer["name"]
    deadline = time.monotonic() + 20
    while original.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not original.exists()
    assert client.get(answer["originalUrl"]).status_code == 404


def test_image_paths_outside_the_store_are_not_served(image_server: SnsServer) -> None:
    client = image_server.client()
    for path in (
        "/img/original/../../secrets.json",
        "/img/original/%2e%2e%2fsecrets.json",
        "/img/thumb/200/../../../sns.sqlite3",
        "/img/original/20261126000000_aaaaaaaaaaaaaaaa.exe",
        "/img/original/20261126000000_aaaaaaaaaaaaaaaa.jpg",
    ):
        assert client.get(path).status_code == 404, path


def test_a_public_bucket_url_is_used_for_links_and_allowed_by_the_csp(
    make_server, s3_server
) -> None:
    bucket = s3_server.new_bucket()
    public = f"{s3_server.endpoint_url}/{bucket}"
    server = make_server("sqlite", **s3_server.sns_env(bucket), SNS_S3_PUBLIC_URL=public)
    client = server.client()
    client.join()
    response = upload(client, jpeg())
    answer = response.json()
    assert answer["url"] == f"{public}/thumb/200/{answer['name']}"
    post_with(client, "public", answer["url"])
    # The bucket holds what the links name (reading it anonymously is the CDN's business);
    # until the thumbnails are there, pages show the original (#19: no thumbnail 404).
    deadline = time.monotonic() + 20
    while not keys_of(answer["name"]) <= set(s3_server.objects(bucket)):
        assert time.monotonic() < deadline, s3_server.objects(bucket)
        time.sleep(0.1)
    while f'src="{answer["url"]}"' not in (home := client.get("/")).text:
        assert time.monotonic() < deadline, re.findall(r"<img[^>]*>", home.text)
        time.sleep(0.1)
    assert f'src="{public}/original/{answer["name"]}"' not in home.text
    assert (
        f"img-src 'self' data: {s3_server.endpoint_url}" in home.headers["Content-Security-Policy"]
    )


def test_a_deleted_account_takes_its_pictures_with_it(image_server: SnsServer, objects) -> None:
    leaving = image_server.client()
    leaving.join()
    posted = uploaded(leaving)
    post_with(leaving, "bye", posted["url"])
    pending = uploaded(leaving)
    response = leaving.post(
        "/account/delete", {"password": "correct horse 9"}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    left = set(objects())
    assert not (keys_of(posted["name"]) | keys_of(pending["name"])) & left
    assert image_server.client().get(posted["originalUrl"]).status_code == 404


@pytest.mark.parametrize(
    ("data", "extension"),
    [(png(1600, 400), "png"), (None, "gif"), (None, "webp")],
    ids=["png", "gif", "webp"],
)
def test_every_format_keeps_its_format(author: Client, data, extension: str) -> None:
    from io import BytesIO

    from PIL import Image

    if data is None:
        out = BytesIO()
        frames = [Image.new("RGB", (600, 300), (40 * i, 90, 160)) for i in range(3)]
        kind = "GIF" if extension == "gif" else "WEBP"
        frames[0].save(out, kind, save_all=True, append_images=frames[1:], duration=80, loop=0)
        data = out.getvalue()
    answer = uploaded(author, data)
    assert answer["name"].endswith("." + extension)
    original = opened(author.get(answer["originalUrl"]))
    small = opened(wait_for(author, answer["url"]))
    assert original.format == small.format
    assert max(small.size) == 200
    if extension in ("gif", "webp"):
        assert getattr(original, "n_frames", 1) == 3  # the original keeps its animation
        assert getattr(small, "n_frames", 1) == 1  # the thumbnail is the first frame


def test_deleting_from_the_post_page_returns_to_the_timeline(author: Client) -> None:
    answer = uploaded(author)
    post_id = post_with(author, "from its page", answer["url"])
    page = author.get(f"/post/{post_id}").text
    form = page[page.index(f'action="/post/{post_id}/delete"') :]
    assert 'name="next" value="/"' in form.split("</form>")[0]
    response = author.post(f"/post/{post_id}/delete", {"next": "/"}, allow_redirects=False)
    assert response.headers["Location"] == "/"


def test_lambda_mode_leaves_thumbnails_to_the_trigger(
    make_server, s3_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNS_RESIZE=lambda: the app stores only the original; the page shows it until the
    Lambda, run here on the S3 event the bucket would send, has made the thumbnails."""
    from resize.lambda_handler import handler
    from tests.test_resize_lambda import event, record

    bucket = s3_server.new_bucket()
    server = make_server("sqlite", **s3_server.sns_env(bucket), SNS_RESIZE="lambda")
    client = server.client()
    client.join()
    answer = upload(client, jpeg()).json()
    post_with(client, "made by the lambda", answer["url"])
    time.sleep(1.0)
    assert set(s3_server.objects(bucket)) == {f"original/{answer['name']}"}
    assert client.get(answer["url"]).status_code == 404
    assert client.get(answer["originalUrl"]).status_code == 200

    monkeypatch.setenv("SNS_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("SNS_S3_PATH_STYLE", "true")
    result = handler(event(record(bucket, f"original/{answer['name']}")), None)
    assert result["failed"] == [] and len(result["done"]) == 1, result
    assert keys_of(answer["name"]) == set(s3_server.objects(bucket))
    assert opened(client.get(answer["url"])).size == (200, 150)
    large = answer["url"].replace("/thumb/200/", "/thumb/1080/")
    assert opened(client.get(large)).size == (1080, 810)


def test_the_api_gives_absolute_picture_urls(author: Client, image_server: SnsServer) -> None:
    from tests.api_support import call, register_site, token_for

    answer = uploaded(author)
    post_id = post_with(author, "via the api", answer["url"])
    site = register_site(author, host=f"pics{post_id}.example.com")
    token = token_for(image_server, site["clientSecret"])
    posts = call(image_server, "/v2/posts/my", token).json()["payload"]
    mine = next(post for post in posts if post["id"] == post_id)
    assert mine["thumbnailUrl"] == image_server.url + answer["url"]
    assert mine["originalUrl"] == image_server.url + answer["originalUrl"]
    assert requests.get(mine["originalUrl"], timeout=30).status_code == 200


def nothing_stored_by(image_server: SnsServer, objects, send: Callable[[], requests.Response]):
    """The answer to ``send()``, checking that it left no object and no upload row."""
    before = objects()
    with image_server.sql() as sql:
        rows_before = sql.execute(text("SELECT COUNT(*) FROM uploads")).scalar()
    response = send()
    assert objects() == before
    with image_server.sql() as sql:
        assert sql.execute(text("SELECT COUNT(*) FROM uploads")).scalar() == rows_before
    return response


def test_an_animation_over_one_pictures_pixel_budget_is_refused(
    author: Client, objects, image_server: SnsServer
) -> None:
    """#17: 400 frames of 400x400 are 64 million pixels, over SNS_IMAGE_MAX_PIXELS (50
    million) though each frame is small; it was decoded, held and re-encoded whole."""
    data = pictures.moving_square(400, (400, 400))
    assert len(data) < 2 * 2**20
    response = nothing_stored_by(
        image_server, objects, lambda: upload(author, data, filename="long.gif")
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert "400 frames" in body["message"] and "50,000,000" in body["message"]
    # A short one of the same frames is fine.
    answer = uploaded(author, pictures.moving_square(20, (400, 400)))
    assert opened(author.get(answer["originalUrl"])).n_frames == 20


def test_an_mpo_from_a_camera_is_taken_as_a_jpeg(author: Client) -> None:
    answer = uploaded(author, pictures.mpo())
    assert answer["name"].endswith(".jpg")
    assert (answer["width"], answer["height"]) == (400, 300)
    original = author.get(answer["originalUrl"])
    assert original.headers["Content-Type"] == "image/jpeg"
    for picture in (opened(original), opened(author.get(answer["url"]))):
        assert picture.format == "JPEG" and getattr(picture, "n_frames", 1) == 1
        assert picture.convert("RGB").getpixel((2, 2)) == pytest.approx((255, 0, 0), abs=40)


def test_a_huge_colour_profile_reaches_neither_the_original_nor_the_thumbnails(
    author: Client,
) -> None:
    """#17: a 1200x900 JPEG with 4.5 MB of junk profile gave a 4.5 MB 200-pixel thumbnail."""
    image = pictures.photo(1200, 900)
    plain = pictures.jpeg(image)
    data = pictures.jpeg(image, icc_profile=pictures.junk_profile(4_500_000))
    assert len(data) > 4_500_000
    answer = uploaded(author, data)
    original = author.get(answer["originalUrl"])
    assert len(original.content) < len(plain) + 10_000
    assert not opened(original).info.get("icc_profile")
    small = author.get(answer["url"])
    assert len(small.content) < 30_000
    assert not opened(small).info.get("icc_profile")


def own_redis(backend: str, request: pytest.FixtureRequest, db: int) -> dict[str, str]:
    """A Redis database of the test's own for MariaDB servers: user ids start at 1 in
    every new database, and the shared Redis would add other tests' uploads to theirs."""
    if backend == "sqlite":
        return {}
    url = request.getfixturevalue("redis_server").url.rstrip("/")
    return {"SNS_REDIS_URL": f"{url}/{db}"}


def assert_refused_for_an_hour(response: requests.Response, words: str) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == 429 and words in body["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_uploads_per_account_are_limited_in_number(
    make_server, request: pytest.FixtureRequest, backend: str
) -> None:
    """Counted when uploaded: pictures never posted use the budget too."""
    server = make_server(backend, SNS_UPLOADS_PER_HOUR="3", **own_redis(backend, request, 11))
    client = server.client()
    client.join()
    for _ in range(3):
        assert upload(client, jpeg(64, 48)).status_code == 200
    refused = upload(client, jpeg(64, 48))
    assert_refused_for_an_hour(refused, "3 pictures an hour")
    # Refused from the headers alone: the body of the next one is never read.
    answer = headers_only_upload(client, server.port, 4 * 2**20)
    assert answer.startswith("HTTP/1.1 429"), answer[:200]
    assert "3 pictures an hour" in answer
    other = server.client()
    other.join()
    assert upload(other, jpeg(64, 48)).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_uploads_per_account_are_limited_in_bytes(
    make_server, request: pytest.FixtureRequest, backend: str
) -> None:
    from io import BytesIO

    from PIL import Image

    server = make_server(
        backend, SNS_UPLOAD_BYTES_PER_HOUR=str(2**20), **own_redis(backend, request, 12)
    )
    client = server.client()
    client.join()
    out = BytesIO()
    Image.effect_noise((700, 500), 120).convert("RGB").save(out, "JPEG", quality=97)
    data = out.getvalue()
    assert 300_000 < len(data) < 2**20 // 2
    for _ in range(2):
        assert upload(client, data).status_code == 200
    assert_refused_for_an_hour(upload(client, data), "1.0 MiB of pictures an hour")
    assert upload(client, jpeg(64, 48)).status_code == 200  # what is left still fits


def test_the_upload_limit_is_one_for_every_process_through_redis(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two servers on one MariaDB and Redis (two nodes): one account's uploads are counted
    once, wherever they land."""
    import secrets

    from tests.conftest import backend_env

    env = {
        **backend_env("mariadb", request),
        **own_redis("mariadb", request, 13),
        "SNS_COOKIE_SECRET": secrets.token_urlsafe(40),
        "SNS_JWT_SECRET": secrets.token_urlsafe(40),
        "SNS_UPLOADS_PER_HOUR": "3",
    }
    nodes = []
    for name in ("a", "b"):
        node = SnsServer(tmp_path / name, env)
        request.addfinalizer(node.stop)
        nodes.append(node.start())
    on_a = nodes[0].client()
    on_a.join()
    on_b = Client(nodes[1].url)
    on_b.http.cookies = on_a.http.cookies
    answers = [upload(on_a, jpeg(64, 48)), upload(on_a, jpeg(64, 48)), upload(on_b, jpeg(64, 48))]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].headers["X-SNS-Worker"] != answers[2].headers["X-SNS-Worker"]
    assert_refused_for_an_hour(upload(on_b, jpeg(64, 48)), "3 pictures an hour")
    assert_refused_for_an_hour(upload(on_a, jpeg(64, 48)), "3 pictures an hour")


def test_a_picture_past_the_job_time_limit_gets_413_and_the_pool_goes_on(make_server) -> None:
    """SNS_IMAGE_JOB_SECONDS set very low: a large picture cannot be cleaned in time, its
    upload fails with a clear 413, and the worker stuck on it is replaced."""
    from io import BytesIO

    server = make_server(
        "sqlite", SNS_IMAGE_JOB_SECONDS="0.05", SNS_IMAGE_MAX_BYTES=str(20 * 2**20)
    )
    client = server.client()
    client.join()
    out = BytesIO()
    pictures.photo(4000, 3000).save(out, "JPEG", quality=95)
    started = time.monotonic()
    response = upload(client, out.getvalue())
    assert time.monotonic() - started < 20
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == 413 and "took too long" in body["message"]
    for _ in range(4):  # small ones go through, on fresh workers
        small = upload(client, jpeg(32, 24))
        assert small.status_code == 200, small.text
    assert "Traceback" not in server.output()


def test_the_serving_process_never_loads_the_picture_libraries(make_server) -> None:
    """#22: Pillow, pillow-heif and blurhash run in the picture pool's processes only; an
    upload, its thumbnails and the page showing it load none of them into the server (a
    pool job's answer is plain values, ``resize.sizes.Cleaned`` at most)."""
    server = make_server("sqlite")
    client = server.client()
    client.join()
    answer = upload(client, jpeg(640, 480))
    assert answer.status_code == 200, answer.text
    post_with(client, "no pillow here", answer.json()["url"])
    wait_for(client, answer.json()["url"])  # the thumbnails were made and stored
    assert not picture_libraries([server.process.pid])
    pool = _descendants(server.process.pid)
    assert "PIL/_imaging" in picture_libraries(pool)  # they are where the pictures are made


PICTURE_LIBRARIES = ("PIL/_imaging", "_pillow_heif", "blurhash/_functions")


def picture_libraries(pids: list[int]) -> set[str]:
    """Which of the picture libraries' shared objects these processes have loaded."""
    found = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found |= {name for name in PICTURE_LIBRARIES if name in maps}
    return found


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the forkserver a pool thread started, and its workers)."""
    children = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children += [int(child) for child in listing.read_text().split()]
        except OSError:
            continue
    return [*children, *(d for child in children for d in _descendants(child))]
