"""Safety: blocks, mutes (with an end time) and muted words, and an index of the search
terms by post, through which muted words hide posts.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import create_index, create_table

revision = "0009"
down_revision = "0007"
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
        "blocks",
        sa.Column(
            "blocker_id", Id, sa.ForeignKey("users.id", name="fk_blocks_blocker"), nullable=False
        ),
        sa.Column(
            "blocked_id", Id, sa.ForeignKey("users.id", name="fk_blocks_blocked"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name="pk_blocks"),
        **MYSQL,
    )
    create_table(
        "mutes",
        sa.Column("muter_id", Id, sa.ForeignKey("users.id", name="fk_mutes_muter"), nullable=False),
        sa.Column("muted_id", Id, sa.ForeignKey("users.id", name="fk_mutes_muted"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("muter_id", "muted_id", name="pk_mutes"),
        **MYSQL,
    )
    create_table(
        "muted_words",
        sa.Column(
            "user_id", Id, sa.ForeignKey("users.id", name="fk_muted_words_user"), nullable=False
        ),
        sa.Column("folded", sa.String(150), nullable=False),
        sa.Column("word", sa.String(100), nullable=False),
        sa.Column("term", sa.String(8), nullable=False),
        sa.Column("pattern", sa.String(160), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "folded", name="pk_muted_words"),
        **MYSQL,
    )
    # Made apart from their tables: a start cut short after a table but before its index
    # (MySQL commits each DDL statement) gets the index on the next start.
    create_index("ix_blocks_blocked_id_blocker_id", "blocks", ["blocked_id", "blocker_id"])
    create_index("ix_muted_words_user_id_term", "muted_words", ["user_id", "term"])
    create_index("ix_search_terms_post_id_term", "search_terms", ["post_id", "term"])


def downgrade() -> None:
    op.drop_index("ix_search_terms_post_id_term", table_name="search_terms")
    for table in ("muted_words", "mutes", "blocks"):
        op.drop_table(table)
