"""Operators' numbers in Prometheus' text format, for every worker of a node at once.

Each serving process writes its counts to files of its own in one directory
(prometheus_client's multiprocess mode), and whichever worker answers ``/metrics`` reads
them all: under ``--processes`` and supervisor a scrape sees the node, not one process.
The directory must be known before prometheus_client is first imported, so it is named
in the environment by ``prepare`` at start-up, and the library is imported only here,
only when metrics are on: a site without ``SNS_METRICS_ALLOW`` never loads it.

Counters of a worker that died stay in the sums (they only ever grow, as Prometheus
expects); its gauges leave them (``sweep_dead``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
FILE_PID = re.compile(r"_(\d+)\.db$")


def prepare(directory: Path, *, clean: bool) -> None:
    """Name the node's metrics directory for this process and the ones it starts.

    ``clean``: the process that starts a node (one process, the ``--processes`` parent,
    ``run.py supervise``) empties it, so that a node's counts start at zero; workers that
    supervisor starts join what is there.
    """
    if clean and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENVIRONMENT] = str(directory)


def sweep_dead(directory: Path) -> None:
    """Drop the gauges of processes that are gone (a worker restarted by supervisor)."""
    from prometheus_client import multiprocess

    pids = set()
    for path in directory.glob("*.db"):
        match = FILE_PID.search(path.name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids - {os.getpid()}:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Metrics:
    """What a process counts; with metrics off every call does nothing."""

    enabled = False

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request."""

    def cache(self, kind: str, hit: bool, count: int = 1) -> None:
        """``count`` looks into a cache (``kind``: page, api or fragment)."""

    def pool_wait(self, seconds: float) -> None:
        """The time a request waited for a database connection."""

    def pool_in_use(self, change: int) -> None:
        """A database connection taken (+1) or given back (-1)."""

    def redis_error(self) -> None:
        """A Redis call that failed (down, too slow)."""

    def bcrypt_waiting(self, change: int) -> None:
        """A password check or hash starting to wait for a bcrypt thread (+1) or done (-1)."""

    def upload(self, result: str, size: int) -> None:
        """A picture upload and how it ended (stored, refused, limited)."""

    def image_job(self, result: str, seconds: float) -> None:
        """A job of the picture pool and how it ended (done, failed, timeout)."""

    def image_jobs_running(self, change: int) -> None:
        """A picture job started (+1) or ended (-1)."""

    def live_sockets(self, change: int) -> None:
        """A live socket opened (+1) or closed (-1)."""

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The node's numbers in the format the scraper's ``Accept`` asks for (Prometheus'
        text by default, OpenMetrics when asked), and its content type."""
        raise RuntimeError("metrics are off")


class PrometheusMetrics(Metrics):
    """Counts written to this process's files in the node's metrics directory."""

    enabled = True

    def __init__(self, directory: Path) -> None:
        if os.environ.get(ENVIRONMENT) != str(directory):
            prepare(directory, clean=False)
        sweep_dead(directory)
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
        )

        self.directory = directory
        # Metrics are made on a registry of their own: in multiprocess mode the values go
        # to the files, and the default registry would only add this process's extras.
        own = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "sns_http_requests",
            "Requests answered, by route pattern, method and status.",
            ["route", "method", "status"],
            registry=own,
        )
        self._latency = Histogram(
            "sns_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route pattern.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self._cache = Counter(
            "sns_page_cache_lookups",
            "Looks into the caches of drawn answers, by kind (page, api, fragment: one post) and "
            "result (hit, miss).",
            ["kind", "result"],
            registry=own,
        )
        self._pool_wait = Histogram(
            "sns_db_pool_wait_seconds",
            "Time spent waiting for a database connection from the pool.",
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self._pool_in_use = Gauge(
            "sns_db_pool_connections_in_use",
            "Database connections taken from the pools of all workers.",
            multiprocess_mode="livesum",
            registry=own,
        )
        self._redis_errors = Counter(
            "sns_redis_errors", "Redis calls that failed (down, too slow).", registry=own
        )
        self._bcrypt_waiting = Gauge(
            "sns_bcrypt_queue",
            "Password checks and hashes waiting for or holding a bcrypt thread.",
            multiprocess_mode="livesum",
            registry=own,
        )
        self._uploads = Counter(
            "sns_uploads",
            "Picture uploads, by result (stored, refused, limited).",
            ["result"],
            registry=own,
        )
        self._upload_bytes = Counter(
            "sns_upload_bytes", "Bytes of pictures stored by uploads.", registry=own
        )
        self._jobs = Histogram(
            "sns_image_job_seconds",
            "Jobs of the picture pool (cleaning an upload, thumbnails), by result.",
            ["result"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self._jobs_running = Gauge(
            "sns_image_jobs_running",
            "Jobs the picture pools of all workers have in hand.",
            multiprocess_mode="livesum",
            registry=own,
        )
        self._live = Gauge(
            "sns_live_sockets",
            "Open live sockets on all workers.",
            multiprocess_mode="livesum",
            registry=own,
        )

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.labels(route, method, str(status)).inc()
        self._latency.labels(route).observe(seconds)

    def cache(self, kind: str, hit: bool, count: int = 1) -> None:
        if count:
            self._cache.labels(kind, "hit" if hit else "miss").inc(count)

    def pool_wait(self, seconds: float) -> None:
        self._pool_wait.observe(seconds)

    def pool_in_use(self, change: int) -> None:
        self._pool_in_use.inc(change)

    def redis_error(self) -> None:
        self._redis_errors.inc()

    def bcrypt_waiting(self, change: int) -> None:
        self._bcrypt_waiting.inc(change)

    def upload(self, result: str, size: int) -> None:
        self._uploads.labels(result).inc()
        if result == "stored":
            self._upload_bytes.inc(size)

    def image_job(self, result: str, seconds: float) -> None:
        self._jobs.labels(result).observe(seconds)

    def image_jobs_running(self, change: int) -> None:
        self._jobs_running.inc(change)

    def live_sockets(self, change: int) -> None:
        self._live.inc(change)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import choose_encoder
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(self.directory))  # type: ignore[no-untyped-call]
        encode, content_type = choose_encoder(accept)
        return encode(registry), content_type


def build_metrics(directory: Path | None) -> Metrics:
    """The process's metrics: counted into ``directory``, or nothing when it is None."""
    return PrometheusMetrics(directory) if directory is not None else Metrics()
