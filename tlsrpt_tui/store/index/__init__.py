"""A persistent SQLite index of an archive, answering the views' queries.

The index lives in the user cache folder, one database per set of archive roots. It
holds, per file, its size and modification time, and per distinct report the facts
the views aggregate (:mod:`tlsrpt_tui.store.index.rows`); opening an archive re-reads
only files that are new or changed, and forgets deleted ones. It is only a cache:
deleting it loses nothing, and a corrupt or outdated one is rebuilt.

* Cold builds parse in a process pool while the scan goes on: each worker makes its
  batch of files as a small SQLite database (:mod:`tlsrpt_tui.store.index.batch`) that the
  parent copies in C, a transaction per batch, so an interrupted build leaves a
  consistent, partial index that the next open completes. On the command line the
  pool is forked and fed through pipes (:mod:`tlsrpt_tui.store.parallel.forkpool`). Many files
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

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.progress import ProgressCallback, ProgressMeter, terminal_progress
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, Limits
from tlsrpt_tui.store.index.database import (
    _CONTENT_ERRORS,
    IndexCancelled,
    IndexDamaged,
    RefreshStats,
    _exclusive,
    _format_tag,
    _is_corrupt,
    _is_empty,
    _lock_path,
    _open_checked,
    delete_index,
    index_path,
)
from tlsrpt_tui.store.index.reader import SqliteStore
from tlsrpt_tui.store.index.refresh import _refresh
from tlsrpt_tui.store.index.rows import (
    clean,
)
from tlsrpt_tui.store.index.unindexed import summarize_without_index
from tlsrpt_tui.store.parallel.pool import prepare_workers
from tlsrpt_tui.store.summary import folded_entry

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
    "folded_entry",
    "index_path",
    "open_index",
    "prepare_workers",
    "summarize_with_index",
    "summarize_without_index",
    "terminal_progress",
]
