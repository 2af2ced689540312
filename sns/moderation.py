"""The moderators and what they do about reports (#21).

Reports themselves are ``sns.reports``, the audit log ``sns.audit``; ``ModerationService``
is the one service the pages and the command line ask for all three.
Moderators (``python run.py admin grant <email>``) see the open reports at ``/admin`` with
the reported content and the history of the person it is about, and dismiss them, hide
the content (shown to its author only, marked: ``sns.visible.shown_post``), delete it, or
suspend the account (no login, no API, every session deleted, shown nowhere:
``sns.visible.LIVE_USER``). Each action and its audit entry are one transaction; the
audit log (``/admin/log``) keeps who did what, when and why. Every commit moves the site
version, so every process's page cache and user cache drop what they kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update

from sns.accounts import normalize_email
from sns.async_sql import AsyncConnection
from sns.audit import LOG_PAGE, AuditEntry, add_entry, check_reason, entries, summary_of
from sns.db import Database, utcnow
from sns.errors import Conflict, Invalid, NotFound
from sns.posts import PostService
from sns.reports import (
    QUEUE_SIZE,
    QueuedReport,
    ReportAck,
    Target,
    file_report,
    find_target,
    open_reports,
)
from sns.schema import audit_log, comments, posts, reports, users
from sns.sessions import SessionStore

ACTIONS = ("dismiss", "hide", "delete", "suspend")
SUSPENDED_SHOWN = 50
"""Suspended accounts /admin lists, the most recently suspended first."""


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


class ModerationService:
    """Reports, the moderator role, the actions on reports, suspensions and the audit log."""

    def __init__(self, db: Database, *, posts: PostService, sessions: SessionStore) -> None:
        self.db = db
        self.posts = posts
        self.sessions = sessions

    # -- reporting (``sns.reports``) ----------------------------------------------------

    async def target(self, kind: str, target_id: int, viewer_id: int | None) -> Target:
        """The thing to report as ``viewer_id`` is shown it, or ``NotFound``."""
        async with self.db.read() as conn:
            return await find_target(conn, kind, target_id, viewer_id)

    async def report(
        self, reporter_id: int, kind: str, target_id: int, reason: str, note: str
    ) -> ReportAck:
        """Report something (``sns.reports.file_report``)."""
        return await file_report(self.db, reporter_id, kind, target_id, reason, note)

    async def open_reports(self, limit: int = QUEUE_SIZE) -> list[QueuedReport]:
        """The open reports, newest first, with what each is about and that person's
        history (``sns.reports.open_reports``)."""
        return await open_reports(self.db, limit)

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
        changed: set[int] = set()  # whose unread counts a deletion moved

        async def work(conn: AsyncConnection) -> str:
            pictures.clear()
            suspended.clear()
            changed.clear()
            report = (await conn.execute(select(reports).where(reports.c.id == report_id))).first()
            if report is None:
                raise NotFound("There is no such report.")
            if report.status != "open":
                raise Conflict("This report was already handled.")
            kind, target_id, person = report.target_kind, report.target_id, report.target_user_id
            same_target = and_(reports.c.target_kind == kind, reports.c.target_id == target_id)
            summary = await summary_of(conn, kind, target_id)
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
                    pictures.extend(await self.posts.remove_locked(conn, target_id, changed))
                else:
                    changed.update(await self.posts.comments.remove_one(conn, target_id))
                await self._close(conn, same_target, "actioned", moderator_id)
            await add_entry(
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
        await self.posts.announce(changed)
        await self.posts.discard(pictures)
        for person in suspended:
            await self.sessions.delete_user(person)
        return done

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
            nick = await summary_of(conn, "user", user_id)
            await add_entry(conn, by, action, "user", user_id, user_id, reason, nick)
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
            nick = await summary_of(conn, "user", user_id)
            action = "suspend" if suspended else "unsuspend"
            await add_entry(conn, by, action, "user", user_id, user_id, reason, nick)
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

    # -- the audit log (``sns.audit``) ---------------------------------------------------

    async def log(self, before: int | None = None, limit: int = LOG_PAGE) -> list[AuditEntry]:
        """The audit log, newest first, ``limit`` entries with ids below ``before``."""
        where = audit_log.c.id < before if before is not None else audit_log.c.id > 0
        async with self.db.read() as conn:
            return await entries(conn, where, limit)
