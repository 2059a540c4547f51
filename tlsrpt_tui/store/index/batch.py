"""A cold build's batch of files as a small SQLite database, made by a worker.

The worker parses its files (:func:`tlsrpt_tui.store.index.rows.extract_rows`) and
inserts the rows into an in-memory database with the index's own tables, numbered as
they will be in the index. The parent attaches the serialized database and copies
each table with ``INSERT ... SELECT *``: SQLite moves the records in C, unchanged, so
no row passes through Python in the parent, which would otherwise be the slowest part
of a cold build.

A file holding one report of the common shape (one policy, no failure details: most
files) is a single ``stage`` row instead of four rows of four tables; the parent's
SQLite makes the four rows from it (:func:`expand_stage`) straight into the index.
Each row is then written once into a B-tree, and Python binds one row per file.

Ids: batch ``n`` numbers its rows from ``n * ID_SPAN + 1`` (:func:`batch_base`), so
workers number rows without asking the parent and ids grow in scan order. A batch
never needs more than ``ID_SPAN`` ids per table.
"""

from __future__ import annotations

import marshal
import sqlite3
from itertools import chain
from typing import Any

from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.store.index.rows import extract_rows
from tlsrpt_tui.store.index.schema import BATCH_TABLES, table_schema

#: Ids a batch may use per table.
ID_SPAN = 1 << 32
#: (path, display name, file key): what a worker is given per file.
BatchJob = tuple[str, str, bytes]
#: (batch number, database, marshalled (files indexed, report key hashes in id order,
#: {signature id: signature}, the batch's sums)): what a worker returns.
BatchOut = tuple[int, bytes, bytes]

#: A staged file (see :data:`tlsrpt_tui.store.index.rows.Rows`): its report's staged row
#: and the file's key, display name, size and time.
_STAGE = (
    "CREATE TABLE stage(n, khash, key, reporter, report_id, day, position, u, p, f, sig,"
    " domain, successful, failed, policy_type, sts_mode, mx, fkey, display, size, mtime)"
)
#: The rows a staged file stands for ({src}: the batch's schema, {to}: the schema the
#: rows go to, {b}: the batch's first id).
_FROM_STAGE = (
    "INSERT INTO {to}.files SELECT position+{b}, fkey, display, size, mtime FROM {src}.stage",
    "INSERT INTO {to}.reports SELECT n+{b}, khash, key, reporter, report_id, day,"
    " position+{b}, 0, NULL, u+{b}, u+{b}, p+{b}, p+{b}, f+{b}, f-1+{b} FROM {src}.stage",
    "INSERT INTO {to}.units SELECT u+{b}, n+{b}, sig, domain, reporter, day, successful,"
    " failed, 1, NULL, 0 FROM {src}.stage",
    "INSERT INTO {to}.policies SELECT p+{b}, u+{b}, sig, domain, reporter, day, policy_type,"
    " sts_mode, mx, successful, failed, 1 FROM {src}.stage",
)

#: Per worker: an empty batch database, serialized (creating the tables anew for every
#: batch would cost more than filling some of them).
_EMPTY: bytes | None = None


def _empty_database() -> bytes:
    global _EMPTY
    if _EMPTY is None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            conn.executescript(table_schema(BATCH_TABLES) + _STAGE + ";")
            _EMPTY = conn.serialize()
        finally:
            conn.close()
    return _EMPTY


def expand_stage(conn: sqlite3.Connection, source: str, target: str, number: int) -> None:
    """Insert the rows batch ``number``'s staged files stand for (the batch attached as
    schema ``source``) into the tables of schema ``target``."""
    for statement in _FROM_STAGE:
        conn.execute(statement.format(to=target, src=source, b=batch_base(number)))


def clear_stage(conn: sqlite3.Connection, source: str) -> None:
    """Forget the staged files of the batch attached as ``source`` (once expanded)."""
    conn.execute(f"DELETE FROM {source}.stage")


def can_serialize() -> bool:
    """Whether this Python's sqlite3 moves databases as bytes (3.11 does, unless its
    SQLite was built without it)."""
    return hasattr(sqlite3.Connection, "serialize") and hasattr(sqlite3.Connection, "deserialize")


def batch_base(number: int) -> int:
    """The first id of batch ``number`` in every table."""
    return number * ID_SPAN + 1


def build_batch(work: list[BatchJob], limits: Limits, number: int) -> BatchOut:
    """Worker entry point of a cold build: batch ``number``'s files as a database."""
    rows = extract_rows([(path, display) for path, display, _key in work], limits)
    stats, reports, units, policies, failures, errors, sigs, sums, staged = rows
    b = batch_base(number)
    staged_files = []
    for row in staged:
        _path, display, key = work[row[6]]
        info = stats[row[6]]
        assert info is not None  # (a staged file was read)
        staged_files.append((*row, key, display, *info))
    staged_positions = {row[6] for row in staged}
    files = [
        (b + position, key, display, stat[0], stat[1])
        for position, ((_path, display, key), stat) in enumerate(zip(work, stats, strict=True))
        if stat is not None and position not in staged_positions
    ]
    khashes = [0] * (len(reports) + len(staged))
    for row in chain(reports, staged):
        khashes[row[0]] = row[1]
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.deserialize(_empty_database())
        conn.execute("PRAGMA journal_mode=OFF")  # (built once, never rolled back)
        conn.execute("BEGIN")
        # Row ids are local to the batch (from 0): SQLite adds the base while inserting.
        conn.executemany("INSERT INTO files VALUES (?,?,?,?,?)", files)
        conn.executemany(
            f"INSERT INTO errors VALUES (?+{b},?+{b},?,?,?)",
            [(i, *row) for i, row in enumerate(errors)],
        )
        conn.executemany(
            f"INSERT INTO reports VALUES (?+{b},?,?,?,?,?,?+{b},?,?,"
            f"?+{b},?+{b},?+{b},?+{b},?+{b},?+{b})",
            reports,
        )
        conn.executemany(f"INSERT INTO units VALUES (?+{b},?+{b},?,?,?,?,?,?,?,?,?)", units)
        conn.executemany(f"INSERT INTO policies VALUES (?+{b},?+{b},?,?,?,?,?,?,?,?,?,?)", policies)
        conn.executemany(
            f"INSERT INTO failures VALUES (?+{b},?+{b},?,?,?,?,?,?,?,?,?,?,?,?)", failures
        )
        conn.executemany(f"INSERT INTO stage VALUES ({','.join('?' * 21)})", staged_files)
        conn.execute("COMMIT")
        data = conn.serialize()
    finally:
        conn.close()
    meta: tuple[Any, ...] = (len(files) + len(staged_files), khashes, sigs, sums)
    return number, data, marshal.dumps(meta)


def unpack_meta(
    packed: bytes,
) -> tuple[int, list[int], dict[int, tuple[str, str, str]], Any]:
    """What :func:`build_batch` marshalled besides the database."""
    files, khashes, sigs, sums = marshal.loads(packed)
    return files, khashes, sigs, sums


__all__ = [
    "ID_SPAN",
    "BatchJob",
    "BatchOut",
    "batch_base",
    "build_batch",
    "can_serialize",
    "clear_stage",
    "expand_stage",
    "unpack_meta",
]
