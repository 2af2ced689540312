"""Comments and one level of replies: written and read by one service.

Timelines ask ``threads`` for every comment of a page's posts in one query; the post page
and the write actions use the same columns and the same threading, so a comment looks the
same wherever it appears.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)

from sns.async_sql import AsyncConnection
from sns.db import Database, new_id, utcnow
from sns.errors import NotFound
from sns.handles import Mentions, find_handles, keys_of, mentioned_ids
from sns.notifications import COMMENT, REPLY, NotificationService
from sns.reader_safety import NOTHING_SET, ReaderSafety, known_safety
from sns.safety import refuse_if_blocked
from sns.safety_filters import hidden_comments, without_hidden_authors
from sns.schema import comments, users
from sns.text import clean_content
from sns.visible import LIVE_USER, lock_visible_post, shown_comment


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
    hidden_at: datetime | None = None
    """Set when a moderator hid it: only its author is shown it, marked."""
    author_avatar: str | None = None
    author_avatar_ready: bool = False
    author_bio: str | None = None
    """Shown beside the author's face, as on posts and their page."""
    replies: tuple[CommentView, ...] = ()
    mentions: Mentions = field(default_factory=dict, compare=False)
    """The people its ``@`` names (set on a comment just written, for its answer)."""


COMMENT_COLUMNS = (
    comments.c.id,
    comments.c.post_id,
    comments.c.parent_id,
    comments.c.content,
    comments.c.created_at,
    comments.c.user_id.label("author_id"),
    users.c.nick.label("author_nick"),
    comments.c.hidden_at,
    users.c.avatar.label("author_avatar"),
    users.c.avatar_ready.label("author_avatar_ready"),
    users.c.bio.label("author_bio"),
)


COMMENT_FIELDS = tuple(column.name for column in COMMENT_COLUMNS)


def comment_from_row(row: Any) -> CommentView:
    """A CommentView from a row holding ``COMMENT_COLUMNS`` (and perhaps more)."""
    mapping = row._mapping
    return CommentView(**{name: mapping[name] for name in COMMENT_FIELDS})


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


TIMELINE_COMMENTS = 3
"""A timeline shows a post's newest few comments, each with its newest few replies..."""
TIMELINE_REPLIES = 3
"""...and links to the post's page, which shows them all."""


@dataclass(frozen=True)
class Threads:
    """Threaded comments by post, and how many comments and replies each post has in all
    (visible ones: those a post's page shows), so a capped view knows what it left out."""

    comments: dict[int, tuple[CommentView, ...]]
    totals: dict[int, int]


@functools.cache
def _capped_threads_query(known: ReaderSafety | None) -> Select[Any]:
    """The statement of ``CommentService.capped_threads``, built once for each thing the
    reader may have set up (``known``; None: not known, the database is asked): the post
    ids are one expanding parameter, and building it costs more than running it."""
    thread = func.coalesce(comments.c.parent_id, literal(0))
    viewer = bindparam("viewer", type_=Integer)
    ranked = without_hidden_authors(
        select(
            *COMMENT_COLUMNS,
            func.row_number()
            .over(partition_by=(comments.c.post_id, thread), order_by=comments.c.id.desc())
            .label("rank"),
        )
        .join(users, users.c.id == comments.c.user_id)
        .where(
            comments.c.post_id.in_(bindparam("post_ids", expanding=True)),
            LIVE_USER,
            shown_comment(viewer),
        ),
        viewer,
        comments.c.user_id,
        bindparam("now", type_=DateTime),
        known,
    ).cte("ranked")
    parent = ranked.alias("parent")
    counted = (
        select(
            *(ranked.c[name] for name in COMMENT_FIELDS),
            ranked.c.rank,
            parent.c.rank.label("parent_rank"),
            func.count().over(partition_by=ranked.c.post_id).label("total"),
        )
        .select_from(ranked.outerjoin(parent, parent.c.id == ranked.c.parent_id))
        .where(or_(ranked.c.parent_id.is_(None), parent.c.id.is_not(None)))
        .subquery("counted")
    )
    comments_per_post = bindparam("comments_per_post", type_=Integer)
    replies_per_comment = bindparam("replies_per_comment", type_=Integer)
    return (
        select(counted)
        .where(
            or_(
                and_(counted.c.parent_id.is_(None), counted.c.rank <= comments_per_post),
                and_(
                    counted.c.rank <= replies_per_comment,
                    counted.c.parent_rank <= comments_per_post,
                ),
            )
        )
        .order_by(counted.c.id)
    )


class CommentService:
    def __init__(self, db: Database, notifications: NotificationService | None = None) -> None:
        self.db = db
        self.notifications = notifications

    async def comment(self, user_id: int, post_id: int, content: str) -> CommentView:
        """A comment by ``user_id`` (always the session's user) on a visible post; the
        post's author and the people it mentions are told."""
        content = clean_content(content)
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> CommentView:
            changed.clear()
            author = await lock_visible_post(conn, post_id, exclusive=False, viewer_id=user_id)
            await refuse_if_blocked(conn, user_id, author)
            view = await self._insert(conn, user_id, post_id, None, content)
            view, told = await self._notify(conn, view, COMMENT, author)
            changed.update(told)
            return view

        view = await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
        return view

    async def reply(self, user_id: int, comment_id: int, content: str) -> CommentView:
        """A reply to a comment; a reply to a reply joins the same thread (one level).
        The author of the comment answered and the people it mentions are told."""
        content = clean_content(content)
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> CommentView:
            changed.clear()
            parent = (
                await conn.execute(
                    select(
                        comments.c.id,
                        comments.c.post_id,
                        comments.c.parent_id,
                        comments.c.user_id,
                    )
                    .join(users, users.c.id == comments.c.user_id)
                    .where(comments.c.id == comment_id, LIVE_USER, shown_comment(user_id))
                )
            ).first()
            if parent is None:
                raise NotFound("There is no such comment.")
            # Locked for share: a deletion of the post waits, or has already taken the
            # comment with it (then this is a 404, not a foreign-key error).
            author = await lock_visible_post(
                conn, parent.post_id, exclusive=False, viewer_id=user_id
            )
            # Neither the post's author nor the comment's may have a block with the replier.
            await refuse_if_blocked(conn, user_id, author)
            await refuse_if_blocked(conn, user_id, parent.user_id)
            thread = parent.parent_id or parent.id
            view = await self._insert(conn, user_id, parent.post_id, thread, content)
            view, told = await self._notify(conn, view, REPLY, parent.user_id)
            changed.update(told)
            return view

        view = await self.db.write(work)
        if self.notifications is not None:
            await self.notifications.announce(changed)
        return view

    async def _notify(
        self, conn: AsyncConnection, view: CommentView, kind: str, answered: int
    ) -> tuple[CommentView, set[int]]:
        """Tell ``answered`` of the comment or reply, and the people it mentions (the one
        answered only once); the view gets its mentions, for its answer."""
        keys = keys_of([view.content])
        known = await find_handles(conn, keys) if keys else {}
        view = replace(view, mentions=known)
        if self.notifications is None:
            return view, set()
        changed = await self.notifications.add(
            conn,
            user_id=answered,
            kind=kind,
            actor_id=view.author_id,
            post_id=view.post_id,
            comment_id=view.id,
        )
        mentioned = [uid for uid in mentioned_ids(view.content, known) if uid != answered]
        if not mentioned:  # a new comment has no mentions to take back
            return view, changed
        changed |= await self.notifications.set_mentions(
            conn,
            actor_id=view.author_id,
            post_id=view.post_id,
            comment_id=view.id,
            mentioned=mentioned,
        )
        return view, changed

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
        self, conn: AsyncConnection, post_ids: Sequence[int], viewer_id: int | None = None
    ) -> dict[int, tuple[CommentView, ...]]:
        """Every comment and reply of these posts shown to ``viewer_id`` (hidden ones only
        to their authors), threaded: one query. Comments of people the viewer blocked, who
        blocked the viewer or whom the viewer muted are left out, with the replies under
        them."""
        if not post_ids:
            return {}
        query = (
            select(*COMMENT_COLUMNS)
            .join(users, users.c.id == comments.c.user_id)
            .where(comments.c.post_id.in_(post_ids), LIVE_USER, shown_comment(viewer_id))
            .order_by(comments.c.id)
        )
        if viewer_id is not None:
            query = query.where(*hidden_comments(viewer_id, utcnow(), comments.c.user_id))
        rows = await conn.execute(query)
        return thread_comments(rows)

    async def capped_threads(
        self,
        conn: AsyncConnection,
        post_ids: Sequence[int],
        viewer_id: int | None = None,
        comments_per_post: int = TIMELINE_COMMENTS,
        replies_per_comment: int = TIMELINE_REPLIES,
    ) -> Threads:
        """The newest ``comments_per_post`` comments of each post, each with its newest
        ``replies_per_comment`` replies (shown oldest first), and each post's total: one
        query for the whole page, however many comments a post has.

        Window functions rank each post's comments and each comment's replies newest first
        (SQLite 3.25+, MariaDB 10.2+); a reply counts only while its comment is visible, as
        on the post's page.
        """
        if not post_ids:
            return Threads({}, {})
        params = {
            "post_ids": list(post_ids),
            "comments_per_post": comments_per_post,
            "replies_per_comment": replies_per_comment,
            # No account has id 0: logged out, nothing is hidden.
            "viewer": viewer_id or 0,
            "now": utcnow(),
        }
        # Logged out, nothing is hidden: the filters are left out, as for a reader who is
        # known to have set nothing up.
        known = NOTHING_SET if viewer_id is None else known_safety(viewer_id)
        rows = (await conn.execute(_capped_threads_query(known), params)).all()
        totals = {row.post_id: row.total for row in rows}
        return Threads(thread_comments(rows), totals)

    async def remove_all(self, conn: AsyncConnection, post_id: int) -> None:
        """Delete a post's replies, then its comments (inside the post's own transaction)."""
        await conn.execute(
            delete(comments).where(comments.c.post_id == post_id, comments.c.parent_id.is_not(None))
        )
        await conn.execute(delete(comments).where(comments.c.post_id == post_id))

    async def remove_one(self, conn: AsyncConnection, comment_id: int) -> set[int]:
        """Delete a comment and its replies (a moderator's action, in their transaction)
        with the notifications they caused; returns the people whose unread counts moved,
        for ``NotificationService.announce`` once the transaction committed."""
        replies = select(comments.c.id).where(comments.c.parent_id == comment_id)
        ids = [comment_id, *(await conn.execute(replies)).scalars()]
        changed: set[int] = set()
        if self.notifications is not None:
            changed = await self.notifications.remove_for_comments(conn, ids)
        await conn.execute(delete(comments).where(comments.c.parent_id == comment_id))
        await conn.execute(delete(comments).where(comments.c.id == comment_id))
        return changed
