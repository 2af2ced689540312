"""``python run.py supervise``: run ``supervisord.conf`` with the settings in force; and
``supervise status|start|stop|restart``: control the workers of one that runs.

supervisor reads ``%(ENV_X)s`` from its environment and refuses to start when one is
missing; this command sets them from the settings (environment, ``.env``, defaults),
applies the migrations once so that the workers only check the schema
(``SNS_MIGRATE=check``), then replaces itself with ``supervisord -n``. The control commands
run ``supervisorctl`` with the same variables, so they find the same control socket.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sns.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "supervisord.conf"
STOP_MARGIN = 5  # seconds supervisor waits beyond the grace (closing pools, exiting)
CONTROL_ACTIONS = ("status", "start", "stop", "restart")
WORKERS = "sns:*"  # every process of supervisord.conf's [fcgi-program:sns]
STATUS_LINE = re.compile(r"^(sns:\S+)\s+(\S+)", re.MULTILINE)

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


def supervisor_command(name: str) -> str:
    """``supervisord`` or ``supervisorctl``: the one beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (pip install supervisor)")
    return found


def supervise(settings: Settings) -> int:
    """Migrate, then become supervisord in the foreground; returns only on failure."""
    from sns.db import run_migrations
    from sns.logs import setup_logging
    from sns.metrics import prepare as prepare_metrics

    setup_logging(settings.logs_dir, console=True, worker="supervise")
    if settings.metrics_directory is not None:  # a node's counts start at zero
        prepare_metrics(settings.metrics_directory, clean=True)
    env = supervisor_environment(settings, environ=os.environ)
    for directory in (env["SNS_RUN_DIR"], env["SNS_LOG_DIR"]):
        Path(directory).mkdir(parents=True, exist_ok=True)
    if settings.migrate == "auto":
        run_migrations(settings.sql_url)
        log.info("migrations applied; the workers will only check the schema")
    try:
        command = supervisor_command("supervisord")
        supervisorctl = supervisor_command("supervisorctl")
    except FileNotFoundError as exc:
        print(f"run.py supervise: {exc}", file=sys.stderr)
        return 1
    log.info(
        "supervisord: %s workers on http://%s:%s; control: python run.py supervise "
        "status|start|stop|restart (or %s -c %s with SNS_RUN_DIR=%s)",
        env["SNS_SUPERVISOR_WORKERS"],
        settings.host,
        settings.port,
        supervisorctl,
        CONFIG,
        env["SNS_RUN_DIR"],
    )
    log.info(
        "supervisord's CRIT line \"Server 'unix_http_server' running without any HTTP "
        'authentication checking" is expected: only this user can open its control socket '
        "(chmod 0700)"
    )
    logging.shutdown()
    # -u: the user supervisord already runs as, so that it does not warn (CRIT) that a run
    # as root dropped no privileges; for any other user it is the same no-op.
    argv = [command, "-n", "-c", str(CONFIG), "-u", str(os.getuid())]
    os.execve(command, argv, env)  # noqa: S606 (replaces us)


def control(settings: Settings, action: str) -> int:
    """``supervise status|start|stop|restart`` on the supervisord these settings started;
    the exit status of ``supervisorctl`` (``status``: 0 only when every worker runs).

    ``restart`` takes one worker after the other, each draining before the next stops,
    so that the port always has a worker to answer (a rolling restart, which fails no
    request: tests/test_supervisor.py); a worker that is not running is just started.
    """
    env = supervisor_environment(settings, environ=os.environ)
    control_socket = Path(env["SNS_RUN_DIR"]) / "supervisor.sock"
    if not control_socket.exists():
        print(
            f"run.py supervise {action}: supervisord is not running (no {control_socket}); "
            "start it with: python run.py supervise",
            file=sys.stderr,
        )
        return 1
    supervisorctl = [supervisor_command("supervisorctl"), "-c", str(CONFIG)]

    def ctl(*args: str) -> int:
        return subprocess.run([*supervisorctl, *args], env=env, check=False).returncode  # noqa: S603

    if action == "status":
        return ctl("status", WORKERS)
    if action in ("start", "stop"):
        return ctl(action, WORKERS)
    listed = subprocess.run(  # noqa: S603
        [*supervisorctl, "status", WORKERS], env=env, capture_output=True, text=True, check=False
    )
    workers = STATUS_LINE.findall(listed.stdout)
    if not workers:
        print(listed.stdout + listed.stderr, end="", file=sys.stderr)
        return listed.returncode or 1
    status = 0
    for name, state in workers:
        status = max(status, ctl("restart" if state == "RUNNING" else "start", name))
    return status
