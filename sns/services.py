"""The shared objects of one process: database, backends and services, built once.

``build_services`` is the only place that makes them; handlers reach them through
``BaseHandler``'s read-only properties, never through ad-hoc Application settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from sns.accounts import AccountService
from sns.comments import CommentService
from sns.db import Database
from sns.follows import FollowService
from sns.kakao import KakaoLogin
from sns.likes import LikeService
from sns.posts import PostService
from sns.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from sns.search import SearchIndex, SearchService
from sns.sessions import RedisSessionStore, SessionStore, SqlSessionStore
from sns.settings import Settings


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
    kakao: KakaoLogin | None
    search: SearchService
    """Kakao login, or None when it is not configured (its pages then answer 404)."""

    @property
    def session_backend(self) -> str:
        return "redis" if self.redis is not None else "sql"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


async def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Connect the configured backends (SQLite + SQL sessions unless told otherwise)."""
    db = Database(
        settings.sql_url,
        connect_timeout=settings.db_connect_timeout,
        query_timeout=settings.db_query_timeout,
        pool_timeout=settings.db_pool_timeout,
    )
    if migrate:
        await db.migrate()
    redis: Redis | None = None
    sessions: SessionStore
    limiter: RateLimiter
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_connect_timeout=settings.redis_timeout,
            socket_timeout=settings.redis_timeout,
            health_check_interval=30,
        )
        sessions = RedisSessionStore(redis, settings.session_ttl)
        limiter = RedisRateLimiter(redis)
    else:
        sessions = SqlSessionStore(db, settings.session_ttl)
        limiter = MemoryRateLimiter()
    accounts = AccountService(
        db,
        limiter,
        bcrypt_rounds=settings.bcrypt_rounds,
        bcrypt_concurrency=settings.bcrypt_concurrency,
        bcrypt_wait=settings.bcrypt_wait,
        max_failures=settings.login_max_failures,
        max_failures_ip=settings.login_max_failures_ip,
        failure_window=settings.login_failure_window,
    )
    comments = CommentService(db)
    likes = LikeService(db)
    follows = FollowService(db)
    post_service = PostService(
        db,
        comments=comments,
        likes=likes,
        follows=follows,
        page_size=settings.page_size,
        search_index=SearchIndex(),
    )
    return Services(
        settings=settings,
        db=db,
        redis=redis,
        sessions=sessions,
        limiter=limiter,
        accounts=accounts,
        posts=post_service,
        comments=comments,
        likes=likes,
        follows=follows,
        kakao=KakaoLogin.from_settings(settings, db, accounts),
        search=SearchService(db, posts=post_service),
    )
