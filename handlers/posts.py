"""Writing posts."""

from __future__ import annotations

from handlers.base import BaseHandler, login_required
from sns.errors import ServiceError


class PostCreateHandler(BaseHandler):
    """POST /post: a new post by the session's user (never a user named in the form)."""

    @login_required
    async def post(self) -> None:
        content = self.get_argument("content", "")
        try:
            post_id = await self.services.posts.create(self.current_user.id, content)
        except ServiceError as exc:
            if self.wants_json():
                raise
            self.set_status(exc.status)
            page = await self.services.posts.timeline()
            self.render(
                "main.html",
                page=page,
                title=None,
                hashtag=None,
                form={"content": content},
                error=self.tr(exc),
            )
            return
        if self.wants_json():
            self.set_status(201)
            self.write({"code": 201, "message": "created", "payload": {"id": post_id}})
            return
        self.redirect("/")


default_handlers = [
    (r"/post", PostCreateHandler),
]
