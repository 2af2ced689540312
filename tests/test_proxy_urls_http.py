"""Absolute URLs behind the documented HTTPS proxy (#17): nginx on a trusted address says
`X-Forwarded-Proto: https`, so a post's Open Graph tags and the API's picture URLs must say
https, or link previews and other sites load our pictures over plain HTTP (or not at all).
Plain HTTP, and a proxy header from anyone untrusted, still get http. The page cache keeps
the two apart."""

from __future__ import annotations

import re

import pytest

from testkit.sns import Client, SnsServer
from tests.api_support import call, register_site, token_for
from tests.conftest import BACKENDS
from tests.images import jpeg, upload, wait_for

HTTPS = {"X-Forwarded-Proto": "https"}
OG = re.compile(r'<meta property="(og:url|og:image)" content="([^"]+)">')


@pytest.fixture(params=BACKENDS)
def proxied(request: pytest.FixtureRequest, shared_server) -> SnsServer:
    """A server behind a proxy on loopback, as docs/deploy.md sets nginx up."""
    return shared_server(request.param, SNS_TRUSTED_PROXIES="127.0.0.1")


def post_with_picture(client: Client, content: str) -> tuple[int, dict]:
    answer = upload(client, jpeg(640, 480))
    assert answer.status_code == 200, answer.text
    picture = answer.json()
    assert wait_for(client, picture["url"]).status_code == 200
    made = client.post(
        "/post", {"content": content, "url": picture["url"]}, headers={"Accept": "application/json"}
    )
    assert made.status_code == 201, made.text
    return int(made.json()["payload"]["id"]), picture


def open_graph(html: str) -> dict[str, str]:
    return dict(OG.findall(html))


def test_a_post_page_behind_the_https_proxy_links_itself_and_its_picture_over_https(proxied):
    author = proxied.client()
    author.join()
    post_id, _picture = post_with_picture(author, "behind the proxy")
    host = proxied.url.removeprefix("http://")
    path = f"/post/{post_id}"
    reader = proxied.client()
    for round_number in range(2):  # drawn, then served again from the page cache
        for headers, scheme in ((HTTPS, "https"), ({}, "http")):
            tags = open_graph(reader.get(path, headers=headers).text)
            assert tags["og:url"] == f"{scheme}://{host}{path}", round_number
            assert tags["og:image"].startswith(f"{scheme}://{host}/img/"), round_number


def test_the_api_behind_the_https_proxy_gives_https_picture_urls(proxied):
    owner = proxied.client()
    owner.join()
    _post_id, picture = post_with_picture(owner, "for the api #proxied")
    token = token_for(proxied, register_site(owner, "proxied.example")["clientSecret"])
    host = proxied.url.removeprefix("http://")
    for _round in range(2):  # drawn, then served again from the answer cache
        for headers, scheme in ((HTTPS, "https"), ({}, "http")):
            for path in ("/v2/posts/my", "/v2/posts/hashtag/proxied"):
                answer = call(proxied, path, token, headers=headers)
                assert answer.status_code == 200, answer.text
                [post] = answer.json()["payload"]
                assert post["thumbnailUrl"] == f"{scheme}://{host}{picture['url']}", path
                assert post["originalUrl"] == f"{scheme}://{host}{picture['originalUrl']}", path


def test_a_proxy_header_from_an_untrusted_peer_changes_no_url(server):
    """The suite's servers trust only 192.0.2.1: a client's own header is not believed."""
    author = server.client()
    author.join()
    made = author.post("/post", {"content": "plain"}, headers={"Accept": "application/json"})
    path = f"/post/{made.json()['payload']['id']}"
    tags = open_graph(server.client().get(path, headers=HTTPS).text)
    assert tags["og:url"] == f"{server.url}{path}"
