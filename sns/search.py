"""Search posts by their words, Korean included, with an index of our own on both databases.

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

A query is cut the same way. Its terms are looked up with one capped count each, the
rarest walks the index newest first (like a hashtag page walks its tag), up to three more
are checked by primary-key lookups, and every piece of the query must be in the post's
normalised text: a CJK piece anywhere, a word piece at the start of a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sns.db import Database
from sns.errors import Invalid
from sns.posts import POST_COLUMNS, Page, PostService
from sns.schema import posts, search_terms, users
from sns.visible import LIVE_USER

BODY_TERM = ""
"""The term of the row that holds a post's normalised text (no real term is empty)."""
QUERY_MAX_CHARS = 140
"""Longest query accepted: a post is at most 140 characters, so a longer query finds nothing."""
WORD_PREFIXES = (1, 2, 3, 4, 6, 8)
"""Prefix lengths indexed for a word: short ones for typing, 6 and 8 to keep long words
selective; a word's rows stay at most six."""
TERM_MAX_CHARS = max(WORD_PREFIXES)
COUNT_CAP = 200
"""Counting a term stops here: enough to tell a rare term from a common one, cheaply."""
COUNTED_TERMS = 8
"""At most this many distinct terms of a query are counted; the text check does the rest."""
WALKED_TERMS = 4
"""The rarest term walks the index; up to three more are checked per candidate."""

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


def query_terms(piece: Piece) -> list[str]:
    """The index terms a post holding ``piece`` must have."""
    run = piece.text
    if not piece.cjk:
        return [run[: word_prefix_length(len(run))]]
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def like_pattern(piece: Piece) -> str:
    """The LIKE pattern of the final check. Pieces hold only letters, digits, marks and
    CJK characters (never ``%``, ``_`` or a backslash), so nothing needs escaping."""
    return f"%{piece.text}%" if piece.cjk else f"% {piece.text}%"


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: its distinct pieces and the index terms they need."""

    raw: str
    pieces: tuple[Piece, ...]
    terms: tuple[str, ...]

    @property
    def searchable(self) -> bool:
        """False when nothing in it can be searched (empty, punctuation or emoji only)."""
        return bool(self.pieces)


def parse_query(raw: str) -> SearchQuery:
    """Cut what the reader typed the way posts are cut; too long is ``Invalid``."""
    raw = raw.strip()
    if len(raw) > QUERY_MAX_CHARS:
        raise Invalid(
            "A search is at most {max} characters; this one has {count}.",
            field="q",
            max=QUERY_MAX_CHARS,
            count=len(raw),
        )
    pieces = tuple(dict.fromkeys(pieces_of(raw)))
    terms = tuple(dict.fromkeys(term for piece in pieces for term in query_terms(piece)))
    return SearchQuery(raw, pieces, terms)


def mark_spans(content: str, pieces: Sequence[Piece]) -> list[tuple[int, int]]:
    """Where the pieces occur in the post's own text, as merged ``(start, end)`` offsets.

    Each character is normalised alone and remembers where it came from, so ``TORNADO``
    is marked for ``tornado`` and ``ｎｏｄｅ`` for ``node``. Words are marked where a word
    starts, CJK pieces anywhere (as they are matched).
    """
    if not pieces:  # every timeline but the search page: nothing to look for
        return []
    owners: list[int] = []
    folded: list[str] = []
    for index, ch in enumerate(content):
        part = normalize(ch)
        folded.append(part)
        owners.extend([index] * len(part))
    text = "".join(folded)
    spans: list[tuple[int, int]] = []
    for piece in pieces:
        start = text.find(piece.text)
        while start != -1:
            before = text[start - 1] if start else " "
            if piece.cjk or not is_word_char(before) or is_cjk(before):
                end = start + len(piece.text)
                spans.append((owners[start], owners[end - 1] + 1))
            start = text.find(piece.text, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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


class SearchService:
    """Searches: a fixed number of statements whatever the size of the database.

    A query with one term costs what a hashtag page costs; with more, one statement more
    (the capped counts that pick the rarest term to walk).
    """

    def __init__(self, db: Database, *, posts: PostService) -> None:
        self.db = db
        self.posts = posts

    async def search(
        self,
        query: str | SearchQuery,
        before: int | None = None,
        viewer_id: int | None = None,
        limit: int | None = None,
    ) -> Page:
        """Posts holding every word of ``query``, newest first, keyset-paged on ``before``
        like every timeline (``limit`` defaults to the page size). The API wires this."""
        parsed = parse_query(query) if isinstance(query, str) else query
        if not parsed.searchable:
            return Page([], None)
        terms = await self._walk_order(parsed.terms)
        walked = search_terms.alias("walked")
        doc = search_terms.alias("doc")
        checks = [
            exists()
            .where(search_terms.c.term == term, search_terms.c.post_id == walked.c.post_id)
            .correlate(walked)
            for term in terms[1:WALKED_TERMS]
        ]
        statement = (
            select(*POST_COLUMNS)
            .select_from(walked)
            .join(posts, posts.c.id == walked.c.post_id)
            .join(users, users.c.id == posts.c.user_id)
            .join(doc, (doc.c.term == BODY_TERM) & (doc.c.post_id == walked.c.post_id))
            .where(walked.c.term == terms[0], LIVE_USER, *checks)
            .where(*(doc.c.body.like(like_pattern(piece)) for piece in parsed.pieces))
        )
        return await self.posts.page_of_posts(
            statement, walked.c.post_id, before, viewer_id, limit=limit
        )

    async def _walk_order(self, terms: Sequence[str]) -> list[str]:
        """The terms, rarest first by a count that stops at ``COUNT_CAP`` (one statement)."""
        if len(terms) == 1:
            return list(terms)
        counted = list(terms[:COUNTED_TERMS])
        columns = [
            select(func.count())
            .select_from(
                select(search_terms.c.post_id)
                .where(search_terms.c.term == term)
                .limit(COUNT_CAP)
                .subquery()
            )
            .scalar_subquery()
            .label(f"c{index}")
            for index, term in enumerate(counted)
        ]
        async with self.db.read() as conn:
            counts = (await conn.execute(select(*columns))).one()
        # Among equally common terms the longer (a word's 8-character prefix, a 2-gram) is
        # likely the rarer past the cap.
        return [
            term
            for _, term in sorted(
                zip(counts, counted, strict=True), key=lambda pair: (pair[0], -len(pair[1]))
            )
        ]

    async def reindex(
        self, *, batch: int = 1000, progress: Callable[[int], None] | None = None
    ) -> int:
        """Rebuild the whole index from the posts; returns the number of posts indexed.

        Runs in batches of ``batch`` posts, each its own transaction, so the site stays up;
        a post written meanwhile is indexed by its own transaction (rows already there are
        skipped). Searches made during the rebuild may miss posts not yet reached.
        """
        async with self.db.transaction() as conn:
            await conn.execute(delete(search_terms))
        done = 0
        after = 0
        while True:
            async with self.db.transaction() as conn:
                rows = (
                    await conn.execute(
                        select(posts.c.id, posts.c.content)
                        .where(posts.c.id > after)
                        .order_by(posts.c.id)
                        .limit(batch)
                    )
                ).all()
                if not rows:
                    return done
                await conn.execute(
                    self.db.insert_ignore(search_terms),
                    index_rows((row.id, row.content) for row in rows),
                )
            after = rows[-1].id
            done += len(rows)
            if progress is not None:
                progress(len(rows))

    async def count_posts(self) -> int:
        async with self.db.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(posts))).scalar_one())
