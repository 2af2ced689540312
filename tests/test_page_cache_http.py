"""Pages stay fresh across processes: two SNS processes, A and B, share one database (and one
Redis on the production backend); whatever is done on A shows on B's very next page.

Each test first reads the pages on B twice (so a page cache in B would hold them), then acts
on A, then reads the same URLs on B once: no sleep and no retry, since a retry would hide a
stale page. Other tests read one URL on B as several readers in turn, so a cache entry shared
between readers (hearts, follow buttons, edit links, the sidebar, the XSRF token, the
language) would show up in the wrong reader's page.

Backends: MariaDB + Redis sessions (separate data dirs, shared secrets, as docs/deploy.md
says) and the embedded default (two processes on one data dir: one SQLite file, SQL
sessions, one generated secrets file).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from testkit.sns import PASSWORD, XSRF_INPUT, Client, my_user_id
from tests.conftest import BACKENDS
from tests.pairs import Pair, Person, started_pair, unique

JSON = {"Accept": "application/json"}
FORM_TAG = re.compile(r"<form\b[^>]*>")
META_XSRF = re.compile(r'<meta name="xsrf-token" content="([^"]+)">')


@pytest.fixture(scope="module", params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Pair]:
    """A and B, started once per backend for the whole module; each answer says how many
    statements it ran (``X-SNS-Queries``), which tells a page kept from one drawn again."""
    yield from started_pair(request, tmp_path_factory, "cache", {"SNS_QUERY_COUNT_HEADER": "1"})


# --- reading pages --------------------------------------------------------------------------


def warm(client: Client, *paths: str) -> dict[str, str]:
    """Read each page twice on ``client``'s process, so a cache there holds it; return the
    second reading of each (what the cache would serve)."""
    pages = {}
    for path in paths:
        for _ in range(2):
            response = client.get(path, allow_redirects=False)
            assert response.status_code == 200, (path, response.status_code)
        pages[path] = response.text
    return pages


def page(client: Client, path: str, status: int = 200) -> str:
    """One fresh reading: no retry, so a stale page fails the test."""
    response = client.get(path, allow_redirects=False)
    assert response.status_code == status, (path, response.status_code, response.text[:300])
    return response.text


def shown(html: str, post_id: int) -> bool:
    return f'id="post-{post_id}"' in html


def article(html: str, post_id: int) -> str:
    """The HTML of one post's article: its text, heart, buttons, links and comments."""
    start = html.index(f'id="post-{post_id}"')
    return html[start : html.index("</article>", start)]


def comment_item(html: str, comment_id: int) -> str:
    """One comment's list item with its replies (up to its reply form or its end)."""
    start = html.index(f'id="comment-{comment_id}"')
    end = html.find('<details class="reply-box">', start)
    return html[start : end if end != -1 else html.index("</li>", start)]


def heart(block: str) -> tuple[str, str]:
    """The like button as the reader sees it: (aria-pressed, heart)."""
    pressed = re.search(r'class="like-button" aria-pressed="(\w+)"', block)
    glyph = re.search(r'<span class="heart" aria-hidden="true">(.)</span>', block)
    assert pressed and glyph, block
    return pressed.group(1), glyph.group(1)


def like_count(block: str) -> int:
    return int(re.search(r'<span class="like-count">(\d+)</span>', block).group(1))


def follow_button(html: str, user_id: int) -> tuple[str, str] | None:
    """The first follow form for ``user_id``: (its action, aria-pressed), or None."""
    found = re.search(
        rf'action="/user/{user_id}/(follow|unfollow)" data-ajax="follow".*?'
        r'class="[^"]*follow-button" aria-pressed="(\w+)"',
        html,
        re.S,
    )
    return (found.group(1), found.group(2)) if found else None


def greeting(html: str) -> str | None:
    found = re.search(r'<p class="greeting">([^<]*)</p>', html)
    return found.group(1) if found else None


def sidebar_counts(html: str) -> tuple[int, int]:
    """(following, followers) in the reader's own profile box."""
    followings = re.search(r'class="following-count">(\d+)<', html)
    followers = re.search(r'class="follower-count">(\d+)<', html)
    assert followings and followers, "no counts in the profile box"
    return int(followings.group(1)), int(followers.group(1))


def profile_follower_count(html: str) -> int:
    return int(re.search(r'class="profile-follower-count">(\d+)<', html).group(1))


def people(html: str, column: str) -> dict[int, str]:
    """A column of /profile ("followings" or "followers"): person id -> their button."""
    start = html.index(f'class="card people {column}"')
    section = html[start : html.index("</section>", start)]
    return {
        int(person_id): re.search(r'action="/user/\d+/(follow|unfollow)"', item).group(1)
        for person_id, item in re.findall(
            r'<li class="person" data-user-id="(\d+)">(.*?)</li>', section, re.S
        )
    }


def post_forms(html: str) -> set[str]:
    """The actions of the page's POST forms."""
    actions = set()
    for tag in FORM_TAG.findall(html):
        if 'method="post"' in tag:
            actions.add(re.search(r'action="([^"]*)"', tag).group(1))
    return actions


def logged_out(html: str) -> bool:
    """The page a logged-out visitor gets: the login box, no profile box, no logout."""
    return (
        'action="/auth/login"' in html
        and 'class="profile-box"' not in html
        and 'action="/auth/logout"' not in html
    )


def write(person: Person, content: str) -> int:
    response = person.a.post("/post", {"content": content}, headers=JSON)
    assert response.status_code == 201, response.text
    return int(response.json()["payload"]["id"])


def act(client: Client, path: str, data: dict | None = None, status: int = 200) -> dict:
    response = client.post(path, data, headers=JSON)
    assert response.status_code == status, (path, response.status_code, response.text[:300])
    return response.json()


# --- writes on A show on B at once --------------------------------------------------------


def test_a_new_post_shows_on_every_page_of_the_other_process(pair):
    author, follower, anonymous = pair.person(), pair.person(), pair.browser()
    act(follower.a, f"/user/{author.id}/follow")
    word, tag = unique("word"), unique("tag")
    anonymous_pages = ("/", f"/hashtag?hashtag={tag}", f"/user/{author.id}", f"/search?q={word}")
    before = warm(anonymous.b, *anonymous_pages)
    before |= {f"follower {path}": text for path, text in warm(follower.b, "/following").items()}
    warm(author.b, f"/user/{author.id}")
    assert "No posts with this hashtag yet." in before[f"/hashtag?hashtag={tag}"]
    assert "No posts hold all of these words." in before[f"/search?q={word}"]

    post_id = write(author, f"{word} #{tag}")

    for path in anonymous_pages:
        assert shown(page(anonymous.b, path), post_id), path
    assert shown(page(follower.b, "/following"), post_id)
    own = article(page(author.b, f"/user/{author.id}"), post_id)
    assert f'href="/post/{post_id}/edit"' in own


def test_an_edit_shows_on_the_other_process(pair):
    author, anonymous = pair.person(), pair.browser()
    old_tag, new_tag, new_word = unique("old"), unique("new"), unique("after")
    post_id = write(author, f"before editing #{old_tag}")
    paths = (
        f"/post/{post_id}",
        "/",
        f"/hashtag?hashtag={old_tag}",
        f"/hashtag?hashtag={new_tag}",
        f"/user/{author.id}",
        f"/search?q={new_word}",
    )
    before = warm(anonymous.b, *paths)
    assert "before editing" in article(before[f"/post/{post_id}"], post_id)
    assert not shown(before[f"/hashtag?hashtag={new_tag}"], post_id)

    response = author.a.post(
        f"/post/{post_id}/update", {"content": f"{new_word} #{new_tag}"}, allow_redirects=False
    )
    assert response.status_code == 302

    for path in (f"/post/{post_id}", "/", f"/user/{author.id}"):
        block = article(page(anonymous.b, path), post_id)
        assert new_word in block and "before editing" not in block, path
    assert not shown(page(anonymous.b, f"/hashtag?hashtag={old_tag}"), post_id)
    assert shown(page(anonymous.b, f"/hashtag?hashtag={new_tag}"), post_id)
    assert shown(page(anonymous.b, f"/search?q={new_word}"), post_id)


def test_a_deleted_post_leaves_every_page_of_the_other_process(pair):
    author, liker, anonymous = pair.person(), pair.person(), pair.browser()
    word, tag = unique("gone"), unique("tag")
    post_id = write(author, f"{word} #{tag}")
    act(liker.a, f"/post/{post_id}/like")
    paths = ("/", f"/hashtag?hashtag={tag}", f"/user/{author.id}", f"/search?q={word}")
    before = warm(anonymous.b, *paths, f"/post/{post_id}")
    before |= warm(liker.b, "/likes")
    assert all(shown(text, post_id) for text in before.values())

    response = author.a.post(f"/post/{post_id}/delete", allow_redirects=False)
    assert response.status_code == 302

    for path in paths:
        assert not shown(page(anonymous.b, path), post_id), path
    assert not shown(page(liker.b, "/likes"), post_id)
    page(anonymous.b, f"/post/{post_id}", status=404)


def test_a_like_shows_its_count_to_everyone_and_the_heart_to_the_liker_only(pair):
    author, liker, other, anonymous = (pair.person(), pair.person(), pair.person(), pair.browser())
    tag = unique("tag")
    post_id = write(author, f"likeable #{tag}")
    liker_paths = ("/", f"/post/{post_id}", f"/hashtag?hashtag={tag}", f"/user/{author.id}")
    before = warm(liker.b, *liker_paths, "/likes")
    warm(other.b, f"/post/{post_id}")
    warm(author.b, f"/post/{post_id}")
    warm(anonymous.b, f"/post/{post_id}")
    assert heart(article(before[f"/post/{post_id}"], post_id)) == ("false", "♡")
    assert not shown(before["/likes"], post_id)

    state = act(liker.a, f"/post/{post_id}/like")["payload"]
    assert state == {"post_id": post_id, "liked": True, "like_count": 1}

    for path in liker_paths:
        block = article(page(liker.b, path), post_id)
        assert heart(block) == ("true", "♥"), path
        assert like_count(block) == 1, path
    assert shown(page(liker.b, "/likes"), post_id)
    for reader in (other, author):
        block = article(page(reader.b, f"/post/{post_id}"), post_id)
        assert heart(block) == ("false", "♡")
        assert like_count(block) == 1
    assert like_count(article(page(anonymous.b, f"/post/{post_id}"), post_id)) == 1


def test_an_unlike_empties_the_heart_and_the_count_on_the_other_process(pair):
    author, liker, anonymous = pair.person(), pair.person(), pair.browser()
    tag = unique("tag")
    post_id = write(author, f"liked for a while #{tag}")
    act(liker.a, f"/post/{post_id}/like")
    before = warm(liker.b, f"/post/{post_id}", f"/hashtag?hashtag={tag}", "/likes")
    warm(anonymous.b, f"/post/{post_id}")
    assert heart(article(before[f"/post/{post_id}"], post_id)) == ("true", "♥")

    state = act(liker.a, f"/post/{post_id}/unlike")["payload"]
    assert state == {"post_id": post_id, "liked": False, "like_count": 0}

    for path in (f"/post/{post_id}", f"/hashtag?hashtag={tag}"):
        block = article(page(liker.b, path), post_id)
        assert heart(block) == ("false", "♡"), path
        assert like_count(block) == 0, path
    assert not shown(page(liker.b, "/likes"), post_id)
    assert like_count(article(page(anonymous.b, f"/post/{post_id}"), post_id)) == 0


def test_a_comment_shows_under_its_post_on_the_other_process(pair):
    author, commenter, anonymous = pair.person(), pair.person(), pair.browser()
    tag = unique("tag")
    post_id = write(author, f"comment on me #{tag}")
    paths = (f"/post/{post_id}", "/", f"/hashtag?hashtag={tag}", f"/user/{author.id}")
    warm(anonymous.b, *paths)
    warm(author.b, f"/post/{post_id}")
    text = unique("comment")

    comment = act(commenter.a, f"/comment/{post_id}", {"content": text}, status=201)["payload"]

    for path in paths:
        block = article(page(anonymous.b, path), post_id)
        assert f'id="comment-{comment["id"]}"' in block and text in block, path
    block = article(page(author.b, f"/post/{post_id}"), post_id)
    assert text in comment_item(block, comment["id"])


def test_a_reply_shows_in_its_thread_on_the_other_process(pair):
    author, commenter, anonymous = pair.person(), pair.person(), pair.browser()
    post_id = write(author, "a thread")
    comment = act(commenter.a, f"/comment/{post_id}", {"content": "first"}, status=201)
    comment_id = comment["payload"]["id"]
    warm(anonymous.b, f"/post/{post_id}", "/")
    warm(commenter.b, f"/post/{post_id}")
    text = unique("reply")

    reply = act(author.a, f"/comment/reply/{comment_id}", {"content": text}, status=201)
    assert reply["payload"]["parent_id"] == comment_id

    for reader, path in ((anonymous, f"/post/{post_id}"), (anonymous, "/")):
        thread = comment_item(article(page(reader.b, path), post_id), comment_id)
        assert f'id="comment-{reply["payload"]["id"]}"' in thread and text in thread, path
    thread = comment_item(article(page(commenter.b, f"/post/{post_id}"), post_id), comment_id)
    assert text in thread


def follow_pages(follower: Person, followed: Person, anonymous: Person) -> None:
    """Warm every page a follow changes, as each reader sees it."""
    warm(follower.b, f"/user/{followed.id}", "/profile", "/", "/following")
    warm(followed.b, "/profile", "/")
    warm(anonymous.b, f"/user/{followed.id}")


def test_a_write_elsewhere_leaves_a_readers_page_the_same_and_each_change_of_it_shows(pair):
    """A write that changes nothing on a reader's page leaves it the same (drawn again or
    kept: ``test_a_kept_page_outlives_the_writes_it_does_not_show_and_shows_each_it_does``
    tells which), and each write that does change it shows on the next page: a like count,
    a comment under one of its posts, the reader's own like, someone following them."""
    reader, writer, fan = pair.person(), pair.person(), pair.person()
    tag = unique("tag")
    post_id = write(writer, f"on the page #{tag}")
    path = f"/hashtag?hashtag={tag}"
    before = warm(reader.b, path)[path]

    write(writer, "somewhere else")
    act(fan.a, f"/post/{post_id}/like")  # the count moves: this one changes the page
    counted = page(reader.b, path)
    assert like_count(article(counted, post_id)) == 1
    write(writer, "elsewhere again")
    again = page(reader.b, path)
    assert without_tokens(again) == without_tokens(counted)
    assert again != before

    text = unique("comment")
    act(writer.a, f"/comment/{post_id}", {"content": text}, status=201)
    assert text in article(page(reader.b, path), post_id)
    act(reader.a, f"/post/{post_id}/like")
    assert heart(article(page(reader.b, path), post_id)) == ("true", "♥")
    assert sidebar_counts(page(reader.b, path)) == (0, 0)
    act(fan.a, f"/user/{reader.id}/follow")
    assert sidebar_counts(page(reader.b, path)) == (0, 1)


def read_with_count(client: Client, path: str) -> tuple[str, int]:
    """One fresh reading and the statements it ran."""
    response = client.get(path, allow_redirects=False)
    assert response.status_code == 200, (path, response.status_code)
    return response.text, int(response.headers["X-SNS-Queries"])


def without_tokens(html: str) -> str:
    """A page less its XSRF tokens (a page drawn again carries its token under a new mask)."""
    return re.sub(r'name="_xsrf" value="[^"]+"|name="xsrf-token" content="[^"]+"', "", html)


def test_a_kept_page_outlives_the_writes_it_does_not_show_and_shows_each_it_does(pair):
    """With Redis, a page lives until something it shows changes (``sns.changes``): a like,
    a comment and a post elsewhere leave a reader's /following, a hashtag page and a search
    kept (not one statement on the other process), while a post of someone followed, a
    comment under a post shown, an edit that adds the tag and the word and a new name each
    show on the next page. On the embedded default every write empties the pages, and the
    same pages are drawn."""
    reader, followed, stranger, anonymous = (
        pair.person(),
        pair.person(),
        pair.person(),
        pair.browser(),
    )
    tag, word = unique("tag"), unique("word")
    act(reader.a, f"/user/{followed.id}/follow")
    first = write(followed, f"followed #{tag} {word}")
    aside = write(stranger, "a stranger's post")
    paths = ("/following", f"/hashtag?hashtag={tag}", f"/search?q={word}")
    kept = warm(reader.b, *paths)
    kept_anonymous = warm(anonymous.b, f"/hashtag?hashtag={tag}")
    assert shown(kept["/following"], first) and not shown(kept["/following"], aside)

    act(stranger.a, f"/post/{aside}/like")
    act(stranger.a, f"/comment/{aside}", {"content": "beside the point"}, status=201)
    act(stranger.a, f"/user/{followed.id}/follow")  # their count, on no page read here
    for client, path, before in (
        *((reader.b, path, kept[path]) for path in paths),
        (anonymous.b, f"/hashtag?hashtag={tag}", kept_anonymous[f"/hashtag?hashtag={tag}"]),
    ):
        html, statements = read_with_count(client, path)
        assert without_tokens(html) == without_tokens(before), path
        if pair.backend == "mariadb":
            assert statements == 0, path  # served as kept: nothing read again

    write(stranger, "another post, tagged with nothing")
    for path in ("/following", f"/search?q={word}"):  # neither its author nor its words
        html, statements = read_with_count(reader.b, path)
        assert without_tokens(html) == without_tokens(kept[path]), path
        if pair.backend == "mariadb":
            assert statements == 0, path
    tagged, _ = read_with_count(reader.b, f"/hashtag?hashtag={tag}")
    assert without_tokens(tagged) == without_tokens(kept[f"/hashtag?hashtag={tag}"])

    second = write(followed, "and a second post")
    assert shown(page(reader.b, "/following"), second)
    said = unique("comment")
    act(stranger.a, f"/comment/{first}", {"content": said}, status=201)
    for path in paths:
        assert said in article(page(reader.b, path), first), path
    response = followed.a.post(
        f"/post/{second}/update", {"content": f"now tagged #{tag} {word}"}, allow_redirects=False
    )
    assert response.status_code == 302
    assert shown(page(reader.b, f"/hashtag?hashtag={tag}"), second)
    assert shown(page(reader.b, f"/search?q={word}"), second)
    assert shown(page(anonymous.b, f"/hashtag?hashtag={tag}"), second)
    assert "now tagged" in article(page(reader.b, "/following"), second)
    renamed = unique("renamed")
    assert (
        followed.a.post("/account/nick", {"nick": renamed}, allow_redirects=False).status_code
        == 302
    )
    for path in paths:
        assert renamed in article(page(reader.b, path), first), path


def test_a_follow_shows_in_buttons_counts_lists_and_timeline_on_the_other_process(pair):
    follower, followed, anonymous = pair.person(), pair.person(), pair.browser()
    post_id = write(followed, "worth following")
    follow_pages(follower, followed, anonymous)
    assert follow_button(page(follower.b, f"/user/{followed.id}"), followed.id) == (
        "follow",
        "false",
    )

    act(follower.a, f"/user/{followed.id}/follow")

    user_page = page(follower.b, f"/user/{followed.id}")
    assert follow_button(user_page, followed.id) == ("unfollow", "true")
    assert profile_follower_count(user_page) == 1
    assert profile_follower_count(page(anonymous.b, f"/user/{followed.id}")) == 1
    home = page(follower.b, "/")
    assert sidebar_counts(home) == (1, 0)
    assert follow_button(article(home, post_id), followed.id) == ("unfollow", "true")
    assert shown(page(follower.b, "/following"), post_id)
    assert people(page(follower.b, "/profile"), "followings") == {followed.id: "unfollow"}
    their_profile = page(followed.b, "/profile")
    assert people(their_profile, "followers") == {follower.id: "follow"}
    assert sidebar_counts(their_profile) == (0, 1)
    assert sidebar_counts(page(followed.b, "/")) == (0, 1)


def test_an_unfollow_shows_in_buttons_counts_lists_and_timeline_on_the_other_process(pair):
    follower, followed, anonymous = pair.person(), pair.person(), pair.browser()
    post_id = write(followed, "followed for a while")
    act(follower.a, f"/user/{followed.id}/follow")
    follow_pages(follower, followed, anonymous)
    assert shown(page(follower.b, "/following"), post_id)

    act(follower.a, f"/user/{followed.id}/unfollow")

    user_page = page(follower.b, f"/user/{followed.id}")
    assert follow_button(user_page, followed.id) == ("follow", "false")
    assert profile_follower_count(user_page) == 0
    assert profile_follower_count(page(anonymous.b, f"/user/{followed.id}")) == 0
    home = page(follower.b, "/")
    assert sidebar_counts(home) == (0, 0)
    assert follow_button(article(home, post_id), followed.id) == ("follow", "false")
    assert not shown(page(follower.b, "/following"), post_id)
    assert people(page(follower.b, "/profile"), "followings") == {}
    their_profile = page(followed.b, "/profile")
    assert people(their_profile, "followers") == {}
    assert sidebar_counts(their_profile) == (0, 0)


def test_a_new_nickname_shows_on_posts_comments_and_the_sidebar_of_the_other_process(pair):
    author, reader, anonymous = pair.person(), pair.person(), pair.browser()
    tag = unique("tag")
    post_id = write(author, f"who wrote this #{tag}")
    comment = act(author.a, f"/comment/{post_id}", {"content": "my own comment"}, status=201)
    comment_id = comment["payload"]["id"]
    paths = ("/", f"/post/{post_id}", f"/hashtag?hashtag={tag}", f"/user/{author.id}")
    warm(anonymous.b, *paths)
    warm(reader.b, f"/post/{post_id}")
    before = warm(author.b, "/", "/profile")
    assert greeting(before["/"]) == f"Hello, {author.nick}"
    new_nick = unique("renamed")
    author_link = f'<a class="author" href="/user/{author.id}">{new_nick}</a>'

    response = author.a.post("/account/nick", {"nick": new_nick}, allow_redirects=False)
    assert response.status_code == 302

    for path in paths:
        block = article(page(anonymous.b, path), post_id)
        assert block.count(author_link) == 2, path  # the post's author and the comment's
        # The old nick is gone; the handle made from it at sign-up stays (#20).
        assert f">{author.nick}<" not in block, path
        assert new_nick in comment_item(block, comment_id)
    assert f'<h1 class="user-name">{new_nick}</h1>' in page(anonymous.b, f"/user/{author.id}")
    assert author_link in article(page(reader.b, f"/post/{post_id}"), post_id)
    for path in ("/", "/profile"):
        assert greeting(page(author.b, path)) == f"Hello, {new_nick}", path


def test_a_password_change_ends_the_other_sessions_on_the_other_process_at_once(pair):
    phone = pair.person()
    laptop, tablet = pair.other_session(phone), pair.other_session(phone)
    for device in (laptop, tablet):
        pages = warm(device.b, "/", f"/user/{phone.id}", "/profile")
        assert greeting(pages["/"]) == f"Hello, {phone.nick}"
    warm(phone.b, "/")
    text = unique("refused")

    response = phone.a.post(
        "/account/password",
        {"current": PASSWORD, "new": "a new password 7"},
        allow_redirects=False,
    )
    assert response.status_code == 302

    for path in ("/", f"/user/{phone.id}"):
        assert logged_out(page(laptop.b, path)), path
    assert laptop.b.get("/profile", allow_redirects=False).status_code == 302
    refused = tablet.b.post("/post", {"content": text}, headers=JSON)
    assert refused.status_code == 401
    assert text not in page(pair.browser().a, "/")
    # The device that changed the password carries on, on either process.
    assert greeting(page(phone.b, "/")) == f"Hello, {phone.nick}"


def test_writes_on_the_reading_process_itself_show_there_at_once(pair):
    """SQLite's change counter (PRAGMA data_version) moves only for other connections'
    commits: a cache resting on it alone would miss the process's own writes."""
    author, reader, anonymous = pair.person(), pair.person(), pair.browser()
    tag = unique("tag")
    paths = ("/", f"/hashtag?hashtag={tag}", f"/user/{author.id}")
    warm(anonymous.b, *paths)
    warm(reader.b, f"/user/{author.id}", "/following")

    created = author.b.post("/post", {"content": f"written on B #{tag}"}, headers=JSON)
    assert created.status_code == 201
    post_id = created.json()["payload"]["id"]
    for path in paths:
        assert shown(page(anonymous.b, path), post_id), path

    warm(anonymous.b, f"/post/{post_id}")
    warm(reader.b, f"/post/{post_id}")
    act(reader.b, f"/post/{post_id}/like")
    act(reader.b, f"/comment/{post_id}", {"content": "a comment on B"}, status=201)
    act(reader.b, f"/user/{author.id}/follow")
    block = article(page(anonymous.b, f"/post/{post_id}"), post_id)
    assert like_count(block) == 1 and "a comment on B" in block
    assert heart(article(page(reader.b, f"/post/{post_id}"), post_id)) == ("true", "♥")
    assert follow_button(page(reader.b, f"/user/{author.id}"), author.id) == ("unfollow", "true")
    assert shown(page(reader.b, "/following"), post_id)


def test_logging_out_on_one_process_ends_the_session_on_the_other(pair):
    person = pair.person()
    copy = pair.browser()
    copy.http.cookies.update(person.http.cookies)  # the same session, as a stolen cookie
    warm(copy.b, "/", "/profile")

    assert person.a.logout().status_code == 302

    assert logged_out(page(copy.b, "/"))
    assert copy.b.post(f"/user/{pair.person().id}/follow", headers=JSON).status_code == 401


def test_a_deleted_account_vanishes_from_the_other_process_with_its_sessions(pair):
    leaving, friend, anonymous = pair.person(), pair.person(), pair.browser()
    laptop, tablet = pair.other_session(leaving), pair.other_session(leaving)
    word, tag = unique("leaving"), unique("tag")
    post_id = write(leaving, f"{word} #{tag}")
    friend_post = write(friend, f"liked by someone leaving #{tag}")
    act(leaving.a, f"/post/{friend_post}/like")
    act(leaving.a, f"/user/{friend.id}/follow")
    paths = ("/", f"/hashtag?hashtag={tag}", f"/search?q={word}")
    before = warm(anonymous.b, *paths, f"/post/{post_id}", f"/user/{leaving.id}")
    assert all(shown(before[path], post_id) for path in paths)
    friend_before = warm(friend.b, "/", f"/post/{friend_post}", "/profile")
    assert sidebar_counts(friend_before["/"]) == (0, 1)
    assert like_count(article(friend_before[f"/post/{friend_post}"], friend_post)) == 1
    for device in (laptop, tablet):
        assert greeting(warm(device.b, "/")["/"]) == f"Hello, {leaving.nick}"

    response = leaving.a.post(
        "/account/delete", {"password": leaving.password}, allow_redirects=False
    )
    assert response.status_code == 302

    for path in paths:
        assert not shown(page(anonymous.b, path), post_id), path
    page(anonymous.b, f"/post/{post_id}", status=404)
    page(anonymous.b, f"/user/{leaving.id}", status=404)
    assert sidebar_counts(page(friend.b, "/")) == (0, 0)
    assert people(page(friend.b, "/profile"), "followers") == {}
    assert like_count(article(page(friend.b, f"/post/{friend_post}"), friend_post)) == 0
    assert logged_out(page(laptop.b, "/"))
    assert tablet.b.post(f"/post/{friend_post}/like", headers=JSON).status_code == 401


# --- one process, several readers of the same URL -----------------------------------------


@dataclass
class Scene:
    """X liked P, follows Q and wrote R; Y did none of that. All three posts share a tag
    and a word, so every page below shows each of them."""

    x: Person
    y: Person
    anonymous: Person
    q: Person
    p: int
    q_post: int
    r: int
    paths: tuple[str, ...]


@pytest.fixture
def scene(pair) -> Scene:
    x, y, q, writer = (pair.person() for _ in range(4))
    word, tag = unique("scene"), unique("tag")
    p = write(writer, f"{word} P #{tag}")
    q_post = write(q, f"{word} by Q #{tag}")
    r = write(x, f"{word} R #{tag}")
    act(x.a, f"/post/{p}/like")
    act(x.a, f"/user/{q.id}/follow")
    paths = ("/", f"/hashtag?hashtag={tag}", f"/search?q={word}")
    return Scene(x, y, pair.browser(), q, p, q_post, r, paths)


def check_x(html: str, s: Scene, path: str) -> None:
    assert greeting(html) == f"Hello, {s.x.nick}", path
    assert sidebar_counts(html) == (1, 0), path
    p, q_post, r = (article(html, post) for post in (s.p, s.q_post, s.r))
    assert heart(p) == ("true", "♥") and like_count(p) == 1, path
    assert heart(q_post) == heart(r) == ("false", "♡"), path
    assert follow_button(q_post, s.q.id) == ("unfollow", "true"), path
    assert f'href="/post/{s.r}/edit"' in r and f'action="/post/{s.r}/delete"' in r, path
    assert follow_button(r, s.x.id) is None, path
    for other in (p, q_post):
        assert "edit-link" not in other and "delete-form" not in other, path


def check_y(html: str, s: Scene, path: str) -> None:
    assert greeting(html) == f"Hello, {s.y.nick}", path
    assert sidebar_counts(html) == (0, 0), path
    p, q_post, r = (article(html, post) for post in (s.p, s.q_post, s.r))
    assert heart(p) == heart(q_post) == heart(r) == ("false", "♡"), path
    assert like_count(p) == 1, path
    assert follow_button(q_post, s.q.id) == ("follow", "false"), path
    assert follow_button(r, s.x.id) == ("follow", "false"), path
    assert "edit-link" not in html and "delete-form" not in html, path  # Y wrote nothing


def check_anonymous(html: str, s: Scene, path: str) -> None:
    assert logged_out(html) and greeting(html) is None, path
    assert post_forms(html) == {"/auth/login", "/locale"}, path
    for post in (s.p, s.q_post, s.r):
        block = article(html, post)
        assert '<span class="like-static">' in block, path
    assert like_count(article(html, s.p)) == 1, path
    assert "edit-link" not in html and 'class="like-button"' not in html, path


def test_readers_of_one_url_each_see_their_own_hearts_buttons_links_and_sidebar(pair, scene):
    s = scene
    checks = ((s.x, check_x), (s.y, check_y), (s.anonymous, check_anonymous))
    for round_number in range(3):
        order = checks if round_number % 2 == 0 else checks[::-1]
        for path in s.paths:
            for reader, check in order:
                check(page(reader.b, path), s, f"{path} (round {round_number})")


def test_readers_of_a_post_page_and_a_user_page_each_see_their_own_buttons(pair, scene):
    s = scene
    for round_number in range(3):
        for reader in (s.x, s.y, s.anonymous) if round_number % 2 == 0 else (s.anonymous, s.y, s.x):
            post_page = page(reader.b, f"/post/{s.p}")
            user_page = page(reader.b, f"/user/{s.q.id}")
            block = article(post_page, s.p)
            if reader is s.x:
                assert heart(block) == ("true", "♥")
                assert follow_button(user_page, s.q.id) == ("unfollow", "true")
                assert greeting(user_page) == f"Hello, {s.x.nick}"
            elif reader is s.y:
                assert heart(block) == ("false", "♡")
                assert follow_button(user_page, s.q.id) == ("follow", "false")
                assert greeting(user_page) == f"Hello, {s.y.nick}"
            else:
                assert '<span class="like-static">' in block
                assert follow_button(user_page, s.q.id) is None
                assert post_forms(post_page) == post_forms(user_page) == {"/auth/login", "/locale"}
            assert "edit-link" not in block and "edit-link" not in user_page


def like_form_token(html: str, post_id: int) -> str:
    return XSRF_INPUT.search(article(html, post_id)).group(1)


def test_a_form_on_a_page_served_again_works_only_in_its_own_readers_session(pair, scene):
    s = scene
    path = f"/post/{s.q_post}"
    x_page, y_page = warm(s.x.b, path)[path], warm(s.y.b, path)[path]
    x_token, y_token = like_form_token(x_page, s.q_post), like_form_token(y_page, s.q_post)
    assert x_token != y_token

    for reader, token in ((s.x, y_token), (s.y, x_token)):
        crossed = reader.b.post(f"/post/{s.q_post}/like", {"_xsrf": token}, headers=JSON)
        assert crossed.status_code == 403

    liked = s.x.b.post(f"/post/{s.q_post}/like", {"_xsrf": x_token}, allow_redirects=False)
    assert liked.status_code == 302  # the form as a browser without JavaScript sends it
    liked = s.y.b.post(f"/post/{s.q_post}/like", {"_xsrf": y_token}, headers=JSON)
    assert liked.status_code == 200
    assert liked.json()["payload"]["like_count"] == 2  # both likes counted, no 403 refused

    # X's other device has a session of its own: the page it is served carries a token
    # for that session, not for the session of the device that read the page first.
    laptop = pair.other_session(s.x)
    token = like_form_token(warm(laptop.b, path)[path], s.q_post)
    unliked = laptop.b.post(f"/post/{s.q_post}/unlike", {"_xsrf": token}, headers=JSON)
    assert unliked.status_code == 200
    assert unliked.json()["payload"] == {"post_id": s.q_post, "liked": False, "like_count": 1}

    # Logged in, the token belongs to the session, not to an `_xsrf` cookie (#17): a browser
    # whose XSRF cookie is gone still sends the page's meta token (what sns.js sends in a
    # header) and is heard.
    laptop.http.cookies.set("_xsrf", None)
    answer = laptop.b.get(path)
    meta_token = META_XSRF.search(answer.text).group(1)
    liked = laptop.b.post(
        f"/post/{s.q_post}/like", {}, xsrf=False, headers={**JSON, "X-XSRFToken": meta_token}
    )
    assert liked.status_code == 200
    assert liked.json()["payload"]["like_count"] == 2


def test_the_same_page_follows_each_readers_language(pair, scene):
    s = scene
    english = warm(s.anonymous.b, "/")["/"]
    assert '<html lang="en">' in english and ">Timeline<" in english
    korean = s.anonymous.b.get("/", cookies={"locale": "ko_KR"}).text
    assert '<html lang="ko">' in korean and ">타임라인<" in korean and ">로그인<" in korean
    by_header = s.anonymous.b.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).text
    assert '<html lang="ko">' in by_header and ">타임라인<" in by_header
    assert '<html lang="en">' in page(s.anonymous.b, "/")

    hashtag = s.paths[1]
    assert greeting(warm(s.x.b, hashtag)[hashtag]) == f"Hello, {s.x.nick}"
    korean = s.x.b.get(hashtag, cookies={"locale": "ko_KR"}).text
    assert greeting(korean) == f"{s.x.nick}님, 안녕하세요"
    assert 'aria-label="좋아요 취소"' in article(korean, s.p)
    assert ">언팔로우</button>" in article(korean, s.q_post)
    assert greeting(page(s.x.b, hashtag)) == f"Hello, {s.x.nick}"


def test_a_kept_logged_in_page_of_the_embedded_default_reads_nothing(shared_server):
    """#22: on SQLite the session row, the user, the header's unread count and the page
    are all kept under the site version: while nothing is written, a logged-in reader's
    page costs no statement. (A notification is a commit: it moves the version, and the
    count is read again: ``test_the_unread_count_in_the_header_moves_on_the_other_process``.)"""
    server = shared_server("sqlite", SNS_QUERY_COUNT_HEADER="true")
    reader = Client(server.url)
    reader.join()
    first = reader.get("/")
    assert first.status_code == 200 and my_user_id(first.text) == reader.user_id()
    again = reader.get("/")
    assert my_user_id(again.text) == my_user_id(first.text)
    assert again.headers["X-SNS-Queries"] == "0"


# --- the header's unread count (#20) ------------------------------------------------------

UNREAD = re.compile(r'<span id="unread-count"[^>]*data-count="(\d+)"')


def unread_count(html: str) -> int:
    return int(UNREAD.search(html).group(1))


def test_the_unread_count_in_the_header_moves_on_the_other_process(pair):
    author, fan = pair.person(), pair.person()
    post_id = write(author, unique("liked "))
    pages = warm(author.b, "/", f"/post/{post_id}", f"/user/{author.id}")
    assert all(unread_count(html) == 0 for html in pages.values())

    act(fan.a, f"/post/{post_id}/like")
    act(fan.a, f"/user/{author.id}/follow")

    for path in pages:
        html = page(author.b, path)
        assert unread_count(html) == 2, path
        assert 'aria-label="Notifications: 2 unread"' in html, path
    assert unread_count(page(fan.b, "/")) == 0  # another reader's count is their own

    # Reading the list on A clears the count on B's pages.
    assert author.a.get("/notifications").status_code == 200
    for path in pages:
        assert unread_count(page(author.b, path)) == 0, path


# --- a reader's page kept compressed (#22) ----------------------------------------------


def test_a_readers_kept_page_goes_out_compressed_or_plain_and_its_forms_work(pair):
    """A logged-in reader's kept page is kept filled in and gzipped: a browser gets those
    bytes, a client that takes no gzip the same page inflated, and the forms of either
    work for that session (and only it: another device of the account has its own)."""
    reader = pair.person()
    author = pair.person()
    post_id = write(author, unique("zipped "))
    warm(reader.b, "/")
    url = reader.b.base_url + "/"
    zipped = reader.b.http.get(url, headers={"Accept-Encoding": "gzip"}, stream=True)
    body = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    plain = reader.b.http.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    assert gzip.decompress(body) == plain.content
    assert len(body) * 2 < len(plain.content)
    assert shown(plain.text, post_id) and "sns-xsrf-" not in plain.text
    token = XSRF_INPUT.search(plain.text).group(1)
    liked = reader.b.http.post(
        reader.b.base_url + f"/post/{post_id}/like",
        data={"_xsrf": token},
        headers=JSON,
        timeout=30,
    )
    assert liked.status_code == 200, liked.text[:300]
    device = pair.other_session(reader)
    theirs = page(device.b, "/")
    assert XSRF_INPUT.search(theirs).group(1) != token
    refused = device.b.http.post(
        device.b.base_url + f"/post/{post_id}/like", data={"_xsrf": token}, timeout=30
    )
    assert refused.status_code == 403


def test_a_kept_anonymous_page_goes_out_gzipped_with_each_visitors_own_token(pair):
    """The page everyone logged out shares is kept once with its parts compressed; each
    visitor gets it gzipped with their own token between them, or plain; and can log in
    with that token."""
    person = pair.person()
    write(person, unique("everyone "))
    url = pair.b.url + "/"
    first, second = requests.Session(), requests.Session()
    pages = []
    for visitor in (first, second, first):
        answer = visitor.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
        assert answer.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in answer.headers["Vary"]
        pages.append(gzip.decompress(answer.raw.read(decode_content=False)).decode())
    plain = first.get(url, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert "Content-Encoding" not in plain.headers
    without_tokens = [META_XSRF.sub("", XSRF_INPUT.sub("", html)) for html in (*pages, plain.text)]
    assert len(set(without_tokens)) == 1
    assert "sns-xsrf-" not in pages[0]
    tokens = [XSRF_INPUT.search(html).group(1) for html in pages]
    assert len(set(tokens)) == 3  # masked anew for every answer

    def log_in(visitor: requests.Session, token: str) -> int:
        form = {"email": person.email, "password": person.password, "_xsrf": token}
        answer = visitor.post(
            pair.b.url + "/auth/login", data=form, allow_redirects=False, timeout=30
        )
        return answer.status_code

    assert log_in(second, tokens[0]) == 403  # the first visitor's token is not the second's
    assert log_in(second, tokens[1]) == 302
