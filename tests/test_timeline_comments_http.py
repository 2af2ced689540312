"""A timeline shows a few comments per post and links to the post's page for the rest."""

from __future__ import annotations

import re

from testkit.sns import PASSWORD, Client

JSON = {"Accept": "application/json"}
KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9"}


def article(html: str, post_id: int) -> str:
    """The HTML of one post on a page."""
    match = re.search(rf'<article class="post" id="post-{post_id}".*?</article>', html, re.S)
    assert match, f"post {post_id} is not on the page"
    return match.group(0)


def shown(html: str) -> list[str]:
    """The texts of the comments and replies shown, in page order."""
    return re.findall(r'<span class="comment-text">([^<]*)</span>', html)


def comment(client: Client, post_id: int, text: str) -> int:
    response = client.post(f"/comment/{post_id}", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def reply(client: Client, comment_id: int, text: str) -> None:
    response = client.post(f"/comment/reply/{comment_id}", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text


def write(client: Client, content: str) -> int:
    return client.post("/post", {"content": content}, headers=JSON).json()["payload"]["id"]


def test_a_timeline_caps_comments_and_links_to_the_post_page(server):
    author, reader = server.client(), server.client()
    author.join()
    reader.join()
    busy = write(author, "many comments #capped")
    quiet = write(author, "two comments #capped")
    ids = [comment(reader, busy, f"c{n}") for n in range(1, 6)]
    for n in range(1, 6):
        reply(author, ids[3], f"c4-r{n}")
    reply(author, ids[0], "c1-r1")  # under a comment the timeline leaves out
    comment(reader, quiet, "q1")
    reply(author, comment(reader, quiet, "q2"), "q2-r1")

    # The 3 newest comments, oldest first, each with its 3 newest replies; 11 in all.
    capped = ["c3", "c4", "c4-r3", "c4-r4", "c4-r5", "c5"]
    author_id = author.user_id()
    for path in ("/", "/hashtag?hashtag=capped", f"/user/{author_id}", "/search?q=comments"):
        page = reader.get(path)
        assert page.status_code == 200, path
        assert shown(article(page.text, busy)) == capped, path
        assert f'<a href="/post/{busy}">View all 11 comments</a>' in page.text, path
        assert shown(article(page.text, quiet)) == ["q1", "q2", "q2-r1"], path
        assert "View all" not in article(page.text, quiet), path

    korean = reader.get("/", headers=KOREAN)
    assert "댓글 11개 모두 보기" in article(korean.text, busy)

    whole = reader.get(f"/post/{busy}")
    expected = ["c1", "c1-r1", "c2", "c3", "c4"] + [f"c4-r{n}" for n in range(1, 6)] + ["c5"]
    assert shown(whole.text) == expected
    assert "View all" not in whole.text


def test_the_cap_counts_only_what_the_post_page_shows(server):
    """Comments of a deleted account vanish from the count and the shown few alike."""
    author, reader, leaver = server.client(), server.client(), server.client()
    for client in (author, reader, leaver):
        client.join()
    post_id = write(author, "who stays")
    for n in range(1, 4):
        comment(reader, post_id, f"stay{n}")
    gone = comment(leaver, post_id, "gone")
    reply(author, gone, "reply to gone")
    page = reader.get("/")
    assert shown(article(page.text, post_id)) == ["stay2", "stay3", "gone", "reply to gone"]
    assert "View all 5 comments" in article(page.text, post_id)

    deleted = leaver.post("/account/delete", {"password": PASSWORD}, allow_redirects=False)
    assert deleted.status_code == 302
    page = reader.get("/")
    assert shown(article(page.text, post_id)) == ["stay1", "stay2", "stay3"]
    assert "View all" not in article(page.text, post_id)
