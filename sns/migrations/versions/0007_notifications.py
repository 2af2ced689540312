"""Handles and notifications (#20): users.handle and its folded key under a unique index
(made here for every account there is), notifications and their actors.

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import add_column, create_index, create_table
from sns.handles import fold_handle, handle_base, handle_candidates

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 1000


def upgrade() -> None:
    add_column("users", sa.Column("handle", sa.String(20), nullable=True))
    add_column("users", sa.Column("handle_key", sa.String(80), nullable=True))
    fill_handles()
    create_index("uq_users_handle_key", "users", ["handle_key"], unique=True)
    create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", Id, sa.ForeignKey("users.id", name="fk_notifications_user"), nullable=False
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column(
            "post_id",
            Id,
            sa.ForeignKey("posts.id", name="fk_notifications_post", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "comment_id",
            Id,
            sa.ForeignKey("comments.id", name="fk_notifications_comment", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "actor_id", Id, sa.ForeignKey("users.id", name="fk_notifications_actor"), nullable=False
        ),
        sa.Column("actor_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("read_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("unread", sa.Integer, nullable=False, server_default="1"),
        sa.Column("open_key", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        **MYSQL,
    )
    # Each index on its own step: a start cut short after the table was made (MySQL commits
    # each DDL statement) finds the table there and still makes what is missing.
    create_index("ix_notifications_user_id_seq", "notifications", ["user_id", "seq"])
    create_index("ix_notifications_user_id_unread", "notifications", ["user_id", "unread"])
    create_index(
        "uq_notifications_user_id_open_key", "notifications", ["user_id", "open_key"], unique=True
    )
    create_index("ix_notifications_post_id", "notifications", ["post_id"])
    create_index("ix_notifications_comment_id", "notifications", ["comment_id"])
    create_index("ix_notifications_actor_id", "notifications", ["actor_id"])
    create_table(
        "notification_actors",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "notification_id",
            Id,
            sa.ForeignKey(
                "notifications.id",
                name="fk_notification_actors_notification",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column(
            "actor_id",
            Id,
            sa.ForeignKey("users.id", name="fk_notification_actors_actor"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("notification_id", "actor_id", name="uq_notification_actors"),
        **MYSQL,
    )
    create_index("ix_notification_actors_actor_id", "notification_actors", ["actor_id"])


def fill_handles() -> None:
    """A handle for every live account without one, made from its nick or e-mail as a
    sign-up without a handle gets one; a run cut short carries on where it stopped."""
    bind = op.get_bind()
    meta = sa.MetaData()
    users = sa.Table("users", meta, autoload_with=bind)
    taken = {
        key
        for (key,) in bind.execute(
            sa.select(users.c.handle_key).where(users.c.handle_key.is_not(None))
        )
    }
    after = 0
    while True:
        rows = bind.execute(
            sa.select(users.c.id, users.c.nick, users.c.email)
            .where(users.c.id > after, users.c.handle_key.is_(None), users.c.deleted_at.is_(None))
            .order_by(users.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            base = handle_base(row.nick, row.email)
            handle = next(iter(handle_candidates(base, taken)), None)
            number = 51
            while handle is None:
                handle = f"{base[:14]}{number}"
                if fold_handle(handle) in taken:
                    handle, number = None, number + 1
            taken.add(fold_handle(handle))
            bind.execute(
                users.update()
                .where(users.c.id == row.id)
                .values(handle=handle, handle_key=fold_handle(handle))
            )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_table("notification_actors")
    op.drop_table("notifications")
    op.drop_index("uq_users_handle_key", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("handle_key")
        batch.drop_column("handle")
