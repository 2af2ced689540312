"""supervisord.conf itself (``python run.py supervise``) on MariaDB + Redis with two
workers: sessions hold on every worker, a killed worker comes back without losing what was
acknowledged, restarting the workers one by one loses and doubles nothing, and
``supervise status|start|stop|restart`` controls them."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from testkit.sns import ROOT, Client, SupervisedSns, my_user_id
from tests.conftest import backend_env

CLOSE = {"Connection": "close"}  # a fresh connection per request: any worker may take it


@pytest.fixture(scope="module")
def supervised(request, tmp_path_factory):
    env = {
        **backend_env("mariadb", request),
        "SNS_SHUTDOWN_GRACE": "5",
        "SNS_METRICS_ALLOW": "127.0.0.1",
        # Its posters write hundreds of posts from one account in a minute; the flood limits
        # (#21) are tests/test_floods_http.py's, at their defaults.
        "SNS_POSTS_PER_WINDOW": "100000",
    }
    instance = SupervisedSns(tmp_path_factory.mktemp("supervised"), env, workers=2)
    instance.start()
    yield instance
    instance.stop()
    assert instance.process.returncode == 0, instance.output()


def wait_for(condition, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return found


def stored(server, prefix: str) -> list[str]:
    with server.sql() as sql:
        rows = sql.exec_driver_sql(
            "SELECT content FROM posts WHERE content LIKE %s", (prefix + "%",)
        )
        return [row[0] for row in rows]


class Poster(threading.Thread):
    """Posts numbered lines one after another until stopped; ``retry``: send a post again
    when its connection failed before any answer (a drained worker processed nothing)."""

    def __init__(
        self, client: Client, prefix: str, *, retry: bool, headers=None, pause: float = 0.02
    ) -> None:
        super().__init__()
        self.client, self.prefix, self.retry, self.pause = client, prefix, retry, pause
        self.headers = headers or {}
        self.acknowledged: list[str] = []
        self.failed: list[str] = []
        self.retries = 0
        self.halt = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.halt.is_set():
            content = f"{self.prefix}{number}"
            while True:
                try:
                    answer = self.client.write(content, headers=self.headers, timeout=30)
                except requests.ConnectionError:
                    if self.retry and not self.halt.is_set():
                        self.retries += 1
                        continue
                    self.failed.append(content)
                    break
                if answer.status_code == 302:
                    self.acknowledged.append(content)
                else:
                    self.failed.append(content)
                break
            number += 1
            time.sleep(self.pause)


def test_a_session_holds_on_every_worker(supervised):
    client = supervised.client()
    client.join()
    me = client.user_id()
    workers = set()
    for _ in range(50):
        page = client.get("/", headers=CLOSE)
        assert page.status_code == 200
        assert my_user_id(page.text) == me
        workers.add(page.headers["X-SNS-Worker"])
    assert len(workers) >= 2
    assert workers <= {str(pid) for pid in supervised.pids().values()}


def test_a_killed_worker_comes_back_and_nothing_acknowledged_is_lost(supervised):
    client = supervised.client()
    client.join()
    prefix = f"kill-{uuid.uuid4().hex[:8]}-"
    before = supervised.pids()
    name, victim = sorted(before.items())[0]
    poster = Poster(client, prefix, retry=False, headers=CLOSE)
    poster.start()
    try:
        time.sleep(1)
        os.kill(victim, signal.SIGKILL)
        reborn = wait_for(
            lambda: supervised.pids().get(name) not in (None, victim) and supervised.pids()[name]
        )
        time.sleep(1)
    finally:
        poster.halt.set()
        poster.join(60)
    assert len(poster.acknowledged) > 20
    assert len(poster.failed) <= 2, poster.failed  # at most what was in flight on the victim
    rows = stored(supervised, prefix)
    assert set(rows) >= set(poster.acknowledged) and len(set(rows)) == len(rows)
    assert str(reborn) in supervised.workers(2)


def front_page_count(server: SupervisedSns) -> float:
    """``sns_http_requests_total`` of GET / answered 200, over every worker of the node."""
    answer = server.client().get("/metrics", headers=CLOSE)
    assert answer.status_code == 200, answer.text[:300]
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "sns_http_requests_total" and labels == {
                "route": "/",
                "method": "GET",
                "status": "200",
            }:
                return sample.value
    return 0.0


def test_metrics_count_every_worker_and_keep_a_killed_workers_counts(supervised):
    before = front_page_count(supervised)
    client = supervised.client()
    workers = {client.get("/", headers=CLOSE).headers["X-SNS-Worker"] for _ in range(30)}
    assert len(workers) == 2
    # Each request is counted just after its answer is sent: the last may be a moment late.
    wait_for(lambda: front_page_count(supervised) - before >= 30)
    assert front_page_count(supervised) - before == 30
    name, victim = sorted(supervised.pids().items())[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: supervised.pids().get(name) not in (None, victim))
    # Its counts stay in the sums (counters only grow); its gauges go once a new worker is up.
    metrics_dir = supervised.data_dir / "metrics"
    wait_for(lambda: not (metrics_dir / f"gauge_livesum_{victim}.db").exists())
    assert (metrics_dir / f"counter_{victim}.db").exists()
    assert front_page_count(supervised) - before == 30


class Reader(threading.Thread):
    """A keep-alive client that reads the front page again and again, with short random
    pauses, and never sends a request twice: a connection that fails counts as a failed
    request. ``http.client`` sends on the connection it kept, as nginx's upstream
    keep-alive and most API clients do, so a worker closing that connection while the
    request is on its way fails it."""

    def __init__(self, port: int, seed: int) -> None:
        super().__init__()
        self.port = port
        self.random = random.Random(seed)
        self.answered = 0
        self.failed: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.halt.is_set():
            try:
                connection.request("GET", "/")
                answer = connection.getresponse()
                answer.read()
                if answer.status == 200:
                    self.answered += 1
                else:
                    self.failed.append(str(answer.status))
            except (OSError, http.client.HTTPException) as exc:
                self.failed.append(type(exc).__name__)
                connection.close()  # the next request opens a new connection
            time.sleep(self.random.uniform(0, 0.03))
        connection.close()


def test_restarting_each_worker_in_turn_fails_loses_and_doubles_no_request(supervised):
    # Two people posting back to back and four readers, all on keep-alive connections (as
    # browsers or nginx would), so that while a worker drains, requests are in flight on
    # it and others are being sent on connections it holds idle. Nothing is sent twice.
    posters = []
    for number in range(2):
        client = supervised.client()
        client.join()
        prefix = f"restart-{uuid.uuid4().hex[:8]}-{number}-"
        posters.append(Poster(client, prefix, retry=False, pause=0))
    readers = [Reader(supervised.port, seed) for seed in range(4)]
    for thread in [*posters, *readers]:
        thread.start()
    try:
        time.sleep(0.5)
        for _round in range(2):
            for name in sorted(supervised.pids()):
                answer = supervised.ctl("restart", f"sns:{name}")
                assert "stopped" in answer and "started" in answer, answer
                time.sleep(0.5)
    finally:
        for thread in [*posters, *readers]:
            thread.halt.set()
            thread.join(60)
    sent = sum(len(p.acknowledged) + len(p.failed) for p in posters) + sum(
        r.answered + len(r.failed) for r in readers
    )
    failed = [f"{type(t).__name__}: {f}" for t in [*posters, *readers] for f in t.failed]
    print(f"rolling restart: {len(failed)} of {sent} requests failed")
    assert failed == [], f"{len(failed)} of {sent} failed"
    assert sum(reader.answered for reader in readers) > 100
    for poster in posters:
        assert len(poster.acknowledged) > 20
        rows = stored(supervised, poster.prefix)
        assert sorted(rows) == sorted(poster.acknowledged)  # each once: none lost or doubled


def test_each_worker_logs_json_lines_naming_itself_to_a_file_of_its_own(supervised):
    supervised.client().get("/")
    logs = supervised.data_dir / "logs"
    for name in supervised.pids():
        lines = (logs / f"{name}.log").read_text().splitlines()
        assert lines and {json.loads(line)["worker"] for line in lines} == {name}


def supervise(instance: SupervisedSns, action: str) -> subprocess.CompletedProcess:
    """``python run.py supervise <action>`` with the settings the instance was started with."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "supervise", action, "--env-file", ""],
        cwd=ROOT,
        env=instance.environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def listed(output: str) -> dict[str, str]:
    """Worker name -> state, from the lines ``supervise status`` prints."""
    return dict(re.findall(r"^sns:(\S+)\s+(\S+)", output, re.MULTILINE))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_supervise_status_lists_every_worker_running(supervised):
    answer = supervise(supervised, "status")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert listed(answer.stdout) == {"sns_00": "RUNNING", "sns_01": "RUNNING"}
    for name, pid in supervised.pids().items():
        assert re.search(rf"^sns:{name}\s+RUNNING\s+pid {pid},", answer.stdout, re.MULTILINE)


def test_supervise_restart_gives_every_worker_a_new_pid_and_fails_no_request(supervised):
    before = supervised.pids()
    reader = Reader(supervised.port, seed=7)
    reader.start()
    try:
        answer = supervise(supervised, "restart")
    finally:
        reader.halt.set()
        reader.join(60)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    after = supervised.pids()
    assert sorted(after) == sorted(before)
    assert not set(after.values()) & set(before.values())
    assert not any(alive(pid) for pid in before.values())
    assert reader.failed == [] and reader.answered > 10
    assert supervised.workers(2) == {str(pid) for pid in after.values()}


def test_supervise_stop_stops_the_workers_and_start_brings_them_back(supervised):
    before = supervised.pids()
    answer = supervise(supervised, "stop")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    status = supervise(supervised, "status")
    assert status.returncode != 0  # not every worker runs
    assert listed(status.stdout) == {"sns_00": "STOPPED", "sns_01": "STOPPED"}
    assert not any(alive(pid) for pid in before.values())
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{supervised.url}/healthz", timeout=5)
    answer = supervise(supervised, "start")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert listed(supervise(supervised, "status").stdout) == {
        "sns_00": "RUNNING",
        "sns_01": "RUNNING",
    }
    assert len(supervised.workers(2)) == 2


def test_supervise_start_up_prints_no_critical_line_it_does_not_explain(supervised):
    output = supervised.log_path.read_text(errors="replace")
    critical = [line for line in output.splitlines() if " CRIT " in line]
    assert not [line for line in critical if "running as root" in line], critical
    for line in critical:
        assert "running without any HTTP authentication checking" in line, line
    assert "is expected: only this user can open its control socket" in output


def test_supervise_status_says_when_supervisord_is_not_running(tmp_path):
    idle = SupervisedSns(tmp_path / "idle", {}, workers=1)
    answer = supervise(idle, "status")
    assert answer.returncode == 1
    assert "supervisord is not running" in answer.stderr
    assert "python run.py supervise" in answer.stderr
