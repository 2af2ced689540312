"""Lists and decorations read once per site version and shared by every reader (#22): each
reader is shown exactly what their own statements show them, whoever read the shared rows
first: blocks both ways, mutes and muted words, moderators' hidden posts and comments
(shown to their authors alone), on both databases; search's rows too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, update

from sns.changes import ChangeAwareCache, KnownChanges, post_token
from sns.db import Database, utcnow
from sns.pagecache import VersionedCache
from sns.posts import PostService
from sns.reader_safety import reading_as
from sns.reader_versions import ReaderCache
from sns.schema import comments, posts
from sns.search import SearchService
from sns.shared_reads import forget_version, reading_at, version_read
from tests.test_following import database_url, post_service, tell_reader
from tests.test_safety_memory import BLOCKED, BLOCKING, CLEAN, MUTED, READER, seed

READERS = (READER, CLEAN, BLOCKED, BLOCKING, MUTED)
OWN_HIDDEN_POST = 5
"""A post of READER's that a moderator hid: READER sees it, nobody else does."""


async def hide_some(db: Database) -> None:
    """READER's hidden post, a hidden comment of READER's under CLEAN's first post, and a
    shown one under CLEAN's second (which the people READER blocked must not see)."""
    now = utcnow()
    async with db.transaction() as conn:
        await conn.execute(
            insert(posts),
            [
                {"id": OWN_HIDDEN_POST, "user_id": READER, "content": "#모두 mine"}
                | {"created_at": now, "updated_at": now, "like_count": 0, "hidden_at": now}
            ],
        )
        await conn.execute(
            insert(comments),
            [
                {"post_id": 10 * CLEAN, "user_id": READER, "content": "hidden"}
                | {"created_at": now, "hidden_at": now},
                {"post_id": 10 * CLEAN + 1, "user_id": READER, "content": "shown"}
                | {"created_at": now, "hidden_at": None},
            ],
        )
        await conn.execute(update(posts).where(posts.c.id == 10 * CLEAN + 2).values(hidden_at=now))


async def walk(list_page: Any) -> list[tuple[int, list[int], int]]:
    """Every page of a list: each post with the ids of its comments shown and its total."""
    shown: list[tuple[int, list[int], int]] = []
    before = None
    while True:
        page = await list_page(before)
        shown += [
            (post.id, [comment.id for comment in post.comments], post.comment_count)
            for post in page.posts
        ]
        if page.next_before is None:
            return shown
        before = page.next_before


async def lists_of(service: PostService, reader: int) -> dict[str, object]:
    search = SearchService(service.db, posts=service)
    return {
        "/search": await walk(lambda before: search.search("post", before, reader)),
        "/": await walk(lambda before: service.timeline(before, reader)),
        "/hashtag": await walk(lambda before: service.by_hashtag("모두", before, reader)),
        "/user": await walk(lambda before: service.by_user(CLEAN, before, reader)),
        "/user READER": await walk(lambda before: service.by_user(READER, before, reader)),
        "/following": await walk(lambda before: service.following(reader, before)),
    }


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_every_reader_sees_their_own_whoever_read_the_shared_rows_first(request, backend, tmp_path):
    url = database_url(request, backend, tmp_path)

    async def run() -> tuple[dict[int, Any], list[dict[int, Any]], list[int]]:
        db = Database(url)
        try:
            await db.migrate()
            await seed(db)
            await hide_some(db)
            service = post_service(db, page_size=4)
            by_sql = {}
            for reader in READERS:
                reading_as(None, None)
                by_sql[reader] = await lists_of(service, reader)
            shared_passes, hits = [], []
            for order in (READERS, READERS[::-1]):
                service.shared = VersionedCache(256, ttl=60)
                reading_at(1)
                seen = {}
                for reader in order:
                    await tell_reader(db, reader)
                    seen[reader] = await lists_of(service, reader)
                shared_passes.append(seen)
                hits.append(service.shared.hits)
            return by_sql, shared_passes, hits
        finally:
            await db.dispose()

    by_sql, shared_passes, hits = asyncio.run(run())
    for seen in shared_passes:
        assert seen == by_sql
    assert all(count > 0 for count in hits)  # the rows and decorations were shared
    assert len(by_sql[CLEAN]["/search"]) > len(by_sql[BLOCKED]["/search"]) > 0
    mine = [post_id for post_id, _comments, _total in by_sql[READER]["/"]]
    assert OWN_HIDDEN_POST in mine and 10 * CLEAN + 2 not in mine
    for reader in (CLEAN, MUTED):
        assert OWN_HIDDEN_POST not in [post_id for post_id, _c, _t in by_sql[reader]["/"]]
    totals = {
        reader: {post_id: total for post_id, _c, total in by_sql[reader]["/"]}
        for reader in (READER, MUTED, BLOCKED)
    }
    # Under CLEAN's first post: a comment of each author; READER sees those of the two
    # they neither block nor mute, and their own hidden one, which nobody else counts.
    assert totals[MUTED][10 * CLEAN] == 6 and totals[READER][10 * CLEAN] == 3
    # Under the second, READER's shown comment: not for BLOCKED, whom READER blocked.
    assert totals[MUTED][10 * CLEAN + 1] == 1 and totals[BLOCKED][10 * CLEAN + 1] == 0


def test_a_request_that_wrote_reads_afresh(tmp_path):
    """What a request reads after its own commit is newer than the version it read first:
    it is neither taken from nor kept under that version."""

    async def run() -> tuple[int | None, int | None]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'afresh.sqlite3'}")
        try:
            await db.migrate()
            db.after_commit.append(forget_version)
            reading_at(3)
            before = version_read()
            await seed(db)
            return before, version_read()
        finally:
            await db.dispose()

    assert asyncio.run(run()) == (3, None)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_shared_rows_and_decorations_outlive_writes_to_posts_they_do_not_show(
    request, backend, tmp_path
):
    """Kept with what they depend on (``sns.changes``): after a like of a post the page
    does not show, the page is made again without one statement; after one of a post it
    shows, that post and the list are read again."""
    url = database_url(request, backend, tmp_path)

    async def run() -> tuple[int, int, int]:
        db = Database(url)
        try:
            await db.migrate()
            await seed(db)
            service = post_service(db, page_size=4)
            log = KnownChanges()
            service.shared = ChangeAwareCache(log, 256, ttl=60)
            service.readers = ReaderCache(100, ttl=60)
            await tell_reader(db, CLEAN)
            log.seen = 1
            reading_at(1, (1, 1))  # the reader's own version: their likes and follows kept
            first = await service.timeline(None, CLEAN)
            shown_ids = {post.id for post in first.posts}
            elsewhere = next(i for i in range(1, 200) if i not in shown_ids)
            spent = []
            for version, token in ((2, post_token(elsewhere)), (3, post_token(min(shown_ids)))):
                log.note(token, version)
                log.seen = version
                reading_at(version, (1, 1))
                before = db.statement_count
                again = await service.timeline(None, CLEAN)
                assert [post.id for post in again.posts] == [post.id for post in first.posts]
                spent.append(db.statement_count - before)
            return len(shown_ids), spent[0], spent[1]
        finally:
            await db.dispose()

    shown_count, after_elsewhere, after_shown = asyncio.run(run())
    assert shown_count == 4
    assert after_elsewhere == 0
    assert after_shown > 0
