"""/metrics (#22): Prometheus' text for every worker of a node, only for the allowed addresses.

The server here runs two processes (``--processes 2``) on SQLite with metrics on for
127.0.0.1; the counts of both must be in every answer, whichever worker gives it.
supervisor's workers are covered in tests/test_supervisor.py.
"""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.sns import Client, SnsServer
from tests.conftest import backend_env
from tests.images import jpeg, upload

CLOSE = {"Connection": "close"}  # a fresh connection per request: either worker may take it


@pytest.fixture(scope="module")
def node(request, tmp_path_factory):
    env = {
        **backend_env("sqlite", request),
        "SNS_METRICS_ALLOW": "127.0.0.1",
        "SNS_TRUSTED_PROXIES": "127.0.0.1",  # as behind nginx on the same machine
    }
    instance = SnsServer(tmp_path_factory.mktemp("metrics"), env)
    instance.args = ["--processes", "2"]
    instance.start()
    yield instance
    instance.stop()


def scrape(server: SnsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    answer = Client(server.url).get("/metrics", headers=CLOSE)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape_until(server: SnsServer, ready, seconds: float = 10) -> dict:
    """A scrape in which ``ready(samples)`` holds, or the last one after ``seconds``: a
    request is counted just after its answer is sent, so on a loaded machine the count of
    the last one may be a moment behind its answer."""
    deadline = time.monotonic() + seconds
    while not ready(samples := scrape(server)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return samples


def test_metrics_are_off_unless_an_address_is_allowed(shared_server):
    server = shared_server("sqlite")
    answer = Client(server.url).get("/metrics")
    assert answer.status_code == 404
    assert "sns_http_requests_total" not in answer.text


def test_the_counts_of_every_worker_are_in_one_answer(node):
    before = scrape(node)
    client = Client(node.url)
    workers = set()
    for _ in range(40):
        page = client.get("/", headers=CLOSE)
        assert page.status_code == 200
        workers.add(page.headers["X-SNS-Worker"])
    assert len(workers) == 2  # both processes answered some
    request = {"route": "/", "method": "GET", "status": "200"}

    def counted(samples: dict) -> float:
        return value(samples, "sns_http_requests_total", **request) - value(
            before, "sns_http_requests_total", **request
        )

    after = scrape_until(node, lambda samples: counted(samples) >= 40)
    assert counted(after) == pytest.approx(40)
    latency = "sns_http_request_duration_seconds_count"
    assert value(after, latency, route="/") - value(before, latency, route="/") == 40
    # An anonymous front page is kept: at most one miss per worker, the rest hits.
    hits = value(after, "sns_page_cache_lookups_total", kind="page", result="hit") - value(
        before, "sns_page_cache_lookups_total", kind="page", result="hit"
    )
    misses = value(after, "sns_page_cache_lookups_total", kind="page", result="miss") - value(
        before, "sns_page_cache_lookups_total", kind="page", result="miss"
    )
    assert hits + misses == 40 and misses <= 2


def test_requests_are_labelled_by_route_pattern_not_by_path(node):
    client = Client(node.url)
    assert client.get("/post/987654321", headers=CLOSE).status_code == 404
    assert client.get("/no/such/page", headers=CLOSE).status_code == 404
    post_404 = {"route": r"/post/(\d{1,18})", "method": "GET", "status": "404"}
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    samples = scrape_until(
        node,
        lambda samples: all(
            value(samples, "sns_http_requests_total", **labels) >= 1
            for labels in (post_404, unmatched)
        ),
    )
    assert value(samples, "sns_http_requests_total", **post_404) >= 1
    assert value(samples, "sns_http_requests_total", **unmatched) >= 1
    assert not any("987654321" in str(labels) for _, labels in samples)


def test_sign_up_upload_and_picture_jobs_are_counted(node):
    before = scrape(node)
    client = Client(node.url)
    client.join()
    picture = jpeg(400, 300)
    answer = upload(client, picture)
    assert answer.status_code == 200, answer.text
    refused = upload(client, b"not a picture at all")
    assert refused.status_code == 400

    def grown(samples: dict, name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    # An upload is counted once its answer has gone (``on_finish``).
    after = scrape_until(
        node,
        lambda samples: (
            grown(samples, "sns_uploads_total", result="stored") >= 1
            and grown(samples, "sns_uploads_total", result="refused") >= 1
        ),
    )

    def grew(name: str, **labels: str) -> float:
        return grown(after, name, **labels)

    assert grew("sns_uploads_total", result="stored") == 1
    assert grew("sns_uploads_total", result="refused") == 1
    assert grew("sns_upload_bytes_total") == len(picture)
    assert grew("sns_image_job_seconds_count", result="done") >= 1
    assert grew("sns_db_pool_wait_seconds_count") >= 3  # sign-up, the session, the upload
    # Nothing is in hand once the answers are out and the thumbnails made (off the request
    # path, they may still hold a connection for a moment): gauges back at zero on both.
    deadline = time.monotonic() + 20
    while value(after, "sns_db_pool_connections_in_use") or value(after, "sns_image_jobs_running"):
        assert time.monotonic() < deadline, "a connection or a picture job was never given back"
        time.sleep(0.2)
        after = scrape(node)
    assert value(after, "sns_bcrypt_queue") == 0


def test_an_address_not_allowed_gets_the_404_page_even_through_the_proxy(node):
    client = Client(node.url)
    # nginx on this machine forwards a stranger's request: the stranger is who asks.
    forwarded = client.get("/metrics", headers={**CLOSE, "X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 404
    assert "sns_http_requests_total" not in forwarded.text
    assert client.get("/metrics", headers=CLOSE).status_code == 200
