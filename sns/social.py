"""Follows, likes and comments: what people do with each other's posts.

Likes and follows are idempotent: the row is inserted with "ignore duplicates" and the
like counter moves only when a row really appeared or disappeared, in the same
transaction, so the count equals the number of likes however many clicks arrive at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sns.accounts import ProfileCounts, User, count_follows, row_to_user
from sns.db import Database, utcnow
from sns.errors import Invalid, NotFound
from sns.posts import COMMENT_COLUMNS, CommentView, clean_content, comment_from_row
from sns.schema import comments, follows, likes, posts, users


@dataclass(frozen=True)
class Person:
    """Someone in a list of followings or followers, and whether the reader follows them."""

    id: int
    nick: str
    followed_by_viewer: bool


@dataclass(frozen=True)
class Profile:
    """A user's page header: who, their counts, and whether the reader follows them."""

    user: User
    counts: ProfileCounts
    followed_by_viewer: bool


@dataclass(frozen=True)
class LikeState:
    post_id: int
    liked: bool
    like_count: int


class SocialService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _live_user(self, conn: AsyncConnection, user_id: int) -> User:
        row = (
            await conn.execute(
                select(users).where(users.c.id == user_id, users.c.deleted_at.is_(None))
            )
        ).first()
        if row is None:
            raise NotFound("There is no such user.")
        return row_to_user(row)

    async def _lock_post(self, conn: AsyncConnection, post_id: int) -> None:
        """Take the post row's write lock before touching its likes.

        Inserting a like takes a shared lock on the post (the foreign key check); two
        clicks holding it at once would then deadlock on ``like_count``. Locking first
        makes concurrent clicks queue up instead (SQLite's BEGIN IMMEDIATE already does).
        """
        await conn.execute(select(posts.c.id).where(posts.c.id == post_id).with_for_update())

    async def _live_post_id(self, conn: AsyncConnection, post_id: int) -> int:
        found = (
            await conn.execute(
                select(posts.c.id)
                .join(users, users.c.id == posts.c.user_id)
                .where(posts.c.id == post_id, users.c.deleted_at.is_(None))
            )
        ).first()
        if found is None:
            raise NotFound("There is no such post.")
        return post_id

    async def follow(self, follower_id: int, following_id: int) -> None:
        """Follow someone; following them again changes nothing."""
        if follower_id == following_id:
            raise Invalid("You cannot follow yourself.")
        async with self.db.transaction() as conn:
            await self._live_user(conn, following_id)
            await conn.execute(
                self.db.insert_ignore(follows).values(
                    follower_id=follower_id, following_id=following_id, created_at=utcnow()
                )
            )

    async def unfollow(self, follower_id: int, following_id: int) -> None:
        if follower_id == following_id:
            raise Invalid("You cannot follow yourself.")
        async with self.db.transaction() as conn:
            await self._live_user(conn, following_id)
            await conn.execute(
                delete(follows).where(
                    follows.c.follower_id == follower_id, follows.c.following_id == following_id
                )
            )

    async def like(self, user_id: int, post_id: int) -> LikeState:
        """Like a post (once); returns the state to show."""
        async with self.db.transaction() as conn:
            await self._lock_post(conn, post_id)
            await self._live_post_id(conn, post_id)
            added = await conn.execute(
                self.db.insert_ignore(likes).values(
                    user_id=user_id, post_id=post_id, created_at=utcnow()
                )
            )
            if added.rowcount == 1:
                await conn.execute(
                    update(posts)
                    .where(posts.c.id == post_id)
                    .values(like_count=posts.c.like_count + 1)
                )
            return await self._like_state(conn, user_id, post_id)

    async def unlike(self, user_id: int, post_id: int) -> LikeState:
        async with self.db.transaction() as conn:
            await self._lock_post(conn, post_id)
            await self._live_post_id(conn, post_id)
            removed = await conn.execute(
                delete(likes).where(likes.c.user_id == user_id, likes.c.post_id == post_id)
            )
            if removed.rowcount == 1:
                await conn.execute(
                    update(posts)
                    .where(posts.c.id == post_id)
                    .values(like_count=posts.c.like_count - 1)
                )
            return await self._like_state(conn, user_id, post_id)

    async def _like_state(self, conn: AsyncConnection, user_id: int, post_id: int) -> LikeState:
        row = (
            await conn.execute(
                select(
                    posts.c.like_count,
                    select(func.count())
                    .select_from(likes)
                    .where(likes.c.user_id == user_id, likes.c.post_id == post_id)
                    .scalar_subquery()
                    .label("mine"),
                ).where(posts.c.id == post_id)
            )
        ).one()
        return LikeState(post_id=post_id, liked=bool(row.mine), like_count=row.like_count)

    async def comment(self, user_id: int, post_id: int, content: str) -> CommentView:
        """A comment by ``user_id`` (always the session's user) on a visible post."""
        content = clean_content(content)
        async with self.db.transaction() as conn:
            await self._live_post_id(conn, post_id)
            return await self._insert_comment(conn, user_id, post_id, None, content)

    async def reply(self, user_id: int, comment_id: int, content: str) -> CommentView:
        """A reply to a comment; a reply to a reply joins the same thread (one level)."""
        content = clean_content(content)
        async with self.db.transaction() as conn:
            parent = (
                await conn.execute(
                    select(comments.c.id, comments.c.post_id, comments.c.parent_id)
                    .join(users, users.c.id == comments.c.user_id)
                    .where(comments.c.id == comment_id, users.c.deleted_at.is_(None))
                )
            ).first()
            if parent is None:
                raise NotFound("There is no such comment.")
            await self._live_post_id(conn, parent.post_id)
            thread = parent.parent_id or parent.id
            return await self._insert_comment(conn, user_id, parent.post_id, thread, content)

    async def _insert_comment(
        self,
        conn: AsyncConnection,
        user_id: int,
        post_id: int,
        parent_id: int | None,
        content: str,
    ) -> CommentView:
        result = await conn.execute(
            insert(comments).values(
                post_id=post_id,
                user_id=user_id,
                parent_id=parent_id,
                content=content,
                created_at=utcnow(),
            )
        )
        row = (
            await conn.execute(
                select(*COMMENT_COLUMNS)
                .join(users, users.c.id == comments.c.user_id)
                .where(comments.c.id == result.inserted_primary_key[0])
            )
        ).one()
        return comment_from_row(row)

    async def profile(self, user_id: int, viewer_id: int | None) -> Profile:
        """Who ``user_id`` is, their counts, and whether the viewer follows them."""
        async with self.db.read() as conn:
            user = await self._live_user(conn, user_id)
            counts = await count_follows(conn, user_id)
            followed = False
            if viewer_id is not None and viewer_id != user_id:
                followed = (
                    await conn.execute(
                        select(follows.c.follower_id).where(
                            follows.c.follower_id == viewer_id,
                            follows.c.following_id == user_id,
                        )
                    )
                ).first() is not None
        return Profile(user=user, counts=counts, followed_by_viewer=followed)

    async def followings(self, user_id: int, viewer_id: int, limit: int = 500) -> list[Person]:
        """Whom ``user_id`` follows, newest first."""
        return await self._people(
            follows.c.following_id, follows.c.follower_id, user_id, viewer_id, limit
        )

    async def followers(self, user_id: int, viewer_id: int, limit: int = 500) -> list[Person]:
        """Who follows ``user_id``, newest first."""
        return await self._people(
            follows.c.follower_id, follows.c.following_id, user_id, viewer_id, limit
        )

    async def _people(
        self, person_col, owner_col, user_id: int, viewer_id: int, limit: int
    ) -> list[Person]:
        mine = follows.alias("mine")
        query = (
            select(users.c.id, users.c.nick, mine.c.follower_id.is_not(None).label("followed"))
            .select_from(follows)
            .join(users, users.c.id == person_col)
            .outerjoin(
                mine,
                and_(mine.c.following_id == users.c.id, mine.c.follower_id == viewer_id),
            )
            .where(owner_col == user_id, users.c.deleted_at.is_(None))
            .order_by(follows.c.created_at.desc(), users.c.id.desc())
            .limit(limit)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [Person(id=r.id, nick=r.nick, followed_by_viewer=bool(r.followed)) for r in rows]
