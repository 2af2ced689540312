"""The one object that owns the database: engine, transactions, migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and write transactions
start with ``BEGIN IMMEDIATE``: a deferred transaction that reads first and writes later can
fail at once with "database is locked" when another writer got there in between, whatever
the busy timeout; an immediate one takes the write lock up front and waits its turn.
"""

from __future__ import annotations

import ast
import asyncio
import contextvars
import fcntl
import functools
import os
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Insert, Table, event, inspect, text
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DBAPIError

from sns.async_sql import AsyncConnection, AsyncEngine, create_async_engine
from sns.metrics import Metrics
from sns.read_sharing import ReadWhenAsked, SharedRead
from sns.reader_versions import CHANGED, TOUCHED
from sns.statements import note_statement

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15000
MIGRATION_LOCK = "sns:migrate"
MIGRATION_LOCK_WAIT = 300  # seconds; a migration of a large table can take a while
MYSQL_DEADLOCK = 1213
DEADLOCK_ATTEMPTS = 4

T = TypeVar("T")


def is_deadlock(exc: DBAPIError) -> bool:
    """MySQL's "Deadlock found when trying to get lock" (1213)."""
    args: tuple[Any, ...] = getattr(exc.orig, "args", ())
    return bool(args) and args[0] == MYSQL_DEADLOCK


def new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just made."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT made no row")
    return int(key[0])


def utcnow() -> datetime:
    """Naive UTC, as stored in DATETIME columns on both databases."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


_shared_read: contextvars.ContextVar[SharedRead | None] = contextvars.ContextVar(
    "sns_shared_read", default=None
)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations, without needing alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """Async access to SQLite or MySQL/MariaDB through SQLAlchemy Core."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5,
        query_timeout: float | None = 10,
        pool_timeout: float = 5,
        pool_size: int = 4,
        max_overflow: int = 4,
        metrics: Metrics | None = None,
    ) -> None:
        self.url = url
        self.metrics = metrics or Metrics()
        self.is_sqlite = url.startswith("sqlite")
        # Every statement this process ran; handlers/base.py reads it until it counts per
        # request with sns.statements (#18).
        self.statement_count = 0
        # Called after every committed write transaction: the page cache's site version.
        self.after_commit: list[Callable[[], Awaitable[None]]] = []
        # Called after it too with the readers its statements touched, when something
        # watches them (``sns.reader_versions``).
        self.after_commit_readers: list[Callable[[set[int]], Awaitable[None]]] = []
        # And with what it changed (``sns.changes``), when something reads that.
        self.after_commit_changes: list[Callable[[set[str]], Awaitable[None]]] = []
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_async_engine(
                url,
                pool_pre_ping=True,
                pool_recycle=3600,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                connect_args={"connect_timeout": connect_timeout},
            )
        # A frozen or unreachable server must turn into a quick error, not a hung request;
        # SQLite is a local file whose own busy timeout already bounds the wait.
        self.query_timeout = None if self.is_sqlite else query_timeout
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count_statement)
        event.listen(self.engine.sync_engine, "checkout", self._taken)
        event.listen(self.engine.sync_engine, "checkin", self._given_back)

    def _taken(self, *_args: Any) -> None:
        self.metrics.pool_in_use(1)

    def _given_back(self, *_args: Any) -> None:
        self.metrics.pool_in_use(-1)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection from the pool; the wait for it is measured (``/metrics``)."""
        asked = time.perf_counter()
        async with self.engine.connect() as conn:
            self.metrics.pool_wait(time.perf_counter() - asked)
            yield conn

    def _count_statement(self, *_args: Any) -> None:
        self.statement_count += 1
        note_statement()

    def share_reads(self) -> SharedRead:
        """From now on in this task (and tasks it starts), ``read`` blocks take turns on one
        connection: a page's reads (its user, session row, posts, sidebar counts and unread
        count) pay one checkout and one rollback, not one each (#22). The caller closes it
        when its reads are done; a write transaction closes it first."""
        shared = SharedRead(self)
        _shared_read.set(shared)
        return shared

    @asynccontextmanager
    async def read_if_needed(self) -> AsyncIterator[AsyncConnection]:
        """``read``, but the connection is taken only when a statement runs: a page whose
        reads are all kept in memory (``sns.shared_reads``) takes none from the pool
        (taking and giving back a shared read's connection was a twelfth of the loop
        while others wrote, py-spy). Only ``execute`` may be called on it."""
        async with AsyncExitStack() as stack:
            yield cast(AsyncConnection, ReadWhenAsked(self, stack))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; whatever it wrote is rolled back."""
        shared = _shared_read.get()
        if shared is not None and not shared.busy and not shared.done:
            async with asyncio.timeout(self.query_timeout):
                conn = await shared.take()
            if conn is not None:
                try:
                    async with asyncio.timeout(self.query_timeout):
                        yield conn
                except BaseException:
                    await shared.release(failed=True)
                    raise
                await shared.release()
                return
        async with asyncio.timeout(self.query_timeout), self._connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back on error."""
        shared = _shared_read.get()
        if shared is not None and not shared.done:
            await shared.finish()
        async with asyncio.timeout(self.query_timeout), self._connection() as conn:
            if self.is_sqlite:
                await conn.execution_options(sqlite_begin="IMMEDIATE")
            info = conn.sync_connection.info if conn.sync_connection is not None else {}
            touched: set[int] = set()
            changed: set[str] = set()
            info[TOUCHED], info[CHANGED] = touched, changed
            try:
                async with conn.begin():
                    yield conn
            finally:
                info.pop(TOUCHED, None)
                info.pop(CHANGED, None)
        for changes_hook in self.after_commit_changes:
            await changes_hook(changed)
        for hook in self.after_commit:
            await hook()
        for readers_hook in self.after_commit_readers:
            await readers_hook(touched)

    async def write(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction; run it again when it lost a deadlock.

        The database rolls a deadlock's victim back whole, so running it again is safe and is
        what MySQL's manual asks of applications. Locks are taken in one order (user rows,
        then the post row, then what hangs on it) so that deadlocks stay rare.
        """
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                async with self.transaction() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt == DEADLOCK_ATTEMPTS or not is_deadlock(exc):
                    raise
                await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
        raise AssertionError("unreachable")

    def insert_ignore(self, table: Table) -> Insert:
        """An INSERT that skips rows clashing with a unique key (and only those on SQLite).

        Callers check the rowcount to learn whether the row was new: that is what keeps
        like counts exact when the same click arrives twice at once.
        """
        if self.is_sqlite:
            return sqlite_dialect.insert(table).on_conflict_do_nothing()
        return mysql_dialect.insert(table).prefix_with("IGNORE")

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with asyncio.timeout(self.query_timeout), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Apply every pending migration, one process at a time.

        Processes starting together on an empty database take turns: MySQL's ``GET_LOCK``
        on the migrating connection, or a file lock beside the SQLite file. The one that
        comes second finds the database at head and has nothing to do.
        """
        if await self.at_head():  # every start but the first after an upgrade of the code
            return
        if self.is_sqlite:
            async with _file_lock(self._sqlite_lock_path()):
                await self._upgrade()
            return
        async with self.engine.connect() as conn:
            got = (
                await conn.execute(
                    text("SELECT GET_LOCK(:name, :wait)"),
                    {"name": MIGRATION_LOCK, "wait": MIGRATION_LOCK_WAIT},
                )
            ).scalar()
            if got != 1:
                raise RuntimeError(
                    f"another process held the migration lock for {MIGRATION_LOCK_WAIT} s"
                )
            try:
                await conn.commit()
                await conn.run_sync(_upgrade)
                await conn.commit()
            finally:
                await conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MIGRATION_LOCK})
                await conn.commit()

    async def check_at_head(self) -> None:
        """Raise ``SchemaBehind`` unless the database carries every migration of this code.

        Used when ``python run.py migrate`` runs before the workers (``SNS_MIGRATE=check``):
        a worker must not serve an older schema than its code expects.
        """
        current = await self.current_heads()
        wanted = code_heads()
        if current != wanted:
            have = ", ".join(sorted(current)) or "empty (no migration applied)"
            raise SchemaBehind(
                f"the database schema is at {have} but this code needs {', '.join(sorted(wanted))}:"
                " run `python run.py migrate` before starting the workers"
                " (or set SNS_MIGRATE=auto)"
            )

    async def current_heads(self) -> set[str]:
        """The migrations the database carries (Alembic's version table)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_heads)

    async def at_head(self) -> bool:
        """Whether the database carries exactly the migrations of this code."""
        return await self.current_heads() == code_heads()

    async def _upgrade(self) -> None:
        async with self.engine.connect() as conn:
            await conn.run_sync(_upgrade)
            await conn.commit()

    def _sqlite_lock_path(self) -> Path:
        path = self.url.split("///", 1)[-1]
        return Path(path + ".migrate-lock") if path and path != ":memory:" else Path(os.devnull)

    async def dispose(self) -> None:
        await self.engine.dispose()


class SchemaBehind(RuntimeError):
    """The database lacks migrations this code needs (or has ones it does not know)."""


REVISION = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


@functools.cache
def code_heads(versions: Path = MIGRATIONS_DIR / "versions") -> frozenset[str]:
    """The newest migrations of this code, read from the files without importing Alembic
    (Alembic, Mako and their dialects are 10 MB that a serving process never needs once
    its database is at head). tests/test_migrations.py holds this to Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        found = dict(REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(ast.literal_eval(found["revision"]))
        down = ast.literal_eval(found.get("down_revision", "None"))
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _current_heads(connection: Connection) -> set[str]:
    if not inspect(connection).has_table("alembic_version"):
        return set()
    rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    return {row[0] for row in rows}


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when a transaction begins (SQLAlchemy docs,
    # "Serializable isolation / Savepoints / Transactional DDL (asyncio version)").
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    """An exclusive ``flock`` on ``path``, waited for in a thread (not on the event loop)."""
    if path == Path(os.devnull):
        yield
        return
    with path.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def migrate_url(url: str) -> None:
    """Apply migrations to the database at ``url`` (the ``sns migrate`` command)."""
    database = Database(url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


def run_migrations(url: str) -> None:
    asyncio.run(migrate_url(url))
