"""Handles, mentions and notifications over HTTP, on both backends (SQLite with sessions
in SQL, MariaDB with sessions in Redis): what each person is told, grouped, taken back,
paged and read, and the header's count on every page (#20)."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest

from testkit.sns import PASSWORD, Client
from tests.api_support import register_site, token_for

JSON = {"Accept": "application/json"}
BADGE = re.compile(
    r'<a href="/notifications" id="notifications-link"[^>]*aria-label="([^"]*)"'
    r'[^>]*data-label-template="([^"]*)"[^>]*>.*?'
    r'<span id="unread-count"[^>]*data-count="(\d+)"([^>]*)>([^<]*)</span></a>',
    re.S,
)


def unique(prefix: str = "h") -> str:
    return prefix + uuid.uuid4().hex[:8]


def person(server, handle: str | None = None, nick: str | None = None) -> Client:
    """A fresh account; with ``handle``, that handle chosen at sign-up."""
    client = server.client()
    if handle is None:
        client.join(nick=nick or unique("n"))
        return client
    response = client.post(
        "/auth/join",
        {
            "email": f"{unique('u')}@example.com",
            "nick": nick or unique("n"),
            "password": "password 1234",
            "handle": handle,
        },
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return client


def new_post(client: Client, text: str | None = None) -> int:
    response = client.post("/post", {"content": text or unique("post ")}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def comment(client: Client, post_id: int, text: str = "nice") -> int:
    response = client.post(f"/comment/{post_id}", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


def reply(client: Client, comment_id: int, text: str = "thanks") -> dict:
    response = client.post(f"/comment/reply/{comment_id}", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]


def badge(client: Client, path: str = "/") -> tuple[int, str, str, bool, str]:
    """(count, aria-label, label template, hidden, text) of the header's badge on a page."""
    match = BADGE.search(client.get(path).text)
    assert match, path
    label, template, count, rest, text = match.groups()
    return int(count), label, template, "hidden" in rest, text


def unread(client: Client) -> int:
    return badge(client)[0]


def notifications(client: Client, path: str = "/notifications") -> list[tuple[str, str, bool]]:
    """(kind, sentence, unread) of each line of /notifications (which marks them read)."""
    html = client.get(path).text
    return [
        (kind, re.sub(r"\s+", " ", said).strip(), "unread" in classes)
        for classes, kind, said in re.findall(
            r'<li class="notification ([^"]*)" data-kind="(\w+)".*?'
            r'<a class="notification-link" href="[^"]*">(.*?)</a>',
            html,
            re.S,
        )
    ]


def handle_of(client: Client) -> str:
    html = client.get("/account").text
    return re.search(r'name="handle" required[^>]*value="([^"]*)"', html).group(1)


# --- handles ----------------------------------------------------------------------------


def test_a_sign_up_without_a_handle_gets_one_from_the_nick_and_a_number_when_taken(server):
    nick = unique("미나")
    first, second = person(server, nick=nick), person(server, nick=nick)
    assert handle_of(first) == nick
    assert handle_of(second) == nick + "2"
    page = second.get(f"/@{quote(nick + '2')}")
    assert page.status_code == 200
    assert f"@{nick}2</a>" in page.text


def test_a_handle_is_unique_without_regard_to_case_at_sign_up(server):
    handle = unique("Mina_")
    person(server, handle=handle)
    someone = server.client()
    email = f"{unique('u')}@example.com"
    response = someone.post(
        "/auth/join",
        {"email": email, "nick": "other", "password": "password 1234", "handle": handle.upper()},
    )
    assert response.status_code == 409
    assert "That handle is taken" in response.text
    assert f'value="{email}"' in response.text  # the form comes back filled in
    assert f'value="{handle.upper()}"' in response.text
    assert (
        someone.post(
            "/auth/join",
            {"email": email, "nick": "other", "password": "password 1234", "handle": "x"},
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("handle", "status", "message"),
    [
        ("m", 400, "A handle has at least 2 characters."),
        ("x" * 21, 400, "A handle has at most 20 characters."),
        ("mi na", 400, "A handle holds only letters, digits and _."),
        ("a@b.com", 400, "A handle holds only letters, digits and _."),
    ],
)
def test_changing_to_a_handle_that_cannot_be_used_is_refused_with_the_form_filled(
    server, handle, status, message
):
    someone = person(server)
    before = handle_of(someone)
    response = someone.post("/account/handle", {"handle": handle})
    assert response.status_code == status
    assert message in response.text
    assert f'value="{handle}"' in response.text
    assert handle_of(someone) == before


def test_a_new_handle_moves_the_page_and_a_taken_one_is_refused(server):
    mine, theirs = unique("Me_"), unique("them")
    someone, other = person(server), person(server, handle=theirs)
    response = someone.post("/account/handle", {"handle": mine}, allow_redirects=False)
    assert response.status_code == 302
    assert someone.get(f"/@{mine.lower()}").status_code == 200  # any case finds it
    assert someone.get(f"/@{mine.upper()}").status_code == 200
    refused = someone.post("/account/handle", {"handle": theirs.upper()})
    assert refused.status_code == 409
    assert "That handle is taken. Try another." in refused.text
    assert handle_of(someone) == mine
    # Changing only the case of one's own handle is fine.
    assert someone.post("/account/handle", {"handle": mine.upper()}).status_code == 200
    assert other.get(f"/@{unique('nobody')}").status_code == 404


def test_a_korean_handle_page_answers_url_encoded_and_shows_the_person(server):
    handle = unique("미나")
    someone = person(server, handle=handle, nick="미나 킴")
    post_id = new_post(someone, "안녕하세요 " + unique())
    page = someone.get("/@" + quote(handle))
    assert page.status_code == 200
    assert '<h1 class="user-name">미나 킴</h1>' in page.text
    assert f'data-post-id="{post_id}"' in page.text
    # The handle shows next to the nick on the post, linked to the page.
    assert f'<a class="handle" href="/@{quote(handle)}">@{handle}</a>' in page.text


# --- each kind of notification --------------------------------------------------------------


def test_follows_are_grouped_newest_first_and_an_unfollow_takes_its_part_back(server):
    star = person(server)
    star_id = star.user_id()
    fans = [person(server, nick=unique("fan")) for _ in range(3)]
    for fan in fans:
        assert fan.post(f"/user/{star_id}/follow", headers=JSON).status_code == 200
    assert unread(star) == 1  # one group
    newest = fans[-1].get("/account").text
    nick = re.search(r'name="nick" required maxlength="20" value="([^"]+)"', newest).group(1)
    [(kind, said, is_new)] = notifications(star)
    assert kind == "follow" and is_new
    assert said.startswith(nick) and said.endswith("and 2 others followed you")
    assert unread(star) == 0  # seeing the page read it
    fans[0].post(f"/user/{star_id}/unfollow", headers=JSON)
    [(_, said, _)] = notifications(star)
    assert said.endswith("and 1 other followed you")
    for fan in fans[1:]:
        fan.post(f"/user/{star_id}/unfollow", headers=JSON)
    assert notifications(star) == []
    # Following again after the group was read starts a new, unread one.
    fans[0].post(f"/user/{star_id}/follow", headers=JSON)
    assert unread(star) == 1


def test_likes_are_grouped_per_post_and_an_unlike_takes_the_notification_back(server):
    author, a, b = person(server), person(server), person(server)
    first, second = new_post(author), new_post(author)
    for liker in (a, b):
        liker.post(f"/post/{first}/like", headers=JSON)
    a.post(f"/post/{second}/like", headers=JSON)
    author.post(f"/post/{first}/like", headers=JSON)  # one's own like tells no one
    assert unread(author) == 2
    lines = notifications(author)
    assert [kind for kind, _, _ in lines] == ["like", "like"]
    assert lines[0][1].endswith("liked your post")  # the newest group first: second post
    assert lines[1][1].endswith("and 1 other liked your post")
    a.post(f"/post/{second}/unlike", headers=JSON)
    b.post(f"/post/{first}/unlike", headers=JSON)
    lines = notifications(author)
    assert len(lines) == 1 and lines[0][1].endswith(" liked your post")
    assert "other" not in lines[0][1]
    assert unread(author) == 0


def test_an_undone_like_before_it_was_read_lowers_the_count_again(server):
    author, liker = person(server), person(server)
    post_id = new_post(author)
    liker.post(f"/post/{post_id}/like", headers=JSON)
    assert unread(author) == 1
    liker.post(f"/post/{post_id}/unlike", headers=JSON)
    assert unread(author) == 0
    assert notifications(author) == []


def test_comments_and_replies_tell_the_one_answered_but_never_oneself(server):
    author, commenter, replier = person(server), person(server), person(server)
    post_id = new_post(author)
    comment_id = comment(commenter, post_id)
    comment(author, post_id, "my own comment")  # nothing for one's own actions
    first = reply(replier, comment_id)
    # A reply to a reply joins the one reply level and tells the one answered.
    second = reply(commenter, first["id"], "a reply to the reply")
    assert first["parent_id"] == comment_id and second["parent_id"] == comment_id
    assert [kind for kind, _, _ in notifications(author)] == ["comment"]
    assert [kind for kind, _, _ in notifications(commenter)] == ["reply"]
    assert [kind for kind, _, _ in notifications(replier)] == ["reply"]
    html = author.get("/notifications").text
    assert f'href="/post/{post_id}#comment-{comment_id}"' in html


def test_mentioning_oneself_or_answering_oneself_tells_no_one(server):
    handle = unique("me")
    me = person(server, handle=handle)
    post_id = new_post(me, f"note to @{handle}")
    comment_id = comment(me, post_id, f"@{handle} again")
    reply(me, comment_id, f"and @{handle.upper()}")
    me.post(f"/post/{post_id}/like", headers=JSON)
    assert unread(me) == 0
    assert notifications(me) == []


# --- mentions ---------------------------------------------------------------------------------


def test_a_mention_links_the_person_and_tells_them_once(server):
    handle = unique("mina")
    mina, writer = person(server, handle=handle), person(server)
    post_id = new_post(writer, f"@{handle}님 안녕! cc @{handle.upper()} a@{handle}.com")
    assert [kind for kind, _, _ in notifications(mina)] == ["mention"]
    page = writer.get(f"/post/{post_id}").text
    link = f'<a class="mention" href="/@{handle}">@{handle}</a>님'
    assert link in page
    assert f"a@{handle}.com" in page and 'a<a class="mention"' not in page


def test_only_real_handles_outside_words_and_addresses_notify(server):
    handle = unique("min")
    mina, writer = person(server, handle=handle), person(server)
    new_post(writer, f"x@{handle} {handle}@example.com @{handle}xyz @nobody{handle}")
    assert notifications(mina) == []
    page = writer.get("/").text
    assert 'class="mention"' not in page[page.index(f"@nobody{handle}") - 200 :][:400]


def test_a_mention_with_a_korean_particle_finds_the_longest_handle(server):
    short, long = unique("미나"), None
    long = short + "리"
    mina, minari, writer = person(server, handle=short), person(server, handle=long), person(server)
    new_post(writer, f"@{long}에게 전해 주세요")
    assert [kind for kind, _, _ in notifications(minari)] == ["mention"]
    assert notifications(mina) == []
    new_post(writer, f"@{short}님 고마워요")
    assert [kind for kind, _, _ in notifications(mina)] == ["mention"]


def test_mentions_in_comments_and_replies_notify_and_link_at_once(server):
    handle = unique("cc")
    named, author, commenter = person(server, handle=handle), person(server), person(server)
    post_id = new_post(author)
    response = commenter.post(
        f"/comment/{post_id}", {"content": f"@{handle}님 보세요"}, headers=JSON
    )
    pieces = response.json()["payload"]["pieces"]
    assert pieces == [
        {"text": f"@{handle}", "handle": handle},
        {"text": "님 보세요", "handle": None},
    ]
    reply(author, response.json()["payload"]["id"], f"@{handle} too")
    assert sorted(kind for kind, _, _ in notifications(named)) == ["mention", "mention"]
    html = author.get(f"/post/{post_id}").text
    assert html.count(f'<a class="mention" href="/@{handle}">@{handle}</a>') == 2


def test_editing_a_post_tells_new_names_and_takes_back_removed_ones(server):
    kept, dropped, added = unique("k"), unique("d"), unique("a")
    people = {h: person(server, handle=h) for h in (kept, dropped, added)}
    writer = person(server)
    post_id = new_post(writer, f"@{kept} @{dropped}")
    assert unread(people[kept]) == 1 and unread(people[dropped]) == 1
    notifications(people[kept])  # read
    response = writer.post(
        f"/post/{post_id}/update", {"content": f"@{kept} @{added}"}, allow_redirects=False
    )
    assert response.status_code == 302
    assert unread(people[dropped]) == 0 and notifications(people[dropped]) == []
    assert unread(people[added]) == 1
    assert [(kind, is_new) for kind, _, is_new in notifications(people[kept])] == [
        ("mention", False)  # kept: not told again
    ]


# --- deletion --------------------------------------------------------------------------------


def test_a_deleted_post_takes_its_notifications_with_it(server):
    handle = unique("del")
    author, named, other = person(server), person(server, handle=handle), person(server)
    post_id = new_post(author, f"hello @{handle}")
    comment_id = comment(other, post_id)
    reply(author, comment_id)
    other.post(f"/post/{post_id}/like", headers=JSON)
    assert unread(author) == 2 and unread(named) == 1 and unread(other) == 1
    assert author.post(f"/post/{post_id}/delete", headers=JSON).status_code == 200
    assert (unread(author), unread(named), unread(other)) == (0, 0, 0)
    assert notifications(author) == notifications(named) == notifications(other) == []


def test_a_deleted_account_takes_its_notifications_and_its_part_in_groups(server):
    author, leaving, staying = person(server), person(server), person(server)
    handle = handle_of(leaving)
    post_id = new_post(author)
    for liker in (staying, leaving):  # leaving is the newest liker: named first
        liker.post(f"/post/{post_id}/like", headers=JSON)
    comment(leaving, post_id)
    their_post = new_post(leaving)
    author.post(f"/post/{their_post}/like", headers=JSON)
    assert unread(author) == 2
    response = leaving.post("/account/delete", {"password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302, response.text
    lines = notifications(author)
    assert [kind for kind, _, _ in lines] == ["like"]
    assert "other" not in lines[0][1]
    # The handle is free again.
    assert author.get(f"/@{handle}").status_code == 404
    assert person(server, handle=handle) is not None


# --- the list, its pages and the header ---------------------------------------------------------


def test_the_list_pages_newest_first_and_seeing_it_reads_it(server):
    author, commenter = person(server), person(server)
    post_id = new_post(author)
    ids = [comment(commenter, post_id, f"c{number}") for number in range(23)]
    assert unread(author) == 23
    html = author.get("/notifications").text
    shown = [int(m) for m in re.findall(r"#comment-(\d+)", html)]
    assert shown == ids[::-1][:20]
    older = re.search(r'href="(/notifications\?before=\d+)"', html).group(1)
    assert unread(author) == 0
    rest = [int(m) for m in re.findall(r"#comment-(\d+)", author.get(older).text)]
    assert rest == ids[::-1][20:]
    assert "Older notifications" not in author.get(older).text
    assert author.get("/notifications?before=abc").status_code == 400


def test_the_header_shows_the_unread_count_with_a_label_in_the_readers_language(server):
    author, liker = person(server), person(server)
    post_id = new_post(author)
    assert badge(author) == (0, "Notifications: 0 unread", "Notifications: {n} unread", True, "")
    liker.post(f"/post/{post_id}/like", headers=JSON)
    for path in ("/", f"/post/{post_id}", "/profile", "/account", "/likes"):
        assert badge(author, path) == (
            1,
            "Notifications: 1 unread",
            "Notifications: {n} unread",
            False,
            "1",
        ), path
    author.post("/locale", {"locale": "ko_KR"})
    assert badge(author) == (
        1,
        "알림: 읽지 않은 알림 1개",
        "알림: 읽지 않은 알림 {n}개",
        False,
        "1",
    )
    assert 'id="notifications-link"' not in server.client().get("/").text  # logged out


def test_error_pages_show_the_unread_count_too(server):
    """Every page, a logged-in reader's 404 and 400 pages too, has the header's count."""
    author, liker = person(server), person(server)
    post_id = new_post(author)
    liker.post(f"/post/{post_id}/like", headers=JSON)
    for path in ("/post/999999999", f"/nowhere-{unique()}", "/notifications?before=abc"):
        page = author.get(path)
        assert page.status_code in (400, 404), path
        match = BADGE.search(page.text)
        assert match, path
        assert match.group(3) == "1" and match.group(1) == "Notifications: 1 unread", path
    # A fetch call's error stays the JSON one.
    assert author.get("/post/999999999", headers=JSON).json()["code"] == 404
    assert 'id="notifications-link"' not in server.client().get("/post/999999999").text


def test_notifications_need_a_login(server):
    response = server.client().get("/notifications", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- the API ------------------------------------------------------------------------------------


def test_the_api_lists_notifications_with_paging_and_marks_them_read(server):
    owner, fan = person(server), person(server)
    site = register_site(owner, f"{unique('n')}.example", "premium")
    token = token_for(server, site["clientSecret"])
    post_id = new_post(owner)
    fan.post(f"/user/{owner.user_id()}/follow", headers=JSON)
    for number in range(3):
        comment(fan, post_id, f"api {number}")
    auth = {"Authorization": token}
    first = owner.get("/v2/notifications?limit=3", headers=auth).json()
    assert first["unreadCount"] == 4
    assert [item["kind"] for item in first["payload"]] == ["comment"] * 3
    assert first["payload"][0]["actor"]["nick"] and first["payload"][0]["postId"] == post_id
    second = owner.get(f"/v2/notifications?limit=3&cursor={first['nextCursor']}", headers=auth)
    assert [item["kind"] for item in second.json()["payload"]] == ["follow"]
    assert second.json()["nextCursor"] is None
    bad = owner.get("/v2/notifications?cursor=x", headers=auth)
    assert bad.status_code == 400 and bad.json()["code"] == 400
    up_to = first["payload"][1]["cursor"]
    read = owner.http.post(
        server.url + "/v2/notifications/read", json={"upTo": up_to}, headers=auth
    )
    assert read.json()["payload"] == {"marked": 3, "unreadCount": 1}
    read = owner.http.post(server.url + "/v2/notifications/read", json={}, headers=auth)
    assert read.json()["payload"] == {"marked": 1, "unreadCount": 0}
    bad = owner.http.post(server.url + "/v2/notifications/read", json={"upTo": -1}, headers=auth)
    assert bad.status_code == 400
    assert owner.get("/v2/notifications").status_code == 401


def test_a_grouped_line_reads_in_korean_for_a_korean_reader(server):
    author = person(server)
    post_id = new_post(author)
    likers = [person(server, nick=unique("좋아")) for _ in range(4)]
    for liker in likers:
        liker.post(f"/post/{post_id}/like", headers=JSON)
    author.post("/locale", {"locale": "ko_KR"})
    [(kind, said, _)] = notifications(author)
    assert kind == "like"
    assert re.fullmatch(r"좋아\w+ \(@\w+\)님 외 3명이 내 게시글을 좋아합니다", said), said


# --- blocks and mutes (#21) -------------------------------------------------------------


def test_a_blocked_person_neither_follows_nor_mentions_the_blocker_into_a_notification(server):
    handle = unique("blk")
    blocker, blocked = person(server, handle=handle), person(server)
    blocked_id = blocked.user_id()
    assert blocker.post(f"/user/{blocked_id}/block", headers=JSON).status_code == 200
    new_post(blocked, f"@{handle} 안녕하세요")  # a mention across the block
    refused = blocked.post(f"/user/{blocker.user_id()}/follow", headers=JSON)
    assert refused.status_code == 403
    assert unread(blocker) == 0
    assert notifications(blocker) == []


def test_someone_muted_sends_no_notification_and_after_the_mute_they_do(server):
    handle = unique("mut")
    muter, muted = person(server, handle=handle), person(server)
    muted_id = muted.user_id()
    post_id = new_post(muter)
    assert muter.post(f"/user/{muted_id}/mute", headers=JSON).status_code == 200
    assert muted.post(f"/post/{post_id}/like", headers=JSON).status_code == 200
    comment(muted, post_id, f"@{handle} 좋아요")
    assert unread(muter) == 0
    assert muter.post(f"/user/{muted_id}/unmute", headers=JSON).status_code == 200
    comment(muted, post_id, "이제 보이나요")
    assert unread(muter) == 1
    assert [kind for kind, _, _ in notifications(muter)] == ["comment"]
