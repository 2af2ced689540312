"""``PageHandler``: what only HTML pages need, on top of ``BaseHandler``, its cache and
the posts drawn once for every reader (``handlers.fragments``).

The layout's context, the sidebar's counts (fetched only when a page is drawn, so a fetch
POST never pays for them), forms refused with the user's input, and HTML error pages.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from http import HTTPStatus
from typing import Any

from tornado.web import HTTPError

from handlers.base import SUPPORTED_LOCALES
from handlers.bodies import success_body
from handlers.fragments import PostDrawingHandler
from sns.errors import ServiceError, is_outage
from sns.follows import FollowCounts

log = logging.getLogger("sns.handlers")

_drawing_errors: set[asyncio.Task[None]] = set()
"""Error pages waiting for their reader's unread count (held so that none is collected)."""


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


class PageHandler(PostDrawingHandler):
    """What only HTML pages need: the layout, the sidebar, refused forms, error pages.

    A handler with ``cache_pages = True`` has its GET answers kept and served again to
    the same reader, for the same URL, host, scheme and language, until the site version
    moves (``handlers.cache``).
    """

    follow_counts: FollowCounts | None = None
    unread: int | None = None
    """The reader's unread notifications, once read for the header's badge."""
    cache_pages = False
    """GET answers are kept and served again (``CachingHandler``) until the site changes."""
    shares_reads = True

    async def prepare(self) -> None:
        await super().prepare()
        if self.cache_pages and self.request.method == "GET" and not self._finished:
            await self.serve_kept_page()

    def compute_etag(self) -> str | None:
        """No ``ETag``: every page carries a freshly masked XSRF token, so no two answers
        are alike and an ``If-None-Match`` could never match, and a logged-in page is
        ``no-store`` anyway. Tornado hashed each page for it (py-spy: 6% of a kept page)."""
        return None

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        uri = self.request.uri if self.request.method == "GET" else "/"
        namespace.update(
            follow_counts=self.follow_counts,
            kakao_login=self.kakao is not None,
            max_image_bytes=self.images.max_bytes,
            locales=SUPPORTED_LOCALES,
            this_url=uri,
            next_url=uri,
            hashtag=None,
            search_query=None,
            form={},
            error=None,
            field=None,
        )
        return namespace

    async def render_page(self, template: str, **values: Any) -> None:
        """Draw a page in the layout; the sidebar's counts are fetched here, not before."""
        if self.current_user and self.follow_counts is None and self.unread is None:
            self.follow_counts, self.unread = await self._counts_and_unread(self.current_user.id)
        elif self.current_user and self.follow_counts is None:
            self.follow_counts = await self.follows.counts(self.current_user.id)
        await self.load_badge()
        await self.end_shared_reads()  # drawing reads nothing: the connection goes back
        self.render(template, **values)

    async def _counts_and_unread(self, user_id: int) -> tuple[FollowCounts, int]:
        """The sidebar's counts and the badge's count: kept under the reader's version
        when there is one (``sns.reader_versions``), else read and kept for the badge."""
        readers, version = self.services.readers, self.reader_version
        kept = readers.get(version, ("counts", user_id))
        if kept is None:
            kept = await self.follows.counts_and_unread(user_id)
            readers.put(version, ("counts", user_id), kept)
            self.services.known_unread.put(self.site_version, user_id, kept[1])
        return kept

    async def load_badge(self) -> None:
        """The reader's unread count, for the header, even when the rest of the page is a
        kept one (it moves without the reader's doing): one indexed query, or none while
        the site version (or the reader's version) has not moved since this process last
        read it."""
        if self.current_user and self.unread is None and self.reader_version is not None:
            self.unread = (await self._counts_and_unread(self.current_user.id))[1]
        if self.current_user and self.unread is None:
            user_id = self.current_user.id
            known = self.services.known_unread
            self.unread = known.get(self.site_version, user_id)
            if self.unread is None:
                self.unread = await self.services.notifications.unread_count(user_id)
                known.put(self.site_version, user_id, self.unread)

    def unread_badge(self) -> str:
        """What the layout puts in the header: the badge, or where it goes in a page that
        will be kept (filled in for each reader, like the XSRF token)."""
        if self._badge_placeholder is not None:
            return self._badge_placeholder.decode()
        return self.badge_bytes().decode()

    def badge_bytes(self) -> bytes:
        """The link to /notifications with the unread count (none before it was read, and
        none for someone logged out). The ids and ``data-label-template`` are what the
        live updates (``static/js``) change."""
        if not self.current_user or self.unread is None:
            return b""
        template = self.locale.translate("Notifications: {n} unread")
        html: bytes = self.render_string(
            "unread_badge.html",
            count=self.unread,
            label_template=template,
            label=template.replace("{n}", str(self.unread)),
        )
        return html.strip()

    async def refuse(self, error: ServiceError, template: str, **values: Any) -> None:
        """Show the form again with what the user typed and why it was refused.

        A fetch call gets the error as JSON instead (raised on to ``write_error``).
        """
        if self.wants_json():
            raise error
        self.set_status(self.status_for(error))
        await self.render_page(template, error=self.tr(error), field=error.field, **values)

    def answer(self, payload: dict[str, Any], *, status: int = 200, default: str = "/") -> None:
        """The end of an action: JSON for fetch calls, else back to the page it came from."""
        if self.wants_json():
            self.set_status(status)
            self.write(success_body(status, payload=payload))
            return
        self.redirect_to_next(default)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """A logged-in reader's error page shows the unread count in its header, as every
        page does: ``write_error`` cannot wait for a query, so the count is read first and
        the page sent after. Not in an outage (the database is what failed), nor for a
        fetch call (JSON has no header)."""
        exc_info = kwargs.get("exc_info")
        if (
            self.current_user
            and self.unread is None
            and not self.wants_json()
            and not (exc_info and is_outage(exc_info[1]))
        ):
            task = asyncio.ensure_future(self._send_error_with_badge(status_code, kwargs))
            _drawing_errors.add(task)
            task.add_done_callback(_drawing_errors.discard)
            return
        super().send_error(status_code, **kwargs)

    async def _send_error_with_badge(self, status_code: int, kwargs: dict[str, Any]) -> None:
        try:
            await self.load_badge()
        except Exception as exc:  # the page goes without its count, never without a page
            path = self.request.path
            log.warning("%s: no unread count for the error page: %s", path, exc)
        if not self._finished:
            super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.wants_json():
            super().write_error(status_code, **kwargs)
            return
        exc_info = kwargs.get("exc_info")
        self.error_headers(exc_info[1] if exc_info else None)
        trace = None
        if self.settings.get("serve_traceback") and exc_info and status_code >= 500:
            trace = "".join(traceback.format_exception(*exc_info))
        try:
            html = self.render_string(
                "error.html",
                status_code=status_code,
                title=self.locale.translate(_phrase(status_code)),
                message=self.error_message(status_code, exc_info[1] if exc_info else None),
                traceback=trace,
            )
        except Exception:
            log.exception("the error page itself failed")
            html = f"<!doctype html><title>{status_code}</title><h1>{status_code}</h1>".encode()
        self.finish(html)


class NotFoundHandler(PageHandler):
    """Every path no route matches: the 404 page."""

    async def prepare(self) -> None:
        await super().prepare()
        raise HTTPError(404)
