"""``APIHandler``: the base of every ``/v1`` and ``/v2`` answer.

What changes from ``BaseHandler``: the caller is a JWT in ``Authorization`` (bare, as
NodeBird's clients send it, or ``Bearer <jwt>``), never the session cookie, so there is no
XSRF to check; CORS for the origins of registered sites; and a per-minute quota on every
answer, counted on the site a valid token speaks for, or else on the client's address.
Errors are ``BaseHandler``'s ``{code, message}``.
"""

from __future__ import annotations

import json
from typing import Any

from tornado.escape import json_encode
from tornado.web import RequestHandler

from handlers.bodies import success_body
from handlers.cache import JSON_TYPE, CachingHandler
from sns.api_clients import ApiClientService, Caller, Quota, over_quota
from sns.api_posts import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiPage,
    ApiPostService,
    AvatarUrl,
    ImageUrls,
    post_payload,
)
from sns.errors import Gone, Invalid, NotFound, ServiceError, Unauthorized
from sns.reader_safety import reading_as
from sns.statements import start_counting
from sns.text import is_unicode_text, positive_int

ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer
HOW_TO_AUTHENTICATE = "Send the token from /v2/token in the Authorization header."


class APIHandler(CachingHandler):
    """JWT instead of cookies, JSON errors, CORS and quotas."""

    version = "v2"
    requires_token = True
    cors_origin: str | None = None
    quota: Quota | None = None
    token_problem: ServiceError | None = None
    keep_answers = False
    """GET answers are kept per process until the site version moves (``write_page``)."""

    def initialize(self, version: str = "v2") -> None:
        self.version = version

    @property
    def api_clients(self) -> ApiClientService:
        return self.services.api_clients

    @property
    def api_posts(self) -> ApiPostService:
        return self.services.api_posts

    @property
    def caller(self) -> Caller:
        """The site and owner of the request's token (only where ``requires_token``)."""
        if not isinstance(self.current_user, Caller):
            raise Unauthorized(HOW_TO_AUTHENTICATE)
        return self.current_user

    @property
    def image_urls(self) -> ImageUrls | None:
        """Picture name -> (small thumbnail, original) as absolute URLs: another site
        cannot use our relative ``/img/...`` paths."""
        images = self.images
        site = self.site_url

        def absolute(url: str) -> str:
            return url if "://" in url else site + url

        def urls(name: str) -> tuple[str, str]:
            return absolute(images.thumb_url(name)), absolute(images.original_url(name))

        return urls

    @property
    def avatar_url(self) -> AvatarUrl:
        """An author's avatar name -> its absolute URL (the 96-pixel square once made)."""
        profiles = self.services.profiles
        site = self.site_url

        def url(name: str, ready: bool) -> str:
            found = profiles.url(name, ready)
            return found if "://" in found else site + found

        return url

    # -- who is asking, and may they -----------------------------------------------------

    async def prepare(self) -> None:
        """CORS first (errors must carry it too), then the token, then the quota; then an
        answer kept from an earlier call, if the site has not changed since."""
        self._statements = start_counting()
        self.site_version = await self.services.site_version.current()
        origin = self.request.headers.get("Origin")
        if origin and await self.api_clients.origin_registered(origin, self.site_version):
            self.cors_origin = origin
            self.set_cors_headers()
        if self.request.method == "OPTIONS":
            return  # a preflight carries no token and is not counted
        self.current_user = await self.authenticate()
        if self.current_user is not None:
            self.set_header("Cache-Control", "no-store")
            reading_as(self.current_user.user_id, self.current_user.safety)
            self.use_quota(await self.api_clients.count_call(self.current_user))
        else:
            self.use_quota(await self.api_clients.count_anonymous(self.client_ip))
        if self.requires_token and self.current_user is None:
            raise self.token_problem or Unauthorized(HOW_TO_AUTHENTICATE)
        if self.request.method == "GET" and self.keep_answers:
            await self.serve_kept_answer()

    def cache_key(self) -> tuple[object, ...]:
        """What an answer depends on besides the site's data: the URL, the host and scheme
        its picture URLs are made absolute with, and the caller's user (``my`` answers are
        theirs)."""
        request = self.request
        caller = self.caller
        return ("api", request.uri, request.host, self.scheme, caller.user_id)

    async def authenticate(self) -> Caller | None:  # type: ignore[override]
        """The caller of the ``Authorization`` token, or None (the reason kept for later)."""
        raw = self.request.headers.get("Authorization", "").strip()
        if raw[:7].lower() == "bearer ":
            raw = raw[7:].strip()
        try:
            return await self.api_clients.caller_for_token(raw, self.site_version, self.version)
        except ServiceError as problem:
            self.token_problem = problem
            return None

    def check_xsrf_cookie(self) -> None:
        """No XSRF check: the API never reads the session cookie, only ``Authorization``."""

    def use_quota(self, quota: Quota) -> None:
        """Remember the quota for the headers of this answer; over it, a 429."""
        self.quota = quota
        self.set_quota_headers()
        if not quota.granted:
            raise over_quota(quota)

    # -- headers -------------------------------------------------------------------------

    def set_default_headers(self) -> None:
        """Also run again when an error clears the headers: CORS and quota survive it."""
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")
        self.set_header("Vary", "Origin")
        self.set_cors_headers()
        self.set_quota_headers()

    def set_cors_headers(self) -> None:
        if self.cors_origin:
            self.set_header("Access-Control-Allow-Origin", self.cors_origin)
            self.set_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)

    def set_quota_headers(self) -> None:
        if self.quota:
            self.set_header("RateLimit-Limit", str(self.quota.limit))
            self.set_header("RateLimit-Remaining", str(self.quota.remaining))
            self.set_header("RateLimit-Reset", str(self.quota.reset))

    def allowed_methods(self) -> list[str]:
        """The methods this resource answers, for ``Allow`` and the preflight."""
        methods = [
            name
            for name in ("GET", "POST")
            if getattr(type(self), name.lower()) is not getattr(RequestHandler, name.lower())
        ]
        if "GET" in methods:
            methods.append("HEAD")
        return [*methods, "OPTIONS"]

    async def options(self, *args: str) -> None:
        """The CORS preflight: allowed only for the origin of a registered site."""
        if self.cors_origin:
            self.set_header("Access-Control-Allow-Methods", ", ".join(self.allowed_methods()))
            self.set_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
            self.set_header("Access-Control-Max-Age", PREFLIGHT_MAX_AGE)
        self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_status(204)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="sns"')
        super().write_error(status_code, **kwargs)

    # -- input and output ----------------------------------------------------------------

    def body_argument(self, name: str) -> str | None:
        """A field of a JSON object body, or of a form body."""
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return self.get_body_argument(name, None)
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError):
            raise Invalid("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Invalid("The body must be a JSON object.")
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise Invalid("{name} must be a string.", name=name)
        if value is not None and not is_unicode_text(value):
            raise Invalid("{name} holds a character that is not text.", name=name)
        return value

    def paging(self) -> tuple[int, int | None]:
        """``limit`` (1..100, default 20) and ``cursor`` (a post id) from the query."""
        limit = DEFAULT_LIMIT
        raw_limit = self.get_query_argument("limit", None)
        if raw_limit is not None:
            parsed = positive_int(raw_limit)
            if parsed is None or parsed > MAX_LIMIT:
                raise Invalid("limit must be a whole number from 1 to {max}.", max=MAX_LIMIT)
            limit = parsed
        cursor = None
        raw_cursor = self.get_query_argument("cursor", None)
        if raw_cursor is not None:
            cursor = positive_int(raw_cursor)
            if cursor is None:
                raise Invalid("cursor must be the nextCursor of an earlier answer.")
        return limit, cursor

    def write_page(self, page: ApiPage) -> None:
        """``payload`` is the list itself, so clients that ignore paging keep working.

        The answer is kept (``keep_answers``) for the next call with the same key."""
        body = json_encode(
            success_body(
                payload=[
                    post_payload(post, self.image_urls, self.avatar_url) for post in page.posts
                ],
                nextCursor=page.next_cursor,
            )
        ).encode()
        self.keep_answer(body)
        self.set_header("Content-Type", JSON_TYPE)
        self.write(body)


class APIFallbackHandler(APIHandler):
    """Every ``/v1`` and ``/v2`` path no route matches: a JSON 404."""

    requires_token = False

    def allowed_methods(self) -> list[str]:
        return ["GET", "POST", "HEAD", "OPTIONS"]

    async def prepare(self) -> None:
        await super().prepare()
        if self.request.method != "OPTIONS":
            raise NotFound("There is no such API endpoint.")


class APIGoneHandler(APIHandler):
    """Every ``/v1/...`` while v1 is off: 410, as NodeBird answers it, pointing to v2."""

    requires_token = False

    async def authenticate(self) -> Caller | None:  # type: ignore[override]
        return None

    def allowed_methods(self) -> list[str]:
        return ["GET", "POST", "HEAD", "OPTIONS"]

    async def prepare(self) -> None:
        await super().prepare()
        if self.request.method != "OPTIONS":
            raise Gone("This version of the API is gone. Use v2: /v2/token.")
