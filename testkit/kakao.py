"""A fake Kakao OAuth 2 provider on loopback, for running Kakao login end to end.

It speaks the three endpoints SNS uses, the way Kakao documents them, and checks what it
is sent as strictly as Kakao would (client id, secret, one-time code, same redirect_uri,
bearer token). Tests steer it per test: which account it returns, whether the user refuses
consent, and whether an endpoint fails. Anything it refuses is also noted in ``errors``
so that a test can tell "SNS sent a bad request" from "the fake was told to fail".

It is ``http.server`` in a background thread, bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HOST = "127.0.0.1"


def kakao_user(kakao_id: Any, nick: str | None = "kakao friend", email: str | None = None) -> dict:
    """A ``/v2/user/me`` answer shaped like Kakao's (nick in two places, email optional)."""
    account: dict[str, Any] = {"profile_nickname_needs_agreement": False}
    if nick is not None:
        account["profile"] = {"nickname": nick, "is_default_image": True}
    if email is not None:
        account.update(
            has_email=True,
            email_needs_agreement=False,
            is_email_valid=True,
            is_email_verified=True,
            email=email,
        )
    answer: dict[str, Any] = {
        "id": kakao_id,
        "connected_at": "2024-05-01T09:00:00Z",
        "kakao_account": account,
    }
    if nick is not None:
        answer["properties"] = {"nickname": nick}
    return answer


class FakeKakao:
    """The provider: start it, point SNS at ``settings()``, steer it, stop it."""

    def __init__(self, client_id: str = "fake-client-id", client_secret: str = "") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        """Back to a consenting user with a fresh id and working endpoints."""
        with self.lock:
            self.user: dict[str, Any] = kakao_user(secrets.randbelow(10**12) + 1)
            self.refuse = False
            self.token_status = 200
            self.token_body: bytes | None = None
            self.user_status = 200
            self.user_body: bytes | None = None
            self.codes: dict[str, tuple[str, dict[str, Any]]] = {}
            self.tokens: dict[str, dict[str, Any]] = {}
            self.seen: list[tuple[str, dict[str, str]]] = []
            self.errors: list[str] = []

    def sign_in_as(self, kakao_id: Any, nick: str | None = "kakao friend", email=None) -> None:
        """The account the next consent hands out."""
        with self.lock:
            self.user = kakao_user(kakao_id, nick, email)

    @property
    def url(self) -> str:
        assert self.server is not None, "start() first"
        return f"http://{HOST}:{self.server.server_address[1]}"

    def settings(self, **extra: str) -> dict[str, str]:
        """Environment for an SNS server that logs in with this provider."""
        env = {
            "SNS_KAKAO_CLIENT_ID": self.client_id,
            "SNS_KAKAO_AUTH_URL": self.url + "/oauth/authorize",
            "SNS_KAKAO_TOKEN_URL": self.url + "/oauth/token",
            "SNS_KAKAO_USER_URL": self.url + "/v2/user/me",
        }
        if self.client_secret:
            env["SNS_KAKAO_CLIENT_SECRET"] = self.client_secret
        env.update(extra)
        return env

    def start(self) -> FakeKakao:
        self.server = ThreadingHTTPServer((HOST, 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="fake-kakao", daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.server = self.thread = None

    # The endpoints, as pure functions of the request: (status, headers, body).

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.seen.append(("authorize", query))
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return self._refuse("authorize: unknown client_id", 400)
        if query.get("response_type") != "code":
            return self._refuse("authorize: response_type must be code", 400)
        if not redirect_uri.startswith(("http://", "https://")):
            return self._refuse("authorize: bad redirect_uri", 400)
        back = {"state": query["state"]} if "state" in query else {}
        if self.refuse:
            back = {"error": "access_denied", "error_description": "User denied access", **back}
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = (redirect_uri, self.user)
            back = {"code": code, **back}
        location = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(back)
        return 302, {"Location": location}, b""

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.seen.append(("token", form))
        if self.token_status != 200 or self.token_body is not None:
            body = self.token_body or _json({"error": "server_error", "error_code": "KOE000"})
            return self.token_status, {"Content-Type": "application/json"}, body
        if form.get("grant_type") != "authorization_code":
            return self._oauth_error("token: grant_type must be authorization_code")
        if form.get("client_id") != self.client_id:
            return self._oauth_error("token: unknown client_id", "invalid_client")
        if self.client_secret and form.get("client_secret") != self.client_secret:
            return self._oauth_error("token: wrong client_secret", "invalid_client")
        granted = self.codes.pop(form.get("code", ""), None)
        if granted is None:
            return self._oauth_error("token: unknown or used code")
        if form.get("redirect_uri") != granted[0]:
            return self._oauth_error("token: redirect_uri differs from the authorize one")
        access_token = secrets.token_urlsafe(24)
        self.tokens[access_token] = granted[1]
        answer = {
            "token_type": "bearer",
            "access_token": access_token,
            "expires_in": 21599,
            "refresh_token": secrets.token_urlsafe(24),
            "refresh_token_expires_in": 5183999,
        }
        return 200, {"Content-Type": "application/json;charset=UTF-8"}, _json(answer)

    def user_me(self, authorization: str) -> tuple[int, dict[str, str], bytes]:
        self.seen.append(("user", {}))
        scheme, _, token = authorization.partition(" ")
        profile = self.tokens.get(token) if scheme == "Bearer" else None
        if profile is None:
            self.errors.append("user: missing or unknown bearer token")
            return (
                401,
                {"Content-Type": "application/json"},
                _json({"msg": "no token", "code": -401}),
            )
        if self.user_status != 200 or self.user_body is not None:
            body = self.user_body if self.user_body is not None else b"{}"
            return self.user_status, {"Content-Type": "application/json"}, body
        return 200, {"Content-Type": "application/json;charset=UTF-8"}, _json(profile)

    def _refuse(self, reason: str, status: int) -> tuple[int, dict[str, str], bytes]:
        self.errors.append(reason)
        return status, {"Content-Type": "text/plain"}, reason.encode()

    def _oauth_error(self, reason: str, error: str = "invalid_grant"):
        self.errors.append(reason)
        body = _json({"error": error, "error_description": reason, "error_code": "KOE320"})
        return 400, {"Content-Type": "application/json"}, body


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _flat(query: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}


def _handler_for(fake: FakeKakao) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with fake.lock:
                if parts.path == "/oauth/authorize":
                    answer = fake.authorize(_flat(parts.query))
                elif parts.path == "/v2/user/me":
                    answer = fake.user_me(self.headers.get("Authorization", ""))
                else:
                    answer = (404, {}, b"not found")
            self.answer(*answer)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            with fake.lock:
                if urlsplit(self.path).path == "/oauth/token":
                    answer = fake.token(_flat(body))
                else:
                    answer = (404, {}, b"not found")
            self.answer(*answer)

        def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows the test's own output."""

    return Handler
