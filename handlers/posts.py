"""Writing, editing and deleting posts (the author is always the session's user).

A post's pictures come as repeated ``url`` fields in order, each followed by its ``alt``
(DESIGN.md; one ``url`` without ``alt`` still works), from uploads made before through
``POST /post/img``. Without JavaScript the form is multipart and carries the files
themselves (field ``img``, up to four), which go through the same checks here.
"""

from __future__ import annotations

from typing import Any

from tornado import httputil
from tornado.web import HTTPError, stream_request_body

from handlers.base import login_required
from handlers.images import MULTIPART_OVERHEAD
from handlers.page import PageHandler
from handlers.pages import TimelineHandler
from handlers.paths import ROW_ID
from handlers.streaming import StreamedBodyHandler
from handlers.ui import picture_sources
from sns.errors import Invalid, ServiceError
from sns.floods import POSTS
from sns.pictures import MAX_PICTURES, Chosen
from sns.post_views import PostView
from sns.posts import KEEP, Keep


def is_multipart(handler: PageHandler) -> bool:
    kind = handler.request.headers.get("Content-Type", "")
    return kind.lower().startswith("multipart/form-data")


@stream_request_body
class PictureFormHandler(StreamedBodyHandler, PageHandler):
    """A post's form: fields, and without JavaScript the picture files themselves.

    The body is streamed so that a multipart form from a logged-in person may be as large
    as four pictures, while every other body keeps the small form limit; its XSRF token,
    often inside that body, is checked once the body is read (``read_body``, which every
    POST method calls first).
    """

    _parsed = False
    _xsrf_later = False

    def check_xsrf_cookie(self) -> None:
        if not self._parsed and self.request.method == "POST":
            self._xsrf_later = True  # the token may be in the body, not read yet
            return
        super().check_xsrf_cookie()

    async def before_body(self) -> None:
        if self.current_user and is_multipart(self):
            set_max_body_size = getattr(self.request.connection, "set_max_body_size", None)
            if set_max_body_size is not None:
                set_max_body_size(MAX_PICTURES * self.images.max_bytes + MULTIPART_OVERHEAD)

    def read_body(self) -> None:
        """Parse the streamed body into the request's arguments and files, then check the
        XSRF token a multipart body carried."""
        request = self.request
        try:
            httputil.parse_body_arguments(
                request.headers.get("Content-Type", ""),
                bytes(self._body),
                request.body_arguments,
                request.files,
                request.headers,
            )
        except httputil.HTTPInputError:
            raise HTTPError(400, "the form body could not be read") from None
        self._body = bytearray()
        for name, values in request.body_arguments.items():
            request.arguments.setdefault(name, []).extend(values)
        self._parsed = True
        if self._xsrf_later:
            super().check_xsrf_cookie()

    async def chosen_pictures(self, refill: list[dict[str, Any]]) -> list[Chosen] | None:
        """The pictures the form asks for, in order, or None when it names none at all
        (an edit by an old script keeps the post's pictures). Files sent without
        JavaScript are uploaded here, after the pictures named by ``url``. ``refill``
        gets what the form showed, for drawing it again if the post is refused."""
        urls = self.get_body_arguments("url")
        alts = self.get_body_arguments("alt")
        removed = set(self.get_body_arguments("remove_url"))
        files = [part for part in self.request.files.get("img", []) if part.body]
        problem: ServiceError | None = None
        if alts and len(alts) != len(urls):
            problem = Invalid(
                "Send each picture's url followed by its alt (or no alt at all).", field="alt"
            )
        padded = (alts + [""] * len(urls))[: len(urls)]
        chosen: list[Chosen] = []
        for url, alt in zip(urls, padded, strict=True):
            if not url.strip() or url in removed:
                continue
            try:
                name = self.images.name_from_reference(url)
            except ServiceError as exc:
                problem = problem or exc  # refused below, once the good ones are kept
                continue
            if name is not None:
                chosen.append(Chosen(name, alt))
                refill.append(self.refilled(name, alt))
        if problem is not None:
            raise problem
        if len(chosen) + len(files) > MAX_PICTURES:
            raise Invalid(
                "A post can have at most {max} pictures; this one has {count}.",
                field="url",
                max=MAX_PICTURES,
                count=len(chosen) + len(files),
            )
        for part in files:
            uploaded = await self.images.upload(self.user.id, part.body)
            chosen.append(Chosen(uploaded.name))
            refill.append(self.refilled(uploaded.name, ""))
        if not chosen and not urls and "pictures" not in self.request.body_arguments:
            return None
        return chosen

    def refilled(self, name: str, alt: str) -> dict[str, Any]:
        """A picture as the form shows it again (the original: its thumbnails may not
        exist yet)."""
        original = self.images.original_url(name)
        return {"url": original, "alt": alt, "src": original}


def form_pictures(handler: PageHandler, post: PostView) -> list[dict[str, Any]]:
    """A post's pictures as its edit form shows them."""
    shown = []
    for picture in post.pictures:
        sources = picture_sources(handler, picture)
        shown.append(
            {
                "url": sources["original"],
                "alt": picture.alt,
                "src": sources["src"],
                "width": picture.width,
                "height": picture.height,
            }
        )
    return shown


class PostCreateHandler(PictureFormHandler, TimelineHandler):
    """POST /post: a new post by the session's user (never a user named in the form)."""

    @login_required
    async def post(self) -> None:
        self.read_body()
        content = self.get_argument("content", "")
        refill: list[dict[str, Any]] = []
        try:
            async with self.floods.hold(POSTS, self.user.id) as place:
                pictures = await self.chosen_pictures(refill)
                post_id = await self.posts.create(self.user.id, content, pictures=pictures or ())
        except ServiceError as exc:
            if self.wants_json():
                raise
            page = await self.posts.timeline(viewer_id=self.user.id)
            form = {"content": content, "pictures": refill}
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
        form = {"content": post.content, "pictures": form_pictures(self, post)}
        await self.render_page("edit.html", post=post, form=form)


class PostUpdateHandler(PictureFormHandler):
    """POST /post/<id>/update: new text (hashtags follow it) and pictures, author only."""

    @login_required
    async def post(self, post_id: str) -> None:
        self.read_body()
        content = self.get_argument("content", "")
        refill: list[dict[str, Any]] = []
        try:
            post = await self.posts.get_own(self.user.id, int(post_id))
            pictures = await self._pictures(refill)
            await self.posts.update(self.user.id, int(post_id), content, pictures)
        except ServiceError as exc:
            if self.wants_json() or exc.status in (403, 404):
                raise
            post = await self.posts.get_own(self.user.id, int(post_id))
            form = {"content": content, "pictures": refill}
            await self.refuse(exc, "edit.html", post=post, form=form)
            return
        self.answer({"id": post.id}, default=f"/#post-{post.id}")

    async def _pictures(self, refill: list[dict[str, Any]]) -> list[Chosen] | Keep | None:
        """No picture fields at all: keep them; "remove_img" ticked (older form): none;
        else the pictures the form lists."""
        if self.get_argument("remove_img", ""):
            return None
        chosen = await self.chosen_pictures(refill)
        return KEEP if chosen is None else chosen


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
