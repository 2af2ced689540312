"""Handlers in layers, as JupyterHub does; this is the bottom one.

``BaseHandler``: who is asking (the session cookie -> ``current_user``), the headers every
answer carries, the services as read-only properties, and one mapping of service errors to
statuses; its errors are ``{code, message}`` JSON. On top of it: ``CachingHandler``
(``handlers.cache``), then ``PageHandler`` (``handlers.page``) for HTML pages and
``APIHandler`` (``handlers.api.base``), which replaces the cookie with a JWT by overriding
``authenticate``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import tornado.locale
from tornado.concurrent import Future
from tornado.web import HTTPError, RequestHandler

from handlers.headers import HSTS, PRIVATE, set_common_headers
from handlers.service_access import ServiceAccess
from sns import sessions as session_backends
from sns.accounts import User
from sns.errors import (
    OUTAGE,
    ServiceError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    is_outage,
)
from sns.floods import Place, RateLimited
from sns.net import client_ip, is_trusted, safe_next_url
from sns.pagecache import version_and_session
from sns.read_sharing import SharedRead
from sns.reader_safety import reading_as
from sns.shared_reads import reader_version_read, reading_at
from sns.statements import StatementTally, start_counting
from sns.text import positive_int
from sns.xsrf import is_session_token, session_token

log = logging.getLogger("sns.handlers")

SESSION_COOKIE = "sid"
LOCALE_COOKIE = "locale"
SUPPORTED_LOCALES = ("en_US", "ko_KR")


_closing: set[asyncio.Task[None]] = set()
"""Shared read connections being given back after their request ended (kept referenced)."""

_DEFAULT_MESSAGES = {
    400: "The request was not understood.",
    401: "Please log in first.",
    403: "You are not allowed to do that.",
    404: "There is no such page.",
    405: "That action is not available here.",
    429: "Too many requests. Please wait a moment.",
}


class BaseHandler(ServiceAccess):
    """Every handler's parent. Tornado's documented hooks, plus two it does not document
    as hooks: ``set_cookie`` (every cookie, Tornado's ``_xsrf`` too, is Secure over HTTPS)
    and ``finish`` (adds ``X-SNS-Queries``); ``CachingHandler`` also overrides ``finish``
    and ``xsrf_token`` to keep drawn pages and fill in each reader's token."""

    session_id: str | None = None
    _session_xsrf: tuple[str, bytes] | None = None
    site_version: int | None = None
    """The site version read for this request (None: not read, or nothing is cached)."""

    _statements: StatementTally | None = None
    shares_reads = False
    """GET and HEAD take one read connection for all their reads (``Database.share_reads``):
    pages, whose reads end with the header's badge; not live sockets, which stay open."""
    _shared_read: SharedRead | None = None

    # -- who is asking ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Find out who is asking before the method runs (``get_current_user`` cannot await)."""
        self._statements = start_counting()
        if self.shares_reads and self.request.method in ("GET", "HEAD"):
            self._shared_read = self.db.share_reads()
        self.current_user = await self.authenticate()
        if self.current_user:
            self.set_header("Cache-Control", PRIVATE)
            reading_as(self.current_user.id, self.current_user.safety)

    async def end_shared_reads(self) -> None:
        """The page's reads are done: its one read connection goes back to the pool."""
        if self._shared_read is not None:
            await self._shared_read.finish()

    def on_finish(self) -> None:
        """A request that ended before its last read (an error, a redirect) gives its read
        connection back here."""
        super().on_finish()
        shared = self._shared_read
        if shared is not None and not shared.done:
            task = asyncio.ensure_future(shared.finish())
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    async def head(self, *args: str, **kwargs: str) -> None:
        """HEAD wherever GET is answered: the same headers, and Tornado drops the body."""
        get = getattr(self, "get", None)
        if get is None or getattr(type(self), "get", None) is RequestHandler.get:
            raise HTTPError(405)
        result = get(*args, **kwargs)
        if inspect.isawaitable(result):
            await result

    async def authenticate(self) -> User | None:
        """The user of the signed session cookie, or None; a stale cookie is cleared.

        The session record and the site version come in one round trip (Redis), and the
        user is read from the database only when the site version moved since this process
        last read them: a password change or an account deletion moves it, so such a
        session still ends at once, on every process.
        """
        session_id = self.session_cookie()
        if not session_id:
            return None
        version, session, reader_version = await version_and_session(
            self.services.site_version, self.sessions, session_id, self.services.reader_versions
        )
        self.site_version = version
        if self.services.changes is not None:  # what changed up to it, before any read
            await self.services.changes.catch_up(version)
        reading_at(version, reader_version)
        user = None
        if session and session.get("user_id"):
            user = await self._known_user(int(session["user_id"]), version)
        if user is not None and session and session.get("version", 0) != user.session_version:
            await self.sessions.delete(session_id)
            user = None
        if user is None:
            self.clear_cookie(SESSION_COOKIE)
            return None
        self.session_id = session_id
        if self.request.method == "GET":
            self._set_session_cookie(session_id)
        return user

    def session_cookie(self) -> str | None:
        """The session id the signed cookie carries, whether or not the session still is."""
        max_age = self.config.session_ttl / 86400 + 1
        raw = self.get_signed_cookie(SESSION_COOKIE, max_age_days=max_age)
        return raw.decode("ascii", "replace") if raw else None

    async def _known_user(self, user_id: int, version: int | None) -> User | None:
        """The user, kept under their reader version (``sns.reader_versions``: only a
        write of theirs, or one that touched everyone, moves it), else the site version."""
        if self.reader_version is not None:
            readers = self.services.readers
            user = readers.get(self.reader_version, ("user", user_id))
            if user is None:
                user = await self.accounts.get(user_id)
                if user is not None:
                    readers.put(self.reader_version, ("user", user_id), user)
            return user
        known = self.services.known_users
        user = known.get(version, user_id)
        if user is None:
            user = await self.accounts.get(user_id)
            if user is not None:
                known.put(version, user_id, user)
        return user

    @property
    def reader_version(self) -> Hashable:
        """The logged-in reader's version (``sns.reader_versions``), or None: their own
        state is kept under the site version (and after this request's own commit)."""
        return reader_version_read()

    @property
    def user(self) -> User:
        """The logged-in user; only for methods behind ``login_required``."""
        if not self.current_user:
            raise Unauthorized("Please log in first.")
        user: User = self.current_user
        return user

    @property
    def viewer_id(self) -> int | None:
        """Who is reading, for the parts of a page that differ per reader."""
        return self.current_user.id if self.current_user else None

    @functools.cached_property
    def client_ip(self) -> str:
        return client_ip(
            self.request.remote_ip or "", self.request.headers, self.config.trusted_proxies
        )

    @functools.cached_property
    def is_https(self) -> bool:
        """HTTPS on our socket, or reported by a trusted proxy (for the Secure cookie flag)."""
        if self.request.protocol == "https":
            return True
        headers = self.request.headers
        return (
            "X-Forwarded-Proto" in headers
            and headers["X-Forwarded-Proto"] == "https"
            and is_trusted(self.request.remote_ip or "", self.config.trusted_proxies)
        )

    @property
    def scheme(self) -> str:
        """``https`` or ``http`` as the browser sees this site (a trusted proxy's word
        counts): what every absolute URL is made with."""
        return "https" if self.is_https else "http"

    @property
    def site_url(self) -> str:
        """This site's origin as the browser sees it, e.g. ``https://sns.example.com``."""
        return f"{self.scheme}://{self.request.host}"

    def _set_session_cookie(self, session_id: str) -> None:
        self.set_signed_cookie(
            SESSION_COOKIE,
            session_id,
            expires_days=self.config.session_ttl / 86400,
            httponly=True,
            samesite="Lax",
            secure=self.is_https,
        )

    async def start_session(self, user: User) -> None:
        """Log ``user`` in under a new session id (the old one, if any, is dropped)."""
        self.session_id = await session_backends.rotate(
            self.sessions,
            self.session_id,
            {"user_id": user.id, "version": user.session_version},
        )
        self._set_session_cookie(self.session_id)

    async def end_session(self) -> None:
        if self.session_id:
            await self.sessions.delete(self.session_id)
        self.clear_cookie(SESSION_COOKIE)
        self.session_id = None

    def get_user_locale(self) -> tornado.locale.Locale | None:
        chosen = self.get_cookie(LOCALE_COOKIE)
        if chosen in SUPPORTED_LOCALES:
            return tornado.locale.get(chosen)
        return None

    # -- headers -----------------------------------------------------------------------

    def set_default_headers(self) -> None:
        set_common_headers(self)
        if self.is_https:
            self.set_header("Strict-Transport-Security", HSTS)
        if getattr(self, "_current_user", None):  # error pages are drawn after clear()
            self.set_header("Cache-Control", PRIVATE)

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | tuple[int, ...] | datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Every cookie is Secure when the page came over HTTPS, Tornado's ``_xsrf`` too."""
        super().set_cookie(
            name,
            value,
            domain,
            expires,
            path,
            expires_days,
            max_age=max_age,
            httponly=httponly,
            secure=secure or self.is_https,
            samesite=samesite,
            **kwargs,
        )

    @property
    def xsrf_token(self) -> bytes:
        """For a logged-in person a token bound to their session (``sns.xsrf``): a token
        and ``_xsrf`` cookie planted from elsewhere, or taken from another session, do
        not count. Logged out (log in, sign up), Tornado's own."""
        session_id = self.session_id
        if session_id is None:
            return super().xsrf_token
        if self._session_xsrf is None or self._session_xsrf[0] != session_id:
            token = session_token(self.settings["cookie_secret"], session_id)
            self._session_xsrf = (session_id, token.encode())
        return self._session_xsrf[1]

    def check_xsrf_cookie(self) -> None:
        """The XSRF token counts only from the form body or a header, never the URL, where
        it would leak into logs, history and Referer headers. With a session cookie it must
        be that session's token; without one, Tornado's check of the ``_xsrf`` cookie."""
        if "_xsrf" in self.request.query_arguments:
            raise HTTPError(403, "XSRF token in the query string")
        session_id = self.session_cookie()
        if session_id is None:
            super().check_xsrf_cookie()
            return
        token = (
            self.get_argument("_xsrf", None)
            or self.request.headers.get("X-Xsrftoken")
            or self.request.headers.get("X-Csrftoken")
        )
        if not token:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        if not is_session_token(self.settings["cookie_secret"], session_id, token):
            raise HTTPError(403, "XSRF token not of this session")

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Future[None]:
        if self.config.query_count_header and not self._headers_written and self._statements:
            self.set_header("X-SNS-Queries", str(self._statements.count))
        return super().finish(chunk)

    # -- input -------------------------------------------------------------------------

    def int_argument(self, name: str) -> int | None:
        """An optional positive integer query argument; anything else is a 400."""
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return None
        value = positive_int(raw)
        if value is None:
            raise HTTPError(400, reason=f"{name} must be a positive whole number")
        return value

    def redirect_to_next(self, default: str = "/") -> None:
        """Go back where the form said, but only to a path on this site (CWE-601)."""
        self.redirect(safe_next_url(self.get_argument("next", default), default))

    def wants_json(self) -> bool:
        accept = self.request.headers.get("Accept", "")
        return "application/json" in accept and "text/html" not in accept

    # -- errors ------------------------------------------------------------------------

    def tr(self, error: ServiceError) -> str:
        """A service error's message in the user's language."""
        return self.locale.translate(error.template).format(**error.params)

    def status_for(self, error: ServiceError) -> int:
        """Set the status (and ``Retry-After``) a service error stands for."""
        if isinstance(error, TooManyRequests):
            self.set_header("Retry-After", str(error.retry_after))
        if isinstance(error, RateLimited):
            self.set_rate_headers(error.place)
        return error.status

    def set_rate_headers(self, place: Place | None) -> None:
        """``RateLimit-*`` of a flood limit (``sns.floods``); None: exempt, no headers."""
        if place is not None:
            for name, value in place.headers().items():
                self.set_header(name, value)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and is_outage(exc_info[1]):
            kwargs["exc_info"] = (Unavailable, Unavailable(OUTAGE), exc_info[2])
        if kwargs.get("exc_info") and isinstance(kwargs["exc_info"][1], ServiceError):
            status_code = kwargs["exc_info"][1].status
        super().send_error(status_code, **kwargs)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Like Tornado's, but naming the path only: query strings can carry secrets."""
        method, path = self.request.method, self.request.path
        if value is not None and type(value).__module__.startswith("redis."):
            self.services.metrics.redis_error()
        if isinstance(value, ServiceError):
            log.info("%s %s -> %d: %s", method, path, value.status, value)
        elif value is not None and is_outage(value):
            first_line = (str(value).splitlines() or [""])[0][:200]
            log.warning("%s %s -> 503: %s %s", method, path, type(value).__name__, first_line)
        elif isinstance(value, HTTPError):
            if value.log_message:
                log.warning("%s %s -> %d: %s", method, path, value.status_code, value.get_message())
        else:
            log.error("uncaught exception in %s %s", method, path, exc_info=value)

    def error_message(self, status_code: int, exc: BaseException | None) -> str:
        if isinstance(exc, ServiceError):
            return self.tr(exc)
        if isinstance(exc, HTTPError) and exc.reason and status_code < 500:
            return self.locale.translate(exc.reason)
        return self.locale.translate(_DEFAULT_MESSAGES.get(status_code, "Something went wrong."))

    def error_headers(self, exc: BaseException | None) -> None:
        """Headers an error answer needs (called after ``send_error`` cleared them)."""
        if isinstance(exc, ServiceError):
            self.status_for(exc)
        if isinstance(exc, Unavailable):
            self.set_header("Retry-After", "5")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``{code, message}``: the one error shape of fetch calls and the API."""
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        self.error_headers(exc)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        body = {"code": status_code, "message": self.error_message(status_code, exc)}
        self.finish(json.dumps(body))


Method = Callable[..., Awaitable[None]]


def login_required(method: Method) -> Method:
    """Like ``tornado.web.authenticated``, but a logged-out POST gets a 401 (the login page,
    or ``{code: 401, message}`` for fetch) instead of a bare 403."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        if self.current_user:
            await method(self, *args, **kwargs)
            return
        if self.request.method in ("GET", "HEAD"):
            self.redirect(self.get_login_url() + "?" + urlencode({"next": self.request.uri}))
            return
        raise Unauthorized("Please log in first.")

    return wrapper
