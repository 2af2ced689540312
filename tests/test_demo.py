"""`python run.py demo` fills an empty database so a newcomer sees a living site."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from testkit.sns import ROOT, SnsServer
from tests.conftest import backend_env


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_demo_data_fills_an_empty_database_once(request, tmp_path, backend):
    server = SnsServer(tmp_path / "demo", backend_env(backend, request))
    server.data_dir.mkdir(parents=True)
    command = [sys.executable, str(ROOT / "run.py"), "demo", "--env-file", ""]
    first = subprocess.run(
        command, env=server.environment(), capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert "demo-password" in first.stdout
    again = subprocess.run(
        command, env=server.environment(), capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert again.returncode == 1
    assert "already has users" in again.stderr
    server.start()
    try:
        client = server.client()
        home = client.get("/").text
        assert "제로초" in home and "노드버드" in home
        assert len(re.findall(r'class="comment reply"', home)) >= 2
        coffee = client.get("/hashtag", params={"hashtag": "커피"}).text
        assert len(re.findall(r'data-post-id="\d+"', coffee)) == 2
        assert client.login("zero@example.com", "demo-password").status_code == 302
        box = client.get("/").text
        assert 'class="following-count">2<' in box and 'class="follower-count">3<' in box
    finally:
        server.stop()
