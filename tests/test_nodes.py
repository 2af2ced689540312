"""Two nodes behind nginx: two ``run.py --processes 2`` on different ports, sharing MariaDB,
Redis and the secrets (as docs/deploy.md says), with Debian's nginx balancing over both on
loopback. Anything one node knows, the other must know too."""

from __future__ import annotations

import secrets

import pytest

from testkit.install import find_nginx
from testkit.nginx import NginxServer
from testkit.redis import RedisServer
from testkit.sns import Client, SnsServer, my_user_id
from tests.api_support import register_site, token_for
from tests.conftest import IN_CI, new_mariadb_url
from tests.images import jpeg, upload, wait_for

RATE_FREE = 6


def node_env(request, redis_url: str) -> dict[str, str]:
    """What every node shares: MariaDB, a Redis of their own (API quotas are keyed by site
    id, and ids repeat across the suite's databases), a bucket on moto, the secrets."""
    moto = request.getfixturevalue("s3_server")
    bucket = moto.new_bucket()
    return {
        **moto.sns_env(bucket),
        "SNS_DATABASE_URL": new_mariadb_url(request.getfixturevalue("mariadb")),
        "SNS_REDIS_URL": redis_url,
        "SNS_RATE_FREE": str(RATE_FREE),
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
        pytest.skip("nginx is not installed (python -m testkit --ensure)")
    redis = RedisServer(tmp_path_factory.mktemp("nodes-redis"))
    try:
        redis.start()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.fail(f"Redis did not start: {exc}")
    request.addfinalizer(redis.stop)
    env = node_env(request, redis.url)
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


def test_a_picture_uploaded_through_one_node_shows_through_the_other(nodes):
    node_a, node_b, proxy = nodes
    on_a = node_a.client()
    on_a.join()
    answer = upload(on_a, jpeg(800, 600))
    assert answer.status_code == 200, answer.text
    picture = answer.json()
    on_b = Client(node_b.url)
    through = Client(proxy.url)
    for client in (on_b, through):
        assert wait_for(client, picture["url"]).status_code == 200
        original = client.get(picture["originalUrl"])
        assert original.status_code == 200 and original.content[:2] == b"\xff\xd8"
    on_a.post("/post", {"content": "two nodes, one bucket", "url": picture["url"]})
    assert picture["url"] in on_b.get("/").text


def test_the_api_quota_is_one_count_across_nodes(nodes):
    """A free site's calls alternate between the nodes; the one over the quota gets 429
    on whichever node it reaches."""
    node_a, node_b, _ = nodes
    owner = node_a.client()
    owner.join()
    site = register_site(owner, "quota.example")
    token = token_for(node_b, site["clientSecret"])
    answers = []
    for index in range(RATE_FREE + 1):
        node = (node_a, node_b)[index % 2]
        response = Client(node.url).get("/v2/posts/my", headers={"Authorization": token})
        answers.append(response)
    assert [r.status_code for r in answers] == [200] * RATE_FREE + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    remaining = [int(r.headers["RateLimit-Remaining"]) for r in answers[:RATE_FREE]]
    assert remaining == list(range(RATE_FREE - 1, -1, -1))
