"""Follows, likes, comments and replies, editing and deleting, over HTTP on both backends."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.sns import Client

JSON = {"Accept": "application/json"}


def new_post(client: Client, text: str | None = None) -> tuple[int, str]:
    """Write a post and return its id and its (unique) text."""
    text = text or f"post {uuid.uuid4().hex[:10]}"
    response = client.post("/post", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"], text


def post_block(html: str, post_id: int) -> str:
    start = html.index(f'id="post-{post_id}"')
    end = html.find("<article", start)
    return html[start : end if end != -1 else len(html)]


@pytest.fixture
def alice(server) -> Client:
    client = server.client()
    client.join(nick="alice")
    return client


@pytest.fixture
def bob(server) -> Client:
    client = server.client()
    client.join(nick="bob")
    return client


# --- follows ---------------------------------------------------------------------------


def test_following_someone_shows_in_both_profile_boxes_and_lists(alice, bob):
    bob_id = bob.user_id()
    response = alice.post(f"/user/{bob_id}/follow", headers=JSON)
    assert response.status_code == 200
    assert response.json()["payload"]["following"] is True
    assert response.json()["payload"]["my_counts"] == {"followings": 1, "followers": 0}
    assert 'class="following-count">1<' in alice.get("/").text
    assert 'class="follower-count">1<' in bob.get("/").text
    profile = alice.get("/profile").text
    followings = profile[profile.index('class="card people followings"') :]
    followings = followings[: followings.index("</section>")]
    assert "bob" in followings
    assert f'action="/user/{bob_id}/unfollow"' in followings


def test_following_twice_is_a_no_op_and_unfollow_twice_too(alice, bob):
    bob_id = bob.user_id()
    for _ in range(2):
        assert alice.post(f"/user/{bob_id}/follow", headers=JSON).status_code == 200
    assert 'class="follower-count">1<' in bob.get("/").text
    for _ in range(2):
        assert alice.post(f"/user/{bob_id}/unfollow", headers=JSON).status_code == 200
    assert 'class="follower-count">0<' in bob.get("/").text


def test_you_cannot_follow_yourself_and_unknown_users_are_404(alice):
    me = alice.user_id()
    response = alice.post(f"/user/{me}/follow", headers=JSON)
    assert response.status_code == 400
    assert response.json()["message"] == "You cannot follow yourself."
    assert alice.post("/user/999999999/follow", headers=JSON).status_code == 404
    assert alice.post("/user/999999999/follow").status_code == 404
    assert alice.get("/user/999999999").status_code == 404


def test_follow_without_javascript_redirects_back(alice, bob):
    bob_id = bob.user_id()
    response = alice.post(
        f"/user/{bob_id}/follow", {"next": f"/user/{bob_id}"}, allow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/user/{bob_id}"


def test_each_button_on_the_profile_page_acts_on_its_own_person(server, alice):
    """NodeBird's profile buttons all acted on the first person in the list."""
    people = []
    for nick in ("first", "second", "third"):
        other = server.client()
        other.join(nick=nick)
        other_id = other.user_id()
        other.post(f"/user/{alice.user_id()}/follow")
        people.append(other_id)
    alice.post(f"/user/{people[1]}/follow")
    profile = alice.get("/profile").text
    followers = profile[profile.index('class="card people followers"') :]
    for person_id in people:
        item = re.search(
            rf'<li class="person" data-user-id="{person_id}">(.*?)</li>', followers, re.S
        ).group(1)
        action = "unfollow" if person_id == people[1] else "follow"
        assert f'action="/user/{person_id}/{action}"' in item
    # Clicking the third person's button follows the third person, nobody else.
    alice.post(f"/user/{people[2]}/follow")
    after = alice.get("/profile").text
    followings = after[after.index('class="card people followings"') :]
    followings = followings[: followings.index("</section>")]
    assert f'data-user-id="{people[2]}"' in followings
    assert f'data-user-id="{people[1]}"' in followings
    assert f'data-user-id="{people[0]}"' not in followings


def test_a_user_page_shows_their_posts_counts_and_follow_button(alice, bob):
    bob_id = bob.user_id()
    _, bob_text = new_post(bob)
    _, alice_text = new_post(alice)
    page = alice.get(f"/user/{bob_id}").text
    assert bob_text in page and alice_text not in page
    assert '<h1 class="user-name">bob</h1>' in page
    assert f'action="/user/{bob_id}/follow"' in page
    own = bob.get(f"/user/{bob_id}").text
    assert f'action="/user/{bob_id}/follow"' not in own


def test_the_following_timeline_shows_followed_people_and_me_only(server, alice, bob):
    carol = server.client()
    carol.join(nick="carol")
    alice.post(f"/user/{bob.user_id()}/follow")
    _, bob_text = new_post(bob)
    _, carol_text = new_post(carol)
    _, alice_text = new_post(alice)
    page = alice.get("/following").text
    assert bob_text in page and alice_text in page and carol_text not in page


def test_the_following_timeline_needs_a_login(server):
    response = server.client().get("/following", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Ffollowing"


# --- likes -----------------------------------------------------------------------------


def test_like_and_unlike_are_idempotent_and_show_a_filled_heart(alice, bob):
    post_id, text = new_post(bob, f"#좋아요{uuid.uuid4().hex[:6]} likeable")
    for _ in range(2):
        state = alice.post(f"/post/{post_id}/like", headers=JSON).json()["payload"]
        assert state == {"post_id": post_id, "liked": True, "like_count": 1}
    tag = re.search(r"#(\S+)", text).group(1)
    for path in ("/", f"/user/{bob.user_id()}", "/likes", f"/hashtag?hashtag={tag}"):
        block = post_block(alice.get(path).text, post_id)
        assert 'aria-pressed="true"' in block, path
        assert '<span class="like-count">1</span>' in block, path
    assert 'aria-pressed="false"' in post_block(bob.get("/").text, post_id)
    for _ in range(2):
        state = alice.post(f"/post/{post_id}/unlike", headers=JSON).json()["payload"]
        assert state == {"post_id": post_id, "liked": False, "like_count": 0}
    assert f'data-post-id="{post_id}"' not in alice.get("/likes").text


def test_like_counts_stay_exact_when_many_people_click_at_once(server, bob):
    post_id, _ = new_post(bob)
    clients = []
    for _ in range(12):
        client = server.client()
        client.join()
        clients.append(client)

    def click(client: Client, action: str) -> int:
        return client.post(f"/post/{post_id}/{action}", headers=JSON).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        # Everyone likes twice at once, then half of them unlike twice at once.
        statuses = list(pool.map(lambda c: click(c, "like"), clients * 2))
        assert statuses == [200] * 24
        statuses = list(pool.map(lambda c: click(c, "unlike"), clients[:6] * 2))
        assert statuses == [200] * 12
    block = post_block(bob.get("/").text, post_id)
    assert '<span class="like-count">6</span>' in block


def test_liking_a_missing_post_is_404_and_likes_need_a_login(server, alice):
    assert alice.post("/post/999999999/like", headers=JSON).status_code == 404
    anonymous = server.client()
    response = anonymous.post("/post/1/like", headers=JSON)
    assert response.status_code == 401


def test_my_likes_lists_only_what_i_liked(alice, bob):
    liked_id, liked_text = new_post(bob)
    _, other_text = new_post(bob)
    alice.post(f"/post/{liked_id}/like")
    page = alice.get("/likes").text
    assert liked_text in page and other_text not in page


# --- comments and replies --------------------------------------------------------------


def test_comments_and_replies_show_oldest_first_under_their_post(alice, bob):
    post_id, _ = new_post(bob)
    first = alice.post(f"/comment/{post_id}", {"content": "first comment"}, headers=JSON)
    assert first.status_code == 201
    comment = first.json()["payload"]
    assert comment["author_nick"] == "alice" and comment["parent_id"] is None
    alice.post(f"/comment/{post_id}", {"content": "second comment"}, headers=JSON)
    reply = bob.post(f"/comment/reply/{comment['id']}", {"content": "a reply"}, headers=JSON)
    assert reply.status_code == 201
    assert reply.json()["payload"]["parent_id"] == comment["id"]
    # A reply to a reply joins the same thread: replies are one level deep.
    nested = alice.post(
        f"/comment/reply/{reply.json()['payload']['id']}",
        {"content": "reply to reply"},
        headers=JSON,
    )
    assert nested.json()["payload"]["parent_id"] == comment["id"]
    block = post_block(bob.get("/").text, post_id)
    assert (
        block.index("first comment")
        < block.index("a reply")
        < block.index("reply to reply")
        < block.index("second comment")
    )
    thread = block[block.index(f'id="comment-{comment["id"]}"') :]
    thread = thread[: thread.index("</ol>")]
    assert "a reply" in thread and "reply to reply" in thread


def test_a_comment_author_is_the_session_user_whatever_the_form_says(server, alice, bob):
    post_id, _ = new_post(bob)
    bob_id = str(bob.user_id())
    response = alice.post(
        f"/comment/{post_id}",
        {"content": "who am i", "user_id": bob_id, "UserId": bob_id, "nick": "bob"},
        headers=JSON,
    )
    comment = response.json()["payload"]
    alice_id = alice.user_id()
    assert (comment["author_id"], comment["author_nick"]) == (alice_id, "alice")
    shown = re.search(
        rf'id="comment-{comment["id"]}".*?<a class="author" href="/user/(\d+)">([^<]*)</a>',
        bob.get("/").text,
        re.S,
    )
    assert (int(shown.group(1)), shown.group(2)) == (alice_id, "alice")


def test_comments_on_missing_things_are_a_clear_404(alice):
    response = alice.post("/comment/999999999", {"content": "hello"}, headers=JSON)
    assert response.status_code == 404
    assert response.json()["message"] == "There is no such post."
    response = alice.post("/comment/reply/999999999", {"content": "hello"}, headers=JSON)
    assert response.status_code == 404
    assert response.json()["message"] == "There is no such comment."
    page = alice.post("/comment/999999999", {"content": "hello"})
    assert page.status_code == 404 and "There is no such post." in page.text


@pytest.mark.parametrize(
    ("content", "message"), [("", "Write something first."), ("x" * 141, "at most 140")]
)
def test_bad_comments_are_refused(alice, bob, content, message):
    post_id, _ = new_post(bob)
    response = alice.post(f"/comment/{post_id}", {"content": content}, headers=JSON)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_comments_need_a_login(server, bob):
    post_id, _ = new_post(bob)
    response = server.client().post(f"/comment/{post_id}", {"content": "anon"}, headers=JSON)
    assert response.status_code == 401


# --- editing and deleting --------------------------------------------------------------


def test_the_author_edits_a_post_and_its_hashtags_are_replaced(alice):
    old_tag, new_tag = f"old{uuid.uuid4().hex[:6]}", f"new{uuid.uuid4().hex[:6]}"
    post_id, _ = new_post(alice, f"before #{old_tag}")
    form = alice.get(f"/post/{post_id}/edit")
    assert form.status_code == 200 and f"before #{old_tag}" in form.text
    response = alice.post(
        f"/post/{post_id}/update", {"content": f"after #{new_tag}"}, allow_redirects=False
    )
    assert response.status_code == 302
    assert f'data-post-id="{post_id}"' not in alice.get(f"/hashtag?hashtag={old_tag}").text
    assert f'data-post-id="{post_id}"' in alice.get(f"/hashtag?hashtag={new_tag}").text


def test_a_bad_edit_keeps_the_typed_text_and_changes_nothing(alice):
    post_id, text = new_post(alice)
    response = alice.post(f"/post/{post_id}/update", {"content": "y" * 141})
    assert response.status_code == 400
    assert "y" * 141 in response.text
    assert text in post_block(alice.get("/").text, post_id)


def test_someone_else_cannot_edit_or_delete_a_post(alice, bob):
    post_id, text = new_post(bob)
    assert alice.get(f"/post/{post_id}/edit").status_code == 403
    assert alice.post(f"/post/{post_id}/update", {"content": "hacked"}).status_code == 403
    assert alice.post(f"/post/{post_id}/delete").status_code == 403
    response = alice.post(f"/post/{post_id}/delete", headers=JSON)
    assert response.json() == {"code": 403, "message": "Only the author can change this post."}
    block = post_block(bob.get("/").text, post_id)
    assert text in block and "hacked" not in block
    assert "/edit" not in post_block(alice.get("/").text, post_id)
    assert f"/post/{post_id}/edit" in post_block(bob.get("/").text, post_id)


def test_deleting_a_post_removes_its_comments_likes_and_hashtag_links(alice, bob):
    tag = f"gone{uuid.uuid4().hex[:6]}"
    post_id, _ = new_post(bob, f"short-lived #{tag}")
    comment = alice.post(f"/comment/{post_id}", {"content": "c"}, headers=JSON).json()["payload"]
    bob.post(f"/comment/reply/{comment['id']}", {"content": "r"}, headers=JSON)
    alice.post(f"/post/{post_id}/like")
    response = bob.post(f"/post/{post_id}/delete", allow_redirects=False)
    assert response.status_code == 302
    assert f'data-post-id="{post_id}"' not in bob.get("/").text
    assert f'data-post-id="{post_id}"' not in alice.get("/likes").text
    assert "No posts with this hashtag yet." in alice.get(f"/hashtag?hashtag={tag}").text
    assert (
        alice.post(f"/comment/reply/{comment['id']}", {"content": "late"}, headers=JSON).status_code
        == 404
    )
    assert bob.post(f"/post/{post_id}/delete", headers=JSON).status_code == 404


def test_editing_a_missing_post_is_404(alice):
    assert alice.get("/post/999999999/edit").status_code == 404


# --- account settings ------------------------------------------------------------------


def test_changing_the_nickname_shows_everywhere(alice):
    post_id, _ = new_post(alice)
    response = alice.post("/account/nick", {"nick": "앨리스"}, allow_redirects=False)
    assert response.status_code == 302
    page = alice.get("/").text
    assert '<p class="greeting">Hello, 앨리스</p>' in page
    korean = alice.get("/", headers={"Accept-Language": "ko-KR"}).text
    assert '<p class="greeting">앨리스님, 안녕하세요</p>' in korean
    alice_id = alice.user_id()
    assert f'<a class="author" href="/user/{alice_id}">앨리스</a>' in post_block(page, post_id)
    assert '<h1 class="user-name">앨리스</h1>' in alice.get(f"/user/{alice_id}").text
    assert "Saved." in alice.get("/account?done=nick").text
    bad = alice.post("/account/nick", {"nick": ""})
    assert bad.status_code == 400 and "Enter a nickname." in bad.text


@pytest.mark.parametrize(
    ("nick", "message"),
    [
        ("\u200b", "at least one visible character"),
        ("\u3164\u3164", "at least one visible character"),
        ("\u2800", "at least one visible character"),
        ("\u0301\ufe0f", "at least one visible character"),
        ("bob\u202e", "text-direction controls"),
        ("\u2066bob\u2069", "text-direction controls"),
        ("bob\rby", "cannot contain line breaks"),
        ("bob\u2029by", "cannot contain line breaks"),
        ("bob\x85by", "cannot contain line breaks"),
    ],
)
def test_an_invisible_reordering_or_multi_line_nickname_is_refused(alice, nick, message):
    bad = alice.post("/account/nick", {"nick": nick})
    assert bad.status_code == 400
    assert message in bad.text
    assert '">alice</a>' in alice.get("/").text


def test_changing_the_password_needs_the_current_one(server):
    client = server.client()
    who = client.join()
    wrong = client.post("/account/password", {"current": "not it at all", "new": "brand new 1"})
    assert wrong.status_code == 401
    assert "The current password is not right." in wrong.text
    short = client.post("/account/password", {"current": who["password"], "new": "short"})
    assert short.status_code == 400
    ok = client.post(
        "/account/password",
        {"current": who["password"], "new": "brand new 1"},
        allow_redirects=False,
    )
    assert ok.status_code == 302
    assert server.client().login(who["email"], who["password"]).status_code == 401
    assert server.client().login(who["email"], "brand new 1").status_code == 302


def test_deleting_my_account_logs_me_out_hides_my_posts_and_frees_my_email(server, bob):
    client = server.client()
    who = client.join(nick="leaving")
    post_id, text = new_post(client)
    client.post(f"/post/{post_id}/like")
    bob.post(f"/user/{client.user_id()}/follow")
    refused = client.post("/account/delete", {"password": "wrong password"})
    assert refused.status_code == 401
    response = client.post("/account/delete", {"password": who["password"]}, allow_redirects=False)
    assert response.status_code == 302
    assert 'action="/auth/logout"' not in client.get("/").text
    assert text not in bob.get("/").text
    assert 'class="following-count">0<' in bob.get("/").text
    assert server.client().login(who["email"], who["password"]).status_code == 401
    again = server.client()
    again.join(email=who["email"], nick="back again")
    assert "back again" in again.get("/").text


def test_changing_the_password_logs_out_other_devices_but_not_this_one(server):
    phone = server.client()
    who = phone.join(nick="two devices")
    laptop = server.client()
    assert laptop.login(who["email"]).status_code == 302
    assert 'action="/auth/logout"' in laptop.get("/").text
    changed = phone.post(
        "/account/password",
        {"current": who["password"], "new": "fresh pass 22"},
        allow_redirects=False,
    )
    assert changed.status_code == 302
    assert 'action="/auth/logout"' in phone.get("/").text
    assert 'action="/auth/logout"' not in laptop.get("/").text
