"""What a request knows of its reader's blocks, mutes and muted words (#21), learned once
with the user's own row and kept under the site version: whether they have any of each
(``ReaderSafety``), so that a filter for what they have none of is left out of the SQL; and,
when there are not too many, the accounts and words themselves, so that a list of posts is
read with the statement every reader runs and checked in Python (``in_memory_check``).

A reader with none of these pays nothing; the SQL filters are in ``sns.safety_filters``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    String,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)

from sns.schema import blocks, muted_words, mutes
from sns.search_index import body_of, normalize, pieces_of

Viewer = int | BindParameter[Any] | ColumnElement[Any]


# -- what a reader has set up, learned once per request --------------------------------


WORDS_IN_MEMORY_CHARS = 8000
"""The most text of muted words (their patterns, joined) a reader's kept row carries, to
match posts in Python; a reader with more has them matched by the database instead."""

IDS_IN_MEMORY = 1000
"""The most accounts of each kind (blocked by the reader, blocking the reader, muted) a
reader's kept row carries, to leave their posts out in Python; a reader with more of a
kind has them left out by the database instead. Reading them costs a bounded walk of one
index, once per user and site version."""


@dataclass(frozen=True)
class HiddenAuthors:
    """The accounts a reader does not see: blocked either way, and muted (until when, or
    None: until unmuted). Kept with the user, so a timeline's statement can be the one
    every reader's is, its rows checked here (a set lookup a row) instead of two or three
    index probes a row in SQL, which MariaDB even materialises per statement into
    temporary tables as large as the lists (bench/safety.py)."""

    blocked: frozenset[int]
    muted: Mapping[int, datetime | None]

    def hides(self, author: int, now: datetime, *, mutes: bool = True) -> bool:
        """Whether posts and comments by ``author`` are left out for the reader at ``now``
        (without ``mutes``: only blocks count, as on a person's own page)."""
        if author in self.blocked:
            return True
        if not mutes or author not in self.muted:
            return False
        until = self.muted[author]
        return until is None or until > now


@dataclass(frozen=True)
class ReaderSafety:
    """Whether a reader has any block (either way), any mute (ended or not) and any muted
    word: read with the user's own row (``safety_columns``) and kept with it under the site
    version, which every commit moves, so a block shows on the very next request. A filter
    whose answer is False is left out of the SQL entirely: most readers have none of these
    and pay nothing for them (bench/safety.py).

    ``patterns`` are the muted words themselves (their LIKE patterns), when there are not
    too many (``WORDS_IN_MEMORY_CHARS``): the pages then match the stored bodies of the
    rows they read in Python (``hides``) instead of walking each post's index terms into
    the reader's words in SQL (about 30 index probes a post; measured on MariaDB, the
    largest part of what 200 muted words cost a page)."""

    blocks: bool
    mutes: bool
    words: bool
    patterns: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    authors: HiddenAuthors | None = field(default=None, compare=False, repr=False)

    @property
    def words_in_memory(self) -> bool:
        """Whether ``hides`` can tell, without the database."""
        return self.words and self.patterns is not None

    @functools.cached_property
    def _matcher(self) -> re.Pattern[str]:
        return _trie_regex(pattern[1:-1] for pattern in self.patterns or ())

    @functools.cached_property
    def _screen(self) -> re.Pattern[str]:
        return _trie_regex(
            max(pattern.strip("%").strip().split(" "), key=len) for pattern in self.patterns or ()
        )

    def hides_content(self, content: str) -> bool:
        """``hides`` for a post's text as written, without its stored body: the body's runs
        are pieces of the normalised text, so a post whose normalised text holds no muted
        word's longest run holds no muted word (one regular expression, about a
        microsecond); only one that does has its body made to be sure (as the index makes
        it, ``sns.search_index.document``). Reading the body with each row cost MariaDB a
        primary key lookup a row (bench/safety.py)."""
        if self._screen.search(normalize(content)) is None:
            return False
        return self.hides(body_of(pieces_of(content)))

    def hides(self, body: str | None) -> bool:
        """Whether a post's stored body (``sns.search_index.body_of``) holds a muted word,
        as the SQL ``LIKE`` of ``_muted_word_probe`` would find it (``% word%`` at the
        start of a run, ``%word%`` anywhere)."""
        return body is not None and self._matcher.search(body) is not None


def _trie_regex(cores: Iterable[str]) -> re.Pattern[str]:
    """One regular expression finding any of ``cores``, its alternatives merged by common
    prefix: a search tries one branch per character, whatever the number of words (200
    words against a page's 31 bodies: 0.01 ms, where a plain alternation takes 0.1)."""
    trie: dict[str, Any] = {}
    for core in cores:
        node = trie
        for ch in core:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        if "" in node:  # a shorter word already matches: what follows does not matter
            return ""
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return re.compile(pattern(trie) if trie else "(?!)")


NOTHING_SET = ReaderSafety(False, False, False)
"""A reader with no block, mute or muted word (and anyone logged out)."""

_reader: ContextVar[tuple[int, ReaderSafety] | None] = ContextVar("sns_reader", default=None)


def reading_as(user_id: int | None, safety: ReaderSafety | None) -> None:
    """Say, for the rest of this request (its asyncio task), what ``user_id`` has set up;
    the web layer calls it once the user is known. Unsaid, every filter asks the database
    (a probe per statement), which is right, only slower."""
    _reader.set(None if user_id is None or safety is None else (user_id, safety))


def forget_reader() -> None:
    """Forget what ``reading_as`` said, for the rest of this request: the reader just
    changed a block, mute or muted word, and anything this request still reads asks the
    database."""
    _reader.set(None)


def known_safety(viewer: Viewer) -> ReaderSafety | None:
    """What ``reading_as`` said of ``viewer`` in this request, if it said anything."""
    said = _reader.get()
    if said is None or not isinstance(viewer, int) or said[0] != viewer:
        return None
    return said[1]


def _listed(
    value: ColumnElement[Any], key: ColumnElement[Any], user_id: ColumnElement[Any]
) -> ColumnElement[Any]:
    """``value`` of the rows whose ``key`` is the user, joined by commas ('' for none), when
    there are no more than ``IDS_IN_MEMORY`` of them (else NULL): the count is told by
    probing for a row past the limit on the key's index, so a user with a million pays a
    bounded walk."""
    past_limit = (
        select(key)
        .where(key == user_id)
        .order_by(key)
        .limit(1)
        .offset(IDS_IN_MEMORY)
        .scalar_subquery()
    )
    joined = select(func.group_concat(value)).where(key == user_id).scalar_subquery()
    return case((past_limit.is_(None), func.coalesce(joined, literal(""))), else_=None)


def safety_columns(user_id: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """``ReaderSafety`` as columns of a query of ``users`` (labelled ``safety_blocks``,
    ``safety_mutes``, ``safety_words``, and the accounts of each: ``safety_blocked``,
    ``safety_blocking``, ``safety_muted``): index walks for one user, in the statement
    that reads the user anyway. Lists come joined by commas, which no folded word holds
    (``group_concat``'s own separator on both databases); a mute as its account's id, a
    space and its end (nothing: until unmuted)."""
    any_block = or_(
        exists().where(blocks.c.blocker_id == user_id),
        exists().where(blocks.c.blocked_id == user_id),
    )
    any_mute = exists().where(mutes.c.muter_id == user_id)
    mute = (
        cast(mutes.c.muted_id, String)
        + literal(" ")
        + func.coalesce(cast(mutes.c.until, String), literal(""))
    )
    return [
        any_block.label("safety_blocks"),
        any_mute.label("safety_mutes"),
        select(func.group_concat(muted_words.c.pattern))
        .where(muted_words.c.user_id == user_id)
        .scalar_subquery()
        .label("safety_words"),
        case(
            (any_block, _listed(blocks.c.blocked_id, blocks.c.blocker_id, user_id)),
            else_=None,
        ).label("safety_blocked"),
        case(
            (any_block, _listed(blocks.c.blocker_id, blocks.c.blocked_id, user_id)),
            else_=None,
        ).label("safety_blocking"),
        case((any_mute, _listed(mute, mutes.c.muter_id, user_id)), else_=None).label(
            "safety_muted"
        ),
    ]


def _hidden_authors(mapping: Mapping[str, Any], blocks: bool, mutes: bool) -> HiddenAuthors | None:
    """The ``HiddenAuthors`` of a row read with ``safety_columns``; None when a kind the
    reader has was too long a list to be kept (or the row was read without them)."""
    wanted = (["safety_blocked", "safety_blocking"] if blocks else []) + (
        ["safety_muted"] if mutes else []
    )
    if any(mapping.get(column) is None for column in wanted):
        return None
    blocked = frozenset(
        int(found)
        for column in wanted[: 2 if blocks else 0]
        for found in mapping[column].split(",")
        if found
    )
    muted: dict[int, datetime | None] = {}
    for item in mapping["safety_muted"].split(",") if mutes else ():
        if item:
            found, _, until = item.partition(" ")
            muted[int(found)] = datetime.fromisoformat(until) if until else None
    return HiddenAuthors(blocked, muted)


def safety_from_row(row: Any) -> ReaderSafety | None:
    """The ``ReaderSafety`` of a row read with ``safety_columns``, or None without them.
    The words are kept only up to ``WORDS_IN_MEMORY_CHARS`` (far below MariaDB's 1 MB
    ``group_concat_max_len``, so never a cut list)."""
    mapping = row._mapping
    if "safety_blocks" not in mapping:
        return None
    joined = mapping["safety_words"]
    patterns = None
    if joined and len(joined) <= WORDS_IN_MEMORY_CHARS:
        patterns = tuple(joined.split(","))
    blocks, mutes = bool(mapping["safety_blocks"]), bool(mapping["safety_mutes"])
    return ReaderSafety(
        blocks, mutes, bool(joined), patterns, _hidden_authors(mapping, blocks, mutes)
    )


@dataclass(frozen=True)
class RowCheck:
    """How a list of posts leaves out what its reader must not see: ``sql`` is what the
    statement still filters (None: not known, each filter asks the database), and
    ``hidden``, when set, checks each row read (its ``author_id`` and ``content``) for what
    the reader's kept row lets Python tell (``in_memory_check``)."""

    sql: ReaderSafety | None
    hidden: Callable[[Any], bool] | None = None


def in_memory_check(known: ReaderSafety | None, now: datetime, *, mutes: bool = True) -> RowCheck:
    """Split a reader's filters between the statement and Python: blocked and muted
    accounts and muted words that came with the reader's kept row are checked on the rows
    (a set lookup and one regular expression a row), so the statement is the one a reader
    with nothing set up runs; what did not (too many to keep) stays in SQL. Without
    ``mutes`` (a person's own page) everything stays in SQL: a block empties the page in
    one statement there."""
    if known is None or not mutes:
        return RowCheck(known)
    authors = known.authors if known.blocks or known.mutes else None
    words = known.words_in_memory
    if authors is None and not words:
        return RowCheck(known)
    sql = ReaderSafety(
        known.blocks and authors is None, known.mutes and authors is None, known.words and not words
    )

    def hidden(row: Any) -> bool:
        if authors is not None and authors.hides(row.author_id, now):
            return True
        return words and known.hides_content(row.content)

    return RowCheck(sql, hidden)
