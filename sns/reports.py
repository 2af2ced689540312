"""Reports (#21): anyone logged in reports a post, a comment or an account, with a reason
and an optional note; one person's reports of one thing are one report (sending it again
updates it). Moderators see the open ones at ``/admin`` (``open_reports``), each with what
it is about and that person's history; acting on them is ``sns.moderation``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sns import text
from sns.async_sql import AsyncConnection
from sns.audit import AuditEntry, entries
from sns.db import Database, new_id, utcnow
from sns.errors import Invalid, NotFound
from sns.schema import audit_log, comments, posts, reports, users
from sns.visible import LIVE_USER, shown_comment, shown_post

KINDS = ("post", "comment", "user")
REASONS = ("spam", "abuse", "illegal", "other")
NOTE_MAX_CHARS = 1000
QUEUE_SIZE = 50
HISTORY_ENTRIES = 5


@dataclass(frozen=True)
class Target:
    """What a report is about: its kind and id, whom it is about, and what it says."""

    kind: str
    id: int
    user_id: int
    text: str


@dataclass(frozen=True)
class ReportAck:
    """A report taken: its id, and whether it is new (False: an earlier one was updated)."""

    id: int
    created: bool


@dataclass(frozen=True)
class History:
    """What moderators know of a person: reports about them by status, and the latest
    actions taken about them."""

    reports: dict[str, int] = field(default_factory=dict)
    actions: tuple[AuditEntry, ...] = ()

    @property
    def total_reports(self) -> int:
        return sum(self.reports.values())


@dataclass(frozen=True)
class QueuedReport:
    """An open report as /admin shows it."""

    id: int
    reporter_id: int
    reporter_nick: str
    target_kind: str
    target_id: int
    target_user_id: int
    target_nick: str
    target_suspended: bool
    reason: str
    note: str | None
    created_at: datetime
    content: str | None
    """The post's or comment's text, the account's nick; None when it is gone."""
    hidden: bool
    history: History


def check_report(reason: str, note: str) -> tuple[str, str | None]:
    """The reason and the note as stored, or ``Invalid`` naming the field."""
    if reason not in REASONS:
        raise Invalid("Choose a reason: spam, abuse, illegal or other.", field="reason")
    note = note.replace("\r\n", "\n").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise Invalid(
            "The note is too long: at most {max} characters.", field="note", max=NOTE_MAX_CHARS
        )
    if not text.is_unicode_text(note) or text.has_control_chars(note):
        raise Invalid("The note holds a character that is not text.", field="note")
    return reason, note or None


async def find_target(
    conn: AsyncConnection, kind: str, target_id: int, viewer_id: int | None
) -> Target:
    """The thing to report as ``viewer_id`` is shown it, or ``NotFound``."""
    if kind == "post":
        row = (
            await conn.execute(
                select(posts.c.user_id, posts.c.content)
                .join(users, users.c.id == posts.c.user_id)
                .where(posts.c.id == target_id, LIVE_USER, shown_post(viewer_id))
            )
        ).first()
        if row is None:
            raise NotFound("There is no such post.")
        return Target(kind, target_id, row.user_id, row.content)
    if kind == "comment":
        row = (
            await conn.execute(
                select(comments.c.user_id, comments.c.content)
                .join(users, users.c.id == comments.c.user_id)
                .join(posts, posts.c.id == comments.c.post_id)
                .where(comments.c.id == target_id, LIVE_USER, shown_comment(viewer_id))
            )
        ).first()
        if row is None:
            raise NotFound("There is no such comment.")
        return Target(kind, target_id, row.user_id, row.content)
    if kind == "user":
        row = (
            await conn.execute(
                select(users.c.id, users.c.nick).where(users.c.id == target_id, LIVE_USER)
            )
        ).first()
        if row is None:
            raise NotFound("There is no such user.")
        return Target(kind, target_id, row.id, row.nick)
    raise NotFound("There is no such page.")


async def file_report(
    db: Database, reporter_id: int, kind: str, target_id: int, reason: str, note: str
) -> ReportAck:
    """Report something; the same person reporting the same thing again updates the
    one report (its reason and note) rather than making another."""
    reason, stored_note = check_report(reason, note)
    now = utcnow()

    async def work(conn: AsyncConnection) -> ReportAck:
        target = await find_target(conn, kind, target_id, reporter_id)
        if target.user_id == reporter_id:
            raise Invalid("You cannot report yourself or what you wrote.")
        mine = and_(
            reports.c.reporter_id == reporter_id,
            reports.c.target_kind == kind,
            reports.c.target_id == target_id,
        )
        found = (await conn.execute(select(reports.c.id).where(mine))).scalar()
        if found is None:
            result = await conn.execute(
                insert(reports).values(
                    reporter_id=reporter_id,
                    target_kind=kind,
                    target_id=target_id,
                    target_user_id=target.user_id,
                    reason=reason,
                    note=stored_note,
                    status="open",
                    created_at=now,
                    updated_at=now,
                )
            )
            return ReportAck(new_id(result), True)
        await conn.execute(
            update(reports)
            .where(reports.c.id == found)
            .values(reason=reason, note=stored_note, updated_at=now)
        )
        return ReportAck(int(found), False)

    try:
        return await db.write(work)
    except IntegrityError:  # the same report sent twice at once: the other was first
        return await db.write(work)


async def open_reports(db: Database, limit: int = QUEUE_SIZE) -> list[QueuedReport]:
    """The open reports, newest first, each with what it is about and that person's
    history: six queries however many reports and people."""
    reporter = users.alias("reporter")
    subject = users.alias("subject")
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(
                    reports,
                    reporter.c.nick.label("reporter_nick"),
                    subject.c.nick.label("target_nick"),
                    subject.c.suspended_at.label("target_suspended_at"),
                )
                .join(reporter, reporter.c.id == reports.c.reporter_id)
                .join(subject, subject.c.id == reports.c.target_user_id)
                .where(reports.c.status == "open")
                .order_by(reports.c.id.desc())
                .limit(limit)
            )
        ).all()
        if not rows:
            return []
        content = await _contents(conn, rows)
        people = sorted({row.target_user_id for row in rows})
        histories = await _histories(conn, people)
    return [
        QueuedReport(
            id=row.id,
            reporter_id=row.reporter_id,
            reporter_nick=row.reporter_nick,
            target_kind=row.target_kind,
            target_id=row.target_id,
            target_user_id=row.target_user_id,
            target_nick=row.target_nick,
            target_suspended=row.target_suspended_at is not None,
            reason=row.reason,
            note=row.note,
            created_at=row.created_at,
            content=content.get((row.target_kind, row.target_id), (None, False))[0],
            hidden=content.get((row.target_kind, row.target_id), (None, False))[1],
            history=histories.get(row.target_user_id, History()),
        )
        for row in rows
    ]


async def _contents(
    conn: AsyncConnection, rows: Sequence[Any]
) -> dict[tuple[str, int], tuple[str | None, bool]]:
    """(kind, id) -> (text, hidden) of the reported things still stored."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        wanted[row.target_kind].add(row.target_id)
    found: dict[tuple[str, int], tuple[str | None, bool]] = {}
    for kind, table in (("post", posts), ("comment", comments)):
        if wanted[kind]:
            for item in await conn.execute(
                select(table.c.id, table.c.content, table.c.hidden_at).where(
                    table.c.id.in_(wanted[kind])
                )
            ):
                found[(kind, item.id)] = (item.content, item.hidden_at is not None)
    for row in rows:
        if row.target_kind == "user":
            found[("user", row.target_id)] = (row.target_nick, False)
    return found


async def _histories(conn: AsyncConnection, people: list[int]) -> dict[int, History]:
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for row in await conn.execute(
        select(reports.c.target_user_id, reports.c.status, func.count().label("n"))
        .where(reports.c.target_user_id.in_(people))
        .group_by(reports.c.target_user_id, reports.c.status)
    ):
        counts[row.target_user_id][row.status] = row.n
    actions: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in await entries(
        conn, audit_log.c.target_user_id.in_(people), HISTORY_ENTRIES * len(people) * 4
    ):
        if entry.target_user_id is not None:
            kept = actions[entry.target_user_id]
            if len(kept) < HISTORY_ENTRIES:
                kept.append(entry)
    return {person: History(dict(counts[person]), tuple(actions[person])) for person in people}
