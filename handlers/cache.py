"""The one owner of the answers a process keeps: HTML pages and the API's lists of posts.

Answers are kept in ``Services.pages`` (built in ``build_services``) for the site version
the request read, under what they depend on besides the site's data (``cache_key``), and
only for a ``Host`` of this site (``for_this_site``): a kept answer is served again until
the version moves. A page is drawn with a random placeholder where the reader's XSRF token
goes and kept cut at it (``KeptPage``): each answer gets its own reader's token there and
nowhere else, so nothing anyone wrote is ever changed. A logged-in reader's page, kept for
their session alone, is kept filled in and compressed (``ReaderPage``). An API answer
carries no token and is kept whole.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tornado import escape
from tornado.concurrent import Future

from handlers.base import BaseHandler
from sns.net import is_site_host
from sns.pagecache import KeptPage, ReaderPage, new_placeholder, takes_gzip
from sns.shared_reads import reading_at

JSON_TYPE = "application/json; charset=UTF-8"
DRAWING_WAIT = 2.0
"""Seconds a request waits for another drawing the same shared page before drawing it."""


class CachingHandler(BaseHandler):
    """A handler whose GET answers may be kept: the base of ``PageHandler`` and ``APIHandler``."""

    _cache_key: tuple[object, ...] | None = None
    """Set while an answer that will be kept is drawn (a miss of a cacheable request)."""
    _placeholder: bytes | None = None
    _badge_placeholder: bytes | None = None
    """Where the reader's unread badge goes in a page that will be kept (``unread_badge``)."""
    _drawing: asyncio.Future[None] | None = None
    """Set while this request draws a shared page others may wait for (``_after_drawing``)."""
    _flight: tuple[object, ...] = ()
    depends: tuple[str, ...] | None = None
    """What the answer being drawn depends on (``sns.changes``); None: every write."""

    def cache_key(self) -> tuple[object, ...]:
        """What a page depends on besides the site's data: the URL, host, scheme, language
        and reader, and a logged-in reader's session (their page is kept with its token,
        which counts for that session only)."""
        request = self.request
        viewer_id = self.viewer_id
        if viewer_id is None:
            return (request.uri, request.host, self.scheme, self.locale.code, None, None)
        # Their own state is theirs (``sns.reader_versions``): a page drawn before it moved
        # is not theirs any more, whatever else changed.
        mine = (viewer_id, self.session_id, self.reader_version)
        return (request.uri, request.host, self.scheme, self.locale.code, *mine)

    @property
    def for_this_site(self) -> bool:
        """Whether the request's ``Host`` names this site (``SNS_SITE_HOSTS``): only then
        is an answer kept for others."""
        return is_site_host(self.request.host, self.config.site_host_names)

    async def _kept(self) -> KeptPage | ReaderPage | None:
        """The answer kept for this request, or None; on a miss the key is remembered, so
        that what is drawn now is kept."""
        if not self.for_this_site:
            return None
        if self.site_version is None:
            self.site_version = await self.services.site_version.current()
            reading_at(self.site_version)
        if self.site_version is None:
            return None
        if self.services.changes is not None:  # what changed up to it (the API read it too)
            await self.services.changes.catch_up(self.site_version)
        key = self.cache_key()
        kept = self.services.pages.get(self.site_version, key)
        if kept is None and self.session_id is None:  # a reader's own page: no crowd
            kept = await self._after_drawing(key)
        if kept is None:
            self._cache_key = key
        return kept

    async def _after_drawing(self, key: tuple[object, ...]) -> KeptPage | ReaderPage | None:
        """An answer everyone shares (a page for everyone logged out, an API answer) that
        another request is drawing now under the same key and version: wait for it (up to
        ``DRAWING_WAIT``) and serve what it kept, instead of drawing it again. Else say
        that this request draws it. Right after a write, every request in flight for the
        page missed at once and each drew it (the 32 of bench/http: a write cost 32
        drawings of the anonymous ``/``)."""
        drawing = self.services.drawing
        flight = (self.site_version, key)
        waiting = drawing.get(flight)
        if waiting is None:
            drawing[flight] = self._drawing = asyncio.get_running_loop().create_future()
            self._flight = flight
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiting), DRAWING_WAIT)
        return self.services.pages.get(self.site_version, key)

    def on_finish(self) -> None:
        """The page this request drew is kept (or not, if it failed): whoever waited for it
        looks again."""
        super().on_finish()
        future, self._drawing = self._drawing, None
        if future is not None:
            if self.services.drawing.get(self._flight) is future:
                del self.services.drawing[self._flight]
            future.set_result(None)

    async def serve_kept_page(self) -> bool:
        """Answer with the kept page, this reader's token spliced in (True); else draw the
        page with a placeholder for the token, to be kept by ``finish``."""
        kept = await self._kept()
        self._count_lookup("page", kept)
        if isinstance(kept, ReaderPage):  # filled in already: the bytes as they are
            await self.end_shared_reads()
            await self.send_reader_page(kept)
            return True
        if kept is not None:  # served, not stored again: its age stays its own
            await self.load_badge()
            await self.end_shared_reads()
            await self.send_kept(kept, self._escaped_xsrf_token(), self.badge_bytes())
            return True
        if self._cache_key is not None:
            self._placeholder = new_placeholder()
            self._badge_placeholder = new_placeholder()
        return False

    async def load_badge(self) -> None:
        """Read what the reader's header badge shows (pages do: ``PageHandler``)."""

    def badge_bytes(self) -> bytes:
        """The reader's header badge as drawn (pages: ``PageHandler``); none here."""
        return b""

    async def serve_kept_answer(self) -> bool:
        """Answer with the kept JSON body of an API call (True), if there is one."""
        kept = await self._kept()
        self._count_lookup("api", kept)
        if not isinstance(kept, KeptPage):
            return False
        self.set_header("Content-Type", JSON_TYPE)
        await self.send_kept(kept)
        return True

    def send_kept(self, page: KeptPage, token: bytes = b"", badge: bytes = b"") -> Future[None]:
        """A kept answer with this reader's token and badge: gzip, from the parts kept
        compressed, when the client takes it."""
        self._vary_on_encoding()
        if page.deflated and self._takes_gzip():
            self.set_header("Content-Encoding", "gzip")
            return super().finish(page.fill_gzipped(token, badge))
        return super().finish(page.fill(token, badge))

    def send_reader_page(self, page: ReaderPage) -> Future[None]:
        """A reader's kept page: gzip as kept when the client takes it, else inflated."""
        self._vary_on_encoding()
        if self._takes_gzip():
            self.set_header("Content-Encoding", "gzip")
            return super().finish(page.gzipped)
        return super().finish(page.plain())

    def _vary_on_encoding(self) -> None:
        """Say that the answer depends on ``Accept-Encoding`` too (an API answer already
        varies with the ``Origin``)."""
        vary = self._headers.get("Vary")
        self.set_header("Vary", f"{vary}, Accept-Encoding" if vary else "Accept-Encoding")

    def _takes_gzip(self) -> bool:
        """Whether this answer may go out gzipped: the client takes it, and nothing of the
        answer was written before."""
        accepted = takes_gzip(self.request.headers.get("Accept-Encoding", ""))
        return accepted and not self._write_buffer and not self._headers_written

    def _count_lookup(self, kind: str, kept: KeptPage | ReaderPage | None) -> None:
        """A hit or a miss for /metrics; a request the cache could not serve is neither."""
        if kept is not None or self._cache_key is not None:
            self.services.metrics.cache(kind, kept is not None)

    def keep_answer(self, body: bytes) -> None:
        """Keep an API answer whole, when this request was a miss of a cacheable call."""
        if self._cache_key is not None:
            page = KeptPage.cut(body).compressed()
            self.services.pages.put(self.site_version, self._cache_key, page)

    def _escaped_xsrf_token(self) -> bytes:
        return escape.xhtml_escape(self.xsrf_token).encode()

    @property
    def xsrf_token(self) -> bytes:
        """While a page that will be kept is drawn, its placeholder: each answer fills in
        its reader's token (``finish``), so no reader is ever served another's."""
        if self._placeholder is not None:
            return self._placeholder
        return super().xsrf_token

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Future[None]:
        """A page drawn with a placeholder is cut there and kept (a complete 200 only), then
        sent with this reader's token in its place."""
        placeholder, self._placeholder = self._placeholder, None
        badge, self._badge_placeholder = self._badge_placeholder, None
        if placeholder is not None:
            key, self._cache_key = self._cache_key, None
            if isinstance(chunk, bytes):
                keep = key is not None and self.get_status() == 200 and not self._write_buffer
                token, badge_html = self._escaped_xsrf_token(), self.badge_bytes()
                if keep and self.viewer_id is not None:  # theirs alone: filled in once
                    filled = chunk.replace(placeholder, token)
                    mine = ReaderPage.of(filled.replace(badge, badge_html) if badge else filled)
                    self.services.pages.put(self.site_version, key, mine, self.depends)
                    return self.send_reader_page(mine)
                page = KeptPage.cut(chunk, placeholder, badge)
                if keep:
                    page = page.compressed()
                    self.services.pages.put(self.site_version, key, page, self.depends)
                    return self.send_kept(page, token, badge_html)
                chunk = page.fill(token, badge_html)
        return super().finish(chunk)
