"""The logical model of DESIGN.md as SQLAlchemy Core tables.

The migrations in ``sns/migrations`` create exactly these; a test compares the two.
Text columns are utf8mb4 with a binary collation on MySQL, so Korean and emoji round-trip
and comparisons match Python's (and SQLite's) exact string equality.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

MYSQL_TABLE_ARGS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

# SQLite only makes a rowid alias of a column typed exactly INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=True),
    Column("nick", String(40), nullable=False),
    Column("password_hash", String(100), nullable=True),
    Column("provider", String(10), nullable=False, server_default="local"),
    Column("sns_id", String(64), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("deleted_at", DateTime, nullable=True),
    # A session remembers the version it logged in under; a password change moves it on,
    # which ends every other session of the account.
    Column("session_version", Integer, nullable=False, server_default="0"),
    UniqueConstraint("email", name="uq_users_email"),
    UniqueConstraint("provider", "sns_id", name="uq_users_provider_sns_id"),
    **MYSQL_TABLE_ARGS,
)

posts = Table(
    "posts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", name="fk_posts_user"), nullable=False),
    Column("content", String(140), nullable=False),
    # The name of the post's picture (``<time>_<random>.<ext>``); one picture, one post.
    Column("img", String(255), nullable=True),
    Column("like_count", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_posts_user_id_id", "user_id", "id"),
    Index("ix_posts_img", "img", unique=True),
    **MYSQL_TABLE_ARGS,
)

hashtags = Table(
    "hashtags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("title", String(140), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("title", name="uq_hashtags_title"),
    **MYSQL_TABLE_ARGS,
)

post_hashtags = Table(
    "post_hashtags",
    metadata,
    Column(
        "hashtag_id", Id, ForeignKey("hashtags.id", name="fk_post_hashtags_hashtag"), nullable=False
    ),
    Column(
        "post_id",
        Id,
        ForeignKey("posts.id", name="fk_post_hashtags_post", ondelete="CASCADE"),
        nullable=False,
    ),
    PrimaryKeyConstraint("hashtag_id", "post_id", name="pk_post_hashtags"),
    Index("ix_post_hashtags_post_id", "post_id"),
    **MYSQL_TABLE_ARGS,
)

follows = Table(
    "follows",
    metadata,
    Column("follower_id", Id, ForeignKey("users.id", name="fk_follows_follower"), nullable=False),
    Column("following_id", Id, ForeignKey("users.id", name="fk_follows_following"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    PrimaryKeyConstraint("follower_id", "following_id", name="pk_follows"),
    Index("ix_follows_following_id_follower_id", "following_id", "follower_id"),
    **MYSQL_TABLE_ARGS,
)

likes = Table(
    "likes",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", name="fk_likes_user"), nullable=False),
    Column(
        "post_id",
        Id,
        ForeignKey("posts.id", name="fk_likes_post", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", DateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "post_id", name="pk_likes"),
    Index("ix_likes_post_id", "post_id"),
    **MYSQL_TABLE_ARGS,
)

comments = Table(
    "comments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "post_id",
        Id,
        ForeignKey("posts.id", name="fk_comments_post", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Id, ForeignKey("users.id", name="fk_comments_user"), nullable=False),
    Column(
        "parent_id",
        Id,
        ForeignKey("comments.id", name="fk_comments_parent", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("content", String(140), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_comments_post_id_id", "post_id", "id"),
    Index("ix_comments_parent_id", "parent_id"),
    **MYSQL_TABLE_ARGS,
)

domains = Table(
    "domains",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", name="fk_domains_user"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("type", String(10), nullable=False, server_default="free"),
    Column("client_secret", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("deleted_at", DateTime, nullable=True),
    UniqueConstraint("client_secret", name="uq_domains_client_secret"),
    Index("ix_domains_user_id", "user_id"),
    Index("ix_domains_host", "host"),
    **MYSQL_TABLE_ARGS,
)

uploads = Table(
    "uploads",
    metadata,
    # Who uploaded which picture: a post may carry only its own author's upload.
    Column("name", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", name="fk_uploads_user"), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_uploads_created_at", "created_at"),
    **MYSQL_TABLE_ARGS,
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_sessions_expires_at", "expires_at"),
    **MYSQL_TABLE_ARGS,
)

# Search (sns/search_index.py): (term, post) pairs walked newest first by term, and for each post
# one row with the empty term whose body holds the post's normalised text for the final
# check. One table, so a new post costs one more INSERT; no second index on post_id (the
# rows to delete are found from the body) and so no foreign key either (InnoDB would add
# that index): PostService.delete removes a post's rows. On SQLite it is a WITHOUT ROWID
# table, one B-tree clustered on its key as on InnoDB.
search_terms = Table(
    "search_terms",
    metadata,
    Column("term", String(8), nullable=False),
    Column("post_id", Id, nullable=False, autoincrement=False),
    Column("body", Text, nullable=True),
    PrimaryKeyConstraint("term", "post_id", name="pk_search_terms"),
    sqlite_with_rowid=False,
    **MYSQL_TABLE_ARGS,
)

# Pictures of a post (#19): up to four, in order, each with its alt text, its size and a small
# blurred placeholder (a blurhash), copied from its upload when the post takes it. A picture
# belongs to one post (unique name). ``posts.img`` keeps the first one's name, the post's
# cover (og:image, older readers). The uploads row says whether thumbnails exist yet.
post_pictures = Table(
    "post_pictures",
    metadata,
    Column(
        "post_id",
        Id,
        ForeignKey("posts.id", name="fk_post_pictures_post", ondelete="CASCADE"),
        nullable=False,
        autoincrement=False,
    ),
    Column("position", Integer, nullable=False, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("alt", String(1500), nullable=False, server_default=""),
    Column("width", Integer, nullable=False, server_default="0"),
    Column("height", Integer, nullable=False, server_default="0"),
    Column("placeholder", String(64), nullable=False, server_default=""),
    PrimaryKeyConstraint("post_id", "position", name="pk_post_pictures"),
    Index("ix_post_pictures_name", "name", unique=True),
    **MYSQL_TABLE_ARGS,
)
for _column in (
    Column("width", Integer, nullable=False, server_default="0"),
    Column("height", Integer, nullable=False, server_default="0"),
    Column("placeholder", String(64), nullable=False, server_default=""),
    # 1 once every thumbnail size is known to exist: pages ask for thumbnails only then.
    Column("thumbnails", Integer, nullable=False, server_default="0"),
):
    uploads.append_column(_column)
