"""Handles (``@name``) and mentions: the text rules, and finding the people they name.

A handle is 2 to 20 letters of any script, digits and ``_`` (marks may follow a letter, as
Devanagari or Thai need), unique without regard to case: ``users.handle_key`` holds its
NFC, case-folded form under a unique index, and every lookup goes through that form.

A mention is ``@`` and a run of handle characters that is not inside a word or an e-mail
address (``a@mina.com`` is none). Korean particles are written onto the name
(``@미나님``, ``@mina에게``), so a run names the person whose handle is the longest prefix
of it that exists, as long as what is cut off is Hangul only: ``@minaxyz`` does not name
``@mina``, ``@mina에게`` does.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from sns.async_sql import AsyncConnection
from sns.errors import Invalid
from sns.schema import users
from sns.visible import LIVE_USER

HANDLE_MIN_CHARS = 2
HANDLE_MAX_CHARS = 20

NOT_BEFORE_MENTION = frozenset(".+-@_")
"""Besides letters, digits and marks: what may not stand right before a mention's ``@``
(the local part of an e-mail address ends in any of them)."""


def fold_handle(handle: str) -> str:
    """The stored key of a handle: NFC and case-folded (``Mina`` and ``mina`` meet)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", handle).casefold())


def _is_handle_char(ch: str, first: bool) -> bool:
    category = unicodedata.category(ch)
    if ch == "_" or category == "Nd" or category[0] == "L":
        return True
    return not first and category in ("Mn", "Mc")


def handle_problem(handle: str) -> str | None:
    """Why ``handle`` cannot be a handle (a message to translate), or None."""
    if len(handle) < HANDLE_MIN_CHARS:
        return "A handle has at least {min} characters."
    if len(handle) > HANDLE_MAX_CHARS:
        return "A handle has at most {max} characters."
    if not all(_is_handle_char(ch, i == 0) for i, ch in enumerate(handle)):
        return "A handle holds only letters, digits and _."
    return None


def clean_handle(raw: str) -> str:
    """The handle as stored (NFC, without a leading ``@``), or ``Invalid`` saying why."""
    handle = unicodedata.normalize("NFC", raw.strip())
    if handle.startswith("@"):
        handle = handle[1:]
    problem = handle_problem(handle)
    if problem is not None:
        raise Invalid(problem, field="handle", min=HANDLE_MIN_CHARS, max=HANDLE_MAX_CHARS)
    return handle


def handle_base(nick: str, email: str | None) -> str:
    """What a handle made for someone who chose none starts from: the nick's handle
    characters, else the e-mail's local part's, else ``user``; cut to leave room for a
    number."""
    for source in (nick, (email or "").partition("@")[0]):
        kept = "".join(
            ch
            for i, ch in enumerate(unicodedata.normalize("NFC", source))
            if _is_handle_char(ch, i == 0)
        )
        kept = kept[: HANDLE_MAX_CHARS - 4]
        if len(kept) >= HANDLE_MIN_CHARS:
            return kept
    return "user"


def handle_candidates(base: str, taken: set[str], count: int = 50) -> list[str]:
    """Handles to try for ``base``, free ones of ``taken`` (folded keys) first: the base
    itself, then the base with a number."""
    found: list[str] = []
    for number in range(count):
        handle = base if number == 0 else f"{base}{number + 1}"
        if fold_handle(handle) not in taken:
            found.append(handle)
    return found


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


@dataclass(frozen=True)
class MentionRun:
    """``@`` and the run after it, where it stands in the text, and the handle keys it may
    name, longest first."""

    start: int
    run: str
    keys: tuple[tuple[int, str], ...]
    """(length of the prefix of ``run``, its folded key)."""


def _at_signs(content: str) -> list[tuple[int, str]]:
    """Each ``@`` that may start a mention and the run of handle characters after it.

    Not inside a word or an e-mail address: no letter, digit, mark, ``.``, ``+``, ``-``,
    ``_`` or ``@`` right before it, and no ``@`` right after the run (``@a@b.com``).
    """
    found: list[tuple[int, str]] = []
    length = len(content)
    for start, ch in enumerate(content):
        if ch != "@":
            continue
        if start > 0:
            before = content[start - 1]
            if before in NOT_BEFORE_MENTION or _is_handle_char(before, False):
                continue
        end = start + 1
        while end < length and _is_handle_char(content[end], end == start + 1):
            end += 1
        if end == start + 1 or (end < length and content[end] == "@"):
            continue
        found.append((start, content[start + 1 : end]))
    return found


def mention_runs(content: str) -> list[MentionRun]:
    """Every ``@run`` of the text that may be a mention, with the prefixes it may name."""
    found: list[MentionRun] = []
    for start, run in _at_signs(content):
        keys = []
        for length in range(min(len(run), HANDLE_MAX_CHARS), HANDLE_MIN_CHARS - 1, -1):
            rest = run[length:]
            if rest and not all(_is_hangul(ch) for ch in rest):
                continue
            prefix = run[:length]
            if handle_problem(prefix) is None:
                keys.append((length, fold_handle(prefix)))
        if keys:
            found.append(MentionRun(start, run, tuple(keys)))
    return found


@dataclass(frozen=True)
class Mentioned:
    """A person a mention names, as the page links them."""

    user_id: int
    handle: str


Mentions = dict[str, Mentioned]
"""Folded handle key -> the live person who holds it."""


async def find_handles(conn: AsyncConnection, keys: Iterable[str]) -> Mentions:
    """The live people holding these folded keys: one query on the unique index."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(users.c.id, users.c.handle, users.c.handle_key).where(
            users.c.handle_key.in_(wanted), LIVE_USER
        )
    )
    return {row.handle_key: Mentioned(row.id, row.handle) for row in rows}


def keys_of(texts: Iterable[str]) -> set[str]:
    """Every handle key the mentions of these texts may name."""
    return {key for content in texts for run in mention_runs(content) for _, key in run.keys}


def mention_spans(content: str, known: Mentions) -> list[tuple[int, int, Mentioned]]:
    """Where the text mentions people in ``known``: (start, end, person), in order; the
    span is ``@`` and the handle as typed, a particle after it left out."""
    spans: list[tuple[int, int, Mentioned]] = []
    for run in mention_runs(content):
        for length, key in run.keys:
            person = known.get(key)
            if person is not None:
                spans.append((run.start, run.start + 1 + length, person))
                break
    return spans


def mentioned_ids(content: str, known: Mentions) -> list[int]:
    """The people the text mentions, in order of first mention, once each."""
    seen: dict[int, None] = {}
    for _start, _end, person in mention_spans(content, known):
        seen.setdefault(person.user_id, None)
    return list(seen)


async def resolve_mentions(conn: AsyncConnection, content: str) -> list[int]:
    """The live people the text mentions (one query, none when the text has no ``@``)."""
    keys = keys_of([content])
    if not keys:
        return []
    return mentioned_ids(content, await find_handles(conn, keys))


async def user_id_by_handle(conn: AsyncConnection, handle: str) -> int | None:
    """The live person holding ``handle`` (any case), or None."""
    found = await find_handles(conn, [fold_handle(handle)])
    person = next(iter(found.values()), None)
    return None if person is None else person.user_id


def handle_row(handle: str) -> dict[str, Any]:
    """The ``users`` values that store a handle."""
    return {"handle": handle, "handle_key": fold_handle(handle)}


async def handle_taken(conn: AsyncConnection, handle: str) -> bool:
    """Whether any account (not one deleted: those give theirs back) holds ``handle``."""
    found = await conn.execute(select(users.c.id).where(users.c.handle_key == fold_handle(handle)))
    return found.first() is not None


async def free_handle(conn: AsyncConnection, nick: str, email: str | None) -> str:
    """A handle nobody holds, for an account that chose none: from the nick (or the
    e-mail's local part), with a number when taken. One query; a clash with a sign-up at
    the same moment is the unique index's to refuse (the caller tries again)."""
    base = handle_base(nick, email)
    tried = handle_candidates(base, set())
    taken = set(
        (
            await conn.execute(
                select(users.c.handle_key).where(
                    users.c.handle_key.in_([fold_handle(handle) for handle in tried])
                )
            )
        ).scalars()
    )
    free = handle_candidates(base, taken)
    if free:
        return free[0]
    return f"{base[:12]}{secrets.randbelow(10**8):08d}"


def split_mentions(content: str, known: Mentions) -> list[tuple[str, Mentioned | None]]:
    """The text cut into plain pieces and mentions (for a client that builds the links)."""
    pieces: list[tuple[str, Mentioned | None]] = []
    last = 0
    for start, end, person in mention_spans(content, known):
        if start > last:
            pieces.append((content[last:start], None))
        pieces.append((content[start:end], person))
        last = end
    if last < len(content):
        pieces.append((content[last:], None))
    return pieces
