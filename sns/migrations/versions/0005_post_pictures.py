"""post_pictures: up to four pictures a post with alt text, size and placeholder; the size,
placeholder and thumbnail state of each upload. Every post's one picture (posts.img) becomes
its first picture here; posts.img stays as the post's cover.

Revision ID: 0005
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import add_column, create_index, create_table

revision = "0005"
down_revision = "0009"
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
        "post_pictures",
        sa.Column(
            "post_id",
            Id,
            sa.ForeignKey("posts.id", name="fk_post_pictures_post", ondelete="CASCADE"),
            nullable=False,
            autoincrement=False,
        ),
        sa.Column("position", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("alt", sa.String(1500), nullable=False, server_default=""),
        sa.Column("width", sa.Integer, nullable=False, server_default="0"),
        sa.Column("height", sa.Integer, nullable=False, server_default="0"),
        sa.Column("placeholder", sa.String(64), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("post_id", "position", name="pk_post_pictures"),
        **MYSQL,
    )
    create_index("ix_post_pictures_name", "post_pictures", ["name"], unique=True)
    add_column("uploads", sa.Column("width", sa.Integer, nullable=False, server_default="0"))
    add_column("uploads", sa.Column("height", sa.Integer, nullable=False, server_default="0"))
    add_column(
        "uploads", sa.Column("placeholder", sa.String(64), nullable=False, server_default="")
    )
    add_column("uploads", sa.Column("thumbnails", sa.Integer, nullable=False, server_default="0"))
    move_pictures()


def move_pictures() -> None:
    """Each post's picture becomes its first picture (size 0x0: unknown until the server
    reads it once), and gets an uploads row if it has none (posts older than 0003), so
    that every picture has an owner. Skips what a cut-short run already moved."""
    bind = op.get_bind()
    meta = sa.MetaData()
    posts = sa.Table("posts", meta, autoload_with=bind)
    uploads = sa.Table("uploads", meta, autoload_with=bind)
    pictures = sa.Table("post_pictures", meta, autoload_with=bind)
    after = 0
    while True:
        rows = bind.execute(
            sa.select(posts.c.id, posts.c.user_id, posts.c.img, posts.c.created_at)
            .where(posts.c.id > after, posts.c.img.is_not(None))
            .order_by(posts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        names = [row.img for row in rows]
        moved = set(
            bind.execute(sa.select(pictures.c.name).where(pictures.c.name.in_(names))).scalars()
        )
        owned = set(
            bind.execute(sa.select(uploads.c.name).where(uploads.c.name.in_(names))).scalars()
        )
        new = [row for row in rows if row.img not in moved]
        if new:
            bind.execute(
                pictures.insert(),
                [{"post_id": row.id, "position": 0, "name": row.img, "alt": ""} for row in new],
            )
        orphaned = [row for row in rows if row.img not in owned]
        if orphaned:
            bind.execute(
                uploads.insert(),
                [
                    {
                        "name": row.img,
                        "user_id": row.user_id,
                        "bytes": 0,
                        "created_at": row.created_at,
                    }
                    for row in orphaned
                ],
            )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_table("post_pictures")
    for column in ("thumbnails", "placeholder", "height", "width"):
        op.drop_column("uploads", column)
