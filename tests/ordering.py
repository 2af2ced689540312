"""Longest files first: a run remembers how long each test file took (pytest's cache,
``sns/file-seconds``) and the next run collects the files in that order, longest first.

``make test`` hands whole files to its workers in collection order, so starting with the
long ones leaves the short ones to fill the gaps at the end instead of one worker finishing
a long file alone. It changes the order only, never what runs; files not timed yet (a new
file, a fresh checkout, CI) keep their place after the timed ones. tests/conftest.py
registers it.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

CACHE_KEY = "sns/file-seconds"


class FileOrder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        cache = getattr(self.config, "cache", None)
        known = cache.get(CACHE_KEY, {}) if cache is not None else {}
        if known:
            items.sort(key=lambda item: -known.get(item.nodeid.split("::", 1)[0], 0.0))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid.split("::", 1)[0]] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is None or hasattr(self.config, "workerinput") or not self.seconds:
            return  # xdist workers report to the controller, which keeps the times
        known = cache.get(CACHE_KEY, {})
        known.update({name: round(seconds, 2) for name, seconds in self.seconds.items()})
        cache.set(CACHE_KEY, known)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(FileOrder(config), "sns-file-order")
