"""The summary document (``summary --format json``), with and without an index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from tlsrpt_tui.core.facts import domains_document


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
    """The ``summary --format json`` document from per-(domain, x) sums (the domains
    object is :func:`tlsrpt_tui.core.facts.domains_document`'s)."""
    return {
        "files": files,
        "reports": reports,
        "duplicates": duplicates,
        "errors": errors,
        "folded": [folded_entry(f) for f in folded],
        "domains": domains_document(unit_sums, policy_sums, type_sums),
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
