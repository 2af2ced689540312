"""What each reader is not shown: the SQL filters every list of posts or comments adds to
its own statement (#21).

The filters are here, in one place (``hidden_posts``, ``hidden_comments``, ``author_hidden``,
``without_hidden``): NOT EXISTS on a primary key or index, one probe per row shown, so a page
costs the same however many blocks or mutes a reader has (DESIGN.md; the benchmark is
bench/safety.py). Mastodon filters with growing id lists and slows down with them
(mastodon#33765). Muted words are matched by walking the post's index terms into the
reader's words. What the request knows of its reader (``sns.reader_safety``) leaves out
the filters for what the reader has none of, and most lists check the rest in Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    literal,
    or_,
    select,
)

from sns.db import utcnow
from sns.reader_safety import ReaderSafety, Viewer, known_safety
from sns.schema import blocks, muted_words, mutes, posts, search_terms
from sns.search_index import BODY_TERM

Now = datetime | BindParameter[Any] | ColumnElement[Any]


# -- the filters: one place for every list -------------------------------------------------


def _any_block(viewer: Viewer) -> ColumnElement[bool]:
    """Whether the viewer blocked anyone or was blocked by anyone. Uncorrelated, so the
    database runs it once per statement, and a reader without blocks pays no probe per
    row (SQLite and MariaDB both stop an OR at its first true side). Only for a reader
    whose ``ReaderSafety`` is not known in this request."""
    return or_(
        exists().where(blocks.c.blocker_id == viewer),
        exists().where(blocks.c.blocked_id == viewer),
    )


def _any_mute(viewer: Viewer) -> ColumnElement[bool]:
    """Whether the viewer muted anyone (ended or not): once per statement, as ``_any_block``."""
    return exists().where(mutes.c.muter_id == viewer)


def any_muted_word(viewer: Viewer) -> ColumnElement[bool]:
    """Whether the viewer muted any word: once per statement, as ``_any_block``."""
    return exists().where(muted_words.c.user_id == viewer)


def _guarded(
    known: bool | None, any_at_all: ColumnElement[bool], keep: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """``keep`` as a where-clause: none when the reader is known to have nothing of the
    kind, ``keep`` alone when known to have some, behind ``any_at_all`` when not known."""
    if known is None:
        return [or_(~any_at_all, keep)]
    return [keep] if known else []


def author_hidden(
    viewer: Viewer,
    author: ColumnElement[Any],
    now: Now,
    *,
    mutes_too: bool = True,
    known: ReaderSafety | None = None,
) -> list[ColumnElement[bool]]:
    """Clauses keeping out authors the viewer blocked, who blocked the viewer and (unless
    ``mutes_too`` is off) whom the viewer muted, the mute still in force at ``now``: only
    those the reader has any of (``known``, else ``known_safety``; not known: each
    probed per row only when the viewer has any such thing at all)."""
    known = known or known_safety(viewer)
    clauses = _guarded(
        None if known is None else known.blocks,
        _any_block(viewer),
        and_(
            ~exists().where(blocks.c.blocker_id == viewer, blocks.c.blocked_id == author),
            ~exists().where(blocks.c.blocker_id == author, blocks.c.blocked_id == viewer),
        ),
    )
    if mutes_too:
        clauses += _guarded(
            None if known is None else known.mutes,
            _any_mute(viewer),
            ~exists().where(
                mutes.c.muter_id == viewer,
                mutes.c.muted_id == author,
                or_(mutes.c.until.is_(None), mutes.c.until > now),
            ),
        )
    return clauses


def _muted_word_probe(viewer: Viewer, post_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the post holds one of the viewer's muted words, matched as search matches.

    The post's own index terms (``ix_search_terms_post_id_term``, a few dozen) are walked
    into the viewer's ``(user_id, term)`` index, and a word whose term the post has is
    checked against the post's stored body: the work per post is the number of its terms,
    not the number of muted words; none when the viewer muted no word (``any_muted_word``
    first, once per statement).
    """
    own = search_terms.alias("own_terms")
    doc = search_terms.alias("muted_doc")
    # The word lookup is a subquery of its own, run for each term of the post: planners
    # left to order a join themselves walked the viewer's words instead (measured on
    # SQLite: /following 3x slower with 200 words, bench/safety.py). Both are scalar
    # subqueries with LIMIT 1, not EXISTS: MariaDB turns a correlated EXISTS into IN and
    # then materializes it for the whole search index (/ 7x slower with 200 words).
    word = (
        select(literal(1))
        .where(
            muted_words.c.user_id == viewer,
            muted_words.c.term == own.c.term,
            doc.c.body.like(muted_words.c.pattern),
        )
        .correlate(own, doc)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(literal(1))
        .select_from(doc)
        .join(own, own.c.post_id == doc.c.post_id)
        .where(doc.c.term == BODY_TERM, doc.c.post_id == post_id, word.is_not(None))
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )


def muted_word_flag(
    viewer: Viewer, post_id: ColumnElement[Any], words: bool | None = None
) -> ColumnElement[Any]:
    """Whether the post holds a muted word, as a column (true: hide the row), for a page
    cut before it is filtered (``/following``). ``words`` says whether the reader has
    any (False: the column is a constant); not known, a CASE, which both databases
    evaluate lazily even in a select list, so a viewer without muted words pays one
    probe per statement."""
    if words is None:
        return case((any_muted_word(viewer), _muted_word_probe(viewer, post_id)), else_=False)
    return _muted_word_probe(viewer, post_id) if words else false()


def hidden_posts(
    viewer: Viewer,
    now: Now,
    author: ColumnElement[Any],
    post_id: ColumnElement[Any],
    known: ReaderSafety | None = None,
    *,
    words: bool = True,
) -> list[ColumnElement[bool]]:
    """Where-clauses for a list of posts (timelines, hashtags, search, likes, the API):
    no blocks either way, no muted authors, and unless ``words`` is off (the caller
    matches them in Python: ``ReaderSafety.hides``), no muted words; only those the
    reader has any of, when ``known`` or ``known_safety`` says."""
    known = known or known_safety(viewer)
    clauses = author_hidden(viewer, author, now, known=known)
    if words:
        clauses += _words_hidden(viewer, post_id, known)
    return clauses


def _words_hidden(
    viewer: Viewer, post_id: ColumnElement[Any], known: ReaderSafety | None
) -> list[ColumnElement[bool]]:
    """The muted-word clause of ``hidden_posts`` (none for a reader known to have none)."""
    return _guarded(
        None if known is None else known.words,
        any_muted_word(viewer),
        ~_muted_word_probe(viewer, post_id),
    )


def hidden_comments(
    viewer: Viewer, now: Now, author: ColumnElement[Any], known: ReaderSafety | None = None
) -> list[ColumnElement[bool]]:
    """Where-clauses for comments and replies under posts: blocks either way and mutes."""
    return author_hidden(viewer, author, now, known=known)


def without_hidden_authors(
    query: Select[Any],
    viewer: Viewer,
    author: ColumnElement[Any],
    now: Now,
    known: ReaderSafety | None,
) -> Select[Any]:
    """``query`` less the rows whose ``author`` the viewer blocked, who blocked the viewer,
    or whom the viewer muted, as outer joins on the two keys kept IS NULL: for a reader
    ``known`` to have some, a primary key lookup a row. MariaDB turns the NOT EXISTS of
    ``author_hidden`` into temporary tables of the reader's whole lists, filled on every
    run (a comments page: 0.16 ms against 0.07 here, with 200 of each). Not known, the
    guarded probes of ``author_hidden``."""
    if known is None:
        return query.where(*author_hidden(viewer, author, now))
    if known.blocks:
        mine, theirs = blocks.alias("blocked_by_viewer"), blocks.alias("blocking_viewer")
        query = (
            query.outerjoin(mine, and_(mine.c.blocker_id == viewer, mine.c.blocked_id == author))
            .outerjoin(theirs, and_(theirs.c.blocker_id == author, theirs.c.blocked_id == viewer))
            .where(mine.c.blocker_id.is_(None), theirs.c.blocker_id.is_(None))
        )
    if known.mutes:
        muted = mutes.alias("muted_by_viewer")
        in_force = or_(muted.c.until.is_(None), muted.c.until > now)
        query = query.outerjoin(
            muted, and_(muted.c.muter_id == viewer, muted.c.muted_id == author, in_force)
        ).where(muted.c.muter_id.is_(None))
    return query


def without_hidden(
    query: Select[Any],
    viewer_id: Viewer | None,
    *,
    mutes: bool = True,
    words: bool = True,
    now: Now | None = None,
    known: ReaderSafety | None = None,
) -> Select[Any]:
    """``query`` (over ``posts``) less what ``viewer_id`` must not see: blocks both ways,
    and unless ``mutes`` is off (a person's own page), muted authors and (unless ``words``
    is off: the caller matches them) muted words. Logged out, nothing is taken out. The
    viewer and the time may be bound parameters (a statement built once, for readers who
    have what ``known`` says: ``sns.post_queries.page_statement``)."""
    if viewer_id is None:
        return query
    if now is None:
        now = utcnow()
    if not mutes:
        return query.where(
            *author_hidden(viewer_id, posts.c.user_id, now, mutes_too=False, known=known)
        )
    return query.where(
        *hidden_posts(viewer_id, now, posts.c.user_id, posts.c.id, known, words=words)
    )
