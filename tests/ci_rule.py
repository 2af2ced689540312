"""In CI (``CI=true``) a skipped test fails the run: a skip there means a service or a tool
the tests need is missing, which is a fault of the machine, not a pass.

tests/conftest.py imports the hook; tests/test_ci_rule.py loads this module alone as a
plugin (``-p tests.ci_rule``) into small pytest runs of its own. Under pytest-xdist the rule
is kept by the controller: its terminal reporter holds every worker's reports, skips too.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not IN_CI or hasattr(session.config, "workerinput"):
        return  # not CI, or an xdist worker: the controller sees all the skips
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(
            f"CI: {len(skipped)} test(s) skipped; a skip in CI is a failure.", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
