"""Reports and the moderators who act on them (#21).

Anyone logged in reports a post, a comment or an account, with a reason and an optional
note; one person's reports of one thing are one report (sending it again updates it).
Moderators (``python run.py admin grant <email>``) see the open reports at ``/admin`` with
the reported content and the history of the person it is about, and dismiss them, hide
the content (shown to its author only, marked: ``sns.visible.shown_post``), delete it, or
suspend the account (no login, no API, every session deleted, shown nowhere:
``sns.visible.LIVE_USER``). Each action and its audit entry are one transaction; the
audit log (``/admin/log``) keeps who did what, when and why. Every commit moves the site
version, so every process's page cache and user cache drop what they kept.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sns import text
from sns.accounts import normalize_email
from sns.db import Database, new_id, utcnow
from sns.errors import Conflict, Invalid, NotFound
from sns.posts import PostService
from sns.schema import audit_log, comments, posts, reports, users
from sns.sessions import SessionStore
from sns.visible import LIVE_USER, shown_comment, shown_post

KINDS = ("post", "comment", "user")
REASONS = ("spam", "abuse", "illegal", "other")
ACTIONS = ("dismiss", "hide", "delete", "suspend")
NOTE_MAX_CHARS = 1000
REASON_MAX_CHARS = 1000
SUMMARY_CHARS = 300
QUEUE_SIZE = 50
LOG_PAGE = 50
HISTORY_ENTRIES = 5
SUSPENDED_SHOWN = 50
"""Suspended accounts /admin lists, the most recently suspended first."""


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
class AuditEntry:
    id: int
    moderator_id: int | None
    moderator_nick: str | None
    action: str
    target_kind: str
    target_id: int
    target_user_id: int | None
    target_nick: str | None
    report_id: int | None
    reason: str
    summary: str | None
    created_at: datetime


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


@dataclass(frozen=True)
class SuspendedAccount:
    """A suspended account as /admin lists it, with the reason of its latest suspension."""

    id: int
    nick: str
    email: str | None
    handle: str | None
    suspended_at: datetime
    reason: str | None
    """Why it was last suspended (the audit log); None if no entry says so."""


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


def check_reason(reason: str) -> str:
    """A moderator's reason for an action: required, like a court's."""
    reason = reason.strip()
    if not reason:
        raise Invalid("Say why: the reason goes into the audit log.", field="reason")
    if len(reason) > REASON_MAX_CHARS:
        raise Invalid(
            "The reason is too long: at most {max} characters.",
            field="reason",
            max=REASON_MAX_CHARS,
        )
    return reason


def _summary(content: str | None) -> str | None:
    return None if content is None else content[:SUMMARY_CHARS]


class ModerationService:
    """Reports, the moderator role, the actions on reports, suspensions and the audit log."""

    def __init__(self, db: Database, *, posts: PostService, sessions: SessionStore) -> None:
        self.db = db
        self.posts = posts
        self.sessions = sessions

    # -- reporting -----------------------------------------------------------------------

    async def target(self, kind: str, target_id: int, viewer_id: int | None) -> Target:
        """The thing to report as ``viewer_id`` is shown it, or ``NotFound``."""
        async with self.db.read() as conn:
            return await self._target(conn, kind, target_id, viewer_id)

    async def _target(
        self, conn: AsyncConnection, kind: str, target_id: int, viewer_id: int | None
    ) -> Target:
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

    async def report(
        self, reporter_id: int, kind: str, target_id: int, reason: str, note: str
    ) -> ReportAck:
        """Report something; the same person reporting the same thing again updates the
        one report (its reason and note) rather than making another."""
        reason, stored_note = check_report(reason, note)
        now = utcnow()

        async def work(conn: AsyncConnection) -> ReportAck:
            target = await self._target(conn, kind, target_id, reporter_id)
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
            return await self.db.write(work)
        except IntegrityError:  # the same report sent twice at once: the other was first
            return await self.db.write(work)

    # -- the queue -----------------------------------------------------------------------

    async def open_reports(self, limit: int = QUEUE_SIZE) -> list[QueuedReport]:
        """The open reports, newest first, each with what it is about and that person's
        history: six queries however many reports and people."""
        reporter = users.alias("reporter")
        subject = users.alias("subject")
        async with self.db.read() as conn:
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
            content = await self._contents(conn, rows)
            people = sorted({row.target_user_id for row in rows})
            histories = await self._histories(conn, people)
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
        self, conn: AsyncConnection, rows: Sequence[Any]
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

    async def _histories(self, conn: AsyncConnection, people: list[int]) -> dict[int, History]:
        counts: dict[int, Counter[str]] = defaultdict(Counter)
        for row in await conn.execute(
            select(reports.c.target_user_id, reports.c.status, func.count().label("n"))
            .where(reports.c.target_user_id.in_(people))
            .group_by(reports.c.target_user_id, reports.c.status)
        ):
            counts[row.target_user_id][row.status] = row.n
        actions: dict[int, list[AuditEntry]] = defaultdict(list)
        for entry in await self._entries(
            conn, audit_log.c.target_user_id.in_(people), HISTORY_ENTRIES * len(people) * 4
        ):
            if entry.target_user_id is not None:
                kept = actions[entry.target_user_id]
                if len(kept) < HISTORY_ENTRIES:
                    kept.append(entry)
        return {person: History(dict(counts[person]), tuple(actions[person])) for person in people}

    # -- acting on a report --------------------------------------------------------------

    async def act(self, moderator_id: int, report_id: int, action: str, reason: str) -> str:
        """Dismiss an open report, or hide or delete what it is about, or suspend the person
        it is about; the report (and the other open reports of the same thing) are closed
        and the audit log keeps it. Returns what was done."""
        if action not in ACTIONS:
            raise NotFound("There is no such page.")
        reason = check_reason(reason)
        pictures: list[str] = []
        suspended: list[int] = []

        async def work(conn: AsyncConnection) -> str:
            pictures.clear()
            suspended.clear()
            report = (await conn.execute(select(reports).where(reports.c.id == report_id))).first()
            if report is None:
                raise NotFound("There is no such report.")
            if report.status != "open":
                raise Conflict("This report was already handled.")
            kind, target_id, person = report.target_kind, report.target_id, report.target_user_id
            same_target = and_(reports.c.target_kind == kind, reports.c.target_id == target_id)
            summary = await self._summary_of(conn, kind, target_id)
            if action == "dismiss":
                await self._close(conn, same_target, "dismissed", moderator_id)
            elif action == "suspend":
                if person == moderator_id:
                    raise Invalid("You cannot suspend yourself.", field="reason")
                await self._suspend(conn, person)
                suspended.append(person)
                await self._close(conn, same_target, "actioned", moderator_id)
                kind, target_id = "user", person
            else:
                if kind == "user":
                    raise Invalid(
                        "An account cannot be hidden or deleted: suspend it.", field="reason"
                    )
                table = posts if kind == "post" else comments
                exists = (
                    await conn.execute(
                        select(table.c.id).where(table.c.id == target_id).with_for_update()
                    )
                ).first()
                if exists is None:
                    raise NotFound("It is gone already: dismiss the report.")
                if action == "hide":
                    await conn.execute(
                        update(table)
                        .where(table.c.id == target_id)
                        .values(hidden_at=utcnow(), hidden_by=moderator_id)
                    )
                elif kind == "post":
                    pictures.extend(await self.posts.remove_locked(conn, target_id))
                else:
                    await conn.execute(delete(comments).where(comments.c.parent_id == target_id))
                    await conn.execute(delete(comments).where(comments.c.id == target_id))
                await self._close(conn, same_target, "actioned", moderator_id)
            await self._audit(
                conn,
                moderator_id,
                action,
                kind,
                target_id,
                person,
                reason,
                summary,
                report_id=report_id,
            )
            return action

        done = await self.db.write(work)
        await self.posts.discard(pictures)
        for person in suspended:
            await self.sessions.delete_user(person)
        return done

    async def _summary_of(self, conn: AsyncConnection, kind: str, target_id: int) -> str | None:
        if kind == "user":
            column = users.c.nick
            key = users.c.id
        else:
            table = posts if kind == "post" else comments
            column, key = table.c.content, table.c.id
        found = (await conn.execute(select(column).where(key == target_id))).scalar()
        return _summary(found)

    async def _close(
        self, conn: AsyncConnection, which: Any, status: str, moderator_id: int | None
    ) -> None:
        await conn.execute(
            update(reports)
            .where(which, reports.c.status == "open")
            .values(status=status, resolved_by=moderator_id, resolved_at=utcnow())
        )

    async def _suspend(self, conn: AsyncConnection, user_id: int) -> None:
        """Suspend the account and move its session version on: any session that escapes
        the deletion (made in the instant between) still ends at its next request."""
        await conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.suspended_at.is_(None))
            .values(suspended_at=utcnow(), session_version=users.c.session_version + 1)
        )

    async def _audit(
        self,
        conn: AsyncConnection,
        moderator_id: int | None,
        action: str,
        kind: str,
        target_id: int,
        person: int | None,
        reason: str,
        summary: str | None,
        *,
        report_id: int | None = None,
    ) -> None:
        await conn.execute(
            insert(audit_log).values(
                moderator_id=moderator_id,
                action=action,
                target_kind=kind,
                target_id=target_id,
                target_user_id=person,
                report_id=report_id,
                reason=reason,
                summary=summary,
                created_at=utcnow(),
            )
        )

    # -- accounts: the role and suspensions (the command line, or a moderator) ----------

    async def user_id_for_email(self, email: str) -> int:
        """The account with this email (suspended ones too), or ``NotFound``."""
        async with self.db.read() as conn:
            found = (
                await conn.execute(
                    select(users.c.id).where(
                        users.c.email == normalize_email(email), users.c.deleted_at.is_(None)
                    )
                )
            ).scalar()
        if found is None:
            raise NotFound("There is no account with that email.")
        return int(found)

    async def set_moderator(
        self, user_id: int, moderator: bool, reason: str, by: int | None = None
    ) -> bool:
        """Grant or revoke the role; False when the account already was so."""
        action = "grant" if moderator else "revoke"

        async def work(conn: AsyncConnection) -> bool:
            changed = await conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.moderator != int(moderator))
                .values(moderator=int(moderator))
            )
            if not changed.rowcount:
                return False
            nick = await self._summary_of(conn, "user", user_id)
            await self._audit(conn, by, action, "user", user_id, user_id, reason, nick)
            return True

        return await self.db.write(work)

    async def set_suspended(
        self, user_id: int, suspended: bool, reason: str, by: int | None = None
    ) -> bool:
        """Suspend (every session deleted at once) or unsuspend an account; False when it
        already was so. Unsuspending gives back the posts and comments as they were."""
        reason = check_reason(reason)

        async def work(conn: AsyncConnection) -> bool:
            if suspended:
                changed = await conn.execute(
                    update(users)
                    .where(users.c.id == user_id, users.c.suspended_at.is_(None))
                    .values(suspended_at=utcnow(), session_version=users.c.session_version + 1)
                )
            else:
                changed = await conn.execute(
                    update(users)
                    .where(users.c.id == user_id, users.c.suspended_at.is_not(None))
                    .values(suspended_at=None)
                )
            if not changed.rowcount:
                return False
            nick = await self._summary_of(conn, "user", user_id)
            action = "suspend" if suspended else "unsuspend"
            await self._audit(conn, by, action, "user", user_id, user_id, reason, nick)
            return True

        changed = await self.db.write(work)
        if changed and suspended:
            await self.sessions.delete_user(user_id)
        return changed

    async def suspended(self, limit: int = SUSPENDED_SHOWN) -> list[SuspendedAccount]:
        """The suspended accounts, most recently suspended first, each with the reason of
        its latest suspension (the audit log's (target_user_id, id) index): one query.

        It reads every account: an index led by ``suspended_at`` would serve it, but
        SQLite then starts every timeline from that index (``LIVE_USER``'s ``IS NULL``
        matches it) and sorts all the posts: ``/`` went from 0.03 to 2-4 ms at 100,000
        posts. Only moderators open this page."""
        why = (
            select(audit_log.c.reason)
            .where(audit_log.c.target_user_id == users.c.id, audit_log.c.action == "suspend")
            .order_by(audit_log.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(
                    users.c.id,
                    users.c.nick,
                    users.c.email,
                    users.c.handle,
                    users.c.suspended_at,
                    why.label("reason"),
                )
                .where(users.c.suspended_at.is_not(None), users.c.deleted_at.is_(None))
                .order_by(users.c.suspended_at.desc(), users.c.id.desc())
                .limit(limit)
            )
            return [SuspendedAccount(**row._mapping) for row in rows]

    async def unsuspend(self, moderator_id: int, user_id: int, reason: str) -> None:
        """Lift a suspension from /admin: the account logs in again and what it wrote shows
        again (but what moderators hid or deleted apart). ``Conflict`` when it is not
        suspended, ``NotFound`` when there is no such account."""
        reason = check_reason(reason)
        async with self.db.read() as conn:
            found = (
                await conn.execute(
                    select(users.c.suspended_at).where(
                        users.c.id == user_id, users.c.deleted_at.is_(None)
                    )
                )
            ).first()
        if found is None:
            raise NotFound("There is no such user.")
        if not await self.set_suspended(user_id, False, reason, by=moderator_id):
            raise Conflict("This account is not suspended.")

    # -- the audit log -------------------------------------------------------------------

    async def log(self, before: int | None = None, limit: int = LOG_PAGE) -> list[AuditEntry]:
        """The audit log, newest first, ``limit`` entries with ids below ``before``."""
        where = audit_log.c.id < before if before is not None else audit_log.c.id > 0
        async with self.db.read() as conn:
            return await self._entries(conn, where, limit)

    async def _entries(self, conn: AsyncConnection, where: Any, limit: int) -> list[AuditEntry]:
        moderator = users.alias("moderator")
        subject = users.alias("subject")
        rows = await conn.execute(
            select(
                audit_log,
                moderator.c.nick.label("moderator_nick"),
                subject.c.nick.label("target_nick"),
            )
            .outerjoin(moderator, moderator.c.id == audit_log.c.moderator_id)
            .outerjoin(subject, subject.c.id == audit_log.c.target_user_id)
            .where(where)
            .order_by(audit_log.c.id.desc())
            .limit(limit)
        )
        return [AuditEntry(**row._mapping) for row in rows]
