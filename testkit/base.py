"""What every kit server shares: loopback, free ports, logs, and stopping our own child."""

from __future__ import annotations

import getpass
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Self

HOST = "127.0.0.1"


def free_port() -> int:
    """Ask the kernel for a currently unused loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def current_user() -> str:
    """Name of the effective user; servers must run as it (mariadbd refuses root otherwise)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return getpass.getuser()


def tail(path: pathlib.Path, lines: int = 40) -> str:
    """Last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<no log at {path}>"
    return "\n".join(text.splitlines()[-lines:])


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """SIGTERM our own child, wait, then SIGKILL; no-op if already gone."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    else:
        proc.wait()


class Service:
    """Shared context-manager plumbing for the two servers."""

    proc: subprocess.Popen[bytes] | None
    _log_file: IO[bytes] | None = None

    def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server we started and close its log; safe to call more than once."""
        proc, self.proc = self.proc, None
        stop_process(proc)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def wait_until_ready(
        self,
        name: str,
        problem: Callable[[], str | None],
        seconds: float,
        log: Callable[[], str],
        interval: float = 0.05,
    ) -> None:
        """Ask ``problem`` (None once the server answers, else why not) until it answers;
        if the process exits or ``seconds`` pass first, stop it and raise with its log."""
        deadline = time.monotonic() + seconds
        while (why := problem()) is not None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"{name} exited with code {code} during start-up:\n{log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} was not ready within {seconds:g} s ({why}):\n{log()}")
            time.sleep(interval)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
