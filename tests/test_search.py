"""The search tokenizer (pure functions) and the migration that indexes stored posts."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from sns import search_index
from sns.comments import CommentService
from sns.db import Database, alembic_config
from sns.errors import Invalid
from sns.follows import FollowService
from sns.likes import LikeService
from sns.posts import PostService
from sns.search import QUERY_MAX_CHARS, SearchService, like_pattern, mark_spans, parse_query
from sns.search_index import (
    Piece,
    body_of,
    document,
    index_terms,
    is_cjk,
    pieces_of,
    pieces_of_body,
)
from tests.conftest import new_mariadb_url


def texts(raw: str) -> list[str]:
    return [piece.text for piece in pieces_of(raw)]


@pytest.mark.parametrize(
    ("raw", "pieces"),
    [
        ("노드를 배우는 중", ["노드를", "배우는", "중"]),
        ("Node.js와 노드", ["node", "js", "와", "노드"]),
        ("tornado's", ["tornado", "s"]),
        ("TORNADO", ["tornado"]),
        ("ｎｏｄｅ　ＴＯＲＮＡＤＯ", ["node", "tornado"]),  # full-width, ideographic space
        ("Straße", ["strasse"]),  # case folding, not just lower case
        ("#노드_공부 2024년!", ["노드", "공부", "2024", "년"]),
        ("東京タワーへ", ["東京タワーへ"]),  # Han and Kana make one run
        ("ﾉｰﾄﾞ", ["ノード"]),  # half-width Katakana
        ("café", ["café"]),
        ("?!… 😀🎉", []),
        ("", []),
    ],
)
def test_text_is_normalised_and_cut_into_runs_of_one_kind(raw, pieces):
    assert texts(raw) == pieces


def test_every_code_point_of_the_cjk_ranges_and_no_other_counts_as_cjk():
    # is_cjk is one regular-expression class built from the ranges (it runs for every
    # character of every new post); it must say what the ranges say, to the last point.
    ranges = search_index._CJK_RANGES
    for point in range(0x110000):
        expected = any(low <= point <= high for low, high in ranges)
        assert is_cjk(chr(point)) == expected, hex(point)


def test_korean_runs_give_2_grams_and_characters_words_give_prefixes():
    assert index_terms(pieces_of("노드를")) == {"노드", "드를", "노", "드", "를"}
    assert index_terms(pieces_of("중")) == {"중"}
    assert index_terms(pieces_of("tornado")) == {"t", "to", "tor", "torn", "tornad"}
    assert index_terms(pieces_of("interoperability")) == {
        "i",
        "in",
        "int",
        "inte",
        "intero",
        "interope",
    }
    assert all(len(term) <= 8 for term in index_terms(pieces_of("a" * 140)))


def test_a_query_needs_the_2_grams_of_each_korean_piece_and_a_prefix_of_each_word():
    assert parse_query("노드를 배우는").terms == ("노드", "드를", "배우", "우는")
    assert parse_query("노").terms == ("노",)
    assert parse_query("Tornado node.JS").terms == ("tornad", "node", "js")
    assert parse_query("노드 노드 NODE node").pieces == (Piece("노드", True), Piece("node", False))
    assert not parse_query(" ¿?!😀 ").searchable


def test_a_query_longer_than_a_post_is_refused_with_its_length():
    assert parse_query("가" * QUERY_MAX_CHARS).searchable
    with pytest.raises(Invalid) as refused:
        parse_query("가" * (QUERY_MAX_CHARS + 1))
    assert refused.value.message == "A search is at most 140 characters; this one has 141."


def test_the_stored_body_gives_back_the_same_terms_and_holds_no_like_wildcards():
    for raw in ("Node.js와 노드를_배우는 100% 중", "a_b%c\\d", "ｎｏｄｅ 東京"):
        body, terms = document(raw)
        assert body.startswith(" ") and body.endswith(" ")
        assert index_terms(pieces_of_body(body)) == terms
        for piece in pieces_of(raw):
            assert not set(like_pattern(piece).strip("% ")) & set("%_\\")
    assert body_of(pieces_of("Node.js와")) == " node js 와 "


def test_marks_cover_the_original_characters_of_each_match():
    pieces = parse_query("노드 tornado JS").pieces
    content = "Node.js와 노드를 TORNADO's ｔｏｒｎａｄｏ"
    marked = [content[start:end] for start, end in mark_spans(content, pieces)]
    assert marked == ["js", "노드", "TORNADO", "ｔｏｒｎａｄｏ"]
    # A word is marked where a word starts; Korean anywhere.
    assert mark_spans("notornado 서울시", parse_query("tornado 울").pieces) == [(11, 12)]
    assert mark_spans("anything", ()) == []


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_the_migration_indexes_the_posts_already_stored(request, backend, tmp_path):
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = new_mariadb_url(request.getfixturevalue("mariadb"))
    sync = url.replace("+aiomysql", "+pymysql").replace("+aiosqlite", "")
    engine = create_engine(sync)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
            conn.execute(
                text(
                    "INSERT INTO users (id, nick, provider, created_at) "
                    "VALUES (1, 'old', 'local', '2026-01-01 00:00:00')"
                )
            )
            for number, content in enumerate(["노드를 배우는 중", "Node.js와 노드", "서울시"], 1):
                conn.execute(
                    text(
                        "INSERT INTO posts (id, user_id, content, like_count, created_at, "
                        "updated_at) VALUES (:id, 1, :content, 0, '2026-01-01 00:00:00', "
                        "'2026-01-01 00:00:00')"
                    ),
                    {"id": number, "content": content},
                )
    finally:
        engine.dispose()

    async def migrate_and_search() -> dict[str, list[int]]:
        db = Database(url)
        try:
            await db.migrate()
            posts = PostService(
                db, comments=CommentService(db), likes=LikeService(db), follows=FollowService(db)
            )
            service = SearchService(db, posts=posts)
            found = {}
            for query in ("노드", "노드를", "node", "시"):
                page = await service.search(query)
                found[query] = [post.id for post in page.posts]
            return found
        finally:
            await db.dispose()

    assert asyncio.run(migrate_and_search()) == {
        "노드": [2, 1],
        "노드를": [1],
        "node": [2],
        "시": [3],
    }
