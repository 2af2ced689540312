"""The timelines: pages of posts, newest first, each decorated for its reader.

Every timeline page costs the same few queries whatever the size of the database: one for
the page of posts (keyset-paginated on an index, from a statement built once per shape),
one for which of them the reader liked and whose authors the reader follows, one for the
newest few comments and replies of each post with the counts of all (the post's own page
shows every one). Nothing is fetched per post. While others write, what of this is the
same for every reader is read once per site version (``sns.shared_reads``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Select, select, union

from sns import text
from sns.async_sql import AsyncConnection
from sns.changes import LISTS_CHANGE, author_token, depends_on
from sns.comments import CommentService
from sns.db import Database, utcnow
from sns.decoration import PageDecoration
from sns.follows import FollowService
from sns.images import ImageService
from sns.likes import LikeService
from sns.post_queries import (
    MERGE_AUTHORS,
    newest_first,
    newest_of_authors,
    page_statement,
    visible_posts,
)
from sns.post_views import Page, PostView
from sns.reader_safety import ReaderSafety, in_memory_check, known_safety
from sns.safety_filters import any_muted_word, author_hidden, without_hidden
from sns.schema import follows, posts, users
from sns.shared_reads import shares_rows, version_read
from sns.visible import LIVE_USER, shown_post

FOLLOWING_SLACK = 10
"""Rows a page asks beyond its size when some rows are dropped after they are read
(/following's posts hidden by moderators and muted words; every timeline's blocked and
muted authors and muted words when they came with the reader, ``in_memory_check``): so
many may be dropped from a page and it is still full, in the same one statement."""
FOLLOWING_ROUNDS = 2
"""Times such a page asks again at most when more than ``FOLLOWING_SLACK`` rows of it were
hidden: a page costs at most this many statements more, whatever is muted."""
EXTRA_COLUMNS = frozenset({"hidden"})
"""Columns a filtered page reads beside ``POST_COLUMNS``, to tell whether to show a row."""


SHARED_LIST_CHANGES = {"all": LISTS_CHANGE, "hashtag": LISTS_CHANGE}
"""What the shared rows of each list depend on besides their posts (``sns.changes``); a
list not named here (a person's likes) is read again after any write."""


class PostPages(PageDecoration):
    """The reading half of ``PostService``: timelines, hashtags, a person's posts, likes,
    /following, and the decoration every page of posts gets."""

    db: Database
    page_size: int
    comments: CommentService
    likes: LikeService
    follows: FollowService
    images: ImageService | None

    async def _read_page(
        self,
        conn: AsyncConnection,
        statement: Select[Any],
        size: int,
        viewer_id: int | None,
        params: dict[str, Any] | None = None,
    ) -> Page:
        """Run a statement that gives up to ``size + 1`` posts newest first; decorate them."""
        rows = (await conn.execute(statement, params)).all()
        views = [PostView(**row._mapping) for row in rows[:size]]
        views = await self._decorate(conn, views, viewer_id)
        has_more = len(rows) > size
        return Page(views, views[-1].id if has_more and views else None)

    async def page_of_posts(
        self,
        query: Select[Any],
        key: ColumnElement[int],
        before: int | None,
        viewer_id: int | None,
        *,
        limit: int | None = None,
        mutes: bool = True,
        shared_as: Hashable | None = None,
        list_changes: frozenset[str] | None = None,
    ) -> Page:
        """A timeline page of a query over ``POST_COLUMNS`` (here, or built elsewhere: search),
        walked newest first on ``key`` and decorated for the reader like every timeline.
        Posts hidden by moderators are left out here, for every such page, but the reader's
        own.

        What the reader must not see (``sns.safety_filters.without_hidden``: blocks, and unless
        ``mutes`` is off, mutes and muted words) is left out in the same statement. Named
        ``shared_as``, its rows are shared by every reader as ``_listed``'s are, for as
        long as nothing they or ``list_changes`` name changes (``sns.changes``)."""
        size = limit or self.page_size
        known = known_safety(viewer_id) if viewer_id is not None else None
        check = in_memory_check(known, utcnow(), mutes=mutes)
        version = version_read()
        if (
            shared_as is not None
            and size == self.page_size
            and self.shared is not None
            and version is not None
            and shares_rows(viewer_id, check.sql, mutes)
        ):

            def shared_statement(cursor: int | None, rows: int) -> tuple[Any, dict[str, Any]]:
                return newest_first(query, key, cursor, rows - 1), {}

            return await self._from_shared_rows(
                ("rows", shared_as),
                shared_statement,
                list_changes,
                (before, viewer_id, check.hidden, version),
            )
        query = without_hidden(query, viewer_id, mutes=mutes, known=check.sql)
        query = query.where(shown_post(viewer_id))
        return await self._page_below(
            lambda cursor, rows: (newest_first(query, key, cursor, rows - 1), None),
            before,
            size,
            viewer_id,
            check.hidden,
        )

    async def _page_below(
        self,
        statement_for: Callable[[int | None, int], tuple[Select[Any], dict[str, Any] | None]],
        before: int | None,
        size: int,
        viewer_id: int | None,
        hidden: Callable[[Any], bool] | None,
    ) -> Page:
        """A page of the posts below ``before`` from ``statement_for(cursor, rows)``: one
        statement of a page and one row more; or, when some of what the reader must not
        see is checked on the rows in Python (``hidden``: ``in_memory_check``),
        ``_filtered_page`` over a few rows more than a page."""
        async with self.db.read() as conn:
            if hidden is None:
                statement, params = statement_for(before, size + 1)
                return await self._read_page(conn, statement, size, viewer_id, params)

            async def rows_below(cursor: int | None, window: int) -> Sequence[Any]:
                statement, params = statement_for(cursor, window)
                rows: Sequence[Any] = (await conn.execute(statement, params)).all()
                return rows

            return await self._filtered_page(conn, rows_below, before, size, viewer_id, hidden)

    async def _listed(
        self,
        source: str,
        params: dict[str, Any],
        before: int | None,
        viewer_id: int | None,
        *,
        mutes: bool = True,
    ) -> Page:
        """A page of one of ``page_statement``'s lists, as ``page_of_posts`` gives it, from
        a statement built once per shape: the shape of the list, the cursor and what the
        reader has set up (``known_safety``: filters for nothing are left out)."""
        size = self.page_size
        known = known_safety(viewer_id) if viewer_id is not None else None
        now = utcnow()
        # What the reader's kept row tells is checked on the rows; the rest stays in SQL.
        check = in_memory_check(known, now, mutes=mutes)
        shape = None if check.sql is None else (check.sql.blocks, check.sql.mutes, check.sql.words)
        version = version_read()
        if (
            self.shared is not None
            and version is not None
            and shares_rows(viewer_id, check.sql, mutes)
        ):
            return await self._shared_page(source, params, before, viewer_id, check.hidden, version)
        values = dict(params)
        if viewer_id is not None:
            values.update(viewer=viewer_id, now=now)

        def statement_for(cursor: int | None, rows: int) -> tuple[Select[Any], dict[str, Any]]:
            statement = page_statement(
                source, viewer_id is not None, mutes, cursor is not None, shape
            )
            return statement, {**values, "before": cursor, "limit": rows}

        return await self._page_below(statement_for, before, size, viewer_id, check.hidden)

    async def _shared_page(
        self,
        source: str,
        params: dict[str, Any],
        before: int | None,
        viewer_id: int | None,
        hidden: Callable[[Any], bool] | None,
        version: int,
    ) -> Page:
        """``_listed``'s page from the rows every reader shares (``_from_shared_rows``)."""
        statement = page_statement(source, False, True, False, (False,) * 3, with_hidden=True)
        below = page_statement(source, False, True, True, (False,) * 3, with_hidden=True)
        list_changes = SHARED_LIST_CHANGES.get(source)
        if source == "author":
            list_changes = frozenset({author_token(params["author"])})

        def statement_for(cursor: int | None, window: int) -> tuple[Any, dict[str, Any]]:
            values = {**params, "before": cursor, "limit": window}
            return (below if cursor is not None else statement), values

        list_key = ("rows", source, tuple(sorted(params.items())))
        reader = (before, viewer_id, hidden, version)
        return await self._from_shared_rows(list_key, statement_for, list_changes, reader)

    async def _from_shared_rows(
        self,
        list_key: tuple[Any, ...],
        statement_for: Callable[[int | None, int], tuple[Any, dict[str, Any]]],
        list_changes: frozenset[str] | None,
        reader: tuple[int | None, int | None, Callable[[Any], bool] | None, int],
    ) -> Page:
        """A page from the rows every reader shares at the version read: those of the
        statement of a reader with nothing set up, moderators' hidden posts still among
        them, each kept for its author alone here, and ``hidden`` (the reader's kept
        authors and words) checked on each. ``reader`` is the cursor, the reader, their
        ``hidden`` and the version."""
        shared = self.shared
        assert shared is not None
        before, viewer_id, hidden, version = reader

        async def rows_below(cursor: int | None, window: int) -> Sequence[Any]:
            key = (*list_key, cursor, window)
            rows: tuple[PostView, ...] | None = shared.get(version, key)
            if rows is None:
                statement, values = statement_for(cursor, window)
                found = await conn.execute(statement, values)
                rows = tuple(PostView(**row._mapping) for row in found)
                shared.put(version, key, rows, depends_on(list_changes, (r.id for r in rows)))
            return rows

        def not_shown(view: PostView) -> bool:
            if view.hidden_at is not None and view.author_id != viewer_id:
                return True
            return hidden is not None and hidden(view)

        async with self.db.read_if_needed() as conn:
            return await self._filtered_page(
                conn, rows_below, before, self.page_size, viewer_id, not_shown
            )

    async def timeline(self, before: int | None = None, viewer_id: int | None = None) -> Page:
        """Everyone's posts, newest first."""
        page = await self._listed("all", {}, before, viewer_id)
        return replace(page, changes=LISTS_CHANGE)

    async def by_hashtag(
        self, title: str, before: int | None = None, viewer_id: int | None = None
    ) -> Page:
        """Posts carrying #title (folded as stored), newest first."""
        page = await self._listed("hashtag", {"title": text.fold_hashtag(title)}, before, viewer_id)
        return replace(page, changes=LISTS_CHANGE)

    async def by_user(
        self, author_id: int, before: int | None = None, viewer_id: int | None = None
    ) -> Page:
        """One author's posts, newest first (served by the (user_id, id) index); a mute
        does not empty a person's own page, a block does."""
        return await self._listed("author", {"author": author_id}, before, viewer_id, mutes=False)

    async def following(self, viewer_id: int, before: int | None = None) -> Page:
        """Posts of the people ``viewer_id`` follows, and their own, newest first.

        Up to ``MERGE_AUTHORS`` authors, each author's newest posts before the cursor are
        taken from the (user_id, id) index and merged: a page costs the same whether the
        authors wrote yesterday or years ago. Walking the posts newest first and keeping
        those of the authors stopped only after a page of theirs, which for quiet authors
        on a busy site meant most of the posts index (bench/timeline.py, "quiet").
        Beyond that many authors the walk is kept: so many of them fill a page soon.
        """
        now = utcnow()
        known = known_safety(viewer_id)
        # Whether the reader muted any word: known, or asked along with the authors.
        asked = [] if known else [any_muted_word(viewer_id).label("words")]
        # Accounts kept with the reader are left out here, not by a probe a followed author.
        kept = None
        in_sql = known
        if known is not None and (known.blocks or known.mutes) and known.authors is not None:
            kept, in_sql = known.authors, ReaderSafety(False, False, known.words)
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(follows.c.following_id, *asked)
                    .join(users, users.c.id == follows.c.following_id)
                    .where(
                        follows.c.follower_id == viewer_id,
                        LIVE_USER,
                        *author_hidden(viewer_id, follows.c.following_id, now, known=in_sql),
                    )
                    .limit(MERGE_AUTHORS)
                )
            ).all()
            authors = [
                row.following_id
                for row in rows
                if kept is None or not kept.hides(row.following_id, now)
            ]
            size = self.page_size
            if len(rows) < MERGE_AUTHORS:
                authors.append(viewer_id)
                # Following nobody, the answer does not say: allow for muted words.
                words = known.words if known else bool(rows[0].words) if rows else True
                page = await self._merged_page(conn, authors, before, size, viewer_id, words)
                # Whom the reader follows is theirs (their version); what the page shows
                # changes with those people's posts coming or going.
                return replace(page, changes=frozenset(author_token(a) for a in authors))
            everyone = union(
                select(follows.c.following_id).where(follows.c.follower_id == viewer_id),
                select(users.c.id).where(users.c.id == viewer_id),
            )
            query = without_hidden(
                visible_posts().where(posts.c.user_id.in_(everyone), shown_post(viewer_id)),
                viewer_id,
            )
            page = await self._read_page(
                conn, newest_first(query, posts.c.id, before, size), size, viewer_id
            )
            return replace(page, changes=LISTS_CHANGE)

    async def _merged_page(
        self,
        conn: AsyncConnection,
        authors: list[int],
        before: int | None,
        size: int,
        viewer_id: int,
        words: bool,
    ) -> Page:
        """/following's merge of ``authors``' newest posts (``newest_of_authors``), less the
        posts holding a word the reader muted, which are dropped after the cut: matched in
        Python when the reader's words are in memory (``ReaderSafety.hides``), else by the
        statement's ``hidden`` column."""
        params: dict[str, Any] = {f"author_{n}": author for n, author in enumerate(authors)}
        params["viewer"] = viewer_id
        known = known_safety(viewer_id)
        in_memory = words and known is not None and known.words_in_memory

        async def rows_below(cursor: int | None, window: int) -> Sequence[Any]:
            params.update(before=cursor, each=window)
            statement = newest_of_authors(len(authors), cursor is not None, words and not in_memory)
            rows: Sequence[Any] = (await conn.execute(statement, params)).all()
            return rows

        def hidden(row: Any) -> bool:
            if row.hidden:
                return True
            return in_memory and known is not None and known.hides_content(row.content)

        return await self._filtered_page(
            conn, rows_below, before, size, viewer_id, hidden, slack=words
        )

    async def _filtered_page(
        self,
        conn: AsyncConnection,
        rows_below: Callable[[int | None, int], Awaitable[Sequence[Any]]],
        before: int | None,
        size: int,
        viewer_id: int | None,
        hidden: Callable[[Any], bool],
        *,
        slack: bool = True,
    ) -> Page:
        """A page of rows newest first (``rows_below(cursor, window)`` gives up to
        ``window`` of them below ``cursor``, their key being the post id), less those
        ``hidden`` says not to show (a muted word, or hidden by a moderator: /following),
        which are dropped after the rows are read.

        Without ``slack`` (a reader without muted words) a page is one statement of a page
        and one row more, as before muted words existed. With it the statement asks
        ``FOLLOWING_SLACK`` rows more, so up to that many hidden rows still leave a full
        page. When more were hidden, it asks again below the last row it got, at most
        ``FOLLOWING_ROUNDS`` times more (then the page may be short, and the cursor still
        goes past what was hidden): so a post a moderator hid costs a reader without
        muted words one statement more on the page it would have been on.
        """
        window = size + 1 + (FOLLOWING_SLACK if slack else 0)
        shown: list[Any] = []
        cursor = before
        for _ in range(1 + FOLLOWING_ROUNDS):
            rows = await rows_below(cursor, window)
            shown += [row for row in rows if not hidden(row)]
            more = len(rows) == window  # there may be more below its last row
            if len(shown) > size or not more:
                break
            cursor = rows[-1].id
        views = [
            row
            if isinstance(row, PostView)
            else PostView(
                **{key: value for key, value in row._mapping.items() if key not in EXTRA_COLUMNS}
            )
            for row in shown[:size]
        ]
        views = await self._decorate(conn, views, viewer_id)
        if len(shown) > size:
            return Page(views, views[-1].id)
        # Rounds ran out with more to come: go on below what was hidden.
        return Page(views, rows[-1].id if more else None)

    async def liked_by(self, viewer_id: int, before: int | None = None) -> Page:
        """Posts ``viewer_id`` liked, newest post first (the likes primary key serves it)."""
        return await self._listed("liked", {"liker": viewer_id}, before, viewer_id)
