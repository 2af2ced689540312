"""A Python client of the SNS API, for other sites' servers and scripts.

It needs httpx alone and imports nothing else of ``sns``, so it can be copied into another
project as it is::

    from sns.client import SNSClient

    with SNSClient("http://localhost:8001", "<client secret>") as sns:
        for post in sns.my_posts().posts:
            print(post.id, post.content)

The client buys a token with the secret on first use, keeps it, and buys a new one when the
server says it expired (419). Errors are exceptions: ``Unauthorized`` (401), ``NotFound``
(404), ``Gone`` (410), ``RateLimited`` (429, with ``retry_after`` in seconds), and
``SNSError`` for the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "Author",
    "BadRequest",
    "Gone",
    "NotFound",
    "Notification",
    "NotificationPage",
    "Picture",
    "Post",
    "PostPage",
    "RateLimited",
    "SNSClient",
    "SNSError",
    "TokenExpired",
    "Unauthorized",
]


class SNSError(Exception):
    """An answer of the API other than a success: its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class BadRequest(SNSError):
    """400: the request could not be used (the message says why)."""


class Unauthorized(SNSError):
    """401: an unknown secret, or a token whose site, secret or account changed."""


class NotFound(SNSError):
    """404: no such hashtag (or endpoint)."""


class Gone(SNSError):
    """410: this version of the API is gone (v1 on most servers)."""


class TokenExpired(SNSError):
    """419: the token expired even after renewing it (a clock far off, or a 1-minute v1 token)."""


class RateLimited(SNSError):
    """429: over the site's per-minute quota; try again after ``retry_after`` seconds."""

    def __init__(self, status: int, message: str, retry_after: float) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


ERRORS: dict[int, type[SNSError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    410: Gone,
    419: TokenExpired,
}


@dataclass(frozen=True)
class Author:
    id: int
    nick: str


@dataclass(frozen=True)
class Picture:
    """One picture of a post: its URLs, alt text and size (None when not known)."""

    thumbnail_url: str
    original_url: str
    alt: str = ""
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Picture:
        return cls(
            thumbnail_url=str(data["thumbnailUrl"]),
            original_url=str(data["originalUrl"]),
            alt=str(data.get("alt") or ""),
            width=data.get("width"),
            height=data.get("height"),
        )


@dataclass(frozen=True)
class Post:
    id: int
    content: str
    like_count: int
    user: Author
    hashtags: tuple[str, ...]
    created_at: datetime
    thumbnail_url: str | None
    original_url: str | None
    pictures: tuple[Picture, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Post:
        return cls(
            id=int(data["id"]),
            content=str(data["content"]),
            like_count=int(data["likeCount"]),
            user=Author(int(data["user"]["id"]), str(data["user"]["nick"])),
            hashtags=tuple(data.get("hashtags", ())),
            created_at=datetime.fromisoformat(str(data["createdAt"]).replace("Z", "+00:00")),
            thumbnail_url=data.get("thumbnailUrl"),
            original_url=data.get("originalUrl"),
            pictures=tuple(Picture.from_json(item) for item in data.get("pictures") or ()),
        )


@dataclass(frozen=True)
class Notification:
    """Someone followed, liked, commented, replied or mentioned (``actor`` is the newest of
    ``actor_count`` people: follows and likes come grouped)."""

    id: int
    cursor: int
    kind: str
    unread: bool
    created_at: datetime
    actor: Author
    actor_handle: str | None
    actor_count: int
    post_id: int | None
    comment_id: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        actor = data["actor"]
        return cls(
            id=int(data["id"]),
            cursor=int(data["cursor"]),
            kind=str(data["kind"]),
            unread=bool(data["unread"]),
            created_at=datetime.fromisoformat(str(data["createdAt"]).replace("Z", "+00:00")),
            actor=Author(int(actor["id"]), str(actor["nick"])),
            actor_handle=actor.get("handle"),
            actor_count=int(data["actorCount"]),
            post_id=data.get("postId"),
            comment_id=data.get("commentId"),
        )


@dataclass(frozen=True)
class NotificationPage:
    """A page of notifications; ``next_cursor`` as ``cursor`` gives the next."""

    notifications: list[Notification]
    next_cursor: int | None
    unread_count: int

    def __iter__(self) -> Iterator[Notification]:
        return iter(self.notifications)

    def __len__(self) -> int:
        return len(self.notifications)


@dataclass(frozen=True)
class PostPage:
    """One page of a list, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    posts: list[Post]
    next_cursor: int | None

    def __iter__(self) -> Iterator[Post]:
        return iter(self.posts)

    def __len__(self) -> int:
        return len(self.posts)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value or "60"))
    except ValueError:  # an HTTP date: wait the usual minute
        return 60.0


class SNSClient:
    """One site's view of the API: ``SNSClient(base_url, client_secret, origin=None)``.

    ``origin``, when given, is sent as the ``Origin`` header, as a browser page of that
    site would send it (to see the API's CORS answers from a script). Thread-safe.
    """

    def __init__(
        self,
        base_url: str,
        client_secret: str,
        origin: str | None = None,
        *,
        version: str = "v2",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "sns-client/1"}
        if origin:
            headers["Origin"] = origin
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.client_secret = client_secret
        self.version = version
        self._token: str | None = None
        self._lock = threading.Lock()
        self.last_response: httpx.Response | None = None
        """The latest answer, e.g. for its ``RateLimit-*`` headers."""

    # -- the token -------------------------------------------------------------------------

    def token(self, *, renew: bool = False) -> str:
        """The cached token, or a new one from ``/<version>/token``."""
        with self._lock:
            if self._token is None or renew:
                body = self._send(
                    "POST", f"/{self.version}/token", json={"clientSecret": self.client_secret}
                )
                self._token = str(body["token"])
            return self._token

    # -- endpoints -------------------------------------------------------------------------

    def notifications(
        self, limit: int | None = None, cursor: int | None = None
    ) -> NotificationPage:
        """The owner's notifications, newest first, with the unread count (reads nothing)."""
        params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        body = self._call("GET", "/notifications", params=params)
        return NotificationPage(
            [Notification.from_json(item) for item in body["payload"]],
            body.get("nextCursor"),
            int(body["unreadCount"]),
        )

    def read_notifications(self, up_to: int | None = None) -> int:
        """Mark the owner's notifications read (those up to the cursor ``up_to``, else
        all); returns the unread count left."""
        body = {} if up_to is None else {"upTo": up_to}
        return int(self._call("POST", "/notifications/read", json=body)["payload"]["unreadCount"])

    def test(self) -> dict[str, Any]:
        """The token's claims as the server reads them."""
        payload: dict[str, Any] = self._call("GET", "/test")["payload"]
        return payload

    def my_posts(self, limit: int | None = None, cursor: int | None = None) -> PostPage:
        """Posts of the site's owner, newest first."""
        return self._page("/posts/my", limit, cursor)

    def my_likes(self, limit: int | None = None, cursor: int | None = None) -> PostPage:
        """Posts the site's owner liked."""
        return self._page("/posts/myLikes", limit, cursor)

    def posts_by_hashtag(
        self, title: str, limit: int | None = None, cursor: int | None = None
    ) -> PostPage:
        """Posts carrying #title (with or without the #); ``NotFound`` for an unknown tag."""
        return self._page("/posts/hashtag/" + quote(title, safe=""), limit, cursor)

    def create_post(self, content: str, pictures: list[tuple[str, str]] | None = None) -> Post:
        """Write a post as the site's owner (1 to 140 characters), with up to four pictures
        as ``(url from upload_picture, alt text)``."""
        body: dict[str, Any] = {"content": content}
        if pictures:
            body["pictures"] = [{"url": url, "alt": alt} for url, alt in pictures]
        return Post.from_json(self._call("POST", "/posts", json=body)["payload"])

    def upload_picture(self, data: bytes, filename: str = "picture.jpg") -> dict[str, Any]:
        """Upload a picture for a post: ``{url, originalUrl, name, width, height, ...}``."""
        return self._call("POST", "/posts/img", files={"img": (filename, data)})

    def all_my_posts(self, page_size: int = 100) -> Iterator[Post]:
        """Every post of the owner, page after page."""
        cursor = None
        while True:
            page = self.my_posts(limit=page_size, cursor=cursor)
            yield from page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- plumbing --------------------------------------------------------------------------

    def _page(self, path: str, limit: int | None, cursor: int | None) -> PostPage:
        params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        body = self._call("GET", path, params=params)
        return PostPage([Post.from_json(item) for item in body["payload"]], body.get("nextCursor"))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A call with the token; on 419 a new token is bought and the call sent again."""
        token = self.token()
        try:
            return self._send(method, f"/{self.version}{path}", token=token, **kwargs)
        except TokenExpired:
            token = self.token(renew=True)
            return self._send(method, f"/{self.version}{path}", token=token, **kwargs)

    def _send(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": token} if token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.last_response = response
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.is_success:
            return body
        message = str(body.get("message") or response.reason_phrase)
        if response.status_code == 429:
            raise RateLimited(429, message, _seconds(response.headers.get("Retry-After")))
        raise ERRORS.get(response.status_code, SNSError)(response.status_code, message)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SNSClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
