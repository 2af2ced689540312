"""Posts as the API serves them: pages of a chosen size with a cursor, and their JSON shape.

A page costs two queries whatever its size: the posts, keyset-paginated on the same indexes
as the timelines, and their pictures. A post's hashtags are those of its text (the links
are kept equal to them on every write), in the order they appear. Writing goes through
``PostService``, so the content rules are the pages' own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select

from sns import text
from sns.db import Database
from sns.errors import NotFound
from sns.pictures import Chosen, Picture, pictures_of
from sns.post_queries import (
    author_posts,
    hashtag_id,
    hashtag_posts,
    liked_posts,
    newest_first,
    visible_posts,
)
from sns.posts import PostService
from sns.safety_filters import without_hidden
from sns.schema import likes, post_hashtags, posts
from sns.search import SearchService
from sns.times import iso_utc
from sns.visible import shown_post

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

ImageUrls = Callable[[str], tuple[str, str]]
"""An image key -> (thumbnail URL, original URL); the image store provides it."""
AvatarUrl = Callable[[str, bool], str]
"""An avatar's name and whether its sizes exist -> its URL (``ProfileService.url``)."""


@dataclass(frozen=True)
class ApiPost:
    id: int
    content: str
    img: str | None
    like_count: int
    created_at: datetime
    author_id: int
    author_nick: str
    hashtags: tuple[str, ...] = ()
    author_avatar: str | None = None
    author_avatar_ready: bool = False
    pictures: tuple[Picture, ...] = ()


@dataclass(frozen=True)
class ApiPage:
    """Posts newest first; ``next_cursor`` is the ``cursor`` of the next page, if any."""

    posts: list[ApiPost]
    next_cursor: int | None


def api_post(post: Any) -> ApiPost:
    """An ApiPost from anything with the post columns (a row, a PostView); the hashtags come
    from the text, so a page costs no query for them."""
    return ApiPost(
        id=post.id,
        content=post.content,
        img=post.img,
        like_count=post.like_count,
        created_at=post.created_at,
        author_id=post.author_id,
        author_nick=post.author_nick,
        hashtags=tuple(text.extract_hashtags(post.content)),
        author_avatar=post.author_avatar,
        author_avatar_ready=bool(post.author_avatar_ready),
        pictures=tuple(getattr(post, "pictures", ())),
    )


def image_fields(post: ApiPost, image_urls: ImageUrls | None = None) -> dict[str, str | None]:
    """The post's picture as URLs, or nulls when it has none (or no store is wired)."""
    if post.img is None or image_urls is None:
        return {"thumbnailUrl": None, "originalUrl": None}
    thumbnail, original = image_urls(post.img)
    return {"thumbnailUrl": thumbnail, "originalUrl": original}


def picture_fields(post: ApiPost, image_urls: ImageUrls | None = None) -> list[dict[str, Any]]:
    """Every picture of the post, in order, as URLs with its alt text and size."""
    if image_urls is None:
        return []
    shown = []
    for picture in post.pictures:
        thumbnail, original = image_urls(picture.name)
        shown.append(
            {
                "thumbnailUrl": thumbnail,
                "originalUrl": original,
                "alt": picture.alt,
                "width": picture.width or None,
                "height": picture.height or None,
            }
        )
    return shown


def post_payload(
    post: ApiPost, image_urls: ImageUrls | None = None, avatar_url: AvatarUrl | None = None
) -> dict[str, Any]:
    """One post in the API's JSON shape (camelCase, like NodeBird's); ``thumbnailUrl`` and
    ``originalUrl`` are those of the first picture, as before posts had several."""
    avatar = None
    if post.author_avatar and avatar_url is not None:
        avatar = avatar_url(post.author_avatar, post.author_avatar_ready)
    return {
        "id": post.id,
        "content": post.content,
        "likeCount": post.like_count,
        "user": {"id": post.author_id, "nick": post.author_nick, "avatarUrl": avatar},
        "hashtags": list(post.hashtags),
        "createdAt": iso_utc(post.created_at),
        **image_fields(post, image_urls),
        "pictures": picture_fields(post, image_urls),
    }


class ApiPostService:
    """Reads for the API's lists, and writing a post for a site's owner."""

    def __init__(self, db: Database, posts: PostService, search: SearchService) -> None:
        self.db = db
        self.posts = posts
        self.search_service = search

    async def search(
        self, query: str, limit: int, before: int | None, reader: int | None = None
    ) -> ApiPage:
        """Posts holding every word of ``query``, newest first (the /search page's rules),
        less what ``reader`` must not see (blocks, mutes, muted words)."""
        page = await self.search_service.search(
            query, before=before, limit=limit, hidden_for=reader
        )
        found = [api_post(post) for post in page.posts]
        return ApiPage(found, page.next_before)

    async def by_author(self, author_id: int, limit: int, before: int | None) -> ApiPage:
        """The author's posts, newest first."""
        return await self._page(author_posts(author_id), posts.c.id, limit, before)

    async def liked_by(self, user_id: int, limit: int, before: int | None) -> ApiPage:
        """Posts the user liked, newest post first (none across a block, muted or not)."""
        return await self._page(
            without_hidden(liked_posts(user_id), user_id), likes.c.post_id, limit, before
        )

    async def by_hashtag(
        self, title: str, limit: int, before: int | None, reader: int | None = None
    ) -> ApiPage:
        """Posts carrying #title, less what ``reader`` must not see; a tag nobody ever
        used is ``NotFound``."""
        folded = text.fold_hashtag(title.strip().lstrip("#"))
        tag_id = None
        if folded and len(folded) <= text.HASHTAG_MAX_CHARS:
            async with self.db.read() as conn:
                tag_id = (await conn.execute(hashtag_id(folded))).scalar()
        if tag_id is None:
            raise NotFound("There is no such hashtag.")
        return await self._page(
            without_hidden(hashtag_posts(tag_id), reader), post_hashtags.c.post_id, limit, before
        )

    async def create(self, user_id: int, content: str, pictures: Sequence[Chosen] = ()) -> ApiPost:
        """A post by ``user_id`` with pictures uploaded through the API, under the same
        rules as the compose form."""
        post_id = await self.posts.create(user_id, content, pictures=pictures)
        page = await self._page(visible_posts().where(posts.c.id == post_id), posts.c.id, 1, None)
        if not page.posts:
            raise NotFound("There is no such post.")
        return page.posts[0]

    async def _page(
        self, query: Select[Any], key: ColumnElement[int], limit: int, before: int | None
    ) -> ApiPage:
        # The API cannot mark a post as hidden by moderators: it shows none, to anyone.
        query = query.where(shown_post(None))
        async with self.db.read() as conn:
            rows = (await conn.execute(newest_first(query, key, before, limit))).all()
            has_more = len(rows) > limit
            rows = rows[:limit]
            pictures = await pictures_of(conn, [row.id for row in rows])
        found = [replace(api_post(row), pictures=pictures.get(row.id, ())) for row in rows]
        return ApiPage(found, found[-1].id if has_more and found else None)
