"""Blocks, mutes and muted words: who may act on whom, and the actions themselves (#21).

A block works both ways: neither sees the other's posts or comments anywhere, and the
blocked person cannot follow, like, comment on or reply to the blocker (a ``Forbidden``
that never says "blocked" to them). A mute (forever, or until a time) and muted words only
take things out of the muter's own lists; the muted person notices nothing. What each
reader is not shown is filtered in ``sns.safety_filters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    delete,
    exists,
    insert,
    literal,
    or_,
    select,
    update,
)

from sns.async_sql import AsyncConnection
from sns.db import Database, utcnow
from sns.errors import Forbidden, Invalid, NotFound, Unauthorized
from sns.reader_safety import forget_reader
from sns.schema import blocks, follows, muted_words, mutes, users
from sns.search_index import Piece, pieces_of, word_prefix_length

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
        forget_reader()

    async def unblock(self, me: int, other: int) -> None:
        async def work(conn: AsyncConnection) -> None:
            await self._lock_pair(conn, me, other)
            await conn.execute(
                delete(blocks).where(blocks.c.blocker_id == me, blocks.c.blocked_id == other)
            )

        await self.db.write(work)
        forget_reader()

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
        forget_reader()
        return until

    async def unmute(self, me: int, other: int) -> None:
        async def work(conn: AsyncConnection) -> None:
            await self._lock_pair(conn, me, other)
            await conn.execute(
                delete(mutes).where(mutes.c.muter_id == me, mutes.c.muted_id == other)
            )

        await self.db.write(work)
        forget_reader()

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

        added = await self.db.write(work)
        forget_reader()
        return added

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
        forget_reader()

    async def words(self, me: int) -> list[MutedWord]:
        """The muted words, oldest first."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(muted_words.c.word, muted_words.c.folded)
                .where(muted_words.c.user_id == me)
                .order_by(muted_words.c.created_at, muted_words.c.folded)
            )
            return [MutedWord(row.word, row.folded) for row in rows]
