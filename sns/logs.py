"""Logging: JSON lines to files (everything, and errors alone), plus the console in development.

Several processes never append to one file: each process of ``--processes`` writes files
named after its worker (``combined.w1.log``), and under supervisor each writes JSON lines
to stdout (errors to stderr as well), which supervisor captures into a file per process.
Every line names its worker. Nothing that could hold a secret (cookies, headers, query
strings) is logged.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, worker, message, extras, trace."""

    def __init__(self, worker: str | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "worker": self.worker or str(record.process),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(
    log_dir: Path,
    *,
    console: bool,
    level: int = logging.INFO,
    worker: str | None = None,
    to_stdout: bool = False,
) -> None:
    """Send application and access logs to ``log_dir`` (and the console when asked).

    ``worker`` names this process in every line and, with files, in the files' names, so
    that no two processes share a file. ``to_stdout``: JSON lines on stdout, errors on
    stderr too, for a supervisor that captures each process's output on its own.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    formatter = JsonFormatter(worker)
    outputs: list[logging.Handler]
    if to_stdout:
        outputs = [logging.StreamHandler(sys.stdout), logging.StreamHandler(sys.stderr)]
    else:
        log_dir.mkdir(parents=True, exist_ok=True)
        suffix = f".{worker}" if worker else ""
        outputs = [
            logging.handlers.WatchedFileHandler(
                log_dir / f"combined{suffix}.log", encoding="utf-8"
            ),
            logging.handlers.WatchedFileHandler(log_dir / f"error{suffix}.log", encoding="utf-8"),
        ]
    outputs[1].setLevel(logging.ERROR)  # the second: errors alone
    for output in outputs:
        output.setFormatter(formatter)
        root.addHandler(output)
    if console and not to_stdout:
        stream = logging.StreamHandler(sys.stderr)
        prefix = f"[{worker}] " if worker else ""
        stream.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s")
        )
        root.addHandler(stream)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


access_log = logging.getLogger("sns.access")


def log_request(handler: Any) -> None:
    """Tornado's ``log_function``: one line per request, with path but never the query."""
    status = handler.get_status()
    request = handler.request
    duration_ms = round(request.request_time() * 1000, 1)
    ip = getattr(handler, "client_ip", request.remote_ip)
    level = logging.INFO if status < 500 else logging.ERROR
    access_log.log(
        level,
        "%s %s %d %.1fms",
        request.method,
        request.path,
        status,
        duration_ms,
        extra={
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": duration_ms,
            "ip": ip,
        },
    )
