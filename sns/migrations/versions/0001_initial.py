"""The initial model: users, posts, hashtags, follows, likes, comments, domains, sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from sns.ddl import create_index, create_table

revision = "0001"
down_revision = None
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
        "users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("nick", sa.String(40), nullable=False),
        sa.Column("password_hash", sa.String(100), nullable=True),
        sa.Column("provider", sa.String(10), nullable=False, server_default="local"),
        sa.Column("sns_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("provider", "sns_id", name="uq_users_provider_sns_id"),
        **MYSQL,
    )
    create_table(
        "posts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_posts_user"), nullable=False),
        sa.Column("content", sa.String(140), nullable=False),
        sa.Column("img", sa.String(255), nullable=True),
        sa.Column("like_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        **MYSQL,
    )
    create_index("ix_posts_user_id_id", "posts", ["user_id", "id"])
    create_table(
        "hashtags",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(140), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("title", name="uq_hashtags_title"),
        **MYSQL,
    )
    create_table(
        "post_hashtags",
        sa.Column(
            "hashtag_id",
            Id,
            sa.ForeignKey("hashtags.id", name="fk_post_hashtags_hashtag"),
            nullable=False,
        ),
        sa.Column(
            "post_id",
            Id,
            sa.ForeignKey("posts.id", name="fk_post_hashtags_post", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("hashtag_id", "post_id", name="pk_post_hashtags"),
        **MYSQL,
    )
    create_index("ix_post_hashtags_post_id", "post_hashtags", ["post_id"])
    create_table(
        "follows",
        sa.Column(
            "follower_id", Id, sa.ForeignKey("users.id", name="fk_follows_follower"), nullable=False
        ),
        sa.Column(
            "following_id",
            Id,
            sa.ForeignKey("users.id", name="fk_follows_following"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "following_id", name="pk_follows"),
        **MYSQL,
    )
    create_index("ix_follows_following_id_follower_id", "follows", ["following_id", "follower_id"])
    create_table(
        "likes",
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_likes_user"), nullable=False),
        sa.Column(
            "post_id",
            Id,
            sa.ForeignKey("posts.id", name="fk_likes_post", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "post_id", name="pk_likes"),
        **MYSQL,
    )
    create_index("ix_likes_post_id", "likes", ["post_id"])
    create_table(
        "comments",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "post_id",
            Id,
            sa.ForeignKey("posts.id", name="fk_comments_post", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", Id, sa.ForeignKey("users.id", name="fk_comments_user"), nullable=False
        ),
        sa.Column(
            "parent_id",
            Id,
            sa.ForeignKey("comments.id", name="fk_comments_parent", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("content", sa.String(140), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        **MYSQL,
    )
    create_index("ix_comments_post_id_id", "comments", ["post_id", "id"])
    create_index("ix_comments_parent_id", "comments", ["parent_id"])
    create_table(
        "domains",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", name="fk_domains_user"), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("type", sa.String(10), nullable=False, server_default="free"),
        sa.Column("client_secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("client_secret", name="uq_domains_client_secret"),
        **MYSQL,
    )
    create_index("ix_domains_user_id", "domains", ["user_id"])
    create_index("ix_domains_host", "domains", ["host"])
    create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )
    create_index("ix_sessions_expires_at", "sessions", ["expires_at"])


def downgrade() -> None:
    for table in (
        "sessions",
        "domains",
        "comments",
        "likes",
        "follows",
        "post_hashtags",
        "hashtags",
        "posts",
        "users",
    ):
        op.drop_table(table)
