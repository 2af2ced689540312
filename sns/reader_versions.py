"""What one reader's own state depends on, and a version of it that only their writes move (#22).

A logged-in page shows, beside what everyone sees, what is the reader's own: their row
(name, face, role, blocks, mutes and muted words), their follow counts and unread badge,
their hearts and follows. Kept under the site version, all of it was read again after
every write anywhere: three statements for every reader after every post, like or comment
of anyone's (py-spy, bench/http's "site in use"). Here it is kept under a reader version:
a counter per person that moves only when a committed write touched a row of theirs in
the tables that state is read from (``READER_COLUMNS``), and a counter for everyone
(``EVERYONE``) that moves when a write's readers cannot be told (a deletion whose cascades
reach notifications and likes, a suspension that changes others' counts, a statement whose
rows are not named by their people). Which readers a write touched is read off the
statements themselves as they run (``WriteWatch``), so no service has to remember to say
it, and a statement the watch cannot read moves everyone's.

Versions live in Redis beside the site version, read in the same round trip as the
session (``sns.redis_versions.VERSION_AND_SESSIONS``), and never go back (started at the time
when missing). Without Redis (the embedded default, one node) a reader's state stays kept
under the site version, as before.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Delete, Insert, TextClause, Update
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, Grouping

from sns.redis_store import STARTED_VERSION, RedisKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.engine import Connection

log = logging.getLogger("sns.reader_versions")

V = TypeVar("V")

READER_COLUMNS: dict[str, tuple[str, ...]] = {
    "likes": ("user_id",),
    "follows": ("follower_id", "following_id"),
    "blocks": ("blocker_id", "blocked_id"),
    "mutes": ("muter_id",),
    "muted_words": ("user_id",),
    "users": ("id",),
}
"""The tables a reader's own state is read from, and the columns naming the readers a row
of each belongs to: a like is its liker's heart, a follow counts for both people. (A mute
is only the muter's: the muted notice nothing.) Notifications are not watched here: their
groups are updated by their own ids, and ``NotificationService.announce`` names every
reader whose unread count moved, after the commit."""

EVERYONE_ON_DELETE = frozenset({"posts", "comments", "users"})
"""Tables whose deleted rows take others' rows with them (foreign keys ON DELETE CASCADE:
notifications and likes), readers unknown."""

EVERYONE_ON_SET = frozenset({"deleted_at", "suspended_at"})
"""Columns of ``users`` whose change moves other people's counts and lists."""

EVERYONE = -1
"""In a set of touched readers: every reader."""

TOUCHED = "sns_touched_readers"
"""Where a write transaction's connection collects the readers its statements touched
(``Connection.info``; ``sns.db.Database.transaction`` sets it up and hands it on)."""
CHANGED = "sns_changed"
"""Where it collects what its statements changed (``sns.changes``), the same way."""


def equalities(where: Any, params: dict[str, Any], table: Any) -> dict[str, list[Any]] | None:
    """``column name -> values`` of ``table``'s columns in a WHERE that is a conjunction of
    ``column = value`` and ``column IN (values)`` terms (other terms are left aside); None
    when it holds an OR."""
    terms = [where]
    found: dict[str, list[Any]] = {}
    while terms:
        term = terms.pop()
        if isinstance(term, Grouping):
            terms.append(term.element)
            continue
        if isinstance(term, BooleanClauseList):
            if term.operator is not operators.and_:
                return None
            terms.extend(term.clauses)
            continue
        if not isinstance(term, BinaryExpression) or not isinstance(term.right, BindParameter):
            continue
        column = term.left
        if getattr(column, "table", None) is not table:
            continue
        if term.operator not in (operators.eq, operators.in_op):
            continue
        bind = term.right
        value: Any = params.get(bind.key) if bind.value is None else bind.value
        many = term.operator is operators.in_op and value is not None
        found.setdefault(column.name, []).extend(list(value) if many else [value])
    return found


def named_values(
    where: Any, params: dict[str, Any], table: Any, columns: tuple[str, ...]
) -> set[int] | None:
    """The people in ``columns`` of every row ``where`` can match: each branch of an OR,
    each a conjunction naming every one of the columns; None when it cannot be told."""
    while isinstance(where, Grouping):
        where = where.element
    if isinstance(where, BooleanClauseList) and where.operator is operators.or_:
        found: set[int] = set()
        for branch in where.clauses:
            named = named_values(branch, params, table, columns)
            if named is None:
                return None
            found |= named
        return found
    equal = equalities(where, params, table)
    if equal is None or any(not equal.get(column) for column in columns):
        return None
    values = [value for column in columns for value in equal[column]]
    if None in values:
        return None
    return {int(value) for value in values}


def readers_of(statement: Any, rows: list[dict[str, Any]], dialect: Any = None) -> set[int]:
    """The readers a write statement touches (``EVERYONE`` among them when it cannot be
    told); ``rows`` are its parameter sets. A new account touches nobody: nothing of it
    was kept."""
    if isinstance(statement, TextClause):
        first = statement.text.lstrip().split(None, 1)[:1]
        return set() if first and first[0].upper() in ("SELECT", "PRAGMA") else {EVERYONE}
    if not isinstance(statement, Insert | Update | Delete):
        return set()
    table = getattr(statement.table, "name", None)
    if isinstance(statement, Delete) and table in EVERYONE_ON_DELETE:
        return {EVERYONE}
    columns = READER_COLUMNS.get(table or "")
    if columns is None:
        return set()
    if isinstance(statement, Insert) and table == "users":
        return set()
    compiled = statement.compile(dialect=dialect)
    values = dict(compiled.params)
    sets = [{**values, **row} for row in rows] or [values]
    if isinstance(statement, Insert):
        if statement.select is not None:
            return {EVERYONE}
        given: set[Any] = {row.get(column) for row in sets for column in columns}
        return {EVERYONE} if None in given else {int(found) for found in given}
    if isinstance(statement, Update) and table == "users" and EVERYONE_ON_SET & values.keys():
        return {EVERYONE}
    touched: set[int] = set()
    where = statement.whereclause
    for row in sets:
        rows_of = named_values(where, row, statement.table, columns) if where is not None else None
        if rows_of is None:
            return {EVERYONE}
        touched |= rows_of
    return touched


class WriteWatch:
    """Reads which readers each statement of a write transaction touches (``readers_of``),
    into the set its connection carries (``TOUCHED``), which the commit hands to
    ``RedisReaderVersions.bump``; and likewise any other reading given (what each write
    changed: ``sns.changes``). Listens to the engine's ``before_execute``: it sees
    statements as written, with their parameters, before the dialect turns them into SQL.
    A connection not in a write transaction (reads, migrations) is not watched."""

    def __init__(self, *also: tuple[str, Callable[[Any, list[dict[str, Any]], Any], set[Any]]]):
        self.readings = ((TOUCHED, readers_of), *also)

    def before_execute(
        self,
        conn: Connection,
        statement: Any,
        multiparams: Any,
        params: Any,
        _options: Any,
    ) -> None:
        if not isinstance(statement, Insert | Update | Delete | TextClause):
            return
        rows: list[dict[str, Any]] | None = None
        for key, reading in self.readings:
            found = conn.info.get(key)
            if found is None:
                continue
            if rows is None:
                rows = _parameter_sets(multiparams, params)
            found.update(reading(statement, rows, conn.dialect))


def _parameter_sets(multiparams: Any, params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if isinstance(multiparams, list | tuple):
        for item in multiparams:
            if isinstance(item, dict):
                rows.append(item)
            elif isinstance(item, list | tuple):
                rows.extend(row for row in item if isinstance(row, dict))
    if isinstance(params, dict) and params:
        rows.append(params)
    return rows


BUMP_READERS = (
    STARTED_VERSION
    + """
for _, key in ipairs(KEYS) do
  version_of(key)
  redis.call('INCR', key)
end
return #KEYS
"""
)


class RedisReaderVersions:
    """Each reader's version in Redis (``<prefix>reader:<id>``), and everyone's
    (``<prefix>readers``); a reader's version is the pair."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys
        self.everyone_key = keys.name("readers")
        self._bump = redis.register_script(BUMP_READERS)

    def key_of(self, user_id: int | str) -> str:
        return self.keys.name("reader", str(user_id))

    async def bump(self, touched: set[int]) -> None:
        """Move on the versions of the readers a committed transaction touched. A failed
        move is logged, not raised: the write is stored, and entries age out."""
        if not touched:
            return
        keys = [self.everyone_key] if EVERYONE in touched else [self.key_of(r) for r in touched]
        try:
            await self._bump(keys=sorted(keys))
        except Exception as exc:
            log.warning("could not move readers' versions on: %s", exc)


class ReaderCache(Generic[V]):
    """What was read of one reader, kept under the reader version it was read at: served
    while that version holds, at most ``ttl`` seconds; the least recently used out first
    beyond ``max_entries`` (and beyond ``max_size``, the sum of ``size`` of the values)."""

    def __init__(
        self,
        max_entries: int,
        ttl: float,
        *,
        max_size: int | None = None,
        size: Callable[[V], int] = lambda _value: 0,
    ) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self.max_size = max_size
        self.size = size
        self.used = 0
        self.entries: OrderedDict[Hashable, tuple[Hashable, float, V, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, version: Hashable, key: Hashable) -> V | None:
        if version is None or self.max_entries <= 0:
            return None
        entry = self.entries.get(key)
        if entry is None or entry[0] != version or time.monotonic() - entry[1] > self.ttl:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry[2]

    def put(self, version: Hashable, key: Hashable, value: V) -> None:
        if version is None or self.max_entries <= 0:
            return
        size = self.size(value)
        if self.max_size is not None and size > self.max_size:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.used -= old[3]
        self.entries[key] = (version, time.monotonic(), value, size)
        self.used += size
        while len(self.entries) > self.max_entries or (
            self.max_size is not None and self.used > self.max_size
        ):
            _key, dropped = self.entries.popitem(last=False)
            self.used -= dropped[3]
