"""A person's face and words: ``POST /account/avatar``, ``/account/avatar/delete``, and
``/account/bio``.

The forms are on ``/profile`` and ``/account``; a hidden ``page`` field says which one sent
them, so that a refusal shows that page again with the message (and the bio typed), and a
success goes back to it. Fetch calls get JSON, as everywhere.
"""

from __future__ import annotations

from typing import Any

from tornado import httputil
from tornado.web import stream_request_body

from handlers.base import login_required
from handlers.images import ImageUploadHandler
from handlers.page import PageHandler
from resize.keys import AVATAR_SIZES
from sns.errors import Invalid, ServiceError

PAGES = ("profile", "account")


async def page_values(handler: PageHandler, page: str) -> dict[str, Any]:
    """What ``profile.html`` or ``account.html`` needs besides the layout's values."""
    me = handler.user.id
    if page == "account":
        return {
            "notice": "",
            "has_password": await handler.accounts.has_password(me),
            "muted_words": await handler.safety.words(me),
        }
    return {
        "counts": await handler.follows.counts(me),
        "followings": await handler.follows.followings(me, me, None),
        "followers": await handler.follows.followers(me, me, None),
        "cursors": {"followings": None, "followers": None},
        "notice": "",
    }


class ProfileFormHandler(PageHandler):
    """The end of a profile action: back to the page that sent it, or that page again with
    the refusal."""

    def sent_from(self) -> str:
        page = self.get_argument("page", "profile")
        return page if page in PAGES else "profile"

    async def refuse_on_page(self, error: ServiceError, **form: str) -> None:
        page = self.sent_from()
        values = await page_values(self, page)
        await self.refuse(error, f"{page}.html", form=form, **values)

    def done(self, action: str, payload: dict[str, Any]) -> None:
        self.answer(payload, default=f"/{self.sent_from()}?done={action}")

    def avatar_payload(self) -> dict[str, Any]:
        """The account's avatar after the action, as the page would show it."""
        user = self.user
        if not user.avatar:
            return {"avatarUrl": None}
        return {
            "avatarUrl": self.profiles.url(user.avatar, user.avatar_ready, AVATAR_SIZES[-1]),
            "ready": user.avatar_ready,
        }


@stream_request_body
class AvatarUploadHandler(ImageUploadHandler, ProfileFormHandler):
    """POST /account/avatar: multipart field ``img`` (and ``page``) -> the new avatar.

    The body streams in under the image limit, as ``POST /post/img``'s. A fetch call sends
    the XSRF token in the ``X-XSRFToken`` header, checked before the body; a plain form
    (JavaScript off) sends it in the multipart body, checked as soon as the body is parsed,
    before anything is stored or counted.
    """

    _parsed = False

    def check_xsrf_cookie(self) -> None:
        headers = self.request.headers
        if self._parsed or headers.get("X-Xsrftoken") or headers.get("X-Csrftoken"):
            super().check_xsrf_cookie()

    def get_argument(self, name: str, default: Any = None, strip: bool = True) -> Any:
        """Form fields exist only once the multipart body is parsed (Tornado reads none of a
        streamed body)."""
        return super().get_argument(name, default, strip) if self._parsed else default

    async def post(self) -> None:
        # Logged in: ImageUploadHandler.prepare refused anyone else before the body came.
        kind = self.request.headers.get("Content-Type", "")
        if not kind.lower().startswith("multipart/form-data") or "boundary=" not in kind:
            raise Invalid("Send the picture as multipart/form-data in the field img.", field="img")
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        httputil.parse_body_arguments(kind, bytes(self._body), arguments, files)
        self._body = bytearray()
        for name, values in arguments.items():
            self.request.body_arguments.setdefault(name, []).extend(values)
            self.request.arguments.setdefault(name, []).extend(values)
        self._parsed = True
        self.check_xsrf_cookie()
        try:
            pictures = files.get("img", [])
            if not pictures or not pictures[0].body:
                raise Invalid("Choose a picture to upload.", field="img")
            if len(pictures) != 1 or set(files) != {"img"}:
                raise Invalid("Upload one picture at a time, in the field img.", field="img")
            await self.profiles.set_avatar(self.user.id, bytes(pictures[0].body))
        except ServiceError as exc:
            await self.refuse_on_page(exc)
            return
        self.current_user = await self.accounts.get(self.user.id)
        self.done("avatar", self.avatar_payload())


class AvatarDeleteHandler(ProfileFormHandler):
    """POST /account/avatar/delete: back to the generated face."""

    @login_required
    async def post(self) -> None:
        await self.profiles.remove_avatar(self.user.id)
        self.done("avatar", {"avatarUrl": None})


class BioHandler(ProfileFormHandler):
    """POST /account/bio: field ``bio``, up to 160 characters (empty removes it)."""

    @login_required
    async def post(self) -> None:
        typed = self.get_argument("bio", "", strip=False)
        try:
            bio = await self.profiles.set_bio(self.user.id, typed)
        except ServiceError as exc:
            await self.refuse_on_page(exc, bio=typed)
            return
        self.done("bio", {"bio": bio})


default_handlers = [
    (r"/account/avatar", AvatarUploadHandler),
    (r"/account/avatar/delete", AvatarDeleteHandler),
    (r"/account/bio", BioHandler),
]
