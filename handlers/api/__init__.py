"""The API for other sites (``/v1``, ``/v2``) and its description (``/api/...``)."""

from __future__ import annotations

from typing import Any

from handlers.api.base import APIFallbackHandler, APIGoneHandler
from handlers.api.docs import ApiDocsHandler, OpenApiHandler
from handlers.api.endpoints import versioned_routes
from sns.settings import Settings


def api_routes(settings: Settings) -> list[Any]:
    """v2 always; v1 served for real only when ``SNS_API_V1=on``, else 410 throughout."""
    v1: list[Any] = (
        list(versioned_routes("v1"))
        if settings.api_v1 == "on"
        else [(r"/v1(?:/.*)?", APIGoneHandler)]
    )
    return [
        *versioned_routes("v2"),
        *v1,
        (r"/v[12](?:/.*)?", APIFallbackHandler),
        (r"/api/openapi\.json", OpenApiHandler),
        (r"/api/docs", ApiDocsHandler),
    ]
