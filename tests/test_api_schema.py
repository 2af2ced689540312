"""The running app against its own OpenAPI document, with schemathesis, on both backends.

Every operation of /api/openapi.json gets generated requests (valid ones, and with the
coverage phase, edge and invalid ones) with a real token; every answer must be no 5xx,
have a documented status, content type, headers and body. Few examples per operation keep
the run well under a minute.
"""

from __future__ import annotations

import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from handlers.api.openapi import DOCUMENT
from tests.api_support import register_site, token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]


@pytest.fixture(scope="module")
def api_token(server) -> str:
    """A premium site's token, with posts, likes and hashtags for the lists to show."""
    owner = server.client()
    owner.join()
    site = register_site(owner, "schemathesis.example", "premium")
    for text in ("#schema first", "second #스키마", "third"):
        owner.post("/post", {"content": text})
    # Notifications for /v2/notifications to list: a follow, a like, a comment.
    fan = server.client()
    fan.join()
    owner_id = owner.user_id()
    fan.post(f"/user/{owner_id}/follow")
    post_id = int(re.search(r'data-post-id="(\d+)"', owner.get(f"/user/{owner_id}").text)[1])
    fan.post(f"/post/{post_id}/like")
    fan.post(f"/comment/{post_id}", {"content": "schema comment"})
    return token_for(server, site["clientSecret"])


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(server.url + "/api/openapi.json")


# Listed from the document in the repository, so each operation is a test of its own. The
# pytest plugin (``schema.parametrize``) does not run under pytest 9 (it reads a removed
# ``_nodeid``), hence Hypothesis driven by hand over each operation's strategy.
OPERATIONS = [(path, method) for path, item in DOCUMENT["paths"].items() for method in item]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_answer_matches_the_document(server, api_schema, api_token, path, method, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=8,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_conform(case):
        case.call_and_validate(
            base_url=server.url, headers={"Authorization": api_token}, checks=CHECKS, timeout=30
        )

    answers_conform()


def test_the_document_and_its_page_are_served(server):
    document = requests.get(server.url + "/api/openapi.json", timeout=30)
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    paths = set(document.json()["paths"])
    assert {"/v2/token", "/v2/posts/my", "/v2/posts/hashtag/{title}", "/v2/posts"} <= paths
    page = requests.get(server.url + "/api/docs", timeout=30)
    assert page.status_code == 200
    for path in paths:
        assert f'<code class="api-path">{path}</code>' in page.text
    # Nothing from another host (no CDN): every link and script is our own.
    addresses = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert addresses and all(a.startswith(("/", "#")) for a in addresses), addresses
