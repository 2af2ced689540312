"""What each write changed, so that a kept page lives until something it shows changes (#22).

Kept under the site version, every page was emptied by every write anywhere: while others
wrote five times a second, each reader's ``/following`` was drawn again for them alone
after every post, like and comment of anyone's, though almost none of them touched it
(bench/http, "site in use"). Here each committed write also says what it changed, as
tokens read off its statements (``changes_of``, by ``sns.reader_versions.WriteWatch``):

- ``p<id>``: post ``id`` as shown changed (its likes, comments, pictures, hiding);
- ``a<id>``: a post by ``id`` came or went (a person's page, a follower's /following);
- ``n``: which posts lists hold changed (a new post, an edit, a deletion);
- ``w:<term>``: a post came to hold (or lost) a search term; ``w`` any term;
- ``*``: anything, when a statement cannot be told (a name changed, shown everywhere).

A page says what it depends on (``Page.changes`` and its posts: ``depends_on``); a page
that says nothing depends on every write, as before.

The tokens go to Redis with the site version, in one script (``BUMP_WITH_CHANGES``): a
sorted set of each token's newest version, so every process learns, once per version,
what changed since the version it knew (``ChangeLog.catch_up``). The set is cut to its
newest ``LOG_TOKENS``; the ``floor`` says up to which version it may have forgotten, and a
process that knew less than that treats everything before as changed. A Redis that lost
its data starts its log and floor afresh above every version before (``STARTED_VERSION``).
Without Redis (the embedded default) pages stay kept under the site version.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Delete, Insert, TextClause, Update

from sns.pagecache import VersionedCache
from sns.reader_versions import equalities, named_values
from sns.redis_store import STARTED_VERSION, RedisKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("sns.changes")

V = TypeVar("V")

EVERYTHING = "*"
NEW_POSTS = "n"
ANY_TERM = "w"
Depends = tuple[str, ...]
"""The tokens a kept entry depends on (``depends_on``)."""

LISTS_CHANGE = frozenset({NEW_POSTS})
"""What a list of everyone's posts (``/``, a hashtag, search) depends on besides its posts."""

LOG_TOKENS = 20_000
"""Tokens the Redis log keeps; older ones are forgotten behind its floor."""
KNOWN_TOKENS = 50_000
"""Tokens a process keeps the newest version of; older ones are forgotten the same way."""

UNSEEN = frozenset(
    {
        "follows",  # the reader's own state: their version moves (sns.reader_versions)
        "blocks",
        "mutes",
        "muted_words",
        "notifications",
        "notification_actors",
        "live_events",
        "sessions",
        "uploads",
        "reports",
        "audit_log",
        "domains",
    }
)
"""Tables no page that says what it depends on shows: their writes are only 'any write'."""

POST_ROW_COLUMNS = frozenset({"like_count", "hidden_at", "hidden_by", "img"})
"""Columns of ``posts`` whose change shows only where the post is shown."""


def post_token(post_id: int) -> str:
    """Interned: the pages that show a post all hold its one token, not a copy each."""
    return sys.intern(f"p{post_id}")


def author_token(user_id: int) -> str:
    return f"a{user_id}"


def term_token(term: str) -> str:
    return f"w:{term}"


def search_changes(terms: Iterable[str]) -> frozenset[str]:
    """What a search's list depends on besides its posts: a post joins it only by holding
    every one of its terms, so any one of them will do."""
    needed = sorted(terms)
    return frozenset({ANY_TERM, term_token(needed[0])} if needed else {ANY_TERM, NEW_POSTS})


def depends_on(changes: Iterable[str] | None, post_ids: Iterable[int]) -> Depends | None:
    """What a page of these posts depends on: its list's tokens and each post's; None (every
    write) when its list says nothing. A tuple, not a set: only ever walked, and kept beside
    every entry (a set of a page's 21 tokens took 1.3 kB, the tuple 0.2 kB)."""
    if changes is None:
        return None
    return tuple(dict.fromkeys((*changes, *map(post_token, post_ids))))


def _values_of(rows: list[dict[str, Any]], statement: Any, dialect: Any, column: str) -> set[Any]:
    values = dict(statement.compile(dialect=dialect).params)
    sets = [{**values, **row} for row in rows] or [values]
    return {row.get(column) for row in sets}


def _where_ids(statement: Any, rows: list[dict[str, Any]], dialect: Any, column: str) -> set[int]:
    """The ``column`` values a WHERE names in each parameter set; empty when any cannot be
    told (the caller then says ``EVERYTHING``)."""
    where = statement.whereclause
    if where is None:
        return set()
    values = dict(statement.compile(dialect=dialect).params)
    found: set[int] = set()
    for row in [{**values, **row} for row in rows] or [values]:
        named = named_values(where, row, statement.table, (column,))
        if not named:
            return set()
        found |= named
    return found


def _posts_named(statement: Any, rows: list[dict[str, Any]], dialect: Any) -> set[str]:
    ids = _where_ids(statement, rows, dialect, "post_id")
    return {post_token(i) for i in ids} if ids else {EVERYTHING}


def changes_of(statement: Any, rows: list[dict[str, Any]], dialect: Any = None) -> set[str]:
    """The tokens a write statement changes (see the module); ``rows`` are its parameter
    sets. What cannot be told is ``EVERYTHING``: correct first, fast second."""
    if isinstance(statement, TextClause):
        first = statement.text.lstrip().split(None, 1)[:1]
        return set() if first and first[0].upper() in ("SELECT", "PRAGMA") else {EVERYTHING}
    if not isinstance(statement, Insert | Update | Delete):
        return set()
    table = getattr(statement.table, "name", "")
    if table in UNSEEN:
        return set()
    if isinstance(statement, Insert) and statement.select is not None:
        return {EVERYTHING}
    if table == "users":
        return set() if isinstance(statement, Insert) else {EVERYTHING}
    if table in ("hashtags", "post_hashtags"):
        return {NEW_POSTS}
    if table == "search_terms":
        return {NEW_POSTS, *_terms_changed(statement, rows, dialect)}
    if table == "posts":
        return _posts_changes(statement, rows, dialect)
    if table in ("likes", "comments", "post_pictures"):
        if isinstance(statement, Insert):
            ids = _values_of(rows, statement, dialect, "post_id")
            if None in ids:
                return {EVERYTHING}
            return {post_token(int(i)) for i in ids}
        return _posts_named(statement, rows, dialect)
    return {EVERYTHING}


def _terms_changed(statement: Any, rows: list[dict[str, Any]], dialect: Any) -> set[str]:
    """The search terms a post came to hold or lost; ``ANY_TERM`` when not named (a body
    rewritten, a post's terms removed by its id, the whole index rebuilt)."""
    if isinstance(statement, Insert):
        terms = _values_of(rows, statement, dialect, "term")
    elif isinstance(statement, Delete) and statement.whereclause is not None:
        values = dict(statement.compile(dialect=dialect).params)
        terms = set()
        for row in [{**values, **row} for row in rows] or [values]:
            equal = equalities(statement.whereclause, row, statement.table)
            if equal is None or not equal.get("term"):
                return {ANY_TERM}
            terms |= set(equal["term"])
    else:
        return {ANY_TERM}
    if not terms or None in terms:
        return {ANY_TERM}
    return {term_token(str(term)) for term in terms}


def _posts_changes(statement: Any, rows: list[dict[str, Any]], dialect: Any) -> set[str]:
    if isinstance(statement, Insert):
        authors = _values_of(rows, statement, dialect, "user_id")
        if None in authors:
            return {EVERYTHING}
        return {NEW_POSTS, *(author_token(int(a)) for a in authors)}
    ids = _where_ids(statement, rows, dialect, "id")
    if not ids:
        return {EVERYTHING}
    tokens = {post_token(i) for i in ids}
    if isinstance(statement, Delete):
        return tokens | {NEW_POSTS}
    columns = {getattr(c, "key", c) for c in getattr(statement, "_values", None) or {}}
    if not columns:
        return {EVERYTHING}
    if columns <= POST_ROW_COLUMNS:
        return tokens
    if columns <= POST_ROW_COLUMNS | {"content", "updated_at"}:
        return tokens | {NEW_POSTS}  # an edit: its hashtags and words change lists
    return {EVERYTHING}


BUMP_WITH_CHANGES = (
    STARTED_VERSION
    + """
local before = version_of(KEYS[1])
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], before)
end
local version = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[2], version, ARGV[i])
end
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
if extra > 0 then
  local last = redis.call('ZRANGE', KEYS[2], extra - 1, extra - 1, 'WITHSCORES')
  redis.call('SET', KEYS[3], last[2])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
end
return version
"""
)
"""Move the site version on and note the write's tokens at the new version, at once: a
process that reads the version can always learn what changed up to it. The floor is set
at the first write a log sees (nothing before it is known) and raised as tokens are cut."""

CHANGES_SINCE = (
    STARTED_VERSION
    + """
local version = version_of(KEYS[1])
local floor = redis.call('GET', KEYS[3])
if not floor then
  floor = version
  redis.call('SET', KEYS[3], floor)
end
local since = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'WITHSCORES')
return {version, floor, since}
"""
)
"""The site version, the log's floor, and every token changed after ``ARGV[1]``."""


class KnownChanges:
    """This process's knowledge of what changed: each token's newest version, up to the
    version ``seen``; before ``floor`` it knows nothing and counts everything changed."""

    def __init__(self, *, known: int = KNOWN_TOKENS) -> None:
        self.known = known
        self.seen: int | None = None
        self.floor = 0
        self.last: OrderedDict[str, int] = OrderedDict()

    def note(self, token: str, version: int) -> None:
        last = self.last
        if last.get(token, 0) < version:
            last[token] = version
            last.move_to_end(token)
        while len(last) > self.known:
            _token, forgotten = last.popitem(last=False)
            self.floor = max(self.floor, forgotten)

    def unchanged(self, stamp: int, depends: Depends | None) -> bool:
        """Whether nothing a page kept at version ``stamp`` depends on changed since."""
        if stamp < self.floor or self.seen is None:
            return False
        if depends is None:
            return stamp >= self.seen
        last = self.last
        if last.get(EVERYTHING, 0) > stamp:
            return False
        return all(last.get(token, 0) <= stamp for token in depends)


class ChangeLog(KnownChanges):
    """What changed, learnt from the log in Redis, and told to it after each commit."""

    def __init__(self, redis: Redis, keys: RedisKeys, *, known: int = KNOWN_TOKENS) -> None:
        super().__init__(known=known)
        self.version_key = keys.site_version
        self.log_key = keys.name("changes")
        self.floor_key = keys.name("changes-floor")
        self._bump = redis.register_script(BUMP_WITH_CHANGES)
        self._since = redis.register_script(CHANGES_SINCE)
        self._catching_up: asyncio.Future[None] | None = None

    async def bump(self, changed: set[str]) -> None:
        """After a commit: the site version moves on, with the write's tokens. A failed
        move is logged, not raised: the write is stored, and entries age out."""
        try:
            await self._bump(
                keys=[self.version_key, self.log_key, self.floor_key],
                args=[LOG_TOKENS, *sorted(changed)],
            )
        except Exception as exc:
            log.warning("could not move the site version on: %s", exc)

    async def catch_up(self, version: int | None) -> None:
        """Learn what changed up to ``version`` (at least), once per version a process
        sees: requests that read it meanwhile wait for the one asking."""
        while version is not None and (self.seen is None or version > self.seen):
            if self._catching_up is not None:
                await asyncio.shield(self._catching_up)
                continue
            self._catching_up = asyncio.get_running_loop().create_future()
            try:
                await self._learn(version)
            finally:
                self._catching_up.set_result(None)
                self._catching_up = None

    async def _learn(self, version: int) -> None:
        seen = self.seen
        lower = seen if seen is not None else version  # a new process knows from now on
        try:
            current, floor, since = await self._since(
                keys=[self.version_key, self.log_key, self.floor_key], args=[lower]
            )
        except Exception as exc:
            log.warning("could not learn what changed: %s", exc)
            self.floor = max(self.floor, version + 1)  # nothing kept can be trusted
            self.seen = version
            return
        if seen is None:
            self.floor = max(self.floor, version)
        if lower < int(floor):  # the log may have forgotten changes after ``lower``
            self.floor = max(self.floor, int(floor))
        for token, score in zip(since[::2], since[1::2], strict=True):
            self.note(token.decode() if isinstance(token, bytes) else token, int(score))
        self.seen = max(int(current), version)


def _tokens(depends: object) -> Depends | None:
    """What an entry depends on, as kept: None (every write) or a tuple of tokens."""
    if depends is None or isinstance(depends, tuple):
        return depends
    if isinstance(depends, (frozenset, set, list)):
        return tuple(depends)
    raise TypeError(f"an entry depends on tokens, not {depends!r}")


class ChangeAwareCache(VersionedCache[V]):
    """``VersionedCache`` for the pages, but an entry lives until something it depends on
    changes (``KnownChanges.unchanged``), not until any write: kept at the version its
    request read, with what it depends on."""

    def __init__(
        self,
        changes: KnownChanges,
        max_size: int,
        ttl: float,
        size: Callable[[V], int] = lambda _value: 1,
        key_size: Callable[[Hashable], int] = lambda _key: 0,
    ) -> None:
        super().__init__(max_size, ttl, size, key_size=key_size)
        self.changes = changes
        self.kept_at: dict[Hashable, tuple[int, Depends | None]] = {}

    def get(self, version: int | None, key: Hashable) -> V | None:
        if version is None or self.max_size <= 0:
            return None
        return self._lookup(key)

    def _valid(self, key: Hashable) -> bool:
        return self.changes.unchanged(*self.kept_at[key])

    def put(self, version: int | None, key: Hashable, value: V, depends: object = None) -> None:
        kept_at = (version, _tokens(depends))
        if version is None or not self.changes.unchanged(version, kept_at[1]):
            return
        if self._store(key, value):
            self.kept_at[key] = (version, kept_at[1])

    def _drop(self, key: Hashable) -> None:
        super()._drop(key)
        self.kept_at.pop(key, None)
