"""A persistent SQLite index of an archive, answering the views' queries.

The index lives in the user cache folder, one database per set of archive roots. It
holds, per file, its size and modification time, and per distinct report the facts
the views aggregate (:mod:`tlsrpt_tui.store.extract`); opening an archive re-reads
only files that are new or changed, and forgets deleted ones. It is only a cache:
deleting it loses nothing, and a corrupt or outdated one is rebuilt.

* Cold builds parse in a process pool while the scan goes on: each worker makes its
  batch of files as a small SQLite database (:mod:`tlsrpt_tui.store.batch`) that the
  parent copies in C, a transaction per batch, so an interrupted build leaves a
  consistent, partial index that the next open completes. On the command line the
  pool is forked and fed through pipes (:mod:`tlsrpt_tui.store.forkpool`). Many files
  that all come after every file indexed (the rest of an interrupted cold build, a big
  folder added at the end) are added the same way.
* Refreshes run under an exclusive lock on a side file, so two instances on the same
  archive take turns; readers use WAL snapshots and are never blocked.
* A report seen in several files counts once, with the facts of its first copy in
  scan order, exactly as :class:`tlsrpt_tui.core.archive.Archive` de-duplicates.
* Next to the facts (``units``: one per report and policy domain, ``policies``,
  ``failures``) the index keeps what the views sum: per domain and day, per reporter
  and day, per policy type, per result type, and per *signature* -- a distinct
  (domain, reporter, haystack), the text a filter searches -- so the overview and the
  navigation pane read a few thousand rows whatever the archive's size, and a text
  filter scans the distinct haystacks, not every report.
"""

from __future__ import annotations

import ast
import gc
import itertools
import json
import os
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from tlsrpt_tui.core.health.rows import HealthRow

    # (At run time the row types are imported where rows are made: the index's own
    # work, summary included, never makes one, and their classes take a while to set up.)
    from tlsrpt_tui.store.queries import (
        DailyPoint,
        FailureRow,
        Filter,
        FoldedReport,
        NavRow,
        Overview,
        Pivot,
        PolicyRow,
        ReportRow,
    )

from tlsrpt_tui import __version__
from tlsrpt_tui.core.archive import collect_files, in_quarantine, is_candidate_name
from tlsrpt_tui.core.loader import DEFAULT_LIMITS, Limits, load_file
from tlsrpt_tui.core.model import LoadError, Report, Source
from tlsrpt_tui.core.progress import Totals
from tlsrpt_tui.locations import cache_dir
from tlsrpt_tui.store.batch import (
    ID_SPAN,
    BatchJob,
    BatchOut,
    batch_base,
    build_batch,
    can_serialize,
    clear_stage,
    expand_stage,
    unpack_meta,
)
from tlsrpt_tui.store.extract import (
    P_FAILED,
    P_OK,
    P_TYPE,
    U_DOMAIN,
    U_FAILED,
    U_FOLDED,
    U_OK,
    U_RTC,
    FileOut,
    ReportOut,
    SigCollision,
    Sums,
    aggregate_rows,
    blake2b,
    clean,
    extract_batch,
    key_hash,
    merge_sums,
    new_sums,
    out_of_report,
    sha256,
    sig_hash,
    slow_file,
    worker_init,
)
from tlsrpt_tui.store.forkpool import ForkPool
from tlsrpt_tui.store.scan import (
    DIR_MARK,
    FILE_MARK,
    KEY,
    MTIME,
    SIZE,
    Entry,
    Scan,
    Stamp,
    count_files,
    dir_key,
    file_key,
    iter_scan,
    key_location,
    prefix_end,
    root_prefix,
    walk,
    walk_changed,
    walk_folders,
)
from tlsrpt_tui.store.schema import BATCH_TABLES, SCHEMA

#: Bump when the tables change; an index of another version is rebuilt.
SCHEMA_VERSION = 5
#: Bump when extraction changes what it stores for the same file.
#: (3: the per-type counting rule; 4: internationalized domains as A-labels, and the walk
#: keeps the entries it used to drop)
EXTRACT_VERSION = 4
#: Files per batch handed to a worker (and per commit, at most a few batches).
BATCH_FILES = 256
#: Files per batch handed to a worker in a cold build.
#: (The first batches are smaller, so that every worker starts at once.)
ROWS_BATCH_FILES = 2048
#: Fewer files than this are parsed in-process: a pool costs more than it saves.
POOL_MIN_FILES = 400
#: A folder changed this recently (or later: another clock) may change again within the
#: same tick of its file system's clock, unseen: it is listed again next time. (Two
#: seconds is FAT's tick; a jiffy is Linux's.)
RECENT_NS = 3_000_000_000

ProgressCallback = Callable[[int, int], None]
T = TypeVar("T")
R = TypeVar("R")
#: A file to index: (key, display name, size, mtime, path to read).
Todo = tuple[bytes, str, int, int, str]


#: The tables holding a report's facts, with its id range columns in ``reports``.
_FACT_RANGES = (("units", "u0", "u1"), ("policies", "p0", "p1"), ("failures", "f0", "f1"))

#: Indexes a refresh that changes anything needs (finding a report by key, a file's
#: rows). A cold build does without them (its dictionary knows every key).
_MAINTENANCE_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS files_key ON files(key)",
    "CREATE INDEX IF NOT EXISTS reports_khash ON reports(khash)",
    "CREATE INDEX IF NOT EXISTS reports_file ON reports(file)",
    "CREATE INDEX IF NOT EXISTS copies_file ON copies(file)",
    "CREATE INDEX IF NOT EXISTS copies_report ON copies(report)",
    "CREATE INDEX IF NOT EXISTS errors_file ON errors(file)",
    "CREATE INDEX IF NOT EXISTS units_sig ON units(sig, day, successful, failed, lead)",
    # The few units with failure-details folded (the summary lists their reports, and a
    # refresh that changes anything recomputes it: no scan of every unit then).
    "CREATE INDEX IF NOT EXISTS units_folded ON units(report) WHERE folded > 0",
)
#: Finding the files of one folder (a quick refresh that found a folder changed).
_FILES_KEY = ("CREATE UNIQUE INDEX IF NOT EXISTS files_key ON files(key)",)
#: Indexes the explorer's queries use (not needed by ``summary``). The unit indexes
#: cover the aggregate queries, which then never touch the table itself.
_QUERY_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS files_key ON files(key)",
    "CREATE INDEX IF NOT EXISTS reports_khash ON reports(khash)",
    "CREATE INDEX IF NOT EXISTS copies_report ON copies(report)",
    "CREATE INDEX IF NOT EXISTS reports_order ON reports(day DESC, reporter DESC, id)",
    "CREATE INDEX IF NOT EXISTS reports_reporter ON reports(reporter, day DESC, id)",
    "CREATE INDEX IF NOT EXISTS units_domain"
    " ON units(domain, day, sig, successful, failed, lead, report)",
    "CREATE INDEX IF NOT EXISTS units_reporter"
    " ON units(reporter, day, sig, successful, failed, lead, report)",
    "CREATE INDEX IF NOT EXISTS units_sig ON units(sig, day, successful, failed, lead)",
    "CREATE INDEX IF NOT EXISTS units_day"
    " ON units(day, sig, domain, reporter, successful, failed, lead)",
    "CREATE INDEX IF NOT EXISTS units_more ON units(report) WHERE lead = 0",
    # Covering (a text filter's 14-day trend: units of the matching signatures by day).
    "CREATE INDEX IF NOT EXISTS units_sig_trend"
    " ON units(sig, day, domain, reporter, successful, failed, lead)",
    # Covering (the policy pane's GROUP BY reads the index alone, in order): a cursor
    # move in the navigation pane asks for one domain's or reporter's policies.
    "CREATE INDEX IF NOT EXISTS policies_by_domain ON policies(domain, policy_type, sts_mode,"
    " reporter, mx, successful, failed, first, day, sig)",
    "CREATE INDEX IF NOT EXISTS policies_by_reporter ON policies(reporter, domain, policy_type,"
    " sts_mode, mx, successful, failed, first, day, sig)",
    "CREATE INDEX IF NOT EXISTS failures_domain ON failures(domain, day)",
    "CREATE INDEX IF NOT EXISTS failures_reporter ON failures(reporter, day)",
    "CREATE INDEX IF NOT EXISTS failures_type ON failures(result_type, unit)",
)

#: SQLite result codes that mean the file is damaged: CORRUPT, FORMAT, NOTADB.
_CORRUPT_CODES = frozenset({11, 24, 26})
#: What a damaged index raises while being read, besides sqlite3.DatabaseError.
_CONTENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, UnicodeError)


class IndexCancelled(Exception):
    """Indexing stopped because the cancel event was set (what was done is kept)."""


class IndexDamaged(Exception):
    """The index file turned out damaged while answering; it was deleted, reopen it."""


class _Stale(Exception):
    """The index was written by another version or with other limits."""


@dataclass
class RefreshStats:
    """What one refresh found and did."""

    files: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    new_reports: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    #: Built from scratch (a cold build)
    cold: bool = False
    #: Every file was looked at (not only those in folders that changed)
    full: bool = False
    #: Folders listed (the others had not changed since the last refresh)
    folders_listed: int = 0

    @property
    def changes(self) -> int:
        return self.added + self.changed + self.removed


# --------------------------------------------------------------------------- progress


@dataclass
class ProgressMeter:
    """Turns (done, total) calls into a line with files/s and the time left."""

    label: str = "indexing"
    started: float = field(default_factory=time.perf_counter)
    totals: Totals = field(default_factory=Totals)

    def line(self, done: int, total: int) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = done / elapsed
        count, left = self.totals.count(done, total, rate)
        text = f"{self.label}: {count} files"
        if done and elapsed > 0.2:
            text += f", {rate:,.0f} files/s"
            if left is not None:
                text += f", ETA {left}"
        return text


def terminal_progress(
    label: str = "indexing", stream: Any = None
) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """A progress callback printing one updating line, and a finisher; no callback when
    the stream is not a terminal (nothing is counted for it, then)."""
    out = stream if stream is not None else sys.stderr
    meter = ProgressMeter(label)
    shown = [False, 0.0]
    enabled = hasattr(out, "isatty") and out.isatty()

    def progress(done: int, total: int) -> None:
        if not total:
            return
        now = time.perf_counter()
        if done < total and now - float(shown[1]) < 0.1:
            return
        shown[0], shown[1] = True, now
        out.write("\r\033[K" + meter.line(done, total))
        out.flush()

    def finish() -> None:
        if enabled and shown[0]:
            out.write("\r\033[K")
            out.flush()

    return (progress if enabled else None), finish


# --------------------------------------------------------------------------- location


def index_path(paths: Sequence[Path]) -> Path:
    """Where the index of these archive roots lives (one per set of roots, in order)."""
    resolved = "\0".join(str(Path(p).resolve()) for p in paths)
    digest = sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir() / "index" / f"{digest}.sqlite3"


def _format_tag(limits: Limits) -> str:
    return (
        f"schema={SCHEMA_VERSION};extract={EXTRACT_VERSION};app={__version__};"
        f"max_file={limits.max_file_bytes};max_decompressed={limits.max_decompressed_bytes}"
    )


def _is_corrupt(exc: BaseException) -> bool:
    """Whether an error means the index file itself is damaged (so: rebuild it)."""
    if isinstance(exc, _CONTENT_ERRORS):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(exc).lower()
    return any(word in text for word in ("malformed", "not a database", "decode"))


def delete_index(path: Path) -> None:
    """Remove an index file and its companions (the lock file stays)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


@contextmanager
def _exclusive(lock_path: Path, cancel: threading.Event | None) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (waiting for another instance's refresh)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: SQLite's own locking only
            yield
            return
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if cancel is not None and cancel.is_set():
                    raise IndexCancelled from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=60000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-32000")
    conn.execute("PRAGMA secure_delete=OFF")
    return conn


def _open_checked(path: Path, tag: str) -> tuple[sqlite3.Connection, bool]:
    """Open (creating or rebuilding as needed) the index; returns (conn, rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rebuilt = False
    for attempt in range(3):
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables == 0:
                conn.executescript("BEGIN;" + SCHEMA + "COMMIT;")
                conn.execute("INSERT INTO meta VALUES ('format', ?)", (tag,))
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                return conn, rebuilt
            if version != SCHEMA_VERSION:
                raise _Stale
            row = conn.execute("SELECT value FROM meta WHERE name='format'").fetchone()
            if row is None or row[0] != tag:
                raise _Stale
            if conn.execute("SELECT 1 FROM meta WHERE name='building'").fetchone():
                raise _Stale  # a cold build died with its journal in memory: start over
            _light_check(conn)
            return conn, rebuilt
        except (sqlite3.DatabaseError, _Stale) as exc:
            if conn is not None:
                conn.close()
            if not isinstance(exc, _Stale) and not _is_corrupt(exc):
                if attempt == 2:
                    raise
                time.sleep(0.2)
                continue
            delete_index(path)
            rebuilt = True
    raise sqlite3.DatabaseError(f"cannot open or rebuild the index {path}")


def _light_check(conn: sqlite3.Connection) -> None:
    """Touch the first and last pages of every table: a truncated file fails here.

    (A full ``PRAGMA quick_check`` reads the whole file: too slow for every open.)
    """
    tables = ("files", "reports", "copies", "sigs", "units", "policies", "failures", "errors")
    # (one query, but min and max each on its own: SQLite only looks up the ends of the
    # rowid tree for a lone min() or max(); both together scan the table)
    conn.execute(
        "SELECT "
        + ", ".join(f"(SELECT min(id) FROM {t}), (SELECT max(id) FROM {t})" for t in tables)
    ).fetchone()


# --------------------------------------------------------------------------- extraction


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

    def __init__(self, jobs: int, worker: Callable[..., R], limits: Limits) -> None:
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
                    known_errors={"SigCollision": SigCollision},
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


def extract_in_order(
    items: Iterable[T],
    job: Callable[[T], tuple[str, str]],
    limits: Limits,
    jobs: int,
    cancel: threading.Event | None = None,
) -> Iterator[list[tuple[T, FileOut]]]:
    """Consecutive batches of (item, rows of its file), in the order of ``items``.

    ``job(item)`` is (path, display name). See :func:`map_batches`.
    """
    for batch, outs in map_batches(items, job, extract_batch, limits, jobs, cancel):
        yield list(zip(batch, outs, strict=True))


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
    pool = _Workers(jobs, worker, limits)
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


# --------------------------------------------------------------------------- writing


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class _Writer:
    """Adds files' rows to the index and removes them, keeping first copies primary.

    A report's first copy (in scan order) is its ``reports`` row, whose facts are in
    the fact tables; further copies are ``copies`` rows. ``file`` is NULL while a
    report waits for its next copy to be promoted. The aggregate tables follow every
    change of the fact tables (:func:`_aggregate`).
    """

    def __init__(
        self, conn: sqlite3.Connection, roots: Sequence[Path], *, bulk: bool, lazy: bool = False
    ) -> None:
        self.conn = conn
        self.roots = roots
        self.bulk = bulk
        self.new_reports = 0
        self.next: dict[str, int] = {}
        self.sigs: dict[tuple[str, str, str], int] = {}
        self.sig_ids: dict[int, tuple[str, str, str]] = {}
        self.known: dict[int, int] = {}
        self.exact: dict[str, int] = {}
        self.batch_keys: dict[int, str] = {}
        #: A cold build's sums for the aggregate tables (see add_batch)
        self.sums: Sums = new_sums()
        self.ready = False
        if not lazy:
            self._prepare()

    def _prepare(self) -> None:
        """Read the next ids and the signatures (not needed when nothing changed)."""
        if self.ready:
            return
        self.ready = True
        conn = self.conn
        for table in ("files", "reports", "units", "policies", "failures"):
            top = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
            self.next[table] = (top or 0) + 1
        # Signatures: (domain, reporter, haystack) -> id. Few, so all in memory.
        if conn.execute("SELECT 1 FROM meta WHERE name='stale'").fetchone() is None:
            conn.execute("DELETE FROM sigs WHERE units = 0")  # (counts are up to date)
        self.sig_ids = {
            sid: (domain, reporter, hay)
            for sid, domain, reporter, hay in conn.execute(
                "SELECT id, domain, reporter, hay FROM sigs"
            )
        }
        self.sigs = {sig: sid for sid, sig in self.sig_ids.items()}
        # ``known``: key hash -> report id for reports added in this session (all of
        # them in bulk mode, where the table was empty); keys whose hash collides go to
        # ``exact``.

    # -- lookups ---------------------------------------------------------------------

    def _lookup(self, key: str, khash: int) -> int | None:
        rid = self.exact.get(key)
        if rid is not None:
            return rid
        rid = self.known.get(khash)
        if rid is not None:
            stored = self.batch_keys.get(rid)
            if stored is None:
                row = self.conn.execute("SELECT key FROM reports WHERE id=?", (rid,)).fetchone()
                stored = row[0] if row else None
            if stored == key:
                return rid
        if self.bulk:
            return None
        row = self.conn.execute(
            "SELECT id FROM reports WHERE khash=? AND key=?", (khash, key)
        ).fetchone()
        return None if row is None else int(row[0])

    def _remember(self, key: str, khash: int, rid: int) -> None:
        if khash in self.known:
            self.exact[key] = rid
        else:
            self.known[khash] = rid

    # -- adding ----------------------------------------------------------------------

    def add(self, items: Sequence[tuple[bytes, str, int, int, FileOut]]) -> list[tuple[int, int]]:
        """Add files: (key, display, size, mtime, rows) each, in key order.

        Returns (item index, report index) of the reports that were new to the index.
        """
        files_rows: list[tuple[Any, ...]] = []
        error_rows: list[tuple[Any, ...]] = []
        report_rows: list[tuple[Any, ...]] = []
        later: list[tuple[int, bytes, int, int, ReportOut]] = []
        created: list[tuple[int, int]] = []
        facts = _Facts(self)
        known = self.known
        batch_keys: dict[int, str] = {}
        self.batch_keys = batch_keys
        fid = self.next["files"]
        rid_next = self.next["reports"]
        for index, (fkey, display, size, mtime, (reports, errors)) in enumerate(items):
            files_rows.append((fid, fkey, display, size, mtime))
            for seq, (part, message) in enumerate(errors):
                error_rows.append((fid, seq, part, message))
            for seq, rep in enumerate(reports):
                key, khash = rep[0], rep[1]
                if self.bulk and khash not in known and not self.exact:
                    rid = None
                else:
                    rid = self._lookup(key, khash)
                if rid is None:
                    rid = rid_next
                    rid_next += 1
                    self._remember(key, khash, rid)
                    batch_keys[rid] = key
                    created.append((index, seq))
                    report_rows.append(
                        (rid, khash, key, rep[2], rep[3], rep[4], fid, seq, rep[5],
                         *facts.add(rid, rep))
                    )  # fmt: skip
                else:
                    later.append((rid, fkey, fid, seq, rep))
            fid += 1
        self.next["files"] = fid
        self.next["reports"] = rid_next
        conn = self.conn
        conn.executemany("INSERT INTO files VALUES (?,?,?,?,?)", files_rows)
        conn.executemany(
            "INSERT INTO errors(file, seq, part, message) VALUES (?,?,?,?)", error_rows
        )
        conn.executemany(f"INSERT INTO reports VALUES ({_marks(15)})", report_rows)
        facts.write()
        for rid, fkey, file_id, seq, rep in later:
            self._another_copy(rid, fkey, file_id, seq, rep)
        self.new_reports += len(created)
        return created

    def _another_copy(self, rid: int, fkey: bytes, fid: int, seq: int, rep: ReportOut) -> None:
        """A further copy of a known report: it becomes primary if it comes first."""
        conn = self.conn
        row = conn.execute(
            "SELECT r.file, f.key, r.seq, r.part FROM reports r LEFT JOIN files f ON f.id = r.file"
            " WHERE r.id = ?",
            (rid,),
        ).fetchone()
        if row[0] is None:
            first = conn.execute(
                "SELECT f.key, c.seq FROM copies c JOIN files f ON f.id = c.file"
                " WHERE c.report = ? ORDER BY f.key, c.seq LIMIT 1",
                (rid,),
            ).fetchone()
            if first is not None and (first[0], first[1]) < (fkey, seq):
                self._copy(rid, fid, seq, rep[5])  # promoted after the batch
                return
        elif (fkey, seq) < (row[1], row[2]):
            self._copy(rid, row[0], row[2], row[3])
            self.drop_facts([rid])
        else:
            self._copy(rid, fid, seq, rep[5])
            return
        self._set_primary(rid, fid, seq, rep[5], rep)

    def _set_primary(self, rid: int, fid: int, seq: int, part: str | None, rep: ReportOut) -> None:
        facts = _Facts(self)
        ranges = facts.add(rid, rep)
        facts.write()
        self.conn.execute(
            "UPDATE reports SET file=?, seq=?, part=?, u0=?, u1=?, p0=?, p1=?, f0=?, f1=?"
            " WHERE id=?",
            (fid, seq, part, *ranges, rid),
        )

    def _copy(self, rid: int, fid: int, seq: int, part: str | None) -> None:
        self.conn.execute(
            "INSERT INTO copies(report, file, seq, part) VALUES (?,?,?,?)", (rid, fid, seq, part)
        )

    def sig(self, domain: str, reporter: str, hay: str, new: list[tuple[Any, ...]]) -> int:
        """A signature's id: its hash, as cold builds number them (the next free number
        if another signature has it)."""
        key = (domain, reporter, hay)
        sid = self.sigs.get(key)
        if sid is None:
            sid = sig_hash(domain, reporter, hay)
            while sid in self.sig_ids:
                sid = sid + 1 if sid < 2**63 - 1 else -(2**63)
            self.sigs[key] = sid
            self.sig_ids[sid] = key
            new.append((sid, domain, reporter, hay))
        return sid

    # -- adding a cold build's batches --------------------------------------------------

    def add_batch(self, out: BatchOut) -> int:
        """Add a batch of a cold build (files in scan order, after every file already
        added) as :func:`build_batch` made it, in a transaction of its own. SQLite copies
        the batch's tables as they are (a report seen before becomes a copy first).
        Returns how many files were indexed."""
        self._prepare()
        conn = self.conn
        number, database, meta = out
        files, khashes, sigs, sums = unpack_meta(meta)
        new_sigs = {}
        for sid, sig in sigs.items():
            have = self.sig_ids.get(sid)
            if have is None:
                new_sigs[sid] = sig
            elif have != sig:
                raise SigCollision
        conn.deserialize(database, name=_BATCH)  # (not possible inside a transaction)
        with _transaction(conn):
            base = batch_base(number)
            known = self.known
            fresh = known.keys().isdisjoint(khashes) and len(set(khashes)) == len(khashes)
            if fresh and not self.bulk:
                fresh = not self._indexed(khashes)
            if fresh:
                known.update(zip(khashes, range(base, base + len(khashes)), strict=True))
                self.new_reports += len(khashes)
            else:
                # (rare: the staged files become rows of the batch, to be sorted out there)
                expand_stage(conn, _BATCH, _BATCH, number)
                clear_stage(conn, _BATCH)
                self._keep_first_copies()
                if self.bulk:  # (what is left of the batch)
                    sums = aggregate_rows(
                        conn.execute(f"SELECT * FROM {_BATCH}.units"),
                        conn.execute(f"SELECT * FROM {_BATCH}.policies"),
                    )
            if new_sigs:
                conn.executemany(
                    "INSERT INTO sigs(id, domain, reporter, hay) VALUES (?,?,?,?)",
                    [(sid, *sig) for sid, sig in new_sigs.items()],
                )
            for table in BATCH_TABLES:
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM {_BATCH}.{table}")
            expand_stage(conn, _BATCH, "main", number)
            if not self.bulk:
                # (an index in use: its aggregate tables follow, by this batch's id range)
                _aggregate(conn, base, base + ID_SPAN - 1, base, base + ID_SPAN - 1, 1)
            elif sums[2]:
                # The aggregate tables are written at the end (write_sums); until then (or
                # after an interruption) they are stale, and _rebuild_aggregates fixes them.
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stale', '1')")
        for sid, sig in new_sigs.items():
            self.sig_ids[sid] = sig
            self.sigs[sig] = sid
        if self.bulk:
            merge_sums(self.sums, sums)
        return files

    def _indexed(self, khashes: Sequence[int]) -> bool:
        """Whether a report with one of these key hashes is in the index already."""
        return any(
            self.conn.execute(
                f"SELECT 1 FROM reports WHERE khash IN ({_marks(len(chunk))}) LIMIT 1", chunk
            ).fetchone()
            for chunk in _chunks(khashes)
        )

    def _keep_first_copies(self) -> None:
        """Turn the batch's reports seen before into copies (batches come in scan order,
        after every file indexed: a report seen before is never the first copy),
        dropping their facts from the batch."""
        conn = self.conn
        batch_keys: dict[int, str] = {}
        self.batch_keys = batch_keys
        copies: list[tuple[int, int, int, str | None]] = []
        dropped: list[tuple[int]] = []
        for rid, khash, key, fid, seq, part in conn.execute(
            f"SELECT id, khash, key, file, seq, part FROM {_BATCH}.reports ORDER BY id"
        ).fetchall():
            have = self._lookup(key, khash)
            if have is not None:
                copies.append((have, fid, seq, part))
                dropped.append((rid,))
                continue
            self._remember(key, khash, rid)
            batch_keys[rid] = key
        self.new_reports += len(batch_keys)
        if dropped:
            conn.executemany(f"DELETE FROM {_BATCH}.reports WHERE id = ?", dropped)
            conn.execute(
                f"DELETE FROM {_BATCH}.units WHERE report NOT IN (SELECT id FROM {_BATCH}.reports)"
            )
            for table in ("policies", "failures"):
                conn.execute(
                    f"DELETE FROM {_BATCH}.{table}"
                    f" WHERE unit NOT IN (SELECT id FROM {_BATCH}.units)"
                )
            conn.executemany("INSERT INTO copies(report, file, seq, part) VALUES (?,?,?,?)", copies)

    def write_sums(self) -> None:
        """Write the aggregate tables from a cold build's sums (in a transaction)."""
        conn = self.conn
        domains, reporters, sigs, types, results = self.sums
        for table in ("daily_domain", "daily_reporter", "policy_types", "type_totals"):
            conn.execute(f"DELETE FROM {table}")
        conn.executemany(
            "INSERT INTO daily_domain VALUES (?,?,?,?,?)", [(*k, *v) for k, v in domains.items()]
        )
        conn.executemany(
            "INSERT INTO daily_reporter VALUES (?,?,?,?,?)",
            [(*k, *v) for k, v in reporters.items()],
        )
        conn.execute(
            "UPDATE sigs SET units = 0, leads = 0, successful = 0, failed = 0, first = NULL,"
            " last = NULL"
        )
        conn.executemany(
            "UPDATE sigs SET units = ?, leads = ?, successful = ?, failed = ?, first = ?,"
            " last = ? WHERE id = ?",
            [(*v, k) for k, v in sigs.items()],
        )
        conn.executemany(
            "INSERT INTO policy_types VALUES (?,?,?,?,?)", [(*k, *v) for k, v in types.items()]
        )
        conn.executemany(
            "INSERT INTO type_totals VALUES (?,?,?,?)", [(*k, *v) for k, v in results.items()]
        )
        conn.execute("DELETE FROM meta WHERE name='stale'")

    # -- removing ----------------------------------------------------------------------

    def drop_facts(self, rids: Iterable[int]) -> None:
        """Delete reports' facts and mark them as waiting for a copy to be promoted."""
        conn = self.conn
        dropped = False
        for rid in rids:
            row = conn.execute(
                "SELECT u0, u1, p0, p1, f0, f1 FROM reports WHERE id=?", (rid,)
            ).fetchone()
            if row is None or row[0] is None:
                continue
            _aggregate(conn, row[0], row[1], row[2], row[3], -1)
            for (table, _lo, _hi), lo, hi in zip(_FACT_RANGES, row[::2], row[1::2], strict=True):
                if hi >= lo:
                    conn.execute(f"DELETE FROM {table} WHERE id BETWEEN ? AND ?", (lo, hi))
            conn.execute(
                "UPDATE reports SET file=NULL, seq=NULL, part=NULL, u0=NULL, u1=NULL, p0=NULL,"
                " p1=NULL, f0=NULL, f1=NULL WHERE id=?",
                (rid,),
            )
            dropped = True
        if dropped:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('pending', '1')")

    def remove(self, fids: Sequence[int]) -> None:
        """Forget files: their errors and copies (reports lose their facts if primary)."""
        conn = self.conn
        lost: list[int] = []
        for chunk in _chunks(fids):
            marks = _marks(len(chunk))
            lost.extend(
                r for (r,) in conn.execute(f"SELECT id FROM reports WHERE file IN ({marks})", chunk)
            )
            conn.execute(f"DELETE FROM copies WHERE file IN ({marks})", chunk)
            conn.execute(f"DELETE FROM errors WHERE file IN ({marks})", chunk)
            conn.execute(f"DELETE FROM files WHERE id IN ({marks})", chunk)
        self.drop_facts(lost)

    def promote(self, limits: Limits) -> None:
        """Reports whose first copy went: the next copy becomes primary, or they go."""
        conn = self.conn
        flag = conn.execute("SELECT 1 FROM meta WHERE name='pending'").fetchone()
        if flag is None:
            return
        self._prepare()
        wanted: dict[int, list[tuple[int, int, int, str | None, str]]] = {}
        files: dict[int, tuple[str, str]] = {}
        for rid, key in conn.execute("SELECT id, key FROM reports WHERE file IS NULL").fetchall():
            row = conn.execute(
                "SELECT c.id, c.seq, c.part, f.id, f.key, f.display FROM copies c"
                " JOIN files f ON f.id = c.file WHERE c.report = ? ORDER BY f.key, c.seq LIMIT 1",
                (rid,),
            ).fetchone()
            if row is None:
                conn.execute("DELETE FROM reports WHERE id=?", (rid,))
                continue
            cid, seq, part, fid, fkey, display = row
            files[fid] = (key_location(fkey, self.roots), display)
            wanted.setdefault(fid, []).append((rid, cid, seq, part, key))
        unresolved = False
        for fid, entries in wanted.items():
            location, display = files[fid]
            reports, _errors = extract_batch([(location, display)], limits)[0]
            for rid, cid, seq, part, key in entries:
                if seq >= len(reports) or reports[seq][0] != key:
                    # The file changed since the scan: read it again next time.
                    conn.execute("UPDATE files SET size=-1 WHERE id=?", (fid,))
                    conn.execute("DELETE FROM meta WHERE name='scan'")
                    conn.execute("DELETE FROM folders")  # (the next refresh looks at all)
                    unresolved = True
                    continue
                conn.execute("DELETE FROM copies WHERE id=?", (cid,))
                self._set_primary(rid, fid, seq, part, reports[seq])
        if not unresolved:
            conn.execute("DELETE FROM meta WHERE name='pending'")


class _Facts:
    """Fact rows of reports about to be inserted, with their fresh ids."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.units: list[list[Any]] = []
        self.policies: list[list[Any]] = []
        self.failures: list[list[Any]] = []
        self.sigs: list[tuple[Any, ...]] = []
        self.first_unit = writer.next["units"]
        self.first_policy = writer.next["policies"]

    def add(self, rid: int, rep: ReportOut) -> tuple[int, ...]:
        """Queue one report's facts; returns its id ranges (units, policies, failures).

        The rows come from the worker complete but for the ids, set here in place.
        """
        reporter = rep[2]
        nxt = self.writer.next
        known_sigs = self.writer.sigs
        u0 = uid = nxt["units"]
        p0 = pid = nxt["policies"]
        f0 = fid = nxt["failures"]
        units, policies, failures = self.units, self.policies, self.failures
        for haystack, unit, unit_policies, unit_failures in rep[6]:
            domain = unit[3]
            sid = known_sigs.get((domain, reporter, haystack))
            if sid is None:
                sid = self.writer.sig(domain, reporter, haystack, self.sigs)
            unit[0] = uid
            unit[1] = rid
            unit[2] = sid
            units.append(unit)
            for row in unit_policies:
                row[0] = pid
                row[1] = uid
                row[2] = sid
                policies.append(row)
                pid += 1
            for row in unit_failures:
                row[0] = fid
                row[1] = uid
                failures.append(row)
                fid += 1
            uid += 1
        nxt["units"], nxt["policies"], nxt["failures"] = uid, pid, fid
        return (u0, uid - 1, p0, pid - 1, f0, fid - 1)

    def write(self) -> None:
        conn = self.writer.conn
        conn.executemany("INSERT INTO sigs(id, domain, reporter, hay) VALUES (?,?,?,?)", self.sigs)
        conn.executemany(f"INSERT INTO units VALUES ({_marks(11)})", self.units)
        conn.executemany(f"INSERT INTO policies VALUES ({_marks(12)})", self.policies)
        conn.executemany(f"INSERT INTO failures VALUES ({_marks(14)})", self.failures)
        if self.writer.bulk:
            # A cold build sums everything once at the end (_rebuild_aggregates).
            if self.units:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stale', '1')")
        elif self.units:
            _aggregate(
                conn,
                self.first_unit,
                self.writer.next["units"] - 1,
                self.first_policy,
                self.writer.next["policies"] - 1,
                1,
            )


def _rebuild_aggregates(conn: sqlite3.Connection) -> None:
    """Sum every aggregate table again from the facts (after a cold build)."""
    if conn.execute("SELECT 1 FROM meta WHERE name='stale'").fetchone() is None:
        return
    with _transaction(conn):
        conn.execute("DELETE FROM daily_domain")
        conn.execute(
            "INSERT INTO daily_domain SELECT domain, day, sum(successful), sum(failed), count(*)"
            " FROM units GROUP BY domain, day"
        )
        conn.execute("DELETE FROM daily_reporter")
        conn.execute(
            "INSERT INTO daily_reporter SELECT reporter, day, sum(successful), sum(failed),"
            " sum(lead) FROM units GROUP BY reporter, day"
        )
        conn.execute(
            "UPDATE sigs SET units = 0, leads = 0, successful = 0, failed = 0, first = NULL,"
            " last = NULL"
        )
        conn.execute(
            "UPDATE sigs SET units = d.units, leads = d.leads, successful = d.successful,"
            " failed = d.failed, first = d.first, last = d.last"
            " FROM (SELECT sig, count(*) AS units, sum(lead) AS leads,"
            " sum(successful) AS successful, sum(failed) AS failed, min(day) AS first,"
            " max(day) AS last FROM units GROUP BY sig) AS d WHERE sigs.id = d.sig"
        )
        conn.execute("DELETE FROM policy_types")
        conn.execute(
            "INSERT INTO policy_types SELECT domain, policy_type, sum(successful), sum(failed),"
            " count(*) FROM policies GROUP BY domain, policy_type"
        )
        conn.execute("DELETE FROM type_totals")
        conn.execute(
            "INSERT INTO type_totals SELECT u.domain, j.key, sum(j.value), count(*)"
            " FROM units u, json_each(u.rtc) j WHERE u.rtc IS NOT NULL GROUP BY u.domain, j.key"
        )
        conn.execute("DELETE FROM meta WHERE name='stale'")


def _aggregate(conn: sqlite3.Connection, u0: int, u1: int, p0: int, p1: int, sign: int) -> None:
    """Add (sign 1) or take away (sign -1) units u0..u1 and policies p0..p1 from the
    aggregate tables; SQLite does the arithmetic."""
    conn.execute(
        "INSERT INTO daily_domain SELECT domain, day, ?1 * sum(successful), ?1 * sum(failed),"
        " ?1 * count(*) FROM units WHERE id BETWEEN ?2 AND ?3 GROUP BY domain, day"
        " ON CONFLICT DO UPDATE SET successful = successful + excluded.successful,"
        " failed = failed + excluded.failed, units = units + excluded.units",
        (sign, u0, u1),
    )
    conn.execute(
        "INSERT INTO daily_reporter SELECT reporter, day, ?1 * sum(successful),"
        " ?1 * sum(failed), ?1 * sum(lead) FROM units WHERE id BETWEEN ?2 AND ?3"
        " GROUP BY reporter, day"
        " ON CONFLICT DO UPDATE SET successful = successful + excluded.successful,"
        " failed = failed + excluded.failed, leads = leads + excluded.leads",
        (sign, u0, u1),
    )
    conn.execute(
        "UPDATE sigs SET units = sigs.units + d.units, leads = sigs.leads + d.leads,"
        " successful = sigs.successful + d.successful, failed = sigs.failed + d.failed,"
        " first = CASE WHEN ?1 > 0 THEN min(coalesce(sigs.first, d.first), d.first)"
        " ELSE (SELECT min(day) FROM units WHERE sig = sigs.id AND id NOT BETWEEN ?2 AND ?3)"
        " END,"
        " last = CASE WHEN ?1 > 0 THEN max(coalesce(sigs.last, d.last), d.last)"
        " ELSE (SELECT max(day) FROM units WHERE sig = sigs.id AND id NOT BETWEEN ?2 AND ?3)"
        " END"
        " FROM (SELECT sig, ?1 * count(*) AS units, ?1 * sum(lead) AS leads,"
        " ?1 * sum(successful) AS successful, ?1 * sum(failed) AS failed,"
        " min(day) AS first, max(day) AS last FROM units"
        " WHERE id BETWEEN ?2 AND ?3 GROUP BY sig) AS d WHERE sigs.id = d.sig",
        (sign, u0, u1),
    )
    if p1 >= p0:
        conn.execute(
            "INSERT INTO policy_types SELECT domain, policy_type, ?1 * sum(successful),"
            " ?1 * sum(failed), ?1 * count(*) FROM policies WHERE id BETWEEN ?2 AND ?3"
            " GROUP BY domain, policy_type"
            " ON CONFLICT DO UPDATE SET successful = successful + excluded.successful,"
            " failed = failed + excluded.failed, n = n + excluded.n",
            (sign, p0, p1),
        )
    conn.execute(
        "INSERT INTO type_totals SELECT u.domain, j.key, ?1 * sum(j.value), ?1 * count(*)"
        " FROM units u, json_each(u.rtc) j WHERE u.id BETWEEN ?2 AND ?3 AND u.rtc IS NOT NULL"
        " GROUP BY u.domain, j.key"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count, n = n + excluded.n",
        (sign, u0, u1),
    )
    if sign < 0:
        conn.execute("DELETE FROM daily_domain WHERE units = 0")
        conn.execute("DELETE FROM daily_reporter WHERE leads = 0")
        conn.execute("DELETE FROM policy_types WHERE n = 0")
        conn.execute("DELETE FROM type_totals WHERE n = 0")


# --------------------------------------------------------------------------- summary


def _pair() -> dict[str, int]:
    return {"successful": 0, "failed": 0}


def build_summary(
    files: int,
    reports: int,
    duplicates: int,
    errors: list[dict[str, str]],
    unit_sums: Iterable[tuple[str, str, int, int]],
    policy_sums: Iterable[tuple[str, str, int, int]],
    type_sums: Iterable[tuple[str, str, int]],
    folded: Iterable[Folded] = (),
) -> dict[str, Any]:
    """The ``summary --format json`` document from per-(domain, x) sums."""
    domains: dict[str, dict[str, Any]] = {}

    def entry(domain: str) -> dict[str, Any]:
        e = domains.get(domain)
        if e is None:
            e = domains[domain] = {
                "successful": 0,
                "failed": 0,
                "result-types": {},
                "reporters": {},
                "policy-types": {},
            }
        return e

    for domain, reporter, ok, failed in unit_sums:
        e = entry(domain)
        e["successful"] += ok
        e["failed"] += failed
        pair = e["reporters"].setdefault(reporter, _pair())
        pair["successful"] += ok
        pair["failed"] += failed
    for domain, policy_type, ok, failed in policy_sums:
        pair = entry(domain)["policy-types"].setdefault(policy_type, _pair())
        pair["successful"] += ok
        pair["failed"] += failed
    for domain, result_type, count in type_sums:
        types = entry(domain)["result-types"]
        types[result_type] = types.get(result_type, 0) + count
    return {
        "files": files,
        "reports": reports,
        "duplicates": duplicates,
        "errors": errors,
        "folded": [folded_entry(f) for f in folded],
        "domains": {
            name: {
                "successful": e["successful"],
                "failed": e["failed"],
                "result-types": dict(sorted(e["result-types"].items())),
                "reporters": dict(sorted(e["reporters"].items())),
                "policy-types": dict(sorted(e["policy-types"].items())),
            }
            for name, e in sorted(domains.items())
        },
    }


def _describe(display: str, part: str | None) -> str:
    return display if part is None else f"{display} [{part}]"


#: A report with failure-details folded: (path shown, part, reporter, report id, rows).
Folded = tuple[str, str | None, str, str, int]


#: The reports whose units hold folded rows (through the partial index units_folded).
_FOLDED_SQL = (
    "SELECT f.display, r.part, r.reporter, r.report_id, sum(u.folded)"
    " FROM units u JOIN reports r ON r.id = u.report JOIN files f ON f.id = r.file"
    " WHERE u.folded > 0 GROUP BY r.id"
)


def _folded(conn: sqlite3.Connection) -> list[Folded]:
    """The reports whose units hold folded failure-details rows, in their order."""
    return sorted(conn.execute(_FOLDED_SQL).fetchall(), key=_folded_order)


def _folded_order(row: Folded) -> tuple[str, str, str, str]:
    """The order of ``summary``'s ``folded`` (queries.sort_folded: the same)."""
    return (row[0], row[1] or "", row[2], row[3])


def folded_entry(row: Folded) -> dict[str, Any]:
    """One item of ``summary --format json``'s ``folded``."""
    return {"path": row[0], "part": row[1], "reporter": row[2], "report-id": row[3],
            "count": row[4]}  # fmt: skip


def _error_entry(display: str, part: str | None, message: str) -> dict[str, str]:
    """As ``summary`` shows an error: the path alone, the part with the message."""
    return {"path": display, "error": message if part is None else f"{part}: {message}"}


def summarize_without_index(
    paths: Sequence[Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    jobs: int = 1,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The summary document straight from the files (the ``--no-cache`` path)."""
    work = [(str(path), shown) for path, shown in collect_files(paths)]
    total = len(work)
    seen: set[str] = set()
    copies = 0
    errors: list[dict[str, str]] = []
    units: dict[tuple[str, str], list[int]] = {}
    policies: dict[tuple[str, str], list[int]] = {}
    types: dict[tuple[str, str], int] = {}
    folded: list[Folded] = []
    if progress:
        progress(0, total)
    done = 0
    for batch in extract_in_order(work, _same, limits, jobs, cancel):
        done += len(batch)
        for (_path, shown), (reports, file_errors) in batch:
            errors.extend(_error_entry(shown, p, m) for p, m in file_errors)
            for rep in reports:
                copies += 1
                if rep[0] in seen:
                    continue
                seen.add(rep[0])
                reporter = rep[2]
                rows_folded = sum(unit[U_FOLDED] for _hay, unit, _p, _f in rep[6])
                if rows_folded:
                    folded.append((shown, rep[5], reporter, rep[3], rows_folded))
                for _hay, unit, pols, _fails in rep[6]:
                    domain = unit[U_DOMAIN]
                    pair = units.setdefault((domain, reporter), [0, 0])
                    pair[0] += unit[U_OK]
                    pair[1] += unit[U_FAILED]
                    for p in pols:
                        pp = policies.setdefault((domain, p[P_TYPE]), [0, 0])
                        pp[0] += p[P_OK]
                        pp[1] += p[P_FAILED]
                    if unit[U_RTC]:
                        for result_type, count in json.loads(unit[U_RTC]).items():
                            key = (domain, result_type)
                            types[key] = types.get(key, 0) + count
        if progress:
            progress(done, total)
    return build_summary(
        total,
        len(seen),
        copies - len(seen),
        errors,
        ((d, r, s, f) for (d, r), (s, f) in units.items()),
        ((d, t, s, f) for (d, t), (s, f) in policies.items()),
        ((d, t, c) for (d, t), c in types.items()),
        sorted(folded, key=_folded_order),
    )


# --------------------------------------------------------------------------- the store


_MX_CACHE: dict[str, tuple[str, ...]] = {}


def _mx(text: str) -> tuple[str, ...]:
    value = _MX_CACHE.get(text)
    if value is None:
        parsed = ast.literal_eval(text)
        value = tuple(str(v) for v in parsed)
        if len(_MX_CACHE) < 100_000:
            _MX_CACHE[text] = value
    return value


_fromordinal = date.fromordinal

#: Answers a store remembers (a filter typed and deleted again finds its answers).
_MEMO_SIZE = 1024
#: Columns of SqliteStore._signatures rows.
_S_ID, _S_DOMAIN, _S_REPORTER, _S_HAY, _S_UNITS, _S_LEADS = 0, 1, 2, 3, 4, 5
_S_OK, _S_FAILED, _S_FIRST, _S_LAST = 6, 7, 8, 9


class _Where:
    """SQL conditions for a :class:`Filter` over one of the fact tables."""

    def __init__(self) -> None:
        self.conds: list[str] = []
        self.params: list[Any] = []

    def add(self, cond: str, *params: Any) -> None:
        self.conds.append(cond)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.conds)) if self.conds else ""


#: The signatures (hence units) whose haystack holds the needle.
_MATCHING_SIGS = "(SELECT id FROM sigs WHERE instr(hay, ?) > 0)"


def _scope(flt: Filter, alias: str, *, with_type: bool, with_text: str | None) -> _Where:
    """Domain, reporter and dates on ``alias``; result-type and text when asked.

    ``with_text``: ``"sig"`` for tables with a signature column (units, policies: the
    unit's haystack), ``"haystack"`` for failures (the row's own), None to skip it.
    """
    where = _Where()
    if flt.domain is not None:
        where.add(f"{alias}.domain = ?", flt.domain)
    if flt.reporter is not None:
        where.add(f"{alias}.reporter = ?", flt.reporter)
    if flt.since is not None:
        where.add(f"{alias}.day >= ?", flt.since.toordinal())
    if flt.until is not None:
        where.add(f"{alias}.day <= ?", flt.until.toordinal())
    if with_type and flt.result_type is not None:
        where.add(
            f"{alias}.id IN (SELECT unit FROM failures WHERE result_type = ?)", flt.result_type
        )
    if with_text == "sig" and flt.needle:
        where.add(f"{alias}.sig IN {_MATCHING_SIGS}", flt.needle)
    elif with_text == "haystack" and flt.needle:
        where.add(f"instr({alias}.haystack, ?) > 0", flt.needle)
    return where


def _unit_where(flt: Filter, alias: str = "u") -> _Where:
    return _scope(flt, alias, with_type=True, with_text="sig")


def _simple(flt: Filter) -> bool:
    """Only dates: the daily aggregate tables answer."""
    return (
        not flt.needle and flt.result_type is None and flt.domain is None and flt.reporter is None
    )


def _sig_only(flt: Filter) -> bool:
    """Text (and domain, reporter) only: the signatures' totals answer."""
    return bool(flt.needle) and flt.result_type is None and flt.since is None and flt.until is None


def _sig_where(flt: Filter) -> _Where:
    """Signatures with units, holding the needle, of the domain and reporter asked."""
    where = _Where()
    where.add("s.units > 0")
    if flt.needle:
        where.add("instr(s.hay, ?) > 0", flt.needle)
    if flt.domain is not None:
        where.add("s.domain = ?", flt.domain)
    if flt.reporter is not None:
        where.add("s.reporter = ?", flt.reporter)
    return where


def _days(flt: Filter, column: str) -> _Where:
    where = _Where()
    if flt.since is not None:
        where.add(f"{column} >= ?", flt.since.toordinal())
    if flt.until is not None:
        where.add(f"{column} <= ?", flt.until.toordinal())
    return where


def _newest_reports(conn: sqlite3.Connection, where: _Where, limit: int) -> list[tuple[int]]:
    """The ``limit`` newest reports with a unit ``where`` keeps (a domain's or a
    reporter's), newest first, then by reporter (descending) and id.

    Their units are walked newest first through the domain's or reporter's index, up to
    the day the last report needed is on: a few hundred rows, not every unit of the
    domain grouped and sorted (a second at a million reports).
    """
    found: dict[int, tuple[int, str]] = {}
    last_day: int | None = None
    for report, day, reporter in conn.execute(
        f"SELECT u.report, u.day, u.reporter FROM units u{where.sql} ORDER BY u.day DESC",
        where.params,
    ):
        if last_day is not None and day < last_day:
            break
        if report not in found:
            found[report] = (day, reporter)
            if len(found) == limit:
                last_day = day  # (the rest of that day still sorts among them)
    ordered = sorted(found.items(), key=lambda item: (item[1][0], item[1][1], -item[0]))
    return [(report,) for report, _ in reversed(ordered)][:limit]


def _policy_row(
    domain: str,
    policy_type: str,
    mode: str | None,
    reporter: str,
    mx: str,
    ok: int,
    failed: int,
    reports: int,
    first: int,
    last: int,
) -> PolicyRow:
    """A policy pane row from (group columns, sums, first and last day ordinals)."""
    from tlsrpt_tui.store.queries import PolicyRow

    return PolicyRow(
        domain=domain,
        policy_type=policy_type,
        sts_mode=mode,
        reporter=reporter,
        successful=ok,
        failed=failed,
        mx_hosts=_mx(mx),
        reports=reports,
        first_day=_fromordinal(first),
        last_day=_fromordinal(last),
    )


def _failure_row(
    columns: Sequence[Any], count: int, first: int, last: int, reporters: Iterable[str]
) -> FailureRow:
    """A failure pane row from (result type, domain, MX, receiving IP, sending IP, HELO,
    additional information, reason code), the count, the first and last day ordinals
    and the reporters."""
    from tlsrpt_tui.store.queries import FailureRow

    return FailureRow(
        result_type=columns[0],
        domain=columns[1],
        receiving_mx_hostname=columns[2],
        receiving_ip=columns[3],
        sending_mta_ip=columns[4],
        receiving_mx_helo=columns[5],
        additional_information=columns[6],
        failure_reason_code=columns[7],
        count=count,
        first_day=_fromordinal(first),
        last_day=_fromordinal(last),
        reporters=tuple(sorted(set(reporters))),
    )


def _sorted_policies(rows: list[PolicyRow]) -> list[PolicyRow]:
    rows.sort(
        key=lambda r: (-r.failed, r.domain, r.policy_type, r.reporter, r.sts_mode or "", r.mx_hosts)
    )
    return rows


def _sorted_failures(rows: list[FailureRow]) -> list[FailureRow]:
    rows.sort(
        key=lambda r: (
            -r.count,
            r.result_type,
            r.domain,
            r.receiving_mx_hostname or "",
            r.receiving_ip or "",
            r.sending_mta_ip or "",
            r.receiving_mx_helo or "",
            r.additional_information or "",
            r.failure_reason_code or "",
        )
    )
    return rows


def _add_units(
    cells: dict[tuple[str, int], list[int]],
    signatures: Iterable[tuple[Any, ...]],
    column: int,
    recent: dict[int, list[tuple[int, int, int, int]]],
    sign: int,
) -> None:
    """Add (``sign`` 1) or take away (-1) the recent units of ``signatures`` to
    ``cells``: (key, day) -> [successful, failed, units, leads]."""
    for sig in signatures:
        name = sig[column]
        for day, ok, failed, lead in recent.get(sig[_S_ID], ()):
            cell = cells.get((name, day))
            if cell is None:
                cells[(name, day)] = [sign * ok, sign * failed, sign, sign * lead]
            else:
                cell[0] += sign * ok
                cell[1] += sign * failed
                cell[2] += sign
                cell[3] += sign * lead


class SqliteStore:
    """:class:`~tlsrpt_tui.store.queries.ArchiveQueries` answered from the index.

    Get one from :func:`open_index`. Beyond the protocol: ``nav_rows(...,
    trend_days=N)`` (only the last N days of each row's trend: what the explorer
    draws, and much cheaper under a text filter), :meth:`locate` (every copy of a
    report on disk, for the raw view), :meth:`summary`, and :meth:`refresh` /
    :meth:`apply_changes` to keep up with the archive.

    Safe to use from several threads (queries are serialised; refreshes write on a
    connection of their own, so queries go on meanwhile). Results of repeated queries
    are remembered until the index changes (by this or another process). A damaged
    index raises :class:`IndexDamaged` (the file is deleted: open it again).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        roots: Sequence[Path],
        limits: Limits,
        jobs: int,
    ) -> None:
        self.conn = conn
        self.path = path
        self.roots = list(roots)
        self.limits = limits
        self.jobs = jobs
        self.lock = threading.RLock()
        self.last_refresh = RefreshStats()
        self._memo: dict[tuple[Any, ...], Any] = {}
        #: What text filters are answered from (see _signatures): forgotten with the
        #: remembered answers, but never to make room for them.
        self._prepared: dict[tuple[Any, ...], Any] = {}
        self._data_version = -1

    # -- housekeeping -------------------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _fresh(self) -> None:
        """Forget remembered answers when another connection changed the index."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._memo.clear()
            self._prepared.clear()
            self._data_version = version

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Serialise access; a damaged index is deleted and reported as IndexDamaged."""
        with self.lock:
            try:
                yield
            except (sqlite3.DatabaseError, *_CONTENT_ERRORS) as exc:
                if not _is_corrupt(exc):
                    raise
                self._damaged()
                raise IndexDamaged(str(exc)) from exc

    def _memoized(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._reading():
            self._fresh()
            memo = self._memo
            if key in memo:
                value = memo[key] = memo.pop(key)  # (the most recently used go last)
                return value
            value = compute()
            while len(memo) >= _MEMO_SIZE:
                del memo[next(iter(memo))]  # the least recently used
            memo[key] = value
            return value

    def _changed(self) -> None:
        self._memo.clear()
        self._prepared.clear()

    def _damaged(self) -> None:
        """Delete the damaged index (other instances keep their open copy)."""
        with _exclusive(_lock_path(self.path), None):
            delete_index(self.path)

    # -- totals ----------------------------------------------------------------------------

    def _totals(self) -> tuple[int, int, int, int]:
        def compute() -> tuple[int, int, int, int]:
            c = self.conn
            files = c.execute("SELECT count(*) FROM files").fetchone()[0]
            reports = c.execute("SELECT count(*) FROM reports").fetchone()[0]
            copies = c.execute("SELECT count(*) FROM copies").fetchone()[0]
            bad = c.execute("SELECT count(DISTINCT file) FROM errors").fetchone()[0]
            return files, reports, copies, bad

        value: tuple[int, int, int, int] = self._memoized(("totals",), compute)
        return value

    # -- ArchiveQueries ----------------------------------------------------------------

    def overview(self, flt: Filter) -> Overview:
        result: Overview = self._memoized(("overview", flt), lambda: self._overview(flt))
        return result

    def _overview(self, flt: Filter) -> Overview:
        from tlsrpt_tui.store.queries import Overview

        files, _reports, duplicates, bad = self._totals()
        conn = self.conn
        if _simple(flt):
            days = _days(flt, "day")
            ok, failed, domains, first, last = conn.execute(
                "SELECT sum(successful), sum(failed), count(DISTINCT domain), min(day), max(day)"
                f" FROM daily_domain{days.sql}",
                days.params,
            ).fetchone()
            reports, reporters = conn.execute(
                f"SELECT sum(leads), count(DISTINCT reporter) FROM daily_reporter{days.sql}",
                days.params,
            ).fetchone()
        elif _sig_only(flt):
            matching = self._matching(flt)
            ok = sum(r[_S_OK] for r in matching)
            failed = sum(r[_S_FAILED] for r in matching)
            domains = len({r[_S_DOMAIN] for r in matching})
            reporters = len({r[_S_REPORTER] for r in matching})
            first = min((r[_S_FIRST] for r in matching if r[_S_FIRST] is not None), default=None)
            last = max((r[_S_LAST] for r in matching if r[_S_LAST] is not None), default=None)
            leads = sum(r[_S_LEADS] for r in matching)
            units = sum(r[_S_UNITS] for r in matching)
            if flt.domain is not None:
                reports = units
            else:
                reports = (leads or 0) + sum(self._extra("reporter", flt).values())
        else:
            # One pass over the units (the nav pane's, remembered for it) and a look at
            # the signatures for the other dimension.
            pivot: Pivot = "reporter" if ("grid", "reporter", flt) in self._memo else "domain"
            grid = self._grid(pivot, flt)
            ok = sum(r[2] for r in grid)
            failed = sum(r[3] for r in grid)
            first = min((r[1] for r in grid), default=None)
            last = max((r[1] for r in grid), default=None)
            keys = len({r[0] for r in grid})
            if flt.domain is not None:
                reports = sum(r[4] for r in grid)
            else:
                reports = sum(r[5] for r in grid) + sum(self._extra("reporter", flt).values())
            other = self._distinct("reporter" if pivot == "domain" else "domain", flt)
            domains, reporters = (keys, other) if pivot == "domain" else (other, keys)
        return Overview(
            files=files,
            reports=reports or 0,
            duplicates=duplicates,
            bad_files=bad,
            reporters=reporters,
            domains=domains,
            first_day=None if first is None else _fromordinal(first),
            last_day=None if last is None else _fromordinal(last),
            successful=ok or 0,
            failed=failed or 0,
        )

    def _distinct(self, column: str, flt: Filter) -> int:
        """How many domains or reporters have a unit the filter keeps (via signatures)."""
        if flt.result_type is not None:  # few units have failures: ask them directly
            units = _unit_where(flt)
            row = self.conn.execute(
                f"SELECT count(DISTINCT u.{column}) FROM units u{units.sql}", units.params
            ).fetchone()
            return int(row[0])
        where = _sig_where(flt)
        inner = _scope(
            flt.narrowed(text="", domain=None, reporter=None),  # (its dates and type)
            "u",
            with_type=True,
            with_text=None,
        )
        if inner.conds:
            where.add(
                "EXISTS (SELECT 1 FROM units u WHERE u.sig = s.id AND"
                f" {' AND '.join(inner.conds)})",
                *inner.params,
            )
        row = self.conn.execute(
            f"SELECT count(DISTINCT s.{column}) FROM sigs s{where.sql}", where.params
        ).fetchone()
        return int(row[0])

    def _extra(self, pivot: Pivot, flt: Filter) -> dict[str, int]:
        """Reports the filter keeps through a unit other than their lead unit, but not
        through the lead unit (counted per lead, they would be missed), per key."""
        if flt.domain is not None or not (flt.needle or flt.result_type is not None):
            return {}
        key = ("extra", pivot, flt)
        if key in self._memo:
            extra: dict[str, int] = self._memo[key]
            return extra
        where = _unit_where(flt)
        lead = _unit_where(flt, "l")
        index = " INDEXED BY units_more" if self._has_index("units_more") else ""
        extra = dict(
            self.conn.execute(
                f"SELECT u.{pivot}, count(DISTINCT u.report) FROM units u{index}"
                " JOIN reports r ON r.id = u.report"
                f"{where.sql}{' AND' if where.conds else ' WHERE'} u.lead = 0"
                " AND NOT EXISTS (SELECT 1 FROM units l WHERE l.id = r.u0"
                f"{' AND ' + ' AND '.join(lead.conds) if lead.conds else ''}) GROUP BY 1",
                [*where.params, *lead.params],
            ).fetchall()
        )
        self._memo[key] = extra
        return extra

    def _has_index(self, name: str) -> bool:
        key = ("index", name)
        if key not in self._memo:
            self._memo[key] = (
                self.conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (name,)
                ).fetchone()
                is not None
            )
        return bool(self._memo[key])

    def _grid(self, pivot: Pivot, flt: Filter, since: int | None = None) -> list[tuple[Any, ...]]:
        """(key, day, ok, failed, units, leads) of the units kept, by key and day.

        ``since``: only days from this ordinal on (the nav pane's trend window).
        """
        key = ("grid", pivot, flt, since)
        rows = self._memo.get(key)
        if rows is None:
            rows = self._memo[key] = self._compute_grid(pivot, flt, since)
        assert isinstance(rows, list)
        return rows

    def _compute_grid(self, pivot: Pivot, flt: Filter, since: int | None) -> list[tuple[Any, ...]]:
        if since is not None and _sig_only(flt):
            return self._recent_grid(pivot, flt, since)
        if since is not None and (flt.since is None or flt.since.toordinal() < since):
            flt = flt.narrowed(since=_fromordinal(since))
        if _simple(flt):
            table, count = (
                ("daily_domain", "units") if pivot == "domain" else ("daily_reporter", "leads")
            )
            days = _days(flt, "day")
            return self.conn.execute(
                f"SELECT {pivot}, day, successful, failed, {count}, {count}"
                f" FROM {table}{days.sql} ORDER BY 1, 2",
                days.params,
            ).fetchall()
        where = _unit_where(flt)
        return self.conn.execute(
            f"SELECT u.{pivot}, u.day, sum(u.successful), sum(u.failed), count(*), sum(u.lead)"
            f" FROM units u{where.sql} GROUP BY 1, 2 ORDER BY 1, 2",
            where.params,
        ).fetchall()

    # A text filter, typed a key at a time, asks which signatures hold the text over and
    # over: the signatures (a few thousand rows however large the archive) and the units
    # of the trend window are kept in memory, and matched and summed here.

    def _kept(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        """What text filters are answered from, loaded once (until the index changes)."""
        value: T | None = self._prepared.get(key)
        if value is None:
            value = self._prepared[key] = load()
        return value

    def _signatures(self) -> list[tuple[Any, ...]]:
        """Every signature with units (see the _S_* columns)."""
        return self._kept(
            ("signatures",),
            lambda: self.conn.execute(
                "SELECT id, domain, reporter, hay, units, leads, successful, failed, first,"
                " last FROM sigs WHERE units > 0"
            ).fetchall(),
        )

    def _matching(self, flt: Filter) -> list[tuple[Any, ...]]:
        """The signatures a text filter (and its domain and reporter) keeps."""
        key = ("matching", flt.needle, flt.domain, flt.reporter)
        rows = self._memo.get(key)
        if rows is None:
            needle, domain, reporter = flt.needle, flt.domain, flt.reporter
            rows = self._memo[key] = [
                sig
                for sig in self._signatures()
                if needle in sig[_S_HAY]
                and (domain is None or sig[_S_DOMAIN] == domain)
                and (reporter is None or sig[_S_REPORTER] == reporter)
            ]
        assert isinstance(rows, list)
        return rows

    def _recent_units(self, since: int) -> dict[int, list[tuple[int, int, int, int]]]:
        """(day, successful, failed, lead) of every unit from day ``since`` on, by
        signature (only the latest window asked is kept)."""

        def load() -> dict[int, list[tuple[int, int, int, int]]]:
            for old in [k for k in self._prepared if k[0] in ("recent", "recent cells")]:
                del self._prepared[old]
            recent: dict[int, list[tuple[int, int, int, int]]] = {}
            for sig, day, ok, failed, lead in self.conn.execute(
                "SELECT sig, day, successful, failed, lead FROM units WHERE day >= ?", (since,)
            ):
                recent.setdefault(sig, []).append((day, ok, failed, lead))
            return recent

        return self._kept(("recent", since), load)

    def _recent_grid(self, pivot: Pivot, flt: Filter, since: int) -> list[tuple[Any, ...]]:
        """:meth:`_compute_grid` of a text filter's trend window, from memory.

        A short text keeps most signatures: then the window's totals less the
        signatures it drops are summed (whichever is fewer).
        """
        column = _S_DOMAIN if pivot == "domain" else _S_REPORTER
        recent = self._recent_units(since)
        matching = self._matching(flt)
        signatures = self._signatures()
        if len(matching) * 2 <= len(signatures):
            cells: dict[tuple[str, int], list[int]] = {}
            _add_units(cells, matching, column, recent, 1)
        else:
            cells = {key: list(cell) for key, cell in self._recent_cells(pivot, since).items()}
            kept = {sig[_S_ID] for sig in matching}
            dropped = [sig for sig in signatures if sig[_S_ID] not in kept]
            _add_units(cells, dropped, column, recent, -1)
        return [(name, day, *cell) for (name, day), cell in sorted(cells.items()) if cell[2] > 0]

    def _recent_cells(self, pivot: Pivot, since: int) -> dict[tuple[str, int], list[int]]:
        """Every signature's units from ``since`` on, summed by key and day."""

        def load() -> dict[tuple[str, int], list[int]]:
            cells: dict[tuple[str, int], list[int]] = {}
            column = _S_DOMAIN if pivot == "domain" else _S_REPORTER
            _add_units(cells, self._signatures(), column, self._recent_units(since), 1)
            return cells

        return self._kept(("recent cells", pivot, since), load)

    def prepare_text_filter(self, trend_days: int) -> None:
        """Load what a text filter's keys need (off the UI thread, while idle): the
        signatures, the units of the trend window, and the policies and failures
        summed by signature (or by what a row of the failure pane shows), which then
        answer the detail panes under a text filter (until the index changes)."""
        from tlsrpt_tui.store.queries import Filter

        last = self.overview(Filter()).last_day
        with self._reading():
            self._fresh()
            self._signatures()
            if last is not None:
                since = last.toordinal() - trend_days + 1
                for pivot in ("domain", "reporter"):
                    self._recent_cells(pivot, since)
        # (Each in its own turn at the lock: the UI's queries go on in between.)
        for key, load in (
            (("policy groups",), self._load_policy_groups),
            (("failure groups",), self._load_failure_groups),
        ):
            with self._reading():
                self._fresh()
                self._kept(key, load)

    def _load_policy_groups(self) -> dict[int, list[tuple[Any, ...]]]:
        """Policies summed per (signature, type, mode, MX): signature -> rows."""
        groups: dict[int, list[tuple[Any, ...]]] = {}
        for sig, *rest in self.conn.execute(
            "SELECT sig, policy_type, sts_mode, mx, sum(successful), sum(failed),"
            " sum(first), min(day), max(day) FROM policies"
            " GROUP BY sig, policy_type, sts_mode, mx"
        ):
            groups.setdefault(sig, []).append(tuple(rest))
        return groups

    def _load_failure_groups(self) -> dict[str, list[tuple[Any, ...]]]:
        """Failures summed per (what a failure row shows, reporter, text): domain -> rows."""
        by_domain: dict[str, list[tuple[Any, ...]]] = {}
        for row in self.conn.execute(
            "SELECT result_type, domain, mx_hostname, receiving_ip, sending_ip, helo,"
            " info, reason, reporter, haystack, sum(count), min(day), max(day)"
            " FROM failures GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
        ):
            by_domain.setdefault(row[1], []).append(row)
        return by_domain

    def nav_rows(self, pivot: Pivot, flt: Filter, *, trend_days: int | None = None) -> list[NavRow]:
        """The navigation pane's rows.

        ``trend_days``: keep only the last that many days in each row's ``daily`` (up to
        the last day any row has); the totals are unchanged. What the explorer shows,
        and much cheaper to answer while a text filter is typed on a large archive.
        """
        result: list[NavRow] = self._memoized(
            ("nav", pivot, flt, trend_days), lambda: self._nav_rows(pivot, flt, trend_days)
        )
        return list(result)

    def _nav_rows(self, pivot: Pivot, flt: Filter, trend_days: int | None) -> list[NavRow]:
        from tlsrpt_tui.store.queries import NavRow

        by_units = pivot == "domain" or flt.domain is not None
        extra = {} if by_units else self._extra(pivot, flt)
        totals: dict[str, list[int]] = {}
        if _simple(flt):
            table, count = (
                ("daily_domain", "units") if pivot == "domain" else ("daily_reporter", "leads")
            )
            days = _days(flt, "day")
            for name, ok, failed, n, last in self.conn.execute(
                f"SELECT {pivot}, sum(successful), sum(failed), sum({count}), max(day)"
                f" FROM {table}{days.sql} GROUP BY 1",
                days.params,
            ):
                totals[name] = [ok, failed, n, last]
            last_day = max((t[3] for t in totals.values()), default=None)
            since = None
            if trend_days is not None and last_day is not None:
                since = last_day - trend_days + 1
            points = self._points(self._grid(pivot, flt, since))
        elif _sig_only(flt):
            column = _S_DOMAIN if pivot == "domain" else _S_REPORTER
            counted = _S_UNITS if by_units else _S_LEADS
            for sig in self._matching(flt):
                entry = totals.get(sig[column])
                if entry is None:
                    totals[sig[column]] = [sig[_S_OK], sig[_S_FAILED], sig[counted], sig[_S_LAST]]
                    continue
                entry[0] += sig[_S_OK]
                entry[1] += sig[_S_FAILED]
                entry[2] += sig[counted]
                if sig[_S_LAST] is not None and (entry[3] is None or sig[_S_LAST] > entry[3]):
                    entry[3] = sig[_S_LAST]
            last_day = max((t[3] for t in totals.values() if t[3] is not None), default=None)
            since = None
            if trend_days is not None and last_day is not None:
                since = last_day - trend_days + 1
            points = self._points(self._grid(pivot, flt, since))
        else:
            grid = self._grid(pivot, flt)
            for name, _day, ok, failed, units, leads in grid:
                entry = totals.setdefault(name, [0, 0, 0, 0])
                entry[0] += ok
                entry[1] += failed
                entry[2] += units if by_units else leads
            points = self._points(grid)
            if trend_days is not None and grid:
                cut = _fromordinal(max(r[1] for r in grid) - trend_days + 1)
                points = {k: [p for p in v if p.day >= cut] for k, v in points.items()}
        rows = [
            NavRow(
                name,
                ok,
                failed,
                reports + extra.get(name, 0),
                tuple(points.get(name, ())),
            )
            for name, (ok, failed, reports, *_rest) in totals.items()
        ]
        rows.sort(key=lambda r: (-r.failed, -r.failure_rate, r.key))
        return rows

    @staticmethod
    def _points(grid: list[tuple[Any, ...]]) -> dict[str, list[DailyPoint]]:
        from tlsrpt_tui.store.queries import DailyPoint

        points: dict[str, list[DailyPoint]] = {}
        for name, day, ok, failed, _units, _leads in grid:
            points.setdefault(name, []).append(DailyPoint(_fromordinal(day), ok, failed))
        return points

    def policy_rows(self, flt: Filter) -> list[PolicyRow]:
        result: list[PolicyRow] = self._memoized(("policies", flt), lambda: self._policy_rows(flt))
        return list(result)

    def _policy_rows(self, flt: Filter) -> list[PolicyRow]:
        groups = self._prepared.get(("policy groups",))
        if groups is not None and _sig_only(flt):
            return _sorted_policies(self._policy_rows_in_memory(flt, groups))
        # A policy row counts when its unit matches: same domain, reporter, day and
        # signature (haystack) as the unit, and the unit's id for the result-type.
        where = _scope(flt, "p", with_type=False, with_text="sig")
        if flt.result_type is not None:
            where.add(
                "p.unit IN (SELECT unit FROM failures WHERE result_type = ?)", flt.result_type
            )
        source = "policies p"
        cursor = self.conn.execute(
            "SELECT p.domain, p.policy_type, p.sts_mode, p.reporter, p.mx,"
            " sum(p.successful), sum(p.failed), sum(p.first), min(p.day), max(p.day)"
            f" FROM {source}{where.sql}"
            " GROUP BY p.domain, p.policy_type, p.sts_mode, p.reporter, p.mx",
            where.params,
        )
        return _sorted_policies([_policy_row(*row) for row in cursor])

    def _policy_rows_in_memory(
        self, flt: Filter, groups: dict[int, list[tuple[Any, ...]]]
    ) -> list[PolicyRow]:
        """:meth:`_policy_rows` under a text filter, from the policies summed by
        signature (prepare_text_filter): the signatures the text keeps, added up."""
        cells: dict[tuple[Any, ...], list[Any]] = {}
        for sig in self._matching(flt):
            domain, reporter = sig[_S_DOMAIN], sig[_S_REPORTER]
            for policy_type, mode, mx, ok, failed, first, day0, day1 in groups.get(sig[_S_ID], ()):
                key = (domain, policy_type, mode, reporter, mx)
                cell = cells.get(key)
                if cell is None:
                    cells[key] = [ok, failed, first, day0, day1]
                else:
                    cell[0] += ok
                    cell[1] += failed
                    cell[2] += first
                    cell[3] = min(cell[3], day0)
                    cell[4] = max(cell[4], day1)
        return [_policy_row(*key, *cell) for key, cell in cells.items()]

    def _failure_where(self, flt: Filter) -> _Where:
        # A failure row counts when its unit matches the filter; for the text, when the
        # row itself mentions it (its haystack holds the unit's domain and reporter too).
        where = _scope(flt, "f", with_type=False, with_text="haystack")
        if flt.result_type is not None:
            where.add("f.result_type = ?", flt.result_type)
        return where

    def failure_rows(self, flt: Filter) -> list[FailureRow]:
        result: list[FailureRow] = self._memoized(
            ("failures", flt), lambda: self._failure_rows(flt)
        )
        return list(result)

    def _failure_rows(self, flt: Filter) -> list[FailureRow]:
        groups = self._prepared.get(("failure groups",))
        if groups is not None and flt.needle and flt.since is None and flt.until is None:
            return _sorted_failures(self._failure_rows_in_memory(flt, groups))
        where = self._failure_where(flt)
        cursor = self.conn.execute(
            "SELECT f.result_type, f.domain, f.mx_hostname, f.receiving_ip, f.sending_ip,"
            " f.helo, f.info, f.reason, sum(f.count), min(f.day), max(f.day),"
            " json_group_array(DISTINCT f.reporter)"
            f" FROM failures f{where.sql} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
            where.params,
        )
        loads = json.loads
        rows = [_failure_row(r[:8], r[8], r[9], r[10], loads(r[11])) for r in cursor]
        return _sorted_failures(rows)

    def _failure_rows_in_memory(
        self, flt: Filter, groups: dict[str, list[tuple[Any, ...]]]
    ) -> list[FailureRow]:
        """:meth:`_failure_rows` under a text filter (no dates), from the failures
        summed by what a row shows, reporter and text (prepare_text_filter)."""
        needle, reporter, result_type = flt.needle, flt.reporter, flt.result_type
        if flt.domain is not None:
            candidates: Iterable[tuple[Any, ...]] = groups.get(flt.domain, ())
        else:
            candidates = chain.from_iterable(groups.values())
        cells: dict[tuple[Any, ...], list[Any]] = {}
        for group in candidates:
            if needle not in group[9]:
                continue
            if reporter is not None and group[8] != reporter:
                continue
            if result_type is not None and group[0] != result_type:
                continue
            key = group[:8]
            cell = cells.get(key)
            if cell is None:
                cells[key] = [group[10], group[11], group[12], {group[8]}]
            else:
                cell[0] += group[10]
                cell[1] = min(cell[1], group[11])
                cell[2] = max(cell[2], group[12])
                cell[3].add(group[8])
        return [_failure_row(key, *cell) for key, cell in cells.items()]

    def daily(self, flt: Filter) -> list[DailyPoint]:
        """Sessions per report day over the selection (the sum of its navigation rows)."""
        from tlsrpt_tui.store.queries import DailyPoint

        if _sig_only(flt):
            points: list[DailyPoint] = self._memoized(
                ("daily", flt), lambda: self._daily_of_signatures(flt)
            )
            return points
        days: dict[date, list[int]] = {}
        for row in self.nav_rows("domain", flt):
            for point in row.daily:
                pair = days.setdefault(point.day, [0, 0])
                pair[0] += point.successful
                pair[1] += point.failed
        return [DailyPoint(d, s, f) for d, (s, f) in sorted(days.items())]

    def _daily_of_signatures(self, flt: Filter) -> list[DailyPoint]:
        """:meth:`daily` of a text filter over every day (the trends screen): the units of
        the signatures it keeps, summed by day from the ``units_sig`` index alone; or,
        when it keeps most, the daily totals less the units of those it drops."""
        from tlsrpt_tui.store.queries import DailyPoint

        matching = self._matching(flt)
        signatures = self._signatures()
        days: dict[int, list[int]] = {}  # day -> [successful, failed, units]
        ids = [sig[_S_ID] for sig in matching]
        sign = 1
        if len(matching) * 2 > len(signatures) and flt.domain is None and flt.reporter is None:
            with self._reading():
                for day, ok, failed, units in self.conn.execute(
                    "SELECT day, sum(successful), sum(failed), sum(units) FROM daily_domain"
                    " GROUP BY day"
                ):
                    days[day] = [ok, failed, units]
            kept = set(ids)
            ids = [sig[_S_ID] for sig in signatures if sig[_S_ID] not in kept]
            sign = -1
        if ids:
            with self._reading():
                for day, ok, failed, units in self.conn.execute(
                    "SELECT day, sum(successful), sum(failed), count(*) FROM units"
                    " WHERE sig IN (SELECT value FROM json_each(?)) GROUP BY day",
                    (json.dumps(ids),),
                ):
                    cell = days.setdefault(day, [0, 0, 0])
                    cell[0] += sign * ok
                    cell[1] += sign * failed
                    cell[2] += sign * units
        return [
            DailyPoint(_fromordinal(day), ok, failed)
            for day, (ok, failed, units) in sorted(days.items())
            if units > 0
        ]

    def result_type_daily(self, flt: Filter) -> dict[str, dict[date, int]]:
        """Failed sessions per result-type per day (failure-details counts)."""
        where = self._failure_where(flt)
        with self._reading():
            cursor = self.conn.execute(
                f"SELECT f.result_type, f.day, sum(f.count) FROM failures f{where.sql}"
                " GROUP BY 1, 2",
                where.params,
            )
            series: dict[str, dict[date, int]] = {}
            for result_type, day, count in cursor:
                series.setdefault(result_type, {})[_fromordinal(day)] = count
        return dict(sorted(series.items()))

    def result_types(self, flt: Filter) -> dict[str, int]:
        result: dict[str, int] = self._memoized(("types", flt), lambda: self._result_types(flt))
        return dict(result)

    def _result_types(self, flt: Filter) -> dict[str, int]:
        # Same order as summing failure_rows in their order: by total, then by the
        # largest single row, then by name.
        where = self._failure_where(flt)
        rows = self.conn.execute(
            "SELECT rt, sum(c), max(c) FROM (SELECT f.result_type AS rt, sum(f.count) AS c"
            f" FROM failures f{where.sql} GROUP BY f.result_type, f.domain, f.mx_hostname,"
            " f.receiving_ip, f.sending_ip, f.helo, f.info, f.reason) GROUP BY rt",
            where.params,
        ).fetchall()
        rows.sort(key=lambda r: (-r[1], -r[2], r[0]))
        return {rt: total for rt, total, _ in rows}

    def report_rows(self, flt: Filter, limit: int = 500) -> list[ReportRow]:
        result: list[ReportRow] = self._memoized(
            ("reports", flt, limit), lambda: self._report_rows(flt, limit)
        )
        return list(result)

    def _report_rows(self, flt: Filter, limit: int) -> list[ReportRow]:
        conn = self.conn
        where = _unit_where(flt)
        inner = (" AND " + " AND ".join(where.conds)) if where.conds else ""
        if flt.domain is None and flt.result_type is None and not flt.needle:
            # Reporter and dates only: walk that reporter's reports newest first.
            scope = _Where()
            scope.add("r.file IS NOT NULL")
            if flt.reporter is not None:
                scope.add("r.reporter = ?", flt.reporter)
            days = _days(flt, "r.day")
            scope.conds.extend(days.conds)
            scope.params.extend(days.params)
            picked = conn.execute(
                f"SELECT r.id FROM reports r{scope.sql} AND EXISTS (SELECT 1 FROM units u"
                f" WHERE u.id BETWEEN r.u0 AND r.u1) ORDER BY r.day DESC, r.reporter DESC, r.id"
                " LIMIT ?",
                [*scope.params, limit],
            ).fetchall()
        elif flt.domain is not None or flt.reporter is not None:
            picked = _newest_reports(conn, where, limit)
        elif flt.result_type is not None:
            picked = conn.execute(
                f"SELECT u.report FROM units u{where.sql} GROUP BY u.report"
                " ORDER BY u.day DESC, u.reporter DESC, u.report LIMIT ?",
                [*where.params, limit],
            ).fetchall()
        else:
            picked = conn.execute(
                "SELECT r.id FROM reports r WHERE r.file IS NOT NULL AND EXISTS (SELECT 1 FROM"
                f" units u NOT INDEXED WHERE u.id BETWEEN r.u0 AND r.u1{inner})"
                " ORDER BY r.day DESC, r.reporter DESC, r.id LIMIT ?",
                [*where.params, limit],
            ).fetchall()
        return self._report_rows_of([r for (r,) in picked], flt)

    def failure_reports(
        self, flt: Filter, row: FailureRow, *, grouped: bool = False, limit: int = 500
    ) -> list[ReportRow]:
        """The reports behind one failure pane row (of ``failure_rows(flt)``), newest
        first: those with a failure-detail equal to it in every field, or with
        ``grouped`` (a row of merge_failures) in result-type, domain and MX."""
        where = self._failure_where(flt)
        where.add("f.result_type = ?", row.result_type)
        where.add("f.domain = ?", row.domain)
        where.add("f.mx_hostname IS ?", row.receiving_mx_hostname)
        if not grouped:
            where.add("f.receiving_ip IS ?", row.receiving_ip)
            where.add("f.sending_ip IS ?", row.sending_mta_ip)
            where.add("f.helo IS ?", row.receiving_mx_helo)
            where.add("f.info IS ?", row.additional_information)
            where.add("f.reason IS ?", row.failure_reason_code)

        def compute() -> list[ReportRow]:
            picked = self.conn.execute(
                f"SELECT u.report FROM failures f JOIN units u ON u.id = f.unit{where.sql}"
                " GROUP BY u.report ORDER BY max(u.day) DESC, u.reporter DESC, u.report"
                " LIMIT ?",
                [*where.params, limit],
            ).fetchall()
            return self._report_rows_of([r for (r,) in picked], flt)

        result: list[ReportRow] = self._memoized(
            ("failure reports", flt, row, grouped, limit), compute
        )
        return list(result)

    def _report_rows_of(self, rids: list[int], flt: Filter) -> list[ReportRow]:
        """Raw-view rows of the reports ``rids``, in that order, with the units ``flt``
        keeps summed."""
        from tlsrpt_tui.store.queries import ReportRow

        if not rids:
            return []
        conn = self.conn
        where = _unit_where(flt)
        inner = (" AND " + " AND ".join(where.conds)) if where.conds else ""
        marks = _marks(len(rids))
        head = {
            rid: (key, reporter, report_id, day)
            for rid, key, reporter, report_id, day in conn.execute(
                f"SELECT id, key, reporter, report_id, day FROM reports WHERE id IN ({marks})", rids
            )
        }
        units: dict[int, list[tuple[str, int, int]]] = {}
        # CROSS JOIN: reports first, then each one's units by id range. The filter's terms
        # only test those units: through an index on one of them (NOT INDEXED), or the
        # ids of a result-type's units ("+u.id"), each report would walk all of them.
        inner = inner.replace("u.id IN (SELECT unit", "+u.id IN (SELECT unit")
        for rid, domain, ok, failed in conn.execute(
            "SELECT r.id, u.domain, u.successful, u.failed FROM reports r"
            " CROSS JOIN units u NOT INDEXED ON u.id BETWEEN r.u0 AND r.u1"
            f" WHERE r.id IN ({marks}){inner}",
            [*rids, *where.params],
        ):
            units.setdefault(rid, []).append((domain, ok, failed))
        sources: dict[int, list[str]] = {}
        for rid, _key, _seq, display, part in conn.execute(
            "SELECT r.id, f.key, r.seq, f.display, r.part FROM reports r"
            f" JOIN files f ON f.id = r.file WHERE r.id IN ({marks})"
            " UNION ALL SELECT c.report, f.key, c.seq, f.display, c.part FROM copies c"
            f" JOIN files f ON f.id = c.file WHERE c.report IN ({marks})"
            " ORDER BY 1, 2, 3",
            [*rids, *rids],
        ):
            sources.setdefault(rid, []).append(_describe(display, part))
        rows = []
        for rid in rids:
            key, reporter, report_id, day = head[rid]
            parts = units.get(rid, [])
            rows.append(
                ReportRow(
                    key=key,
                    reporter=reporter,
                    report_id=report_id,
                    day=_fromordinal(day),
                    domains=tuple(sorted(d for d, _, _ in parts)),
                    successful=sum(s for _, s, _ in parts),
                    failed=sum(f for _, _, f in parts),
                    sources=tuple(sources.get(rid, ())),
                )
            )
        return rows

    def locate(self, key: str) -> list[tuple[Path, Source]]:
        """Every copy of a report: (file on disk, source as shown), first copy first."""
        with self._reading():
            row = self.conn.execute(
                "SELECT id FROM reports WHERE khash = ? AND key = ?", (key_hash(key), key)
            ).fetchone()
            if row is None:
                return []
            rows = self.conn.execute(
                "SELECT f.key, r.seq, f.display, r.part FROM reports r"
                " JOIN files f ON f.id = r.file WHERE r.id = ?"
                " UNION ALL SELECT f.key, c.seq, f.display, c.part FROM copies c"
                " JOIN files f ON f.id = c.file WHERE c.report = ? ORDER BY 1, 2",
                (row[0], row[0]),
            ).fetchall()
            return [
                (Path(key_location(fkey, self.roots)), Source(display, part))
                for fkey, _, display, part in rows
            ]

    def report(self, key: str) -> Report | None:
        """The report itself, read again from the file of its first readable copy."""
        for location, source in self.locate(key):
            result = load_file(location, display_path=source.path, limits=self.limits)
            for report in result.reports:
                if report.source.part == source.part and out_of_report(report)[0] == key:
                    return report
        return None

    def errors(self) -> list[LoadError]:
        def compute() -> list[LoadError]:
            return [
                LoadError(Source(display, part), message)
                for display, part, message in self.conn.execute(
                    "SELECT f.display, e.part, e.message FROM errors e"
                    " JOIN files f ON f.id = e.file ORDER BY f.key, e.seq"
                )
            ]

        result: list[LoadError] = self._memoized(("errors",), compute)
        return list(result)

    def folded(self) -> list[FoldedReport]:
        """Reports with failure-details folded (kept in their units' ``folded``)."""
        from tlsrpt_tui.store.queries import FoldedReport

        def compute() -> list[FoldedReport]:
            return [
                FoldedReport(Source(display, part), reporter, report_id, rows)
                for display, part, reporter, report_id, rows in _folded(self.conn)
            ]

        result: list[FoldedReport] = self._memoized(("folded",), compute)
        return list(result)

    # -- health (health-rules; after the split this belongs with the read-only queries,
    #    store/index/reader.py, calling store/health_input.py as it does here) ----------

    def health_rows(
        self, since: date | None = None, until: date | None = None, *, remember: bool = True
    ) -> list[HealthRow]:
        """The health rules' input (:mod:`tlsrpt_tui.store.health_input`), kept in the
        index until it changes (``remember``)."""
        from tlsrpt_tui.store.health_input import health_rows

        with self._reading():
            return health_rows(
                self.conn, self.roots, self.limits, since, until, remember=remember
            )

    # -- summary -----------------------------------------------------------------------

    def summary(self, *, remember: bool = False) -> dict[str, Any]:
        """The ``summary --format json`` document.

        With ``remember`` (only while holding the archive's lock) the document is kept
        in the index until the index changes.
        """
        with self._reading():
            conn = self.conn
            conn.execute("BEGIN")  # one snapshot for every query below
            try:
                return self._summary(remember)
            finally:
                conn.execute("COMMIT")

    def _summary(self, remember: bool) -> dict[str, Any]:
        conn = self.conn
        row = conn.execute("SELECT value FROM cache WHERE name='summary'").fetchone()
        if row is not None:
            cached: dict[str, Any] = json.loads(row[0])
            return cached
        files, reports, duplicates, _bad = self._totals()
        errors = [
            _error_entry(display, part, message)
            for display, part, message in conn.execute(
                "SELECT f.display, e.part, e.message FROM errors e"
                " JOIN files f ON f.id = e.file ORDER BY f.key, e.seq"
            )
        ]
        document = build_summary(
            files,
            reports,
            duplicates,
            errors,
            conn.execute(
                "SELECT domain, reporter, sum(successful), sum(failed) FROM sigs"
                " WHERE units > 0 GROUP BY domain, reporter"
            ),
            conn.execute("SELECT domain, policy_type, successful, failed FROM policy_types"),
            conn.execute("SELECT domain, result_type, count FROM type_totals"),
            _folded(conn),
        )
        if remember:
            conn.execute(
                "INSERT OR REPLACE INTO cache VALUES ('summary', ?)",
                (json.dumps(document, ensure_ascii=False),),
            )
        return document

    # -- keeping up to date --------------------------------------------------------------

    def refresh(
        self,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        query_indexes: bool = True,
        full: bool = False,
        status: Callable[[str], None] | None = None,
    ) -> RefreshStats:
        """Re-scan the archive and index what changed (under the archive's lock).

        Only folders that changed since the last refresh are listed, unless ``full``:
        then every file's size and time are compared (which also finds files rewritten
        in place, leaving their folder as it was). ``status(text)`` tells of a long step
        that is not reading files (the explorer's first open of an index ``summary``
        built adds the indexes its queries need).

        Runs on a connection of its own: queries from other threads go on meanwhile
        (they see each batch as it is committed). Raises :class:`IndexCancelled`.
        """
        with _exclusive(_lock_path(self.path), cancel):
            conn = _connect(self.path)
            try:
                stats = _refresh(
                    conn,
                    self.roots,
                    self.limits,
                    self.jobs,
                    progress=progress,
                    cancel=cancel,
                    query_indexes=query_indexes,
                    full=full,
                    status=status,
                )
            finally:
                conn.close()
        with self.lock:
            self._changed()
            self.last_refresh = stats
        return stats

    def apply_changes(self, paths: Iterable[Path]) -> list[Report]:
        """Index files the watcher saw change (added, modified, deleted, or folders).

        Returns the reports that are new to the archive, for notifications. Like
        :meth:`refresh`, on a connection of its own.
        """
        with _exclusive(_lock_path(self.path), None):
            conn = _connect(self.path)
            try:
                new = _apply_changes(conn, self.roots, self.limits, self.jobs, list(paths))
            finally:
                conn.close()
        with self.lock:
            self._changed()
        return new


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


# --------------------------------------------------------------------------- refresh


def _index_name(statement: str) -> str:
    """The name a ``CREATE [UNIQUE] INDEX IF NOT EXISTS name ON ...`` creates."""
    words = statement.split()
    return words[words.index("ON") - 1]


def _ensure_indexes(
    conn: sqlite3.Connection,
    statements: Sequence[str],
    status: Callable[[str], None] | None = None,
) -> None:
    existing = {
        name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
    }
    missing = [s for s in statements if _index_name(s) not in existing]
    if not missing:
        return
    if status is not None:
        status("Indexing the archive for browsing (once)…")
    conn.execute("PRAGMA threads=4")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in missing:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if any("units" in s for s in missing):
        conn.execute("PRAGMA analysis_limit=2000")
        conn.execute("ANALYZE")


@contextmanager
def _transaction(conn: sqlite3.Connection, *, keep_cache: bool = False) -> Iterator[None]:
    """One write transaction; remembered answers go unless nothing changed."""
    conn.execute("BEGIN IMMEDIATE")
    start = conn.total_changes
    try:
        yield
        if not keep_cache or conn.total_changes != start:
            conn.execute("DELETE FROM cache")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _ingest(
    conn: sqlite3.Connection,
    writer: _Writer,
    todo: Iterable[Todo],
    total: Callable[[], int],
    limits: Limits,
    jobs: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    *,
    collect: bool = False,
) -> list[tuple[int, int]]:
    """Parse and add files; returns (file number, report number) of new reports (with
    ``collect``; a cold build of a million files would not want that list).

    ``total()`` is how many files there are to do (it may grow while a cold build
    scans and parses at once).
    """
    if progress:
        progress(0, total())
    created: list[tuple[int, int]] = []
    pending: list[tuple[bytes, str, int, int, FileOut]] = []
    last_commit = time.perf_counter()
    done = 0

    def flush() -> None:
        nonlocal pending, last_commit
        batch, pending = pending, []
        if not batch:
            return
        with _transaction(conn):
            base = done - len(batch)
            added = writer.add(batch)
            if collect:
                created.extend((base + i, seq) for i, seq in added)
        last_commit = time.perf_counter()

    try:
        for batch in extract_in_order(todo, _todo_job, limits, jobs, cancel):
            for (key, display, size, mtime, _path), out in batch:
                pending.append((key, display, size, mtime, out))
            done += len(batch)
            if len(pending) >= 2048 or time.perf_counter() - last_commit > 0.5:
                flush()
            if progress:
                progress(done, max(done, total()))
    except (IndexCancelled, KeyboardInterrupt):
        flush()  # keep what was parsed: the next refresh starts from there
        raise
    flush()
    return created


class _FileCounter:
    """Counts, in a thread, the files a cold build's walk lists: its progress then has a
    total, and a time left, long before its own walk (kept just ahead of the parsing,
    so that memory stays flat) is over."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = roots
        self.count: int | None = None
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start counting (after the workers are forked: no thread may run then)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="count files", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        self.count = count_files(self.roots, self.stopped.is_set)

    def total(self, listed: int) -> int:
        """The files to read: the count once known, else those listed so far."""
        return listed if self.count is None else max(listed, self.count)

    def close(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()


def _ingest_batches(
    conn: sqlite3.Connection,
    writer: _Writer,
    todo: Iterable[Todo],
    total: Callable[[], int],
    limits: Limits,
    jobs: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    counter: _FileCounter | None = None,
    first_number: int = 0,
) -> int:
    """:func:`_ingest` for a cold build (files in scan order into an empty index): the
    workers make each batch's rows as a database (:mod:`tlsrpt_tui.store.batch`),
    taking each file's size and time as they read it, and each batch is copied in a
    transaction of its own (Ctrl-C keeps the batches before). Returns how many files
    were indexed."""
    if progress:
        progress(0, total())
    done = files = 0
    conn.execute(f"ATTACH ':memory:' AS {_BATCH}")
    try:
        for batch, out in map_batches(
            todo, _batch_job, build_batch, limits, jobs, cancel, pooled=ROWS_BATCH_FILES,
            numbered_from=first_number,
        ):  # fmt: skip
            if counter is not None:
                counter.start()
            files += writer.add_batch(out)
            done += len(batch)
            if progress:
                progress(done, max(done, total()))
    finally:
        if counter is not None:
            counter.close()
        conn.execute(f"DETACH {_BATCH}")
    return files


def _same(item: tuple[str, str]) -> tuple[str, str]:
    return item


#: A file to index -> (path, display name), what a worker reads (itemgetter: no Python
#: call per file).
_todo_job: Callable[[Todo], tuple[str, str]] = itemgetter(4, 1)
#: A file to index -> what a cold build's worker is given (:data:`BatchJob`).
_batch_job: Callable[[Todo], BatchJob] = itemgetter(4, 1, 0)
#: The schema a cold build's batch is attached as.
_BATCH = "batch"


def _refresh(
    conn: sqlite3.Connection,
    roots: Sequence[Path],
    limits: Limits,
    jobs: int,
    *,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    query_indexes: bool,
    full: bool = False,
    status: Callable[[str], None] | None = None,
) -> RefreshStats:
    started = time.perf_counter()
    started_ns = time.time_ns()
    scan = Scan(roots)
    stats = RefreshStats()
    quick: tuple[list[bytes], list[Todo]] | None = None
    bulk = _is_empty(conn) and conn.execute("SELECT 1 FROM reports LIMIT 1").fetchone() is None
    if bulk:
        # A cold build: parse while the scan goes on (a listing: the workers take each
        # file's size and time as they read it).
        conn.execute("PRAGMA synchronous=OFF")  # only a cache: a crash means a rebuild
        stats.cold = stats.full = True
        with _transaction(conn, keep_cache=True):
            conn.execute("DELETE FROM meta WHERE name='scan'")
            # The journal is kept in memory while a cold build writes (each page is then
            # written once, not to the log and again into the file). A crash meanwhile
            # could leave the file half written: 'building', written first, makes the
            # next open start over. (Where another connection has the file open, SQLite
            # refuses, and the log stays.)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('building', '1')")
        with suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA journal_mode=MEMORY")

        def one_by_one() -> _Writer:
            """The general path: every file's rows through this process (a walk anew:
            the folders it lists are the ones remembered)."""
            nonlocal scan
            scan = Scan(roots)
            writer = _Writer(conn, roots, bulk=True)
            _ingest(conn, writer, _listing(scan, stat=True), lambda: scan.count, limits,
                    jobs, progress, cancel)  # fmt: skip
            stats.files = stats.added = conn.execute("SELECT count(*) FROM files").fetchone()[0]
            return writer

        try:
            if not can_serialize():
                writer = one_by_one()  # (this SQLite cannot move batches as databases)
            else:
                writer = _Writer(conn, roots, bulk=True)
                try:
                    counter = _FileCounter(roots) if progress is not None else None
                    stats.files = stats.added = _ingest_batches(
                        conn, writer, _listing(scan),
                        lambda: scan.count if counter is None else counter.total(scan.count),
                        limits, jobs, progress, cancel, counter,
                    )  # fmt: skip
                    with _transaction(conn, keep_cache=True):
                        writer.write_sums()
                except SigCollision:
                    # Two signatures with one hash (never seen): number them one by one.
                    _clear(conn)
                    writer = one_by_one()
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with suppress(sqlite3.OperationalError):  # (the next connection switches it)
                conn.execute("PRAGMA journal_mode=WAL")
            with _transaction(conn, keep_cache=True):
                conn.execute("DELETE FROM meta WHERE name='building'")
            conn.execute("PRAGMA synchronous=NORMAL")
    else:
        quick = None if full else _quick_differences(conn, scan, stats)
        if quick is None:
            stats.full = True
            for _ in iter_scan(scan):
                pass
            stats.files = len(scan.entries)
            remove, todo, renamed = _differences(conn, scan, stats)
        else:
            remove, todo = quick
            renamed = []
        writer = _Writer(conn, roots, bulk=False, lazy=not (remove or todo))
        if remove or todo:
            _ensure_indexes(conn, _MAINTENANCE_INDEXES)
        if remove or renamed:
            with _transaction(conn):
                for chunk in _chunks(remove):
                    writer.remove(
                        [
                            fid
                            for (fid,) in conn.execute(
                                f"SELECT id FROM files WHERE key IN ({_marks(len(chunk))})", chunk
                            )
                        ]
                    )
                conn.executemany("UPDATE files SET display=? WHERE key=?", renamed)
        if not remove and not renamed and _after_every_file(conn, todo):
            _append(conn, writer, todo, limits, jobs, progress, cancel)
        else:
            _ingest(conn, writer, todo, lambda: len(todo), limits, jobs, progress, cancel)
    with _transaction(conn, keep_cache=True):
        writer.promote(limits)
    # (Its own transaction: what the walk saw of folders changes no answer.)
    conn.execute("BEGIN IMMEDIATE")
    try:
        _remember_folders(conn, scan, started_ns, every=quick is None, recount=bool(stats.changes))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if quick is not None:
        stats.files = _file_count(conn)  # (counted by _remember_folders if anything changed)
    _rebuild_aggregates(conn)
    if query_indexes:
        _ensure_indexes(conn, _QUERY_INDEXES, status)
    stats.new_reports = writer.new_reports
    if stats.changes and not bulk and stats.changes * 10 > stats.files:
        conn.execute("PRAGMA optimize")
    stats.seconds = time.perf_counter() - started
    return stats


def _after_every_file(conn: sqlite3.Connection, todo: Sequence[Todo]) -> bool:
    """Whether these files are many and all come after every file indexed (in scan
    order): the rest of a cold build that was interrupted, a big folder added at the end.
    They are then added in batches as a cold build adds them (:func:`_append`)."""
    if len(todo) < POOL_MIN_FILES or not can_serialize():
        return False
    last = conn.execute("SELECT max(key) FROM files").fetchone()[0]
    return last is None or min(item[0] for item in todo) > last


def _append(
    conn: sqlite3.Connection,
    writer: _Writer,
    todo: Sequence[Todo],
    limits: Limits,
    jobs: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
) -> None:
    """Add files that come after every file indexed, in batches the workers make, with
    ids after every id in use; a report already indexed becomes a copy, as in a cold
    build, and the aggregate tables follow each batch."""
    top = max(
        conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0 for table in BATCH_TABLES
    )
    first = (top - 1) // ID_SPAN + 1 if top else 0
    try:
        _ingest_batches(
            conn, writer, todo, lambda: len(todo), limits, jobs, progress, cancel,
            first_number=first,
        )  # fmt: skip
    except SigCollision:
        # Two signatures with one hash (never seen): the rest one file at a time.
        last = conn.execute("SELECT max(key) FROM files").fetchone()[0]
        rest = [item for item in todo if last is None or item[0] > last]
        _ingest(conn, writer, rest, lambda: len(rest), limits, jobs, progress, cancel)


def _listing(scan: Scan, *, stat: bool = False) -> Iterator[Todo]:
    """What a cold build reads, in scan order, as the walk goes on."""
    if len(scan.roots) == 1:
        for entries in walk_folders(scan, scan.roots[0], root_prefix(0), 0, stat=stat):
            scan.count += len(entries)
            yield from scan.todos(entries)
        return
    for entry in iter_scan(scan, keep=False, stat=stat):
        yield scan.todo(entry)


def _clear(conn: sqlite3.Connection) -> None:
    """Empty every table but meta (a cold build starting over)."""
    tables = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if name != "meta"
    ]
    with _transaction(conn):
        for table in tables:
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM meta WHERE name IN ('stale', 'pending')")


def _has_index(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (name,))
    return row.fetchone() is not None


def _todo(scan: Scan, entry: Entry) -> Todo:
    return scan.todo(entry)


def _differences(
    conn: sqlite3.Connection, scan: Scan, stats: RefreshStats
) -> tuple[list[bytes], list[Todo], list[tuple[str, bytes]]]:
    """(keys of files to forget, files to read, (display, key) to rename)."""
    entries = scan.entries
    # Files are numbered in scan order by a cold build: compare in that order first (no
    # sort), in key order if the index has one, and by key when either differs.
    # A digest of the files table, kept while it holds what the last scan found, spares
    # reading it when nothing changed (any change of the table deletes the digest).
    digest = _scan_digest(entries)
    stored = conn.execute("SELECT value FROM meta WHERE name='scan'").fetchone()
    if stored is not None and stored[0] == digest:
        same = True
    else:
        ordered = _has_index(conn, "files_key")
        rows = conn.execute(
            "SELECT key, size, mtime FROM files" + (" ORDER BY key" if ordered else "")
        ).fetchall()
        same = len(rows) == len(entries) and rows == [entry[:3] for entry in entries]
        with _transaction(conn, keep_cache=True):
            if same:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('scan', ?)", (digest,))
            else:
                conn.execute("DELETE FROM meta WHERE name='scan'")
    renamed: list[tuple[str, bytes]] = []
    if len(scan.roots) > 1:  # which names collide depends on the other roots' files
        shown = dict(conn.execute("SELECT key, display FROM files").fetchall())
        for entry in entries:
            display = scan.display(entry)
            if shown.get(entry[KEY], display) != display:
                renamed.append((display, entry[KEY]))
    if same:
        return [], [], renamed  # nothing changed: the common case
    old = {
        key: (size, mtime)
        for key, size, mtime in conn.execute("SELECT key, size, mtime FROM files")
    }
    remove: list[bytes] = []
    todo: list[Todo] = []
    _compare(scan, entries, old, remove, todo, stats)
    return remove, todo, renamed


def _compare(
    scan: Scan,
    entries: Iterable[Entry],
    old: dict[bytes, tuple[int, int]],
    remove: list[bytes],
    todo: list[Todo],
    stats: RefreshStats,
) -> None:
    """Sort the files a walk found against ``old`` (key -> (size, mtime) as indexed,
    emptied as it goes): new and changed files are to read, changed ones and those no
    longer found to forget; the counts go to ``stats``."""
    for entry in entries:
        key = entry[KEY]
        before = old.pop(key, None)
        if before is not None and before == (entry[SIZE], entry[MTIME]):
            continue
        if before is not None:
            remove.append(key)
            stats.changed += 1
        else:
            stats.added += 1
        todo.append(_todo(scan, entry))
    remove.extend(old)
    stats.removed += len(old)


def _quick_differences(
    conn: sqlite3.Connection, scan: Scan, stats: RefreshStats
) -> tuple[list[bytes], list[Todo]] | None:
    """(keys of files to forget, files to read), looking only into folders that changed
    since the last refresh; None when a full check is needed (no folders remembered,
    several roots, or a root that is a file)."""
    if len(scan.roots) != 1 or not scan.is_dir[0]:
        return None
    known: dict[bytes, Stamp | None] = {}
    children: dict[bytes, list[bytes]] = {}
    for key, parent, dev, ino, mtime, ctime in conn.execute("SELECT * FROM folders"):
        known[key] = None if mtime is None else (dev, ino, mtime, ctime)
        if parent is not None:
            children.setdefault(parent, []).append(key)
    if not known:
        return None
    remove: list[bytes] = []
    todo: list[Todo] = []
    changed = list(walk_changed(scan, known, children))
    stats.folders_listed = len(changed)
    if changed or scan.gone:
        _ensure_indexes(conn, _FILES_KEY)
    for folder, entries in changed:
        old = {
            key: (size, mtime)
            for key, size, mtime in conn.execute(
                "SELECT key, size, mtime FROM files WHERE key > ? AND key < ?",
                (folder + FILE_MARK, folder + DIR_MARK),
            )
        }
        _compare(scan, entries, old, remove, todo, stats)
    for folder in scan.gone:
        gone = [
            key
            for (key,) in conn.execute(
                "SELECT key FROM files WHERE key >= ? AND key < ?", (folder, prefix_end(folder))
            )
        ]
        remove.extend(gone)
        stats.removed += len(gone)
    if remove or todo:
        with _transaction(conn, keep_cache=True):
            conn.execute("DELETE FROM meta WHERE name='scan'")
    return remove, todo


def _file_count(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name='files'").fetchone()
    if row is not None:
        return int(row[0])
    return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])


def _remember_folders(
    conn: sqlite3.Connection, scan: Scan, started_ns: int, *, every: bool, recount: bool
) -> None:
    """Keep the stamps of the folders the walk listed, for the next refresh to skip the
    ones that stay the same (``every``: the walk visited every folder), and the number
    of files (counted again if ``every`` or ``recount``: files were added or removed).

    A folder changed within RECENT_NS of the walk is kept without a stamp: it could
    change again within the same tick of the clock, keeping its times.
    """
    if every:
        conn.execute("DELETE FROM folders")
    if len(scan.roots) != 1 or not scan.is_dir[0]:
        return
    for folder in scan.gone:
        conn.execute("DELETE FROM folders WHERE key >= ? AND key < ?", (folder, prefix_end(folder)))
    recent = started_ns - RECENT_NS
    conn.executemany(
        "INSERT OR REPLACE INTO folders VALUES (?, ?, ?, ?, ?, ?)",
        [
            (key, parent, *stamp)
            if stamp is not None and stamp[2] < recent and stamp[3] < recent
            else (key, parent, None, None, None, None)
            for key, parent, stamp in scan.listed
        ],
    )
    if every or recount:
        conn.execute("DELETE FROM meta WHERE name='files'")
    if conn.execute("SELECT 1 FROM meta WHERE name='files'").fetchone() is None:
        files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
        conn.execute("INSERT INTO meta VALUES ('files', ?)", (str(files),))


def _scan_digest(entries: Sequence[Entry]) -> str:
    """A digest of the (key, size, mtime) of every entry, in order."""
    from array import array

    keys = [entry[KEY] for entry in entries]
    digest = blake2b(digest_size=20)
    digest.update(array("q", [len(keys)]).tobytes())
    digest.update(array("q", [len(key) for key in keys]).tobytes())
    digest.update(b"".join(keys))
    digest.update(array("q", [entry[SIZE] for entry in entries]).tobytes())
    digest.update(array("q", [entry[MTIME] for entry in entries]).tobytes())
    return digest.hexdigest()


def _root_of(path: Path, roots: Sequence[Path]) -> tuple[int, list[str]] | None:
    """(root index, parts relative to it) of a path under one of the roots."""
    absolute = os.path.abspath(path)
    for index, root in enumerate(roots):
        top = os.path.abspath(root)
        if absolute == top:
            return index, []
        if absolute.startswith(top.rstrip(os.sep) + os.sep):
            return index, absolute[len(top.rstrip(os.sep)) + 1 :].split(os.sep)
    return None


def _apply_changes(
    conn: sqlite3.Connection,
    roots: Sequence[Path],
    limits: Limits,
    jobs: int,
    paths: Sequence[Path],
) -> list[Report]:
    scan = Scan(roots)
    scopes: list[tuple[bytes, bytes]] = []  # key ranges to compare with the index
    for path in paths:
        located = _root_of(path, roots)
        if located is None:
            continue
        index, parts = located
        root = roots[index]
        prefix = root_prefix(index)
        if not root.is_dir():
            scopes.append((prefix, prefix_end(prefix)))
            scan.entries.extend(walk(scan, root, prefix, index))
            continue
        if not parts or not all(is_candidate_name(p) for p in parts):
            continue
        if _in_maildir_tmp(root, parts):
            continue
        if in_quarantine(root, parts):  # (kept apart: never counted, as by the scan)
            continue
        folder_key = dir_key(prefix, parts)
        single = file_key(prefix, parts[:-1], parts[-1])
        scopes.append((folder_key, prefix_end(folder_key)))
        scopes.append((single, single + b"\x00"))
        target = root.joinpath(*parts)
        if target.is_dir():
            scan.entries.extend(walk(scan, root, prefix, index, parts, target))
        elif target.is_file() or target.is_symlink() or target.exists():
            # (a FIFO, device or broken link too: an error entry, as the scan makes)
            try:
                info = target.stat()
            except OSError:
                try:
                    info = target.lstat()
                except OSError:
                    continue
            parent = str(root.joinpath(*parts[:-1])) if parts[:-1] else str(root)
            scan.folders.append((parent, os.path.abspath(parent), index))
            folder = len(scan.folders) - 1
            scan.entries.append((single, info.st_size, info.st_mtime_ns, folder, parts[-1], False))
    found = {entry[KEY]: entry for entry in scan.entries}
    known: dict[bytes, tuple[int, int, int]] = {}
    for low, high in scopes:
        for fid, key, size, mtime in conn.execute(
            "SELECT id, key, size, mtime FROM files WHERE key >= ? AND key < ?", (low, high)
        ):
            known[key] = (fid, size, mtime)
    remove = [old[0] for key, old in known.items() if key not in found]
    todo: list[Todo] = []
    for key in sorted(found):
        entry = found[key]
        old = known.get(key)
        if old is not None and old[1] == entry[SIZE] and old[2] == entry[MTIME]:
            continue
        if old is not None:
            remove.append(old[0])
        todo.append(_todo(scan, entry))
    if not remove and not todo:
        return []
    with _transaction(conn, keep_cache=True):
        conn.execute("DELETE FROM meta WHERE name IN ('scan', 'files')")
    writer = _Writer(conn, roots, bulk=False)
    _ensure_indexes(conn, _MAINTENANCE_INDEXES)
    if remove:
        with _transaction(conn):
            writer.remove(remove)
    created = _ingest(conn, writer, todo, lambda: len(todo), limits, jobs, None, None, collect=True)
    with _transaction(conn, keep_cache=True):
        writer.promote(limits)
    _rebuild_aggregates(conn)
    # The reports themselves, for the notification (only the files that brought new ones).
    new: list[Report] = []
    by_file: dict[int, list[int]] = {}
    for item, seq in created:
        by_file.setdefault(item, []).append(seq)
    for item, seqs in by_file.items():
        _key, display, _size, _mtime, location = todo[item]
        _out, reports = slow_file(location, display, limits)
        new.extend(reports[s] for s in seqs if s < len(reports))
    return new


def _in_maildir_tmp(root: Path, parts: Sequence[str]) -> bool:
    folder = root
    for part in parts[:-1]:
        if part == "tmp" and all((folder / name).is_dir() for name in ("cur", "new", "tmp")):
            return True
        folder = folder / part
    return False


# --------------------------------------------------------------------------- entry points


def _opened(
    paths: Sequence[Path],
    *,
    limits: Limits,
    jobs: int,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    refresh: bool,
    query_indexes: bool,
    full: bool = False,
    then: Callable[[SqliteStore], Any] | None = None,
) -> tuple[SqliteStore, Any]:
    """Open (creating, rebuilding, refreshing) under the lock; run ``then`` still locked."""
    roots = [Path(p) for p in paths]
    path = index_path(roots)
    tag = _format_tag(limits)
    for attempt in range(2):
        with _exclusive(_lock_path(path), cancel):
            conn, rebuilt = _open_checked(path, tag)
            store = SqliteStore(conn, path=path, roots=roots, limits=limits, jobs=jobs)
            try:
                if refresh or _is_empty(conn):
                    stats = _refresh(
                        conn,
                        roots,
                        limits,
                        jobs,
                        progress=progress,
                        cancel=cancel,
                        query_indexes=query_indexes,
                        full=full,
                    )
                    stats.rebuilt = rebuilt
                    store.last_refresh = stats
                return store, (then(store) if then is not None else None)
            except (sqlite3.DatabaseError, *_CONTENT_ERRORS) as exc:
                conn.close()
                if not _is_corrupt(exc) or attempt:
                    raise
                delete_index(path)  # damaged: build it again from the files
            except BaseException:
                conn.close()
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def open_index(
    paths: Sequence[Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    jobs: int = 1,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    refresh: bool = True,
    query_indexes: bool = True,
    full: bool = False,
) -> SqliteStore:
    """Open the archive's index, bringing it up to date first (unless ``refresh=False``).

    ``progress(done, total)`` is called as files are read (``total`` may grow while a
    cold build still scans; :class:`ProgressMeter` turns it into files/s and an ETA).
    ``jobs`` is the number of parser processes for many files. Raises
    :class:`IndexCancelled` when ``cancel`` is set, and lets KeyboardInterrupt through;
    either way what was read is kept for next time. With ``refresh=False`` an
    existing index is used as it is, for a first screen at once (an empty one is still
    built); call :meth:`SqliteStore.refresh` afterwards, in a worker thread (which also
    adds the explorer's query indexes to an index ``summary`` built). ``full``: see
    :meth:`SqliteStore.refresh`.
    """
    store, _ = _opened(
        paths,
        limits=limits,
        jobs=jobs,
        progress=progress,
        cancel=cancel,
        refresh=refresh,
        query_indexes=query_indexes,
        full=full,
    )
    return store


def _is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None


def summarize_with_index(
    paths: list[Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    jobs: int = 1,
    progress: ProgressCallback | None = None,
    use_cache: bool = True,
    cancel: threading.Event | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """What ``summary_document(load_archive(paths))`` returns, through the index.

    ``use_cache=False`` reads every file and leaves the index alone; ``full``: see
    :meth:`SqliteStore.refresh`.
    """
    if not use_cache:
        return summarize_without_index(
            paths, limits=limits, jobs=jobs, progress=progress, cancel=cancel
        )
    store, document = _opened(
        paths,
        limits=limits,
        jobs=jobs,
        progress=progress,
        cancel=cancel,
        refresh=True,
        query_indexes=False,
        full=full,
        then=lambda st: st.summary(remember=True),
    )
    if store.last_refresh.cold:
        # Closing checkpoints the log into the file: not forcing the freshly written
        # file to disk (only a cache, like the build itself) spares a wait at the end.
        store.conn.execute("PRAGMA synchronous=OFF")
    store.close()
    result: dict[str, Any] = document
    return result


__all__ = [
    "IndexCancelled",
    "IndexDamaged",
    "ProgressMeter",
    "RefreshStats",
    "SqliteStore",
    "clean",
    "delete_index",
    "index_path",
    "open_index",
    "summarize_with_index",
    "summarize_without_index",
    "terminal_progress",
]
