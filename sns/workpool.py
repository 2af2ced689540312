"""A pool of worker processes with a time limit on every job (the image pool).

``concurrent.futures``' process pool cannot stop one job: a picture that takes minutes keeps
its worker, and everyone's uploads queue behind it (#17: a 1 KB upload waited 28 s). Here
each worker is a process of our own, talked to over a pipe from a thread of the pool's own;
a job past the limit has its worker killed and replaced, and fails with ``JobTimeout``. A
worker that dies under a job (killed, out of memory) fails that job with ``WorkerDied``;
the next job gets a new worker. The limit starts when the job reaches a ready worker: time
spent waiting for a free worker, or for a new one to start, is not the job's.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from sns.metrics import Metrics

log = logging.getLogger("sns.workpool")


class JobTimeout(Exception):
    """The job ran past the pool's time limit; its worker was replaced."""


class WorkerDied(Exception):
    """The worker process died under the job (killed, out of memory)."""


def _serve(conn: Connection, preload: tuple[str, ...]) -> None:
    """In the worker: import what the jobs need, say so, then run jobs until the pipe ends."""
    for module in preload:
        importlib.import_module(module)
    conn.send(None)
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, Any] = (True, function(*args))
        except Exception as exc:
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an answer that cannot be pickled
            conn.send((False, RuntimeError(f"the job's answer could not be sent: {exc!r}")))


class _Worker:
    """One process and our end of its pipe; its methods block (they run in a thread)."""

    def __init__(self, context: multiprocessing.context.BaseContext, preload: tuple[str, ...]):
        ours, theirs = context.Pipe()
        self.process = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(theirs, preload), name="sns-image-worker", daemon=True
        )
        self.process.start()
        theirs.close()
        self.conn = ours
        self.conn.recv()  # ready: its imports are done

    def call(self, function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        try:
            self.conn.send((function, args))
            answer: tuple[bool, Any] = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            raise WorkerDied(f"worker {self.process.pid} died") from None
        return answer

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkPool:
    """``await pool.run(function, *args)``: ``function(*args)`` in a worker process, at most
    ``size`` at once, each within ``time_limit`` seconds. Workers start when first needed
    (a fresh interpreter each: forking a process that runs an event loop and database
    threads copies their locks in whatever state they are)."""

    def __init__(
        self,
        size: int,
        time_limit: float,
        *,
        preload: Iterable[str] = (),
        context: multiprocessing.context.BaseContext | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.size = size
        self.time_limit = time_limit
        self.preload = tuple(preload)
        self._context = context or multiprocessing.get_context("forkserver")
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="sns-workpool")
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.metrics = metrics or Metrics()

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise RuntimeError("the pool is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        loop = asyncio.get_running_loop()
        async with self._slots:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = await loop.run_in_executor(
                    self._threads, _Worker, self._context, self.preload
                )
            self._busy.add(worker)
            healthy = False
            result = "failed"
            started = time.perf_counter()
            self.metrics.image_jobs_running(1)
            try:
                job = loop.run_in_executor(self._threads, worker.call, function, args)
                try:
                    ok, value = await asyncio.wait_for(job, self.time_limit)
                except TimeoutError:
                    log.warning(
                        "a job ran past %s s; worker %s is replaced",
                        self.time_limit,
                        worker.process.pid,
                    )
                    result = "timeout"
                    raise JobTimeout(f"the job ran past {self.time_limit} s") from None
                healthy = True
                result = "done" if ok else "refused"
            finally:
                self.metrics.image_jobs_running(-1)
                self.metrics.image_job(result, time.perf_counter() - started)
                self._busy.discard(worker)
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    # Killed here; the thread waiting on its pipe then returns at once.
                    worker.stop()
        if ok:
            return value
        raise value

    def close(self) -> None:
        """Stop every worker; jobs still running fail with ``WorkerDied``."""
        self._closed = True
        for worker in [*self._idle, *self._busy]:
            worker.stop()
        self._idle.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)
