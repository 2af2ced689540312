"""Blocks, mutes and muted words: who may act on whom, and what each reader is not shown.

A block works both ways: neither sees the other's posts or comments anywhere, and the
blocked person cannot follow, like, comment on or reply to the blocker (a ``Forbidden``
that never says "blocked" to them). A mute (forever, or until a time) and muted words only
take things out of the muter's own lists; the muted person notices nothing.

The filters are here, in one place (``hidden_posts`` and ``hidden_comments``), and every list
of posts or comments adds them to its own statement: NOT EXISTS on a primary key or index,
one probe per post shown (and, for muted words, one per index term of the post), so a
page costs the same however many blocks, mutes or words a reader has (DESIGN.md; the
benchmark is bench/safety.py). Mastodon filters with growing id lists and slows down with
them (mastodon#33765).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    exists,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from sns.db import Database, utcnow
from sns.errors import Forbidden, Invalid, NotFound, Unauthorized
from sns.schema import blocks, follows, muted_words, mutes, posts, search_terms, users
from sns.search_index import BODY_TERM, Piece, pieces_of, word_prefix_length

MUTE_DURATIONS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "forever": None,
}
"""The lengths a mute may have (the form's ``duration``); ``forever`` lasts until unmuted."""
WORD_MAX_CHARS = 100
"""Longest muted word or phrase, as typed."""
WORDS_MAX = 1000
"""Muted words one person may keep (the page cost does not grow with them; the list does)."""

Viewer = int | BindParameter[Any] | ColumnElement[Any]
Now = datetime | BindParameter[Any] | ColumnElement[Any]


# -- the filters: one place for every list -------------------------------------------------


def _any_block(viewer: Viewer) -> ColumnElement[bool]:
    """Whether the viewer blocked anyone or was blocked by anyone. Uncorrelated, so the
    database runs it once per statement, and a reader without blocks (most) pays no probe
    per row (SQLite and MariaDB both stop an OR at its first true side)."""
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


def author_hidden(
    viewer: Viewer, author: ColumnElement[Any], now: Now, *, mutes_too: bool = True
) -> list[ColumnElement[bool]]:
    """Clauses keeping out authors the viewer blocked, who blocked the viewer and (unless
    ``mutes_too`` is off) whom the viewer muted, the mute still in force at ``now``; each
    probed per row only when the viewer has any such thing at all."""
    clauses: list[ColumnElement[bool]] = [
        or_(
            ~_any_block(viewer),
            and_(
                ~exists().where(blocks.c.blocker_id == viewer, blocks.c.blocked_id == author),
                ~exists().where(blocks.c.blocker_id == author, blocks.c.blocked_id == viewer),
            ),
        )
    ]
    if mutes_too:
        clauses.append(
            or_(
                ~_any_mute(viewer),
                ~exists().where(
                    mutes.c.muter_id == viewer,
                    mutes.c.muted_id == author,
                    or_(mutes.c.until.is_(None), mutes.c.until > now),
                ),
            )
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


def muted_word_in(viewer: Viewer, post_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """``_muted_word_probe`` behind ``any_muted_word``, for a where-clause."""
    return and_(any_muted_word(viewer), _muted_word_probe(viewer, post_id))


def muted_word_flag(viewer: Viewer, post_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """``muted_word_in`` as a column (true: hide the row), for a page cut before it is
    filtered (``/following``): a CASE, which both databases evaluate lazily even in a
    select list, so a viewer without muted words pays one probe per statement."""
    return case((any_muted_word(viewer), _muted_word_probe(viewer, post_id)), else_=False)


def hidden_posts(
    viewer: Viewer, now: Now, author: ColumnElement[Any], post_id: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    """Where-clauses for a list of posts (timelines, hashtags, search, likes, the API):
    no blocks either way, no muted authors, no muted words."""
    return [*author_hidden(viewer, author, now), ~muted_word_in(viewer, post_id)]


def hidden_comments(
    viewer: Viewer, now: Now, author: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    """Where-clauses for comments and replies under posts: blocks either way and mutes."""
    return author_hidden(viewer, author, now)


# -- what other parts ask (notifications, mentions) -----------------------------------------


async def blocked_either(conn: AsyncConnection, a: int, b: int) -> bool:
    """Whether ``a`` blocked ``b`` or ``b`` blocked ``a``: one primary-key query."""
    found = await conn.execute(
        select(blocks.c.blocker_id).where(
            or_(
                and_(blocks.c.blocker_id == a, blocks.c.blocked_id == b),
                and_(blocks.c.blocker_id == b, blocks.c.blocked_id == a),
            )
        )
    )
    return found.first() is not None


async def muted_by(conn: AsyncConnection, viewer: int, author: int) -> bool:
    """Whether ``viewer`` has ``author`` muted now (a mute that ran out does not count)."""
    found = await conn.execute(
        select(mutes.c.muter_id).where(
            mutes.c.muter_id == viewer,
            mutes.c.muted_id == author,
            or_(mutes.c.until.is_(None), mutes.c.until > utcnow()),
        )
    )
    return found.first() is not None


async def unwelcome(conn: AsyncConnection, recipient: int, actor: int) -> bool:
    """Whether ``actor`` must not reach ``recipient`` with a notification: a block either
    way, or a mute of ``actor`` in force (#21); one query."""
    blocked = select(blocks.c.blocker_id).where(
        or_(
            and_(blocks.c.blocker_id == recipient, blocks.c.blocked_id == actor),
            and_(blocks.c.blocker_id == actor, blocks.c.blocked_id == recipient),
        )
    )
    muted = select(mutes.c.muter_id).where(
        mutes.c.muter_id == recipient,
        mutes.c.muted_id == actor,
        or_(mutes.c.until.is_(None), mutes.c.until > utcnow()),
    )
    found = await conn.execute(select(or_(blocked.exists(), muted.exists())))
    return bool(found.scalar())


BLOCKER_REFUSAL = "You blocked this person; unblock them first."
BLOCKED_REFUSAL = "This account does not allow that."


async def refuse_if_blocked(conn: AsyncConnection, actor: int, other: int) -> None:
    """``Forbidden`` when a block stands between the two. The blocker is reminded of their
    block; the blocked person is refused in words that do not say why."""
    if actor == other:
        return
    rows = await conn.execute(
        select(blocks.c.blocker_id).where(
            or_(
                and_(blocks.c.blocker_id == actor, blocks.c.blocked_id == other),
                and_(blocks.c.blocker_id == other, blocks.c.blocked_id == actor),
            )
        )
    )
    blockers = set(rows.scalars())
    if actor in blockers:
        raise Forbidden(BLOCKER_REFUSAL)
    if blockers:
        raise Forbidden(BLOCKED_REFUSAL)


# -- muted words -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldedWord:
    """A muted word as it is stored: folded form, index term and body pattern."""

    folded: str
    term: str
    pattern: str


def fold_word(word: str) -> FoldedWord:
    """Cut a word or phrase the way search cuts a query (NFKC, case-folded, runs of one
    script); a phrase matches its runs in order, the last as a prefix when it is a word, a
    CJK run anywhere (so ``노드`` matches ``노드를``). ``Invalid`` when nothing is left."""
    word = word.strip()
    if len(word) > WORD_MAX_CHARS:
        raise Invalid(
            "A muted word is at most {max} characters; this one has {count}.",
            field="word",
            max=WORD_MAX_CHARS,
            count=len(word),
        )
    pieces = pieces_of(word)
    if not pieces:
        raise Invalid("Type a word with letters or numbers to mute.", field="word")
    folded = " ".join(piece.text for piece in pieces)
    if len(folded) > WORD_MAX_CHARS + 50:
        raise Invalid("That word is too long once folded.", field="word")
    term = max((_key_term(piece) for piece in pieces), key=len)  # longest: likely rarest
    pattern = ("%" if pieces[0].cjk else "% ") + folded + "%"
    return FoldedWord(folded, term, pattern)


def _key_term(piece: Piece) -> str:
    """An index term every post holding ``piece`` has (``sns.search.query_terms``' first)."""
    if piece.cjk:
        return piece.text[:2]
    return piece.text[: word_prefix_length(len(piece.text))]


@dataclass(frozen=True)
class MutedWord:
    word: str
    folded: str


@dataclass(frozen=True)
class Relation:
    """How the reader stands toward another person, for their page's buttons."""

    blocking: bool
    """The reader blocked them."""
    blocked_by: bool
    """They blocked the reader (the page then answers 404)."""
    muted_until: datetime | None
    muting: bool
    """The reader has them muted now (``muted_until`` None: until unmuted)."""
    following: bool = False
    """The reader follows them."""


NO_RELATION = Relation(False, False, None, False)


async def relation_of(conn: AsyncConnection, viewer: int | None, other: int) -> Relation:
    """Blocks both ways and the viewer's mute of ``other``, and whether the viewer follows
    them (``following``): one query, which a person's page asks with its profile."""
    if viewer is None or viewer == other:
        return NO_RELATION
    muted = (
        select(mutes.c.until, literal(1).label("one"))
        .where(
            mutes.c.muter_id == viewer,
            mutes.c.muted_id == other,
            or_(mutes.c.until.is_(None), mutes.c.until > utcnow()),
        )
        .subquery()
    )
    row = (
        await conn.execute(
            select(
                exists()
                .where(blocks.c.blocker_id == viewer, blocks.c.blocked_id == other)
                .label("blocking"),
                exists()
                .where(blocks.c.blocker_id == other, blocks.c.blocked_id == viewer)
                .label("blocked_by"),
                select(muted.c.one).scalar_subquery().label("muting"),
                select(muted.c.until).scalar_subquery().label("until"),
                exists()
                .where(follows.c.follower_id == viewer, follows.c.following_id == other)
                .label("following"),
            )
        )
    ).one()
    return Relation(
        bool(row.blocking), bool(row.blocked_by), row.until, bool(row.muting), bool(row.following)
    )


class SafetyService:
    """Blocking, muting and muted words; each action one transaction, idempotent."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _lock_pair(self, conn: AsyncConnection, me: int, other: int) -> None:
        """Both users' rows for update, in id order (the order every writer locks in): a
        follow, like or comment of either waits, then sees the block."""
        if me == other:
            raise Invalid("You cannot do that to yourself.")
        rows = await conn.execute(
            select(users.c.id, users.c.deleted_at)
            .where(users.c.id.in_(sorted({me, other})))
            .order_by(users.c.id)
            .with_for_update()
        )
        live = {row.id for row in rows if row.deleted_at is None}
        if me not in live:
            raise Unauthorized("Please log in first.")
        if other not in live:
            raise NotFound("There is no such user.")

    async def block(self, me: int, other: int) -> None:
        """Block ``other``: follows both ways end, and a second block changes nothing."""

        async def work(conn: AsyncConnection) -> None:
            await self._lock_pair(conn, me, other)
            await conn.execute(
                self.db.insert_ignore(blocks).values(
                    blocker_id=me, blocked_id=other, created_at=utcnow()
                )
            )
            await conn.execute(
                delete(follows).where(
                    or_(
                        and_(follows.c.follower_id == me, follows.c.following_id == other),
                        and_(follows.c.follower_id == other, follows.c.following_id == me),
                    )
                )
            )

        await self.db.write(work)

    async def unblock(self, me: int, other: int) -> None:
        async def work(conn: AsyncConnection) -> None:
            await self._lock_pair(conn, me, other)
            await conn.execute(
                delete(blocks).where(blocks.c.blocker_id == me, blocks.c.blocked_id == other)
            )

        await self.db.write(work)

    async def mute(self, me: int, other: int, duration: str = "forever") -> datetime | None:
        """Mute ``other`` for one of ``MUTE_DURATIONS`` (muting again sets the new end);
        returns when the mute ends (None: until unmuted)."""
        if duration not in MUTE_DURATIONS:
            raise Invalid("Mute for 1h, 1d, 7d or forever.", field="duration")
        length = MUTE_DURATIONS[duration]
        now = utcnow()
        until = None if length is None else now + length

        async def work(conn: AsyncConnection) -> None:
            await self._lock_pair(conn, me, other)
            changed = await conn.execute(
                update(mutes)
                .where(mutes.c.muter_id == me, mutes.c.muted_id == other)
                .values(until=until, created_at=now)
            )
            if changed.rowcount == 0:
                await conn.execute(
                    insert(mutes).values(muter_id=me, muted_id=other, created_at=now, until=until)
                )

        await self.db.write(work)
        return until

    async def unmute(self, me: int, other: int) -> None:
        async def work(conn: AsyncConnection) -> None:
            await self._lock_pair(conn, me, other)
            await conn.execute(
                delete(mutes).where(mutes.c.muter_id == me, mutes.c.muted_id == other)
            )

        await self.db.write(work)

    async def add_word(self, me: int, word: str) -> MutedWord:
        """Mute a word or phrase (again: nothing changes)."""
        folded = fold_word(word)

        async def work(conn: AsyncConnection) -> MutedWord:
            count = len(
                (
                    await conn.execute(
                        select(muted_words.c.folded)
                        .where(muted_words.c.user_id == me)
                        .limit(WORDS_MAX)
                    )
                ).all()
            )
            if count >= WORDS_MAX:
                raise Invalid("You can mute at most {max} words.", field="word", max=WORDS_MAX)
            await conn.execute(
                self.db.insert_ignore(muted_words).values(
                    user_id=me,
                    folded=folded.folded,
                    word=word.strip(),
                    term=folded.term,
                    pattern=folded.pattern,
                    created_at=utcnow(),
                )
            )
            return MutedWord(word.strip(), folded.folded)

        return await self.db.write(work)

    async def remove_word(self, me: int, word: str) -> None:
        """Unmute a word, given as typed or as folded (the list's buttons send the folded)."""
        folded = fold_word(word).folded

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                delete(muted_words).where(
                    muted_words.c.user_id == me, muted_words.c.folded == folded
                )
            )

        await self.db.write(work)

    async def words(self, me: int) -> list[MutedWord]:
        """The muted words, oldest first."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(muted_words.c.word, muted_words.c.folded)
                .where(muted_words.c.user_id == me)
                .order_by(muted_words.c.created_at, muted_words.c.folded)
            )
            return [MutedWord(row.word, row.folded) for row in rows]


def without_hidden(
    query: Select[Any], viewer_id: Viewer | None, *, mutes: bool = True, now: Now | None = None
) -> Select[Any]:
    """``query`` (over ``posts``) less what ``viewer_id`` must not see: blocks both ways,
    and unless ``mutes`` is off (a person's own page), muted authors and muted words.
    Logged out, nothing is taken out. The viewer and the time may be bound parameters
    (a statement built once: ``sns.post_queries.page_statement``)."""
    if viewer_id is None:
        return query
    if now is None:
        now = utcnow()
    if not mutes:
        return query.where(*author_hidden(viewer_id, posts.c.user_id, now, mutes_too=False))
    return query.where(*hidden_posts(viewer_id, now, posts.c.user_id, posts.c.id))
