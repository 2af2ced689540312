"""What every logged-in reader's lists of posts share under one site version (#22).

While others write, the site version moves a few times a second and every reader's kept
page goes with it; each reader's next page was then read for them alone: the same page of
posts, the same comments, pictures and ``@`` names, five statements for each reader after
every write (py-spy, bench/http's "site in use": two fifths of the loop). Here they are read
once per version and process and shared: the rows of a list as the statement of a reader
with nothing set up gives them, with the posts moderators hid still among them (each is
shown to its author only, checked per reader), and each post's decoration (its newest
comments and replies, their total, its pictures, the people its texts name) as a reader
sees it whose blocks and mutes touch none of its commenters (``sns.decoration``). What is
one reader's own (blocked or muted authors and muted words kept with their row, their own
hidden posts and comments, their hearts and follows) is checked or read per reader, so
every reader still sees exactly what their own statements would have shown them; a reader
whose lists are too long to keep reads their lists as before, and a post one of whose
commenters they hide is decorated for them alone.

Entries are kept under the site version a request read before its reads
(``reading_at``), never newer than what they hold; a request's own commit forgets it, so
what the request reads after its write is read afresh.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextvars import ContextVar

from sns.reader_safety import ReaderSafety

SHARED_ENTRIES = 4096
"""Lists and posts a process keeps for the current version: a list's rows (about 30 posts)
or one post's comments, pictures and names (a few kB at most). Kept across writes (with
Redis, ``sns.changes``), a list's rows count a post each."""

_version_read: ContextVar[int | None] = ContextVar("sns_version_read", default=None)
_reader_version_read: ContextVar[Hashable] = ContextVar("sns_reader_version_read", default=None)


def reading_at(version: int | None, reader_version: Hashable = None) -> None:
    """Say, for the rest of this request (its asyncio task), the site version it read
    before any of its reads, and its reader's version (``sns.reader_versions``; None:
    their state is kept under the site version): what it reads may be kept under them.
    None: keep nothing (not read, or this request committed a write since)."""
    _version_read.set(version)
    _reader_version_read.set(reader_version)


def version_read() -> int | None:
    """The version ``reading_at`` said for this request, if any."""
    return _version_read.get()


def reader_version_read() -> Hashable:
    """The reader version ``reading_at`` said for this request, if any."""
    return _reader_version_read.get()


async def forget_version() -> None:
    """A commit of this request's own: what it reads now is newer than its versions."""
    _version_read.set(None)
    _reader_version_read.set(None)


def shares_rows(viewer_id: int | None, sql: ReaderSafety | None, mutes: bool) -> bool:
    """Whether a logged-in reader's list can come from the shared rows: nothing of what
    they have set up is left to the statement (``in_memory_check`` checks the rest on the
    rows). Without ``mutes`` (a person's own page) only blocks filter the statement."""
    if viewer_id is None or sql is None or sql.blocks:
        return False
    return not (mutes and (sql.mutes or sql.words))
