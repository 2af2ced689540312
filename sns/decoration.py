"""The decoration of a page of posts: what it shows besides the posts' own rows.

Each post's newest comments and replies (or all of them, on its own page) with their
total, the people its texts name, its pictures, and the reader's hearts and follows: four
statements for a whole page, however many posts, comments or users. All but the hearts
and follows are shared, post by post, by the readers who see the same (``SharedPost``,
under the site version a request read: ``sns.shared_reads``).
"""

from __future__ import annotations

import functools
from collections.abc import Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, select

from sns.async_sql import AsyncConnection
from sns.changes import post_token
from sns.comments import CommentService, CommentView
from sns.db import utcnow
from sns.handles import Mentions, find_handles, keys_of
from sns.images import ImageService
from sns.pictures import Picture, pictures_of
from sns.post_queries import MARKS_LIMIT, reader_marks, reader_state
from sns.reader_safety import ReaderSafety, known_safety
from sns.schema import comments
from sns.shared_reads import reader_version_read, version_read

if TYPE_CHECKING:
    from sns.changes import ChangeAwareCache
    from sns.pagecache import VersionedCache
    from sns.post_views import PostView
    from sns.reader_versions import ReaderCache


@functools.cache
def commenters_of() -> Select[Any]:
    """Who commented or replied on each of these posts (``post_ids``), and whether a
    moderator hid any of theirs: whether a reader's blocks, mutes or own hidden comments
    could make a post's comments differ for them. One walk of the comments' post index."""
    return (
        select(
            comments.c.post_id,
            comments.c.user_id,
            comments.c.hidden_at.is_not(None).label("hidden"),
        )
        .where(comments.c.post_id.in_(bindparam("post_ids", expanding=True)))
        .distinct()
    )


@dataclass(frozen=True)
class Decoration:
    """What a page of posts shows besides the posts' own rows and the reader's hearts and
    follows: each post's comments (the newest few, or all) with the total, the people
    its texts name, its pictures."""

    threads: dict[int, tuple[CommentView, ...]]
    totals: dict[int, int]
    mentions: dict[int, Mentions]
    pictures: dict[int, tuple[Picture, ...]]

    def of(
        self, post_id: int
    ) -> tuple[tuple[CommentView, ...], int, Mentions, tuple[Picture, ...]]:
        """One post's comments, total, names and pictures."""
        return (
            self.threads.get(post_id, ()),
            self.totals.get(post_id, 0),
            self.mentions[post_id],
            self.pictures.get(post_id, ()),
        )


def _dressed(
    view: PostView,
    comments: tuple[CommentView, ...],
    total: int,
    mentions: Mentions,
    pictures: tuple[Picture, ...],
) -> PostView:
    """``view`` with its comments, names and pictures, without the reader's marks."""
    return replace(
        view,
        pictures=pictures,
        liked=False,
        author_followed=False,
        comments=comments,
        comment_count=total,
        mentions=mentions,
    )


def decorated(view: PostView, decoration: Decoration) -> PostView:
    """``view`` decorated from a page's ``Decoration``."""
    return _dressed(view, *decoration.of(view.id))


def _marked(view: PostView, liked: Set[int], followed: Set[int]) -> PostView:
    """``view`` with the reader's heart and follow: the view itself when it has neither,
    else a copy with them set (a shallow copy of its fields: ``dataclasses.replace`` runs
    the whole constructor, a twentieth of the loop while others wrote, py-spy)."""
    heart, follow = view.id in liked, view.author_id in followed
    if not heart and not follow:
        return view
    copy = object.__new__(type(view))
    fields = copy.__dict__
    fields.update(view.__dict__)
    fields["liked"] = heart
    fields["author_followed"] = follow
    return copy


@dataclass(frozen=True)
class SharedPost:
    """One post's comments (the newest few, with the total), the people its texts name and
    its pictures, as every reader sees them who hides none of its commenters
    (``commenters``) and wrote none of its hidden comments (``hidden_commenters``): read
    once per site version for every page and reader it is on."""

    comments: tuple[CommentView, ...]
    total: int
    mentions: Mentions
    pictures: tuple[Picture, ...]
    commenters: frozenset[int]
    hidden_commenters: frozenset[int]
    last: list[PostView] = field(default_factory=list, compare=False)
    """The post as last read and as decorated (the shared rows' own object, or an equal
    one: /following and search read their rows per reader)."""

    def fits(self, viewer_id: int, known: ReaderSafety | None, now: datetime) -> bool:
        """Whether ``viewer_id`` sees exactly this: a reader with blocks or mutes that
        were not kept with their row (too many, or not known) fits a post nobody
        commented on."""
        if viewer_id in self.hidden_commenters:
            return False
        if not self.commenters:
            return True
        if known is None:
            return False
        if not (known.blocks or known.mutes):
            return True
        if known.authors is None:
            return False
        return not any(known.authors.hides(author, now) for author in self.commenters)

    def decorated(self, view: PostView) -> PostView:
        """``view`` decorated, once for every reader who reads the same post."""
        last = self.last
        if last and (last[0] is view or last[0] == view):
            return last[1]
        done = _dressed(view, self.comments, self.total, self.mentions, self.pictures)
        last[:] = [view, done]
        return done


@dataclass(frozen=True)
class Marks:
    """A reader's hearts on the posts from ``floor`` up, and everyone they follow: what
    only their own likes and follows change (and writes that touch everyone)."""

    floor: int
    liked: frozenset[int]
    followed: frozenset[int]


class PageDecoration:
    """How ``PostPages`` decorates its pages for a reader."""

    comments: CommentService
    images: ImageService | None
    shared: VersionedCache[Any] | ChangeAwareCache[Any] | None = None
    """Lists and decorations every reader shares under a site version (``sns.shared_reads``;
    None: every reader reads their own)."""
    readers: ReaderCache[Any] | None = None
    """Each reader's ``Marks``, under their reader version (``sns.reader_versions``)."""

    async def _decorate(
        self,
        conn: AsyncConnection,
        views: list[PostView],
        viewer_id: int | None,
        *,
        every_comment: bool = False,
    ) -> list[PostView]:
        """Add the reader's likes and follows, and the comments and replies of the page
        (every one on a post's page, the newest few per post on a timeline), and the
        pictures: four queries however many posts, comments or users there are, of which
        only the first is the reader's own when the rest is shared (``_shared_decoration``)."""
        if not views:
            return views
        liked: Set[int] = set()
        followed: Set[int] = set()
        if viewer_id is not None:
            liked, followed = await self._marks(conn, viewer_id, views)
        if viewer_id is not None and not every_comment:
            shared = await self._shared_posts(conn, views)
            if shared is not None:
                return await self._from_shared(conn, views, shared, viewer_id, liked, followed)
        decoration = await self._decoration(conn, views, viewer_id, every_comment)
        self._look_again(decoration)
        return [_marked(decorated(view, decoration), liked, followed) for view in views]

    async def _from_shared(
        self,
        conn: AsyncConnection,
        views: list[PostView],
        shared: list[SharedPost],
        viewer_id: int,
        liked: Set[int],
        followed: Set[int],
    ) -> list[PostView]:
        """The page from each post as every reader sees it, but for the posts whose
        comments differ for this reader (a commenter they block or mute, a hidden comment
        of their own), which are decorated for them alone."""
        known, now = known_safety(viewer_id), utcnow()
        own = [
            view
            for view, post in zip(views, shared, strict=True)
            if not post.fits(viewer_id, known, now)
        ]
        mine = await self._decoration(conn, own, viewer_id, False) if own else None
        out = []
        for view, post in zip(views, shared, strict=True):
            if mine is not None and view.id in mine.mentions:
                done = decorated(view, mine)
            else:
                done = post.decorated(view)
            if self.images is not None and done.pictures:
                self.images.look_again(done.pictures)
            out.append(_marked(done, liked, followed))
        return out

    def _look_again(self, decoration: Decoration) -> None:
        if self.images is not None:
            self.images.look_again(p for shown in decoration.pictures.values() for p in shown)

    async def _marks(
        self, conn: AsyncConnection, viewer_id: int, views: list[PostView]
    ) -> tuple[Set[int], Set[int]]:
        """Which of the page's posts the reader liked, and whom they follow: kept under
        their reader version (``Marks``) when there is one, else one statement a page."""
        ids = [view.id for view in views]
        version = reader_version_read()
        if version is not None and self.readers is not None:
            floor = min(ids)
            kept: Marks | None = self.readers.get(version, ("marks", viewer_id))
            if kept is not None and kept.floor <= floor:
                return kept.liked, kept.followed
            params = {"viewer": viewer_id, "floor": floor, "limit": MARKS_LIMIT + 1}
            rows = (await conn.execute(reader_marks(), params)).all()
            liked = frozenset(found for kind, found in rows if kind == 0)
            followed = frozenset(found for kind, found in rows if kind == 1)
            if len(liked) <= MARKS_LIMIT and len(followed) <= MARKS_LIMIT:
                self.readers.put(version, ("marks", viewer_id), Marks(floor, liked, followed))
                return liked, followed
        # What the reader liked and whom they follow, of this page: one statement for both.
        authors = sorted({view.author_id for view in views})
        rows = (
            await conn.execute(
                reader_state(), {"viewer": viewer_id, "post_ids": ids, "author_ids": authors}
            )
        ).all()
        return (
            {found for kind, found in rows if kind == 0},
            {found for kind, found in rows if kind == 1},
        )

    async def _shared_posts(
        self, conn: AsyncConnection, views: list[PostView]
    ) -> list[SharedPost] | None:
        """Each post of the page as every reader who hides none of its commenters sees it,
        read once per site version and post for every page it is on (``sns.shared_reads``):
        the posts no page read yet at this version, in four statements however many."""
        version = version_read()
        shared = self.shared
        if shared is None or version is None:
            return None
        found: dict[int, SharedPost] = {}
        missing = []
        for view in views:
            post: SharedPost | None = shared.get(version, ("post", view.id))
            if post is None:
                missing.append(view)
            else:
                found[view.id] = post
        if missing:
            ids = [view.id for view in missing]
            by_post: dict[int, list[Any]] = {}
            for row in await conn.execute(commenters_of(), {"post_ids": ids}):
                by_post.setdefault(row.post_id, []).append(row)
            decoration = await self._decoration(conn, missing, None, False)
            for view in missing:
                mine = by_post.get(view.id, [])
                post = SharedPost(
                    *decoration.of(view.id),
                    frozenset(row.user_id for row in mine),
                    frozenset(row.user_id for row in mine if row.hidden),
                )
                shared.put(version, ("post", view.id), post, (post_token(view.id),))
                found[view.id] = post
        return [found[view.id] for view in views]

    async def _decoration(
        self,
        conn: AsyncConnection,
        views: list[PostView],
        viewer_id: int | None,
        every_comment: bool,
    ) -> Decoration:
        """The comments, names and pictures of a page as ``viewer_id`` sees them."""
        ids = [view.id for view in views]
        if every_comment:
            threads = await self.comments.threads(conn, ids, viewer_id)
            totals = {
                post_id: sum(1 + len(comment.replies) for comment in thread)
                for post_id, thread in threads.items()
            }
        else:
            capped = await self.comments.capped_threads(conn, ids, viewer_id)
            threads, totals = capped.comments, capped.totals
        # The ``@`` of the page's posts and comments: at most one more query, on the
        # handles' unique index, however many there are. Each post gets the people its
        # own texts name, so that how it is drawn depends on nothing else on the page
        # (``sns.fragments``).
        named: dict[int, set[str]] = {}
        for view in views:
            texts = [view.content]
            for comment in threads.get(view.id, ()):
                texts.append(comment.content)
                texts.extend(reply.content for reply in comment.replies)
            named[view.id] = keys_of(texts)
        keys = set().union(*named.values())
        found = await find_handles(conn, keys) if keys else {}
        mentions = {
            post_id: {key: found[key] for key in sorted(wanted) if key in found}
            for post_id, wanted in named.items()
        }
        return Decoration(threads, totals, mentions, await pictures_of(conn, ids))
