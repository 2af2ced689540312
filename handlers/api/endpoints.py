"""The API's endpoints, the same for v1 (when on) and v2; only the token's life differs."""

from __future__ import annotations

from handlers.api.base import APIHandler
from handlers.bodies import success_body
from handlers.paths import ROW_ID
from sns.api_clients import Caller
from sns.api_posts import post_payload
from sns.errors import Invalid, Unauthorized
from sns.times import iso_utc


class TokenHandler(APIHandler):
    """POST /v2/token ``{clientSecret}`` (JSON or form): a JWT for the site's owner.

    Counted first on the client's address like any request no site answers for; a real
    secret gives that place back and counts on the site's token quota instead, so guessing
    secrets runs into the address's limit while a site's visitors do not.
    """

    requires_token = False

    async def authenticate(self) -> Caller | None:  # type: ignore[override]
        return None  # this endpoint takes a client secret, not a token

    async def post(self) -> None:
        secret = self.body_argument("clientSecret")
        if not secret:
            raise Invalid("Send your site's clientSecret.", field="clientSecret")
        caller = await self.api_clients.caller_for_secret(secret)
        if caller is None:
            raise Unauthorized(
                "Unknown client secret. Register your site at /developers first.",
                field="clientSecret",
            )
        await self.api_clients.release_anonymous(self.client_ip)
        self.use_quota(await self.api_clients.count_token_request(caller))
        token = self.api_clients.issue_token(caller, self.version)
        self.write(success_body(message="The token was issued.", token=token))


class ClaimsHandler(APIHandler):
    """GET /v2/test: the token's claims, to see what a token says."""

    async def get(self) -> None:
        self.write(success_body(payload=self.caller.claims))


class MyPostsHandler(APIHandler):
    """GET /v2/posts/my: the posts of the token's user, newest first."""

    keep_answers = True

    async def get(self) -> None:
        self.write_page(await self.api_posts.by_author(self.caller.user_id, *self.paging()))


class HashtagPostsHandler(APIHandler):
    """GET /v2/posts/hashtag/<title>: posts with that tag; 404 for a tag nobody used."""

    keep_answers = True

    async def get(self, title: str) -> None:
        self.write_page(
            await self.api_posts.by_hashtag(title, *self.paging(), reader=self.caller.user_id)
        )


class MyLikesHandler(APIHandler):
    """GET /v2/posts/myLikes: the posts the token's user liked."""

    keep_answers = True

    async def get(self) -> None:
        self.write_page(await self.api_posts.liked_by(self.caller.user_id, *self.paging()))


class SearchPostsHandler(APIHandler):
    """GET /v2/posts/search?q=words: posts holding every word, as the /search page finds
    them (beyond NodeBird)."""

    keep_answers = True

    async def get(self) -> None:
        query = self.get_query_argument("q", "")
        if not query.strip():
            raise Invalid("Send the words to search for in q.", field="q")
        self.write_page(
            await self.api_posts.search(query, *self.paging(), reader=self.caller.user_id)
        )


class PostCreateHandler(APIHandler):
    """POST /v2/posts ``{content}``: a post by the token's user, under the page's rules."""

    async def post(self) -> None:
        post = await self.api_posts.create(self.caller.user_id, self.body_argument("content") or "")
        self.set_status(201)
        self.write(success_body(201, "created", payload=post_payload(post, self.image_urls)))


class UserSafetyHandler(APIHandler):
    """POST /v2/users/<id>/block, /unblock, /mute (``{duration}``: 1h, 1d, 7d, forever;
    default forever), /unmute: the token's user blocks or mutes someone, as on the page."""

    async def post(self, user_id: str, action: str) -> None:
        me, target = self.caller.user_id, int(user_id)
        payload: dict[str, object] = {"userId": target}
        if action == "block":
            await self.safety.block(me, target)
            payload["blocking"] = True
        elif action == "unblock":
            await self.safety.unblock(me, target)
            payload["blocking"] = False
        elif action == "mute":
            until = await self.safety.mute(me, target, self.body_argument("duration") or "forever")
            payload.update(muting=True, until=iso_utc(until) if until is not None else None)
        else:
            await self.safety.unmute(me, target)
            payload.update(muting=False, until=None)
        self.write(success_body(payload=payload))


def versioned_routes(version: str) -> list[tuple[str, type[APIHandler], dict[str, str]]]:
    """The endpoints under ``/<version>``."""
    prefix = f"/{version}"
    table: list[tuple[str, type[APIHandler]]] = [
        (r"/token", TokenHandler),
        (r"/test", ClaimsHandler),
        (r"/posts", PostCreateHandler),
        (r"/posts/my", MyPostsHandler),
        (r"/posts/myLikes", MyLikesHandler),
        (r"/posts/search", SearchPostsHandler),
        (r"/posts/hashtag/([^/]+)", HashtagPostsHandler),
        (rf"/users/{ROW_ID}/(block|unblock|mute|unmute)", UserSafetyHandler),
    ]
    return [(prefix + path, handler, {"version": version}) for path, handler in table]
