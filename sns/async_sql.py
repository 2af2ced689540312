"""Awaitable SQLAlchemy Core connections, without ``sqlalchemy.ext.asyncio``.

That extension imports the ORM (its sessions), 7 MB of every serving process that uses
none of it (#22). What the application needs of it is small: a connection whose calls run
the synchronous Core ``Connection`` in a greenlet, where the asyncio drivers (aiomysql,
aiosqlite) may await. SQLAlchemy's own ``greenlet_spawn`` does that part, as the extension
does; the pool class comes from the dialect (``AsyncAdaptedQueuePool``) either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar, TypeVarTuple, overload

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, CursorResult, Engine, RootTransaction
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TypedReturnsRows
from sqlalchemy.util.concurrency import greenlet_spawn
from sqlalchemy.util.typing import TupleAny

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def _to_completion(work: Coroutine[Any, Any, T]) -> T:
    """Run cleanup (closing a connection) to its end even if the caller is cancelled
    meanwhile, then pass the cancellation on: a connection abandoned halfway would go back
    to the pool in the background, or not at all."""
    task = asyncio.ensure_future(work)
    cancelled: BaseException | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


class AsyncTransaction:
    """``async with conn.begin():`` commits at the end of the block, rolls back on error."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.sync_transaction: RootTransaction | None = None

    async def __aenter__(self) -> AsyncTransaction:
        self.sync_transaction = await greenlet_spawn(self.connection.sync_connection.begin)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.sync_transaction is not None
        await greenlet_spawn(self.sync_transaction.__exit__, kind, value, tb)


class AsyncConnection:
    """One pooled connection; every call runs its Core counterpart in a greenlet. Results
    come back buffered (the asyncio drivers fetch every row in ``execute``)."""

    def __init__(self, sync_connection: Connection) -> None:
        self.sync_connection = sync_connection

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*Ts],
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[*Ts]: ...

    @overload
    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[*TupleAny]: ...

    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[*TupleAny]:
        return await greenlet_spawn(
            self.sync_connection.execute,
            statement,
            parameters,
            execution_options=execution_options,
        )

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[Any]:
        return await greenlet_spawn(self.sync_connection.exec_driver_sql, statement, parameters)

    async def run_sync(self, work: Callable[..., T], *args: Any) -> T:
        """``work(sync_connection, *args)`` in a greenlet: Alembic and ``inspect`` take a
        synchronous connection."""
        return await greenlet_spawn(work, self.sync_connection, *args)

    async def execution_options(self, **options: Any) -> AsyncConnection:
        await greenlet_spawn(self.sync_connection.execution_options, **options)
        return self

    def get_execution_options(self) -> Any:
        return self.sync_connection.get_execution_options()

    def begin(self) -> AsyncTransaction:
        return AsyncTransaction(self)

    async def commit(self) -> None:
        await greenlet_spawn(self.sync_connection.commit)

    async def rollback(self) -> None:
        await greenlet_spawn(self.sync_connection.rollback)

    async def close(self) -> None:
        await greenlet_spawn(self.sync_connection.close)

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await _to_completion(self.close())


class _Connecting:
    """``async with engine.connect() as conn``: checked out on entry, back on exit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        self.connection = AsyncConnection(await greenlet_spawn(self.engine.connect))
        return self.connection

    async def __aexit__(self, *_exc: object) -> None:
        assert self.connection is not None
        await _to_completion(self.connection.close())


class AsyncEngine:
    """A Core ``Engine`` on an asyncio driver, used from coroutines."""

    def __init__(self, sync_engine: Engine) -> None:
        self.sync_engine = sync_engine

    def connect(self) -> _Connecting:
        return _Connecting(self.sync_engine)

    async def dispose(self) -> None:
        await greenlet_spawn(self.sync_engine.dispose)


def create_async_engine(url: str, **options: Any) -> AsyncEngine:
    """``create_engine`` for a URL naming an asyncio driver (``sqlite+aiosqlite``,
    ``mysql+aiomysql``)."""
    return AsyncEngine(create_engine(url, **options))
