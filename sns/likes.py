"""Likes: idempotent, with a counter on the post that always equals the rows in ``likes``.

The row is inserted with "ignore duplicates" and the counter moves only when a row really
appeared or disappeared, in the same transaction, so the count stays exact however many
clicks arrive at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from sns.async_sql import AsyncConnection
from sns.db import Database, utcnow
from sns.errors import Unauthorized
from sns.notifications import LIKE, NotificationService
from sns.safety import refuse_if_blocked
from sns.schema import likes, posts
from sns.visible import lock_live_users, lock_visible_post


@dataclass(frozen=True)
class LikeState:
    post_id: int
    liked: bool
    like_count: int


class LikeService:
    def __init__(self, db: Database, notifications: NotificationService | None = None) -> None:
        self.db = db
        self.notifications = notifications

    async def like(self, user_id: int, post_id: int) -> LikeState:
        """Like a post (once); returns the state to show. Its author is told. Across a
        block: ``Forbidden``."""
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> LikeState:
            changed.clear()
            author = await self._lock(conn, user_id, post_id)
            await refuse_if_blocked(conn, user_id, author)
            added = await conn.execute(
                self.db.insert_ignore(likes).values(
                    user_id=user_id, post_id=post_id, created_at=utcnow()
                )
            )
            if added.rowcount == 1:
                await self._move_count(conn, post_id, +1)
                if self.notifications is not None:
                    changed.update(
                        await self.notifications.add(
                            conn, user_id=author, kind=LIKE, actor_id=user_id, post_id=post_id
                        )
                    )
            return await self._state(conn, user_id, post_id)

        state = await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
        return state

    async def unlike(self, user_id: int, post_id: int) -> LikeState:
        """Take a like back, and its notification with it."""
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> LikeState:
            changed.clear()
            author = await self._lock(conn, user_id, post_id)
            removed = await conn.execute(
                delete(likes).where(likes.c.user_id == user_id, likes.c.post_id == post_id)
            )
            if removed.rowcount == 1:
                await self._move_count(conn, post_id, -1)
                if self.notifications is not None:
                    changed.update(
                        await self.notifications.take_back(
                            conn, user_id=author, kind=LIKE, actor_id=user_id, post_id=post_id
                        )
                    )
            return await self._state(conn, user_id, post_id)

        state = await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
        return state

    async def _lock(self, conn: AsyncConnection, user_id: int, post_id: int) -> int:
        """The liker's row for share (their account cannot be deleted meanwhile), then the
        post's for update (the counter's writers queue up instead of deadlocking on it);
        returns the post's author."""
        if user_id not in await lock_live_users(conn, [user_id]):
            raise Unauthorized("Please log in first.")
        return await lock_visible_post(conn, post_id, exclusive=True, viewer_id=user_id)

    async def _move_count(self, conn: AsyncConnection, post_id: int, by: int) -> None:
        await conn.execute(
            update(posts).where(posts.c.id == post_id).values(like_count=posts.c.like_count + by)
        )

    async def _state(self, conn: AsyncConnection, user_id: int, post_id: int) -> LikeState:
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

    async def remove_all(self, conn: AsyncConnection, post_id: int) -> None:
        """Delete a post's likes (inside the post's own transaction)."""
        await conn.execute(delete(likes).where(likes.c.post_id == post_id))
