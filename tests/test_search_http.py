"""Searching posts by their words at /search, on SQLite and on MariaDB."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text

from sns.search_index import document
from testkit.sns import ROOT, Client

JSON = {"Accept": "application/json"}
CORPUS = {
    "bare": "노드",
    "subject": "노드가 좋아요",
    "object": "노드를 배우는 중",
    "mixed": "Node.js와 노드",
    "city": "서울시",
    "caps": "TORNADO",
    "possessive": "tornado's",
    # Holds the 2-grams of 노드를 (노드, 드를) but not the word: must not match it.
    "coincidence": "노드 그리고 드를",
}


def post_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-post-id="(\d+)"', html)]


def post_block(html: str, post_id: int) -> str:
    start = html.index(f'data-post-id="{post_id}"')
    return html[start : html.index("</article>", start)]


def write(client: Client, content: str) -> int:
    response = client.post("/post", {"content": content}, headers=JSON)
    assert response.status_code == 201, response.text
    return int(response.json()["payload"]["id"])


def search(client: Client, query: str, **params: str) -> list[int]:
    response = client.get("/search", params={"q": query, **params})
    assert response.status_code == 200, (query, response.status_code, response.text[:300])
    return post_ids(response.text)


@pytest.fixture(params=["sqlite", "mariadb"])
def fresh(request, make_server):
    """A server of its own, so that common words like 노드 meet only this corpus."""
    return make_server(request.param)


def test_the_korean_corpus_is_found_by_words_particles_and_prefixes(fresh):
    author = fresh.client()
    author.join()
    ids = {name: write(author, text) for name, text in CORPUS.items()}
    reader = fresh.client()

    def found(query: str) -> list[str]:
        names = {post_id: name for name, post_id in ids.items()}
        return [names[post_id] for post_id in search(reader, query)]

    korean_node = ["coincidence", "mixed", "object", "subject", "bare"]  # newest first
    assert found("노드") == korean_node
    assert found("노드를") == ["object"]  # 2-grams alone would also bring "coincidence"
    assert found("노드가") == ["subject"]
    assert found("배우는 중") == ["object"]
    assert found("중 배우는") == ["object"]  # every word, in any order
    assert found("node") == ["mixed"]
    assert found("Node.js") == ["mixed"]
    assert found("NODE.JS와") == ["mixed"]
    assert found("ｎｏｄｅ") == ["mixed"]  # full-width letters are NFKC-normalised
    assert found("tornado") == ["possessive", "caps"]
    assert found("TORNADO") == ["possessive", "caps"]
    assert found("tornado's") == ["possessive"]
    assert found("torn") == ["possessive", "caps"]  # words match by their start
    assert found("ornado") == []  # ... and only by their start
    assert found("서울") == ["city"]
    assert found("울시") == ["city"]  # Korean matches inside a word: 서울시 holds 울시
    # One character: Korean by its 1-gram, words by their 1-character prefix.
    assert found("시") == ["city"]
    assert found("드") == korean_node
    assert found("j") == ["mixed"]
    assert found("노드 tornado") == []


def test_search_results_mark_the_words_and_offer_what_every_timeline_offers(server):
    author, reader = server.client(), server.client()
    author.join()
    reader.join()
    marker = uuid.uuid4().hex[:10]
    mine = write(reader, f"노드를 배우는 중 {marker}")
    theirs = write(author, f"Node.js와 노드 {marker} #Tornado")
    html = reader.get("/search", params={"q": f"노드 {marker}"}).text
    assert post_ids(html) == [theirs, mine]
    own = post_block(html, mine)
    assert f"<mark>노드</mark>를 배우는 중 <mark>{marker}</mark>" in own
    assert 'class="edit-link"' in own and 'class="delete-form"' in own
    other = post_block(html, theirs)
    assert "Node.js와 <mark>노드</mark>" in other
    assert 'class="like-button"' in other and "follow-button" in other
    assert '<a class="hashtag" href="/hashtag?hashtag=tornado">#Tornado</a>' in other
    # A word marked inside a hashtag stays inside its link.
    html = reader.get("/search", params={"q": f"tornado {marker}"}).text
    assert '">#<mark>Tornado</mark></a>' in post_block(html, theirs)
    assert f'value="tornado {marker}"' in html  # the box keeps what was searched


def test_an_edit_that_removes_a_word_and_a_delete_take_the_post_out_of_results(server):
    client = server.client()
    client.join()
    marker = uuid.uuid4().hex[:10]
    post_id = write(client, f"노드를 배우는 중 {marker}")
    assert search(client, f"노드 {marker}") == [post_id]
    response = client.post(f"/post/{post_id}/update", {"content": f"파이썬을 배우는 중 {marker}"})
    assert response.status_code in (200, 302)
    assert search(client, f"노드 {marker}") == []
    assert search(client, f"파이썬 {marker}") == [post_id]
    assert search(client, f"배우는 {marker}") == [post_id]
    # The index holds exactly the edited text's rows: nothing of 노드를 is left behind.
    body, terms = document(f"파이썬을 배우는 중 {marker}")
    assert index_of(server, post_id) == {"": body, **dict.fromkeys(terms)}
    client.post(f"/post/{post_id}/delete")
    assert search(client, marker) == []
    assert search(client, f"파이썬 {marker}") == []
    assert index_of(server, post_id) == {}


def index_of(server, post_id: int) -> dict[str, str | None]:
    with server.sql() as conn:
        rows = conn.execute(
            text("SELECT term, body FROM search_terms WHERE post_id = :id"), {"id": post_id}
        )
        return {row.term: row.body for row in rows}


def test_a_deleted_accounts_posts_are_not_found(server):
    leaver, reader = server.client(), server.client()
    who = leaver.join()
    marker = uuid.uuid4().hex[:10]
    write(leaver, f"곧 떠나는 사람의 글 {marker}")
    assert len(search(reader, marker)) == 1
    response = leaver.post(
        "/account/delete",
        {"password": who["password"], "confirmation": "delete"},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    assert search(reader, marker) == []
    assert search(reader, f"떠나는 {marker}") == []


def test_results_come_newest_first_a_page_at_a_time(server):
    client = server.client()
    client.join()
    marker = uuid.uuid4().hex[:10]
    written = [write(client, f"페이지 {number} {marker}") for number in range(25)]
    first = client.get("/search", params={"q": f"페이지 {marker}"}).text
    assert post_ids(first) == written[::-1][:20]
    older = re.search(r'<a rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert older.startswith("q=") and f"before={written[5]}" in older
    second = client.get("/search?" + older).text
    assert post_ids(second) == written[::-1][20:]
    assert 'rel="next"' not in second


def test_one_character_and_a_full_length_query_work(server):
    client = server.client()
    client.join()
    marker = uuid.uuid4().hex[:10]
    long_post = (f"{marker} 긴 글: Node.js와 노드를 배우는 중입니다! " * 10)[:140]
    post_id = write(client, long_post)
    assert search(client, long_post) == [post_id]
    assert search(client, long_post.upper()) == [post_id]
    assert post_id in search(client, f"긴 {marker}")
    assert search(client, "X" * 140) == []


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 200, "Type a word to search for."),
        ("   ", 200, "Type a word to search for."),
        ("?!…,.;", 200, "punctuation and emoji alone find nothing"),
        ("😀🎉👍🏽", 200, "punctuation and emoji alone find nothing"),
        ("노" * 141, 400, "A search is at most 140 characters; this one has 141."),
        ("tornado " * 200, 400, "A search is at most 140 characters"),
        # Unknown words of their own each run; a fixed id so that every xdist worker
        # collects the same test.
        pytest.param(
            "zzzqqq" + uuid.uuid4().hex, 200, "No posts hold all of these words.", id="unknown"
        ),
    ],
)
def test_queries_that_cannot_find_anything_get_a_clear_page(server, query, status, message):
    response = server.client().get("/search", params={"q": query})
    assert response.status_code == status
    assert message in response.text
    assert post_ids(response.text) == []


def test_the_search_pages_speak_korean(server):
    client = server.client()
    client.http.cookies.set("locale", "ko_KR")
    assert "검색할 단어를 입력하세요." in client.get("/search").text
    assert "문장부호나 이모지만으로는" in client.get("/search", params={"q": "!?"}).text
    none = client.get("/search", params={"q": "zzzqqq" + uuid.uuid4().hex}).text
    assert "이 단어가 모두 들어 있는 글이 없습니다." in none and "검색 결과" in none
    too_long = client.get("/search", params={"q": "가" * 141})
    assert too_long.status_code == 400
    assert "검색어는 최대 140자까지" in too_long.text


def test_a_hashtag_typed_in_the_box_goes_to_its_hashtag_page(server):
    client = server.client()
    response = client.get("/search", params={"q": "#노드"}, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/hashtag?hashtag=%EB%85%B8%EB%93%9C"
    # The box on the hashtag page holds the tag, so sending it again stays there.
    page = client.get("/hashtag", params={"hashtag": "노드"}).text
    assert 'action="/search"' in page and 'value="#노드"' in page


XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_a_query_or_a_post_holding_markup_is_shown_as_text(server):
    client = server.client()
    client.join()
    marker = uuid.uuid4().hex[:10]
    post_id = write(client, f"<b>노드</b> {marker} {XSS}")
    html = client.get("/search", params={"q": f"{XSS} 노드 {marker}"}).text
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
    assert post_ids(html) == [post_id]
    block = post_block(html, post_id)
    assert f"&lt;b&gt;<mark>노드</mark>&lt;/b&gt; <mark>{marker}</mark>" in block
    assert "&lt;<mark>script</mark>&gt;<mark>alert</mark>(<mark>1</mark>)" in block
    assert 'value="&quot;&gt;&lt;script&gt;' in html  # the box echoes the query escaped


def test_search_reindex_rebuilds_the_index_with_a_progress_bar(make_server):
    server = make_server("sqlite")
    client = server.client()
    client.join()
    marker = uuid.uuid4().hex[:10]
    post_id = write(client, f"다시 색인할 글 {marker}")
    with server.sql() as conn:
        conn.exec_driver_sql("DELETE FROM search_terms")
    assert search(client, marker) == []
    env = server.environment()
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--env-file", "", "search", "reindex"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Indexed 1 posts for search." in done.stdout
    assert "100%" in done.stderr  # tqdm's bar
    assert search(client, f"색인 {marker}") == [post_id]


def test_search_without_an_action_is_refused(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--env-file", "", "search"],
        cwd=ROOT,
        env={"SNS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "search reindex" in done.stderr


def test_the_api_searches_like_the_page(fresh):
    """GET /v2/posts/search: the same matches, the API's payload and paging, and a 400 for
    a missing or too long query."""
    from tests.api_support import call, register_site, token_for

    author = fresh.client()
    author.join()
    ids = {name: write(author, text) for name, text in CORPUS.items()}
    site = register_site(author, "search.example")
    token = token_for(fresh, site["clientSecret"])

    answer = call(fresh, "/v2/posts/search?q=%EB%85%B8%EB%93%9C%EB%A5%BC", token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [post["id"] for post in body["payload"]] == [ids["object"]]
    assert body["payload"][0]["content"] == "노드를 배우는 중"
    assert body["nextCursor"] is None

    first = call(fresh, "/v2/posts/search", token, params={"q": "노드", "limit": 2}).json()
    assert [p["id"] for p in first["payload"]] == [ids["coincidence"], ids["mixed"]]
    rest = call(
        fresh, "/v2/posts/search", token, params={"q": "노드", "cursor": first["nextCursor"]}
    ).json()
    assert [p["id"] for p in rest["payload"]] == [ids["object"], ids["subject"], ids["bare"]]

    for params in ({}, {"q": "  "}, {"q": "노" * 141}):
        refused = call(fresh, "/v2/posts/search", token, params=params)
        assert refused.status_code == 400, params
        assert refused.json()["code"] == 400
    assert call(fresh, "/v2/posts/search?q=node").status_code == 401
