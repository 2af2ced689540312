"""Fixtures: real MariaDB and Redis on loopback, SNS server processes on both backends.

Backends are chosen by the ``backend`` parameter: ``sqlite`` (SQLite + sessions in SQL +
in-process counters, the embedded default) and ``mariadb`` (MariaDB + Redis). In CI
(``CI=true``) a missing service is an error and any skipped test fails the run.
"""

from __future__ import annotations

import inspect
import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testkit.mariadb import MariaDBServer
from testkit.redis import RedisServer
from testkit.s3 import MotoS3, moto_endpoint
from testkit.sns import Client, SnsServer
from tests.ci_rule import IN_CI, pytest_sessionfinish  # noqa: F401 (the CI rule's hook)
from tests.ordering import pytest_configure  # noqa: F401 (longest files first)

BACKENDS = ("sqlite", "mariadb")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_database_numbers = itertools.count(1)


def _started(server_class, base_dir: Path):
    """Start a service; where it cannot run, skip (or, in CI, fail: a skip there is a bug).

    Nothing is installed from here: .ci/run and ``python -m testkit --ensure`` (run by
    ``make test`` before pytest) install packages, never a fixture.
    """
    server = server_class(base_dir)
    try:
        server.start()
    except (RuntimeError, FileNotFoundError) as exc:
        if IN_CI:
            raise
        pytest.skip(f"{server_class.__name__} did not start: {exc}")
    return server


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    server = _started(MariaDBServer, tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = _started(RedisServer, tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def new_mariadb_url(mariadb: MariaDBServer) -> str:
    return mariadb.create_database(f"sns_test_{os.getpid()}_{next(_database_numbers)}")


def backend_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment selecting a backend; each call gets a database of its own."""
    if backend == "sqlite":
        return {}
    mariadb = request.getfixturevalue("mariadb")
    redis_server = request.getfixturevalue("redis_server")
    return {"SNS_DATABASE_URL": new_mariadb_url(mariadb), "SNS_REDIS_URL": redis_server.url}


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[SnsServer]:
    """One SNS server per backend, shared by the tests of the whole run."""
    backend = request.param
    instance = SnsServer(tmp_path_factory.mktemp(f"sns-{backend}"), backend_env(backend, request))
    instance.backend = backend
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def make_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """Start extra servers with their own settings: ``make_server("mariadb", SNS_X="1")``."""
    started: list[SnsServer] = []

    def start(backend: str = "sqlite", **env: str) -> SnsServer:
        full_env = {**backend_env(backend, request), **env}
        instance = SnsServer(tmp_path / f"server{len(started)}", full_env)
        instance.backend = backend
        started.append(instance)
        return instance.start()

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture(scope="session")
def _shared_servers() -> Iterator[dict]:
    servers: dict[tuple, SnsServer] = {}
    yield servers
    for instance in servers.values():
        instance.stop()


@pytest.fixture
def shared_server(request: pytest.FixtureRequest, _shared_servers, tmp_path_factory):
    """A running server with these settings, started once and shared by every test that asks
    for the same ones: ``shared_server("sqlite", SNS_X="1")``. Each test makes its own users
    and data; a test that changes the process itself (restarts it, counts its log lines,
    uses up a per-address quota, freezes what it talks to) takes ``make_server`` instead."""

    def get(backend: str = "sqlite", **env: str) -> SnsServer:
        key = (backend, tuple(sorted(env.items())))
        if key not in _shared_servers:
            full_env = {**backend_env(backend, request), **env}
            instance = SnsServer(tmp_path_factory.mktemp(f"shared-{backend}"), full_env)
            instance.backend = backend
            _shared_servers[key] = instance.start()
        return _shared_servers[key]

    return get


SERVICE_FIXTURES = {
    "server",
    "client",
    "user",
    "make_server",
    "shared_server",
    "image_server",
    "mariadb",
    "redis_server",
    "browser",
    "moto_s3",
    "s3_server",
}


PROCESS_WORDS = ("subprocess", "Popen", "sys.executable")


def _starters(module: object) -> set[str]:
    """Names of the module's functions that start a process themselves (one level deep)."""
    found = set()
    for name, value in vars(module).items():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            source = inspect.getsource(value)
            if any(word in source for word in PROCESS_WORDS):
                found.add(name)
    return found


def _fixture_starts_services(item: pytest.Item) -> bool:
    """Whether a fixture of the test asks for a service by name (``getfixturevalue``)."""
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        for definition in definitions:
            try:
                source = inspect.getsource(definition.func)
            except (OSError, TypeError):
                continue
            if "getfixturevalue" in source or "backend_env(" in source:
                return True
    return False


def _starts_processes(item: pytest.Item, starters: set[str]) -> bool:
    if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    if _fixture_starts_services(item):
        return True
    function = getattr(item, "function", None)
    if function is None:
        return True  # not a plain test function: count it as slow
    source = inspect.getsource(function)
    return any(word in source for word in PROCESS_WORDS) or any(
        f"{name}(" in source for name in starters
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``servers`` every test that starts a process or a service: it uses a fixture of
    SERVICE_FIXTURES or one that asks for a service by name, its module imports the kit
    (testkit), or it (or a function of its module it calls) runs a subprocess.
    ``make test-quick`` runs the others (``-m "not servers"``); ``make test`` runs them all."""
    kit_users: dict[object, bool] = {}
    starters: dict[object, set[str]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module not in kit_users:
            kit_users[module] = module is None or any(
                getattr(value, "__module__", "").startswith("testkit")
                or getattr(value, "__name__", "").startswith("testkit")
                for value in vars(module).values()
            )
            starters[module] = set() if module is None else _starters(module)
        if kit_users[module] or _starts_processes(item, starters[module]):
            item.add_marker(pytest.mark.servers)


@pytest.fixture
def client(server: SnsServer) -> Client:
    return server.client()


@pytest.fixture
def user(client: Client) -> dict:
    """A fresh user, signed up and logged in on ``client``."""
    return client.join()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (its own download
    cannot work here)."""
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield instance
        instance.close()


# --- S3 (moto's server on loopback) -------------------------------------------------------
# ``moto_s3``: a session-wide S3 endpoint URL with dummy AWS credentials in the environment;
# helpers (``new_bucket``, ``s3_client``, ``keys``) live in testkit/s3.py. ``s3_server`` is
# the same endpoint as a store for SNS servers (buckets, their objects, the settings).


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """The endpoint URL (``http://127.0.0.1:<port>``) of a moto S3 server."""
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server(request: pytest.FixtureRequest) -> MotoS3:
    return MotoS3(request.getfixturevalue("moto_s3"))


@pytest.fixture(scope="module", params=("sqlite-local", "mariadb-s3"))
def image_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[SnsServer]:
    """An SNS server per image store: SQLite with the local folder, MariaDB + Redis with
    an S3 bucket on moto. ``store`` says which; ``bucket`` names the bucket."""
    backend, store = request.param.split("-")
    env = backend_env(backend, request)
    bucket = None
    if store == "s3":
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        env.update(s3.sns_env(bucket))
    instance = SnsServer(tmp_path_factory.mktemp(f"sns-images-{request.param}"), env)
    instance.backend = backend
    instance.store = store
    instance.bucket = bucket
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def objects(image_server: SnsServer, request: pytest.FixtureRequest) -> Callable[[], dict]:
    """What ``image_server``'s store holds right now: ``{key: size}``."""
    if image_server.store == "s3":
        moto = request.getfixturevalue("s3_server")
        return lambda: moto.objects(image_server.bucket)
    root = image_server.data_dir / "images"
    return lambda: {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file()
    }
