"""Logging: JSON lines to files (everything, and errors alone), plus the console in development.

Nothing that could hold a secret (cookies, headers, query strings) is logged.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, message, extra fields, trace."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(log_dir: Path, *, console: bool, level: int = logging.INFO) -> None:
    """Send application and access logs to ``log_dir`` (and the console when asked)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    formatter = JsonFormatter()
    combined = logging.handlers.WatchedFileHandler(log_dir / "combined.log", encoding="utf-8")
    combined.setFormatter(formatter)
    errors = logging.handlers.WatchedFileHandler(log_dir / "error.log", encoding="utf-8")
    errors.setLevel(logging.ERROR)
    errors.setFormatter(formatter)
    root.addHandler(combined)
    root.addHandler(errors)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
            "worker": os.getpid(),
        },
    )
