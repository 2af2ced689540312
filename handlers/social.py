"""Follow, like, comment and reply: small actions that answer JSON to fetch and redirect
forms back to the page they came from."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tornado.web import RequestHandler

from handlers.base import login_required
from handlers.page import PageHandler
from handlers.paths import ROW_ID
from handlers.ui import avatar_json
from sns.comments import CommentView
from sns.floods import COMMENTS
from sns.handles import split_mentions
from sns.times import iso_utc


class FollowHandler(PageHandler):
    """POST /user/<id>/follow and /user/<id>/unfollow (idempotent, not yourself)."""

    @login_required
    async def post(self, user_id: str, action: str) -> None:
        target = int(user_id)
        if action == "follow":
            counts = await self.follows.follow(self.user.id, target)
        else:
            counts = await self.follows.unfollow(self.user.id, target)
        self.answer(
            {"user_id": target, "following": action == "follow", "my_counts": asdict(counts)},
            default=f"/user/{target}",
        )


class LikeHandler(PageHandler):
    """POST /post/<id>/like and /post/<id>/unlike (idempotent; the count stays exact)."""

    @login_required
    async def post(self, post_id: str, action: str) -> None:
        if action == "like":
            state = await self.likes.like(self.user.id, int(post_id))
        else:
            state = await self.likes.unlike(self.user.id, int(post_id))
        self.answer(asdict(state), default=f"/#post-{int(post_id)}")


def comment_payload(handler: RequestHandler, comment: CommentView) -> dict[str, Any]:
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "parent_id": comment.parent_id,
        "content": comment.content,
        "author_id": comment.author_id,
        "author_nick": comment.author_nick,
        "author_avatar": avatar_json(
            handler,
            comment.author_id,
            comment.author_nick,
            comment.author_avatar,
            comment.author_avatar_ready,
        ),
        "author_bio": comment.author_bio,
        "created_at": iso_utc(comment.created_at),
        # The text cut at its mentions, for the page to link them without markup.
        "pieces": [
            {"text": text, "handle": person.handle if person else None}
            for text, person in split_mentions(comment.content, comment.mentions)
        ],
    }


class CommentHandler(PageHandler):
    """POST /comment/<post id>: a comment whose author is the session's user."""

    @login_required
    async def post(self, post_id: str) -> None:
        async with self.floods.hold(COMMENTS, self.user.id) as place:
            comment = await self.comments.comment(
                self.user.id, int(post_id), self.get_argument("content", "")
            )
        self.set_rate_headers(place)
        self.answer(comment_payload(self, comment), status=201, default=f"/#comment-{comment.id}")


class ReplyHandler(PageHandler):
    """POST /comment/reply/<comment id>: a reply, one level deep."""

    @login_required
    async def post(self, comment_id: str) -> None:
        async with self.floods.hold(COMMENTS, self.user.id) as place:
            reply = await self.comments.reply(
                self.user.id, int(comment_id), self.get_argument("content", "")
            )
        self.set_rate_headers(place)
        self.answer(comment_payload(self, reply), status=201, default=f"/#comment-{reply.id}")


default_handlers = [
    (rf"/user/{ROW_ID}/(follow|unfollow)", FollowHandler),
    (rf"/post/{ROW_ID}/(like|unlike)", LikeHandler),
    (rf"/comment/{ROW_ID}", CommentHandler),
    (rf"/comment/reply/{ROW_ID}", ReplyHandler),
]
