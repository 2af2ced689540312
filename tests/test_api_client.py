"""``sns.client`` against running servers, and the example site ``python -m sns.client demo``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sns.client import (
    BadRequest,
    Gone,
    NotFound,
    Post,
    RateLimited,
    SNSClient,
    Unauthorized,
)
from testkit.base import free_port
from tests.api_support import JSON, demo_site, forged, good_claims, now, register_site

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def owner(server):
    client = server.client()
    details = client.join()
    return {"client": client, **details}


@pytest.fixture
def sns(server, owner) -> Iterator[SNSClient]:
    site = register_site(owner["client"], f"client-{uuid.uuid4().hex[:6]}.example")
    with SNSClient(server.url, site["clientSecret"]) as client:
        yield client


def write(owner, text: str) -> int:
    response = owner["client"].post("/post", {"content": text}, headers=JSON)
    assert response.status_code == 201
    return response.json()["payload"]["id"]


def test_the_client_imports_nothing_of_sns_but_itself():
    for path in (ROOT / "sns" / "client").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "sns" or name.startswith("sns.client"), (path, name)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, sns.client; print(json.dumps(list(sys.modules)))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours = sorted(name for name in json.loads(loaded) if name.split(".")[0] == "sns")
    assert ours == ["sns", "sns.client"]
    assert "tornado" not in loaded and "sqlalchemy" not in loaded


def test_typed_posts_and_a_cached_token(server, owner, sns):
    unique = "클라" + uuid.uuid4().hex[:6]
    first = write(owner, f"hello #{unique}")
    token = sns.token()
    page = sns.my_posts()
    assert sns.token() == token  # cached, not bought again
    assert [post.id for post in page] == [first]
    post = page.posts[0]
    assert isinstance(post, Post)
    assert post.user.nick == owner["nick"]
    assert post.hashtags == (unique.lower(),)
    assert post.created_at.tzinfo is not None
    assert post.thumbnail_url is None
    assert [p.id for p in sns.posts_by_hashtag("#" + unique)] == [first]
    assert sns.test()["nick"] == owner["nick"]
    assert int(sns.last_response.headers["RateLimit-Remaining"]) >= 0


def test_writing_paging_and_likes(server, owner, sns):
    written = [sns.create_post(f"by the client {i}").id for i in range(3)]
    assert [p.id for p in sns.all_my_posts(page_size=2)] == written[::-1]
    first = sns.my_posts(limit=2)
    assert len(first) == 2 and first.next_cursor == written[1]
    assert owner["client"].post(f"/post/{written[0]}/like", headers=JSON).status_code == 200
    assert [p.id for p in sns.my_likes()] == [written[0]]
    with pytest.raises(BadRequest, match="at most 140"):
        sns.create_post("x" * 141)


def test_clear_exceptions(server, sns):
    with pytest.raises(NotFound):
        sns.posts_by_hashtag("never-used-" + uuid.uuid4().hex)
    with SNSClient(server.url, "wrong secret") as wrong, pytest.raises(Unauthorized):
        wrong.my_posts()
    with SNSClient(server.url, sns.client_secret, version="v1") as old, pytest.raises(Gone):
        old.my_posts()


def test_an_expired_token_is_renewed_once_and_the_call_goes_through(server, owner, sns):
    expired = forged(server, good_claims(sns.token(), iat=now() - 3600, exp=now() - 60))
    sns._token = expired
    write(owner, "still here")
    assert [post.content for post in sns.my_posts()] == ["still here"]
    assert sns.token() != expired


def test_rate_limited_carries_the_retry_time(make_server):
    server = make_server("sqlite", SNS_RATE_FREE="2")
    owner = server.client()
    owner.join()
    site = register_site(owner, "busy.example")
    with SNSClient(server.url, site["clientSecret"]) as sns:
        sns.my_posts()
        sns.my_posts()
        with pytest.raises(RateLimited) as refused:
            sns.my_posts()
    assert 0 < refused.value.retry_after <= 60
    assert refused.value.status == 429


def test_the_origin_is_sent_like_a_browser_would(server, owner):
    host = f"origin-{uuid.uuid4().hex[:6]}.example"
    site = register_site(owner["client"], host)
    with SNSClient(server.url, site["clientSecret"], origin=f"https://{host}") as sns:
        sns.my_posts()
        assert sns.last_response.headers["Access-Control-Allow-Origin"] == f"https://{host}"


def test_the_demo_site_shows_my_posts_and_searches_hashtags(server, owner):
    port = free_port()
    site = register_site(owner["client"], f"127.0.0.1:{port}")
    unique = "데모" + uuid.uuid4().hex[:6]
    write(owner, f"<b>not bold</b> #{unique}")
    with demo_site(server.url, site["clientSecret"], port) as url:
        home = requests.get(url + "/", timeout=30)
        assert home.status_code == 200
        assert "&lt;b&gt;not bold&lt;/b&gt;" in home.text
        found = requests.get(url + "/search", params={"hashtag": unique}, timeout=30)
        assert "not bold" in found.text
        missing = requests.get(url + "/search", params={"hashtag": "nope" + unique}, timeout=30)
        assert "No post has used this hashtag." in missing.text
        browser_page = requests.get(url + "/browser", timeout=30)
        assert "src='/demo.js'" in browser_page.text
        assert requests.get(url + "/demo.js", timeout=30).status_code == 200


def test_the_demo_site_takes_a_secret_that_starts_with_a_dash(server):
    """Secrets made before the fix may start with "-"; ``--secret=...`` must still carry them."""
    port = free_port()
    with demo_site(server.url, "-" + uuid.uuid4().hex, port) as url:
        assert requests.get(url + "/browser", timeout=30).status_code == 200


def test_the_client_pages_through_notifications_and_marks_them_read(server, sns, owner):
    post_id = write(owner, "tell me")
    fan = server.client()
    fan.join()
    for number in range(3):
        fan.post(f"/comment/{post_id}", {"content": f"client {number}"}, headers=JSON)
    fan.post(f"/post/{post_id}/like", headers=JSON)
    first = sns.notifications(limit=2)
    assert first.unread_count == 4
    assert [n.kind for n in first] == ["like", "comment"]
    assert first.notifications[0].actor_count == 1 and first.notifications[0].post_id == post_id
    rest = sns.notifications(limit=2, cursor=first.next_cursor)
    assert [n.kind for n in rest] == ["comment", "comment"] and rest.next_cursor is None
    # Those up to the second one read: the newest (the like) stays unread.
    assert sns.read_notifications(up_to=first.notifications[1].cursor) == 1
    assert sns.read_notifications() == 0
    assert all(not n.unread for n in sns.notifications())
