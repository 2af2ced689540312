"""/following pages by a per-author merge: every post of the people followed once, in order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from datetime import datetime

import pytest
from sqlalchemy import insert, select, update

from sns import post_pages
from sns.async_sql import AsyncConnection
from sns.comments import CommentService
from sns.db import Database, utcnow
from sns.follows import FollowService
from sns.likes import LikeService
from sns.posts import PostService
from sns.reader_safety import ReaderSafety, reading_as, safety_columns, safety_from_row
from sns.safety import fold_word
from sns.schema import follows, muted_words, mutes, posts, search_terms, users
from sns.search_index import index_rows
from tests.conftest import new_mariadb_url

VIEWER, QUIET, BUSY, OTHER, STRANGER, GONE = range(1, 7)


async def add_people(conn: AsyncConnection, ids: Iterable[int], now: datetime) -> None:
    """Accounts with these ids (nick ``n<id>``), for a test's seed."""
    rows = [{"id": n, "nick": f"n{n}", "provider": "local", "created_at": now} for n in ids]
    await conn.execute(insert(users), rows)


async def add_follows(
    conn: AsyncConnection, follower: int, followed: Iterable[int], now: datetime
) -> None:
    """``follower`` follows each of ``followed``, for a test's seed."""
    rows = [{"follower_id": follower, "following_id": n, "created_at": now} for n in followed]
    await conn.execute(insert(follows), rows)


async def seed(db: Database) -> list[int]:
    """Posts by six people in a shuffled order; returns the ids /following must show."""
    now = utcnow()
    rng = random.Random(11)
    authors = [QUIET] * 3 + [BUSY] * 40 + [OTHER] * 8 + [STRANGER] * 30 + [GONE] * 5
    authors += [VIEWER] * 4
    rng.shuffle(authors)
    async with db.transaction() as conn:
        await add_people(conn, range(1, 7), now)
        await add_follows(conn, VIEWER, (QUIET, BUSY, OTHER, GONE), now)
        await conn.execute(
            insert(posts),
            [
                {"id": number, "user_id": author, "content": f"p{number}", "created_at": now}
                | {"updated_at": now, "like_count": 0}
                for number, author in enumerate(authors, 1)
            ],
        )
        await conn.execute(update(users).where(users.c.id == GONE).values(deleted_at=now))
    wanted = {VIEWER, QUIET, BUSY, OTHER}
    return [n for n, author in sorted(enumerate(authors, 1), reverse=True) if author in wanted]


def database_url(request: pytest.FixtureRequest, backend: str, tmp_path) -> str:
    """A new, empty database of ``backend`` for one test."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'following.sqlite3'}"
    return new_mariadb_url(request.getfixturevalue("mariadb"))


def post_service(db: Database, page_size: int = 7) -> PostService:
    """Posts with pages of 7 unless said, so that a few dozen posts make several pages."""
    return PostService(
        db,
        comments=CommentService(db),
        likes=LikeService(db),
        follows=FollowService(db),
        page_size=page_size,
    )


async def tell_reader(db: Database, user_id: int) -> ReaderSafety | None:
    """Read what ``user_id`` set up as a request does (with the user's row) and say it for
    the rest of the test's task (``reading_as``), as the web layer does."""
    async with db.read() as conn:
        row = (
            await conn.execute(select(*safety_columns(users.c.id)).where(users.c.id == user_id))
        ).one()
    known = safety_from_row(row)
    reading_as(user_id, known)
    return known


async def walk(service: PostService) -> list[list[int]]:
    pages: list[list[int]] = []
    before = None
    while True:
        page = await service.following(VIEWER, before)
        pages.append([post.id for post in page.posts])
        if page.next_before is None:
            return pages
        before = page.next_before


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
@pytest.mark.parametrize("merge_authors", [post_pages.MERGE_AUTHORS, 2])
def test_following_pages_hold_every_post_once_in_order(
    request, backend, merge_authors, tmp_path, monkeypatch
):
    """Merged per author, and walked for someone who follows more than MERGE_AUTHORS."""
    monkeypatch.setattr(post_pages, "MERGE_AUTHORS", merge_authors)
    url = database_url(request, backend, tmp_path)

    async def run() -> tuple[list[int], list[list[int]], list[int]]:
        db = Database(url)
        try:
            await db.migrate()
            expected = await seed(db)
            service = post_service(db)
            pages = await walk(service)
            middle = await service.following(VIEWER, expected[10])
            return expected, pages, [post.id for post in middle.posts]
        finally:
            await db.dispose()

    expected, pages, middle = asyncio.run(run())
    assert [post for page in pages for post in page] == expected
    assert all(len(page) == 7 for page in pages[:-1]) and 0 < len(pages[-1]) <= 7
    # A cursor that is no page boundary starts right after it.
    assert middle == expected[11:18]


async def seed_muted(db: Database) -> list[int]:
    """``seed``'s posts, a third of them holding a word VIEWER muted, and OTHER muted:
    returns the ids /following must still show."""
    expected = await seed(db)
    rng = random.Random(21)
    hiding = {n for n in expected if rng.random() < 0.35}
    now = utcnow()
    async with db.transaction() as conn:
        for number in hiding:
            await conn.execute(
                update(posts).where(posts.c.id == number).values(content=f"p{number} 노드를 배웠다")
            )
        rows = (await conn.execute(select(posts.c.id, posts.c.content))).all()
        await conn.execute(insert(search_terms), index_rows((r.id, r.content) for r in rows))
        word = fold_word("노드")
        await conn.execute(
            insert(muted_words).values(
                user_id=VIEWER,
                word="노드",
                folded=word.folded,
                term=word.term,
                pattern=word.pattern,
                created_at=now,
            )
        )
        await conn.execute(
            insert(mutes).values(muter_id=VIEWER, muted_id=OTHER, created_at=now, until=None)
        )
        authors = dict((await conn.execute(select(posts.c.id, posts.c.user_id))).all())
    return [n for n in expected if n not in hiding and authors[n] != OTHER]


async def timeline_walk(service: PostService) -> list[int]:
    shown: list[int] = []
    before = None
    while True:
        page = await service.timeline(before, VIEWER)
        shown += [post.id for post in page.posts]
        if page.next_before is None:
            return shown
        before = page.next_before


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
@pytest.mark.parametrize(("slack", "rounds", "full"), [(10, 2, True), (0, 0, False)])
@pytest.mark.parametrize("told", [False, True])
def test_following_pages_stay_full_when_muted_words_hide_posts(
    request, backend, slack, rounds, full, told, tmp_path, monkeypatch
):
    """Posts holding a muted word are dropped after the merge cuts a page: it asks a few
    rows more (and again, a bounded number of times), so pages stay full; with neither,
    pages may be short, but every post shown is shown once, in order, and none hidden.
    The same whether the words are matched in SQL (nothing ``told`` of the reader) or, as
    a request does, in Python from the reader's kept row (``sns.reader_safety.reading_as``); the
    global timeline then hides the very posts the SQL filter hides."""
    monkeypatch.setattr(post_pages, "FOLLOWING_SLACK", slack)
    monkeypatch.setattr(post_pages, "FOLLOWING_ROUNDS", rounds)
    url = database_url(request, backend, tmp_path)

    async def run() -> tuple[list[int], list[list[int]], list[int]]:
        db = Database(url)
        try:
            await db.migrate()
            expected = await seed_muted(db)
            service = post_service(db)
            by_sql = await timeline_walk(service)
            if told:
                known = await tell_reader(db, VIEWER)
                assert known is not None and known.words_in_memory
                assert await timeline_walk(service) == by_sql
            pages = await walk(service)
            counts = []
            for page_before in (None, expected[6]):
                counted = db.statement_count
                await service.following(VIEWER, page_before)
                counts.append(db.statement_count - counted)
            return expected, pages, counts
        finally:
            await db.dispose()

    expected, pages, counts = asyncio.run(run())
    assert [post for page in pages for post in page] == expected
    if full:
        assert all(len(page) == 7 for page in pages[:-1]) and 0 < len(pages[-1]) <= 7
        assert counts[0] == counts[1], counts
    else:
        assert any(len(page) < 7 for page in pages[:-1]), "the muted word hid nothing"


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_posts_hidden_by_moderators_leave_following_pages_full_but_not_their_authors(
    request, backend, tmp_path
):
    """The merge reads only the (user_id, id) index; what moderators hid is dropped from
    the cut page, which asks again below it, so pages stay full and in order. The reader's
    own hidden posts stay on their page."""
    url = database_url(request, backend, tmp_path)

    async def run() -> tuple[list[int], list[list[int]]]:
        db = Database(url)
        try:
            await db.migrate()
            expected = await seed(db)
            async with db.transaction() as conn:
                authors = dict((await conn.execute(select(posts.c.id, posts.c.user_id))).all())
                hidden = [n for n in expected[2:40:3]]
                await conn.execute(
                    update(posts).where(posts.c.id.in_(hidden)).values(hidden_at=utcnow())
                )
            service = post_service(db)
            pages = await walk(service)
            return [n for n in expected if n not in hidden or authors[n] == VIEWER], pages
        finally:
            await db.dispose()

    expected, pages = asyncio.run(run())
    assert [post for page in pages for post in page] == expected
    assert all(len(page) == 7 for page in pages[:-1]) and 0 < len(pages[-1]) <= 7
