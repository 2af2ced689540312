"""``run.py --processes N``, ``--fd``, ``SNS_MIGRATE=check`` and many workers starting
together: the single-binary ways to run more than one process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import requests

from sns.settings import RetiredSetting, Settings
from sns.supervise import supervisor_environment
from testkit.sns import ROOT, SnsServer
from tests.conftest import backend_env


def children(pid: int) -> set[int]:
    listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True)
    return {int(line) for line in listed.stdout.split()}


def run_py(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SNS_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args, "--env-file", ""],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_processes_mode_restarts_a_dead_worker_and_stops_them_all(tmp_path):
    server = SnsServer(tmp_path / "node", {"SNS_SHUTDOWN_GRACE": "5"})
    server.args = ["--processes", "2"]
    server.start()
    try:
        workers = server.workers(2)
        assert {int(pid) for pid in workers} == children(server.process.pid)
        victim = min(int(pid) for pid in workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(children(server.process.pid) - {victim}) < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        assert victim not in server.workers(2, timeout=30)
        pids = children(server.process.pid)
    finally:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    # One pair of log files per process, each line naming its worker: no shared file.
    logs = tmp_path / "node" / "logs"
    assert {"combined.main.log", "combined.w1.log", "combined.w2.log"} <= {
        path.name for path in logs.iterdir()
    }
    for number in (1, 2):
        lines = (logs / f"combined.w{number}.log").read_text().splitlines()
        assert lines and all(json.loads(line)["worker"] == f"w{number}" for line in lines)
    assert "died with -9; starting it again" in (logs / "combined.main.log").read_text()


def test_processes_mode_refuses_a_port_already_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_py(
            "--processes",
            "2",
            env={"SNS_DATA_DIR": str(tmp_path), "SNS_HOST": "127.0.0.1", "SNS_PORT": str(port)},
        )
    assert result.returncode == 2
    assert "cannot listen" in result.stderr


def test_fd_must_be_a_listening_socket(tmp_path):
    result = run_py("--fd", "0", env={"SNS_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "--fd 0: not a" in result.stderr


def test_serving_on_an_inherited_socket(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNS_")}
    env["SNS_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--fd", "0", "--env-file", ""],
        cwd=ROOT,
        env=env,
        stdin=listener.fileno(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert answer.headers["X-SNS-Worker"] == str(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0
    # On an inherited socket (supervisor) the logs are JSON lines on stdout.
    assert json.loads(output.splitlines()[0])["message"].startswith("SNS listening on")


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_check_mode_refuses_an_old_schema_until_migrate_has_run(request, backend, tmp_path):
    env = {**backend_env(backend, request), "SNS_DATA_DIR": str(tmp_path)}
    refused = run_py(env={**env, "SNS_MIGRATE": "check", "SNS_PORT": "0"})
    assert refused.returncode == 3
    assert "schema is at empty (no migration applied)" in refused.stderr
    assert "run `python run.py migrate` before starting the workers" in refused.stderr
    assert run_py("migrate", env=env).returncode == 0
    server = SnsServer(tmp_path / "after", {**env, "SNS_MIGRATE": "check"})
    server.start()
    server.stop()
    assert server.process.returncode == 0


def test_many_workers_starting_together_on_an_empty_mariadb_all_serve(request, tmp_path):
    env = backend_env("mariadb", request)  # one empty database for all of them
    servers = [SnsServer(tmp_path / f"w{n}", env) for n in range(4)]
    for server in servers:
        server.process = None
    starters = []
    for server in servers:
        server.data_dir.mkdir(parents=True)
        starters.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "--env-file", ""],
                cwd=ROOT,
                env=server.environment(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    try:
        for server, process in zip(servers, starters, strict=True):
            deadline = time.monotonic() + 90
            while True:
                assert process.poll() is None, process.stderr.read().decode()
                try:
                    if requests.get(server.url + "/healthz", timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with servers[0].sql() as sql:
            assert sql.exec_driver_sql("SELECT COUNT(*) FROM alembic_version").scalar() == 1
    finally:
        for process in starters:
            process.send_signal(signal.SIGTERM)
        assert [process.wait(timeout=30) for process in starters] == [0] * 4


def test_supervise_sets_every_variable_supervisord_conf_reads(tmp_path):
    settings = Settings.load(
        environ={"SNS_DATA_DIR": str(tmp_path), "SNS_SHUTDOWN_GRACE": "7", "SNS_PORT": "9100"},
        dotenv_path=None,
    )
    env = supervisor_environment(settings, environ={"PATH": "/usr/bin"})
    wanted = set(re.findall(r"%\(ENV_(\w+)\)s", (ROOT / "supervisord.conf").read_text()))
    assert wanted and wanted <= set(env)
    assert env["SNS_SUPERVISOR_WORKERS"] == str(os.cpu_count())  # one per core unless told
    assert env["SNS_STOP_WAIT"] == "12"  # the grace and 5 s to close the pools
    assert env["SNS_PORT"] == "9100" and env["SNS_MIGRATE"] == "check"
    assert env["SNS_RUN_DIR"] == str(tmp_path / "run")
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    given = Settings.load(environ={"SNS_SUPERVISOR_WORKERS": "3"}, dotenv_path=None)
    assert supervisor_environment(given, environ={})["SNS_SUPERVISOR_WORKERS"] == "3"


@pytest.mark.parametrize(
    ("environ", "supervised"),
    [
        ({"SNS_PROCESSES": "3"}, str(os.cpu_count())),  # run.py's count is not supervisor's
        ({"SNS_SUPERVISOR_WORKERS": "0"}, str(os.cpu_count())),
        ({"SNS_WORKERS": "3"}, "3"),  # an operator's old setting still counts, this release
        ({"SNS_WORKERS": "3", "SNS_SUPERVISOR_WORKERS": "2"}, "2"),
    ],
)
def test_supervisor_starts_its_own_count_of_workers(environ, supervised):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RetiredSetting)
        settings = Settings.load(environ=environ, dotenv_path=None)
    env = supervisor_environment(settings, environ={})
    assert env["SNS_SUPERVISOR_WORKERS"] == supervised


def test_supervise_refuses_processes_and_names_supervisor_workers(tmp_path):
    result = run_py("supervise", "--processes", "3", env={"SNS_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "--supervisor-workers (SNS_SUPERVISOR_WORKERS)" in result.stderr
    assert not (tmp_path / "run").exists()  # refused before supervisord or a migration


def test_an_old_sns_workers_still_forks_that_many_processes_and_warns(tmp_path):
    server = SnsServer(tmp_path / "node", {"SNS_WORKERS": "2", "SNS_SHUTDOWN_GRACE": "5"})
    server.start()
    try:
        assert len(server.workers(2)) == 2
        assert len(children(server.process.pid)) == 2
        output = server.output()
        assert "run.py: warning: SNS_WORKERS is retired" in output
        assert "SNS_PROCESSES" in output and "SNS_SUPERVISOR_WORKERS" in output
    finally:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
