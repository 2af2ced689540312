"""Writing, editing and deleting posts (the author is always the session's user)."""

from __future__ import annotations

from handlers.base import BaseHandler, login_required
from handlers.pages import TimelineHandler
from sns.errors import ServiceError


class PostCreateHandler(TimelineHandler):
    """POST /post: a new post by the session's user (never a user named in the form)."""

    @login_required
    async def post(self) -> None:
        content = self.get_argument("content", "")
        try:
            post_id = await self.services.posts.create(self.viewer_id, content)
        except ServiceError as exc:
            if self.wants_json():
                raise
            self.set_status(exc.status)
            page = await self.services.posts.timeline(viewer_id=self.viewer_id)
            self.render(
                "main.html",
                page=page,
                title=None,
                heading=None,
                hashtag=None,
                profile=None,
                compose=True,
                form={"content": content},
                error=self.tr(exc),
                pager_prefix="",
                empty="No posts yet. Be the first!",
            )
            return
        self.answer({"id": post_id}, status=201)


class PostEditHandler(BaseHandler):
    """GET /post/<id>/edit: the edit form, for the author only (403 for anyone else)."""

    @login_required
    async def get(self, post_id: str) -> None:
        post = await self.services.posts.get_own(self.viewer_id, int(post_id))
        self.render("edit.html", post=post, content=post.content, error=None)


class PostUpdateHandler(BaseHandler):
    """POST /post/<id>/update: new text (hashtags follow it), author only."""

    @login_required
    async def post(self, post_id: str) -> None:
        content = self.get_argument("content", "")
        try:
            await self.services.posts.update(self.viewer_id, int(post_id), content)
        except ServiceError as exc:
            if self.wants_json() or exc.status in (403, 404):
                raise
            post = await self.services.posts.get_own(self.viewer_id, int(post_id))
            self.set_status(exc.status)
            self.render("edit.html", post=post, content=content, error=self.tr(exc))
            return
        self.answer({"id": int(post_id)}, default=f"/#post-{int(post_id)}")


class PostDeleteHandler(BaseHandler):
    """POST /post/<id>/delete: remove the post with its comments, likes and tag links."""

    @login_required
    async def post(self, post_id: str) -> None:
        await self.services.posts.delete(self.viewer_id, int(post_id))
        self.answer({"id": int(post_id), "deleted": True})


default_handlers = [
    (r"/post", PostCreateHandler),
    (r"/post/(\d{1,18})/edit", PostEditHandler),
    (r"/post/(\d{1,18})/update", PostUpdateHandler),
    (r"/post/(\d{1,18})/delete", PostDeleteHandler),
]
