"""The health rules' input from the index: :func:`health_rows` over a connection.

The rules read report facts the index's tables do not keep (each report's date-range to
the second, the STS policy-strings, failures per receiving MX host), so the rows are
made from the reports themselves, read again from the first readable copy of each
(each file once), by the same :func:`~tlsrpt_tui.core.health.rows.rows_of` the
in-memory store uses. They are then kept in the index's ``cache`` table, which every
change to the index empties: a warm ``check`` or explorer reads no report file.

(Written for :class:`~tlsrpt_tui.store.index.SqliteStore`, whose ``health_rows``
calls it; it needs only the connection, the archive roots and the limits.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from datetime import date
from pathlib import Path

from tlsrpt_tui.core.facts import report_key
from tlsrpt_tui.core.health.rows import HealthRow, rows_of
from tlsrpt_tui.core.reading.loader import Limits, load_file
from tlsrpt_tui.core.reading.walk import key_location

#: The cache entry's name prefix (one entry per first day asked for).
CACHE_NAME = "health-rows"


def cache_name(since: date | None, until: date | None = None) -> str:
    first = since.isoformat() if since is not None else "all"
    return f"{CACHE_NAME}:{first}" + (f":{until.isoformat()}" if until is not None else "")


def health_rows(
    conn: sqlite3.Connection,
    roots: Sequence[Path],
    limits: Limits,
    since: date | None = None,
    until: date | None = None,
    *,
    remember: bool = True,
) -> list[HealthRow]:
    """The health rows of the indexed reports of the days from ``since`` to ``until``
    (unbounded without).

    One read snapshot throughout. With ``remember`` the rows are kept in the cache
    table; when another connection changed the index meanwhile, SQLite refuses the
    write (the snapshot is stale) and nothing is kept. A report whose every copy is
    gone or changed on disk since the index last looked is left out (the next refresh
    catches up).
    """
    name = cache_name(since, until)
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    try:
        row = conn.execute("SELECT value FROM cache WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return [HealthRow.from_json(item) for item in json.loads(row[0])]
        rows = _read_rows(conn, roots, limits, since, until)
        if remember:
            document = json.dumps([r.to_json() for r in rows], ensure_ascii=False)
            # (Refused when busy or the snapshot is stale: another process changed it.)
            # One entry at a time: the first day moves on with the newest report (or a
            # --now), and the rows of another first day are no use to the next reader.
            with suppress(sqlite3.OperationalError):
                conn.execute("DELETE FROM cache WHERE name LIKE ?", (f"{CACHE_NAME}:%",))
                conn.execute("INSERT INTO cache VALUES (?, ?)", (name, document))
        return rows
    finally:
        if began:
            conn.execute("COMMIT")


def _read_rows(
    conn: sqlite3.Connection,
    roots: Sequence[Path],
    limits: Limits,
    since: date | None,
    until: date | None,
) -> list[HealthRow]:
    first = since.toordinal() if since is not None else -1
    last = until.toordinal() if until is not None else date.max.toordinal()
    # Every copy of each report, first copies first: a report is taken from the first
    # file that still holds it, and each file is read once.
    files: dict[int, tuple[str, str, dict[tuple[str | None, str], int]]] = {}
    query = (
        "SELECT r.id, r.key, f.id, f.key, f.display, r.part, 0 FROM reports r"
        " JOIN files f ON f.id = r.file WHERE r.day BETWEEN ? AND ?"
        " UNION ALL SELECT r.id, r.key, f.id, f.key, f.display, c.part, 1 FROM copies c"
        " JOIN reports r ON r.id = c.report JOIN files f ON f.id = c.file"
        " WHERE r.day BETWEEN ? AND ?"
        " ORDER BY 7, 3"
    )
    for rid, key, fid, fkey, display, part, _copy in conn.execute(
        query, (first, last, first, last)
    ):
        entry = files.get(fid)
        if entry is None:
            entry = files[fid] = (key_location(fkey, roots), display, {})
        entry[2][(part, key)] = rid
    found: dict[int, list[HealthRow]] = {}
    for location, display, keys in files.values():
        if all(rid in found for rid in keys.values()):
            continue
        result = load_file(Path(location), display_path=display, limits=limits)
        for report in result.reports:
            rid_or_none = keys.get((report.source.part, report_key(report)))
            if rid_or_none is not None and rid_or_none not in found:
                found[rid_or_none] = list(rows_of(report))
    # In the index's order of reports (by id), as the in-memory store gives them.
    return [row for rid in sorted(found) for row in found[rid]]


def archive_counts(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(files, distinct reports, files that could not be read as reports)."""
    files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    reports = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
    bad = conn.execute("SELECT count(DISTINCT file) FROM errors").fetchone()[0]
    return int(files), int(reports), int(bad)
