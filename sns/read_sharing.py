"""How the reads of one request share connections (``Database.share_reads``,
``Database.read_if_needed``)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sns.async_sql import AsyncConnection
    from sns.db import Database


class SharedRead:
    """One read connection for the reads of one request (``Database.share_reads``): taken
    at its first read, given back (one rollback) when the request is done with it.

    A read that finds it in use (``asyncio.gather``) takes a connection of its own, as does
    every read after a write transaction began: that releases it first, so no read after a
    write sees the snapshot taken before it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.conn: AsyncConnection | None = None
        self.busy = False
        self.done = False
        self._stack: AsyncExitStack | None = None

    async def take(self) -> AsyncConnection | None:
        """The shared connection, opened now if this is the first read; None when it is in
        use or was given back."""
        if self.busy or self.done:
            return None
        if self.conn is None:
            stack = AsyncExitStack()
            self.conn = await stack.enter_async_context(self.db._connection())
            self._stack = stack
        self.busy = True
        return self.conn

    async def release(self, failed: bool = False) -> None:
        """Give the connection back: a read that failed on it, or the request is done."""
        self.busy = False
        if failed or self.done:
            await self.close()

    async def finish(self) -> None:
        """No more reads on it: given back now, or when the read using it ends."""
        self.done = True
        if not self.busy:
            await self.close()

    async def close(self) -> None:
        self.done = True
        stack, self._stack, self.conn = self._stack, None, None
        if stack is not None:
            await stack.aclose()


class ReadWhenAsked:
    """A read connection of ``Database.read`` entered into ``stack`` on its first
    ``execute`` (``Database.read_if_needed``)."""

    def __init__(self, db: Database, stack: AsyncExitStack) -> None:
        self.db = db
        self.stack = stack
        self.conn: AsyncConnection | None = None

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self.conn is None:
            self.conn = await self.stack.enter_async_context(self.db.read())
        return await self.conn.execute(*args, **kwargs)
