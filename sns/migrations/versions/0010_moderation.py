"""Moderation (#21): reports, the moderator role, hidden posts and comments, suspended
accounts, the audit log, and sessions findable by account (a suspension ends them all).

Revision ID: 0010
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import add_column, create_index, create_table

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    add_column("users", sa.Column("moderator", sa.Integer, nullable=False, server_default="0"))
    add_column("users", sa.Column("suspended_at", sa.DateTime, nullable=True))
    for table in ("posts", "comments"):
        add_column(table, sa.Column("hidden_at", sa.DateTime, nullable=True))
        add_column(table, sa.Column("hidden_by", Id, nullable=True))
    add_column("sessions", sa.Column("user_id", Id, nullable=True))
    create_index("ix_sessions_user_id", "sessions", ["user_id"])
    create_table(
        "reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "reporter_id",
            Id,
            sa.ForeignKey("users.id", name="fk_reports_reporter"),
            nullable=False,
        ),
        sa.Column("target_kind", sa.String(10), nullable=False),
        sa.Column("target_id", Id, nullable=False),
        sa.Column("target_user_id", Id, nullable=False),
        sa.Column("reason", sa.String(10), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("resolved_by", Id, nullable=True),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint(
            "reporter_id", "target_kind", "target_id", name="uq_reports_reporter_target"
        ),
        **MYSQL,
    )
    create_index("ix_reports_status_id", "reports", ["status", "id"])
    create_index("ix_reports_target", "reports", ["target_kind", "target_id"])
    create_index("ix_reports_target_user_id", "reports", ["target_user_id", "id"])
    create_table(
        "audit_log",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("moderator_id", Id, nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("target_kind", sa.String(10), nullable=False),
        sa.Column("target_id", Id, nullable=False),
        sa.Column("target_user_id", Id, nullable=True),
        sa.Column("report_id", Id, nullable=True),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("summary", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        **MYSQL,
    )
    create_index("ix_audit_log_target_user_id", "audit_log", ["target_user_id", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("reports")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("user_id")
    for table in ("posts", "comments"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("hidden_by")
            batch.drop_column("hidden_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("moderator")
