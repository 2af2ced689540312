"""The database layer on both databases: migrations, Unicode, concurrent writers."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, select, text

from sns.comments import CommentService
from sns.db import Database, alembic_config, utcnow
from sns.follows import FollowService
from sns.likes import LikeService
from sns.posts import PostService
from sns.schema import metadata, posts, users
from tests.conftest import BACKENDS, new_mariadb_url


def post_service(db: Database) -> PostService:
    return PostService(
        db, comments=CommentService(db), likes=LikeService(db), follows=FollowService(db)
    )


@pytest.fixture(params=BACKENDS)
async def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        url = new_mariadb_url(request.getfixturevalue("mariadb"))
    db = Database(url)
    await db.migrate()
    yield db
    await db.dispose()


async def make_user(db: Database, email: str = "a@example.com", nick: str = "nick") -> int:
    async with db.transaction() as conn:
        result = await conn.execute(
            insert(users).values(email=email, nick=nick, provider="local", created_at=utcnow())
        )
        return result.inserted_primary_key[0]


async def test_migrations_create_exactly_the_model(database: Database):
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with database.read() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def migration_scripts() -> ScriptDirectory:
    """Alembic's own view of our migrations: the source of truth for base and head."""
    return ScriptDirectory.from_config(alembic_config())


async def test_migrations_run_twice_without_harm(database: Database):
    user_id = await make_user(database, nick="kept")
    await database.migrate()
    async with database.read() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        nick = (await conn.execute(select(users.c.nick).where(users.c.id == user_id))).scalar()
    assert version == migration_scripts().get_current_head()
    assert nick == "kept"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrading_from_the_first_schema_keeps_the_data(request, tmp_path, backend):
    from alembic import command

    if backend == "mariadb":
        url = new_mariadb_url(request.getfixturevalue("mariadb"))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    db = Database(url)
    try:

        def upgrade_to(connection, revision):
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        async with db.engine.connect() as conn:
            await conn.run_sync(upgrade_to, migration_scripts().get_base())
            await conn.execute(
                text(
                    "INSERT INTO users (email, nick, provider, created_at) "
                    "VALUES ('old@example.com', '옛사용자', 'local', '2026-01-01 00:00:00')"
                )
            )
            await conn.commit()
        await db.migrate()
        async with db.read() as conn:
            row = (await conn.execute(select(users))).one()
        assert row.nick == "옛사용자" and row.session_version == 0
    finally:
        await db.dispose()


async def test_korean_and_emoji_round_trip(database: Database):
    nick = "노드버드🐦"
    user_id = await make_user(database, "이메일@example.com", nick)
    content = "안녕하세요 😀 " + "가" * 130
    service = post_service(database)
    post_id = await service.create(user_id, content)
    async with database.read() as conn:
        row = (await conn.execute(select(posts.c.content).where(posts.c.id == post_id))).one()
        stored_nick = (await conn.execute(select(users.c.nick))).scalar()
    assert row.content == content
    assert stored_nick == nick


async def test_a_failed_transaction_leaves_nothing_behind(database: Database):
    user_id = await make_user(database)
    with pytest.raises(RuntimeError):
        async with database.transaction() as conn:
            await conn.execute(
                insert(posts).values(
                    user_id=user_id, content="half", created_at=utcnow(), updated_at=utcnow()
                )
            )
            raise RuntimeError("boom")
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(posts))).scalar() == 0


async def test_concurrent_writers_wait_instead_of_failing(database: Database):
    """Many transactions that read then write, at once, from two engines (like two
    processes): on SQLite this is where "database is locked" used to appear."""
    user_id = await make_user(database)
    second = Database(database.url)
    try:

        async def write(db: Database, number: int) -> None:
            async with db.transaction() as conn:
                await conn.execute(select(func.count()).select_from(posts))
                await asyncio.sleep(0)
                await conn.execute(
                    insert(posts).values(
                        user_id=user_id,
                        content=f"#동시 {number}",
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                )

        await asyncio.gather(*(write(database if n % 2 else second, n) for n in range(60)))
        service = post_service(second)
        await asyncio.gather(*(service.create(user_id, f"#동시 tagged {n}") for n in range(20)))
    finally:
        await second.dispose()
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(posts))).scalar() == 80


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.sqlite3'}")
    try:
        async with db.read() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await db.dispose()
    assert mode == "wal"
    assert timeout >= 5000
    assert foreign_keys == 1


async def test_mariadb_tables_are_utf8mb4(mariadb):
    db = Database(new_mariadb_url(mariadb))
    try:
        await db.migrate()
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT table_name, table_collation FROM information_schema.tables "
                        "WHERE table_schema = DATABASE()"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    collations = {row[0]: row[1] for row in rows}
    assert {"users", "posts", "hashtags", "sessions"} <= set(collations)
    for table, collation in collations.items():
        if table != "alembic_version":
            assert collation.startswith("utf8mb4"), table


async def test_deleting_a_post_removes_every_row_that_hangs_on_it(database: Database):
    from sns.schema import comments, hashtags, likes, post_hashtags

    author = await make_user(database, "author@example.com", "author")
    reader = await make_user(database, "reader@example.com", "reader")
    service = post_service(database)
    comments_, likes_ = service.comments, service.likes
    post_id = await service.create(author, "doomed #one #둘")
    kept_id = await service.create(author, "kept #one")
    comment = await comments_.comment(reader, post_id, "comment")
    await comments_.reply(author, comment.id, "reply")
    await likes_.like(reader, post_id)
    await likes_.like(reader, kept_id)
    await service.delete(author, post_id)

    async def count(table, column) -> int:
        async with database.read() as conn:
            query = select(func.count()).select_from(table).where(column == post_id)
            return (await conn.execute(query)).scalar()

    assert await count(posts, posts.c.id) == 0
    assert await count(comments, comments.c.post_id) == 0
    assert await count(likes, likes.c.post_id) == 0
    assert await count(post_hashtags, post_hashtags.c.post_id) == 0
    page = await service.by_hashtag("one", viewer_id=reader)
    assert [p.id for p in page.posts] == [kept_id] and page.posts[0].liked
    async with database.read() as conn:
        titles = set((await conn.execute(select(hashtags.c.title))).scalars())
    assert titles == {"one", "둘"}


async def test_a_write_that_loses_a_deadlock_runs_again(mariadb):
    """Two transactions lock two rows in opposite orders: MariaDB kills one (1213); ``write``
    runs it again, so both land. Plain ``transaction`` would have raised for the loser."""
    from sqlalchemy import update

    db = Database(new_mariadb_url(mariadb))
    await db.migrate()
    try:
        first, second = (
            await make_user(db, "p@example.com", "p"),
            await make_user(db, "q@example.com", "q"),
        )
        both_hold_one = asyncio.Barrier(2)
        runs: list[str] = []

        def locker(name: str, order: tuple[int, int]):
            async def work(conn) -> None:
                runs.append(name)
                await conn.execute(update(users).where(users.c.id == order[0]).values(nick=name))
                if runs.count(name) == 1:
                    await both_hold_one.wait()
                await conn.execute(update(users).where(users.c.id == order[1]).values(nick=name))

            return work

        await asyncio.gather(
            db.write(locker("a", (first, second))), db.write(locker("b", (second, first)))
        )
        assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])  # the loser ran twice
        async with db.read() as conn:
            nicks = set((await conn.execute(select(users.c.nick))).scalars())
        assert len(nicks) == 1  # the retried one ran last and wrote both rows
    finally:
        await db.dispose()
