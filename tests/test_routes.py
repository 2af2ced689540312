"""Ids in paths: up to 18 digits reach a handler, longer ones are no route (a 404)."""

from __future__ import annotations

import re

import pytest

from handlers import developers, pages, posts, social

ROUTES = [
    route[0] for module in (pages, posts, social, developers) for route in module.default_handlers
]
PATHS = [
    "/user/{id}",
    "/user/{id}/follow",
    "/post/{id}",
    "/post/{id}/edit",
    "/post/{id}/update",
    "/post/{id}/delete",
    "/post/{id}/like",
    "/comment/{id}",
    "/comment/reply/{id}",
    "/developers/domain/{id}/secret",
]


def routed(path: str) -> bool:
    return any(re.fullmatch(pattern, path) for pattern in ROUTES)


@pytest.mark.parametrize("path", PATHS)
def test_an_id_of_up_to_18_digits_is_routed_and_a_longer_one_is_not(path):
    assert routed(path.format(id="1"))
    assert routed(path.format(id="9" * 18))  # still fits a signed 64-bit column
    assert not routed(path.format(id="9" * 19))  # may not: no route, so a 404
    assert not routed(path.format(id="-1"))
