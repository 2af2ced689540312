"""bcrypt, run in threads and bounded: at most N hashes and checks at once per process.

Without a bound, a storm of logins fills the thread pool with bcrypt work and everyone
else's login waits behind it (300 guesses at once made other logins take 47 s, #12).
With it, a request waits at most ``wait`` seconds for a turn and then gets ``Busy`` (503)
rather than queueing for ever. Every bcrypt call goes through here: hashing at sign-up
and password change, and every check, including the dummy one for unknown emails.

The threads are bcrypt's own and run at a lower priority (``NICENESS``): during a login
storm the event loop, which answers every page, gets a core first, and bcrypt still has
every cycle the pages leave.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

from sns.errors import Busy
from sns.metrics import Metrics

T = TypeVar("T")

BUSY = "The server is busy checking passwords. Please try again in a moment."
NICENESS = 10  # added to bcrypt threads' nice value (Linux: a thread is a task)

log = logging.getLogger("sns.passwords")


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed
        log.info("bcrypt threads keep their priority: %s", exc)


class PasswordHasher:
    """bcrypt hash and check in threads, ``concurrency`` at a time (0: one per CPU core)."""

    def __init__(
        self,
        rounds: int = 12,
        concurrency: int = 0,
        wait: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.rounds = rounds
        self.concurrency = concurrency or os.cpu_count() or 1
        self.wait = wait
        self._turns = asyncio.Semaphore(self.concurrency)
        self.metrics = metrics or Metrics()
        self._dummy_hash: bytes | None = None
        self._threads = ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="bcrypt", initializer=_lower_priority
        )

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` in a thread once a turn is free; ``Busy`` after ``wait`` s."""
        self.metrics.bcrypt_waiting(1)
        try:
            try:
                await asyncio.wait_for(self._turns.acquire(), self.wait)
            except TimeoutError:
                raise Busy(BUSY, retry_after=max(1, math.ceil(self.wait))) from None
            try:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._threads, functools.partial(work, *args))
            finally:
                self._turns.release()
        finally:
            self.metrics.bcrypt_waiting(-1)

    async def hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self.rounds)
        hashed = await self._run(bcrypt.hashpw, password.encode("utf-8"), salt)
        return hashed.decode("ascii")

    async def check(self, password: str, hashed: str | None) -> bool:
        """Whether ``password`` matches ``hashed``; with no hash, False after as long."""
        if hashed is None:
            # Spend the same time as a real check, so timing does not tell which
            # emails have an account.
            if self._dummy_hash is None:
                self._dummy_hash = (await self.hash("not a password")).encode("ascii")
            await self._run(bcrypt.checkpw, password.encode("utf-8"), self._dummy_hash)
            return False
        return await self._run(bcrypt.checkpw, password.encode("utf-8"), hashed.encode("ascii"))
