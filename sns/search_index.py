"""The search index of posts and the tokenizer that feeds it, on both databases.

MariaDB has no n-gram parser for InnoDB full-text indexes and SQLite's trigram tokenizer
cannot find two-syllable words, so the index is a plain table, ``search_terms``, kept in
the post's own transaction (``SearchIndex``, called by ``PostService``):

- (term, post id) rows. A run of Hangul, Han or Kana gives every overlapping 2-gram and
  every single character (so that one-character queries are an index lookup too); any
  other word (Latin, digits, other scripts) gives its prefixes of 1, 2, 3, 4, 6 and 8
  characters, so that ``post`` finds ``posts`` and ``Node`` finds ``node.js``.
- one row per post under the empty term, whose ``body`` is the post's text normalised
  (NFKC, case-folded), cut into runs of one script and joined by spaces
  (``" node js 와 노드 "``). The last check of every search is made against it, so index
  coincidences never reach a page.

The query side (``sns.search``) cuts a query with the same tokenizer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from sns.async_sql import AsyncConnection
from sns.schema import search_terms

BODY_TERM = ""
"""The term of the row that holds a post's normalised text (no real term is empty)."""
WORD_PREFIXES = (1, 2, 3, 4, 6, 8)
"""Prefix lengths indexed for a word: short ones for typing, 6 and 8 to keep long words
selective; a word's rows stay at most six."""
TERM_MAX_CHARS = max(WORD_PREFIXES)

# Hangul (syllables, jamo, compatibility jamo), Han (unified, extensions, compatibility,
# iteration marks) and Kana (Hiragana, Katakana and their extensions).
_CJK_RANGES = (
    (0x1100, 0x11FF),
    (0x2E80, 0x2FDF),
    (0x3005, 0x3007),
    (0x3021, 0x3029),
    (0x3040, 0x30FF),
    (0x3130, 0x318F),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
    (0x1B000, 0x1B16F),
    (0x20000, 0x3134F),
)


_CJK_CHAR = re.compile(
    "["
    + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in _CJK_RANGES)
    + "]"
)


def is_cjk(ch: str) -> bool:
    """Hangul, Han or Kana: scripts written without spaces between the parts of a word.

    One character class rather than a walk over the ranges: this runs for every character
    of every new post, inside its transaction."""
    return _CJK_CHAR.match(ch) is not None


def is_word_char(ch: str) -> bool:
    """Letters, digits and combining marks; everything else (punctuation, emoji) splits."""
    return unicodedata.category(ch)[0] in "LNM"


def normalize(text: str) -> str:
    """NFKC and case-folded: full-width, ligatures, ``Ⅳ`` and capitals all meet."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class Piece:
    """A run of one kind in normalised text: CJK (matched anywhere) or a word (by prefix)."""

    text: str
    cjk: bool


def pieces_of(text: str) -> list[Piece]:
    """The runs of ``text`` once normalised, in order: ``Node.js와`` is node, js, 와."""
    found: list[Piece] = []
    current: list[str] = []
    current_cjk = False
    for ch in normalize(text):
        cjk = is_cjk(ch)
        if not cjk and not is_word_char(ch):
            if current:
                found.append(Piece("".join(current), current_cjk))
                current = []
            continue
        if current and cjk != current_cjk:
            found.append(Piece("".join(current), current_cjk))
            current = []
        current.append(ch)
        current_cjk = cjk
    if current:
        found.append(Piece("".join(current), current_cjk))
    return found


def body_of(pieces: Sequence[Piece]) -> str:
    """The stored text the final check reads: runs between spaces, a space at each end."""
    return " " + " ".join(piece.text for piece in pieces) + " "


def pieces_of_body(body: str) -> list[Piece]:
    """The runs of a stored body again (each run is of one kind)."""
    return [Piece(run, is_cjk(run[0])) for run in body.split()]


def word_prefix_length(length: int) -> int:
    """The longest indexed prefix length that fits in a word of ``length`` characters."""
    return max(n for n in WORD_PREFIXES if n <= length)


def index_terms(pieces: Iterable[Piece]) -> set[str]:
    """What a post is indexed under: 2-grams and characters of CJK runs, word prefixes."""
    terms: set[str] = set()
    for piece in pieces:
        run = piece.text
        if piece.cjk:
            terms.update(run)
            terms.update(run[i : i + 2] for i in range(len(run) - 1))
        else:
            terms.update(run[:n] for n in WORD_PREFIXES if n <= len(run))
    return terms


def document(content: str) -> tuple[str, set[str]]:
    """A post's stored body and its index terms."""
    pieces = pieces_of(content)
    return body_of(pieces), index_terms(pieces)


def term_rows(post_id: int, terms: Iterable[str]) -> list[dict[str, Any]]:
    return [{"term": term, "post_id": post_id, "body": None} for term in sorted(terms)]


def index_rows(post_ids_and_contents: Iterable[tuple[int, str]]) -> list[dict[str, Any]]:
    """All ``search_terms`` rows of these posts, body rows included (bulk loads, reindex,
    the migration)."""
    rows: list[dict[str, Any]] = []
    for post_id, content in post_ids_and_contents:
        body, terms = document(content)
        rows.append({"term": BODY_TERM, "post_id": post_id, "body": body})
        rows.extend(term_rows(post_id, terms))
    return rows


class SearchIndex:
    """Keeps the index in step with posts, inside the caller's transaction.

    A new post costs one INSERT (its body row and its terms together). The rows to remove
    are found from the stored body (the terms are a function of it), so ``search_terms``
    needs no second index on the post id.
    """

    async def add(self, conn: AsyncConnection, post_id: int, content: str) -> None:
        await conn.execute(insert(search_terms), index_rows([(post_id, content)]))

    async def replace(self, conn: AsyncConnection, post_id: int, content: str) -> None:
        """After an edit: store the new body, drop the terms the post lost, add the new."""
        body, terms = document(content)
        old = await self._old_terms(conn, post_id)
        if old is None:
            await conn.execute(insert(search_terms), index_rows([(post_id, content)]))
            return
        await conn.execute(
            update(search_terms)
            .where(search_terms.c.term == BODY_TERM, search_terms.c.post_id == post_id)
            .values(body=body)
        )
        await self._delete_terms(conn, post_id, old - terms)
        if terms - old:
            await conn.execute(insert(search_terms), term_rows(post_id, terms - old))

    async def remove(self, conn: AsyncConnection, post_id: int) -> None:
        old = await self._old_terms(conn, post_id)
        if old is not None:
            await self._delete_terms(conn, post_id, {*old, BODY_TERM})

    async def _old_terms(self, conn: AsyncConnection, post_id: int) -> set[str] | None:
        body = (
            await conn.execute(
                select(search_terms.c.body).where(
                    search_terms.c.term == BODY_TERM, search_terms.c.post_id == post_id
                )
            )
        ).scalar()
        return None if body is None else index_terms(pieces_of_body(body))

    async def _delete_terms(self, conn: AsyncConnection, post_id: int, terms: set[str]) -> None:
        if terms:
            await conn.execute(
                delete(search_terms).where(
                    search_terms.c.term.in_(sorted(terms)), search_terms.c.post_id == post_id
                )
            )
