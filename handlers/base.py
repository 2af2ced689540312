"""BaseHandler: session -> current_user, locale, security headers, and one way to fail."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import tornado.locale
from tornado.web import HTTPError, RequestHandler, StaticFileHandler

from sns import sessions as session_backends
from sns.accounts import ProfileCounts, User
from sns.errors import ServiceError, TooManyRequests, Unauthorized
from sns.net import client_ip, is_trusted, safe_next_url
from sns.services import Services
from sns.text import positive_int

log = logging.getLogger("sns.handlers")

SESSION_COOKIE = "sid"
LOCALE_COOKIE = "locale"
SUPPORTED_LOCALES = ("en_US", "ko_KR")
WORKER = str(os.getpid())


def _csp(image_origin: str) -> str:
    images = "'self' data:" + (f" {image_origin}" if image_origin else "")
    return "; ".join(
        (
            "default-src 'self'",
            f"img-src {images}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def set_common_headers(handler: RequestHandler) -> None:
    """Headers every response carries, pages and static files alike (helmet's set)."""
    handler.set_header("X-SNS-Worker", WORKER)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "strict-origin-when-cross-origin")
    handler.set_header("Cross-Origin-Opener-Policy", "same-origin")
    handler.set_header("Content-Security-Policy", _csp(handler.settings.get("image_origin", "")))
    handler.clear_header("Server")


class StaticHandler(StaticFileHandler):
    """Static files with the same headers as pages."""

    def set_default_headers(self) -> None:
        set_common_headers(self)


class BaseHandler(RequestHandler):
    """Every page handler's parent; only Tornado's documented hooks are overridden."""

    session_id: str | None = None
    session: dict[str, Any] | None = None
    profile_counts: ProfileCounts | None = None

    @property
    def services(self) -> Services:
        return self.settings["services"]

    @property
    def client_ip(self) -> str:
        return client_ip(
            self.request.remote_ip or "",
            self.request.headers,
            self.services.settings.trusted_proxies,
        )

    @property
    def is_https(self) -> bool:
        """HTTPS on our socket, or reported by a trusted proxy (for the Secure cookie flag)."""
        if self.request.protocol == "https":
            return True
        return self.request.headers.get("X-Forwarded-Proto") == "https" and is_trusted(
            self.request.remote_ip or "", self.services.settings.trusted_proxies
        )

    def set_default_headers(self) -> None:
        set_common_headers(self)

    async def prepare(self) -> None:
        """Turn the signed session cookie into ``self.current_user``."""
        self._statements_at_start = self.services.db.statement_count
        max_age = self.services.settings.session_ttl / 86400 + 1
        raw = self.get_signed_cookie(SESSION_COOKIE, max_age_days=max_age)
        if not raw:
            return
        session_id = raw.decode("ascii", "replace")
        session = await self.services.sessions.get(session_id)
        user = None
        if session and session.get("user_id"):
            user = await self.services.accounts.get(int(session["user_id"]))
        if user is not None and session.get("version", 0) != user.session_version:
            await self.services.sessions.delete(session_id)
            user = None
        if user is None:
            self.clear_cookie(SESSION_COOKIE)
            return
        self.session_id, self.session = session_id, session
        self.current_user = user
        self.profile_counts = await self.services.accounts.profile_counts(user.id)
        if self.request.method == "GET":
            self._set_session_cookie(session_id)

    def finish(self, chunk: Any = None) -> Any:
        if self.services.settings.query_count_header and not self._headers_written:
            start = getattr(self, "_statements_at_start", self.services.db.statement_count)
            self.set_header("X-SNS-Queries", str(self.services.db.statement_count - start))
        return super().finish(chunk)

    def _set_session_cookie(self, session_id: str) -> None:
        self.set_signed_cookie(
            SESSION_COOKIE,
            session_id,
            expires_days=self.services.settings.session_ttl / 86400,
            httponly=True,
            samesite="Lax",
            secure=self.is_https,
        )

    async def start_session(self, user: User) -> None:
        """Log ``user`` in under a new session id (the old one, if any, is dropped)."""
        self.session_id = await session_backends.rotate(
            self.services.sessions,
            self.session_id,
            {"user_id": user.id, "version": user.session_version},
        )
        self._set_session_cookie(self.session_id)

    async def end_session(self) -> None:
        if self.session_id:
            await self.services.sessions.delete(self.session_id)
        self.clear_cookie(SESSION_COOKIE)
        self.session_id = self.session = None

    def get_user_locale(self) -> tornado.locale.Locale | None:
        chosen = self.get_cookie(LOCALE_COOKIE)
        if chosen in SUPPORTED_LOCALES:
            return tornado.locale.get(chosen)
        return None

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            profile_counts=self.profile_counts,
            locales=SUPPORTED_LOCALES,
            this_url=self.request.uri if self.request.method == "GET" else "/",
            next_url=self.request.uri if self.request.method == "GET" else "/",
            hashtag=None,
            email="",
        )
        return namespace

    @property
    def viewer_id(self) -> int | None:
        return self.current_user.id if self.current_user else None

    def answer(self, payload: dict[str, Any], *, status: int = 200, default: str = "/") -> None:
        """The end of an action: JSON for fetch calls, else back to the page it came from."""
        if self.wants_json():
            self.set_status(status)
            self.write({"code": status, "message": "ok", "payload": payload})
            return
        self.redirect_to_next(default)

    def tr(self, error: ServiceError) -> str:
        """A service error's message in the user's language."""
        return self.locale.translate(error.template).format(**error.params)

    def wants_json(self) -> bool:
        accept = self.request.headers.get("Accept", "")
        return "application/json" in accept and "text/html" not in accept

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

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], ServiceError):
            status_code = exc_info[1].status
            if isinstance(exc_info[1], TooManyRequests):
                self.set_header("Retry-After", str(exc_info[1].retry_after))
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ServiceError):
            log.info("%s %s -> %d: %s", self.request.method, self.request.path, value.status, value)
            return
        super().log_exception(typ, value, tb)

    def error_message(self, status_code: int, exc: BaseException | None) -> str:
        if isinstance(exc, ServiceError):
            return self.tr(exc)
        if isinstance(exc, HTTPError) and exc.reason and status_code < 500:
            return self.locale.translate(exc.reason)
        return self.locale.translate(_DEFAULT_MESSAGES.get(status_code, "Something went wrong."))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        message = self.error_message(status_code, exc)
        if self.wants_json():
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps({"code": status_code, "message": message}))
            return
        traceback = None
        if self.settings.get("serve_traceback") and "exc_info" in kwargs and status_code >= 500:
            import traceback as tb_module

            traceback = "".join(tb_module.format_exception(*kwargs["exc_info"]))
        try:
            html = self.render_string(
                "error.html",
                status_code=status_code,
                title=self.locale.translate(_phrase(status_code)),
                message=message,
                traceback=traceback,
            )
        except Exception:
            log.exception("the error page itself failed")
            html = f"<!doctype html><title>{status_code}</title><h1>{status_code}</h1>".encode()
        self.finish(html)


_DEFAULT_MESSAGES = {
    400: "The request was not understood.",
    403: "You are not allowed to do that.",
    404: "There is no such page.",
    405: "That action is not available here.",
    429: "Too many requests. Please wait a moment.",
}


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def login_required(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Like ``tornado.web.authenticated``, but a logged-out POST gets the login page with
    a 401 (or ``{code: 401, message}`` for fetch) instead of a bare 403."""

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


class NotFoundHandler(BaseHandler):
    """Every path no route matches: the 404 page."""

    async def prepare(self) -> None:
        await super().prepare()
        raise HTTPError(404)
