"""The bcrypt bound: how many hashes and checks run at once, and how long one waits (#12)."""

from __future__ import annotations

import asyncio
import csv
import os
import threading
import time
from pathlib import Path

import bcrypt
import pytest

import sns.passwords as passwords_module
from sns.errors import Busy, TooManyRequests
from sns.passwords import PasswordHasher

ROOT = Path(__file__).resolve().parent.parent


async def test_hash_and_check_agree():
    hasher = PasswordHasher(rounds=4)
    hashed = await hasher.hash("비밀번호 123")
    assert await hasher.check("비밀번호 123", hashed)
    assert not await hasher.check("비밀번호 124", hashed)
    assert not await hasher.check("anything at all", None)


async def test_no_more_checks_than_the_bound_run_at_once(monkeypatch):
    running = 0
    most = 0
    lock = threading.Lock()
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return real_checkpw(password, hashed)

    hasher = PasswordHasher(rounds=4, concurrency=2, wait=30)
    hashed = await hasher.hash("password 1")
    monkeypatch.setattr(passwords_module.bcrypt, "checkpw", counting_checkpw)

    results = await asyncio.gather(*(hasher.check("password 1", hashed) for _ in range(10)))

    assert results == [True] * 10
    assert most == 2


@pytest.mark.parametrize("work", ["hash", "check"])
async def test_a_request_that_gets_no_turn_in_time_is_told_the_server_is_busy(work):
    hasher = PasswordHasher(rounds=4, concurrency=1, wait=0.2)
    hashed = await hasher.hash("password 1")
    # A real, slow bcrypt (~0.6 s) holds the only turn.
    holder = asyncio.create_task(hasher._run(bcrypt.hashpw, b"slow", bcrypt.gensalt(13)))
    await asyncio.sleep(0.05)
    began = time.monotonic()
    with pytest.raises(Busy) as caught:
        if work == "hash":
            await hasher.hash("password 2")
        else:
            await hasher.check("password 1", hashed)
    assert 0.15 < time.monotonic() - began < 1
    assert caught.value.status == 503
    assert isinstance(caught.value, TooManyRequests) and caught.value.retry_after == 1
    await holder
    # Once the turn is free again, work goes through.
    assert await hasher.check("password 1", hashed)


def test_the_default_bound_is_one_turn_per_cpu_core():
    assert PasswordHasher().concurrency == (os.cpu_count() or 1)
    assert PasswordHasher(concurrency=3).concurrency == 3


def test_the_busy_message_has_a_korean_translation():
    with open(ROOT / "locale" / "ko_KR.csv", encoding="utf-8") as source:
        korean = {row[0] for row in csv.reader(source) if row}
    assert passwords_module.BUSY in korean


def thread_niceness() -> int:
    """This thread's nice value, from the kernel's own record of it."""
    with open(f"/proc/self/task/{threading.get_native_id()}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[16])


async def test_bcrypt_runs_below_the_event_loop_priority():
    """During a login storm the pages' thread must get a core before bcrypt does."""
    hasher = PasswordHasher(rounds=4, concurrency=2)

    def where() -> tuple[str, int]:
        return threading.current_thread().name, thread_niceness()

    name, niceness = await hasher._run(where)
    assert name.startswith("bcrypt")
    assert niceness == thread_niceness() + passwords_module.NICENESS
