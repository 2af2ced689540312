"""/profile pages through followings and followers, 50 a page, each list on its own cursor."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select

from sns.db import utcnow
from sns.schema import follows, users

FOLLOWINGS = 57
FOLLOWERS = 103


def section(html: str, css: str) -> str:
    start = html.index(f'class="card people {css}"')
    return html[start : html.index("</section>", start)]


def listed(html: str, css: str) -> list[int]:
    return [int(n) for n in re.findall(r'class="person" data-user-id="(\d+)"', section(html, css))]


def more_link(html: str, css: str) -> str | None:
    found = re.search(r'class="more-people" rel="next" href="([^"]+)"', section(html, css))
    return found.group(1).replace("&amp;", "&") if found else None


def walk(client, css: str, start: str = "/profile") -> tuple[list[int], list[str]]:
    """Follow one list's "More" links to its end; the people seen and the links taken."""
    seen: list[int] = []
    links = [start]
    while True:
        page = client.get(links[-1])
        assert page.status_code == 200, links[-1]
        seen += listed(page.text, css)
        link = more_link(page.text, css)
        if link is None:
            return seen, links
        links.append(link)


def test_profile_lists_page_through_followings_and_followers(server):
    me = server.client()
    me.join(nick="pager")
    my_id = me.user_id()
    now = utcnow()
    with server.sql() as sql:
        sql.execute(
            insert(users),
            [
                {"nick": f"p{n}", "provider": "local", "created_at": now}
                for n in range(FOLLOWINGS + FOLLOWERS)
            ],
        )
        others = sql.execute(select(users.c.id).where(users.c.id > my_id)).scalars().all()
        others = sorted(others)[-(FOLLOWINGS + FOLLOWERS) :]
        followed, followers = others[:FOLLOWINGS], others[FOLLOWINGS:]
        rows = [{"follower_id": my_id, "following_id": u, "created_at": now} for u in followed]
        rows += [{"follower_id": u, "following_id": my_id, "created_at": now} for u in followers]
        # I follow back the three newest followers: their buttons say so.
        back = followers[-3:]
        rows += [{"follower_id": my_id, "following_id": u, "created_at": now} for u in back]
        sql.execute(insert(follows), rows)

    first = me.get("/profile").text
    assert f'<span class="muted">{FOLLOWINGS + 3}</span>' in section(first, "followings")
    assert f'<span class="muted">{FOLLOWERS}</span>' in section(first, "followers")
    assert len(listed(first, "followings")) == 50
    assert len(listed(first, "followers")) == 50

    seen, links = walk(me, "followings")
    assert seen == sorted(followed + back, reverse=True)
    assert len(links) == 2  # 60 people: 50, then 10
    seen, links = walk(me, "followers")
    assert seen == sorted(followers, reverse=True)
    assert len(links) == 3

    # Paging one list keeps the other where it was.
    everyone_i_follow = sorted(followed + back, reverse=True)
    followings_next = more_link(first, "followings")
    assert followings_next == f"/profile?followings_before={everyone_i_follow[49]}"
    second = me.get(followings_next).text
    assert listed(second, "followings") == everyone_i_follow[50:]
    assert listed(second, "followers") == listed(first, "followers")
    followers_next = more_link(second, "followers")
    assert followers_next is not None and "followings_before=" in followers_next
    third = me.get(followers_next).text
    assert listed(third, "followings") == everyone_i_follow[50:]
    assert listed(third, "followers") == sorted(followers, reverse=True)[50:100]

    # The buttons: everyone I follow says Unfollow; a follower I do not follow says Follow.
    page = section(first, "followers")
    for user_id in back:
        assert f'action="/user/{user_id}/unfollow"' in page
    assert f'action="/user/{followers[-4]}/follow"' in page


@pytest.mark.parametrize(
    "query",
    [
        "followings_before=abc",
        "followers_before=-1",
        "followings_before=0",
        "followers_before=1.5",
        "followings_before=99999999999999999999999",
    ],
)
def test_a_bad_profile_cursor_is_a_400(client, query):
    client.join()
    response = client.get(f"/profile?{query}")
    assert response.status_code == 400
