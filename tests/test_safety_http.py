"""Blocks, mutes and muted words, from both sides, on every page and API answer that shows
posts, with the page cache on: two processes (A, where people act, and B, where they read)
on one database, as tests/test_page_cache_http.py sets them up. Every page is read on B
twice before the action on A and once after, with no retry: a stale page fails.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import update

from sns.db import utcnow
from sns.safety import BLOCKED_REFUSAL, BLOCKER_REFUSAL
from sns.schema import mutes
from tests.api_support import register_site, token_for
from tests.test_page_cache_http import Pair, Person, act, page, pair, unique, warm, write

__all__ = ["pair"]  # the module-scoped A and B, shared with the page cache tests


def api(server_url: str, path: str, token: str, method: str = "GET", **kwargs) -> requests.Response:
    return requests.request(
        method, server_url + path, headers={"Authorization": token}, timeout=30, **kwargs
    )


def token_of(pair: Pair, person: Person) -> str:
    site = register_site(person.a, unique("site") + ".example")
    return token_for(pair.a, site["clientSecret"])


def comment(person: Person, post_id: int, text: str) -> int:
    return act(person.a, f"/comment/{post_id}", {"content": text}, status=201)["payload"]["id"]


def api_ids(pair: Pair, token: str, path: str) -> set[int]:
    answer = api(pair.b.url, path, token)
    assert answer.status_code == 200, (path, answer.text)
    return {post["id"] for post in answer.json()["payload"]}


def test_a_block_hides_each_from_the_other_everywhere_and_stops_their_actions(pair):
    blocker, blocked, third = pair.person(), pair.person(), pair.person()
    tag, word = unique("tag"), unique("word")
    act(blocked.a, f"/user/{blocker.id}/follow")
    act(blocker.a, f"/user/{blocked.id}/follow")
    mine = write(blocker, f"#{tag} {word} by the blocker")
    theirs = write(blocked, f"#{tag} {word} by the blocked")
    others = write(third, f"#{tag} {word} by someone else")
    blocker_says = unique("blockersays")
    blocked_says = unique("blockedsays")
    blocker_comment = comment(blocker, others, blocker_says)
    comment(blocked, others, blocked_says)
    act(blocker.a, f"/post/{theirs}/like")
    act(blocked.a, f"/post/{mine}/like")
    blocker_token, blocked_token = token_of(pair, blocker), token_of(pair, blocked)

    lists = ["/", "/following", "/likes", f"/hashtag?hashtag={tag}", f"/search?q={word}"]
    own_pages = [f"/post/{others}", f"/user/{third.id}", "/profile"]
    warm(blocker.b, *lists, *own_pages, f"/post/{theirs}", f"/user/{blocked.id}")
    warm(blocked.b, *lists, *own_pages, f"/post/{mine}", f"/user/{blocker.id}")
    hashtag_api, search_api = f"/v2/posts/hashtag/{tag}", f"/v2/posts/search?q={word}"
    for token in (blocker_token, blocked_token):
        for path in (hashtag_api, search_api, "/v2/posts/myLikes"):
            api_ids(pair, token, path)

    done = act(blocker.a, f"/user/{blocked.id}/block")
    assert done["payload"]["blocking"] is True
    act(blocker.a, f"/user/{blocked.id}/block")  # again: nothing changes

    sides = (
        (blocker, blocked, theirs, blocked_says, blocker_token),
        (blocked, blocker, mine, blocker_says, blocked_token),
    )
    for reader, other, their_post, their_words, token in sides:
        for path in lists + own_pages:
            html = page(reader.b, path)
            assert f'id="post-{their_post}"' not in html, (path, reader is blocker)
            assert their_words not in html, (path, reader is blocker)
            assert f'href="/user/{other.id}"' not in html, (path, reader is blocker)
        # Someone else's post and the reader's own stay.
        assert f'id="post-{others}"' in page(reader.b, f"/hashtag?hashtag={tag}")
        page(reader.b, f"/post/{their_post}", status=404)
        for path in (hashtag_api, search_api, "/v2/posts/myLikes"):
            assert their_post not in api_ids(pair, token, path), path
        assert others in api_ids(pair, token, hashtag_api)

    # The blocker still finds the person's page, to unblock them; the blocked one gets a 404.
    theirs_page = page(blocker.b, f"/user/{blocked.id}")
    assert f'action="/user/{blocked.id}/unblock"' in theirs_page
    assert f'id="post-{theirs}"' not in theirs_page
    assert f'action="/user/{blocked.id}/follow"' not in theirs_page
    page(blocked.b, f"/user/{blocker.id}", status=404)

    # The blocked person can no longer follow, like, comment or reply, and is not told why.
    refusals = [
        (f"/user/{blocker.id}/follow", {}),
        (f"/post/{mine}/like", {}),
        (f"/comment/{mine}", {"content": "hello?"}),
        (f"/comment/reply/{blocker_comment}", {"content": "hello?"}),
    ]
    for path, data in refusals:
        answer = act(blocked.a, path, data, status=403)
        assert answer == {"code": 403, "message": BLOCKED_REFUSAL}, path
        assert "block" not in answer["message"].lower()
    form = blocked.a.post(f"/user/{blocker.id}/follow", allow_redirects=False)
    assert form.status_code == 403 and BLOCKED_REFUSAL in form.text
    # The blocker is reminded of the block.
    assert act(blocker.a, f"/user/{blocked.id}/follow", status=403)["message"] == BLOCKER_REFUSAL
    assert act(blocker.a, f"/post/{theirs}/like", status=403)["message"] == BLOCKER_REFUSAL

    # Unblocking shows the posts again on the very next page; the follows stay gone.
    act(blocker.a, f"/user/{blocked.id}/unblock")
    assert f'id="post-{theirs}"' in page(blocker.b, f"/hashtag?hashtag={tag}")
    assert f'id="post-{mine}"' in page(blocked.b, f"/hashtag?hashtag={tag}")
    assert f'id="post-{theirs}"' not in page(blocker.b, "/following")
    assert mine in api_ids(pair, blocked_token, hashtag_api)


def test_a_mute_hides_their_posts_and_comments_from_my_lists_only_until_it_ends(pair):
    muter, muted, third = pair.person(), pair.person(), pair.person()
    tag, word = unique("tag"), unique("word")
    act(muter.a, f"/user/{muted.id}/follow")
    theirs = write(muted, f"#{tag} {word} muted")
    mine = write(muter, f"#{tag} {word} mine")
    others = write(third, f"#{tag} {word} third")
    their_words = unique("mutedsays")
    comment(muted, others, their_words)
    lists = ["/", "/following", f"/hashtag?hashtag={tag}", f"/search?q={word}"]
    token = token_of(pair, muter)
    warm(muter.b, *lists, f"/user/{muted.id}")
    warm(muted.b, *lists, f"/user/{muter.id}")

    done = act(muter.a, f"/user/{muted.id}/mute", {"duration": "1h"})
    assert done["payload"]["muting"] is True and done["payload"]["until"]
    for path in lists:
        html = page(muter.b, path)
        assert f'id="post-{theirs}"' not in html, path
        assert their_words not in html, path
    assert f'id="post-{others}"' in page(muter.b, f"/hashtag?hashtag={tag}")
    assert theirs not in api_ids(pair, token, f"/v2/posts/hashtag/{tag}")
    assert theirs not in api_ids(pair, token, f"/v2/posts/search?q={word}")
    # Their own page still shows them, with a way to unmute; their post's page too.
    user_page = page(muter.b, f"/user/{muted.id}")
    assert f'id="post-{theirs}"' in user_page
    assert f'action="/user/{muted.id}/unmute"' in user_page
    assert f'id="post-{theirs}"' in page(muter.b, f"/post/{theirs}")
    # The muted person notices nothing: every page as before, the muter's posts there.
    for path in lists[:1] + lists[2:]:
        assert f'id="post-{mine}"' in page(muted.b, path), path
    muter_page = page(muted.b, f"/user/{muter.id}")
    assert "/unmute" not in muter_page and "Muted until" not in muter_page
    act(muted.a, f"/post/{mine}/like")  # acting on the muter is allowed

    # The hour runs out (moved into the past in the database): the posts are back. A page
    # drawn while the mute held may be kept for SNS_PAGE_CACHE_TTL, so fresh URLs are read.
    # The app keeps the mute's end with the muter and checks it against the clock; an edit
    # behind its back is seen once something of the muter's moves their reader version
    # (with Redis, a SQL shell's writes are not seen otherwise: docs/deploy.md).
    with pair.a.sql() as sql:
        sql.execute(
            update(mutes)
            .where(mutes.c.muter_id == muter.id)
            .values(until=utcnow() - timedelta(minutes=1))
        )
    act(muter.a, f"/user/{third.id}/follow")
    assert f'id="post-{theirs}"' in page(muter.b, f"/hashtag?hashtag={tag}&after=ended")
    assert their_words in page(muter.b, f"/search?q={word}&after=ended")
    assert f'action="/user/{muted.id}/mute"' in page(muter.b, f"/user/{muted.id}?after=ended")

    # Forever, then unmuted.
    act(muter.a, f"/user/{muted.id}/mute")
    assert f'id="post-{theirs}"' not in page(muter.b, f"/hashtag?hashtag={tag}")
    act(muter.a, f"/user/{muted.id}/unmute")
    assert f'id="post-{theirs}"' in page(muter.b, f"/hashtag?hashtag={tag}")


def test_muted_words_hide_posts_as_search_matches_them(pair):
    reader, writer = pair.person(), pair.person()
    tag = unique("tag")
    korean = write(writer, f"#{tag} 오늘 노드를 배웠다")
    wide = write(writer, f"#{tag} ＴＯＲＮＡＤＯ web server")
    hashtag = write(writer, f"#{tag} 좋은 하루 #주말")
    kept = write(writer, f"#{tag} nothing to hide")
    lists = [f"/hashtag?hashtag={tag}", "/", f"/search?q={tag}"]
    warm(reader.b, *lists)
    token = token_of(pair, reader)

    for word in ("노드", "tornado", "#주말"):
        assert (
            reader.a.post("/account/words/add", {"word": word}, allow_redirects=False).status_code
            == 302
        )
    reader.a.post("/account/words/add", {"word": "노드"}, allow_redirects=False)  # again
    settings = page(reader.a, "/account")
    assert settings.count('class="muted-word"') == 3
    for path in lists:
        html = page(reader.b, path)
        for hidden in (korean, wide, hashtag):
            assert f'id="post-{hidden}"' not in html, (path, hidden)
        assert f'id="post-{kept}"' in html, path
    assert api_ids(pair, token, f"/v2/posts/hashtag/{tag}") == {kept}
    # Someone else sees them all.
    assert all(f'id="post-{p}"' in page(writer.b, lists[0]) for p in (korean, wide, hashtag))

    # Full-width typed words fold too; removing a word brings its posts back.
    reader.a.post("/account/words/remove", {"word": "ＴＯＲＮＡＤＯ"}, allow_redirects=False)
    html = page(reader.b, lists[0])
    assert f'id="post-{wide}"' in html and f'id="post-{korean}"' not in html


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/user/{me}/block", {}, 400, "You cannot do that to yourself."),
        ("/user/{me}/mute", {}, 400, "You cannot do that to yourself."),
        ("/user/{other}/mute", {"duration": "2y"}, 400, "Mute for 1h, 1d, 7d or forever."),
        ("/user/999999999/block", {}, 404, "There is no such user."),
        ("/user/999999999/mute", {}, 404, "There is no such user."),
    ],
)
def test_bad_safety_actions_are_refused_with_a_message(pair, path, data, status, message):
    me, other = pair.person(), pair.person()
    answer = act(me.a, path.format(me=me.id, other=other.id), data, status=status)
    assert answer == {"code": status, "message": message}


def test_bad_muted_words_and_logged_out_actions_are_refused(pair):
    me, other = pair.person(), pair.person()
    refused = me.a.post("/account/words/add", {"word": "!!! ..."}, allow_redirects=False)
    assert refused.status_code == 400
    assert "Type a word with letters or numbers to mute." in refused.text
    assert act(me.a, "/account/words/add", {"word": "x" * 101}, status=400)["code"] == 400
    stranger = pair.browser()
    assert act(stranger.a, f"/user/{other.id}/block", status=401)["code"] == 401


def test_the_api_blocks_and_mutes_for_the_token_user(pair):
    me, other = pair.person(), pair.person()
    tag = unique("tag")
    theirs = write(other, f"#{tag} from the api test")
    token = token_of(pair, me)
    assert api_ids(pair, token, f"/v2/posts/hashtag/{tag}") == {theirs}

    blocked = api(pair.a.url, f"/v2/users/{other.id}/block", token, method="POST")
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["payload"] == {"userId": other.id, "blocking": True}
    assert api_ids(pair, token, f"/v2/posts/hashtag/{tag}") == set()
    page(other.b, f"/user/{me.id}", status=404)
    api(pair.a.url, f"/v2/users/{other.id}/unblock", token, method="POST")
    assert api_ids(pair, token, f"/v2/posts/hashtag/{tag}") == {theirs}

    muted = api(
        pair.a.url, f"/v2/users/{other.id}/mute", token, method="POST", json={"duration": "7d"}
    )
    assert muted.status_code == 200 and muted.json()["payload"]["until"]
    assert api_ids(pair, token, f"/v2/posts/hashtag/{tag}") == set()
    api(pair.a.url, f"/v2/users/{other.id}/unmute", token, method="POST")
    assert api_ids(pair, token, f"/v2/posts/hashtag/{quote(tag)}") == {theirs}

    mine = api(pair.a.url, f"/v2/users/{me.id}/block", token, method="POST")
    assert mine.status_code == 400 and mine.json()["code"] == 400
    nobody = api(pair.a.url, "/v2/users/999999999/mute", token, method="POST")
    assert nobody.status_code == 404


def test_the_post_menu_offers_block_and_mute_on_others_posts_only(pair):
    me, other = pair.person(), pair.person()
    tag = unique("tag")
    mine, theirs = write(me, f"#{tag} mine"), write(other, f"#{tag} theirs")
    html = page(me.b, f"/hashtag?hashtag={tag}")
    start = html.index(f'id="post-{theirs}"')
    their_article = html[start : html.index("</article>", start)]
    assert '<details class="post-menu">' in their_article
    assert f'action="/user/{other.id}/block"' in their_article
    assert f'action="/user/{other.id}/mute"' in their_article
    start = html.index(f'id="post-{mine}"')
    assert '<details class="post-menu">' not in html[start : html.index("</article>", start)]
    # With JavaScript off the form posts and comes back to the page.
    back = me.a.post(
        f"/user/{other.id}/mute",
        {"duration": "1d", "next": f"/hashtag?hashtag={tag}"},
        allow_redirects=False,
    )
    assert back.status_code == 302 and back.headers["Location"] == f"/hashtag?hashtag={tag}"
    assert f'id="post-{theirs}"' not in page(me.b, f"/hashtag?hashtag={tag}")
