"""Comments and one level of replies: written and read by one service.

Timelines ask ``threads`` for every comment of a page's posts in one query; the post page
and the write actions use the same columns and the same threading, so a comment looks the
same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sns.db import Database, new_id, utcnow
from sns.errors import NotFound
from sns.schema import comments, users
from sns.text import clean_content
from sns.visible import LIVE_USER, lock_visible_post


@dataclass(frozen=True)
class CommentView:
    """A comment (or a reply: ``parent_id`` set) as shown under a post."""

    id: int
    post_id: int
    parent_id: int | None
    content: str
    created_at: datetime
    author_id: int
    author_nick: str
    replies: tuple[CommentView, ...] = ()


COMMENT_COLUMNS = (
    comments.c.id,
    comments.c.post_id,
    comments.c.parent_id,
    comments.c.content,
    comments.c.created_at,
    comments.c.user_id.label("author_id"),
    users.c.nick.label("author_nick"),
)


def comment_from_row(row: Any) -> CommentView:
    return CommentView(**row._mapping)


def thread_comments(rows: Iterable[Any]) -> dict[int, tuple[CommentView, ...]]:
    """Comments by post, oldest first, each with its replies (oldest first) under it."""
    replies: dict[int, list[CommentView]] = {}
    top: dict[int, list[CommentView]] = {}
    for row in rows:
        view = comment_from_row(row)
        if view.parent_id is None:
            top.setdefault(view.post_id, []).append(view)
        else:
            replies.setdefault(view.parent_id, []).append(view)
    return {
        post_id: tuple(replace(c, replies=tuple(replies.get(c.id, ()))) for c in items)
        for post_id, items in top.items()
    }


class CommentService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def comment(self, user_id: int, post_id: int, content: str) -> CommentView:
        """A comment by ``user_id`` (always the session's user) on a visible post."""
        content = clean_content(content)

        async def work(conn: AsyncConnection) -> CommentView:
            await lock_visible_post(conn, post_id, exclusive=False)
            return await self._insert(conn, user_id, post_id, None, content)

        return await self.db.write(work)

    async def reply(self, user_id: int, comment_id: int, content: str) -> CommentView:
        """A reply to a comment; a reply to a reply joins the same thread (one level)."""
        content = clean_content(content)

        async def work(conn: AsyncConnection) -> CommentView:
            parent = (
                await conn.execute(
                    select(comments.c.id, comments.c.post_id, comments.c.parent_id)
                    .join(users, users.c.id == comments.c.user_id)
                    .where(comments.c.id == comment_id, LIVE_USER)
                )
            ).first()
            if parent is None:
                raise NotFound("There is no such comment.")
            # Locked for share: a deletion of the post waits, or has already taken the
            # comment with it (then this is a 404, not a foreign-key error).
            await lock_visible_post(conn, parent.post_id, exclusive=False)
            thread = parent.parent_id or parent.id
            return await self._insert(conn, user_id, parent.post_id, thread, content)

        return await self.db.write(work)

    async def _insert(
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
                .where(comments.c.id == new_id(result))
            )
        ).one()
        return comment_from_row(row)

    async def threads(
        self, conn: AsyncConnection, post_ids: Sequence[int]
    ) -> dict[int, tuple[CommentView, ...]]:
        """Every visible comment and reply of these posts, threaded: one query."""
        if not post_ids:
            return {}
        rows = await conn.execute(
            select(*COMMENT_COLUMNS)
            .join(users, users.c.id == comments.c.user_id)
            .where(comments.c.post_id.in_(post_ids), LIVE_USER)
            .order_by(comments.c.id)
        )
        return thread_comments(rows)

    async def remove_all(self, conn: AsyncConnection, post_id: int) -> None:
        """Delete a post's replies, then its comments (inside the post's own transaction)."""
        await conn.execute(
            delete(comments).where(comments.c.post_id == post_id, comments.c.parent_id.is_not(None))
        )
        await conn.execute(delete(comments).where(comments.c.post_id == post_id))
