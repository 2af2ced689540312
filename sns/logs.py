"""Logging: JSON lines to files (everything, and errors alone), plus the console in development.

Several processes never append to one file: each process of ``--processes`` writes files
named after its worker (``combined.w1.log``), and under supervisor each writes JSON lines
to stdout (errors to stderr as well), which supervisor captures into a file per process.
Every line names its worker. Nothing that could hold a secret (cookies, headers, query
strings) is logged.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import logging.handlers
import os
import sys
import time
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
    console_output = None
    if console and not to_stdout:
        console_output = logging.StreamHandler(sys.stderr)
        prefix = f"[{worker}] " if worker else ""
        console_output.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s")
        )
        root.addHandler(console_output)
    access_lines.configure(outputs[0], console_output, worker)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


access_log = logging.getLogger("sns.access")


class AccessLines:
    """The access log's lines, formatted by hand and written a batch at a time.

    Through ``logging`` an access line cost more than answering a cached page (a record,
    the JSON formatter, a stat and a flush each); here it is one f-string, and the lines
    of up to ``DELAY`` seconds go out in one write. Lines of 5xx answers still go through
    ``logging`` at once, after the batch. The keys are the JSON formatter's.
    """

    DELAY = 0.05  # seconds a line may wait for others
    MAX_LINES = 512

    def __init__(self) -> None:
        self.output: logging.Handler | None = None
        self.console: logging.Handler | None = None
        self.prefix = ""
        self.lines: list[tuple[float, str, str]] = []
        self.flushing: asyncio.TimerHandle | None = None

    def configure(
        self, output: logging.Handler, console: logging.Handler | None, worker: str | None
    ) -> None:
        self.flush()
        self.output, self.console = output, console
        pid = os.getpid()
        self.prefix = (
            f'"level": "INFO", "logger": "sns.access", "pid": {pid}, '
            f'"worker": {json.dumps(worker or str(pid))}, '
        )

    def add(self, method: str, path: str, status: int, duration_ms: float, ip: str) -> bool:
        """Queue one line; False when nothing is configured (``logging`` takes it then)."""
        if self.output is None or not access_log.isEnabledFor(logging.INFO):
            return False
        message = f"{method} {path} {status} {duration_ms:.1f}ms"
        fields = (
            f'"message": {json.dumps(message, ensure_ascii=False)}, '
            f'"method": {json.dumps(method)}, "path": {json.dumps(path, ensure_ascii=False)}, '
            f'"status": {status}, "duration_ms": {duration_ms}, "ip": {json.dumps(ip)}}}\n'
        )
        self.lines.append((time.time(), message, fields))
        if len(self.lines) >= self.MAX_LINES:
            self.flush()
        elif self.flushing is None:
            try:
                self.flushing = asyncio.get_running_loop().call_later(self.DELAY, self.flush)
            except RuntimeError:
                self.flush()
        return True

    def flush(self) -> None:
        if self.flushing is not None:
            self.flushing.cancel()
            self.flushing = None
        lines, self.lines = self.lines, []
        if not lines or self.output is None:
            return
        self._write(
            self.output,
            "".join(
                f'{{"time": "{_iso(when)}", {self.prefix}{fields}' for when, _m, fields in lines
            ),
        )
        if self.console is not None:
            self._write(
                self.console,
                "".join(
                    f"{_iso(when)} INFO sns.access: {message}\n" for when, message, _f in lines
                ),
            )

    @staticmethod
    def _write(output: logging.Handler, text: str) -> None:
        stream = getattr(output, "stream", None)
        if stream is None:
            return
        output.acquire()
        try:
            if isinstance(output, logging.handlers.WatchedFileHandler):
                output.reopenIfNeeded()
                stream = output.stream or stream
            stream.write(text)
            stream.flush()
        except Exception:
            output.handleError(logging.makeLogRecord({"msg": "access log write failed"}))
        finally:
            output.release()


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")


access_lines = AccessLines()
atexit.register(access_lines.flush)


def log_request(handler: Any) -> None:
    """Tornado's ``log_function``: one line per request, with path but never the query."""
    status = handler.get_status()
    request = handler.request
    duration_ms = round(request.request_time() * 1000, 1)
    ip = getattr(handler, "client_ip", request.remote_ip)
    if status < 500 and access_lines.add(request.method, request.path, status, duration_ms, ip):
        return
    access_lines.flush()  # keep the order of the lines
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
