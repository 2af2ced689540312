"""Blocks, mutes and muted words checked in Python from the reader's kept row (#21): the
same posts and comments hidden as by the SQL filters, on every list, on both databases;
timed mutes end on time; a reader with too many of a kind is filtered by the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert

from sns import reader_safety
from sns.db import Database, utcnow
from sns.posts import PostService
from sns.reader_safety import (
    ReaderSafety,
    in_memory_check,
    safety_from_row,
)
from sns.safety import fold_word
from sns.schema import (
    blocks,
    comments,
    hashtags,
    muted_words,
    mutes,
    post_hashtags,
    posts,
    search_terms,
)
from sns.search import SearchService
from sns.search_index import body_of, index_rows, pieces_of
from tests.test_following import add_follows, add_people, database_url, post_service, tell_reader

READER, BLOCKED, BLOCKING, MUTED_AWHILE, MUTE_ENDED, MUTED, CLEAN = range(1, 8)
AUTHORS = (BLOCKED, BLOCKING, MUTED_AWHILE, MUTE_ENDED, MUTED, CLEAN)
SHOWN = {MUTE_ENDED, CLEAN}

POSTS = [
    "오늘 노드를 배웠다",
    "ＴＯＲＮＡＤＯ web server",
    "tornadoes everywhere",
    "a microtornado",
    "Node.js와 파이썬 #주말",
    "tornado, async server",
    "server async",
    "rareword10 here",
    "e\u0301cole d'été",
    "🙂🙂 노드🙂를",
    "",
]
WORDS = [
    ["노드"],
    ["tornado"],
    ["#주말"],
    ["async server"],
    ["rareword1"],
    ["rareword10", "other"],
    ["école"],
    ["js와"],
    ["node js"],
    [],
]


@pytest.mark.parametrize("words", WORDS, ids=lambda words: "+".join(words) or "none")
def test_words_on_the_written_text_match_as_on_the_stored_body(words):
    """``hides_content`` screens the written text and makes the body only for a candidate:
    it must hide exactly what ``hides`` hides on the body the index stores."""
    reader = ReaderSafety(False, False, bool(words), tuple(fold_word(w).pattern for w in words))
    for post in POSTS:
        assert reader.hides_content(post) is reader.hides(body_of(pieces_of(post))), post


def test_the_kept_row_lists_blocks_both_ways_and_mutes_with_their_end():
    later = utcnow() + timedelta(hours=1)
    row = SimpleNamespace(
        _mapping={
            "safety_blocks": 1,
            "safety_mutes": 1,
            "safety_words": None,
            "safety_blocked": "2,9",
            "safety_blocking": "",
            "safety_muted": f"4 {later.isoformat(' ')},6 ",
        }
    )
    known = safety_from_row(row)
    assert known is not None and known.authors is not None
    assert known.authors.blocked == {2, 9}
    assert dict(known.authors.muted) == {4: later, 6: None}
    now = utcnow()
    assert known.authors.hides(9, now) and known.authors.hides(6, now)
    assert known.authors.hides(4, now) and not known.authors.hides(4, later)
    assert not known.authors.hides(4, now, mutes=False) and not known.authors.hides(7, now)
    # A kind over the limit comes back NULL: that reader is filtered by the database.
    over = safety_from_row(SimpleNamespace(_mapping={**row._mapping, "safety_muted": None}))
    assert over is not None and over.authors is None
    assert in_memory_check(over, now).hidden is None


async def seed(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as conn:
        await add_people(conn, range(1, 8), now)
        await add_follows(conn, READER, (MUTED_AWHILE, MUTE_ENDED, MUTED, CLEAN), now)
        rows = [
            {
                "id": 10 * author + n,
                "user_id": author,
                "content": f"#모두 post {n} by {author}" + (" 노드를" if n == 2 else ""),
                "created_at": now,
                "updated_at": now,
                "like_count": 0,
            }
            for author in AUTHORS
            for n in range(3)
        ]
        await conn.execute(insert(posts), rows)
        await conn.execute(insert(search_terms), index_rows((r["id"], r["content"]) for r in rows))
        await conn.execute(insert(hashtags), [{"id": 1, "title": "모두", "created_at": now}])
        await conn.execute(
            insert(post_hashtags), [{"hashtag_id": 1, "post_id": r["id"]} for r in rows]
        )
        await conn.execute(
            insert(comments),
            [
                {
                    "post_id": 10 * CLEAN,
                    "user_id": author,
                    "content": f"c{author}",
                    "created_at": now,
                }
                for author in AUTHORS
            ],
        )
        await conn.execute(
            insert(blocks),
            [
                {"blocker_id": READER, "blocked_id": BLOCKED, "created_at": now},
                {"blocker_id": BLOCKING, "blocked_id": READER, "created_at": now},
            ],
        )
        await conn.execute(
            insert(mutes),
            [
                {"muter_id": READER, "muted_id": MUTED_AWHILE, "created_at": now}
                | {"until": now + timedelta(hours=1)},
                {"muter_id": READER, "muted_id": MUTE_ENDED, "created_at": now}
                | {"until": now - timedelta(seconds=1)},
                {"muter_id": READER, "muted_id": MUTED, "created_at": now, "until": None},
            ],
        )
        word = fold_word("노드")
        await conn.execute(
            insert(muted_words),
            [
                {"user_id": READER, "word": "노드", "folded": word.folded, "term": word.term}
                | {"pattern": word.pattern, "created_at": now}
            ],
        )


async def every_list(service: PostService) -> dict[str, object]:
    """What the reader is shown on each list: post ids, and the commenters under one post."""
    timeline = await service.timeline(None, READER)
    search = SearchService(service.db, posts=service)
    return {
        "/": [post.id for post in timeline.posts],
        "comments": [
            [comment.author_id for comment in post.comments]
            for post in timeline.posts
            if post.id == 10 * CLEAN
        ],
        "/following": [post.id for post in (await service.following(READER)).posts],
        "/hashtag": [post.id for post in (await service.by_hashtag("모두", None, READER)).posts],
        "/search": [post.id for post in (await search.search("post", None, READER)).posts],
        "/user": [post.id for post in (await service.by_user(CLEAN, None, READER)).posts],
        "/user blocked": [post.id for post in (await service.by_user(BLOCKED, None, READER)).posts],
        "/user muted": [post.id for post in (await service.by_user(MUTED, None, READER)).posts],
    }


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
@pytest.mark.parametrize("limit", [1000, 1])
def test_lists_hide_the_same_in_memory_as_in_sql(request, backend, limit, tmp_path, monkeypatch):
    """Every list shows the reader the same posts and comments whether the filters ran in
    SQL (nothing said of the reader) or on the rows from the kept row; with a limit of one
    account of each kind kept, the reader's two mutes are left to the database again."""
    monkeypatch.setattr(reader_safety, "IDS_IN_MEMORY", limit)
    url = database_url(request, backend, tmp_path)

    async def run() -> tuple[dict[str, object], dict[str, object], ReaderSafety | None]:
        db = Database(url)
        try:
            await db.migrate()
            await seed(db)
            service = post_service(db, page_size=20)
            by_sql = await every_list(service)
            known = await tell_reader(db, READER)
            return by_sql, await every_list(service), known
        finally:
            await db.dispose()

    by_sql, in_memory, known = asyncio.run(run())
    assert known is not None and known.blocks and known.mutes and known.words_in_memory
    if limit == 1:
        assert known.authors is None  # two mutes: over the limit
    else:
        assert known.authors is not None and known.authors.blocked == {BLOCKED, BLOCKING}
    assert in_memory == by_sql
    shown_authors = {post_id // 10 for post_id in by_sql["/"]}
    assert shown_authors == SHOWN
    assert 10 * MUTE_ENDED + 2 not in by_sql["/"]  # its muted word
    assert by_sql["comments"] == [sorted(SHOWN)]
    assert {post_id // 10 for post_id in by_sql["/following"]} == SHOWN
    assert {post_id // 10 for post_id in by_sql["/hashtag"]} == SHOWN
    assert {post_id // 10 for post_id in by_sql["/search"]} == SHOWN
    assert by_sql["/user blocked"] == [] and len(by_sql["/user muted"]) == 3
