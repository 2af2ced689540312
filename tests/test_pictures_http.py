"""Up to four pictures a post, each with alt text (#19), over HTTP on both stores: the local
folder (with SQLite) and an S3 bucket on moto (with MariaDB + Redis).

The compose form (url/alt pairs, and image files without JavaScript), the edit form, the
API, what pages draw for each picture (alt, width/height, srcset, placeholder, never a
thumbnail before it exists) and that every picture leaves the store with its post.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from handlers.api.openapi import DOCUMENT
from testkit.sns import Client, SnsServer
from tests.api_support import call, register_site, token_for
from tests.images import jpeg, png, upload, wait_for


@pytest.fixture
def objects(image_server: SnsServer, request: pytest.FixtureRequest) -> Callable[[], set[str]]:
    """The keys the image store holds right now."""
    if image_server.store == "s3":
        moto = request.getfixturevalue("s3_server")
        return lambda: set(moto.objects(image_server.bucket))
    root = image_server.data_dir / "images"
    return lambda: {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def author(image_server: SnsServer) -> Client:
    client = image_server.client()
    client.join()
    return client


def keys_of(name: str) -> set[str]:
    return {f"original/{name}", f"thumb/200/{name}", f"thumb/1080/{name}"}


def ready(image_server: SnsServer, client: Client, answer: dict) -> dict:
    """Wait until the upload's thumbnails exist and the server knows it."""
    assert wait_for(client, answer["url"].replace("/thumb/200/", "/thumb/1080/")).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with image_server.sql() as sql:
            done = sql.execute(
                text("SELECT thumbnails FROM uploads WHERE name = :n"), {"n": answer["name"]}
            ).scalar()
        if done:
            return answer
        time.sleep(0.1)
    raise AssertionError("thumbnails never marked")


def uploaded(image_server: SnsServer, client: Client, data: bytes | None = None) -> dict:
    response = upload(client, data or jpeg(640, 480))
    assert response.status_code == 200, response.text
    return ready(image_server, client, response.json())


def send_form(client: Client, path: str, fields: list[tuple[str, str]], **kwargs):
    """A form with repeated fields in the given order (url, alt, url, alt, ...)."""
    data = [("_xsrf", client.xsrf()), *fields]
    kwargs.setdefault("allow_redirects", False)
    return client.http.post(client.base_url + path, data=data, timeout=60, **kwargs)


def newest_post_id(client: Client) -> int:
    return int(re.search(r'id="post-(\d+)"', client.get("/").text).group(1))


def article(page: str, post_id: int) -> str:
    start = page.index(f'id="post-{post_id}"')
    return page[start : page.index("</article>", start)]


def images_in(block: str) -> list[dict[str, str]]:
    """Every <img> of a post's pictures as a dict of its attributes."""
    found = []
    for tag in re.findall(r'<a class="post-picture[^"]*"[^>]*><img ([^>]*)>', block):
        found.append({k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)})
    return found


def test_four_pictures_with_alt_texts_through_the_form(
    author: Client, image_server: SnsServer
) -> None:
    answers = [uploaded(image_server, author, jpeg(640 + 40 * n, 480)) for n in range(4)]
    first = answers[0]
    assert (first["width"], first["height"]) == (640, 480)
    assert re.fullmatch(r"[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{28}", first["placeholder"])
    alts = ["바다 위의 해돋이", "", 'A "quoted" <b>dog</b> & cat', "x" * 1500]
    fields: list[tuple[str, str]] = [("content", "네 장 #여행")]
    for answer, alt in zip(answers, alts, strict=True):
        fields += [("url", answer["url"]), ("alt", alt)]
    assert send_form(author, "/post", fields).status_code == 302
    post_id = newest_post_id(author)

    block = article(author.get("/").text, post_id)
    assert 'class="post-pictures count-4"' in block
    shown = images_in(block)
    assert [img["alt"] for img in shown] == [
        alts[0],
        f"Picture 2 of 4 in the post by {author_nick(author)}",
        alts[2],
        alts[3],
    ]
    assert "<b>dog</b>" not in block  # escaped, never markup
    for img, answer, n in zip(shown, answers, range(4), strict=True):
        assert (img["width"], img["height"]) == (str(640 + 40 * n), "480")
        assert img["data-blurhash"] == answer["placeholder"]
        assert img["src"] == answer["url"]  # the small thumbnail: it exists
        assert img["srcset"] == (
            f"{answer['url']} 200w, "
            f"{answer['url'].replace('/thumb/200/', '/thumb/1080/')} {640 + 40 * n}w"
        )
        assert img["data-fallback"] == answer["originalUrl"]

    page = image_server.client().get(f"/post/{post_id}").text
    large = images_in(article(page, post_id))
    assert [img["src"] for img in large] == [
        a["url"].replace("/thumb/200/", "/thumb/1080/") for a in answers
    ]
    og_image = re.search(r'<meta property="og:image" content="([^"]+)">', page).group(1)
    assert og_image.endswith(answers[0]["url"].replace("/thumb/200/", "/thumb/1080/"))
    assert f'<meta property="og:image:alt" content="{alts[0]}">' in page


def author_nick(client: Client) -> str:
    page = client.get(f"/user/{client.user_id()}").text
    return html.unescape(re.search(r'<h1 class="user-name">([^<]+)</h1>', page).group(1))


def test_one_url_and_no_alt_still_works(author: Client, image_server: SnsServer) -> None:
    answer = uploaded(image_server, author)
    response = author.post("/post", {"content": "old script", "url": answer["originalUrl"]})
    assert response.status_code == 200  # followed the redirect
    shown = images_in(article(author.get("/").text, newest_post_id(author)))
    assert len(shown) == 1 and shown[0]["alt"].startswith("Picture in the post by")


def bad_cases(author: Client, image_server: SnsServer, other: Client) -> list:
    mine = [uploaded(image_server, author, png(30, 20)) for _ in range(5)]
    theirs = uploaded(image_server, other, png(30, 20))
    taken = uploaded(image_server, author, png(30, 20))
    assert send_form(author, "/post", [("content", "taken"), ("url", taken["url"])]).status_code
    five = [("url", answer["url"]) for answer in mine]
    return [
        (five, 400, "at most 4 pictures"),
        ([("url", theirs["url"]), ("alt", "a")], 400, "uploaded here"),
        ([("url", "https://evil.example/img/original/" + mine[0]["name"])], 400, "uploaded here"),
        ([("url", taken["url"]), ("alt", "")], 400, "already in a post"),
        ([("url", mine[0]["url"]), ("alt", "y" * 1501)], 400, "at most 1500 characters"),
        (
            [("url", mine[0]["url"]), ("url", mine[1]["url"]), ("alt", "only one")],
            400,
            "followed by its alt",
        ),
        ([("url", mine[0]["url"]), ("url", mine[0]["url"])], 400, "attached twice"),
    ], mine


def test_bad_pictures_are_refused_with_the_form_refilled(
    author: Client, image_server: SnsServer
) -> None:
    other = image_server.client()
    other.join()
    cases, mine = bad_cases(author, image_server, other)
    for fields, status, message in cases:
        response = send_form(author, "/post", [("content", "keep me"), *fields])
        assert response.status_code == status, (fields, response.text[-500:])
        assert message in html.unescape(response.text), fields
        assert ">keep me</textarea>" in response.text  # nothing typed is lost
    # A refused form shows the pictures it carried again, with their alt texts.
    response = send_form(
        author,
        "/post",
        [
            ("content", "keep me"),
            ("url", mine[2]["url"]),
            ("alt", "my dog"),
            ("url", "javascript:alert(1)"),
        ],
    )
    assert response.status_code == 400
    assert f'value="{mine[2]["originalUrl"]}"' in response.text
    assert ">my dog</textarea>" in response.text
    assert "keep me" not in author.get(f"/user/{author.user_id()}").text
    # Fetch callers get {code, message}.
    response = send_form(
        author,
        "/post",
        [("content", "json"), *cases[0][0]],
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and response.json()["code"] == 400


def test_editing_changes_alt_texts_order_and_pictures(
    author: Client, image_server: SnsServer, objects
) -> None:
    a, b, c, d = (uploaded(image_server, author, png(40 + n, 30)) for n in range(4))
    fields = [("content", "v1")]
    for answer, alt in ((a, "A"), (b, "B"), (c, "C")):
        fields += [("url", answer["url"]), ("alt", alt)]
    assert send_form(author, "/post", fields).status_code == 302
    post_id = newest_post_id(author)
    edit = author.get(f"/post/{post_id}/edit").text
    assert edit.count('name="remove_url"') == 3  # the form's template item has none
    for answer, alt in ((a, "A"), (b, "B"), (c, "C")):
        assert f'value="{answer["originalUrl"]}"' in edit
        assert f">{alt}</textarea>" in edit
    assert "Change" in edit and "Add pictures" in edit

    # Reorder (c, a), new alt texts, b removed, d added.
    fields = [("content", "v2"), ("pictures", "1")]
    for url, alt in ((c["originalUrl"], "C2"), (a["originalUrl"], ""), (d["url"], "D")):
        fields += [("url", url), ("alt", alt)]
    assert send_form(author, f"/post/{post_id}/update", fields).status_code == 302
    shown = images_in(article(author.get(f"/post/{post_id}").text, post_id))
    assert [img["data-fallback"] for img in shown] == [
        c["originalUrl"],
        a["originalUrl"],
        d["originalUrl"],
    ]
    assert shown[0]["alt"] == "C2" and shown[2]["alt"] == "D"
    assert not keys_of(b["name"]) & objects()
    assert keys_of(c["name"]) <= objects()

    # An old script's edit without picture fields keeps them all.
    assert author.post(f"/post/{post_id}/update", {"content": "v3"}).status_code == 200
    assert len(images_in(article(author.get(f"/post/{post_id}").text, post_id))) == 3
    # The no-JavaScript "Remove the picture" box drops just that one.
    fields = [("content", "v4"), ("pictures", "1")]
    for answer in (c, a, d):
        fields += [("url", answer["originalUrl"]), ("alt", "")]
    fields.append(("remove_url", a["originalUrl"]))
    assert send_form(author, f"/post/{post_id}/update", fields).status_code == 302
    assert len(images_in(article(author.get(f"/post/{post_id}").text, post_id))) == 2
    assert not keys_of(a["name"]) & objects()
    # Every picture removed: the form still says it lists them (field "pictures").
    assert (
        send_form(
            author, f"/post/{post_id}/update", [("content", "v5"), ("pictures", "1")]
        ).status_code
        == 302
    )
    assert "post-pictures" not in article(author.get(f"/post/{post_id}").text, post_id)
    assert not (keys_of(c["name"]) | keys_of(d["name"])) & objects()
    # Too long an alt on edit: 400, the edit form again.
    e = uploaded(image_server, author, png(20, 20))
    response = send_form(
        author,
        f"/post/{post_id}/update",
        [("content", "v6"), ("url", e["url"]), ("alt", "z" * 1501)],
    )
    assert response.status_code == 400 and ">v6</textarea>" in response.text


def test_without_javascript_the_form_posts_the_files(
    author: Client, image_server: SnsServer, objects
) -> None:
    home = author.get("/").text
    assert 'enctype="multipart/form-data"' in home
    assert re.search(r'<input type="file" name="img"[^>]* multiple', home)
    files = [
        ("img", ("one.jpg", jpeg(300, 200), "image/jpeg")),
        ("img", ("two.png", png(120, 90), "image/png")),
    ]
    data = {"_xsrf": author.xsrf(), "content": "no script", "pictures": "1"}
    response = author.http.post(
        author.base_url + "/post", data=data, files=files, allow_redirects=False, timeout=60
    )
    assert response.status_code == 302, response.text
    post_id = newest_post_id(author)
    shown = images_in(article(author.get("/").text, post_id))
    assert [(img["width"], img["height"]) for img in shown] == [("300", "200"), ("120", "90")]
    # Bad files: a 400 with the text kept, no post.
    files = [("img", ("bad.jpg", b"not a picture", "image/jpeg"))]
    data = {"_xsrf": author.xsrf(), "content": "bad file"}
    response = author.http.post(author.base_url + "/post", data=data, files=files, timeout=60)
    assert response.status_code == 400 and ">bad file</textarea>" in response.text
    # Five files: refused before any is stored.
    before = objects()
    files = [("img", (f"{n}.png", png(10, 10), "image/png")) for n in range(5)]
    data = {"_xsrf": author.xsrf(), "content": "five files"}
    response = author.http.post(author.base_url + "/post", data=data, files=files, timeout=60)
    assert response.status_code == 400 and "at most 4 pictures" in response.text
    assert objects() == before
    # A multipart form without the token is refused, as any form.
    response = author.http.post(
        author.base_url + "/post",
        data={"content": "no token"},
        files=[("img", ("one.png", png(), "image/png"))],
        timeout=60,
    )
    assert response.status_code == 403


def test_the_api_uploads_and_posts_four_pictures(author: Client, image_server: SnsServer) -> None:
    site = register_site(author, host=f"pics{time.monotonic_ns()}.example.com")
    token = token_for(image_server, site["clientSecret"])
    answers = []
    for n in range(4):
        response = call(
            image_server,
            "/v2/posts/img",
            token,
            method="POST",
            files={"img": (f"{n}.jpg", jpeg(500, 400 - n), "image/jpeg")},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0]["url"].startswith(image_server.url + "/img/thumb/200/")
    assert answers[0]["height"] == 400 and answers[0]["placeholder"]
    pictures = [{"url": a["url"], "alt": f"사진 {n}"} for n, a in enumerate(answers)]
    response = call(
        image_server,
        "/v2/posts",
        token,
        method="POST",
        json={"content": "api #pictures", "pictures": pictures},
    )
    assert response.status_code == 201, response.text
    made = response.json()["payload"]
    assert [p["alt"] for p in made["pictures"]] == [f"사진 {n}" for n in range(4)]
    assert [p["height"] for p in made["pictures"]] == [400, 399, 398, 397]
    assert made["thumbnailUrl"] == answers[0]["url"]
    assert made["originalUrl"] == answers[0]["originalUrl"]
    listed = call(image_server, "/v2/posts/my", token).json()["payload"]
    mine = next(post for post in listed if post["id"] == made["id"])
    assert mine["pictures"] == made["pictures"]
    # Every post carries the list, an empty one when it has no picture.
    bare = call(image_server, "/v2/posts", token, method="POST", json={"content": "no pictures"})
    assert bare.json()["payload"]["pictures"] == []
    assert "pictures" in DOCUMENT["components"]["schemas"]["Post"]["required"]
    shown = images_in(article(author.get("/").text, made["id"]))
    assert [img["alt"] for img in shown] == [f"사진 {n}" for n in range(4)]

    for body, message in (
        ({"content": "again", "pictures": [{"url": answers[0]["url"]}]}, "already in a post"),
        ({"content": "five", "pictures": [{"url": a["url"]} for a in answers * 2][:5]}, "at most"),
        ({"content": "bad", "pictures": "nope"}, "list of"),
        ({"content": "bad", "pictures": [{"url": 5}]}, "list of"),
        ({"content": "far", "pictures": [{"url": "https://evil.example/x.jpg"}]}, "uploaded"),
    ):
        response = call(image_server, "/v2/posts", token, method="POST", json=body)
        assert response.status_code == 400, body
        assert message in response.json()["message"], body
    response = call(
        image_server,
        "/v2/posts/img",
        token,
        method="POST",
        files={"img": ("x.jpg", b"not a picture", "image/jpeg")},
    )
    assert response.status_code == 400 and response.json()["code"] == 400
    assert call(image_server, "/v2/posts/img", None, method="POST").status_code == 401


def test_every_picture_leaves_the_store_with_its_post_and_account(
    image_server: SnsServer, objects
) -> None:
    person = image_server.client()
    person.join()
    answers = [uploaded(image_server, person, png(25, 25)) for _ in range(3)]
    fields = [("content", "going")] + [("url", a["url"]) for a in answers[:2]]
    assert send_form(person, "/post", fields).status_code == 302
    post_id = newest_post_id(person)
    fields = [("content", "staying"), ("url", answers[2]["url"])]
    assert send_form(person, "/post", fields).status_code == 302
    names = {a["name"] for a in answers}
    assert set().union(*(keys_of(n) for n in names)) <= objects()

    assert person.post(f"/post/{post_id}/delete").status_code == 200
    for answer in answers[:2]:
        assert not keys_of(answer["name"]) & objects()
    assert keys_of(answers[2]["name"]) <= objects()
    with image_server.sql() as sql:
        assert not sql.execute(
            text("SELECT COUNT(*) FROM post_pictures WHERE post_id = :p"), {"p": post_id}
        ).scalar()

    response = person.post(
        "/account/delete", {"password": "correct horse 9"}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    assert not keys_of(answers[2]["name"]) & objects()
    with image_server.sql() as sql:
        assert not sql.execute(
            text("SELECT COUNT(*) FROM post_pictures WHERE name = :n"), {"n": answers[2]["name"]}
        ).scalar()


def test_the_sweep_keeps_every_picture_of_a_post(image_server: SnsServer, objects) -> None:
    from tests.test_images_http import backdate, run_images

    person = image_server.client()
    person.join()
    answers = [uploaded(image_server, person, png(22, 22)) for _ in range(3)]
    fields = [("content", "kept")] + [("url", a["url"]) for a in answers[:2]]
    assert send_form(person, "/post", fields).status_code == 302
    for answer in answers:
        backdate(image_server, answer["name"])
    result = run_images(image_server, "clean", "--yes")
    assert result.returncode == 0, result.stderr
    assert keys_of(answers[0]["name"]) | keys_of(answers[1]["name"]) <= objects()
    assert not keys_of(answers[2]["name"]) & objects()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_lambda_mode_shows_originals_until_the_thumbnails_are_found(make_server, backend) -> None:
    """No thumbnail is asked for before it exists: with the S3 trigger making them, the
    page shows the original, looks for the thumbnails off the request path, and then
    shows them."""
    server = make_server(backend, SNS_RESIZE="lambda")
    client = server.client()
    client.join()
    answer = upload(client, jpeg(800, 600)).json()
    assert client.post("/post", {"content": "lambda", "url": answer["url"]}).status_code == 200
    post_id = newest_post_id(client)
    shown = images_in(article(client.get("/").text, post_id))
    assert shown[0]["src"] == answer["originalUrl"] and "srcset" not in shown[0]
    assert "/thumb/" not in article(client.get("/").text, post_id)
    assert (shown[0]["width"], shown[0]["height"]) == ("800", "600")

    from resize.core import thumbnails

    original = (server.data_dir / "images" / "original" / answer["name"]).read_bytes()
    for size, data in thumbnails(original, (200, 1080)).items():
        path = server.data_dir / "images" / "thumb" / str(size) / answer["name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = images_in(article(client.get("/").text, post_id))
        if shown[0]["src"] == answer["url"]:
            break
        time.sleep(0.3)
    assert shown[0]["src"] == answer["url"]
    assert "1080/" in shown[0]["srcset"]


def test_a_picture_posted_before_sizes_were_kept_gets_them(
    author: Client, image_server: SnsServer
) -> None:
    """Pictures moved by migration 0005 have no size yet: the first page that shows one
    reads it off the request path, and pages carry width and height from then on."""
    answer = uploaded(image_server, author, jpeg(330, 220))
    author.post("/post", {"content": "old one", "url": answer["url"]})
    post_id = newest_post_id(author)
    with image_server.sql() as sql:
        sql.execute(
            text(
                "UPDATE post_pictures SET width = 0, height = 0, placeholder = ''"
                " WHERE post_id = :p"
            ),
            {"p": post_id},
        )
    # A write through the app moves the site version (Redis), so pages are drawn anew.
    author.post(f"/post/{post_id}/like", allow_redirects=False)
    deadline = time.monotonic() + 30
    stored: tuple = (0, 0, "")
    while time.monotonic() < deadline:
        author.get("/")  # a page that shows it
        with image_server.sql() as sql:
            stored = tuple(
                sql.execute(
                    text("SELECT width, height, placeholder FROM post_pictures WHERE post_id = :p"),
                    {"p": post_id},
                ).one()
            )
        if stored[0]:
            break
        time.sleep(0.3)
    assert stored[:2] == (330, 220) and stored[2]
    author.post(f"/post/{post_id}/unlike", allow_redirects=False)
    shown = images_in(article(author.get("/").text, post_id))
    assert (shown[0]["width"], shown[0]["height"]) == ("330", "220")
    assert shown[0]["data-blurhash"] == stored[2]


def test_the_python_client_uploads_and_posts_pictures(
    author: Client, image_server: SnsServer
) -> None:
    from sns.client import SNSClient

    site = register_site(author, host=f"client{time.monotonic_ns()}.example.com")
    with SNSClient(image_server.url, site["clientSecret"], timeout=60) as sns:
        first = sns.upload_picture(jpeg(320, 240), "a.jpg")
        second = sns.upload_picture(png(50, 40), "b.png")
        post = sns.create_post("from the client", [(first["url"], "첫째"), (second["url"], "")])
    assert [p.alt for p in post.pictures] == ["첫째", ""]
    assert [(p.width, p.height) for p in post.pictures] == [(320, 240), (50, 40)]
    assert post.thumbnail_url == first["url"]
