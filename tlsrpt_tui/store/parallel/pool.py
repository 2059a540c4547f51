"""An ordered map over worker processes (the cold build's and the loader's pool)."""

from __future__ import annotations

import gc
import itertools
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

from tlsrpt_tui.core import archive as archive_module
from tlsrpt_tui.core.archive import Archive, LoadJob
from tlsrpt_tui.core.model import LoadResult
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, Limits
from tlsrpt_tui.store.parallel.forkpool import ForkPool

#: Files per batch handed to a worker (and per commit, at most a few batches).
BATCH_FILES = 256
#: Fewer files than this are parsed in-process: a pool costs more than it saves.
POOL_MIN_FILES = 400
T = TypeVar("T")
R = TypeVar("R")
# --------------------------------------------------------------------------- extraction


def worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which stops them cleanly."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class IndexCancelled(Exception):
    """Indexing stopped because the cancel event was set (what was done is kept)."""


def _fork_is_safe() -> bool:
    return sys.platform.startswith("linux") and threading.active_count() == 1


def prepare_workers() -> None:
    """Start multiprocessing's helper processes (forkserver, resource tracker) if needed.

    Called just before a pool starts, not at start-up (the forkserver re-imports the
    program: CPU a first screen would compete with). Under Textual ``sys.stderr`` is an
    object whose ``fileno()`` is -1, and multiprocessing hands stderr to its resource
    tracker ("bad value(s) in fds_to_keep"), so the real stderr stands in meanwhile.
    """
    import multiprocessing
    from multiprocessing import forkserver, resource_tracker

    saved = sys.stderr
    try:
        try:
            usable = saved is not None and saved.fileno() >= 0
        except (OSError, ValueError, AttributeError):
            usable = False
        if not usable and sys.__stderr__ is not None:
            sys.stderr = sys.__stderr__
        if "forkserver" in multiprocessing.get_all_start_methods():
            forkserver.ensure_running()
        else:
            resource_tracker.ensure_running()
    except (OSError, ValueError):
        pass  # the pool then fails to start and the caller falls back
    finally:
        sys.stderr = saved


def _pool(jobs: int) -> ProcessPoolExecutor:
    """A ``concurrent.futures`` pool whose workers start from a fork server (or are
    spawned): for when forking this process is not safe (see :class:`_Workers`)."""
    import multiprocessing  # (only a cold build needs these: keep warm opens quick)
    from concurrent.futures import ProcessPoolExecutor

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    prepare_workers()
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=worker_init,
    )


class _Workers(Generic[R]):
    """The processes :func:`map_batches` hands batches to: workers forked from this
    process and fed through pipes where forking is safe (the command line: no other
    thread), a ``concurrent.futures`` pool otherwise (the explorer)."""

    def __init__(
        self,
        jobs: int,
        worker: Callable[..., R],
        limits: Limits,
        known_errors: dict[str, Callable[[str], BaseException]] | None = None,
    ) -> None:
        self.worker = worker
        self.limits = limits
        self.forked: ForkPool | None = None
        self.executor: ProcessPoolExecutor | None = None
        self.numbers = itertools.count()
        if _fork_is_safe():
            # Forked workers share this process's memory until they write to it; a
            # collection in a worker would write to every object it visits. (Frozen for
            # the workers only: this process collects as before.)
            gc.freeze()
            try:
                self.forked = ForkPool(
                    jobs,
                    lambda work, *extra: worker(work, limits, *extra),
                    known_errors=known_errors,
                )
            finally:
                gc.unfreeze()
        else:
            self.executor = _pool(jobs)

    def submit(self, work: list[Any], extra: tuple[int, ...]) -> Any:
        """Start ``worker(work, limits, *extra)``; returns what :meth:`result` takes."""
        if self.forked is not None:
            number = next(self.numbers)
            self.forked.submit(number, work, *extra)
            return number
        assert self.executor is not None
        return self.executor.submit(self.worker, work, self.limits, *extra)

    def result(self, handle: Any, timeout: float) -> tuple[bool, R]:
        """(True, the result) or (False, None) if not done within ``timeout`` seconds."""
        if self.forked is not None:
            done, value = self.forked.result(handle, timeout)
            return done, value
        future: Future[R] = handle
        try:
            return True, future.result(timeout=timeout)
        except TimeoutError:
            return False, None  # type: ignore[return-value]

    def close(self, handles: Iterable[Any]) -> None:
        """Stop the workers; ``handles`` are the jobs not collected (dropped)."""
        if self.forked is not None:
            self.forked.close(kill=any(True for _ in handles))
            return
        assert self.executor is not None
        for future in handles:
            future.cancel()
        self.executor.shutdown(wait=True, cancel_futures=True)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise IndexCancelled


def map_batches(
    items: Iterable[T],
    job: Callable[[T], object],
    worker: Callable[..., R],
    limits: Limits,
    jobs: int,
    cancel: threading.Event | None = None,
    *,
    size: int = 64,
    pooled: int = BATCH_FILES,
    numbered_from: int | None = None,
    known_errors: dict[str, Callable[[str], BaseException]] | None = None,
) -> Iterator[tuple[list[T], R]]:
    """Consecutive (batch of items, ``worker(batch's jobs, limits)``), in order.

    ``job(item)`` is what the worker is given for an item (a path and display name, and
    in a cold build the file's key). ``items`` may be a generator (the scan of
    a cold build): it is consumed as batches are handed out, so parsing starts at
    once. With ``jobs > 1`` and enough files, batches are parsed in a process pool
    with a bounded number in flight (memory stays flat; cancelling stops within a
    batch); batches have ``pooled`` items in the pool, ``size`` in-process. With
    ``numbered_from``, the worker is also given the batch's number (that one, and on),
    as ``worker(jobs, limits, number)``.
    """
    source = iter(items)
    head = list(islice(source, POOL_MIN_FILES))
    source = chain(head, source)
    numbers = itertools.count(numbered_from or 0)

    def extra() -> tuple[int, ...]:
        return () if numbered_from is None else (next(numbers),)

    if jobs <= 1 or len(head) < POOL_MIN_FILES:
        while batch := list(islice(source, size)):
            _check(cancel)
            yield batch, worker([job(x) for x in batch], limits, *extra())
        return
    pending: deque[tuple[list[T], Any]] = deque()
    pool = _Workers(jobs, worker, limits, known_errors)
    # Items are listed ahead of the batches: once the listing is done, the last batches
    # are made smaller, so that the workers finish together and the caller has little
    # left to do after them.
    ahead: deque[T] = deque()
    more = True
    try:
        step = min(BATCH_FILES, pooled)

        def submit() -> None:
            nonlocal step, more
            want = step * (jobs + 1)
            if more and len(ahead) < want:
                got = list(islice(source, want - len(ahead)))
                more = len(got) == want - len(ahead)
                ahead.extend(got)
            count = step
            if not more:
                count = max(size, min(step, -(-len(ahead) // (2 * jobs))))
            batch = [ahead.popleft() for _ in range(min(count, len(ahead)))]
            step = min(step * 2, pooled)
            if batch:
                pending.append((batch, pool.submit([job(x) for x in batch], extra())))

        for _ in range(jobs * 3):
            submit()
        while pending:
            batch, handle = pending.popleft()
            while True:
                _check(cancel)
                done, outs = pool.result(handle, 0.1)
                if done:
                    break
            submit()
            while not more and ahead:
                submit()  # (the rest is listed: the workers take it as they are free)
            yield batch, outs
    finally:
        pool.close(handle for _, handle in pending)


def _same(item: tuple[str, str]) -> tuple[str, str]:
    return item


def load_archive(
    paths: Iterable[Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Archive:
    """:func:`tlsrpt_tui.core.archive.load_archive`, parsing in ``jobs`` processes."""
    if jobs <= 1:
        return archive_module.load_archive(paths, limits=limits, progress=progress)
    from concurrent.futures import ProcessPoolExecutor  # (most commands need no pool)

    with ProcessPoolExecutor(max_workers=jobs) as executor:

        def mapper(load: Callable[[LoadJob], LoadResult], work: list[LoadJob]) -> Any:
            chunk = max(1, min(256, len(work) // (jobs * 8) or 1))
            return executor.map(load, work, chunksize=chunk)

        try:
            return archive_module.load_archive(
                paths, limits=limits, progress=progress, mapper=mapper
            )
        finally:
            executor.shutdown(cancel_futures=True)
