"""The moderators' audit log (#21): who did what, when and why, about whom, with what the
content said then (a deleted post's text stays here). Every moderator action writes its
entry in the action's own transaction (``add_entry``); ``/admin/log`` and each person's
history on ``/admin`` read them (``entries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from sns.async_sql import AsyncConnection
from sns.db import utcnow
from sns.errors import Invalid
from sns.schema import audit_log, comments, posts, users

REASON_MAX_CHARS = 1000
SUMMARY_CHARS = 300
LOG_PAGE = 50


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


async def summary_of(conn: AsyncConnection, kind: str, target_id: int) -> str | None:
    """What the post or comment says, or the account's nick, cut to ``SUMMARY_CHARS``."""
    if kind == "user":
        column = users.c.nick
        key = users.c.id
    else:
        table = posts if kind == "post" else comments
        column, key = table.c.content, table.c.id
    found = (await conn.execute(select(column).where(key == target_id))).scalar()
    return _summary(found)


async def add_entry(
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
    """One entry; ``moderator_id`` None: done from the command line."""
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


async def entries(conn: AsyncConnection, where: Any, limit: int) -> list[AuditEntry]:
    """The entries matching ``where``, newest first, with the nicks of both sides."""
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
