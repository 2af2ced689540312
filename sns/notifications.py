"""Notifications: someone followed you, liked your post, commented, replied, mentioned you.

Written inside the transaction of the action that causes them (a like and its
notification are stored together or not at all), by the one method ``add``: the place for
any rule about who may notify whom. Follows and likes (per post) are grouped: while a
group is unread, later actors join it and it moves to the top ("미나 and 3 others liked
your post"); once read, the next actor starts a new group. Undoing a like or a follow takes
the actor out of their group again (an emptied group goes); deleting a post takes every
notification about it, its comments included; deleting an account takes those it
received, those about its posts, and its part in everyone else's.

Each group orders the list by ``seq``, the id of its newest actor row, so the list is
walked newest first on the (user_id, seq) index with a keyset cursor. Whenever a person's
unread count may have moved, ``announce`` tells ``on_unread_change`` (the live hub) after
the transaction committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, insert, select, update

from sns.async_sql import AsyncConnection
from sns.db import Database, new_id, utcnow
from sns.safety import unwelcome
from sns.schema import comments, notification_actors, notifications, posts, users

log = logging.getLogger("sns.notifications")

FOLLOW = "follow"
LIKE = "like"
COMMENT = "comment"
REPLY = "reply"
MENTION = "mention"
KINDS = (FOLLOW, LIKE, COMMENT, REPLY, MENTION)
GROUPED = frozenset({FOLLOW, LIKE})
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

UnreadHook = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class Notification:
    """One line of the list: who (the newest actor, and how many in all), what, on what."""

    id: int
    kind: str
    seq: int
    unread: bool
    created_at: datetime
    actor_id: int
    actor_nick: str
    actor_handle: str | None
    actor_count: int
    post_id: int | None
    post_content: str | None
    comment_id: int | None
    comment_content: str | None

    @property
    def others(self) -> int:
        """How many besides the named actor (grouped follows and likes)."""
        return self.actor_count - 1


@dataclass(frozen=True)
class NotificationPage:
    """A page of the list, newest first; ``next_cursor``: pass it as ``before``."""

    items: list[Notification]
    next_cursor: int | None
    unread_count: int


def unread_count_query(user_id: int | ColumnElement[int]) -> Select[int]:
    """How many notifications ``user_id`` has not seen: a range of the (user_id, unread)
    index (also asked with the sidebar's counts: ``FollowService.counts_and_unread``)."""
    return (
        select(func.count())
        .select_from(notifications)
        .where(notifications.c.user_id == user_id, notifications.c.unread == 1)
    )


def _open_key(kind: str, post_id: int | None) -> str | None:
    """The key of the one open (unread) group of this kind for a recipient, or None."""
    if kind not in GROUPED:
        return None
    return f"{kind}:{post_id or 0}"


def _same(column: Any, value: int | None) -> Any:
    return column.is_(None) if value is None else column == value


class NotificationService:
    """Notifications: written in the callers' transactions, read by the pages and the API."""

    def __init__(
        self,
        db: Database,
        *,
        on_unread_change: UnreadHook | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.db = db
        self.on_unread_change = on_unread_change
        self.page_size = page_size
        # Told first, with everyone whose count moved: their kept badges are old
        # (``sns.reader_versions``, wired in build_services).
        self.on_readers_change: Callable[[set[int]], Awaitable[None]] | None = None

    # -- writing, inside the caller's transaction ---------------------------------------
    # Each returns the recipients whose unread count may have moved; the caller hands them
    # to ``announce`` once its transaction committed.

    async def add(
        self,
        conn: AsyncConnection,
        *,
        user_id: int,
        kind: str,
        actor_id: int,
        post_id: int | None = None,
        comment_id: int | None = None,
    ) -> set[int]:
        """Tell ``user_id`` that ``actor_id`` did ``kind``: the one place a notification is
        made (nothing for one's own actions, nor across a block, nor from someone
        ``user_id`` muted)."""
        if user_id == actor_id or await unwelcome(conn, user_id, actor_id):
            return set()
        now = utcnow()
        open_key = _open_key(kind, post_id)
        group_id = None
        if open_key is not None:
            group_id = await self._open_group(conn, user_id, open_key)
        if group_id is None:
            values = {
                "user_id": user_id,
                "kind": kind,
                "post_id": post_id,
                "comment_id": comment_id,
                "actor_id": actor_id,
                "actor_count": 0,
                "seq": 0,
                "unread": 1,
                "open_key": open_key,
                "created_at": now,
            }
            if open_key is None:
                group_id = new_id(await conn.execute(insert(notifications).values(**values)))
            else:
                # Two first actors at once: the unique (user_id, open_key) keeps one group.
                made = await conn.execute(self.db.insert_ignore(notifications).values(**values))
                if made.rowcount == 1:
                    group_id = new_id(made)
                else:
                    group_id = await self._open_group(conn, user_id, open_key)
                    assert group_id is not None
        added = await conn.execute(
            self.db.insert_ignore(notification_actors).values(
                notification_id=group_id, actor_id=actor_id, created_at=now
            )
        )
        if added.rowcount != 1:
            return set()  # already in this group
        actor_row = new_id(added)
        newest = notifications.c.seq < actor_row
        await conn.execute(
            update(notifications)
            .where(notifications.c.id == group_id)
            .values(
                actor_id=case((newest, actor_id), else_=notifications.c.actor_id),
                created_at=case((newest, now), else_=notifications.c.created_at),
                seq=case((newest, actor_row), else_=notifications.c.seq),
                actor_count=notifications.c.actor_count + 1,
                unread=1,
            )
        )
        return {user_id}

    async def _open_group(self, conn: AsyncConnection, user_id: int, open_key: str) -> int | None:
        return (
            await conn.execute(
                select(notifications.c.id)
                .where(notifications.c.user_id == user_id, notifications.c.open_key == open_key)
                .with_for_update()
            )
        ).scalar()

    async def take_back(
        self,
        conn: AsyncConnection,
        *,
        user_id: int,
        kind: str,
        actor_id: int,
        post_id: int | None = None,
    ) -> set[int]:
        """Undo: ``actor_id`` no longer did ``kind`` (an unlike, an unfollow, a mention
        edited out of a post); a group left empty goes."""
        found = (
            await conn.execute(
                select(notification_actors.c.id, notification_actors.c.notification_id)
                .join(notifications, notifications.c.id == notification_actors.c.notification_id)
                .where(
                    notification_actors.c.actor_id == actor_id,
                    notifications.c.user_id == user_id,
                    notifications.c.kind == kind,
                    _same(notifications.c.post_id, post_id),
                    notifications.c.comment_id.is_(None),
                )
            )
        ).all()
        if not found:
            return set()
        await conn.execute(
            delete(notification_actors).where(notification_actors.c.id.in_([r.id for r in found]))
        )
        await self._refresh(conn, {r.notification_id for r in found})
        return {user_id}

    async def set_mentions(
        self,
        conn: AsyncConnection,
        *,
        actor_id: int,
        post_id: int,
        comment_id: int | None,
        mentioned: Iterable[int],
    ) -> set[int]:
        """Make the mention notifications of a post (or of one comment) those of
        ``mentioned``: new names are told, names edited out are taken back, the rest stay
        as they were (read or not)."""
        wanted = set(mentioned) - {actor_id}
        existing = set(
            (
                await conn.execute(
                    select(notifications.c.user_id).where(
                        notifications.c.post_id == post_id,
                        _same(notifications.c.comment_id, comment_id),
                        notifications.c.kind == MENTION,
                    )
                )
            ).scalars()
        )
        changed: set[int] = set()
        for gone in sorted(existing - wanted):
            changed |= await self.take_back(
                conn, user_id=gone, kind=MENTION, actor_id=actor_id, post_id=post_id
            )
        for new in sorted(wanted - existing):
            changed |= await self.add(
                conn,
                user_id=new,
                kind=MENTION,
                actor_id=actor_id,
                post_id=post_id,
                comment_id=comment_id,
            )
        return changed

    async def remove_for_post(self, conn: AsyncConnection, post_id: int) -> set[int]:
        """Before a post is deleted: every notification about it or its comments."""
        return await self._remove(conn, notifications.c.post_id == post_id)

    async def remove_for_comments(self, conn: AsyncConnection, comment_ids: list[int]) -> set[int]:
        """Before comments are deleted on their own: the notifications they caused."""
        if not comment_ids:
            return set()
        return await self._remove(conn, notifications.c.comment_id.in_(comment_ids))

    async def remove_for_account(self, conn: AsyncConnection, user_id: int) -> set[int]:
        """When an account is deleted: what it received, what is about its posts, and its
        part in everyone else's (groups it alone made go)."""
        changed = await self._remove(conn, notifications.c.user_id == user_id)
        their_posts = select(posts.c.id).where(posts.c.user_id == user_id)
        changed |= await self._remove(conn, notifications.c.post_id.in_(their_posts))
        rows = (
            await conn.execute(
                select(notification_actors.c.notification_id, notifications.c.user_id)
                .join(notifications, notifications.c.id == notification_actors.c.notification_id)
                .where(notification_actors.c.actor_id == user_id)
            )
        ).all()
        if rows:
            await conn.execute(
                delete(notification_actors).where(notification_actors.c.actor_id == user_id)
            )
            await self._refresh(conn, {row.notification_id for row in rows})
        return (changed | {row.user_id for row in rows}) - {user_id}

    async def _remove(self, conn: AsyncConnection, where: Any) -> set[int]:
        rows = (
            await conn.execute(select(notifications.c.id, notifications.c.user_id).where(where))
        ).all()
        if not rows:
            return set()
        ids = [row.id for row in rows]
        await conn.execute(
            delete(notification_actors).where(notification_actors.c.notification_id.in_(ids))
        )
        await conn.execute(delete(notifications).where(notifications.c.id.in_(ids)))
        return {row.user_id for row in rows}

    async def _refresh(self, conn: AsyncConnection, ids: set[int]) -> None:
        """After actors left these groups: drop the empty ones, and set the rest's count,
        newest actor, order and unread state from the actors that stay."""
        if not ids:
            return
        wanted = sorted(ids)
        actors = notification_actors
        inner = notification_actors.alias("newest_actor")
        of_group = actors.c.notification_id == notifications.c.id
        newest = (
            select(func.max(inner.c.id))
            .where(inner.c.notification_id == notifications.c.id)
            .correlate(notifications)
            .scalar_subquery()
        )
        count = (
            select(func.count())
            .select_from(actors)
            .where(of_group)
            .correlate(notifications)
            .scalar_subquery()
        )
        newest_actor = (
            select(actors.c.actor_id)
            .where(actors.c.id == newest)
            .correlate(notifications)
            .scalar_subquery()
        )
        newest_time = (
            select(actors.c.created_at)
            .where(actors.c.id == newest)
            .correlate(notifications)
            .scalar_subquery()
        )
        still_unread = newest > notifications.c.read_seq
        empty = ~select(actors.c.id).where(of_group).correlate(notifications).exists()
        await conn.execute(delete(notifications).where(notifications.c.id.in_(wanted), empty))
        # Every value from the actor rows or the old row, never from a column this same
        # statement sets: MySQL reads those left to right, already changed, SQLite does not.
        await conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(wanted))
            .values(
                actor_count=count,
                actor_id=newest_actor,
                created_at=newest_time,
                unread=case((still_unread, 1), else_=0),
                open_key=case((still_unread, notifications.c.open_key), else_=None),
                seq=newest,
            )
        )

    # -- reading and marking ---------------------------------------------------------------

    async def unread_count(self, user_id: int) -> int:
        """How many notifications (groups) ``user_id`` has not seen: one index range."""
        async with self.db.read() as conn:
            return await self._unread(conn, user_id)

    async def _unread(self, conn: AsyncConnection, user_id: int) -> int:
        return int((await conn.execute(unread_count_query(user_id))).scalar_one())

    async def page(
        self, user_id: int, before: int | None = None, limit: int | None = None
    ) -> NotificationPage:
        """A page of ``user_id``'s notifications, newest first (``seq`` below ``before``)."""
        size = limit or self.page_size
        actor = users.alias("actor")
        query = (
            select(
                notifications.c.id,
                notifications.c.kind,
                notifications.c.seq,
                notifications.c.unread,
                notifications.c.created_at,
                notifications.c.actor_id,
                actor.c.nick.label("actor_nick"),
                actor.c.handle.label("actor_handle"),
                notifications.c.actor_count,
                notifications.c.post_id,
                posts.c.content.label("post_content"),
                notifications.c.comment_id,
                comments.c.content.label("comment_content"),
            )
            .select_from(notifications)
            .join(actor, actor.c.id == notifications.c.actor_id)
            .outerjoin(posts, posts.c.id == notifications.c.post_id)
            .outerjoin(comments, comments.c.id == notifications.c.comment_id)
            .where(notifications.c.user_id == user_id)
            .order_by(notifications.c.seq.desc())
            .limit(size + 1)
            .prefix_with("STRAIGHT_JOIN", dialect="mysql")
        )
        if before is not None:
            query = query.where(notifications.c.seq < before)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
            unread = await self._unread(conn, user_id)
        items = [
            Notification(**{**row._mapping, "unread": bool(row.unread)}) for row in rows[:size]
        ]
        more = len(rows) > size and items
        return NotificationPage(items, items[-1].seq if more else None, unread)

    async def mark_read(self, user_id: int, up_to: int | None = None) -> int:
        """Mark ``user_id``'s notifications read (those up to ``seq`` ``up_to``, else all);
        how many were unread. A group read is closed: the next actor starts a new one."""
        where = [notifications.c.user_id == user_id, notifications.c.unread == 1]
        if up_to is not None:
            where.append(notifications.c.seq <= up_to)
        async with self.db.transaction() as conn:
            result = await conn.execute(
                update(notifications)
                .where(and_(*where))
                .values(unread=0, open_key=None, read_seq=notifications.c.seq)
            )
        marked = int(result.rowcount)
        if marked:
            await self.announce({user_id})
        return marked

    async def announce(self, user_ids: Iterable[int]) -> None:
        """Tell ``on_unread_change`` the unread counts of these people (after a commit).

        A failing hook is logged, never raised: the action itself is stored."""
        wanted = set(user_ids)
        if self.on_readers_change is not None and wanted:
            await self.on_readers_change(wanted)
        if self.on_unread_change is None:
            return
        for user_id in sorted(wanted):
            try:
                await self.on_unread_change(user_id, await self.unread_count(user_id))
            except Exception:
                log.exception("could not announce the unread count of user %d", user_id)
