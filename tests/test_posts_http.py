"""Writing posts, hashtags and the timelines, over HTTP on both backends."""

from __future__ import annotations

import re
import uuid

import pytest

from testkit.sns import Client

JSON = {"Accept": "application/json"}


def tag() -> str:
    """A hashtag no other test uses, so pages can be checked exactly."""
    return "t" + uuid.uuid4().hex[:10]


def post_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-post-id="(\d+)"', html)]


def post_block(html: str, post_id: int) -> str:
    """The HTML of one post's article (other tests write "#노드 hello" too)."""
    start = html.index(f'id="post-{post_id}"')
    return html[start : html.index("</article>", start)]


def test_a_post_appears_on_the_timeline_with_linked_hashtags(client: Client, user):
    unique = tag()
    response = client.write(f"#노드 hello #Tornado #{unique}")
    assert response.status_code == 302
    [post_id] = post_ids(client.get("/hashtag", params={"hashtag": unique}).text)
    page = client.get("/").text
    assert f'data-post-id="{post_id}"' in page
    block = post_block(page, post_id)
    assert "hello" in block
    assert '<a class="hashtag" href="/hashtag?hashtag=%EB%85%B8%EB%93%9C">#노드</a>' in block
    assert '<a class="hashtag" href="/hashtag?hashtag=tornado">#Tornado</a>' in block
    assert f'<a class="hashtag" href="/hashtag?hashtag={unique}">#{unique}</a>' in block
    # The author link, not the sidebar's greeting, which names the user on every page.
    assert f'<a class="author" href="/user/{client.user_id()}">{user["nick"]}</a>' in block


def test_hashtag_search_finds_posts_case_insensitively_and_korean(client: Client, user):
    unique = tag()
    client.write(f"첫 글 #{unique.upper()} #한글태그{unique}")
    client.write(f"other post #{unique}_x")
    for query in (unique, unique.upper(), "#" + unique, f"  #{unique} "):
        page = client.get("/hashtag", params={"hashtag": query})
        assert page.status_code == 200
        assert "첫 글" in page.text
        assert "other post" not in page.text
    korean = client.get("/hashtag", params={"hashtag": f"한글태그{unique}"})
    assert "첫 글" in korean.text
    underscore = client.get("/hashtag", params={"hashtag": f"{unique}_x"})
    assert "other post" in underscore.text and "첫 글" not in underscore.text


def test_unknown_hashtag_shows_an_empty_result_not_an_error(client: Client):
    page = client.get("/hashtag", params={"hashtag": tag()})
    assert page.status_code == 200
    assert "No posts with this hashtag yet." in page.text


def test_empty_hashtag_search_goes_back_to_the_timeline(client: Client):
    response = client.get("/hashtag", params={"hashtag": "  # "}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_repeated_hashtag_is_linked_once_per_post_in_search(client: Client, user):
    unique = tag()
    client.write(f"#{unique} #{unique.upper()} twice")
    page = client.get("/hashtag", params={"hashtag": unique})
    assert len(post_ids(page.text)) == 1


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        ("", 400, "Write something first."),
        ("   \n  ", 400, "Write something first."),
        ("a" * 141, 400, "A post is at most 140 characters; this one has 141."),
        ("가" * 141, 400, "this one has 141"),
    ],
)
def test_bad_posts_are_refused_with_the_text_kept(client: Client, user, content, status, message):
    response = client.write(content)
    assert response.status_code == status
    assert message in response.text
    if content.strip():
        assert content in response.text


LONG_ONCE_FOLDED = "#" + "ß" * 100  # 101 characters as typed, "ss" * 100 once folded


@pytest.mark.parametrize(
    "content",
    [
        "{marker} " + LONG_ONCE_FOLDED,
        "#ok{marker} " + LONG_ONCE_FOLDED,
        "{marker} #" + "ﬃ" * 47,  # each ligature folds to three letters: 141
    ],
    ids=["alone", "next-to-another-tag", "ligatures"],
)
def test_a_hashtag_longer_than_140_once_folded_is_refused_on_both_databases(
    client: Client, user, content
):
    # The folded tag did not fit hashtags.title: a 500 on MariaDB, or the post saved with
    # the tag cut to 140 characters and not linked; SQLite stored it whole (#12).
    marker = tag()
    content = content.format(marker=marker)
    response = client.write(content)
    assert response.status_code == 400
    assert "A hashtag can have at most 140 characters once in lower case" in response.text
    assert content in response.text
    assert marker not in client.get("/").text
    assert post_ids(client.get("/hashtag", params={"hashtag": "ok" + marker}).text) == []


def test_a_hashtag_of_exactly_140_once_folded_is_stored_and_linked(client: Client, user):
    marker = tag()
    long_tag = "ß" * 70  # "ss" * 70
    assert client.write(f"{marker} #{long_tag}").status_code == 302
    page = client.get("/hashtag", params={"hashtag": long_tag.upper()})
    assert marker in page.text
    assert f'href="/hashtag?hashtag={"ss" * 70}">#{long_tag}</a>' in page.text


def test_an_edit_with_a_hashtag_too_long_once_folded_is_refused(client: Client, user):
    marker = tag()
    post_id = client.post("/post", {"content": marker}, headers=JSON).json()["payload"]["id"]
    response = client.post(f"/post/{post_id}/update", {"content": LONG_ONCE_FOLDED})
    assert response.status_code == 400
    assert "at most 140 characters once in lower case" in response.text
    assert marker in client.get("/").text


def test_control_characters_never_reach_the_page(client: Client, user):
    marker = tag()
    assert client.write(f"bell \x07 {marker}").status_code == 302
    page = client.get("/").text
    assert re.search(rf"bell\s+{marker}", page)
    assert "\x07" not in page


def test_140_characters_are_accepted_counting_code_points_not_bytes(client: Client, user):
    korean = "가" * 139 + "😀"
    assert client.write(korean).status_code == 302
    assert korean in client.get("/").text
    crlf = "a\r\n" * 46 + "bb"  # 46*2 + 2 = 94 code points once \r\n is \n
    assert client.write(crlf).status_code == 302


def test_post_text_is_shown_as_text_not_markup(client: Client, user):
    marker = tag()
    payload = f'<script>alert("{marker}")</script><img src=x onerror=alert(1)>'
    assert client.write(payload).status_code == 302
    page = client.get("/").text
    assert f'<script>alert("{marker}")' not in page
    assert "<img src=x" not in page
    # This post's own text, escaped (not any post's "&lt;script&gt;").
    escaped = f"&lt;script&gt;alert(&quot;{marker}&quot;)&lt;/script&gt;"
    assert escaped + "&lt;img src=x onerror=alert(1)&gt;" in page


def test_writing_needs_a_login(server):
    client = server.client()
    response = client.write("anonymous?")
    assert response.status_code == 401
    assert "Please log in first." in response.text
    assert 'action="/auth/login"' in response.text
    as_json = client.post("/post", {"content": "x"}, headers={"Accept": "application/json"})
    assert as_json.json() == {"code": 401, "message": "Please log in first."}
    assert "anonymous?" not in client.get("/").text


def test_writing_as_json_answers_created_and_bad_input_as_code_message(client: Client, user):
    ok = client.post("/post", {"content": "from fetch"}, headers={"Accept": "application/json"})
    assert ok.status_code == 201
    assert ok.json()["code"] == 201
    bad = client.post("/post", {"content": ""}, headers={"Accept": "application/json"})
    assert bad.status_code == 400
    assert bad.json() == {"code": 400, "message": "Write something first."}


def test_the_author_is_the_session_user_whatever_the_form_says(server):
    victim = server.client()
    victim.join(nick="victim")
    victim_id = victim.user_id()
    attacker = server.client()
    attacker.join(nick="attacker")
    attacker_id = attacker.user_id()
    forged = {"user_id": str(victim_id), "UserId": str(victim_id), "nick": "victim"}
    response = attacker.post(
        "/post", {"content": f"who wrote this {tag()}", **forged}, headers=JSON
    )
    assert response.status_code == 201
    post_id = response.json()["payload"]["id"]
    author = re.search(
        rf'id="post-{post_id}".*?<a class="author" href="/user/(\d+)">([^<]*)</a>',
        victim.get("/").text,
        re.S,
    )
    assert (int(author.group(1)), author.group(2)) == (attacker_id, "attacker")
    assert post_id in post_ids(victim.get(f"/user/{attacker_id}").text)
    assert post_id not in post_ids(victim.get(f"/user/{victim_id}").text)


def test_timeline_pages_with_a_before_cursor(make_server):
    server = make_server("sqlite", SNS_PAGE_SIZE="5")
    client = server.client()
    client.join()
    for number in range(12):
        assert client.write(f"post number {number}").status_code == 302
    first = client.get("/")
    ids = post_ids(first.text)
    assert len(ids) == 5
    assert ids == sorted(ids, reverse=True)
    assert "post number 11" in first.text
    cursor = re.search(r'rel="next" href="\?before=(\d+)"', first.text).group(1)
    assert int(cursor) == ids[-1]
    second = client.get("/", params={"before": cursor})
    third_cursor = re.search(r'rel="next" href="\?before=(\d+)"', second.text).group(1)
    third = client.get("/", params={"before": third_cursor})
    seen = ids + post_ids(second.text) + post_ids(third.text)
    assert len(seen) == 12 == len(set(seen))
    assert 'rel="next"' not in third.text


def test_hashtag_pages_keep_the_tag_in_the_next_link(make_server):
    server = make_server("sqlite", SNS_PAGE_SIZE="2")
    client = server.client()
    client.join()
    for number in range(3):
        client.write(f"tagged {number} #페이지")
    client.write("untagged")
    first = client.get("/hashtag", params={"hashtag": "페이지"})
    link = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert link.startswith("?hashtag=%ED%8E%98%EC%9D%B4%EC%A7%80&before=")
    second = client.get("/hashtag" + link)
    assert post_ids(second.text) and "tagged 0" in second.text
    assert "untagged" not in first.text + second.text


@pytest.mark.parametrize(
    "before",
    # "²" and "١" (Arabic-Indic one) pass str.isdigit(); "²" then broke int() with a 500 (#12).
    ["abc", "-1", "0", "1.5", "99999999999999999999999", "²", "١", "1²", "+1", "0x1"],
)
@pytest.mark.parametrize("path", ["/", "/hashtag?hashtag=x"])
def test_a_bad_before_cursor_is_a_400_page(client: Client, path, before):
    response = client.get(path, params={"before": before})
    assert response.status_code == 400
    assert "before must be a positive whole number" in response.text


def test_an_overlong_hashtag_search_is_a_400(client: Client):
    response = client.get("/hashtag", params={"hashtag": "a" * 141})
    assert response.status_code == 400


def test_two_processes_writing_to_one_sqlite_file_both_succeed(tmp_path):
    """Concurrent writers in separate processes wait for the lock instead of failing with
    "database is locked" (WAL, busy timeout, BEGIN IMMEDIATE)."""
    from concurrent.futures import ThreadPoolExecutor

    from testkit.sns import SnsServer

    shared = tmp_path / "shared"
    first = SnsServer(shared, {"SNS_PAGE_SIZE": "200"}).start()
    second = SnsServer(shared, {"SNS_PAGE_SIZE": "200"}).start()
    try:
        writers = []
        for server in (first, second, first, second):
            client = server.client()
            client.join()
            writers.append(client)
        assert (
            first.client().get("/").headers["X-SNS-Worker"]
            != second.client().get("/").headers["X-SNS-Worker"]
        )
        marker = tag()

        def write(job: tuple[int, Client]) -> int:
            number, client = job
            return client.write(f"#{marker} concurrent {number}").status_code

        jobs = [(n, writers[n % len(writers)]) for n in range(80)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(write, jobs))
        assert statuses == [302] * 80
        page = first.client().get("/hashtag", params={"hashtag": marker}).text
        assert len(post_ids(page)) == 80
    finally:
        first.stop()
        second.stop()


def test_an_edit_in_the_same_second_as_the_post_is_marked_edited(client: Client, user):
    """Timestamps of whole seconds made ``updated_at > created_at`` false for a quick edit."""
    marker = tag()
    post_id = client.post("/post", {"content": marker}, headers=JSON).json()["payload"]["id"]
    assert "· edited" not in post_block(client.get(f"/post/{post_id}").text, post_id)
    response = client.post(
        f"/post/{post_id}/update", {"content": f"{marker} fixed"}, allow_redirects=False
    )
    assert response.status_code == 302
    for path in (f"/post/{post_id}", "/"):
        block = post_block(client.get(path).text, post_id)
        assert f"{marker} fixed" in block
        assert "· edited" in block
