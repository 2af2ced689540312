"""What pages may show: users who still have an account, and the posts they wrote.

Accounts are deleted softly (``users.deleted_at``) and moderators suspend them
(``users.suspended_at``), so every read that shows a person, a post or a comment goes
through ``LIVE_USER``: one expression, one meaning. Posts and comments a moderator hid
(``hidden_at``) are shown to their author only: ``shown_post`` and ``shown_comment`` are the
one place that says so (#21). The filters of other safety features (blocks, mutes) belong
beside them.

Writes that must not interleave with a deletion lock rows in one order: user rows first
(in id order), then the post row, then what hangs on the post. Deleting an account locks
its user row for update; liking or following locks the actor's row for share, so the two
cannot overlap. Deleting a post locks the post for update; liking locks it for update and
commenting for share, so each of them runs wholly before the deletion or finds the post
gone (404) after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, or_, select

from sns.async_sql import AsyncConnection
from sns.errors import NotFound
from sns.schema import comments, posts, users

LIVE_USER: ColumnElement[bool] = and_(users.c.deleted_at.is_(None), users.c.suspended_at.is_(None))
"""A user who still has an account (not deleted) that no moderator suspended."""


def shown_post(viewer_id: int | ColumnElement[int] | None) -> ColumnElement[bool]:
    """A post the reader may see: not hidden by a moderator, or the reader's own (its
    author still sees it, marked as hidden). None: a reader who is not logged in."""
    if viewer_id is None:
        return posts.c.hidden_at.is_(None)
    return or_(posts.c.hidden_at.is_(None), posts.c.user_id == viewer_id)


def shown_comment(viewer_id: int | ColumnElement[int] | None) -> ColumnElement[bool]:
    """The same for a comment or reply."""
    if viewer_id is None:
        return comments.c.hidden_at.is_(None)
    return or_(comments.c.hidden_at.is_(None), comments.c.user_id == viewer_id)


async def live_user_row(conn: AsyncConnection, user_id: int) -> Row[Any]:
    """The user's row, or ``NotFound`` when there is no such account (or it was deleted)."""
    row = (await conn.execute(select(users).where(users.c.id == user_id, LIVE_USER))).first()
    if row is None:
        raise NotFound("There is no such user.")
    return row


async def lock_live_users(conn: AsyncConnection, user_ids: Iterable[int]) -> set[int]:
    """Lock these users' rows for share, in id order; return the ids still live.

    While the lock is held, none of them can be deleted (deletion locks for update).
    """
    wanted = sorted(set(user_ids))
    rows = await conn.execute(
        select(users.c.id, users.c.deleted_at)
        .where(users.c.id.in_(wanted))
        .order_by(users.c.id)
        .with_for_update(read=True)
    )
    return {row.id for row in rows if row.deleted_at is None}


async def lock_visible_post(
    conn: AsyncConnection, post_id: int, *, exclusive: bool, viewer_id: int | None = None
) -> int:
    """Lock the post row (for update, or for share), then check that ``viewer_id`` is
    still shown it.

    Only the post row is locked: a locking join would lock the author's user row too and
    break the order above. Returns the author's id; a missing post is ``NotFound``.
    """
    author = (
        await conn.execute(
            select(posts.c.user_id).where(posts.c.id == post_id).with_for_update(read=not exclusive)
        )
    ).scalar()
    if author is None:
        raise NotFound("There is no such post.")
    await require_visible_post(conn, post_id, viewer_id)
    return int(author)


async def require_visible_post(
    conn: AsyncConnection, post_id: int, viewer_id: int | None = None
) -> None:
    """``NotFound`` unless the post exists, its author still has an account, and it is
    shown to ``viewer_id`` (not hidden, or theirs)."""
    found = (
        await conn.execute(
            select(posts.c.id)
            .join(users, users.c.id == posts.c.user_id)
            .where(posts.c.id == post_id, LIVE_USER, shown_post(viewer_id))
        )
    ).first()
    if found is None:
        raise NotFound("There is no such post.")
