"""``NotificationService`` on its own, on both databases: the unread hook the live updates
hang on, concurrent first likes making one group, comments deleted on their own, and the
handle a Kakao sign-up gets."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sns.accounts import AccountService
from sns.comments import CommentService
from sns.db import Database
from sns.follows import FollowService
from sns.kakao import KakaoClient, KakaoLogin, KakaoProfile
from sns.likes import LikeService
from sns.notifications import NotificationService
from sns.posts import PostService
from sns.ratelimit import MemoryRateLimiter
from tests.conftest import BACKENDS


class World:
    """The services over one fresh database, with every unread hook call recorded."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[tuple[int, int]] = []
        self.notifications = NotificationService(db, on_unread_change=self.record)
        n = self.notifications
        self.accounts = AccountService(db, MemoryRateLimiter(), bcrypt_rounds=4, notifications=n)
        self.likes = LikeService(db, n)
        self.follows = FollowService(db, n)
        self.comments = CommentService(db, n)
        self.posts = PostService(
            db, comments=self.comments, likes=self.likes, follows=self.follows, notifications=n
        )

    async def record(self, user_id: int, count: int) -> None:
        self.calls.append((user_id, count))

    async def person(self, nick: str = "someone", handle: str = "") -> int:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        return (await self.accounts.join(email, nick, "password 1234", handle)).id


@pytest.fixture(params=BACKENDS)
async def world(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'notify.sqlite3'}"
    else:
        url = request.getfixturevalue("mariadb").create_database(
            f"sns_notify_{uuid.uuid4().hex[:8]}"
        )
    db = Database(url)
    await db.migrate()
    yield World(db)
    await db.dispose()


async def test_every_change_of_an_unread_count_is_announced_after_it_is_stored(world):
    author, fan = await world.person(), await world.person()
    post_id = await world.posts.create(author, "hello")
    await world.likes.like(fan, post_id)
    await world.follows.follow(fan, author)
    await world.likes.like(author, post_id)  # one's own: nothing to announce
    assert world.calls == [(author, 1), (author, 2)]
    await world.likes.unlike(fan, post_id)
    assert world.calls[-1] == (author, 1)
    assert await world.notifications.mark_read(author) == 1
    assert world.calls[-1] == (author, 0)
    comment = await world.comments.comment(fan, post_id, "hi")
    assert world.calls[-1] == (author, 1)
    await world.posts.delete(author, post_id)
    assert world.calls[-1] == (author, 0)
    assert comment.id  # its notification went with the post
    assert (await world.notifications.page(author)).items[0].kind == "follow"


async def test_a_failing_hook_does_not_undo_the_action(world):
    author, fan = await world.person(), await world.person()

    async def broken(user_id: int, count: int) -> None:
        raise RuntimeError("the hub is down")

    world.notifications.on_unread_change = broken
    post_id = await world.posts.create(author, "still liked")
    assert (await world.likes.like(fan, post_id)).liked
    assert await world.notifications.unread_count(author) == 1


async def test_many_first_likes_at_once_make_one_group(world):
    author = await world.person()
    fans = [await world.person() for _ in range(6)]
    post_id = await world.posts.create(author, "popular")
    await asyncio.gather(*(world.likes.like(fan, post_id) for fan in fans))
    page = await world.notifications.page(author)
    assert [(n.kind, n.actor_count) for n in page.items] == [("like", 6)]
    assert page.unread_count == 1


async def test_comments_deleted_on_their_own_take_their_notifications(world):
    author, fan = await world.person(), await world.person()
    post_id = await world.posts.create(author, "talk")
    first = await world.comments.comment(fan, post_id, "one")
    await world.comments.comment(fan, post_id, "two")
    async with world.db.transaction() as conn:
        told = await world.notifications.remove_for_comments(conn, [first.id])
    assert told == {author}
    page = await world.notifications.page(author)
    assert [n.comment_content for n in page.items] == ["two"]


async def test_a_kakao_sign_up_gets_a_handle_from_its_nick(world):
    unused = "http://127.0.0.1:9/unused"
    kakao = KakaoLogin(
        KakaoClient("id", auth_url=unused, token_url=unused, user_url=unused),
        world.db,
        world.accounts,
    )
    taken = "카카오" + uuid.uuid4().hex[:4]
    await world.person(handle=taken)
    first = await kakao.find_or_create(KakaoProfile("k1" + uuid.uuid4().hex[:6], taken, None))
    assert first.handle == taken + "2"
    second = await kakao.find_or_create(KakaoProfile("k2" + uuid.uuid4().hex[:6], "!", None))
    assert second.handle and second.handle.startswith("user")


async def test_many_first_follows_at_once_make_one_group(world):
    star = await world.person()
    fans = [await world.person() for _ in range(6)]
    await asyncio.gather(*(world.follows.follow(fan, star) for fan in fans))
    page = await world.notifications.page(star)
    assert [(n.kind, n.actor_count) for n in page.items] == [("follow", 6)]
