"""Sign-up, login, logout and sessions over HTTP, on both backends."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from tornado.web import decode_signed_value

from testkit.sns import PASSWORD, Client, my_user_id


def test_sign_up_logs_the_new_user_in_and_shows_the_profile_box(client: Client):
    who = client.join(nick="새싹개발자")
    page = client.get("/")
    assert page.status_code == 200
    assert "새싹개발자" in page.text
    assert 'action="/auth/logout"' in page.text
    assert 'class="following-count">0<' in page.text
    assert 'class="follower-count">0<' in page.text
    assert '<p class="greeting">Hello, 새싹개발자</p>' in page.text
    assert 'class="login-box"' not in page.text
    # The profile box names the user by nick; the email is not shown on the page.
    assert who["email"] not in page.text


def test_session_cookie_is_signed_httponly_and_samesite_lax(server):
    client = server.client()
    email = f"c{uuid.uuid4().hex[:8]}@example.com"
    response = client.post(
        "/auth/join",
        {"email": email, "nick": "cookie", "password": PASSWORD},
        allow_redirects=False,
    )
    cookies = response.raw.headers.getlist("Set-Cookie")
    sid_part = next(cookie for cookie in cookies if cookie.startswith("sid="))
    assert "HttpOnly" in sid_part
    assert "SameSite=Lax" in sid_part
    assert "Secure" not in sid_part  # plain http on loopback
    assert "|" in sid_part.split(";")[0], "the cookie value must be signed"


def test_a_tampered_session_cookie_is_ignored(server):
    alice, bob = server.client(), server.client()
    alice.join()
    bob.join()
    # "2|1:0|10:<time>|3:sid|<n>:<session id, base64>|<signature>"
    fields = alice.http.cookies.get("sid").strip('"').split("|")
    bobs_session = bob.http.cookies.get("sid").strip('"').split("|")[4]

    def logged_in_with(fields: list[str]) -> bool:
        """Whether a browser holding only this sid cookie is logged in."""
        fresh = server.client()
        fresh.http.cookies.set("sid", "|".join(fields))
        return 'action="/auth/logout"' in fresh.get("/").text

    assert logged_in_with(fields), "the untouched cookie, alone, opens the session"
    signature = fields[5]
    other_signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not logged_in_with([*fields[:5], other_signature])
    # A live session id under a signature made for another: still nobody.
    assert not logged_in_with([*fields[:4], bobs_session, signature])


@pytest.mark.parametrize(
    ("email", "nick", "password", "status", "message", "field"),
    [
        ("", "nick", PASSWORD, 400, "Enter your email address.", "email"),
        ("not-an-email", "nick", PASSWORD, 400, "That does not look like an email", "email"),
        ("a@b", "nick", PASSWORD, 400, "That does not look like an email", "email"),
        ("x" * 250 + "@example.com", "nick", PASSWORD, 400, "does not look like", "email"),
        ("{unique}", "", PASSWORD, 400, "Enter a nickname.", "nick"),
        ("{unique}", "   ", PASSWORD, 400, "Enter a nickname.", "nick"),
        ("{unique}", "n" * 21, PASSWORD, 400, "at most 20 characters", "nick"),
        # Nicks that show as nothing, reorder the text around them, or break lines (#12).
        ("{unique}", "\u200b\u2060", PASSWORD, 400, "at least one visible character", "nick"),
        ("{unique}", "\u3164", PASSWORD, 400, "at least one visible character", "nick"),
        ("{unique}", "admin\u202egnp.exe", PASSWORD, 400, "text-direction controls", "nick"),
        ("{unique}", "a\u2067b", PASSWORD, 400, "text-direction controls", "nick"),
        ("{unique}", "two\rlines", PASSWORD, 400, "cannot contain line breaks", "nick"),
        ("{unique}", "two\u2028lines", PASSWORD, 400, "cannot contain line breaks", "nick"),
        ("{unique}", "nick", "short", 400, "at least 8 characters", "password"),
        ("{unique}", "nick", "", 400, "at least 8 characters", "password"),
        ("{unique}", "nick", "가" * 25, 400, "at most 72 bytes", "password"),
        ("{unique}", "nick", "a" * 73, 400, "at most 72 bytes", "password"),
    ],
)
def test_bad_sign_up_input_is_refused_with_a_clear_message_and_the_form_refilled(
    client: Client, email, nick, password, status, message, field
):
    if email == "{unique}":
        email = f"j{uuid.uuid4().hex[:8]}@example.com"
    response = client.post(
        "/auth/join", {"email": email, "nick": nick, "password": password}, allow_redirects=False
    )
    assert response.status_code == status
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text)
    if email and len(email) < 60:
        assert f'value="{email}"' in response.text
    assert "sid" not in client.http.cookies


def test_password_of_exactly_72_bytes_is_accepted_and_works_for_login(server):
    password = "가" * 24  # 72 bytes in UTF-8
    first = server.client()
    who = first.join(password=password)
    second = server.client()
    assert second.login(who["email"], password).status_code == 302
    assert second.login(who["email"], password[:-1] + "나").status_code == 401


TOO_LONG = "가" * 24 + "a"  # 73 bytes: bcrypt 5 refuses it (ValueError) instead of cutting it


def error_log(server) -> str:
    path = server.data_dir / "logs" / "error.log"
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_login_with_a_password_over_72_bytes_is_a_counted_400_with_the_sign_up_message(
    make_server, backend
):
    # With the bcrypt release `make run` installs (5.x) this was a 500 with a traceback (#12).
    server = make_server(backend, SNS_LOGIN_MAX_FAILURES="2")
    who = server.client().join()
    attacker = server.client()
    for password in (TOO_LONG, "x" * 200):
        response = attacker.login(who["email"], password)
        assert response.status_code == 400
        assert "The password is too long: at most 72 bytes" in response.text
        assert f'value="{who["email"]}"' in response.text
    # Both were counted as failed logins for the account.
    assert attacker.login(who["email"]).status_code == 429
    assert "Traceback" not in error_log(server) and '"trace"' not in error_log(server)


@pytest.mark.parametrize(
    ("path", "form", "field"),
    [
        ("/account/password", {"current": TOO_LONG, "new": "brand new 1"}, "current"),
        ("/account/delete", {"password": TOO_LONG}, "password"),
    ],
)
def test_a_password_over_72_bytes_in_account_settings_is_a_400(server, path, form, field):
    client = server.client()
    client.join()
    response = client.post(path, form, allow_redirects=False)
    assert response.status_code == 400
    assert "The password is too long: at most 72 bytes" in response.text
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text)
    assert 'action="/auth/logout"' in client.get("/").text  # still there, still logged in
    assert "Traceback" not in error_log(server) and '"trace"' not in error_log(server)


def test_duplicate_email_is_refused_even_with_other_letter_case(server):
    who = server.client().join()
    other = server.client()
    response = other.post(
        "/auth/join",
        {"email": who["email"].upper(), "nick": "again", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status_code == 409
    assert "already registered" in response.text


def test_login_with_email_in_other_case_works_and_redirects_to_next(server):
    who = server.client().join()
    client = server.client()
    response = client.post(
        "/auth/login",
        {"email": "  " + who["email"].upper(), "password": PASSWORD, "next": "/hashtag?hashtag=x"},
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/hashtag?hashtag=x"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        # Control characters and whitespace: browsers drop tabs and line breaks from URLs
        # (so "/\t/evil" is "//evil"), and Tornado refuses them in a header; these were
        # 500s after a successful login (#12).
        "/\x0b/x",
        "/\x0c",
        "/\x0c/x",
        "/\x7f",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "/\x00",
        "/\x85",
        "/a b",
        "/\u2028/evil.example",
    ],
)
def test_login_never_redirects_off_site(server, target):
    who = server.client().join()
    client = server.client()
    response = client.post(
        "/auth/login",
        {"email": who["email"], "password": PASSWORD, "next": target},
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_failed_login_does_not_say_whether_email_or_password_was_wrong(server):
    who = server.client().join()
    wrong_password = server.client().login(who["email"], "wrong password 1")
    unknown_email = server.client().login("nobody-" + who["email"], PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 401
    message = "The email or password is not right."
    assert message in wrong_password.text and message in unknown_email.text
    assert f'value="{who["email"]}"' in wrong_password.text


@pytest.mark.parametrize("form", [{}, {"email": ""}, {"password": PASSWORD}])
def test_login_with_missing_fields_is_a_401_page_not_a_crash(server, form):
    response = server.client().post("/auth/login", form, allow_redirects=False)
    assert response.status_code == 401
    assert "The email or password is not right." in response.text


def test_login_rotates_the_session_id_and_logout_forgets_the_session(server):
    who = server.client().join()
    client = server.client()
    assert client.login(who["email"]).status_code == 302
    first_sid = client.http.cookies.get("sid")
    assert client.login(who["email"]).status_code == 302
    second_sid = client.http.cookies.get("sid")
    assert first_sid != second_sid
    # The old id no longer opens the session.
    stale = server.client()
    stale.http.cookies.set("sid", first_sid)
    assert 'action="/auth/logout"' not in stale.get("/").text
    # Logging out removes the record: replaying the cookie afterwards is anonymous.
    assert client.logout().status_code == 302
    assert 'action="/auth/logout"' not in client.get("/").text
    replay = server.client()
    replay.http.cookies.set("sid", second_sid)
    assert 'action="/auth/logout"' not in replay.get("/").text


def test_repeated_failed_logins_for_one_account_are_refused_for_a_while(make_server):
    server = make_server("sqlite", SNS_LOGIN_MAX_FAILURES="3")
    who = server.client().join()
    attacker = server.client()
    statuses = [attacker.login(who["email"], f"guess {i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = attacker.login(who["email"], PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # Another account is not affected.
    other = server.client().join()
    assert server.client().login(other["email"]).status_code == 302


def test_failed_logins_are_counted_per_client_address_behind_a_trusted_proxy(make_server):
    server = make_server(
        "sqlite",
        SNS_TRUSTED_PROXIES="127.0.0.1",
        SNS_LOGIN_MAX_FAILURES_IP="3",
        SNS_LOGIN_MAX_FAILURES="1000",
    )
    client = server.client()
    who = client.join()

    def attempt(ip: str, password: str) -> int:
        return client.post(
            "/auth/login",
            {"email": who["email"], "password": password},
            headers={"X-Forwarded-For": ip},
            allow_redirects=False,
        ).status_code

    assert [attempt("203.0.113.7", "nope nope") for _ in range(3)] == [401, 401, 401]
    assert attempt("203.0.113.7", PASSWORD) == 429
    assert attempt("203.0.113.8", PASSWORD) == 302


def test_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(make_server):
    server = make_server("sqlite", SNS_LOGIN_MAX_FAILURES_IP="2", SNS_LOGIN_MAX_FAILURES="1000")
    client = server.client()
    who = client.join()
    statuses = [
        client.post(
            "/auth/login",
            {"email": who["email"], "password": "bad guess!"},
            headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"198.51.100.{i}"},
            allow_redirects=False,
        ).status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]


def session_id_of(server, client: Client) -> str:
    """The session id inside the client's signed ``sid`` cookie (re-signed as it slides)."""
    secret = json.loads((server.data_dir / "secrets.json").read_text())["cookie_secret"]
    cookie = client.http.cookies.get("sid").strip('"')
    return decode_signed_value(secret, "sid", cookie).decode()


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_session_survives_a_server_restart(make_server, backend):
    server = make_server(backend)
    client = server.client()
    client.join(nick="persistent")
    user_id, session_id = client.user_id(), session_id_of(server, client)
    first_process = server.process.pid
    server.restart()
    assert server.process.pid != first_process, "the server did not restart"
    page = client.get("/")
    assert 'action="/auth/logout"' in page.text
    assert '<p class="greeting">Hello, persistent</p>' in page.text
    assert my_user_id(page.text) == user_id
    assert session_id_of(server, client) == session_id, "the old session, not a new one"


def test_join_page_is_for_logged_out_users(client: Client):
    assert client.get("/join").status_code == 200
    client.join()
    response = client.get("/join", allow_redirects=False)
    assert response.status_code == 302


def test_forms_without_the_xsrf_token_are_refused(server):
    client = server.client()
    response = client.post(
        "/auth/join", {"email": "x@example.com", "nick": "x", "password": PASSWORD}, xsrf=False
    )
    assert response.status_code == 403
    forged = client.post(
        "/auth/login",
        {"email": "x@example.com", "password": PASSWORD, "_xsrf": "2|00000000|deadbeef|1"},
        xsrf=False,
    )
    assert forged.status_code == 403


@pytest.mark.parametrize("action", ["remove", "deactivate", "nickname"])
def test_an_unknown_account_action_is_a_400_and_changes_nothing(client: Client, action):
    client.join(nick="staying")
    fetched = client.post(
        f"/account/{action}", {"password": PASSWORD}, headers={"Accept": "application/json"}
    )
    assert fetched.status_code == 400
    assert fetched.json() == {"code": 400, "message": "There is no such action."}
    page = client.post(f"/account/{action}", {"password": PASSWORD}, allow_redirects=False)
    assert page.status_code == 400
    assert "There is no such action." in page.text
    home = client.get("/")
    assert 'action="/auth/logout"' in home.text and "staying" in home.text
