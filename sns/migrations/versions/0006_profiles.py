"""Profiles: users.avatar (the avatar's picture name, unique), users.avatar_ready, users.bio.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sns.ddl import add_column, create_index

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("users", sa.Column("avatar", sa.String(64), nullable=True))
    add_column("users", sa.Column("avatar_ready", sa.Boolean, nullable=False, server_default="0"))
    add_column("users", sa.Column("bio", sa.String(160), nullable=True))
    # The orphan sweep asks which names are avatars; names are unique.
    create_index("ix_users_avatar", "users", ["avatar"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_avatar", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("bio")
        batch.drop_column("avatar_ready")
        batch.drop_column("avatar")
