"""An index of the suspended accounts, the most recently suspended first: /admin lists
them, each with a button to lift the suspension (#21).

Revision ID: 0011_suspended
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from sns.ddl import create_index

revision = "0011_suspended"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index("ix_users_suspended_at", "users", ["suspended_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_suspended_at", table_name="users")
