"""The command line's process pool: results by job number whatever order they finish
in, payloads larger than a pipe both ways, errors carried back, dead workers noticed,
and no worker left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tlsrpt_tui.store.index.rows import SigCollision
from tlsrpt_tui.store.parallel.forkpool import ForkPool, WorkerFailed


def _echo(delay: float, payload: bytes) -> tuple[int, bytes]:
    time.sleep(delay)
    return os.getpid(), payload[::-1]


def _collect(pool: ForkPool, numbers: list[int]) -> dict[int, Any]:
    results: dict[int, Any] = {}
    deadline = time.monotonic() + 30
    for number in numbers:
        while True:
            assert time.monotonic() < deadline, "the pool hangs"
            done, value = pool.result(number, 0.1)
            if done:
                results[number] = value
                break
    return results


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_results_by_number_with_big_payloads_both_ways() -> None:
    pool = ForkPool(2, _echo)
    try:
        # The first jobs are the slowest: later ones finish first, on the other worker.
        jobs = {
            n: (0.2 if n < 2 else 0.0, bytes([n]) * (3 << 20 if n % 3 == 0 else 10))
            for n in range(8)
        }
        for number, args in jobs.items():
            pool.submit(number, *args)
        results = _collect(pool, list(jobs))
        pids = set()
        for number, (_delay, payload) in jobs.items():
            pid, echoed = results[number]
            assert echoed == payload[::-1]
            pids.add(pid)
        assert len(pids) == 2  # both worked
        workers = [w.pid for w in pool.workers]
    finally:
        pool.close()
    assert not any(_alive(pid) for pid in workers)


def _fail(kind: str) -> None:
    if kind == "collision":
        raise SigCollision("two signatures, one hash")
    if kind == "die":
        os._exit(3)
    if kind == "odd":
        return object()  # type: ignore[return-value]  # (marshal cannot send it)
    raise ValueError(f"bad input: {kind}")


def test_errors_come_back_as_exceptions() -> None:
    pool = ForkPool(1, _fail, known_errors={"SigCollision": SigCollision})
    try:
        pool.submit(0, "value")
        with pytest.raises(WorkerFailed, match="ValueError: bad input: value"):
            _collect(pool, [0])
        pool.submit(1, "collision")
        with pytest.raises(SigCollision, match="one hash"):
            _collect(pool, [1])
        pool.submit(2, "odd")
        with pytest.raises(WorkerFailed, match="ValueError: unmarshallable"):
            _collect(pool, [2])
    finally:
        pool.close()


def test_a_dead_worker_is_an_error_not_a_hang() -> None:
    pool = ForkPool(1, _fail)
    try:
        pool.submit(0, "die")
        with pytest.raises(WorkerFailed, match="died"):
            _collect(pool, [0])
    finally:
        pool.close(kill=True)
    # Found dead while its next job is being written (the pipe is broken).
    pool = ForkPool(1, _fail)
    try:
        pool.submit(0, "die")
        time.sleep(0.3)
        with pytest.raises(WorkerFailed, match="died"):
            pool.submit(1, "x" * (4 << 20))
            _collect(pool, [0, 1])
    finally:
        pool.close(kill=True)


def test_closing_with_jobs_running_stops_every_worker() -> None:
    pool = ForkPool(2, _echo)
    for number in range(4):
        pool.submit(number, 30.0, b"slow")
    workers = [w.pid for w in pool.workers]
    started = time.monotonic()
    pool.close(kill=True)
    assert time.monotonic() - started < 10
    assert not any(_alive(pid) for pid in workers)


def test_a_worker_whose_parent_went_away_exits_quietly(tmp_path: Path) -> None:
    # The parent (here a child of the test) dies while its workers are busy: they
    # finish, find nobody to write to, and go without a traceback.
    script = tmp_path / "orphan.py"
    script.write_text(
        "import os, sys, time\n"
        "from tlsrpt_tui.store.parallel.forkpool import ForkPool\n"
        "def slow(n):\n"
        "    time.sleep(0.5)\n"
        "    return b'x' * (4 << 20)\n"
        "pool = ForkPool(2, slow)\n"
        "pool.submit(0, 0); pool.submit(1, 1)\n"
        "print(*(w.pid for w in pool.workers), flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=True
    )
    workers = [int(pid) for pid in done.stdout.split()]
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "orphaned workers linger"
        time.sleep(0.05)
    assert done.stderr == ""
