"""Posts drawn once for every reader (#22, ``sns.fragments``): never another reader's parts,
and never an old drawing after a change.

The processes A and B of tests/test_page_cache_http.py (one database, and one Redis on
MariaDB) are reused. Fifty readers take turns on one URL, on both processes, some having
liked, followed, written or commented on the posts it shows; each page must carry that
reader's hearts, buttons, report links, token and badge, and nobody else's. Then each kind
of change (an edit, a like, a comment, a new avatar or handle, a moderator's hiding, a
block) is made on A after B drew the posts, and B's very next page shows it to the readers
concerned: no sleep, no retry.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from tests import test_page_cache_http
from tests.images import jpeg
from tests.test_moderation_http import admin
from tests.test_page_cache_http import (
    META_XSRF,
    Person,
    act,
    article,
    comment_item,
    follow_button,
    greeting,
    heart,
    like_count,
    page,
    shown,
    unique,
    unread_count,
    warm,
    write,
)

pair = test_page_cache_http.pair
"""Processes A and B on one database, for the whole module (the fixture, reused)."""

TOKEN_VALUE = re.compile(r'name="_xsrf" value="([^"]+)"')


def unmasked(token: str) -> bytes:
    """A session token without its mask (``sns.xsrf``): the same for every page of one
    session, different for every other session."""
    mask, _, masked = token.removeprefix("s-").partition("-")
    return bytes(a ^ b for a, b in zip(bytes.fromhex(mask), bytes.fromhex(masked), strict=True))


def page_token(html: str) -> bytes:
    """The one token of a page: the meta tag's and every form's must be the same."""
    tokens = set(TOKEN_VALUE.findall(html)) | set(META_XSRF.findall(html))
    assert len(tokens) == 1, tokens
    return unmasked(tokens.pop())


def report_link(html: str, comment_id: int) -> bool:
    return f'href="/comment/{comment_id}/report"' in html


def own_buttons(block: str, post_id: int) -> bool:
    return f'href="/post/{post_id}/edit"' in block and f'action="/post/{post_id}/delete"' in block


@dataclass
class Crowd:
    """Fifty readers and the ten posts of one hashtag: what each reader did to them."""

    readers: list[Person]
    outsiders: list[Person]
    posts: dict[int, Person] = field(default_factory=dict)
    """post id -> its author"""
    likes: dict[int, set[int]] = field(default_factory=dict)
    """post id -> ids of the readers who liked it"""
    follows: dict[int, set[int]] = field(default_factory=dict)
    """reader id -> ids of the people they follow"""
    comments: dict[int, tuple[int, int]] = field(default_factory=dict)
    """comment id -> (post id, its author's id)"""
    paths: tuple[str, ...] = ()


def crowd_of_fifty(pair) -> Crowd:
    outsiders = [pair.person() for _ in range(2)]
    readers = [pair.person() for _ in range(50)]
    crowd = Crowd(readers, outsiders)
    tag = unique("crowd")
    for author in outsiders + outsiders + readers[:6]:
        crowd.posts[write(author, f"{tag} by {author.nick} #{tag}")] = author
    post_ids = list(crowd.posts)
    for number, reader in enumerate(readers):
        for index, post_id in enumerate(post_ids):
            if (number + index) % 4 == 0:
                act(reader.a, f"/post/{post_id}/like")
                crowd.likes.setdefault(post_id, set()).add(reader.id)
        followed = outsiders[number % 3] if number % 3 < 2 else readers[0]
        if followed is not reader:
            act(reader.a, f"/user/{followed.id}/follow")
            crowd.follows.setdefault(reader.id, set()).add(followed.id)
    for number, reader in enumerate(readers[:8]):
        post_id = post_ids[number % len(post_ids)]
        answer = act(reader.a, f"/comment/{post_id}", {"content": f"c{number}"}, status=201)
        crowd.comments[answer["payload"]["id"]] = (post_id, reader.id)
    first = next(iter(crowd.comments))
    reply = act(outsiders[0].a, f"/comment/reply/{first}", {"content": "a reply"}, status=201)
    crowd.comments[reply["payload"]["id"]] = (crowd.comments[first][0], outsiders[0].id)
    crowd.paths = (f"/hashtag?hashtag={tag}", f"/search?q={tag}")
    return crowd


def check_reader(html: str, crowd: Crowd, reader: Person, where: str) -> None:
    assert greeting(html) == f"Hello, {reader.nick}", where
    for post_id, author in crowd.posts.items():
        block = article(html, post_id)
        liked = reader.id in crowd.likes.get(post_id, set())
        assert heart(block) == (("true", "♥") if liked else ("false", "♡")), where
        assert like_count(block) == len(crowd.likes.get(post_id, ())), where
        if author.id == reader.id:
            assert own_buttons(block, post_id), where
            assert follow_button(block, author.id) is None, where
            assert "post-menu" not in block, where
        else:
            assert not own_buttons(block, post_id) and "edit-link" not in block, where
            followed = author.id in crowd.follows.get(reader.id, set())
            expected = ("unfollow", "true") if followed else ("follow", "false")
            assert follow_button(block, author.id) == expected, where
            assert f'action="/user/{author.id}/block"' in block, where
    for comment_id, (post_id, author_id) in crowd.comments.items():
        item = comment_item(article(html, post_id), comment_id)
        assert report_link(item, comment_id) == (author_id != reader.id), where
    for marker in ("sns-slot-", "sns-token-", "sns-here-", "sns-xsrf-"):
        assert marker not in html, where  # no placeholder ever leaves a process


def check_anonymous(html: str, crowd: Crowd, where: str) -> None:
    assert greeting(html) is None and 'class="like-button"' not in html, where
    assert "_xsrf" not in "".join(article(html, post_id) for post_id in crowd.posts), where
    for post_id in crowd.posts:
        block = article(html, post_id)
        assert '<span class="like-static">' in block and "follow-form" not in block, where
        assert like_count(block) == len(crowd.likes.get(post_id, ())), where
    assert "report-link" not in html and "edit-link" not in html, where


def test_fifty_readers_of_one_url_each_see_only_their_own_hearts_buttons_token_and_badge(
    pair,
):
    crowd = crowd_of_fifty(pair)
    # Each reader's badge and token as a page no cache keeps shows them (/account).
    badges, tokens = {}, {}
    for reader in crowd.readers:
        own = page(reader.a, "/account")
        badges[reader.id], tokens[reader.id] = unread_count(own), page_token(own)
    assert len(set(badges.values())) > 1  # authors were told of likes and follows
    assert len(set(tokens.values())) == len(crowd.readers)
    anonymous = pair.browser()

    shuffle = random.Random(22)
    for round_number in range(4):
        path = crowd.paths[round_number % 2]
        order = list(crowd.readers)
        shuffle.shuffle(order)
        for turn, reader in enumerate(order):
            process = reader.b if (turn + round_number) % 2 else reader.a
            where = f"{path} as reader {reader.id}, round {round_number}, turn {turn}"
            html = page(process, path)
            check_reader(html, crowd, reader, where)
            assert unread_count(html) == badges[reader.id], where
            assert page_token(html) == tokens[reader.id], where
            if turn % 10 == 0:
                check_anonymous(page(anonymous.b, path), crowd, where)
    # A token from such a page works in its reader's session, and only there.
    first, second = crowd.readers[:2]
    html = page(first.b, crowd.paths[0])
    token = TOKEN_VALUE.search(html).group(1)
    assert second.b.post("/locale", {"locale": "en_US", "_xsrf": token}).status_code == 403
    answer = first.b.post("/locale", {"locale": "en_US", "_xsrf": token}, allow_redirects=False)
    assert answer.status_code == 302


# --- a change on A shows on B's very next page ----------------------------------------------


@dataclass
class Stage:
    """Q wrote a post with a hashtag of its own; X and Y read it, logged in, on both
    processes, and so does someone logged out: every process has drawn it for each kind
    of reader before the change."""

    q: Person
    x: Person
    y: Person
    anonymous: Person
    post_id: int
    path: str


@pytest.fixture
def stage(pair) -> Stage:
    q, x, y = pair.person(), pair.person(), pair.person()
    tag = unique("stage")
    post_id = write(q, f"{tag} first words #{tag}")
    path = f"/hashtag?hashtag={tag}"
    anonymous = pair.browser()
    for reader in (q, x, y, anonymous):
        warm(reader.a, path, f"/post/{post_id}")
        warm(reader.b, path, f"/post/{post_id}")
    return Stage(q, x, y, anonymous, post_id, path)


def readers(s: Stage) -> list[Person]:
    return [s.q, s.x, s.y, s.anonymous]


def every_page(s: Stage, reader: Person) -> list[str]:
    """The post as ``reader`` sees it on both processes, in a timeline and on its page."""
    return [
        article(page(client, path), s.post_id)
        for client in (reader.b, reader.a)
        for path in (s.path, f"/post/{s.post_id}")
    ]


def test_an_edit_shows_at_once_to_every_reader_on_both_processes(pair, stage):
    s = stage
    new = unique("edited")
    response = s.q.a.post(
        f"/post/{s.post_id}/update",
        {"content": f"{new} #{s.path.split('=')[1]}"},
        allow_redirects=False,
    )
    assert response.status_code == 302
    for reader in readers(s):
        for block in every_page(s, reader):
            assert new in block and "first words" not in block and " · edited" in block


def test_a_like_shows_its_count_to_all_and_the_heart_to_the_liker_only(pair, stage):
    s = stage
    act(s.x.a, f"/post/{s.post_id}/like")
    for reader in readers(s):
        for block in every_page(s, reader):
            assert like_count(block) == 1
            if reader is not s.anonymous:
                assert heart(block) == (("true", "♥") if reader is s.x else ("false", "♡"))
    act(s.x.b, f"/post/{s.post_id}/unlike")
    for reader in readers(s):
        for block in every_page(s, reader):
            assert like_count(block) == 0
            if reader is not s.anonymous:
                assert heart(block) == ("false", "♡")


def test_a_comment_shows_at_once_with_a_report_link_for_others_only(pair, stage):
    s = stage
    text = unique("said")
    answer = act(s.y.a, f"/comment/{s.post_id}", {"content": text}, status=201)
    comment_id = answer["payload"]["id"]
    for reader in readers(s):
        for block in every_page(s, reader):
            item = comment_item(block, comment_id)
            assert text in item
            assert report_link(item, comment_id) == (reader in (s.q, s.x))


def test_a_new_avatar_and_handle_show_on_the_post_at_once(pair, stage):
    s = stage
    handle = unique("h")
    answer = s.q.a.post("/account/handle", {"handle": handle}, allow_redirects=False)
    assert answer.status_code == 302
    upload = s.q.a.http.post(
        s.q.a.base_url + "/account/avatar",
        data={"_xsrf": s.q.a.xsrf(), "page": "profile"},
        files={"img": ("me.jpg", jpeg(400, 400), "application/octet-stream")},
        allow_redirects=False,
        timeout=60,
    )
    assert upload.status_code == 302
    face = re.compile(r'<span class="byline"><img class="avatar" src="[^"]*/avatar/[^"]+"')
    for reader in readers(s):
        for block in every_page(s, reader):
            assert face.search(block), block[:400]
            assert f'href="/@{handle}">@{handle}</a>' in block


def test_a_post_hidden_by_a_moderator_leaves_every_page_but_its_authors(pair, stage):
    s = stage
    moderator = pair.person()
    assert admin(pair.a, "grant", moderator.email).returncode == 0
    assert s.x.a.post(f"/post/{s.post_id}/report", {"reason": "spam"}).status_code == 201
    with pair.a.sql() as conn:
        rid = conn.execute(
            text("SELECT id FROM reports WHERE target_kind = 'post' AND target_id = :t"),
            {"t": s.post_id},
        ).scalar_one()
    answer = moderator.a.post(
        f"/admin/report/{rid}/hide", {"reason": "spam"}, allow_redirects=False
    )
    assert answer.status_code == 302
    for reader in (s.x, s.y, s.anonymous):
        for client in (reader.b, reader.a):
            assert not shown(page(client, s.path), s.post_id)
            page(client, f"/post/{s.post_id}", status=404)
    for block in every_page(s, s.q):
        assert "Hidden by the moderators: only you can see this post." in block
        assert own_buttons(block, s.post_id)


def test_a_block_hides_the_post_and_comments_both_ways_at_once(pair, stage):
    s = stage
    other = write(s.y, f"y writes #{s.path.split('=')[1]}")
    said = act(s.q.a, f"/comment/{other}", {"content": "q comments"}, status=201)
    comment_id = said["payload"]["id"]
    for reader in (s.x, s.y, s.q):
        warm(reader.b, s.path)
        warm(reader.a, s.path)

    act(s.x.a, f"/user/{s.q.id}/block")

    for client in (s.x.b, s.x.a):
        html = page(client, s.path)
        assert not shown(html, s.post_id) and shown(html, other)
        assert f'id="comment-{comment_id}"' not in article(html, other)
    for client in (s.y.b, s.y.a):
        html = page(client, s.path)
        assert shown(html, s.post_id)
        assert report_link(comment_item(article(html, other), comment_id), comment_id)
    for client in (s.q.b, s.q.a):
        html = page(client, s.path)
        assert shown(html, s.post_id) and shown(html, other)
    # X's unblock gives everything back.
    act(s.x.a, f"/user/{s.q.id}/unblock")
    for client in (s.x.b, s.x.a):
        html = page(client, s.path)
        assert shown(html, s.post_id)
        assert f'id="comment-{comment_id}"' in article(html, other)
        assert follow_button(article(html, s.post_id), s.q.id) == ("follow", "false")
