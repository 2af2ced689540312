"""Kakao login end to end: real SNS servers on both backends against a fake Kakao on loopback."""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select, update

import handlers.kakao as kakao_pages
import sns.kakao as kakao_module
from sns.accounts import AccountService, validate_nick
from sns.db import Database, utcnow
from sns.errors import BadGateway
from sns.kakao import KakaoClient, KakaoLogin, KakaoProfile, clean_nick, parse_profile
from sns.ratelimit import MemoryRateLimiter
from sns.schema import users
from sns.settings import Settings, SettingsError
from testkit.base import free_port
from testkit.kakao import FakeKakao, kakao_user
from testkit.sns import PASSWORD, Client, SnsServer
from tests.conftest import backend_env
from tests.test_text import BIDI_NICKS, INVISIBLE_NICKS, MULTI_LINE_NICKS

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite", "mariadb"]
LOGOUT_BUTTON = 'action="/auth/logout"'
NESTED = b"[" * 100_000 + b"]" * 100_000
KAKAO_BUTTON = 'href="/auth/kakao"'


@pytest.fixture(scope="module")
def fake_kakao() -> Iterator[FakeKakao]:
    fake = FakeKakao(client_secret="fake-client-secret").start()
    yield fake
    fake.stop()


@pytest.fixture
def kakao(fake_kakao: FakeKakao) -> FakeKakao:
    """The module's fake provider, back to a consenting user with a fresh Kakao id."""
    fake_kakao.reset()
    return fake_kakao


@pytest.fixture(scope="module", params=BACKENDS)
def site(request, fake_kakao, tmp_path_factory) -> Iterator[SnsServer]:
    """One SNS server per backend for the module, logging in with the fake provider.

    Tests that need other settings start their own with ``make_server``.
    """
    backend = request.param
    env = {**backend_env(backend, request), **fake_kakao.settings()}
    instance = SnsServer(tmp_path_factory.mktemp(f"kakao-{backend}"), env)
    instance.backend = backend
    instance.start()
    yield instance
    instance.stop()


def begin(client: Client) -> requests.Response:
    """GET /auth/kakao, not followed: the redirect to the provider."""
    return client.get("/auth/kakao", allow_redirects=False)


def consent(client: Client) -> str:
    """Go to the provider as a browser would; returns the callback URL it sends us back to."""
    to_provider = begin(client)
    assert to_provider.status_code == 302, to_provider.text
    at_provider = client.http.get(to_provider.headers["Location"], allow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    return at_provider.headers["Location"]


def log_in_with_kakao(client: Client) -> requests.Response:
    """The whole flow; returns the callback's answer (not followed)."""
    return client.http.get(consent(client), allow_redirects=False, timeout=30)


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


def user_rows(server: SnsServer, **where) -> list:
    """Rows of the users table matching ``column=value`` pairs."""
    query = select(users).where(*(users.c[key] == value for key, value in where.items()))
    with server.sql() as conn:
        return list(conn.execute(query.order_by(users.c.id)).all())


def user_count(server: SnsServer) -> int:
    with server.sql() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar_one()


def logged_in(client: Client) -> bool:
    return LOGOUT_BUTTON in client.get("/").text


def test_first_kakao_login_creates_a_kakao_user_and_logs_in(site, kakao):
    kakao.sign_in_as(4242001, nick="카카오친구", email="Friend@Kakao.example")
    client = site.client()

    done = log_in_with_kakao(client)

    assert done.status_code == 302
    assert done.headers["Location"] == "/"
    assert kakao.errors == []
    page = client.get("/")
    assert "카카오친구" in page.text
    assert LOGOUT_BUTTON in page.text
    [row] = user_rows(site, provider="kakao", sns_id="4242001")
    assert (row.nick, row.email, row.password_hash) == ("카카오친구", "friend@kakao.example", None)


def test_a_second_kakao_login_finds_the_same_user(site, kakao):
    kakao.sign_in_as(4242002, nick="again")
    assert log_in_with_kakao(site.client()).status_code == 302
    before = user_count(site)

    other_browser = site.client()
    assert log_in_with_kakao(other_browser).status_code == 302

    assert logged_in(other_browser)
    assert user_count(site) == before
    assert len(user_rows(site, provider="kakao", sns_id="4242002")) == 1


def test_the_redirect_to_kakao_carries_client_id_callback_code_and_a_random_state(site, kakao):
    first, second = begin(site.client()), begin(site.client())

    location = urlsplit(first.headers["Location"])
    query = {key: values[-1] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == kakao.url + "/oauth/authorize"
    assert query["client_id"] == kakao.client_id
    assert query["redirect_uri"] == site.url + "/auth/kakao/callback"
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 32
    assert query["state"] not in second.headers["Location"]
    cookie = next(
        c for c in first.raw.headers.getlist("Set-Cookie") if c.startswith("kakao_state=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/auth/kakao" in cookie
    assert "|" in cookie.split(";")[0], "the state cookie must be signed"
    assert "expires=" in cookie.lower()


def test_refused_consent_shows_a_message_creates_nothing_and_does_not_log_in(site, kakao):
    kakao.refuse = True
    client = site.client()
    before = user_count(site)

    answer = log_in_with_kakao(client)

    assert answer.status_code == 401
    assert "Kakao login was cancelled" in answer.text
    assert 'role="alert"' in answer.text
    assert [name for name, _ in kakao.seen] == ["authorize"]
    assert user_count(site) == before
    assert "sid" not in client.http.cookies
    assert not logged_in(client)


def test_messages_of_the_kakao_login_are_in_korean_for_korean_users(site, kakao):
    kakao.refuse = True
    client = site.client()
    client.http.cookies.set("locale", "ko_KR")

    answer = log_in_with_kakao(client)

    assert answer.status_code == 401
    assert "카카오 로그인이 취소되었습니다" in answer.text


@pytest.mark.parametrize(
    "how",
    ["tampered state", "missing state", "no state cookie", "state of another login attempt"],
)
def test_a_bad_or_missing_state_is_refused_without_a_session(site, kakao, how):
    victim = site.client()
    callback = consent(victim)
    if how == "tampered state":
        callback = with_query(callback, state="x" + parse_qs(urlsplit(callback).query)["state"][0])
    elif how == "missing state":
        callback = with_query(callback, state=None)
    elif how == "no state cookie":
        victim.http.cookies.clear()
    else:
        victim.http.cookies.clear()
        begin(victim)  # a new login started in this browser: a new state in the cookie
    before = user_count(site)

    answer = victim.http.get(callback, allow_redirects=False)

    assert answer.status_code == 400
    assert "The Kakao login expired or was not started here" in answer.text
    assert [name for name, _ in kakao.seen if name == "token"] == [], "the code was not used"
    assert user_count(site) == before
    assert "sid" not in victim.http.cookies
    assert not logged_in(victim)


def test_the_state_cookie_is_cleared_and_works_only_once(site, kakao):
    client = site.client()
    callback = consent(client)
    state_cookie = client.http.cookies.get("kakao_state")

    done = client.http.get(callback, allow_redirects=False)

    assert done.status_code == 302
    cleared = next(c for c in done.raw.headers.getlist("Set-Cookie") if "kakao_state=" in c)
    assert cleared.startswith('kakao_state="";') or cleared.startswith("kakao_state=;")
    assert "kakao_state" not in client.http.cookies
    replay = site.client()
    replay.http.cookies.set("kakao_state", state_cookie, path="/auth/kakao")
    assert replay.http.get(callback, allow_redirects=False).status_code == 502  # code used up
    assert "sid" not in replay.http.cookies


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ({"token_status": 500}, "Kakao did not answer"),
        ({"token_status": 400}, "Kakao refused the login"),
        ({"token_body": b"<html>oops</html>"}, "could not understand"),
        ({"token_body": b'{"token_type": "bearer"}'}, "could not understand"),
        ({"user_status": 401}, "Kakao refused the login"),
        ({"user_body": b"not json"}, "could not understand"),
        ({"user_body": b'{"properties": {"nickname": "no id"}}'}, "could not understand"),
        ({"user_body": b'{"id": true}'}, "could not understand"),
        # Nesting deep enough to exhaust the JSON parser's recursion was a 500 (#12).
        ({"token_body": NESTED}, "could not understand"),
        ({"user_body": NESTED}, "could not understand"),
        ({"user_body": b'{"id": 5, "kakao_account": ' + NESTED + b"}"}, "could not understand"),
        ({"token_status": 400, "token_body": NESTED}, "Kakao refused the login"),
        ({"user_status": 500, "user_body": NESTED}, "Kakao did not answer"),
    ],
)
def test_a_failing_or_nonsensical_provider_gives_a_502_page(site, kakao, breakage, message):
    for name, value in breakage.items():
        setattr(kakao, name, value)
    client = site.client()
    before = user_count(site)

    answer = log_in_with_kakao(client)

    assert answer.status_code == 502
    assert message in answer.text
    assert "Traceback" not in answer.text
    assert user_count(site) == before
    assert "sid" not in client.http.cookies


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unreachable_provider_gives_a_502_page(make_server, kakao, backend):
    nobody_listens = f"http://127.0.0.1:{free_port()}/oauth/token"
    server = make_server(backend, **kakao.settings(SNS_KAKAO_TOKEN_URL=nobody_listens))
    client = server.client()

    answer = log_in_with_kakao(client)

    assert answer.status_code == 502
    assert "Kakao did not answer" in answer.text
    assert "sid" not in client.http.cookies


def test_an_error_other_than_a_refusal_is_a_400_with_a_message(site, kakao):
    client = site.client()
    callback = with_query(consent(client), code=None, error="server_error")

    answer = client.http.get(callback, allow_redirects=False)

    assert answer.status_code == 400
    assert "Kakao could not log you in" in answer.text
    assert "sid" not in client.http.cookies


def test_a_callback_without_a_code_is_a_400(site, kakao):
    client = site.client()
    answer = client.http.get(with_query(consent(client), code=None), allow_redirects=False)
    assert answer.status_code == 400
    assert "Kakao did not send a login code" in answer.text
    assert "sid" not in client.http.cookies


@pytest.mark.parametrize("backend", BACKENDS)
def test_kakao_login_is_404_and_hidden_when_not_configured(make_server, backend):
    server = make_server(backend)
    client = server.client()
    assert client.get("/auth/kakao", allow_redirects=False).status_code == 404
    assert client.get("/auth/kakao/callback?code=x&state=y").status_code == 404
    assert KAKAO_BUTTON not in client.get("/").text
    assert KAKAO_BUTTON not in client.get("/login").text


def test_the_login_box_and_login_page_offer_kakao_when_configured(site):
    client = site.client()
    assert KAKAO_BUTTON in client.get("/").text
    assert KAKAO_BUTTON in client.get("/login").text
    korean = site.client()
    korean.http.cookies.set("locale", "ko_KR")
    assert "카카오 로그인" in korean.get("/login").text
    client.join()
    assert KAKAO_BUTTON not in client.get("/").text, "logged in: no login box"


def test_an_email_already_used_by_a_local_account_does_not_merge_accounts(site, kakao):
    local = site.client().join(email=f"shared{uuid.uuid4().hex[:6]}@example.com", nick="local")
    kakao.sign_in_as(4242003, nick="from kakao", email=local["email"].upper())
    client = site.client()

    assert log_in_with_kakao(client).status_code == 302

    page = client.get("/").text
    assert "from kakao" in page and "Hello, local" not in page
    [kakao_row] = user_rows(site, provider="kakao", sns_id="4242003")
    [local_row] = user_rows(site, email=local["email"])
    assert kakao_row.id != local_row.id
    assert kakao_row.email is None
    assert local_row.provider == "local" and local_row.nick == "local"
    assert site.client().login(local["email"], PASSWORD).status_code == 302


def test_a_kakao_user_cannot_log_in_with_a_password(site, kakao):
    email = f"k{uuid.uuid4().hex[:6]}@example.com"
    kakao.sign_in_as(4242004, email=email)
    assert log_in_with_kakao(site.client()).status_code == 302
    assert site.client().login(email, PASSWORD).status_code == 401
    assert site.client().login(email, "").status_code == 401


def test_a_nick_with_script_shows_as_text(site, kakao):
    kakao.sign_in_as(4242005, nick="<script>alert(1)</script>")
    client = site.client()
    assert log_in_with_kakao(client).status_code == 302

    page = client.get("/").text

    assert "&lt;script&gt;alert(1)&lt;/sc" in page
    assert "<script>alert" not in page
    [row] = user_rows(site, provider="kakao", sns_id="4242005")
    assert row.nick == "<script>alert(1)</sc"  # trimmed to 20 characters


def test_a_soft_deleted_kakao_user_is_refused_with_a_clear_message(site, kakao):
    kakao.sign_in_as(4242006, nick="gone soon")
    assert log_in_with_kakao(site.client()).status_code == 302
    with site.sql() as conn:
        conn.execute(update(users).where(users.c.sns_id == "4242006").values(deleted_at=utcnow()))
    client = site.client()
    before = user_count(site)

    answer = log_in_with_kakao(client)

    assert answer.status_code == 403
    assert "This account has been deleted" in answer.text
    assert user_count(site) == before
    assert "sid" not in client.http.cookies


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_configured_redirect_uri_and_client_secret_are_what_kakao_is_sent(
    make_server, kakao, backend
):
    redirect_uri = "https://sns.example/auth/kakao/callback"
    server = make_server(backend, **kakao.settings(SNS_KAKAO_REDIRECT_URI=redirect_uri))
    client = server.client()
    callback = consent(client)
    assert callback.startswith(redirect_uri + "?")
    # The browser would come back through the public host; here it talks to the server.
    answer = client.http.get(
        server.url + "/auth/kakao/callback?" + urlsplit(callback).query, allow_redirects=False
    )
    assert answer.status_code == 302, answer.text
    [(_, token_form)] = [(name, form) for name, form in kakao.seen if name == "token"]
    assert token_form["redirect_uri"] == redirect_uri
    assert token_form["client_secret"] == kakao.client_secret
    assert token_form["grant_type"] == "authorization_code"
    assert kakao.errors == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (kakao_user(17, "닉네임", "A@B.example"), KakaoProfile("17", "닉네임", "a@b.example")),
        (
            {"id": 18, "properties": {"nickname": "only props"}},
            KakaoProfile("18", "only props", None),
        ),
        ({"id": "19"}, KakaoProfile("19", "kakao user", None)),
        (kakao_user(20, "   "), KakaoProfile("20", "kakao user", None)),
        (kakao_user(21, "a" * 30), KakaoProfile("21", "a" * 20, None)),
        (kakao_user(22, "tab\tand\nnewline"), KakaoProfile("22", "tab and newline", None)),
        (
            {"id": 23, "kakao_account": {"email": "x@y.example", "is_email_verified": False}},
            KakaoProfile("23", "kakao user", None),
        ),
        (
            {"id": 24, "kakao_account": {"email": "not an email"}},
            KakaoProfile("24", "kakao user", None),
        ),
    ],
)
def test_kakao_profiles_are_read_leniently_but_safely(answer, expected):
    assert parse_profile(answer) == expected


@pytest.mark.parametrize(
    "answer", [[], {}, {"id": None}, {"id": True}, {"id": ""}, {"id": "9" * 65}]
)
def test_a_profile_without_a_usable_id_is_a_bad_gateway(answer):
    with pytest.raises(BadGateway):
        parse_profile(answer)


def test_nicks_lose_control_characters_and_keep_korean():
    assert clean_nick("새싹\x00개발자\x7f") == "새싹개발자"
    assert clean_nick(None) == "kakao user"


@pytest.mark.parametrize(
    ("raw", "nick"),
    [
        ("admin\u202egnp.exe", "admingnp.exe"),
        ("\u2066새싹\u2069", "새싹"),
        ("two\u2028lines\rhere\x85too", "two lines here too"),
        ("\u200b\u200d", "kakao user"),
        ("\u3164", "kakao user"),
        ("\u202e\u3164\u2800", "kakao user"),
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),
    ],
)
def test_kakao_nicks_are_cleaned_by_the_rules_of_sign_up(raw, nick):
    """What sign-up refuses, a Kakao nick loses; what is left, sign-up accepts (#12)."""
    assert clean_nick(raw) == nick
    validate_nick(clean_nick(raw))


@pytest.mark.parametrize("raw", [*BIDI_NICKS, *INVISIBLE_NICKS, *MULTI_LINE_NICKS, "\t\x00"])
def test_every_cleaned_kakao_nick_passes_the_sign_up_rules(raw):
    validate_nick(clean_nick(raw))


def test_kakao_settings_default_to_kakao_and_keep_the_secret_out_of_repr():
    settings = Settings.load(
        environ={"SNS_KAKAO_CLIENT_ID": "id", "SNS_KAKAO_CLIENT_SECRET": "s3cr3t-value"},
        dotenv_path=None,
    )
    assert settings.kakao_auth_url == "https://kauth.kakao.com/oauth/authorize"
    assert settings.kakao_token_url == "https://kauth.kakao.com/oauth/token"
    assert settings.kakao_user_url == "https://kapi.kakao.com/v2/user/me"
    assert settings.kakao_redirect_uri == ""
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SNS_KAKAO_AUTH_URL", "kauth.kakao.com/oauth/authorize"),
        ("SNS_KAKAO_TOKEN_URL", "ftp://kauth.kakao.com/oauth/token"),
        ("SNS_KAKAO_USER_URL", ""),
        ("SNS_KAKAO_REDIRECT_URI", "/auth/kakao/callback"),
    ],
)
def test_a_kakao_endpoint_that_is_not_an_http_url_names_its_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.load(environ={variable: value}, dotenv_path=None)


@pytest.fixture(params=BACKENDS)
async def kakao_service(request, tmp_path):
    """The service alone on a fresh database of each kind (no provider needed)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kakao.sqlite3'}"
    else:
        url = request.getfixturevalue("mariadb").create_database(
            f"sns_kakao_{uuid.uuid4().hex[:8]}"
        )
    db = Database(url)
    await db.migrate()
    accounts = AccountService(db, MemoryRateLimiter(), bcrypt_rounds=4)
    unused = "http://127.0.0.1:9/unused"
    client = KakaoClient("id", auth_url=unused, token_url=unused, user_url=unused)
    yield KakaoLogin(client, db, accounts)
    await db.dispose()


async def hold_connections(db: Database, count: int) -> None:
    """Open ``count`` pooled connections at once, so that later transactions start together."""

    async def hold() -> None:
        async with db.read() as conn:
            await conn.execute(select(1))
            await asyncio.sleep(0.05)

    await asyncio.gather(*(hold() for _ in range(count)))


async def test_concurrent_first_logins_of_one_kakao_account_make_one_user(kakao_service):
    # With a warm pool every MariaDB transaction reads "no such user" before the first one
    # commits, so all but one insert hit the unique keys and take the retry path. SQLite
    # serializes write transactions (BEGIN IMMEDIATE), so there they simply queue.
    await hold_connections(kakao_service.db, 8)
    profile = KakaoProfile("777000", "racer", "racer@example.com")

    found = await asyncio.gather(*(kakao_service.find_or_create(profile) for _ in range(8)))

    assert len({user.id for user in found}) == 1
    async with kakao_service.db.read() as conn:
        count = (
            await conn.execute(
                select(func.count()).select_from(users).where(users.c.sns_id == "777000")
            )
        ).scalar_one()
    assert count == 1
    assert found[0].email == "racer@example.com" and found[0].provider == "kakao"


def test_every_kakao_message_has_a_korean_translation():
    with open(ROOT / "locale" / "ko_KR.csv", encoding="utf-8") as source:
        korean = {row[0] for row in csv.reader(source) if row}
    messages = [
        kakao_module.UNREACHABLE,
        kakao_module.REFUSED,
        kakao_module.BAD_ANSWER,
        kakao_module.DELETED,
        kakao_module.BUSY,
        kakao_pages.BAD_STATE,
        kakao_pages.CANCELLED,
        kakao_pages.FAILED,
        kakao_pages.NO_CODE,
        "Log in with Kakao",
    ]
    assert [message for message in messages if message not in korean] == []
