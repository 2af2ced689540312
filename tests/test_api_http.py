"""The API for other sites over HTTP, on both backends: /developers, tokens, endpoints, v1, CORS.

Rate limits have their own module (test_api_limits_http.py), the browser's view of CORS
too (test_api_browser.py).
"""

from __future__ import annotations

import gzip
import json
import re
import uuid
from urllib.parse import quote

import pytest
import requests

from testkit.sns import Client
from tests.api_support import (
    JSON,
    call,
    claims_of,
    forged,
    good_claims,
    now,
    register_site,
    token_for,
)


def tag() -> str:
    return "api" + uuid.uuid4().hex[:10]


@pytest.fixture
def site(client: Client, user) -> dict:
    return register_site(client, f"site-{uuid.uuid4().hex[:8]}.example")


@pytest.fixture
def token(server, site) -> str:
    return token_for(server, site["clientSecret"])


JSON_BODY = {"Content-Type": "application/json"}


def new_post(client: Client, text: str) -> int:
    response = client.post("/post", {"content": text}, headers=JSON)
    assert response.status_code == 201, response.text
    return response.json()["payload"]["id"]


# -- /developers ------------------------------------------------------------------------


def test_developers_page_needs_a_login(client: Client):
    response = client.get("/developers", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=%2Fdevelopers")
    refused = client.post("/developers/domain", {"host": "example.com", "type": "free"})
    assert refused.status_code == 401


def test_registering_a_site_shows_it_with_its_secret_to_its_owner_only(server, client, user):
    response = client.post(
        "/developers/domain", {"host": "Shop.Example.COM", "type": "premium"}, allow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/developers?done=added#site-")
    page = client.get(response.headers["Location"]).text
    [secret] = re.findall(r'<code class="client-secret">([^<]+)</code>', page)
    assert "shop.example.com" in page
    assert 'class="site-type">Premium<' in page
    assert "The site was registered." in page
    # At least 122 random bits: 43 URL-safe characters carry 256.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    other = server.client()
    other.join()
    assert secret not in other.get("/developers").text


def test_every_secret_is_different(client: Client, user):
    secrets = {register_site(client, f"s{i}.example")["clientSecret"] for i in range(5)}
    assert len(secrets) == 5


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("example.com", "example.com"),
        ("  Example.COM ", "example.com"),
        ("localhost:4000", "localhost:4000"),
        ("http://localhost:4000/", "localhost:4000"),
        ("https://www.example.com", "www.example.com"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
        ("[::1]:3000", "[::1]:3000"),
        ("한국.example", "xn--3e0b707e.example"),
    ],
)
def test_hosts_are_stored_the_way_browsers_send_them(client: Client, user, typed, stored):
    assert register_site(client, typed)["host"] == stored


@pytest.mark.parametrize(
    ("host", "tier", "status", "message"),
    [
        ("", "free", 400, "Enter a host such as example.com"),
        ("exa mple.com", "free", 400, "Enter a host such as example.com"),
        ("example.com/shop", "free", 400, "Enter a host such as example.com"),
        ("https://example.com/shop", "free", 400, "Enter a host such as example.com"),
        ("ftp://example.com", "free", 400, "Enter a host such as example.com"),
        ("user@example.com", "free", 400, "Enter a host such as example.com"),
        ("-bad.example", "free", 400, "Enter a host such as example.com"),
        ("a..b", "free", 400, "Enter a host such as example.com"),
        ("localhost:0", "free", 400, "Enter a host such as example.com"),
        ("localhost:65536", "free", 400, "Enter a host such as example.com"),
        ("localhost:", "free", 400, "Enter a host such as example.com"),
        ("a" * 64 + ".example", "free", 400, "Enter a host such as example.com"),
        ("example.com", "gold", 400, "Choose the free or the premium plan."),
    ],
)
def test_bad_sites_are_refused_with_a_message(client: Client, user, host, tier, status, message):
    response = client.post("/developers/domain", {"host": host, "type": tier}, headers=JSON)
    assert response.status_code == status
    assert message in response.json()["message"]
    page = client.post("/developers/domain", {"host": host, "type": tier})
    assert page.status_code == status
    assert message in page.text
    assert 'aria-invalid="true"' in page.text or tier == "gold"


def test_the_same_host_twice_is_a_conflict(client: Client, user):
    register_site(client, "twice.example")
    response = client.post("/developers/domain", {"host": "TWICE.example"}, headers=JSON)
    assert response.status_code == 409
    assert "already registered twice.example" in response.json()["message"]


def test_korean_page_and_messages(client: Client, user):
    client.http.cookies.set("locale", "ko_KR")
    page = client.get("/developers").text
    assert "사이트 등록" in page
    response = client.post("/developers/domain", {"host": "a b"}, headers=JSON)
    assert "example.com" in response.json()["message"]
    assert "호스트" in response.json()["message"]


def test_rotating_a_secret_stops_the_old_secret_and_its_tokens(server, client, site, token):
    old = site["clientSecret"]
    response = client.post(f"/developers/domain/{site['id']}/secret", headers=JSON)
    assert response.status_code == 200
    new = response.json()["payload"]["clientSecret"]
    assert new != old
    assert call(server, "/v2/test", token).status_code == 401
    refused = call(server, "/v2/token", method="POST", json={"clientSecret": old})
    assert refused.status_code == 401
    assert call(server, "/v2/test", token_for(server, new)).status_code == 200


def test_deleting_a_site_stops_its_secret_and_tokens(server, client, site, token):
    response = client.post(f"/developers/domain/{site['id']}/delete", allow_redirects=False)
    assert response.status_code == 302
    assert site["clientSecret"] not in client.get("/developers").text
    assert call(server, "/v2/posts/my", token).status_code == 401
    again = call(server, "/v2/token", method="POST", json={"clientSecret": site["clientSecret"]})
    assert again.status_code == 401


def test_nobody_else_can_rotate_or_delete_my_site(server, site, token):
    stranger = server.client()
    stranger.join()
    for action in ("secret", "delete"):
        response = stranger.post(f"/developers/domain/{site['id']}/{action}", headers=JSON)
        assert response.status_code == 404
    assert call(server, "/v2/test", token).status_code == 200


def test_an_unknown_site_action_is_a_400_and_deletes_nothing(server, client, site, token):
    response = client.post(f"/developers/domain/{site['id']}/remove", headers=JSON)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "There is no such action."}
    page = client.post(f"/developers/domain/{site['id']}/purge", allow_redirects=False)
    assert page.status_code == 400
    assert "There is no such action." in page.text
    assert site["clientSecret"] in client.get("/developers").text
    assert call(server, "/v2/test", token).status_code == 200


def test_deleting_the_account_stops_its_tokens(server, client, user, site, token):
    response = client.post("/account/delete", {"password": user["password"]}, allow_redirects=False)
    assert response.status_code == 302
    assert call(server, "/v2/test", token).status_code == 401
    again = call(server, "/v2/token", method="POST", json={"clientSecret": site["clientSecret"]})
    assert again.status_code == 401


# -- tokens -------------------------------------------------------------------------------


def test_a_token_speaks_for_the_site_owner_for_thirty_minutes(server, client, user, site):
    response = call(server, "/v2/token", method="POST", json={"clientSecret": site["clientSecret"]})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200 and body["message"]
    claims = claims_of(body["token"])
    assert claims["iss"] == "sns"
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert abs(claims["iat"] - now()) < 60
    assert (claims["id"], claims["nick"]) == (client.user_id(), user["nick"])
    assert (claims["domain"], claims["tier"]) == (site["id"], "free")
    assert response.headers["Cache-Control"] == "no-store"


def test_a_token_can_be_asked_for_with_a_form_too(server, site):
    response = requests.post(
        server.url + "/v2/token", data={"clientSecret": site["clientSecret"]}, timeout=30
    )
    assert response.status_code == 200
    assert claims_of(response.json()["token"])["domain"] == site["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"json": {}}, 400),
        ({"json": {"clientSecret": ""}}, 400),
        ({"json": {"clientSecret": 5}}, 400),
        ({"json": ["clientSecret"]}, 400),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": {"clientSecret": "not-a-secret"}}, 401),
        ({"json": {"clientSecret": "x" * 5000}}, 401),
    ],
)
def test_bad_token_requests_get_json_errors(server, body, status):
    response = call(server, "/v2/token", method="POST", **body)
    assert response.status_code == status
    assert response.json()["code"] == status
    assert response.json()["message"]


DEEP = b"[" * 30_000 + b"]" * 30_000
HOSTILE_BODIES = {
    "nested 30,000 deep": DEEP,
    "nested 30,000 deep in the field": b'{"FIELD": ' + DEEP + b"}",
    "a lone surrogate": b'{"FIELD": "\\ud800"}',
    "a lone low surrogate in text": b'{"FIELD": "hello \\udc00 world"}',
    "not UTF-8": b'{"FIELD": "\xff\xfe"}',
}


@pytest.mark.parametrize("kind", HOSTILE_BODIES)
def test_hostile_json_to_the_token_endpoint_is_a_400_not_a_500(server, kind):
    body = HOSTILE_BODIES[kind].replace(b"FIELD", b"clientSecret")
    response = call(server, "/v2/token", method="POST", data=body, headers=JSON_BODY)
    assert response.status_code == 400, response.text
    assert response.json() == {"code": 400, "message": response.json()["message"]}
    assert response.json()["message"]


@pytest.mark.parametrize("kind", HOSTILE_BODIES)
def test_hostile_json_to_post_creation_is_a_400_and_stores_nothing(server, client, token, kind):
    body = HOSTILE_BODIES[kind].replace(b"FIELD", b"content")
    response = call(server, "/v2/posts", token, method="POST", data=body, headers=JSON_BODY)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 400
    assert response.json()["message"]
    assert call(server, "/v2/posts/my", token).json()["payload"] == []


def test_the_token_works_bare_and_as_bearer(server, token):
    for header in (token, f"Bearer {token}", f"bearer   {token}"):
        response = call(server, "/v2/test", headers={"Authorization": header})
        assert response.status_code == 200, header


def test_the_test_endpoint_shows_the_claims(server, site, token):
    body = call(server, "/v2/test", token).json()
    assert body["code"] == 200
    assert body["payload"]["domain"] == site["id"]
    assert body["payload"] == claims_of(token)


BAD_TOKENS = {
    "missing": lambda server, token: None,
    "empty": lambda server, token: "",
    "garbage": lambda server, token: "not.a.jwt",
    "alg none": lambda server, token: forged(server, claims_of(token), alg="none"),
    "HS512": lambda server, token: forged(server, claims_of(token), alg="HS512"),
    "wrong key": lambda server, token: forged(server, claims_of(token), key="k" * 40),
    "wrong issuer": lambda server, token: forged(server, good_claims(token, iss="nodebird")),
    "no exp": lambda server, token: forged(server, good_claims(token, exp=None)),
    "no iss": lambda server, token: forged(server, good_claims(token, iss=None)),
    "string id": lambda server, token: forged(server, good_claims(token, id="1")),
    "other user": lambda server, token: forged(
        server, good_claims(token, id=claims_of(token)["id"] + 1)
    ),
    "other secret": lambda server, token: forged(server, good_claims(token, sfp="0" * 24)),
    "tampered": lambda server, token: token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"),
    "ten-year life": lambda server, token: forged(
        server, good_claims(token, iat=now(), exp=now() + 10 * 365 * 86400)
    ),
    "life a second too long": lambda server, token: forged(
        server, good_claims(token, iat=now() - 5, exp=now() - 5 + 30 * 60 + 1)
    ),
    "issued in the future": lambda server, token: forged(
        server, good_claims(token, iat=now() + 3600, exp=now() + 3600 + 60)
    ),
    "no iat": lambda server, token: forged(server, good_claims(token, iat=None)),
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_every_bad_token_is_a_401(server, token, kind):
    bad = BAD_TOKENS[kind](server, token)
    response = call(server, "/v2/posts/my", bad)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_with_exactly_the_issued_life_is_accepted(server, token):
    issued = now() - 5
    full_life = forged(server, good_claims(token, iat=issued, exp=issued + 30 * 60))
    assert call(server, "/v2/posts/my", full_life).status_code == 200


def test_an_expired_token_is_a_419(server, token):
    expired = forged(server, good_claims(token, iat=now() - 3600, exp=now() - 10))
    response = call(server, "/v2/posts/my", expired)
    assert response.status_code == 419
    assert response.json() == {"code": 419, "message": response.json()["message"]}
    assert "expired" in response.json()["message"]


# -- endpoints ------------------------------------------------------------------------------


def test_my_posts_come_newest_first_with_their_whole_shape(server, client, user, token):
    unique = tag()
    first = new_post(client, f"first #{unique} #노드")
    second = new_post(client, "second, no tags")
    response = call(server, "/v2/posts/my", token)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200
    assert body["nextCursor"] is None
    assert [post["id"] for post in body["payload"]] == [second, first]
    post = body["payload"][1]
    assert post["content"] == f"first #{unique} #노드"
    assert post["hashtags"] == [unique, "노드"]
    assert post["user"] == {"id": client.user_id(), "nick": user["nick"], "avatarUrl": None}
    assert post["likeCount"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", post["createdAt"])
    assert (post["thumbnailUrl"], post["originalUrl"]) == (None, None)


def test_lists_are_paged_with_limit_and_cursor(server, client, user, token):
    written = [new_post(client, f"paged {i}") for i in range(5)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = call(server, "/v2/posts/my", token, params=params).json()
        seen += [post["id"] for post in body["payload"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == written[::-1]
    assert pages == 3


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "-1"}, {"cursor": "²"}]
)
def test_bad_paging_is_a_400(server, token, params):
    response = call(server, "/v2/posts/my", token, params=params)
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_a_limit_of_100_is_allowed(server, token):
    assert call(server, "/v2/posts/my", token, params={"limit": 100}).status_code == 200


def test_posts_by_hashtag_with_a_korean_url_encoded_title(server, client, user, token):
    unique = "태그" + uuid.uuid4().hex[:6]
    post_id = new_post(client, f"한글 #{unique}")
    other = server.client()
    other.join()
    other_id = new_post(other, f"someone else's #{unique.upper()}")
    response = call(server, "/v2/posts/hashtag/" + quote(unique), token)
    assert response.status_code == 200
    assert [post["id"] for post in response.json()["payload"]] == [other_id, post_id]
    with_hash = call(server, "/v2/posts/hashtag/" + quote("#" + unique.upper()), token)
    assert [post["id"] for post in with_hash.json()["payload"]] == [other_id, post_id]


def test_an_unknown_hashtag_is_a_404(server, token):
    for title in (tag(), quote("없는태그" + tag()), "x" * 300):
        response = call(server, "/v2/posts/hashtag/" + title, token)
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": "There is no such hashtag."}


def test_my_likes(server, client, user, token):
    other = server.client()
    other.join()
    liked = new_post(other, "like me")
    new_post(other, "not this one")
    assert client.post(f"/post/{liked}/like", headers=JSON).status_code == 200
    body = call(server, "/v2/posts/myLikes", token).json()
    assert [post["id"] for post in body["payload"]] == [liked]
    assert body["payload"][0]["likeCount"] == 1


def test_writing_a_post_for_the_site_owner(server, client, user, token):
    unique = tag()
    response = call(
        server, "/v2/posts", token, method="POST", json={"content": f"from my site #{unique}"}
    )
    assert response.status_code == 201
    post = response.json()["payload"]
    assert response.json()["code"] == 201
    assert post["user"]["id"] == client.user_id()
    assert post["hashtags"] == [unique]
    page = client.get("/hashtag", params={"hashtag": unique}).text
    assert f'data-post-id="{post["id"]}"' in page
    form = call(server, "/v2/posts", token, method="POST", data={"content": "form body"})
    assert form.status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"json": {"content": "   "}}, "Write something first."),
        ({"json": {"content": "가" * 141}}, "A post is at most 140 characters; this one has 141."),
        ({"json": {"content": "bell \x07"}}, "The post contains control characters."),
        ({"json": {"content": 140}}, "content must be a string."),
        ({"json": {}}, "Write something first."),
    ],
)
def test_posts_follow_the_page_rules(server, client, user, token, body, message):
    response = call(server, "/v2/posts", token, method="POST", **body)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": message}


def test_the_api_ignores_the_session_cookie(server, client, user):
    """A logged-in browser's cookie is not a token (and so needs no XSRF token either)."""
    response = client.http.get(server.url + "/v2/posts/my", timeout=30)
    assert response.status_code == 401
    posted = client.http.post(server.url + "/v2/posts", data={"content": "x"}, timeout=30)
    assert posted.status_code == 401


def test_unknown_api_paths_and_methods_answer_json(server, token):
    missing = call(server, "/v2/nothing/here", token)
    assert missing.status_code == 404
    assert missing.json()["code"] == 404
    wrong = call(server, "/v2/posts/my", token, method="DELETE")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == 405
    assert wrong.headers["Allow"] == "GET, HEAD, OPTIONS"


# -- v1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/token", "/v1/posts/my", "/v1/anything", "/v1"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_v1_is_gone_by_default(server, path, method):
    response = call(server, path, method=method, json={"clientSecret": "x"})
    assert response.status_code == 410
    body = response.json()
    assert body["code"] == 410
    assert "v2" in body["message"]


def test_v1_can_be_turned_back_on_with_one_minute_tokens(make_server):
    server = make_server("sqlite", SNS_API_V1="on")
    client = server.client()
    client.join()
    site = register_site(client, "v1.example")
    token = token_for(server, site["clientSecret"], "v1")
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 60
    new_post(client, "old clients still work")
    response = call(server, "/v1/posts/my", token)
    assert response.status_code == 200
    assert response.json()["payload"][0]["content"] == "old clients still work"
    assert call(server, "/v1/nothing", token).status_code == 404
    long_life = forged(server, good_claims(token, exp=claims["iat"] + 61))
    assert call(server, "/v1/posts/my", long_life).status_code == 401
    assert call(server, "/v2/test", token_for(server, site["clientSecret"])).status_code == 200


# -- CORS -------------------------------------------------------------------------------


def test_a_registered_origin_may_read_the_answers(server, client, user, token):
    host = f"cors-{uuid.uuid4().hex[:6]}.example:4000"
    register_site(client, host)
    origin = f"http://{host}"
    for path, tok in (("/v2/posts/my", token), ("/v2/posts/my", "bad"), ("/v1/posts/my", None)):
        response = call(server, path, tok, headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin, path
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "Origin" in response.headers["Vary"]
        assert "RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]


def test_a_kept_answer_goes_out_gzipped_and_varies_with_origin_too(server, client, user, token):
    """An API answer kept for the next call is sent gzipped to a client that takes it,
    the same JSON as plain, and says it varies with the encoding as well as the origin."""
    host = f"gz-{uuid.uuid4().hex[:6]}.example"
    register_site(client, host)
    headers = {"Origin": f"http://{host}"}
    plain = call(server, "/v2/posts/my", token, headers={**headers, "Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    zipped = call(
        server, "/v2/posts/my", token, headers={**headers, "Accept-Encoding": "gzip"}, stream=True
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    vary = {part.strip() for part in zipped.headers["Vary"].split(",")}
    assert {"Origin", "Accept-Encoding"} <= vary
    assert json.loads(gzip.decompress(zipped.raw.read(decode_content=False))) == plain.json()


def test_a_preflight_from_a_registered_origin_is_answered(server, client, user):
    host = f"pre-{uuid.uuid4().hex[:6]}.example"
    register_site(client, host)
    response = call(
        server,
        "/v2/token",
        method="OPTIONS",
        headers={
            "Origin": f"https://{host}",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == f"https://{host}"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    posts = call(server, "/v2/posts/my", method="OPTIONS", headers={"Origin": f"https://{host}"})
    assert posts.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    "origin", ["https://unregistered.example", "null", "https://example.com.evil.example", "junk"]
)
def test_any_other_origin_gets_no_cors_headers(server, client, user, token, origin):
    register_site(client, "example.com")
    for method in ("GET", "OPTIONS"):
        response = call(server, "/v2/posts/my", token, method=method, headers={"Origin": origin})
        assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_a_deleted_site_loses_its_origin(server, client, user, token):
    host = f"gone-{uuid.uuid4().hex[:6]}.example"
    site = register_site(client, host)
    client.post(f"/developers/domain/{site['id']}/delete", headers=JSON)
    response = call(server, "/v2/posts/my", token, headers={"Origin": f"https://{host}"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_request_without_origin_is_served_without_cors_headers(server, token):
    response = call(server, "/v2/posts/my", token)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_account_has_at_most_twenty_sites(client: Client, user):
    for number in range(20):
        register_site(client, f"many{number}.example")
    response = client.post("/developers/domain", {"host": "one-more.example"}, headers=JSON)
    assert response.status_code == 409
    assert response.json()["message"] == "You can register at most 20 sites."


def test_an_api_page_costs_the_same_queries_at_any_size(make_server):
    # Drawing is what is measured here, so nothing is kept for reuse.
    server = make_server("sqlite", SNS_QUERY_COUNT_HEADER="true", SNS_PAGE_CACHE_BYTES="0")
    owner = server.client()
    owner.join()
    token = token_for(server, register_site(owner, "count.example")["clientSecret"])
    origin = {"Origin": "https://count.example"}

    def cost(path: str) -> int:
        response = call(server, path, token, headers=origin)
        assert response.status_code == 200
        return int(response.headers["X-SNS-Queries"])

    paths = ("/v2/posts/my", "/v2/posts/myLikes", "/v2/posts/hashtag/qc")
    new_post(owner, "#qc one")
    small = {path: cost(path) for path in paths}
    for number in range(25):
        post_id = new_post(owner, f"#qc post {number}")
        owner.post(f"/post/{post_id}/like", headers=JSON)
    assert {path: cost(path) for path in paths} == small
    # Reads of the origin, the token's site, the page with its pictures (one SELECT more
    # in the same read), and the tag's id for a hashtag; on SQLite each read is a BEGIN
    # and its SELECTs.
    assert small == {"/v2/posts/my": 7, "/v2/posts/myLikes": 7, "/v2/posts/hashtag/qc": 9}


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_an_api_answer_is_kept_until_the_site_changes(make_server, backend):
    server = make_server(backend, SNS_QUERY_COUNT_HEADER="true")
    owner = server.client()
    owner.join()
    site = register_site(owner, "kept.example")
    token = token_for(server, site["clientSecret"])
    tag = "kept" + uuid.uuid4().hex[:6]
    first = new_post(owner, f"#{tag} one")
    paths = ("/v2/posts/my", "/v2/posts/myLikes", f"/v2/posts/hashtag/{tag}")
    for path in paths:
        call(server, path, token)
        again = call(server, path, token)
        assert again.status_code == 200 and int(again.headers["X-SNS-Queries"]) == 0, path
    second = new_post(owner, f"#{tag} two")
    owner.post(f"/post/{first}/like", headers=JSON)
    for path in paths:
        ids = [post["id"] for post in call(server, path, token).json()["payload"]]
        assert ids == ([first] if path.endswith("myLikes") else [second, first]), path
    # A new secret ends the old token at once, though this process kept the site's row.
    assert call(server, "/v2/posts/my", token).status_code == 200
    assert owner.post(f"/developers/domain/{site['id']}/secret", headers=JSON).status_code == 200
    assert call(server, "/v2/posts/my", token).status_code == 401
