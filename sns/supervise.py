"""``python run.py supervise``: run ``supervisord.conf`` with the settings in force.

supervisor reads ``%(ENV_X)s`` from its environment and refuses to start when one is
missing; this command sets them from the settings (environment, ``.env``, defaults),
applies the migrations once so that the workers only check the schema
(``SNS_MIGRATE=check``), then replaces itself with ``supervisord -n``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from sns.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "supervisord.conf"
STOP_MARGIN = 5  # seconds supervisor waits beyond the grace (closing pools, exiting)

log = logging.getLogger("sns")


def supervisor_environment(settings: Settings, *, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment supervisord (and through it every worker) runs with."""
    workers = settings.supervisor_workers or os.cpu_count() or 1
    run_dir = Path(environ.get("SNS_RUN_DIR") or settings.data_dir / "run")
    env = dict(environ)
    env.update(
        SNS_HOST=settings.host,
        SNS_PORT=str(settings.port),
        SNS_SUPERVISOR_WORKERS=str(workers),
        SNS_STOP_WAIT=str(settings.shutdown_grace + STOP_MARGIN),
        SNS_RUN_DIR=str(run_dir),
        SNS_LOG_DIR=str(settings.logs_dir),
        SNS_DATA_DIR=str(settings.data_dir),  # the workers run in this directory
        SNS_MIGRATE="check",
        # `python3` in supervisord.conf is this interpreter (a virtualenv's, usually).
        PATH=os.pathsep.join((str(Path(sys.executable).parent), environ.get("PATH", ""))),
    )
    return env


def supervisord_command() -> str:
    beside = Path(sys.executable).parent / "supervisord"
    found = str(beside) if beside.is_file() else shutil.which("supervisord")
    if found is None:
        raise FileNotFoundError("supervisord is not installed (pip install supervisor)")
    return found


def supervise(settings: Settings) -> int:
    """Migrate, then become supervisord in the foreground; returns only on failure."""
    from sns.db import run_migrations
    from sns.logs import setup_logging

    setup_logging(settings.logs_dir, console=True, worker="supervise")
    env = supervisor_environment(settings, environ=os.environ)
    for directory in (env["SNS_RUN_DIR"], env["SNS_LOG_DIR"]):
        Path(directory).mkdir(parents=True, exist_ok=True)
    if settings.migrate == "auto":
        run_migrations(settings.sql_url)
        log.info("migrations applied; the workers will only check the schema")
    try:
        command = supervisord_command()
    except FileNotFoundError as exc:
        print(f"run.py supervise: {exc}", file=sys.stderr)
        return 1
    log.info(
        "supervisord: %s workers on http://%s:%s; control: SNS_RUN_DIR=%s supervisorctl -c %s",
        env["SNS_SUPERVISOR_WORKERS"],
        settings.host,
        settings.port,
        env["SNS_RUN_DIR"],
        CONFIG,
    )
    logging.shutdown()
    os.execve(command, [command, "-n", "-c", str(CONFIG)], env)  # noqa: S606 (replaces us)
