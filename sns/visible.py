"""What pages may show: users who still have an account, and the posts they wrote.

Accounts are deleted softly (``users.deleted_at``), so every read that shows a person, a
post or a comment goes through ``LIVE_USER``: one expression, one meaning.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sns.errors import NotFound
from sns.schema import posts, users

LIVE_USER: ColumnElement[bool] = users.c.deleted_at.is_(None)
"""A user who still has an account (not deleted)."""


async def live_user_row(conn: AsyncConnection, user_id: int) -> Row[Any]:
    """The user's row, or ``NotFound`` when there is no such account (or it was deleted)."""
    row = (await conn.execute(select(users).where(users.c.id == user_id, LIVE_USER))).first()
    if row is None:
        raise NotFound("There is no such user.")
    return row


async def require_visible_post(conn: AsyncConnection, post_id: int) -> None:
    """``NotFound`` unless the post exists and its author still has an account."""
    found = (
        await conn.execute(
            select(posts.c.id)
            .join(users, users.c.id == posts.c.user_id)
            .where(posts.c.id == post_id, LIVE_USER)
        )
    ).first()
    if found is None:
        raise NotFound("There is no such post.")
