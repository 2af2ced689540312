"""WebSocket ``/live`` (#20): the unread count and "N new posts" pushed to an open page.

Logged in only: an anonymous upgrade gets 401 before any socket exists. The socket only
pushes: whatever a client sends is ignored, so a forged socket could make the server do
nothing on anyone's behalf, and XSRF tokens (which guard state changes) have nothing to
guard here. What a forged socket could do is read: a page on another site opening
``ws://our-site/live`` with the visitor's cookie (cross-site WebSocket hijacking), which
browsers allow, since the same-origin policy does not cover WebSockets. ``check_origin``
stops it: a browser always sends ``Origin`` on a WebSocket, and only this site's own
(the request's ``Host``, or a name of ``SNS_SITE_HOSTS``) is let in. A client without
``Origin`` is no browser, so it can only present a cookie it holds itself.

A page says what its header shows (``unread=<n>``); when the count moved while it had no
socket (a worker restarted, the network dropped), the socket's first message is the
count as it is: what was published in the meantime reached no socket of that page.

Heartbeats are Tornado's own (``websocket_ping_interval``: ``SNS_LIVE_PING``); a socket
that has not answered a ping by the next one is closed. Sockets are held by the process's
``LiveHub`` (``sns.live``), which closes them with 1001 when the process stops.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import tornado.websocket
from tornado.httputil import HTTPHeaders
from tornado.util import ObjectDict
from tornado.web import HTTPError

from handlers.base import BaseHandler
from sns import text
from sns.live import FOLLOWING, HASHTAG, HOME, LiveHub, Timeline
from sns.net import is_site_host

_NO_HEADERS = HTTPHeaders()
_NO_UI = ObjectDict()


class LiveHandler(BaseHandler, tornado.websocket.WebSocketHandler):
    """GET /live?timeline=home|following|hashtag[&tag=x][&after=<newest post id>]
    [&unread=<the count the page shows>]."""

    timeline = Timeline()
    stale_unread: int | None = None
    """The unread count to send at once: the page showed another."""

    @property
    def hub(self) -> LiveHub:
        return self.services.live

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not self.current_user:
            raise HTTPError(401)
        if self.hub.full:
            self.set_header("Retry-After", "30")
            raise HTTPError(503, reason="Too many live pages on this server.")
        self.timeline = await self.read_timeline()
        await self.check_unread()
        await super().get(*args, **kwargs)

    async def check_unread(self) -> None:
        """Whether the count the page shows (``unread``) is still right; none said: the
        page has no badge, nothing to check."""
        raw = self.get_argument("unread", "")
        if raw == "":
            return
        shown = 0 if raw == "0" else text.positive_int(raw)
        if shown is None:
            raise HTTPError(400, reason="unread must be a whole number")
        count = await self.services.notifications.unread_count(self.user.id)
        if count != shown:
            self.stale_unread = count

    async def read_timeline(self) -> Timeline:
        """The timeline the page shows, from the query; anything unknown: none."""
        kind = self.get_argument("timeline", "")
        after = self.int_argument("after") or 0
        if kind == HOME:
            return Timeline(HOME, after=after)
        if kind == FOLLOWING:
            authors = await self.follows.following_ids(self.user.id)
            return Timeline(FOLLOWING, authors=authors | {self.user.id}, after=after)
        tag = self.get_argument("tag", "").strip().lstrip("#")
        if kind == HASHTAG and tag:
            return Timeline(HASHTAG, tag=text.fold_hashtag(tag), after=after)
        return Timeline()

    def check_origin(self, origin: str) -> bool:
        """Only pages of this site (see the module's docstring: hijacking)."""
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if parts.netloc.lower() == self.request.host.lower():
            return True
        sites = self.config.site_hosts
        return bool(sites) and is_site_host(parts.netloc, sites)

    def open(self, *args: str, **kwargs: str) -> None:
        self.hub.join(self, self.user.id, self.timeline)
        self.services.metrics.live_sockets(1)
        self._counted = True
        self.shed()
        if self.stale_unread is not None:
            self.push({"type": "unread", "count": self.stale_unread})

    def shed(self) -> None:
        """Let go of what only the upgrade needed (request and answer headers, cookies,
        the template helpers): a socket lives for hours, thousands of them in one worker,
        and these were a third of what each one held (bench/live.py). After the upgrade
        Tornado refuses ``set_header`` and ``finish`` and nothing reads them again; the
        shared empty stand-ins are never written to."""
        request = self.request
        # Tornado's own ``get`` keeps the request's headers in a local for the socket's
        # life: emptied in place (HTTPHeaders' own constructor), not only let go.
        request.headers.__init__()  # type: ignore[misc]
        request.headers = _NO_HEADERS
        request.__dict__.pop("_cookies", None)
        self.__dict__.pop("_new_cookie", None)
        self._headers = _NO_HEADERS
        self.ui = _NO_UI
        self._statements = None

    def on_message(self, message: str | bytes) -> None:
        """Ignored: the socket only pushes (a page may send anything to keep it warm)."""

    def on_close(self) -> None:
        self.hub.leave(self)
        if self.__dict__.pop("_counted", False):
            self.services.metrics.live_sockets(-1)

    def push(self, message: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        try:
            self.write_message(json.dumps(message))
        except tornado.websocket.WebSocketClosedError:
            pass

    def shut(self, code: int, reason: str) -> None:
        self.close(code, reason)


default_handlers = [(r"/live", LiveHandler)]
