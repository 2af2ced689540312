"""What lets a page drawn once be served again: a site version and the caches keyed by it.

The site version is a token that moves whenever anything a page shows may have changed,
in any process on any node: a counter in Redis that every committed write transaction
moves on (``Database.after_commit``), or on the embedded default SQLite's own
``PRAGMA data_version``, which moves on every commit to the file by any connection of any
process and costs a few microseconds to read. Each process keeps what it drew for the
version it saw last; a new version empties it. A page is drawn from the database and the
reader alone, so a page drawn for one reader at one version is that reader's page until
the version moves, except for relative times ("3 minutes ago"), which an entry's age bound
(``ttl``) keeps honest.
"""

from __future__ import annotations

import secrets
import sqlite3
import struct
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from isal import igzip, isal_zlib

from sns.redis_versions import ReaderKeys, RedisSiteVersion
from sns.sessions import SessionData, SessionStore

V = TypeVar("V")


class SiteVersion(Protocol):
    """A number that grows whenever what pages show may have changed; None: do not cache."""

    async def current(self) -> int | None:
        """The version now, as every process and node sees it."""

    async def bump(self) -> None:
        """Move the version on (after a write transaction committed)."""


class SqliteSiteVersion:
    """SQLite's ``data_version`` of a connection that only ever reads it.

    It changes when any other connection, in this process or another, commits to the file;
    a read of it touches no table and takes no lock.
    """

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def current(self) -> int | None:
        row = self.connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    async def bump(self) -> None:
        """Nothing to do: the commit itself moved ``data_version``."""

    def close(self) -> None:
        self.connection.close()


class ProcessSiteVersion:
    """A counter in this process, for an in-memory database that no other process can see."""

    def __init__(self) -> None:
        self.value = 0

    async def current(self) -> int | None:
        return self.value

    async def bump(self) -> None:
        self.value += 1


class NoSiteVersion:
    """No version anyone else can see (MySQL without Redis): nothing is cached."""

    async def current(self) -> int | None:
        return None

    async def bump(self) -> None:
        """Nothing is cached, so nothing goes stale."""


async def version_and_session(
    version: SiteVersion,
    sessions: SessionStore,
    session_id: str,
    readers: ReaderKeys | None = None,
) -> tuple[int | None, SessionData | None, Hashable]:
    """The site version, a session record and its reader's version (None: a reader's
    state is kept under the site version), in one round trip where the backends allow."""
    if isinstance(version, RedisSiteVersion):
        return await version.current_with_session(sessions, session_id, readers)
    current = await version.current()
    return current, await sessions.get(session_id, version=current), None


def new_placeholder() -> bytes:
    """What a page that will be kept carries where the reader's XSRF token goes, while it
    is drawn: random for each drawing, so nothing anyone wrote or typed (posts, comments,
    names, the URL being drawn) can hold it, and only letters, digits and ``-``, which no
    escaping (HTML, URL, JSON) changes. It never leaves the process: each answer carries
    its reader's token in its place."""
    return b"sns-xsrf-" + secrets.token_hex(16).encode()


@dataclass(frozen=True, slots=True)
class KeptPage:
    """A drawn answer kept for reuse, cut where the reader's XSRF token goes (the places
    the template put it, and only those), and where the header's unread badge goes (a
    count that moves without the reader doing anything, #20); an API answer is one part.

    Each part is also kept compressed on its own (``deflated``: raw deflate, flushed to a
    byte, with no reference to another part), so that an answer for a client that takes
    gzip is these pieces with the reader's token between them as stored (uncompressed)
    deflate blocks, in a gzip wrapper whose checksum is taken over the parts and the
    token: the page is compressed once, not for every answer, and the token is never
    compressed with what others wrote (BREACH)."""

    parts: tuple[bytes, ...]
    badges: tuple[int, ...] = ()
    """The gaps (after ``parts[i]``) that take the badge rather than the token."""
    deflated: tuple[bytes, ...] = ()

    @classmethod
    def cut(
        cls, body: bytes, placeholder: bytes | None = None, badge: bytes | None = None
    ) -> KeptPage:
        if not placeholder:
            return cls((body,))
        if not badge or badge not in body:
            return cls(tuple(body.split(placeholder)))
        parts: list[bytes] = []
        badges: list[int] = []
        for number, piece in enumerate(body.split(badge)):
            if number:
                badges.append(len(parts) - 1)
            parts.extend(piece.split(placeholder))
        return cls(tuple(parts), tuple(badges))

    def compressed(self) -> KeptPage:
        """This page with its parts compressed too, for ``fill_gzipped`` (once, when it
        is kept: about 0.4 ms for a page of 32 kB)."""
        return replace(self, deflated=tuple(_deflated(part) for part in self.parts))

    def _gaps(self, token: bytes, badge: bytes) -> list[bytes]:
        return [badge if gap in self.badges else token for gap in range(len(self.parts) - 1)]

    def fill(self, token: bytes = b"", badge: bytes = b"") -> bytes:
        """The answer for one reader: their token where the template put one, and their
        badge where the layout put it."""
        if not self.badges:
            return token.join(self.parts)
        out = [self.parts[0]]
        for gap, part in zip(self._gaps(token, badge), self.parts[1:], strict=True):
            out.append(gap)
            out.append(part)
        return b"".join(out)

    def fill_gzipped(self, token: bytes = b"", badge: bytes = b"") -> bytes:
        """``fill``'s answer as gzip, from the parts compressed when the page was kept
        (``compressed``)."""
        out = [GZIP_HEADER, self.deflated[0]]
        crc = isal_zlib.crc32(self.parts[0])
        size = len(self.parts[0])
        for gap, part, deflated in zip(
            self._gaps(token, badge), self.parts[1:], self.deflated[1:], strict=True
        ):
            out.append(_stored_block(gap))
            out.append(deflated)
            crc = isal_zlib.crc32(part, isal_zlib.crc32(gap, crc))
            size += len(gap) + len(part)
        out.append(FINAL_EMPTY_BLOCK)
        out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(out)

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts) + sum(len(d) for d in self.deflated)


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""A gzip member's header: deflate, no name, no time, unknown system (RFC 1952)."""
FINAL_EMPTY_BLOCK = b"\x03\x00"
"""A last deflate block with nothing in it (fixed codes, end of block), after a flush."""


def _deflated(part: bytes) -> bytes:
    """``part`` as raw deflate blocks of its own, ending on a byte (a sync flush): any
    other such piece, or a stored block, may follow it."""
    compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -15)
    return compressor.compress(part) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)


def _stored_block(data: bytes) -> bytes:
    """``data`` as stored (not compressed) deflate blocks, each not the last."""
    blocks = []
    for start in range(0, len(data), 0xFFFF):
        chunk = data[start : start + 0xFFFF]
        blocks.append(struct.pack("<BHH", 0, len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(blocks)


@dataclass(frozen=True, slots=True)
class ReaderPage:
    """A page kept for one reader's session, filled in once (their token, their badge) and
    compressed: every answer is those bytes as they are (a browser asks for gzip), or them
    inflated for a client that does not. A logged-in page is about 100 kB drawn and 16 kB
    so (#22): 200 readers' pages fit the page cache's budget. ISA-L compresses it in about
    0.07 ms; zlib took 0.35-0.7 ms even at its fastest level, a quarter of the loop while
    others wrote (py-spy), so pages were then compressed only when served a second time.
    The token is masked once per drawing: what anyone writes that the page shows draws
    (and masks) it again, and a URL's own text is in the key."""

    gzipped: bytes

    @classmethod
    def of(cls, body: bytes) -> ReaderPage:
        return cls(igzip.compress(body, READER_GZIP_LEVEL, mtime=0))

    def plain(self) -> bytes:
        """The page for a client that does not take gzip."""
        return zlib.decompress(self.gzipped, 31)

    def __len__(self) -> int:
        return len(self.gzipped)


GZIP_LEVEL = 3
"""ISA-L's highest level, for what is compressed once for every reader (shared pages, API
answers): as small as zlib's default (6), in 40% of its time."""
READER_GZIP_LEVEL = 2
"""For one reader's page, compressed each time it is drawn: 118 kB in 16 kB and 0.07 ms
(level 3: 15 kB in 0.27 ms; zlib's level 1: 17 kB in 0.34 ms)."""


def takes_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (not at ``q=0``)."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip"):
            quality = params.strip()
            if quality.startswith("q="):
                try:
                    return float(quality[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


ENTRY_OVERHEAD = 512
"""Bytes an entry of a cache costs beyond its key and value: the key's tuple and numbers,
the ordered dict's slot and links, the time stamp, the kept page's own objects (measured:
about 300 in all)."""


def entry_size(key: Hashable) -> int:
    """What keeping an entry under ``key`` costs besides its value: the memory of the key's
    text (the URL and ``Host`` a client sent are as long as the client likes) and the
    entry's own overhead."""
    return ENTRY_OVERHEAD + _deep_size(key)


def _deep_size(item: object) -> int:
    if isinstance(item, tuple):
        return sys.getsizeof(item) + sum(_deep_size(part) for part in item)
    return sys.getsizeof(item)


class VersionedCache(Generic[V]):
    """Values kept for one site version at a time, least recently used out first.

    ``max_size`` bounds the sum of ``size(value) + key_size(key)`` over the entries (for
    pages: bytes of the page, the key's text and each entry's overhead); an entry older
    than ``ttl`` seconds is not served. Seeing a newer version empties the cache: nothing
    kept for an older one can be served again. What a request drew after another had seen
    a newer version is dropped, not stored, and such a request (it read the version
    before the newest write) is served what was kept for the newer one and empties
    nothing: what it is shown is as new as what it read, or newer, and versions only grow
    (``STARTED_VERSION``; SQLite's ``data_version`` counts up). While others write, the
    requests in flight straddle each new version; when they emptied the cache for the
    version they had read, it flipped between two versions and kept nothing, and when they
    only missed, each drew everything again (bench/http, "site in use").
    """

    def __init__(
        self,
        max_size: int,
        ttl: float,
        size: Callable[[V], int] = lambda _value: 1,
        clock: Callable[[], float] = time.monotonic,
        key_size: Callable[[Hashable], int] = lambda _key: 0,
    ) -> None:
        self.max_size = max_size
        self.ttl = ttl
        self.size = size
        self.key_size = key_size
        self.clock = clock
        self.version: int | None = None
        self.entries: OrderedDict[Hashable, tuple[float, V, int]] = OrderedDict()
        self.used = 0
        self.hits = 0
        self.misses = 0

    def get(self, version: int | None, key: Hashable) -> V | None:
        if version is None or self.max_size <= 0:
            return None
        if version != self.version and (self.version is None or version > self.version):
            self.entries.clear()
            self.used = 0
            self.version = version
        return self._lookup(key)

    def _lookup(self, key: Hashable) -> V | None:
        """The entry's value while it is young enough and ``_valid``; else it goes."""
        entry = self.entries.get(key)
        if entry is not None and (self.clock() - entry[0] > self.ttl or not self._valid(key)):
            self._drop(key)
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def _valid(self, key: Hashable) -> bool:
        """Whether a kept entry may still be served (here: while the version holds)."""
        return True

    def put(self, version: int | None, key: Hashable, value: V, depends: object = None) -> None:
        """Keep ``value``; what it ``depends`` on counts only in ``ChangeAwareCache``."""
        if version is not None and version == self.version:
            self._store(key, value)

    def _store(self, key: Hashable, value: V) -> bool:
        """Keep ``value`` under ``key``, the least recently used going to make room."""
        size = self.size(value) + self.key_size(key)
        if size > self.max_size:
            return False
        self._drop(key)
        self.entries[key] = (self.clock(), value, size)
        self.used += size
        while self.used > self.max_size:
            self._drop(next(iter(self.entries)))
        return True

    def _drop(self, key: Hashable) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.used -= old[2]
