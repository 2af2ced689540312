"""Kakao login: a small OAuth 2 client for Kakao and the service that turns a Kakao account
into a user of ours.

The provider's endpoints are settings, so the tests run the whole flow against a fake
provider on loopback. A Kakao user is a row with ``provider='kakao'`` and the Kakao id as
``sns_id``; it is never merged into a local account, even one with the same email, because
an email alone does not prove that both belong to the same person.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.httputil import url_concat

from sns import text
from sns.accounts import SUSPENDED, AccountService, User, normalize_email
from sns.db import Database, new_id, utcnow
from sns.errors import BadGateway, Conflict, Forbidden
from sns.handles import free_handle, handle_row
from sns.schema import users
from sns.settings import Settings

log = logging.getLogger("sns.kakao")

PROVIDER = "kakao"
FALLBACK_NICK = "kakao user"
SNS_ID_MAX_CHARS = 64  # users.sns_id

UNREACHABLE = "Kakao did not answer. Please try again in a moment."
REFUSED = "Kakao refused the login. Please try again."
BAD_ANSWER = "Kakao sent an answer we could not understand. Please try again later."
DELETED = "This account has been deleted and can no longer log in."
BUSY = "Logging in with Kakao did not go through. Please try again."


@dataclass(frozen=True)
class KakaoProfile:
    """What we keep of a Kakao account: its id, a usable nick, and a trustworthy email."""

    id: str
    nick: str
    email: str | None


def clean_nick(raw: object) -> str:
    """A nick that passes sign-up's rules (``validate_nick``), made from Kakao's.

    Kakao nicknames follow Kakao's rules, not ours, so they are cleaned rather than
    refused: line breaks and other spaces become one space, control and text-direction
    characters go, the rest is cut to 20 characters, and a nick with nothing visible
    left is replaced by ``FALLBACK_NICK``.
    """
    if not isinstance(raw, str):
        return FALLBACK_NICK
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in unicodedata.normalize("NFC", raw)
        if ch.isspace()
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in text.BIDI_CONTROLS)
    )
    nick = " ".join(kept.split())[: text.NICK_MAX_CHARS].strip()
    return FALLBACK_NICK if text.is_invisible(nick) else nick


def _clean_email(account: dict[str, Any]) -> str | None:
    """The account's email, unless it is missing, malformed, or Kakao says it is unverified."""
    raw = account.get("email")
    if not isinstance(raw, str):
        return None
    if account.get("is_email_valid") is False or account.get("is_email_verified") is False:
        return None
    email = normalize_email(raw)
    if len(email) > text.EMAIL_MAX_CHARS or not text.EMAIL_RE.match(email):
        return None
    return email


def parse_profile(data: object) -> KakaoProfile:
    """Read Kakao's ``/v2/user/me`` answer; without a usable ``id`` it is ``BadGateway``."""
    if not isinstance(data, dict):
        raise BadGateway(BAD_ANSWER)
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
        raise BadGateway(BAD_ANSWER)
    sns_id = str(raw_id).strip()
    if not sns_id or len(sns_id) > SNS_ID_MAX_CHARS:
        raise BadGateway(BAD_ANSWER)
    account = data.get("kakao_account")
    account = account if isinstance(account, dict) else {}
    profile = account.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    properties = data.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    nickname = profile.get("nickname")
    if not isinstance(nickname, str) or not nickname.strip():
        nickname = properties.get("nickname")
    return KakaoProfile(id=sns_id, nick=clean_nick(nickname), email=_clean_email(account))


def _loads(body: bytes) -> object:
    """JSON from the provider; ``ValueError`` for anything that is not, however it fails.

    Nesting deeper than the parser's recursion limit raises ``RecursionError``, not
    ``ValueError``: a provider (or whoever answers in its place) must not make that a
    500 (#12).
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_body(response: HTTPResponse, what: str) -> dict[str, Any]:
    try:
        data = _loads(response.body)
    except ValueError:
        log.warning("kakao %s: answer is not JSON (status %d)", what, response.code)
        raise BadGateway(BAD_ANSWER) from None
    if not isinstance(data, dict):
        log.warning("kakao %s: answer is not a JSON object", what)
        raise BadGateway(BAD_ANSWER)
    return data


def _provider_error(response: HTTPResponse) -> str:
    """Kakao's error code from an error answer, short and safe to log (no tokens in it)."""
    try:
        data = _loads(response.body)
    except ValueError:
        return "(not JSON)"
    if not isinstance(data, dict):
        return "(not an object)"
    parts = [str(data.get(key))[:80] for key in ("error", "error_code", "code") if key in data]
    return " ".join(parts) or "(no error code)"


class KakaoClient:
    """Kakao's three endpoints: authorize (for the browser), token and user info."""

    def __init__(
        self,
        client_id: str,
        *,
        client_secret: str = "",
        auth_url: str,
        token_url: str,
        user_url: str,
        timeout: float = 10.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_url = auth_url
        self.token_url = token_url
        self.user_url = user_url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"KakaoClient(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where to send the browser to ask the user's consent."""
        return url_concat(
            self.auth_url,
            {
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "state": state,
            },
        )

    async def _fetch(self, request: HTTPRequest, what: str) -> HTTPResponse:
        """The provider's 200 answer; anything else is a ``BadGateway`` for the user."""
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as exc:
            log.warning("kakao %s: %s: %s", what, type(exc).__name__, exc)
            raise BadGateway(UNREACHABLE) from None
        if response.code != 200:
            log.warning("kakao %s: status %d, %s", what, response.code, _provider_error(response))
            raise BadGateway(REFUSED if 400 <= response.code < 500 else UNREACHABLE)
        return response

    async def exchange_code(self, code: str, redirect_uri: str) -> str:
        """Trade the authorization code for an access token (RFC 6749, 4.1.3)."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "code": code,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        request = HTTPRequest(
            self.token_url,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
                "Accept": "application/json",
            },
            body=urlencode(form),
            connect_timeout=self.timeout,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        response = await self._fetch(request, "token")
        token = _json_body(response, "token").get("access_token")
        if not isinstance(token, str) or not token:
            log.warning("kakao token: no access_token in the answer")
            raise BadGateway(BAD_ANSWER)
        return token

    async def fetch_profile(self, access_token: str) -> KakaoProfile:
        """The account behind the access token."""
        request = HTTPRequest(
            self.user_url,
            method="GET",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            connect_timeout=self.timeout,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        response = await self._fetch(request, "user")
        data = _json_body(response, "user")
        try:
            return parse_profile(data)
        except BadGateway:
            log.warning("kakao user: no usable id in the answer")
            raise


class KakaoLogin:
    """Log in with Kakao: code -> token -> profile -> our user (found or created)."""

    def __init__(self, client: KakaoClient, db: Database, accounts: AccountService) -> None:
        self.client = client
        self.db = db
        self.accounts = accounts

    @classmethod
    def from_settings(
        cls, settings: Settings, db: Database, accounts: AccountService
    ) -> KakaoLogin | None:
        """The service, or None when no Kakao client id is configured (login is off)."""
        if not settings.kakao_client_id:
            return None
        client = KakaoClient(
            settings.kakao_client_id,
            client_secret=settings.kakao_client_secret,
            auth_url=settings.kakao_auth_url,
            token_url=settings.kakao_token_url,
            user_url=settings.kakao_user_url,
        )
        return cls(client, db, accounts)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return self.client.authorize_url(redirect_uri, state)

    async def login(self, code: str, redirect_uri: str) -> User:
        """The user for the Kakao account that granted ``code``; created on first login."""
        access_token = await self.client.exchange_code(code, redirect_uri)
        profile = await self.client.fetch_profile(access_token)
        return await self.find_or_create(profile)

    async def find_or_create(self, profile: KakaoProfile) -> User:
        """Our user for this Kakao account: found by (provider, sns_id), else created.

        Two first logins of one account at the same moment both find nothing and both
        insert; the unique key on (provider, sns_id) lets one win, and the loser finds the
        winner's row on its next round. The same goes for an email taken meanwhile.
        """
        for _ in range(3):
            try:
                user_id = await self._find_or_insert(profile)
            except IntegrityError:
                continue
            user = await self.accounts.get(user_id)
            if user is None:
                raise Forbidden(DELETED)
            return user
        raise Conflict(BUSY)

    async def _find_or_insert(self, profile: KakaoProfile) -> int:
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    select(users.c.id, users.c.deleted_at, users.c.suspended_at).where(
                        users.c.provider == PROVIDER, users.c.sns_id == profile.id
                    )
                )
            ).first()
            if row is not None:
                if row.deleted_at is not None:
                    raise Forbidden(DELETED)
                if row.suspended_at is not None:
                    raise Forbidden(SUSPENDED)
                return int(row.id)
            email = profile.email
            if email is not None:
                taken = (
                    await conn.execute(select(users.c.id).where(users.c.email == email))
                ).first()
                if taken is not None:
                    email = None
            result = await conn.execute(
                insert(users).values(
                    email=email,
                    nick=profile.nick,
                    password_hash=None,
                    provider=PROVIDER,
                    sns_id=profile.id,
                    created_at=utcnow(),
                    # Kakao asks for no handle: one is made as for a sign-up without one.
                    **handle_row(await free_handle(conn, profile.nick, email)),
                )
            )
            return new_id(result)
