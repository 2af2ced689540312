"""``--processes N``: this process forks N workers and starts again those that die.

Each worker binds the port with its own ``SO_REUSEPORT`` listener, so that the kernel
spreads connections evenly over them (one listener shared by forked children hands most
connections to whichever child wakes first: bench/README.md).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import signal
import socket
import time
from types import FrameType

import tornado.netutil

from serving.process import EXIT_CONFIG, FATAL, Build, refuse, serve_process
from sns.db import run_migrations
from sns.logs import setup_logging
from sns.settings import Settings

log = logging.getLogger("sns")

RESTART_DELAY = 1.0  # seconds before --processes starts a worker again after it died


class Workers:
    """Fork ``count`` workers, start again those that die, stop them all on SIGTERM/SIGINT
    (each drains), and exit 0 once they are gone.

    Migrations run here once, before any worker exists; the workers then only check that
    the database is at head. Each worker binds its own ``SO_REUSEPORT`` listener.
    """

    def __init__(self, settings: Settings, build: Build, count: int) -> None:
        self.settings = settings
        self.build = build
        self.count = count
        self.children: dict[int, int] = {}  # pid -> worker number
        self.stopping = False

    def listen(self) -> list[socket.socket]:
        return tornado.netutil.bind_sockets(self.settings.port, self.settings.host, reuse_port=True)

    def run(self) -> int:
        settings = self.settings
        setup_logging(settings.logs_dir, console=not settings.production, worker="main")
        if settings.migrate == "auto":
            run_migrations(settings.sql_url)
        try:
            for sock in self.listen():  # fail here, once, if the port is taken
                sock.close()
        except OSError as exc:
            return refuse(f"cannot listen: {exc}", EXIT_CONFIG)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        # What is loaded now (modules, migrations) is shared with the workers; kept out of
        # the collector's walks, its pages stay shared instead of being copied into each.
        gc.freeze()
        for number in range(1, self.count + 1):
            self.spawn(number)
        log.info("started %d workers on port %d", self.count, settings.port)
        status = 0
        while self.children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            if pid not in self.children:
                continue
            number = self.children.pop(pid)
            if self.stopping:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            if code in FATAL:
                log.error("worker w%d exited with %d; stopping the others", number, code)
                status = code
                self.stop(signal.SIGTERM, None)
                continue
            log.warning("worker w%d (pid %d) died with %d; starting it again", number, pid, code)
            time.sleep(RESTART_DELAY)
            if not self.stopping:
                self.spawn(number)
        log.info("all workers stopped")
        return status

    def spawn(self, number: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = number
            return
        code = 1
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            worker_settings = dataclasses.replace(self.settings, migrate="check")
            code = serve_process(worker_settings, self.build, self.listen, f"w{number}")
        except BaseException:
            log.exception("worker w%d failed", number)
        finally:
            logging.shutdown()
            os._exit(code)

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler: pass the stop on to every worker; each drains on its own."""
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
