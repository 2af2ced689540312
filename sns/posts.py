"""Posts and hashtags: writing, editing and deleting posts; the timelines that read them
are ``sns.post_pages`` (``PostPages``, which ``PostService`` is)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sns import text
from sns.async_sql import AsyncConnection
from sns.comments import CommentService
from sns.db import Database, new_id, utcnow
from sns.errors import Forbidden, Invalid, NotFound
from sns.follows import FollowService
from sns.handles import resolve_mentions
from sns.images import ImageService
from sns.likes import LikeService
from sns.notifications import NotificationService
from sns.pictures import Chosen, check_choice, pictures_of
from sns.post_pages import PostPages
from sns.post_queries import (
    visible_posts,
)
from sns.post_views import PostView
from sns.safety_filters import author_hidden
from sns.schema import hashtags, post_hashtags, post_pictures, posts
from sns.search_index import SearchIndex
from sns.text import clean_content
from sns.visible import lock_visible_post, shown_post

PICTURE_TAKEN = "This picture is already in a post; upload it again for a new one."


class Keep:
    """The type of ``KEEP``: an edit that leaves the post's pictures as they are."""


KEEP = Keep()


def hashtags_of_post(content: str) -> list[str]:
    """The folded hashtags of a post's text, each of which fits ``hashtags.title``.

    Case folding can lengthen a tag ("ß" becomes "ss", "ﬃ" "ffi"), so a tag typed within
    140 characters can outgrow the column: MariaDB refused it (a 500) or, next to another
    tag, cut it and left it unlinked, while SQLite kept it whole (#12). Such a post is
    refused with a message on both.
    """
    tags = text.extract_hashtags(content)
    for tag in tags:
        if len(tag) > text.HASHTAG_MAX_CHARS:
            raise Invalid(
                "A hashtag can have at most {max} characters once in lower case "
                "(ß counts as ss); one here has {count}.",
                field="content",
                max=text.HASHTAG_MAX_CHARS,
                count=len(tag),
            )
    return tags


def edit_time(created_at: datetime) -> datetime:
    """When an edit is stored: now, yet always after the post's own time, so that
    ``updated_at > created_at`` marks it as edited even within the second the post was
    written (both databases keep whole seconds) or on a node whose clock runs behind."""
    return max(utcnow(), created_at + timedelta(seconds=1))


class PostService(PostPages):
    """Posts: writing, editing and deleting them, and one post as its page shows it; the
    timelines come from ``PostPages``."""

    def __init__(
        self,
        db: Database,
        *,
        comments: CommentService,
        likes: LikeService,
        follows: FollowService,
        page_size: int = 20,
        images: ImageService | None = None,
        search_index: SearchIndex | None = None,
        notifications: NotificationService | None = None,
    ) -> None:
        self.db = db
        self.notifications = notifications
        # The search index is kept in each post's own transaction; None only in the
        # benchmark that measures writing without it.
        self.search_index = search_index
        self.comments = comments
        self.likes = likes
        self.follows = follows
        self.page_size = page_size
        self.images = images
        # Called with (post id, author id, hashtags) once a new post is committed: the live
        # pages' "N new posts" (sns/live.py, wired in build_services).
        self.after_create: list[Callable[[int, int, list[str]], Awaitable[None]]] = []

    async def create(
        self,
        user_id: int,
        content: str,
        img: str | None = None,
        *,
        pictures: Sequence[Chosen] = (),
    ) -> int:
        """Store the post with its pictures and link its hashtags, all in one transaction.

        ``pictures`` (or the one ``img``) are names of pictures the same user uploaded and
        no post carries yet, each with its alt text; at most four.
        """
        content = clean_content(content)
        tags = hashtags_of_post(content)
        chosen = check_choice([Chosen(img)] if img is not None and not pictures else pictures)
        now = utcnow()
        changed: set[int] = set()
        async with self.db.transaction() as conn:
            try:
                result = await conn.execute(
                    insert(posts).values(
                        user_id=user_id, content=content, created_at=now, updated_at=now
                    )
                )
                post_id = new_id(result)
                if chosen:
                    await self._set_pictures(conn, user_id, post_id, chosen)
            except IntegrityError:
                raise Invalid(PICTURE_TAKEN, field="url") from None
            await self._link_hashtags(conn, post_id, tags)
            if self.search_index is not None:
                await self.search_index.add(conn, post_id, content)
            changed = await self._mentions(conn, user_id, post_id, content, new=True)
        await self.announce(changed)
        for hook in self.after_create:
            await hook(post_id, user_id, tags)
        return post_id

    async def _mentions(
        self, conn: AsyncConnection, user_id: int, post_id: int, content: str, new: bool = False
    ) -> set[int]:
        """Tell the people the post mentions; after an edit, take back the mentions it
        lost (those it kept are not told again)."""
        if self.notifications is None:
            return set()
        mentioned = await resolve_mentions(conn, content)
        if new and not mentioned:
            return set()
        return await self.notifications.set_mentions(
            conn, actor_id=user_id, post_id=post_id, comment_id=None, mentioned=mentioned
        )

    async def announce(self, changed: set[int]) -> None:
        """Push the unread counts of these people (after the transaction that moved them
        committed: this service's own, or a moderator's deletion)."""
        if self.notifications is not None:
            await self.notifications.announce(changed)

    async def _set_pictures(
        self, conn: AsyncConnection, user_id: int, post_id: int, chosen: list[Chosen]
    ) -> list[str]:
        """Make the post's pictures ``chosen``, in order; new ones must be the author's
        uploads in no other post. Returns the names that left the post (their uploads rows
        are gone; the caller removes their objects once the transaction is stored)."""
        held = {
            row.name: row
            for row in await conn.execute(
                select(post_pictures).where(post_pictures.c.post_id == post_id)
            )
        }
        rows = []
        for position, choice in enumerate(chosen):
            old = held.get(choice.name)
            if old is not None:
                sizes = (old.width, old.height, old.placeholder)
            else:
                if self.images is None:
                    raise Invalid("Pictures are not taken here.", field="url")
                picture = await self.images.claim(conn, user_id, choice.name)
                holder = (
                    await conn.execute(
                        select(post_pictures.c.post_id).where(post_pictures.c.name == choice.name)
                    )
                ).scalar()
                if holder is not None:
                    raise Invalid(PICTURE_TAKEN, field="url")
                sizes = (picture.width, picture.height, picture.placeholder)
            rows.append(
                {
                    "post_id": post_id,
                    "position": position,
                    "name": choice.name,
                    "alt": choice.alt,
                    "width": sizes[0],
                    "height": sizes[1],
                    "placeholder": sizes[2],
                }
            )
        if held:
            await conn.execute(delete(post_pictures).where(post_pictures.c.post_id == post_id))
        if rows:
            await conn.execute(insert(post_pictures), rows)
        gone = [name for name in held if name not in {choice.name for choice in chosen}]
        if self.images is not None:
            for name in gone:
                await self.images.forget(conn, name)
        cover = chosen[0].name if chosen else None
        await conn.execute(update(posts).where(posts.c.id == post_id).values(img=cover))
        return gone

    async def _link_hashtags(self, conn: AsyncConnection, post_id: int, titles: list[str]) -> None:
        if not titles:
            return
        now = utcnow()
        await conn.execute(
            self.db.insert_ignore(hashtags), [{"title": t, "created_at": now} for t in titles]
        )
        ids = (
            await conn.execute(select(hashtags.c.id).where(hashtags.c.title.in_(titles)))
        ).scalars()
        await conn.execute(
            insert(post_hashtags), [{"post_id": post_id, "hashtag_id": i} for i in ids]
        )

    async def get(self, post_id: int, viewer_id: int | None = None) -> PostView:
        """One post shown to ``viewer_id``, with its pictures, or ``NotFound``."""
        async with self.db.read() as conn:
            query = visible_posts().where(posts.c.id == post_id, shown_post(viewer_id))
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFound("There is no such post.")
            found = await pictures_of(conn, [post_id])
        return PostView(**row._mapping, pictures=found.get(post_id, ()))

    async def view(self, post_id: int, viewer_id: int | None = None) -> PostView:
        """One visible post with all its comments and what the reader needs to act on it.

        Across a block (either way) the post is not there: a 404, as for a deleted one."""
        query = visible_posts().where(posts.c.id == post_id, shown_post(viewer_id))
        if viewer_id is not None:
            query = query.where(
                *author_hidden(viewer_id, posts.c.user_id, utcnow(), mutes_too=False)
            )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFound("There is no such post.")
            (view,) = await self._decorate(
                conn, [PostView(**row._mapping)], viewer_id, every_comment=True
            )
        return view

    async def get_own(self, user_id: int, post_id: int) -> PostView:
        """The post if ``user_id`` wrote it; someone else's is ``Forbidden``."""
        post = await self.get(post_id, user_id)
        if post.author_id != user_id:
            raise Forbidden("Only the author can change this post.")
        return post

    async def update(
        self,
        user_id: int,
        post_id: int,
        content: str,
        img: str | Keep | Sequence[Chosen] | None = KEEP,
    ) -> None:
        """New text for one's own post; its hashtags are replaced to match.

        ``img``: ``KEEP`` leaves the pictures, None (or none) removes them, a name or a
        list of ``Chosen`` replaces them (kept ones keep their objects, with new alt
        texts and order). A picture that leaves the post is deleted from the store once
        the change is stored.
        """
        content = clean_content(content)
        tags = hashtags_of_post(content)
        chosen: list[Chosen] | None = None
        if img is None:
            chosen = []
        elif isinstance(img, str):
            chosen = check_choice([Chosen(img)])
        elif not isinstance(img, Keep):
            chosen = check_choice(img)
        replaced: list[str] = []
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> None:
            replaced.clear()
            changed.clear()
            await self._lock_own(conn, user_id, post_id)
            stored = (
                await conn.execute(select(posts.c.created_at).where(posts.c.id == post_id))
            ).one()
            values: dict[str, Any] = {
                "content": content,
                "updated_at": edit_time(stored.created_at),
            }
            try:
                if chosen is not None:
                    replaced.extend(await self._set_pictures(conn, user_id, post_id, chosen))
                await conn.execute(update(posts).where(posts.c.id == post_id).values(**values))
            except IntegrityError:
                raise Invalid(PICTURE_TAKEN, field="url") from None
            await conn.execute(delete(post_hashtags).where(post_hashtags.c.post_id == post_id))
            await self._link_hashtags(conn, post_id, tags)
            if self.search_index is not None:
                await self.search_index.replace(conn, post_id, content)
            changed.update(await self._mentions(conn, user_id, post_id, content))

        await self.db.write(work)
        await self.announce(changed)
        await self.discard(replaced)

    async def discard(self, names: list[str]) -> None:
        """Delete pictures that left their post, after the change was stored."""
        if self.images is not None:
            for name in names:
                await self.images.discard(name)

    async def delete(self, user_id: int, post_id: int) -> None:
        """Delete one's own post with its comments, replies, likes and hashtag links.

        The post row is locked first, so a like, comment or reply on it either finishes
        before or finds the post gone (404) after; nothing is left hanging on it.
        """

        pictures: list[str] = []
        changed: set[int] = set()

        async def work(conn: AsyncConnection) -> None:
            pictures.clear()
            changed.clear()
            await self._lock_own(conn, user_id, post_id)
            pictures.extend(await self.remove_locked(conn, post_id, changed))

        await self.db.write(work)
        await self.announce(changed)
        await self.discard(pictures)

    async def remove_locked(
        self, conn: AsyncConnection, post_id: int, changed: set[int] | None = None
    ) -> list[str]:
        """Delete a post already locked for update, with everything hanging on it (its
        notifications too: the people whose unread counts moved go into ``changed``), in
        the caller's transaction (its author's deletion, or a moderator's); returns the
        pictures to ``discard`` once that transaction committed."""
        pictures = []
        if self.notifications is not None:
            told = await self.notifications.remove_for_post(conn, post_id)
            if changed is not None:
                changed.update(told)
        names = (
            await conn.execute(
                select(post_pictures.c.name).where(post_pictures.c.post_id == post_id)
            )
        ).scalars()
        for name in names:
            if self.images is not None:
                await self.images.forget(conn, name)
            pictures.append(name)
        await conn.execute(delete(post_pictures).where(post_pictures.c.post_id == post_id))
        await self.comments.remove_all(conn, post_id)
        await self.likes.remove_all(conn, post_id)
        await conn.execute(delete(post_hashtags).where(post_hashtags.c.post_id == post_id))
        if self.search_index is not None:
            await self.search_index.remove(conn, post_id)
        await conn.execute(delete(posts).where(posts.c.id == post_id))
        return pictures

    async def _lock_own(self, conn: AsyncConnection, user_id: int, post_id: int) -> None:
        """Lock the post for update; only its author may go on (``Forbidden`` otherwise)."""
        if await lock_visible_post(conn, post_id, exclusive=True, viewer_id=user_id) != user_id:
            raise Forbidden("Only the author can change this post.")
