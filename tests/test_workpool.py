"""The image pool's time limit: a job past it fails alone, and its worker is replaced (#17)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from sns.workpool import JobTimeout, WorkerDied, WorkPool


async def test_a_job_past_the_limit_fails_and_the_others_go_on() -> None:
    pool = WorkPool(2, 1.0)
    try:
        started = time.monotonic()
        stuck = asyncio.ensure_future(pool.run(time.sleep, 60))
        # Meanwhile the other worker serves a queue of small jobs.
        pids = [await pool.run(os.getpid) for _ in range(5)]
        with pytest.raises(JobTimeout):
            await stuck
        assert time.monotonic() - started < 20  # the limit is 1 s; sleeping on took 60
        assert len(set(pids)) == 1 and pids[0] != os.getpid()
        # Both places work again, at once: the stuck worker was replaced.
        after = await asyncio.gather(*(pool.run(_sleep_then_pid, 0.3) for _ in range(2)))
        assert len(set(after)) == 2
    finally:
        pool.close()


async def test_a_worker_that_dies_fails_its_job_and_a_new_one_takes_its_place() -> None:
    pool = WorkPool(1, 30.0)
    try:
        before = await pool.run(os.getpid)
        with pytest.raises(WorkerDied):
            await pool.run(os._exit, 3)
        assert await pool.run(os.getpid) != before
        with pytest.raises(ZeroDivisionError):  # a job's own exception comes back as it is
            await pool.run(divmod, 1, 0)
        assert await pool.run(divmod, 7, 2) == (3, 1)
    finally:
        pool.close()


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()
