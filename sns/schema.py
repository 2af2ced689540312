"""The logical model of DESIGN.md as SQLAlchemy Core tables.

The migrations in ``sns/migrations`` create exactly these; a test compares the two.
Text columns are utf8mb4 with a binary collation on MySQL, so Korean and emoji round-trip
and comparisons match Python's (and SQLite's) exact string equality.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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

# -- Moderation (#21): reports, moderators, hidden content, suspended accounts, audit log --
# Columns on the tables above are appended here, in one block, so that they read together.
# ``users.moderator`` is the role (1: may use /admin); ``suspended_at`` set: the account can
# neither log in nor use the API, and it is shown nowhere (``sns.visible.LIVE_USER``). A post
# or comment with ``hidden_at`` set is shown to its author only (``sns.visible.shown_post``).
# ``sessions.user_id`` lets a suspension delete every SQL session of the account at once.
users.append_column(Column("moderator", Integer, nullable=False, server_default="0"))
users.append_column(Column("suspended_at", DateTime, nullable=True))
posts.append_column(Column("hidden_at", DateTime, nullable=True))
posts.append_column(Column("hidden_by", Id, nullable=True))
comments.append_column(Column("hidden_at", DateTime, nullable=True))
comments.append_column(Column("hidden_by", Id, nullable=True))
sessions.append_column(Column("user_id", Id, nullable=True))
Index("ix_sessions_user_id", sessions.c.user_id)

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("reporter_id", Id, ForeignKey("users.id", name="fk_reports_reporter"), nullable=False),
    # post | comment | user, and that row's id (a deleted post's report keeps its id).
    Column("target_kind", String(10), nullable=False),
    Column("target_id", Id, nullable=False),
    # The person the report is about (the author of a post or comment): their history.
    Column("target_user_id", Id, nullable=False),
    Column("reason", String(10), nullable=False),
    Column("note", String(1000), nullable=True),
    Column("status", String(10), nullable=False, server_default="open"),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("resolved_by", Id, nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    UniqueConstraint("reporter_id", "target_kind", "target_id", name="uq_reports_reporter_target"),
    Index("ix_reports_status_id", "status", "id"),
    Index("ix_reports_target", "target_kind", "target_id"),
    Index("ix_reports_target_user_id", "target_user_id", "id"),
    **MYSQL_TABLE_ARGS,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # None: done from the command line (`run.py admin ...`), not by a moderator on /admin.
    Column("moderator_id", Id, nullable=True),
    Column("action", String(20), nullable=False),
    Column("target_kind", String(10), nullable=False),
    Column("target_id", Id, nullable=False),
    Column("target_user_id", Id, nullable=True),
    Column("report_id", Id, nullable=True),
    Column("reason", String(1000), nullable=False),
    # What the content said when the action was taken (a deleted post's text stays here).
    Column("summary", String(300), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_audit_log_target_user_id", "target_user_id", "id"),
    **MYSQL_TABLE_ARGS,
)
# Profiles (#19): a person's face and words. ``avatar`` is the picture name of the avatar
# (``avatar/original/<name>`` and ``avatar/<size>/<name>`` in the image store), null without
# one; ``avatar_ready`` says its sizes exist, so that no page asks for one before (until
# then pages show the original square).
users.append_column(Column("avatar", String(64), nullable=True))
users.append_column(Column("avatar_ready", Boolean, nullable=False, server_default="0"))
users.append_column(Column("bio", String(160), nullable=True))
Index("ix_users_avatar", users.c.avatar, unique=True)
# Live events (#20, sns/live.py): on the embedded default, the processes serving one SQLite
# file learn of new posts and unread counts from this table, each reading the rows past the
# last it saw; only the newest rows are kept. AUTOINCREMENT: an id is never handed out
# twice, even once the rows before it are pruned.
live_events = Table(
    "live_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    sqlite_autoincrement=True,
    **MYSQL_TABLE_ARGS,
)

# -- Handles and notifications (#20) ------------------------------------------------------
# A person's handle (``@name``) as typed, and its case-folded form under a unique index: the
# one that lookups, mentions and the uniqueness rule use. Null only on a deleted account,
# which gives its handle back.
users.append_column(Column("handle", String(20), nullable=True))
users.append_column(Column("handle_key", String(80), nullable=True))
Index("uq_users_handle_key", users.c.handle_key, unique=True)

# One row per notification a person sees: a follow or a like is a group that later actors
# join while it is unread (``open_key`` names the open group, unique per recipient); every
# other kind is a group of one. ``seq`` is the id of the group's newest actor row: the
# order of the list (newest first, keyset-paged on (user_id, seq)), unique because each
# actor row belongs to one group. ``unread`` under an index with the recipient: the
# header's count is one index range.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", name="fk_notifications_user"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column(
        "post_id",
        Id,
        ForeignKey("posts.id", name="fk_notifications_post", ondelete="CASCADE"),
        nullable=True,
    ),
    Column(
        "comment_id",
        Id,
        ForeignKey("comments.id", name="fk_notifications_comment", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("actor_id", Id, ForeignKey("users.id", name="fk_notifications_actor"), nullable=False),
    Column("actor_count", Integer, nullable=False, server_default="1"),
    Column("seq", BigInteger, nullable=False),
    Column("read_seq", BigInteger, nullable=False, server_default="0"),
    Column("unread", Integer, nullable=False, server_default="1"),
    Column("open_key", String(40), nullable=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_notifications_user_id_seq", "user_id", "seq"),
    Index("ix_notifications_user_id_unread", "user_id", "unread"),
    Index("uq_notifications_user_id_open_key", "user_id", "open_key", unique=True),
    Index("ix_notifications_post_id", "post_id"),
    Index("ix_notifications_comment_id", "comment_id"),
    Index("ix_notifications_actor_id", "actor_id"),
    **MYSQL_TABLE_ARGS,
)

# Who is in each notification: one row per actor (a like's likers), newest last; the id
# is what orders the list (``notifications.seq``).
notification_actors = Table(
    "notification_actors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "notification_id",
        Id,
        ForeignKey(
            "notifications.id", name="fk_notification_actors_notification", ondelete="CASCADE"
        ),
        nullable=False,
    ),
    Column(
        "actor_id", Id, ForeignKey("users.id", name="fk_notification_actors_actor"), nullable=False
    ),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("notification_id", "actor_id", name="uq_notification_actors"),
    Index("ix_notification_actors_actor_id", "actor_id"),
    **MYSQL_TABLE_ARGS,
)
# Safety (sns/safety.py; the filters in sns/safety_filters.py): blocks, mutes and muted
# words. Every list of posts filters them with a NOT EXISTS on a primary key or index (one
# probe per post shown), never a NOT IN of ids.
blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", Id, ForeignKey("users.id", name="fk_blocks_blocker"), nullable=False),
    Column("blocked_id", Id, ForeignKey("users.id", name="fk_blocks_blocked"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    PrimaryKeyConstraint("blocker_id", "blocked_id", name="pk_blocks"),
    Index("ix_blocks_blocked_id_blocker_id", "blocked_id", "blocker_id"),
    **MYSQL_TABLE_ARGS,
)

mutes = Table(
    "mutes",
    metadata,
    Column("muter_id", Id, ForeignKey("users.id", name="fk_mutes_muter"), nullable=False),
    Column("muted_id", Id, ForeignKey("users.id", name="fk_mutes_muted"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # When the mute ends (UTC); NULL: until unmuted.
    Column("until", DateTime, nullable=True),
    PrimaryKeyConstraint("muter_id", "muted_id", name="pk_mutes"),
    **MYSQL_TABLE_ARGS,
)

# A muted word as typed, its folded form (the search index's runs joined by spaces), the one
# index term a post holding it must have (``term``) and the LIKE pattern its stored body must
# match (``pattern``). A post is hidden by walking its own terms (ix_search_terms_post_id_term)
# into the reader's (user_id, term) index: a probe per term of the post, however many words.
muted_words = Table(
    "muted_words",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", name="fk_muted_words_user"), nullable=False),
    Column("folded", String(150), nullable=False),
    Column("word", String(100), nullable=False),
    Column("term", String(8), nullable=False),
    Column("pattern", String(160), nullable=False),
    Column("created_at", DateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "folded", name="pk_muted_words"),
    Index("ix_muted_words_user_id_term", "user_id", "term"),
    **MYSQL_TABLE_ARGS,
)

Index("ix_search_terms_post_id_term", search_terms.c.post_id, search_terms.c.term)
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
