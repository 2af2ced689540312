"""The statements every list of posts is built from, shared by timelines, search and the API.

Each gives rows of ``POST_COLUMNS`` (what ``PostView`` holds before it is decorated for a
reader) of posts whose author still has an account, and lets the caller walk them newest
first on an index (``newest_first``); none runs anything itself.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    literal,
    or_,
    select,
    union_all,
)

from sns.reader_safety import ReaderSafety
from sns.safety_filters import muted_word_flag, without_hidden
from sns.schema import follows, hashtags, likes, post_hashtags, posts, users
from sns.visible import LIVE_USER, shown_post

POST_COLUMNS = (
    posts.c.id,
    posts.c.content,
    posts.c.img,
    posts.c.like_count,
    posts.c.created_at,
    posts.c.updated_at,
    posts.c.hidden_at,
    posts.c.user_id.label("author_id"),
    users.c.nick.label("author_nick"),
    users.c.avatar.label("author_avatar"),
    users.c.avatar_ready.label("author_avatar_ready"),
    users.c.handle.label("author_handle"),
    users.c.bio.label("author_bio"),
)


def visible_posts() -> Select[Any]:
    """Posts whose author still has an account, with the author's nick."""
    return select(*POST_COLUMNS).join(users, users.c.id == posts.c.user_id).where(LIVE_USER)


def hashtag_id(folded: str | ColumnElement[str]) -> Select[Any]:
    """The id of the hashtag stored as ``folded`` (no row if nobody ever used it)."""
    return select(hashtags.c.id).where(hashtags.c.title == folded)


def _linked_posts(link: Column[int], *where: ColumnElement[bool]) -> Select[Any]:
    """Visible posts reached from the rows of ``link``'s table (a post id column) that
    match ``where``: the link table comes first, so its index sets the order."""
    return (
        select(*POST_COLUMNS)
        .select_from(link.table)
        .join(posts, posts.c.id == link)
        .join(users, users.c.id == posts.c.user_id)
        .where(*where, LIVE_USER)
    )


def hashtag_posts(tag_id: int | ColumnElement[int]) -> Select[Any]:
    """Visible posts carrying the hashtag ``tag_id``; walk them on ``post_hashtags.c.post_id``."""
    return _linked_posts(post_hashtags.c.post_id, post_hashtags.c.hashtag_id == tag_id)


def liked_posts(user_id: int | ColumnElement[int]) -> Select[Any]:
    """Visible posts ``user_id`` liked; walk them on ``likes.c.post_id`` (the likes key)."""
    return _linked_posts(likes.c.post_id, likes.c.user_id == user_id)


def author_posts(author_id: int | ColumnElement[int]) -> Select[Any]:
    """One author's visible posts (the (user_id, id) index serves them newest first)."""
    return visible_posts().where(posts.c.user_id == author_id)


def newest_first(
    query: Select[Any], key: ColumnElement[int], before: int | None, limit: int
) -> Select[Any]:
    """A keyset page of ``query``: rows with ``key`` below ``before``, newest first, one
    more than ``limit`` so the caller knows whether another page follows.

    The joins run in the written order, so MySQL walks the index of ``key`` newest first and
    stops after a page; left to itself it starts from the small users table and sorts every
    post (measured: bench/timeline.py, 30-100x slower at 100k posts).
    """
    if before is not None:
        query = query.where(key < before)
    return query.order_by(key.desc()).limit(limit + 1).prefix_with("STRAIGHT_JOIN", dialect="mysql")


SOURCES = ("all", "hashtag", "author", "liked")
"""The lists of posts ``page_statement`` builds: everyone's, one hashtag's (bound as
``title``, folded), one author's (``author``), the posts one person liked (``liker``)."""


@functools.lru_cache(maxsize=256)
def page_statement(
    source: str,
    logged_in: bool,
    mutes: bool,
    with_before: bool,
    safety: tuple[bool, bool, bool] | None = None,
    *,
    with_hidden: bool = False,
) -> Select[Any]:
    """A timeline page of ``source`` as ``newest_first`` gives it, less what the reader
    must not see (``without_hidden``, ``shown_post``), built once per shape with the reader
    (``viewer``), the time (``now``), the cursor (``before``) and the rows (``limit``)
    bound: building the statement cost more than running it (py-spy, #22), and SQLAlchemy
    compiles a statement it has seen once from its cache.

    ``safety`` is what the reader has, as ``ReaderSafety``'s (blocks, mutes, words): a
    filter for what they have none of is left out (#21); None, not known: each filter
    asks the database. What the caller checks on the rows in Python
    (``sns.reader_safety.in_memory_check``) is said as none here. ``with_hidden``: the
    posts moderators hid stay in, for the caller to show to their authors alone (the rows
    every reader shares, ``sns.shared_reads``)."""
    if source == "all":
        query, key = visible_posts(), posts.c.id
    elif source == "hashtag":
        tag = hashtag_id(bindparam("title", type_=String)).scalar_subquery()
        query, key = hashtag_posts(tag), post_hashtags.c.post_id
    elif source == "author":
        query, key = author_posts(bindparam("author", type_=Integer)), posts.c.id
    elif source == "liked":
        query, key = liked_posts(bindparam("liker", type_=Integer)), likes.c.post_id
    else:
        raise ValueError(f"no list of posts {source!r}")
    viewer = bindparam("viewer", type_=Integer) if logged_in else None
    now = bindparam("now", type_=DateTime)
    known = None if safety is None else ReaderSafety(*safety)
    query = without_hidden(query, viewer, mutes=mutes, now=now, known=known)
    if not with_hidden:
        query = query.where(shown_post(viewer))
    if with_before:
        query = query.where(key < bindparam("before", type_=Integer))
    return (
        query.order_by(key.desc())
        .limit(bindparam("limit", type_=Integer, literal_execute=True))
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
    )


@functools.cache
def reader_state() -> CompoundSelect[Any]:
    """Which of a page's posts (``post_ids``) the reader (``viewer``) liked, and which of
    its authors (``author_ids``) they follow, in one statement: rows of (``kind``, ``id``),
    kind 0 a liked post, 1 a followed author."""
    viewer = bindparam("viewer", type_=Integer)
    liked = select(literal(0).label("kind"), likes.c.post_id.label("id")).where(
        likes.c.user_id == viewer, likes.c.post_id.in_(bindparam("post_ids", expanding=True))
    )
    followed = select(literal(1).label("kind"), follows.c.following_id.label("id")).where(
        follows.c.follower_id == viewer,
        follows.c.following_id.in_(bindparam("author_ids", expanding=True)),
    )
    return union_all(liked, followed)


MARKS_LIMIT = 2000
"""The most liked posts and followed people ``reader_marks`` keeps of a reader; one with
more has each page's asked (``reader_state``)."""


@functools.cache
def reader_marks() -> CompoundSelect[Any]:
    """The posts from ``floor`` up the reader (``viewer``) liked, and everyone they follow,
    up to ``limit`` of each: rows of (``kind``, ``id``) as ``reader_state`` gives them, for
    every page of newer posts until the reader likes or follows again
    (``sns.reader_versions``). Two ranges of the likes' and follows' primary keys."""
    viewer = bindparam("viewer", type_=Integer)
    limit = bindparam("limit", type_=Integer, literal_execute=True)
    liked = (
        select(likes.c.post_id.label("id"))
        .where(likes.c.user_id == viewer, likes.c.post_id >= bindparam("floor", type_=Integer))
        .limit(limit)
        .subquery("liked")
    )
    followed = (
        select(follows.c.following_id.label("id"))
        .where(follows.c.follower_id == viewer)
        .limit(limit)
        .subquery("followed")
    )
    return union_all(
        select(literal(0).label("kind"), liked.c.id),
        select(literal(1).label("kind"), followed.c.id),
    )


MERGE_AUTHORS = 100
"""/following merges per-author pages for someone who follows fewer than this many accounts
(SQLite allows a compound SELECT of 500 parts); someone following more gets the walk of
the posts index, which so many authors end soon."""


@functools.lru_cache(maxsize=4 * MERGE_AUTHORS)
def newest_of_authors(authors: int, with_before: bool, words: bool = True) -> Select[Any]:
    """A page of the newest visible posts of ``authors`` authors (bound as ``author_0``...),
    before the cursor ``before`` if ``with_before``, ``each`` rows at most.

    One UNION ALL of per-author subqueries, each a short range of the (user_id, id) index
    giving the author's newest ``each`` ids; the outer query sorts the few rows they give,
    never the posts index. The newest ``each`` posts of all the authors are among them, so
    the page (``each`` = a page and one more, to tell whether more follow) is exact, in
    keyset order. Built once per shape: building 200 subqueries costs more than running them.

    Blocked and muted authors are not among the authors (the caller leaves them out). Each
    row of the cut page carries ``hidden``: a moderator hid it (and the reader, bound as
    ``viewer``, is not its author), or it holds a word the reader muted. That is checked on
    the page alone, after the cut, not on every row of every author's part (21 x 21 rows
    for a page of 20): the parts read the (user_id, id) index alone, never a post's row
    (measured on MariaDB at 100,000 posts: 2.1 -> 1.3 ms). The caller drops those rows, and
    asks for a little more than a page (``each``) when the reader has muted words, so that
    the page stays full. With ``words`` off (a reader known to have no muted word, or whose
    words are matched in Python on each row's ``content``) only what moderators hid counts.
    """
    viewer = bindparam("viewer", type_=Integer)
    before = bindparam("before", type_=Integer)
    each = bindparam("each", type_=Integer)
    parts = []
    for number in range(authors):
        newest = select(posts.c.id).where(posts.c.user_id == bindparam(f"author_{number}"))
        if with_before:
            newest = newest.where(posts.c.id < before)
        parts.append(select(newest.order_by(posts.c.id.desc()).limit(each).subquery().c.id))
    chosen = union_all(*parts).subquery("chosen")
    cut = (
        select(*POST_COLUMNS)
        .select_from(chosen)
        .join(posts, posts.c.id == chosen.c.id)
        .join(users, users.c.id == posts.c.user_id)
        .where(LIVE_USER)
        .order_by(chosen.c.id.desc())
        .limit(each)
        .prefix_with("STRAIGHT_JOIN", dialect="mysql")
        .subquery("cut")
    )
    by_moderators = and_(cut.c.hidden_at.is_not(None), cut.c.author_id != viewer)
    hidden = (
        or_(by_moderators, muted_word_flag(viewer, cut.c.id, words)) if words else by_moderators
    )
    columns = [*cut.c, hidden.label("hidden")]
    return select(*columns).order_by(cut.c.id.desc())
