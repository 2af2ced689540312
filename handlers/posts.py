"""Writing, editing and deleting posts (the author is always the session's user)."""

from __future__ import annotations

from handlers.base import login_required
from handlers.page import PageHandler
from handlers.pages import TimelineHandler
from handlers.paths import ROW_ID
from sns.errors import ServiceError
from sns.floods import POSTS
from sns.posts import KEEP, Keep


class PostCreateHandler(TimelineHandler):
    """POST /post: a new post by the session's user (never a user named in the form)."""

    @login_required
    async def post(self) -> None:
        content = self.get_argument("content", "")
        url = self.get_argument("url", "")
        try:
            async with self.floods.hold(POSTS, self.user.id) as place:
                picture = self.images.name_from_reference(url)
                post_id = await self.posts.create(self.user.id, content, picture)
        except ServiceError as exc:
            if self.wants_json():
                raise
            page = await self.posts.timeline(viewer_id=self.user.id)
            form = {"content": content, "url": url}
            values = self.timeline_values(page, compose=True, form=form)
            await self.refuse(exc, "main.html", **values)
            return
        self.set_rate_headers(place)
        self.answer({"id": post_id}, status=201)


class PostPageHandler(PageHandler):
    """GET /post/<id>: the post's own page, the link people share (Open Graph tags)."""

    cache_pages = True

    async def get(self, post_id: str) -> None:
        post = await self.posts.view(int(post_id), self.viewer_id)
        await self.render_page("post_page.html", post=post)


class PostEditHandler(PageHandler):
    """GET /post/<id>/edit: the edit form, for the author only (403 for anyone else)."""

    @login_required
    async def get(self, post_id: str) -> None:
        post = await self.posts.get_own(self.user.id, int(post_id))
        url = self.images.original_url(post.img) if post.img else ""
        await self.render_page("edit.html", post=post, form={"content": post.content, "url": url})


class PostUpdateHandler(PageHandler):
    """POST /post/<id>/update: new text (hashtags follow it), author only."""

    @login_required
    async def post(self, post_id: str) -> None:
        content = self.get_argument("content", "")
        url = self.get_argument("url", None)
        try:
            picture = self._picture(url)
            await self.posts.update(self.user.id, int(post_id), content, picture)
        except ServiceError as exc:
            if self.wants_json() or exc.status in (403, 404):
                raise
            post = await self.posts.get_own(self.user.id, int(post_id))
            form = {"content": content, "url": url or ""}
            await self.refuse(exc, "edit.html", post=post, form=form)
            return
        self.answer({"id": int(post_id)}, default=f"/#post-{int(post_id)}")

    def _picture(self, url: str | None) -> str | Keep | None:
        """No ``url`` field: keep the picture; empty, or "remove" ticked: none; else that one."""
        if self.get_argument("remove_img", ""):
            return None
        if url is None:
            return KEEP
        return self.images.name_from_reference(url)


class PostDeleteHandler(PageHandler):
    """POST /post/<id>/delete: remove the post with its comments, likes and tag links."""

    @login_required
    async def post(self, post_id: str) -> None:
        await self.posts.delete(self.user.id, int(post_id))
        self.answer({"id": int(post_id), "deleted": True})


default_handlers = [
    (r"/post", PostCreateHandler),
    (rf"/post/{ROW_ID}", PostPageHandler),
    (rf"/post/{ROW_ID}/edit", PostEditHandler),
    (rf"/post/{ROW_ID}/update", PostUpdateHandler),
    (rf"/post/{ROW_ID}/delete", PostDeleteHandler),
]
