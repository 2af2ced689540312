"""Migrations survive being cut short and being started by several processes at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.schema import CreateTable

from sns.db import Database, alembic_config, code_heads
from sns.schema import metadata
from testkit.sns import SnsServer
from testkit.templates import copy_template
from tests.conftest import backend_env, new_mariadb_url

ROOT = Path(__file__).resolve().parent.parent
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = [table.name for table in metadata.sorted_tables]


def sync_url(url: str) -> str:
    return url.replace("+aiomysql", "+pymysql").replace("+aiosqlite", "")


def schema_state(url: str) -> tuple[str | None, list]:
    """The stamped version and what differs from the model (empty when all is there)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            return context.get_current_revision(), compare_metadata(context, metadata)
    finally:
        engine.dispose()


def leave_half_done(url: str, made: int) -> None:
    """What a start-up killed inside the first migration leaves on MySQL: the first
    ``made`` tables whole, the next one without its indexes, no version stamped."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            for table in metadata.sorted_tables[:made]:
                table.create(conn)
            if made < len(TABLES):
                conn.execute(CreateTable(metadata.sorted_tables[made]))
    finally:
        engine.dispose()


def run_migrate(url: str, data_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNS_")}
    env.update(SNS_DATA_DIR=str(data_dir), SNS_DATABASE_URL=url)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "migrate", "--env-file", ""],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("made", range(len(TABLES) + 1))
def test_a_first_migration_cut_short_on_mysql_is_completed_by_the_next_start(mariadb, made):
    url = new_mariadb_url(mariadb)
    leave_half_done(url, made)
    database = Database(url)
    try:
        asyncio.run(database.migrate())
    finally:
        asyncio.run(database.dispose())
    assert schema_state(url) == (HEAD, [])


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_processes_starting_together_on_an_empty_database_all_succeed(request, backend, tmp_path):
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'together.sqlite3'}"
    else:
        url = new_mariadb_url(request.getfixturevalue("mariadb"))
    processes = [run_migrate(url, tmp_path / f"p{n}") for n in range(4)]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    assert schema_state(url) == (HEAD, [])
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_server_started_on_an_empty_database_migrates_it_itself(request, backend, tmp_path):
    """The other server tests start on a copy of a migrated database (testkit/templates.py);
    this one keeps start-up's own migrating covered."""
    env = backend_env(backend, request)
    server = SnsServer(tmp_path / "server", env)
    server.premigrated = False
    url = env.get("SNS_DATABASE_URL")
    if url is None:
        url = f"sqlite:///{server.sqlite_path}"
        assert not server.sqlite_path.exists()
    else:
        assert schema_state(url)[0] is None  # nothing there yet
    server.start()
    try:
        assert server.client().get("/").status_code == 200
        assert schema_state(url) == (HEAD, [])
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_the_template_copy_is_the_migrated_schema(request, backend, tmp_path):
    """A copied database is what migrating makes: every table, index and foreign key of the
    model at head (a copy without foreign keys would let deletions leave orphans)."""
    env = backend_env(backend, request)
    data_dir = tmp_path / "copy"
    copy_template(data_dir, env)
    url = env.get("SNS_DATABASE_URL") or f"sqlite:///{data_dir / 'sns.sqlite3'}"
    assert schema_state(url) == (HEAD, [])
    engine = create_engine(sync_url(url))
    try:
        foreign_keys = {table: len(inspect(engine).get_foreign_keys(table)) for table in TABLES}
    finally:
        engine.dispose()
    assert foreign_keys == expected_foreign_keys()


def expected_foreign_keys() -> dict[str, int]:
    return {table.name: len(table.foreign_key_constraints) for table in metadata.sorted_tables}


def test_the_heads_read_from_the_files_are_alembics_own():
    """A serving process finds the code's heads without Alembic (sns.db.code_heads)."""
    assert code_heads() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_the_heads_of_a_branch_and_of_its_merge(tmp_path):
    def migration(name: str, down: str) -> None:
        (tmp_path / f"{name}.py").write_text(
            f'"""{name}"""\n\nrevision = "{name}"\ndown_revision = {down}\nbranch_labels = None\n'
        )

    migration("a", "None")
    migration("b", '"a"')
    migration("c", '"a"')
    assert code_heads(tmp_path) == {"b", "c"}
    other = tmp_path / "merged"
    other.mkdir()
    for path in tmp_path.glob("*.py"):
        (other / path.name).write_text(path.read_text())
    (other / "d.py").write_text('revision: str = "d"\ndown_revision = ("b", "c")\n')
    assert code_heads(other) == {"d"}


SERVE_AND_LIST = """
import asyncio, sys
from handlers.app import make_app
from sns import cli
from sns.services import build_services

async def main():
    settings = cli.load_settings(cli.parse_args(["--data-dir", sys.argv[1], "--env-file", ""]))
    services = await build_services(settings)
    make_app(services)
    await services.close()

asyncio.run(main())
heavy = ("alembic", "mako", "redis", "PIL", "pillow_heif", "blurhash")
unused = ("sqlalchemy.orm", "sqlalchemy.ext.asyncio")
print(sorted(
    name for name in sys.modules
    if name.split(".")[0] in heavy or name.startswith(unused)
))
"""


def test_a_process_starting_on_a_database_at_head_never_loads_alembic_nor_redis(tmp_path):
    """Alembic and Mako (10 MB) load only when there is a migration to apply, the Redis
    client (6 MB) only when Redis is configured, and the picture libraries (Pillow,
    pillow-heif, blurhash: 12 MB) only in the picture pool's processes; SQLAlchemy's ORM
    (7 MB, through ``sqlalchemy.ext.asyncio``) never: memory a serving process keeps (#22)."""

    def start() -> str:
        done = subprocess.run(
            [sys.executable, "-c", SERVE_AND_LIST, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    first = start()  # the first start migrates the empty database
    assert "alembic" in first and "redis" not in first and "PIL" not in first
    assert "sqlalchemy.orm" not in first
    assert start() == "[]"
