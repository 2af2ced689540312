"""SQL statements counted per request, for ``X-SNS-Queries`` (``SNS_QUERY_COUNT_HEADER``).

One process serves many requests at once, so a process-wide counter read at a request's
start and end also counts every statement of the requests that overlapped it (#18). The
count lives in a ``ContextVar`` instead: each asyncio task (Tornado runs each request in
one) sees the tally set in it, and tasks it starts afterwards (``asyncio.gather``) share
that same tally. SQLAlchemy runs its event hooks in the awaiting task's context, so the
database notes each statement in the tally of the request that ran it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class StatementTally:
    """Statements run so far by the task that started counting, and the tasks it started."""

    count: int = 0


_tally: ContextVar[StatementTally | None] = ContextVar("sns_statement_tally", default=None)


def start_counting() -> StatementTally:
    """A fresh tally for the current task (a request's start), shared with tasks it starts."""
    tally = StatementTally()
    _tally.set(tally)
    return tally


def note_statement() -> None:
    """Count one statement for the current task's tally; nothing when none was started."""
    tally = _tally.get()
    if tally is not None:
        tally.count += 1
