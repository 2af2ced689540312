"""Two nodes behind nginx: two ``run.py --processes 2`` on different ports, sharing MariaDB,
Redis and the secrets (as docs/deploy.md says), with Debian's nginx balancing over both on
loopback. Anything one node knows, the other must know too."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import IN_CI, new_mariadb_url
from tests.services import NginxServer, find_nginx
from tests.sns_server import Client, SnsServer, my_user_id


def node_env(request) -> dict[str, str]:
    """What every node shares. Extension points: the images issue (#8) adds the S3 settings
    of a moto server here (SNS_S3_BUCKET, SNS_S3_ENDPOINT_URL, SNS_S3_PATH_STYLE,
    SNS_S3_REGION and AWS credentials), the API issue (#9) its rate-limit settings."""
    return {
        "SNS_DATABASE_URL": new_mariadb_url(request.getfixturevalue("mariadb")),
        "SNS_REDIS_URL": request.getfixturevalue("redis_server").url,
        "SNS_COOKIE_SECRET": secrets.token_urlsafe(40),
        "SNS_JWT_SECRET": secrets.token_urlsafe(40),
        "SNS_TRUSTED_PROXIES": "127.0.0.1",
        "SNS_SHUTDOWN_GRACE": "5",
    }


@pytest.fixture(scope="module")
def nodes(request, tmp_path_factory):
    """Two nodes of two workers each and nginx in front: (node_a, node_b, nginx)."""
    if find_nginx() is None:
        if IN_CI:
            pytest.fail("nginx is missing: .ci/run installs Debian's nginx-light")
        pytest.skip("nginx is not installed (python -m tests.services --ensure)")
    env = node_env(request)
    started = []
    try:
        for name in ("a", "b"):
            node = SnsServer(tmp_path_factory.mktemp(f"node-{name}"), env)
            node.args = ["--processes", "2"]
            started.append(node.start())
        proxy = NginxServer(tmp_path_factory.mktemp("nginx"), [node.port for node in started])
        proxy.start()
        yield started[0], started[1], proxy
        proxy.stop()
    finally:
        for node in started:
            node.stop()


def test_a_session_made_on_one_node_works_on_the_other_and_through_nginx(nodes):
    node_a, node_b, proxy = nodes
    on_a = node_a.client()
    on_a.join()
    me = on_a.user_id()

    on_b = Client(node_b.url)
    on_b.http.cookies = on_a.http.cookies
    assert my_user_id(on_b.get("/").text) == me

    through = Client(proxy.url)
    through.http.cookies = on_a.http.cookies
    upstreams, workers = set(), set()
    for _ in range(20):
        page = through.get("/")
        assert page.status_code == 200
        assert my_user_id(page.text) == me
        upstreams.add(page.headers["X-Upstream"])
        workers.add(page.headers["X-SNS-Worker"])
    assert upstreams == {f"127.0.0.1:{node_a.port}", f"127.0.0.1:{node_b.port}"}
    assert len(workers) >= 2


def test_a_post_written_through_nginx_shows_on_both_nodes(nodes):
    node_a, node_b, proxy = nodes
    through = Client(proxy.url)
    through.join()
    answer = through.write("#노드 written behind the proxy")
    assert answer.status_code == 302
    for node in (node_a, node_b):
        assert "written behind the proxy" in Client(node.url).get("/hashtag?hashtag=노드").text


# Extension points, for the lead to fill in when the images (#8) and API (#9) issues land:
# - a picture uploaded through node A (POST /post/img) shows through node B and through
#   nginx: add the moto S3 settings to node_env(), upload with a client on node_a.url, then
#   GET the returned url (or /img/<key>) on node_b.url and proxy.url;
# - the API rate limit is shared: register a free domain, get a v2 token, then send
#   SNS_RATE_FREE + 1 requests alternately to node_a.url and node_b.url (Origin of the
#   domain): the last one answers 429 with Retry-After on whichever node it reaches.
