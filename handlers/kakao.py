"""Kakao login (OAuth 2 authorization code with ``state``), on when a client id is set.

``GET /auth/kakao`` sends the browser to Kakao with a random ``state`` that is also kept
in a short-lived signed cookie; ``GET /auth/kakao/callback`` accepts Kakao's answer only
when the two match, so nobody can log a victim into the attacker's account by sending
them a callback link (login CSRF, RFC 6749 section 10.12).
"""

from __future__ import annotations

import hmac
import logging
import secrets

from tornado.web import HTTPError

from handlers.page import PageHandler
from sns.errors import Invalid, ServiceError, Unauthorized
from sns.kakao import KakaoLogin

log = logging.getLogger("sns.handlers")

STATE_COOKIE = "kakao_state"
STATE_COOKIE_PATH = "/auth/kakao"  # also covers /auth/kakao/callback, nothing else
STATE_MAX_AGE_DAYS = 10 / (24 * 60)  # ten minutes to get through Kakao's consent page
CALLBACK_PATH = "/auth/kakao/callback"

BAD_STATE = "The Kakao login expired or was not started here. Please try again."
CANCELLED = "Kakao login was cancelled: you did not agree to share your Kakao account."
FAILED = "Kakao could not log you in. Please try again."
NO_CODE = "Kakao did not send a login code. Please try again."


class KakaoBaseHandler(PageHandler):
    """What both Kakao pages share: the service (404 when off) and the callback URL."""

    @property
    def kakao_login(self) -> KakaoLogin:
        """The service; Kakao's pages are 404 when it is not configured."""
        if self.kakao is None:
            raise HTTPError(404)
        return self.kakao

    def redirect_uri(self) -> str:
        """The configured callback URL, else this site's own; Kakao checks it either way."""
        configured = self.config.kakao_redirect_uri
        if configured:
            return configured
        return f"{self.site_url}{CALLBACK_PATH}"

    def clear_state_cookie(self) -> None:
        self.clear_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)


class AuthKakaoHandler(KakaoBaseHandler):
    """GET /auth/kakao: remember a fresh ``state`` and go to Kakao's consent page."""

    def get(self) -> None:
        kakao = self.kakao_login
        if self.current_user:
            self.redirect("/")
            return
        state = secrets.token_urlsafe(32)
        self.set_signed_cookie(
            STATE_COOKIE,
            state,
            expires_days=STATE_MAX_AGE_DAYS,
            path=STATE_COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=self.is_https,
        )
        self.set_header("Cache-Control", "no-store")
        self.redirect(kakao.authorize_url(self.redirect_uri(), state))


class AuthKakaoCallbackHandler(KakaoBaseHandler):
    """GET /auth/kakao/callback: check ``state``, then log in as the Kakao account's user."""

    async def get(self) -> None:
        kakao = self.kakao_login
        self.set_header("Cache-Control", "no-store")
        expected = self.get_signed_cookie(STATE_COOKIE, max_age_days=STATE_MAX_AGE_DAYS)
        self.clear_state_cookie()  # one use only, whatever happens next
        given = self.get_argument("state", "")
        if not expected or not given or not hmac.compare_digest(expected, given.encode()):
            await self.show_failure(Invalid(BAD_STATE))
            return
        error = self.get_argument("error", "")
        if error:
            log.info("kakao login: provider answered error=%s", error[:80])
            await self.show_failure(
                Unauthorized(CANCELLED) if error == "access_denied" else Invalid(FAILED)
            )
            return
        code = self.get_argument("code", "")
        if not code:
            await self.show_failure(Invalid(NO_CODE))
            return
        try:
            user = await kakao.login(code, self.redirect_uri())
        except ServiceError as exc:
            log.info("kakao login refused -> %d: %s", exc.status, exc)
            await self.show_failure(exc)
            return
        await self.start_session(user)
        self.redirect("/")

    async def show_failure(self, exc: ServiceError) -> None:
        """The login page with the reason, so the user can try again or log in otherwise."""
        await self.refuse(exc, "login.html", next_url="/")


default_handlers = [
    (r"/auth/kakao", AuthKakaoHandler),
    (r"/auth/kakao/callback", AuthKakaoCallbackHandler),
]
