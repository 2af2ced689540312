"""uploads: who uploaded which picture; posts.img unique (one picture, one post).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import create_index, create_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    create_table(
        "uploads",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_uploads_user"), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        **MYSQL,
    )
    create_index("ix_uploads_created_at", "uploads", ["created_at"])
    create_index("ix_posts_img", "posts", ["img"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_posts_img", table_name="posts")
    op.drop_table("uploads")
