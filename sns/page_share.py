"""A reader's page drawn by one process, shared with the others through Redis.

Each process keeps the pages it drew (``handlers.cache``). With one process per core,
after a new post every process drew every reader's ``/`` again for itself: two processes
drew twice what one did, and while others wrote they served 1.3-1.5 times what one did
(bench/http, #22). So a page a process draws for a logged-in reader is also stored in
Redis, under a digest of its key (the URL, host, language, session and the reader's own
version are among its parts, as in the process), with the version it was drawn at, what
it depends on (``sns.changes``) and when. Another process that does not have it asks
Redis before drawing, and keeps what it finds while nothing it depends on has changed
since and it is younger than a kept page may be: the rules of its own pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import struct
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING

from sns.pagecache import ReaderPage
from sns.redis_store import RedisKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from sns.changes import Depends, KnownChanges

log = logging.getLogger("sns.pagecache")

HEADER = struct.Struct(">I")
"""The length of the JSON that says when and at which version a page was drawn, and what
it depends on; the page's gzip follows it."""


class PageShare:
    """Readers' pages in Redis, for every process of the site (see the module)."""

    def __init__(self, redis: Redis, keys: RedisKeys, changes: KnownChanges, ttl: float) -> None:
        self.redis = redis
        self.keys = keys
        self.changes = changes
        self.ttl = ttl
        self._storing: set[asyncio.Task[None]] = set()

    def name_of(self, key: Hashable) -> str:
        """The Redis key of a page's key: a digest of its text, the same in every process."""
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
        return self.keys.name("page", digest)

    async def get(self, key: Hashable) -> tuple[ReaderPage, int, Depends | None, float] | None:
        """The page kept under ``key`` with its version, what it depends on and its age in
        seconds, while it may be served; else None (also when Redis does not answer: the
        page is drawn)."""
        try:
            raw = await self.redis.execute_command(  # type: ignore[no-untyped-call]
                "GET", self.name_of(key), NEVER_DECODE=True
            )
        except Exception as exc:
            log.warning("could not read a shared page: %s", exc)
            return None
        if raw is None:
            return None
        (length,) = HEADER.unpack_from(raw)
        about = json.loads(raw[HEADER.size : HEADER.size + length])
        age = max(0.0, time.time() - about["at"])
        depends = None if about["on"] is None else tuple(about["on"])
        if age > self.ttl or not self.changes.unchanged(about["v"], depends):
            return None
        return ReaderPage(bytes(raw[HEADER.size + length :])), about["v"], depends, age

    def put(self, key: Hashable, page: ReaderPage, version: int, depends: Depends | None) -> None:
        """Store a page just drawn, for the other processes, without holding up its answer."""
        about = json.dumps({"v": version, "on": depends, "at": time.time()}).encode()
        blob = HEADER.pack(len(about)) + about + page.gzipped
        task = asyncio.ensure_future(self._store(self.name_of(key), blob))
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)

    async def _store(self, name: str, blob: bytes) -> None:
        try:
            await self.redis.set(name, blob, px=int(self.ttl * 1000))
        except Exception as exc:
            log.warning("could not share a page: %s", exc)
