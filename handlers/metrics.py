"""GET /metrics for operators, and the count of every request answered.

``/metrics`` answers only addresses of ``SNS_METRICS_ALLOW`` (the client's address as the
trusted proxies resolve it, so nginx in front does not open it to everyone); anyone else,
and everyone while metrics are off, gets the ordinary 404 page.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import tornado.web
from tornado.routing import PathMatches
from tornado.web import HTTPError

from handlers.page import PageHandler
from sns.logs import log_request
from sns.metrics import Metrics
from sns.statements import start_counting

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a path no route matches (the 404 page)."""


class MetricsHandler(PageHandler):
    """GET /metrics: the node's numbers in Prometheus' text format."""

    async def prepare(self) -> None:
        """No session lookup: a scraper has none, and the answer is the same for all."""
        self._statements = start_counting()
        self.set_header("Cache-Control", "no-store")
        metrics = self.services.metrics
        if not metrics.enabled or not self._allowed():
            raise HTTPError(404)

    def _allowed(self) -> bool:
        try:
            address = ipaddress.ip_address(self.client_ip)
        except ValueError:
            return False
        return any(address in network for network in self.config.metrics_allow)

    async def get(self) -> None:
        accept = self.request.headers.get("Accept", "")
        body, content_type = self.services.metrics.exposition(accept)
        self.set_header("Content-Type", content_type)
        self.write(body)


class RouteLabels:
    """The route pattern a request was reached by: bounded labels (``/post/([0-9]+)``,
    not every post's path)."""

    def __init__(self) -> None:
        self._by_class: dict[type, list[tuple[re.Pattern[str], str]]] = {}

    def learn(self, app: tornado.web.Application) -> None:
        for rule in app.wildcard_router.rules:
            if isinstance(rule.matcher, PathMatches) and isinstance(rule.target, type):
                regex = rule.matcher.regex
                label = regex.pattern.removesuffix("$")
                self._by_class.setdefault(rule.target, []).append((regex, label))

    def __call__(self, handler: tornado.web.RequestHandler) -> str:
        routes = self._by_class.get(type(handler))
        if not routes:
            return UNMATCHED
        if len(routes) > 1:
            for regex, label in routes:
                if regex.match(handler.request.path):
                    return label
        return routes[0][1]


def request_logger(metrics: Metrics, labels: RouteLabels) -> Callable[[Any], None]:
    """Tornado's ``log_function``: the access line, and the request counted for /metrics."""
    if not metrics.enabled:
        return log_request

    def log_and_count(handler: Any) -> None:
        log_request(handler)
        request = handler.request
        method = request.method if request.method in METHODS else "other"
        metrics.request(labels(handler), method, handler.get_status(), request.request_time())

    return log_and_count


default_handlers = [(r"/metrics", MetricsHandler)]
