"""Phone photos through ``POST /post/img`` (#19), on both stores (the local folder with SQLite,
an S3 bucket on moto with MariaDB + Redis) and in both resize modes: every format we take,
HEIC/HEIF and AVIF stored as JPEG, a 12 MB phone JPEG stored at 4096 px upright without
EXIF, uploads up to 20 MiB (also through nginx) and refusals in words."""

from __future__ import annotations

import io
import time

import pytest
import requests
from PIL import Image

from testkit.install import find_nginx
from testkit.nginx import NginxServer
from testkit.sns import Client, SnsServer
from tests import phone_pictures, pictures
from tests.images import upload, wait_for

MIB = 2**20

FORMATS = {
    "jpeg": (lambda: pictures.jpeg(pictures.photo(600, 400)), "jpg", "JPEG"),
    "png": (lambda: pictures.png(pictures.photo(600, 400)), "png", "PNG"),
    "gif": (lambda: pictures.animated("GIF", (600, 400)), "gif", "GIF"),
    "webp": (lambda: pictures.webp(pictures.photo(600, 400)), "webp", "WEBP"),
    "mpo": (lambda: pictures.mpo(), "jpg", "JPEG"),
    "heic": (lambda: phone_pictures.heic(pictures.photo(600, 400)), "jpg", "JPEG"),
    "avif": (lambda: phone_pictures.avif(pictures.photo(600, 400)), "jpg", "JPEG"),
}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


@pytest.fixture
def author(image_server: SnsServer) -> Client:
    client = image_server.client()
    client.join()
    return client


def stored_type(image_server: SnsServer, request: pytest.FixtureRequest, key: str) -> str:
    """The Content-Type the store itself keeps for ``key`` (S3), or the app serves (folder)."""
    if image_server.store == "s3":
        s3 = request.getfixturevalue("s3_server")
        return s3.client().head_object(Bucket=image_server.bucket, Key=key)["ContentType"]
    return image_server.client().get(f"/img/{key}").headers["Content-Type"]


def thumbnails_of(client: Client, answer: dict) -> list[Image.Image]:
    small = wait_for(client, answer["url"])
    large = wait_for(client, answer["url"].replace("/thumb/200/", "/thumb/1080/"))
    assert small.status_code == large.status_code == 200
    return [Image.open(io.BytesIO(small.content)), Image.open(io.BytesIO(large.content))]


@pytest.mark.parametrize("kind", list(FORMATS))
def test_every_format_is_taken_and_stored_in_a_format_browsers_show(
    author: Client, image_server: SnsServer, request: pytest.FixtureRequest, kind: str
) -> None:
    make, extension, fmt = FORMATS[kind]
    response = upload(author, make(), filename=f"IMG_0001.{kind}")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["name"].endswith(f".{extension}")
    assert answer["originalUrl"].endswith(f"/original/{answer['name']}")
    original = author.get(answer["originalUrl"])
    assert original.headers["Content-Type"] == CONTENT_TYPES[extension]
    key = f"original/{answer['name']}"
    assert stored_type(image_server, request, key) == CONTENT_TYPES[extension]
    assert Image.open(io.BytesIO(original.content)).format == fmt
    assert phone_pictures.no_camera_metadata(original.content)
    assert [thumb.format for thumb in thumbnails_of(author, answer)] == [fmt, fmt]


def test_a_12_mb_phone_photo_is_stored_upright_at_4096_px_without_exif(author: Client) -> None:
    data = phone_pictures.phone_jpeg(4608, 3456, orientation=6)
    assert 12 * 10**6 <= len(data) < 20 * MIB
    response = upload(author, data, filename="IMG_1234.JPG")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["width"], answer["height"]) == (3072, 4096)
    original = author.get(answer["originalUrl"])
    picture = Image.open(io.BytesIO(original.content))
    assert picture.format == "JPEG" and picture.size == (3072, 4096)
    assert phone_pictures.corner(picture) == ("top-right",)  # turned as the EXIF said
    assert not picture.getexif() and phone_pictures.no_camera_metadata(original.content)
    assert len(original.content) < len(data)
    small, large = thumbnails_of(author, answer)
    assert small.size == (150, 200) and large.size == (810, 1080)


def test_a_turned_heic_is_stored_upright_as_jpeg_without_gps(author: Client) -> None:
    response = upload(author, phone_pictures.heic(orientation=6), filename="IMG_0002.HEIC")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["name"].endswith(".jpg") and (answer["width"], answer["height"]) == (300, 400)
    original = author.get(answer["originalUrl"])
    picture = Image.open(io.BytesIO(original.content))
    assert picture.format == "JPEG" and picture.size == (300, 400)
    assert phone_pictures.corner(picture) == ("top-right",)
    assert phone_pictures.no_camera_metadata(original.content)
    for thumb in thumbnails_of(author, answer):
        assert thumb.format == "JPEG" and phone_pictures.corner(thumb) == ("top-right",)


def refused(response: requests.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert body["code"] == status
    for word in words:
        assert word in body["message"], body["message"]


def test_a_file_of_20_mib_and_one_byte_is_refused_with_413_in_words(author: Client) -> None:
    too_big = phone_pictures.padded_jpeg(20 * MIB + 1)
    refused(upload(author, too_big), 413, "larger than 20 MiB")
    page = author.http.post(
        author.base_url + "/post/img",
        files={"img": ("big.jpg", too_big, "image/jpeg")},
        headers={"X-XSRFToken": author.xsrf(), "Accept": "text/html"},
        timeout=60,
    )
    assert page.status_code == 413 and "larger than 20 MiB" in page.text
    author.http.cookies.set("locale", "ko_KR")
    try:
        refused(upload(author, too_big), 413, "사진이 20 MiB보다 큽니다")
    finally:
        author.http.cookies.set("locale", "en_US")
    # Exactly the limit is taken.
    answer = upload(author, phone_pictures.padded_jpeg(20 * MIB))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == (640, 480)


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"ftypheic not really a photo" * 10, 400, "not a picture we can read"),
        (phone_pictures.heic(pictures.photo(400, 300))[:-200], 400, "damaged"),
        (pictures.animated("GIF", (4100, 20)), 400, "at most 4096 pixels on its long side"),
        (pictures.png_claiming(9000, 9000), 400, "too many pixels"),
    ],
    ids=["text-named-heic", "cut-heic", "wide-gif", "bomb"],
)
def test_bad_phone_uploads_are_refused_in_words(
    author: Client, data: bytes, status: int, words: str
) -> None:
    refused(upload(author, data, filename="IMG_0003.HEIC"), status, words)


@pytest.mark.skipif(find_nginx() is None, reason="no nginx here")
def test_a_20_mib_upload_passes_nginx_and_a_larger_one_gets_the_apps_answer(
    author: Client, image_server: SnsServer, tmp_path
) -> None:
    proxy = NginxServer(tmp_path / "nginx", [image_server.port])
    proxy.start()
    try:
        through = Client(proxy.url)
        through.http.cookies = author.http.cookies
        taken = upload(through, phone_pictures.padded_jpeg(20 * MIB))
        assert taken.status_code == 200, taken.text[:300]
        refused(upload(through, phone_pictures.padded_jpeg(20 * MIB + 1)), 413, "20 MiB")
        # Every other route keeps a small body limit at the proxy.
        form = through.http.post(proxy.url + "/post", data={"content": "x" * (2 * MIB)})
        assert form.status_code == 413
    finally:
        proxy.stop()


def test_lambda_mode_makes_jpeg_thumbnails_of_a_heic(
    make_server, s3_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNS_RESIZE=lambda: the app stores the HEIC as a JPEG original, which the Lambda (run
    here on the event the bucket would send, without any HEIC reader of its own) reads."""
    from resize.lambda_handler import handler
    from tests.test_resize_lambda import event, record

    bucket = s3_server.new_bucket()
    server = make_server("sqlite", **s3_server.sns_env(bucket), SNS_RESIZE="lambda")
    client = server.client()
    client.join()
    answers = [
        upload(client, data).json()
        for data in (
            phone_pictures.heic(orientation=6),
            phone_pictures.phone_jpeg(4608, 3456, orientation=None),
        )
    ]
    time.sleep(0.5)
    assert set(s3_server.objects(bucket)) == {f"original/{a['name']}" for a in answers}
    monkeypatch.setenv("SNS_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("SNS_S3_PATH_STYLE", "true")
    monkeypatch.setattr("resize.core.OPENERS", ["JPEG", "PNG", "GIF", "WEBP"])  # the zip's
    result = handler(event(*(record(bucket, f"original/{a['name']}") for a in answers)), None)
    assert result["failed"] == [] and len(result["done"]) == 2, result
    heic, photo = (thumbnails_of(client, answer) for answer in answers)
    assert [thumb.size for thumb in heic] == [(150, 200), (300, 400)]
    assert [thumb.size for thumb in photo] == [(200, 150), (1080, 810)]
    assert all(thumb.format == "JPEG" for thumb in heic + photo)


def test_the_size_settings_reach_the_upload_the_words_and_the_compose_form(make_server) -> None:
    """SNS_IMAGE_MAX_SIDE and SNS_IMAGE_MAX_BYTES set by an operator (not only their
    defaults) decide what is stored, what is refused and what the page's picker checks."""
    server = make_server("sqlite", SNS_IMAGE_MAX_SIDE="1000", SNS_IMAGE_MAX_BYTES=str(3 * MIB))
    author = server.client()
    author.join()
    response = upload(author, pictures.jpeg(pictures.photo(1600, 1200)))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["width"], answer["height"]) == (1000, 750)
    assert Image.open(io.BytesIO(author.get(answer["originalUrl"]).content)).size == (1000, 750)
    refused(upload(author, phone_pictures.padded_jpeg(3 * MIB + 1)), 413, "larger than 3 MiB")
    assert upload(author, phone_pictures.padded_jpeg(3 * MIB)).status_code == 200
    form = author.get("/").text
    assert f'data-max-bytes="{3 * MIB}"' in form
    assert 'data-too-large="The picture is larger than 3.0 MiB."' in form
