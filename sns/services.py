"""The shared objects of one process: database, backends and services, built once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sns.accounts import AccountService
from sns.db import Database
from sns.posts import PostService
from sns.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from sns.sessions import RedisSessionStore, SessionStore, SqlSessionStore
from sns.settings import Settings
from sns.social import SocialService


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: Any | None
    sessions: SessionStore
    limiter: RateLimiter
    accounts: AccountService
    posts: PostService
    social: SocialService

    @property
    def session_backend(self) -> str:
        return "redis" if self.redis is not None else "sql"

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


async def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Connect the configured backends (SQLite + SQL sessions unless told otherwise)."""
    db = Database(settings.sql_url)
    if migrate:
        await db.migrate()
    redis = None
    sessions: SessionStore
    limiter: RateLimiter
    if settings.redis_url:
        import redis.asyncio as redis_asyncio

        redis = redis_asyncio.from_url(settings.redis_url, decode_responses=True)
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
    posts = PostService(db, page_size=settings.page_size)
    social = SocialService(db)
    return Services(settings, db, redis, sessions, limiter, accounts, posts, social)
