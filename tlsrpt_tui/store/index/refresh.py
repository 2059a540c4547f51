"""Bringing the index up to date: cold build, quick and full checks, watcher changes."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from operator import itemgetter
from pathlib import Path

from tlsrpt_tui.core.archive import in_quarantine, is_candidate_name
from tlsrpt_tui.core.model import Report
from tlsrpt_tui.core.progress import ProgressCallback
from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.core.reading.walk import (
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
    prefix_end,
    root_prefix,
    walk,
    walk_changed,
    walk_folders,
)
from tlsrpt_tui.store.index.batch import (
    ID_SPAN,
    BatchJob,
    build_batch,
    can_serialize,
)
from tlsrpt_tui.store.index.database import (
    IndexCancelled,
    RefreshStats,
    _ensure_indexes,
    _is_empty,
    _transaction,
    has_index,
)
from tlsrpt_tui.store.index.rows import (
    FileOut,
    SigCollision,
    blake2b,
    extract_in_order,
    slow_file,
)
from tlsrpt_tui.store.index.schema import (
    _BATCH,
    _FILES_KEY,
    _MAINTENANCE_INDEXES,
    _QUERY_INDEXES,
    BATCH_TABLES,
)
from tlsrpt_tui.store.index.writer import _chunks, _marks, _rebuild_aggregates, _Writer
from tlsrpt_tui.store.parallel import pool
from tlsrpt_tui.store.parallel.pool import map_batches

#: Files per batch handed to a worker in a cold build.
#: (The first batches are smaller, so that every worker starts at once.)
ROWS_BATCH_FILES = 2048
#: A folder changed this recently (or later: another clock) may change again within the
#: same tick of its file system's clock, unseen: it is listed again next time. (Two
#: seconds is FAT's tick; a jiffy is Linux's.)
RECENT_NS = 3_000_000_000

#: A file to index: (key, display name, size, mtime, path to read).
Todo = tuple[bytes, str, int, int, str]


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
    workers make each batch's rows as a database (:mod:`tlsrpt_tui.store.index.batch`),
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
            numbered_from=first_number, known_errors={"SigCollision": SigCollision},
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


#: A file to index -> (path, display name), what a worker reads (itemgetter: no Python
#: call per file).
_todo_job: Callable[[Todo], tuple[str, str]] = itemgetter(4, 1)
#: A file to index -> what a cold build's worker is given (:data:`BatchJob`).
_batch_job: Callable[[Todo], BatchJob] = itemgetter(4, 1, 0)


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
    with _transaction(conn, answers=False):
        _remember_folders(conn, scan, started_ns, every=quick is None, recount=bool(stats.changes))
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
    if len(todo) < pool.POOL_MIN_FILES or not can_serialize():
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
        ordered = has_index(conn, "files_key")
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
