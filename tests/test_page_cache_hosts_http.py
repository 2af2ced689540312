"""The page cache keeps pages only for the names the site is reached at (#17): a request
under any other ``Host`` is answered, but what was drawn for it is not kept, so made-up
(and 60 KB long) ``Host`` headers cannot fill a process's memory or push real pages out.

Whether an answer came from the cache shows in ``X-SNS-Queries``: an anonymous page served
again runs no SQL at all, on either backend.
"""

from __future__ import annotations

import pytest
import requests

from tests.api_support import call, register_site, token_for
from tests.conftest import BACKENDS


def statements(url: str, path: str, host: str) -> int:
    answer = requests.get(url + path, headers={"Host": host}, timeout=30)
    assert answer.status_code == 200
    return int(answer.headers["X-SNS-Queries"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_pages_asked_for_under_the_sites_own_names_are_kept(make_server, backend):
    server = make_server(
        backend, SNS_QUERY_COUNT_HEADER="true", SNS_SITE_HOSTS="sns.example.com, www.example.com"
    )
    port = server.port
    for host in ("sns.example.com", f"SNS.example.com:{port}", "www.example.com."):
        first = statements(server.url, "/hashtag?hashtag=hosts", host)
        assert first > 0, host  # drawn
        assert statements(server.url, "/hashtag?hashtag=hosts", host) == 0, host
    for host in ("evil.example", f"127.0.0.1:{port}", "h" * 60_000 + ".example"):
        for _round in range(2):
            assert statements(server.url, "/", host) > 0, host[:40]

    # The API's answers are kept by the same rule.
    owner = server.client()
    owner.join()
    token = token_for(server, register_site(owner, "hosts.example")["clientSecret"])
    for host, kept in (("sns.example.com", True), ("evil.example", False)):
        costs = []
        for _round in range(2):
            answer = call(server, "/v2/posts/my", token, headers={"Host": host})
            assert answer.status_code == 200, answer.text
            costs.append(int(answer.headers["X-SNS-Queries"]))
        assert (costs[1] == 0) is kept, (host, costs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unset_the_site_is_its_loopback_names_and_listening_address(make_server, backend):
    server = make_server(backend, SNS_QUERY_COUNT_HEADER="true")
    port = server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        statements(server.url, "/", host)
        assert statements(server.url, "/", host) == 0, host
    statements(server.url, "/", "sns.example.com")
    assert statements(server.url, "/", "sns.example.com") > 0
