"""Posts and hashtags: writing a post, and the timelines that read them a page at a time."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from sns import text
from sns.db import Database, utcnow
from sns.errors import Invalid
from sns.schema import hashtags, post_hashtags, posts, users


@dataclass(frozen=True)
class PostView:
    """A post as a timeline shows it."""

    id: int
    content: str
    img: str | None
    like_count: int
    created_at: datetime
    author_id: int
    author_nick: str


@dataclass(frozen=True)
class Page:
    """One page of a timeline; ``next_before`` is the cursor of the next page, if any."""

    posts: list[PostView]
    next_before: int | None


def clean_content(content: str) -> str:
    """The text as stored: NFC, `\\r\\n` as `\\n`, trimmed; 1..140 code points or ``Invalid``."""
    content = unicodedata.normalize("NFC", content.replace("\r\n", "\n")).strip()
    if not content:
        raise Invalid("Write something first.", field="content")
    if len(content) > text.POST_MAX_CHARS:
        raise Invalid(
            "A post is at most {max} characters; this one has {count}.",
            field="content",
            max=text.POST_MAX_CHARS,
            count=len(content),
        )
    if text.has_control_chars(content):
        raise Invalid("The post contains control characters.", field="content")
    return content


def _post_columns() -> Select:
    return select(
        posts.c.id,
        posts.c.content,
        posts.c.img,
        posts.c.like_count,
        posts.c.created_at,
        posts.c.user_id.label("author_id"),
        users.c.nick.label("author_nick"),
    )


class PostService:
    def __init__(self, db: Database, page_size: int = 20) -> None:
        self.db = db
        self.page_size = page_size

    async def create(self, user_id: int, content: str, img: str | None = None) -> int:
        """Store the post and link its hashtags, all in one transaction."""
        content = clean_content(content)
        now = utcnow()
        async with self.db.transaction() as conn:
            result = await conn.execute(
                insert(posts).values(
                    user_id=user_id, content=content, img=img, created_at=now, updated_at=now
                )
            )
            post_id = result.inserted_primary_key[0]
            await self._link_hashtags(conn, post_id, text.extract_hashtags(content))
        return post_id

    async def _link_hashtags(self, conn: AsyncConnection, post_id: int, titles: list[str]) -> None:
        if not titles:
            return
        rows = [{"title": title, "created_at": utcnow()} for title in titles]
        if self.db.is_sqlite:
            await conn.execute(sqlite.insert(hashtags).values(rows).on_conflict_do_nothing())
        else:
            stmt = mysql.insert(hashtags).values(rows)
            await conn.execute(stmt.on_duplicate_key_update(title=stmt.inserted.title))
        ids = (
            await conn.execute(select(hashtags.c.id).where(hashtags.c.title.in_(titles)))
        ).scalars()
        await conn.execute(
            insert(post_hashtags), [{"post_id": post_id, "hashtag_id": i} for i in ids]
        )

    async def _page(self, query: Select, key, before: int | None) -> Page:
        if before is not None:
            query = query.where(key < before)
        query = query.order_by(key.desc()).limit(self.page_size + 1)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        views = [PostView(**row._mapping) for row in rows[: self.page_size]]
        has_more = len(rows) > self.page_size
        return Page(views, views[-1].id if has_more and views else None)

    async def timeline(self, before: int | None = None) -> Page:
        """Everyone's posts, newest first."""
        query = (
            _post_columns()
            .join(users, users.c.id == posts.c.user_id)
            .where(users.c.deleted_at.is_(None))
        )
        return await self._page(query, posts.c.id, before)

    async def by_hashtag(self, title: str, before: int | None = None) -> Page:
        """Posts carrying #title (folded as stored), newest first."""
        tag_id = select(hashtags.c.id).where(hashtags.c.title == text.fold_hashtag(title))
        query = (
            _post_columns()
            .select_from(post_hashtags)
            .join(posts, posts.c.id == post_hashtags.c.post_id)
            .join(users, users.c.id == posts.c.user_id)
            .where(post_hashtags.c.hashtag_id == tag_id.scalar_subquery())
            .where(users.c.deleted_at.is_(None))
        )
        return await self._page(query, post_hashtags.c.post_id, before)
