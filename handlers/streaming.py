"""Handlers that stream their request body (``@stream_request_body``) answer after it.

Tornado runs the XSRF check and ``prepare`` of such a handler before it reads the body, and
an answer finished then makes it close the connection once the answer has gone: the body
was not read, and closing is how Tornado skips it (``HTTP1Connection.finish``). It decides
so after the headers went out, so they do not say ``Connection: close``, and a kept-alive
client's next request on that connection is reset. A frozen database did it to
``POST /post``: the session read in ``prepare`` timed out, and its 503 closed the
connection (strace: ``close()`` right after the 503, no ``Connection: close``).

``StreamedBodyHandler`` keeps the connection: what is refused before the body (an outage,
no login, a bad token, a spent quota) is held, the body is read and dropped, and the
refusal is then answered in place of the method, as any other handler would answer it. A
body too large to read first (over ``SNS_MAX_BODY_BYTES``, or of unknown length) is
refused at once, and that answer says ``Connection: close``.
"""

from __future__ import annotations

from typing import Any

from tornado.concurrent import Future

from handlers.base import BaseHandler


class StreamedBodyHandler(BaseHandler):
    """The base of every ``@stream_request_body`` handler: ``_body`` collects the body;
    what a subclass checks before the body is read goes in ``before_body``, not in
    ``prepare``, so that its refusals are held too."""

    _body: bytearray
    _held: Exception | None = None
    _before_body = True
    """Until ``prepare`` has returned: an answer finished now closes the connection."""

    def check_xsrf_cookie(self) -> None:
        """Tornado's check before ``prepare``: a refusal then is held like any other."""
        if not self._before_body:
            super().check_xsrf_cookie()
            return
        try:
            super().check_xsrf_cookie()
        except Exception as exc:
            if not self._hold(exc):
                raise

    async def prepare(self) -> None:
        self._body = bytearray()
        try:
            if self._held is None:
                await super().prepare()
                await self.before_body()
        except Exception as exc:
            if not self._hold(exc):
                raise
        self._before_body = False

    async def before_body(self) -> None:
        """What this handler checks, and the body limit it sets, before the body is read."""

    def data_received(self, chunk: bytes) -> None:
        if self._held is None:
            self._body.extend(chunk)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Future[None]:
        if self._before_body and not self._headers_written:
            self.set_header("Connection", "close")  # Tornado closes it, and says so only now
        return super().finish(chunk)

    def _hold(self, refusal: Exception) -> bool:
        """Keep ``refusal`` for when the body has been read, if it may be read first: then
        Tornado calls this in place of the request's method (an attribute of this instance
        shadows the class's), and the answer keeps the connection."""
        if not self._body_may_be_read():
            return False
        self._held = refusal
        setattr(self, (self.request.method or "").lower(), self._answer_held)
        return True

    async def _answer_held(self, *_args: Any, **_kwargs: Any) -> None:
        assert self._held is not None
        raise self._held

    def _body_may_be_read(self) -> bool:
        """A body of known length within the limit every route has (chunked bodies are
        not counted before they are read)."""
        headers = self.request.headers
        if "Transfer-Encoding" in headers:
            return False
        declared = headers.get("Content-Length", "0")
        return declared.isdigit() and int(declared) <= self.config.max_body_bytes
