"""Search: search_terms, the word index with each post's normalised text, built here for
the posts already stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import create_table
from sns.search_index import index_rows

revision = "0004"
down_revision = "0003"
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
    create_table(
        "search_terms",
        sa.Column("term", sa.String(8), nullable=False),
        sa.Column("post_id", Id, nullable=False, autoincrement=False),
        sa.Column("body", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("term", "post_id", name="pk_search_terms"),
        sqlite_with_rowid=False,
        **MYSQL,
    )
    build_index()


def build_index() -> None:
    """Index every stored post, in batches; a run cut short is started over from empty."""
    bind = op.get_bind()
    meta = sa.MetaData()
    posts = sa.Table("posts", meta, autoload_with=bind)
    terms = sa.Table("search_terms", meta, autoload_with=bind)
    bind.execute(terms.delete())
    after = 0
    while True:
        rows = bind.execute(
            sa.select(posts.c.id, posts.c.content)
            .where(posts.c.id > after)
            .order_by(posts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(terms.insert(), index_rows((row.id, row.content) for row in rows))
        after = rows[-1].id


def downgrade() -> None:
    op.drop_table("search_terms")
