"""Search posts by their words, Korean included: the query side of ``sns.search_index``.

A query is cut the way posts are cut. Its terms are looked up with one capped count each,
the rarest walks the index newest first (like a hashtag page walks its tag), up to three
more are checked by primary-key lookups, and every piece of the query must be in the
post's normalised text: a CJK piece anywhere, a word piece at the start of a word.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import delete, exists, func, select

from sns.changes import search_changes
from sns.db import Database
from sns.errors import Invalid
from sns.post_queries import POST_COLUMNS
from sns.post_views import Page
from sns.posts import PostService
from sns.safety_filters import without_hidden
from sns.schema import posts, search_terms, users
from sns.search_index import (
    BODY_TERM,
    Piece,
    index_rows,
    is_cjk,
    is_word_char,
    normalize,
    pieces_of,
    word_prefix_length,
)
from sns.visible import LIVE_USER

QUERY_MAX_CHARS = 140
"""Longest query accepted: a post is at most 140 characters, so a longer query finds nothing."""
COUNT_CAP = 200
"""Counting a term stops here: enough to tell a rare term from a common one, cheaply."""
COUNTED_TERMS = 8
"""At most this many distinct terms of a query are counted; the text check does the rest."""
WALKED_TERMS = 4
"""The rarest term walks the index; up to three more are checked per candidate."""


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
        hidden_for: int | None = None,
    ) -> Page:
        """Posts holding every word of ``query``, newest first, keyset-paged on ``before``
        like every timeline (``limit`` defaults to the page size). The API wires this.

        What the viewer must not see is left out (``PostService.page_of_posts``); the API,
        which decorates nothing, names its reader as ``hidden_for`` instead."""
        parsed = parse_query(query) if isinstance(query, str) else query
        if not parsed.searchable:
            return Page([], None, changes=frozenset())
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
        if viewer_id is None:
            statement = without_hidden(statement, hidden_for)
        # The rows are shared by every reader (``_listed``'s) but for the API's, filtered
        # for its caller in the statement.
        shared_as = ("search", parsed.raw) if hidden_for is None else None
        changes = search_changes(parsed.terms)
        page = await self.posts.page_of_posts(
            statement,
            walked.c.post_id,
            before,
            viewer_id,
            limit=limit,
            shared_as=shared_as,
            list_changes=changes,
        )
        return replace(page, changes=changes)

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
