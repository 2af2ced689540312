"""The shared objects of one process: database, backends and services, built once.

``build_services`` is the only place that makes them; handlers reach them through
``BaseHandler``'s read-only properties, never through ad-hoc Application settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from sns.accounts import AccountService, User
from sns.api_clients import ApiClientService
from sns.api_posts import ApiPostService
from sns.changes import ChangeAwareCache, ChangeLog, changes_of
from sns.comments import CommentService
from sns.db import Database
from sns.floods import FloodLimits, default_rules
from sns.follows import FollowService
from sns.fragments import FragmentCache
from sns.image_stores import build_image_store
from sns.images import ImageService, build_image_service
from sns.kakao import KakaoLogin
from sns.likes import LikeService
from sns.live import LiveHub, choose_bus
from sns.metrics import Metrics, build_metrics
from sns.moderation import ModerationService
from sns.notifications import NotificationService
from sns.orphans import OrphanSweep
from sns.pagecache import (
    KeptPage,
    NoSiteVersion,
    ProcessSiteVersion,
    ReaderPage,
    SiteVersion,
    SqliteSiteVersion,
    VersionedCache,
    entry_size,
)
from sns.posts import PostService
from sns.profiles import ProfileService
from sns.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from sns.reader_versions import CHANGED, ReaderCache, RedisReaderVersions, WriteWatch
from sns.redis_store import POOL_MAX, RedisKeys, pool_size
from sns.redis_store import connect as connect_redis
from sns.redis_versions import RedisSiteVersion
from sns.safety import SafetyService
from sns.search import SearchService
from sns.search_index import SearchIndex
from sns.sessions import RedisSessionStore, SessionStore, SqlSessionStore
from sns.settings import Settings
from sns.shared_reads import SHARED_ENTRIES, forget_version

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    db: Database
    redis: Redis | None
    sessions: SessionStore
    limiter: RateLimiter
    accounts: AccountService
    posts: PostService
    comments: CommentService
    likes: LikeService
    follows: FollowService
    notifications: NotificationService
    """Made in each action's transaction; its ``on_unread_change`` is the live hub's way in."""
    images: ImageService
    profiles: ProfileService
    orphans: OrphanSweep
    kakao: KakaoLogin | None
    search: SearchService
    """Kakao login, or None when it is not configured (its pages then answer 404)."""
    api_clients: ApiClientService
    api_posts: ApiPostService
    site_version: SiteVersion
    pages: VersionedCache[KeptPage | ReaderPage] | ChangeAwareCache[KeptPage | ReaderPage]
    """Pages and API answers drawn in this process, kept until the site version moves or,
    with Redis, until what they show changes (``handlers.cache`` is their one user)."""
    changes: ChangeLog | None
    """What each write changed, learnt once per site version (``sns.changes``); None: pages
    are kept under the site version alone."""
    known_users: VersionedCache[User]
    readers: ReaderCache[Any]
    """Each reader's own row, counts and hearts, kept under their reader version (with
    Redis: ``sns.reader_versions``; unused without, where they stay under the site version)."""
    reader_versions: RedisReaderVersions | None
    drawing: dict[tuple[object, ...], asyncio.Future[None]]
    """Shared pages being drawn now, by version and key: others wait for them
    (``handlers.cache.CachingHandler._after_drawing``)."""
    known_unread: VersionedCache[int]
    """Each reader's unread notifications, for the header's badge (#20, #22): a count moves
    only by a commit, which moves the site version, so a kept page costs no query for it."""
    """Users read in this process, kept like pages: a session costs no user lookup."""
    fragments: FragmentCache
    """Posts drawn for every reader, kept by what they are drawn from (``sns.fragments``;
    ``handlers.fragments`` is their one user)."""
    metrics: Metrics
    """What this process counts for ``/metrics`` (nothing when metrics are off)."""
    moderation: ModerationService
    """Reports, moderators, suspensions and the audit log (#21)."""
    floods: FloodLimits
    """Sign-ups per address, posts, comments and reports per account (#21)."""
    live: LiveHub
    """This process's live sockets; ``live.publish_user(uid, message)`` reaches every
    socket of a person on any process or node."""
    safety: SafetyService
    """Blocks, mutes and muted words (``sns.safety``)."""

    @property
    def session_backend(self) -> str:
        return "redis" if self.redis is not None else "sql"

    async def close(self) -> None:
        await self.live.close()
        if isinstance(self.site_version, SqliteSiteVersion):
            self.site_version.close()
        await self.profiles.close()
        await self.images.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


async def build_services(
    settings: Settings, *, migrate: bool = True, connection_cap: int = POOL_MAX
) -> Services:
    """Connect the configured backends (SQLite + SQL sessions unless told otherwise).

    ``migrate``: bring the schema to head (``SNS_MIGRATE=auto``) or check that it is there
    (``check``); off for tools that work on a database as they find it.
    ``connection_cap``: the most HTTP connections this process serves at once, which
    sizes its Redis pool (``sns.redis_store.pool_size``).
    """
    metrics = build_metrics(settings.metrics_directory)
    db = Database(
        settings.sql_url,
        connect_timeout=settings.db_connect_timeout,
        query_timeout=settings.db_query_timeout,
        pool_timeout=settings.db_pool_timeout,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        metrics=metrics,
    )
    try:
        if migrate and settings.migrate == "auto":
            await db.migrate()
        elif migrate:
            await db.check_at_head()
    except BaseException:
        await db.dispose()
        raise
    redis: Redis | None = None
    keys = RedisKeys(settings.redis_prefix)
    sessions: SessionStore
    limiter: RateLimiter
    if settings.redis_url:
        redis = connect_redis(
            settings.redis_url,
            timeout=settings.redis_timeout,
            max_connections=pool_size(connection_cap),
        )
        sessions = RedisSessionStore(redis, settings.session_ttl, keys)
        limiter = RedisRateLimiter(redis, keys)
    else:
        # Kept like users (below): a logged-in page reads no session row while nothing
        # changes (#22).
        kept_sessions: VersionedCache[Any] = VersionedCache(
            10_000 if settings.page_cache_bytes > 0 else 0, settings.page_cache_ttl
        )
        sessions = SqlSessionStore(db, settings.session_ttl, kept_sessions)
        limiter = MemoryRateLimiter()
    notifications = NotificationService(db, page_size=settings.page_size)
    accounts = AccountService(
        db,
        limiter,
        bcrypt_rounds=settings.bcrypt_rounds,
        bcrypt_concurrency=settings.bcrypt_concurrency,
        bcrypt_wait=settings.bcrypt_wait,
        max_failures=settings.login_max_failures,
        max_failures_ip=settings.login_max_failures_ip,
        failure_window=settings.login_failure_window,
        metrics=metrics,
        notifications=notifications,
    )
    comments = CommentService(db, notifications)
    likes = LikeService(db, notifications)
    follows = FollowService(db, notifications)
    image_store = build_image_store(settings)
    images = build_image_service(settings, db, image_store, limiter, metrics)
    posts = PostService(
        db,
        comments=comments,
        likes=likes,
        follows=follows,
        page_size=settings.page_size,
        images=images,
        search_index=SearchIndex(),
        notifications=notifications,
    )
    search = SearchService(db, posts=posts)
    site_version = choose_site_version(db, redis, keys)
    keep = settings.page_cache_bytes > 0
    ttl = settings.page_cache_ttl
    # Every per-process cache, each emptied when the site version moves: answers drawn
    # (pages and the API's lists, one budget), and rows read (users, sites and origins);
    # with Redis, a page lives until what it shows changes (``sns.changes``).
    changes = (
        ChangeLog(site_version.redis, keys) if isinstance(site_version, RedisSiteVersion) else None
    )
    pages: VersionedCache[KeptPage | ReaderPage] | ChangeAwareCache[KeptPage | ReaderPage]
    if changes is not None and keep:
        db.after_commit_changes.append(changes.bump)  # the site version, with the changes
        pages = ChangeAwareCache(changes, settings.page_cache_bytes, ttl, len, entry_size)
    else:
        changes = None
        db.after_commit.append(site_version.bump)
        pages = VersionedCache(settings.page_cache_bytes, ttl, size=len, key_size=entry_size)
    db.after_commit.append(forget_version)
    known_users: VersionedCache[User] = VersionedCache(10_000 if keep else 0, ttl)
    known_unread: VersionedCache[int] = VersionedCache(10_000 if keep else 0, ttl)
    known_sites: VersionedCache[Any] = VersionedCache(10_000 if keep else 0, ttl=60)
    posts.shared = (
        ChangeAwareCache(changes, SHARED_ENTRIES, ttl, size=_shared_size)
        if changes is not None
        else VersionedCache(SHARED_ENTRIES if keep else 0, ttl)
    )
    readers: ReaderCache[Any] = ReaderCache(3 * 10_000 if keep else 0, ttl)
    posts.readers = readers
    reader_versions = None
    if redis is not None and keep:
        # Who each write touched, read off its statements; moved on after its commit.
        reader_versions = RedisReaderVersions(redis, keys)
        watch = WriteWatch(*([(CHANGED, changes_of)] if changes is not None else []))
        event.listen(db.engine.sync_engine, "before_execute", watch.before_execute)
        db.after_commit_readers.append(reader_versions.bump)
        notifications.on_readers_change = reader_versions.bump
    live = LiveHub(
        choose_bus(
            settings.live_bus,
            db=db,
            redis=redis,
            redis_url=settings.redis_url,
            channel=keys.name("live"),
            timeout=settings.redis_timeout,
            several_processes=settings.several_processes,
        ),
        per_user=settings.live_per_user,
        max_sockets=settings.live_max,
    )
    await live.start()
    posts.after_create.append(live.post_created)

    async def push_unread(user_id: int, count: int) -> None:
        await live.publish_user(user_id, {"type": "unread", "count": count})

    notifications.on_unread_change = push_unread  # the header's count, live on every page
    return Services(
        settings=settings,
        db=db,
        redis=redis,
        sessions=sessions,
        limiter=limiter,
        accounts=accounts,
        posts=posts,
        comments=comments,
        likes=likes,
        follows=follows,
        notifications=notifications,
        images=images,
        profiles=ProfileService(db, images),
        orphans=OrphanSweep(db, image_store, orphan_age=timedelta(hours=settings.orphan_hours)),
        kakao=KakaoLogin.from_settings(settings, db, accounts),
        api_clients=ApiClientService(
            db,
            limiter,
            jwt_secret=settings.jwt_secret,
            rate_free=settings.rate_free,
            rate_premium=settings.rate_premium,
            rate_anonymous=settings.rate_anonymous,
            known=known_sites,
        ),
        api_posts=ApiPostService(db, posts, search),
        search=search,
        site_version=site_version,
        pages=pages,
        changes=changes,
        known_users=known_users,
        readers=readers,
        drawing={},
        reader_versions=reader_versions,
        known_unread=known_unread,
        fragments=FragmentCache(settings.fragment_cache_bytes),
        metrics=metrics,
        moderation=ModerationService(db, posts=posts, sessions=sessions),
        floods=FloodLimits(
            limiter,
            default_rules(
                signups=settings.signups_per_address,
                signup_window=settings.signup_window,
                posts=settings.posts_per_window,
                comments=settings.comments_per_window,
                write_window=settings.write_window,
                reports=settings.reports_per_hour,
            ),
            signup_exempt=settings.signup_exempt,
        ),
        live=live,
        safety=SafetyService(db),
    )


def _shared_size(value: Any) -> int:
    """A shared list's rows count a post each, as each post's decoration does: kept across
    writes (``sns.changes``), they are bounded by the posts they hold, not by entries."""
    return len(value) if isinstance(value, tuple) else 1


def choose_site_version(db: Database, redis: Redis | None, keys: RedisKeys) -> SiteVersion:
    """SQLite's own change counter for a file (it sees every writer, even a SQL shell);
    else a counter in Redis; MySQL without Redis has nothing all nodes see: no caching."""
    if db.is_sqlite:
        path = db.url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            return SqliteSiteVersion(path)
        return ProcessSiteVersion()
    if redis is not None:
        return RedisSiteVersion(redis, keys)
    return NoSiteVersion()
