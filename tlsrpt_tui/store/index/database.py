"""The index file: where it lives, its lock, opening, checking and rebuilding it,
and transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tlsrpt_tui import __version__
from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.locations import cache_dir
from tlsrpt_tui.store.index.rows import (
    sha256,
)
from tlsrpt_tui.store.index.schema import EXTRACT_VERSION, SCHEMA, SCHEMA_VERSION

# (The pool raises it between batches; the lock wait here raises it too.)
from tlsrpt_tui.store.parallel.pool import IndexCancelled as IndexCancelled

#: SQLite result codes that mean the file is damaged: CORRUPT, FORMAT, NOTADB.
_CORRUPT_CODES = frozenset({11, 24, 26})
#: What a damaged index raises while being read, besides sqlite3.DatabaseError.
_CONTENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, UnicodeError)


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
    with _transaction(conn, answers=False):
        for statement in missing:
            conn.execute(statement)
    if any("units" in s for s in missing):
        conn.execute("PRAGMA analysis_limit=2000")
        conn.execute("ANALYZE")


@contextmanager
def _transaction(
    conn: sqlite3.Connection, *, keep_cache: bool = False, answers: bool = True
) -> Iterator[None]:
    """One write transaction; remembered answers go unless nothing changed
    (``keep_cache``) or what it writes changes no answer (``answers=False``: the
    folders a walk saw, the SQL indexes)."""
    conn.execute("BEGIN IMMEDIATE")
    start = conn.total_changes
    try:
        yield
        if answers and (not keep_cache or conn.total_changes != start):
            conn.execute("DELETE FROM cache")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None


def has_index(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the index file holds the SQL index ``name`` (a cold build adds some last)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (name,))
    return row.fetchone() is not None
