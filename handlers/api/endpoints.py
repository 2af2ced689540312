"""The API's endpoints, the same for v1 (when on) and v2; only the token's life differs."""

from __future__ import annotations

import json
from typing import Any

from tornado import httputil
from tornado.web import stream_request_body

from handlers.api.base import APIHandler
from handlers.bodies import success_body
from handlers.images import MULTIPART_OVERHEAD
from handlers.paths import ROW_ID
from handlers.streaming import StreamedBodyHandler
from sns.api_clients import Caller
from sns.api_posts import post_payload
from sns.errors import Invalid, Unauthorized
from sns.floods import POSTS
from sns.images import ImageRefused
from sns.notifications import Notification
from sns.pictures import MAX_PICTURES, Chosen
from sns.text import is_unicode_text, positive_int
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
    """POST /v2/posts ``{content, pictures?}``: a post by the token's user, under the page's
    rules; ``pictures`` is ``[{url, alt}]`` of uploads from ``POST /v2/posts/img`` (a form
    body sends repeated ``url`` fields, each followed by its ``alt``, as the site's form)."""

    async def post(self) -> None:
        user_id = self.caller.user_id
        content = self.body_argument("content") or ""
        pictures = self._pictures()
        async with self.floods.hold(POSTS, user_id):  # the compose form's limit, shared
            post = await self.api_posts.create(user_id, content, pictures)
        self.set_status(201)
        self.write(
            success_body(
                201, "created", payload=post_payload(post, self.image_urls, self.avatar_url)
            )
        )

    def _pictures(self) -> list[Chosen]:
        pairs: list[tuple[Any, Any]]
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == "application/json":
            try:
                listed = json.loads(self.request.body or b"{}").get("pictures") or []
            except (ValueError, AttributeError, RecursionError):
                raise Invalid("The body must be a JSON object.") from None
            if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
                raise Invalid(
                    "pictures must be a list of objects with a url and an alt.", field="pictures"
                )
            pairs = [(item.get("url"), item.get("alt", "")) for item in listed]
        else:
            urls = self.get_body_arguments("url")
            alts = self.get_body_arguments("alt") or [""] * len(urls)
            if len(alts) != len(urls):
                raise Invalid(
                    "Send each picture's url followed by its alt (or no alt at all).", field="alt"
                )
            pairs = list(zip(urls, alts, strict=True))
        if len(pairs) > MAX_PICTURES:
            raise Invalid(
                "A post can have at most {max} pictures; this one has {count}.",
                field="pictures",
                max=MAX_PICTURES,
                count=len(pairs),
            )
        chosen = []
        for url, alt in pairs:
            if not isinstance(url, str) or not isinstance(alt, str) or not is_unicode_text(alt):
                raise Invalid(
                    "pictures must be a list of objects with a url and an alt.", field="pictures"
                )
            site = self.site_url + "/img/"
            reference = "/img/" + url[len(site) :] if url.startswith(site) else url
            name = self.images.name_from_reference(reference)
            if name is None:
                raise Invalid("Attach a picture uploaded here.", field="url")
            chosen.append(Chosen(name, alt))
        return chosen


def notification_payload(item: Notification) -> dict[str, Any]:
    """One notification as the API sends it (``actorCount``: the group's size)."""
    return {
        "id": item.id,
        "cursor": item.seq,
        "kind": item.kind,
        "unread": item.unread,
        "createdAt": iso_utc(item.created_at),
        "actor": {"id": item.actor_id, "nick": item.actor_nick, "handle": item.actor_handle},
        "actorCount": item.actor_count,
        "postId": item.post_id,
        "commentId": item.comment_id,
    }


class NotificationsHandler(APIHandler):
    """GET /v2/notifications: the token user's notifications, newest first, with their
    unread count; reading them here marks nothing (POST .../read does)."""

    async def get(self) -> None:
        limit, cursor = self.paging()
        page = await self.services.notifications.page(self.caller.user_id, cursor, limit)
        self.write(
            success_body(
                payload=[notification_payload(item) for item in page.items],
                nextCursor=page.next_cursor,
                unreadCount=page.unread_count,
            )
        )


class NotificationsReadHandler(APIHandler):
    """POST /v2/notifications/read ``{upTo?}``: mark them read (those up to the cursor
    ``upTo``, the ``seq`` order the list walks, else all); answers the new unread count."""

    async def post(self) -> None:
        up_to = self.up_to()
        service = self.services.notifications
        marked = await service.mark_read(self.caller.user_id, up_to)
        unread = await service.unread_count(self.caller.user_id)
        self.write(success_body(payload={"marked": marked, "unreadCount": unread}))

    def up_to(self) -> int | None:
        """``upTo`` of a JSON body (a number, or digits in a string) or a form; absent:
        None (all of them)."""
        raw: object = None
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == "application/json":
            try:
                body = json.loads(self.request.body or b"{}")
            except (ValueError, RecursionError):
                raise Invalid("The body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise Invalid("The body must be a JSON object.")
            raw = body.get("upTo")
        else:
            raw = self.get_body_argument("upTo", None)
        if raw is None or raw == "":
            return None
        value = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw if 1 <= raw < 10**18 else None
        elif isinstance(raw, str):
            value = positive_int(raw)
        if value is None:
            raise Invalid("upTo must be a cursor of the list (a positive whole number).")
        return value


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


@stream_request_body
class PictureUploadHandler(StreamedBodyHandler, APIHandler):
    """POST /v2/posts/img: multipart field ``img`` -> ``{url, originalUrl, name, width,
    height, placeholder}``, with the checks and per-account hourly limits of the site's
    upload; ``url`` goes into ``pictures`` of ``POST /v2/posts``."""

    async def before_body(self) -> None:
        if self.request.method != "POST" or self._finished:
            return
        limit = self.images.max_bytes + MULTIPART_OVERHEAD
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ImageRefused(
                "The picture is larger than {limit} MiB.",
                reason="too_large",
                status=413,
                limit=round(self.images.max_bytes / 2**20, 1),
            )
        await self.images.check_upload_budget(self.caller.user_id)
        set_max_body_size = getattr(self.request.connection, "set_max_body_size", None)
        if set_max_body_size is not None:
            set_max_body_size(limit)

    async def post(self) -> None:
        kind = self.request.headers.get("Content-Type", "")
        if not kind.lower().startswith("multipart/form-data") or "boundary=" not in kind:
            raise Invalid("Send the picture as multipart/form-data in the field img.", field="img")
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        try:
            httputil.parse_body_arguments(kind, bytes(self._body), arguments, files)
        except httputil.HTTPInputError:
            raise Invalid("The multipart body could not be read.", field="img") from None
        self._body = bytearray()
        if list(files) != ["img"] or len(files["img"]) != 1:
            if not files:
                raise Invalid("Choose a picture to upload.", field="img")
            raise Invalid("Upload one picture at a time, in the field img.", field="img")
        uploaded = await self.images.upload(self.caller.user_id, bytes(files["img"][0].body))
        site = self.site_url

        def absolute(url: str) -> str:
            return url if "://" in url else site + url

        self.write(
            success_body(
                url=absolute(uploaded.url),
                originalUrl=absolute(uploaded.original_url),
                name=uploaded.name,
                width=uploaded.width,
                height=uploaded.height,
                placeholder=uploaded.placeholder,
            )
        )


def versioned_routes(version: str) -> list[tuple[str, type[APIHandler], dict[str, str]]]:
    """The endpoints under ``/<version>``."""
    prefix = f"/{version}"
    table: list[tuple[str, type[APIHandler]]] = [
        (r"/token", TokenHandler),
        (r"/test", ClaimsHandler),
        (r"/posts", PostCreateHandler),
        (r"/posts/img", PictureUploadHandler),
        (r"/posts/my", MyPostsHandler),
        (r"/posts/myLikes", MyLikesHandler),
        (r"/posts/search", SearchPostsHandler),
        (r"/posts/hashtag/([^/]+)", HashtagPostsHandler),
        (r"/notifications", NotificationsHandler),
        (r"/notifications/read", NotificationsReadHandler),
        (rf"/users/{ROW_ID}/(block|unblock|mute|unmute)", UserSafetyHandler),
    ]
    return [(prefix + path, handler, {"version": version}) for path, handler in table]
