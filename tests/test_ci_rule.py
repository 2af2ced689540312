"""The CI rule (tests/ci_rule.py) holds serially and across pytest-xdist workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
A_SKIP = (
    "import pytest\n\ndef test_fine():\n    pass\n\ndef test_skipped():\n    pytest.skip('no x')\n"
)
NO_SKIP = "def test_fine():\n    pass\n\ndef test_fine_too():\n    pass\n"


def run_pytest(tmp_path: Path, source: str, ci: bool, *args: str) -> subprocess.CompletedProcess:
    """pytest on one small file, with only the CI rule loaded from our tests."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_small.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    # Only xdist and the rule: the suite's other plugins (schemathesis, hypothesis...) would
    # take seconds to load in every worker.
    env.update(PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "xdist", "-p", "tests.ci_rule", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_skip_in_ci_fails_the_run(tmp_path, workers):
    result = run_pytest(tmp_path, A_SKIP, True, *workers)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 test(s) skipped; a skip in CI is a failure" in result.stdout


def test_a_run_without_skips_passes_in_ci(tmp_path):
    result = run_pytest(tmp_path, NO_SKIP, True, "-n", "2")
    assert result.returncode == pytest.ExitCode.OK, result.stdout


def test_outside_ci_a_skip_is_only_a_skip(tmp_path):
    result = run_pytest(tmp_path, A_SKIP, False)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "1 skipped" in result.stdout
