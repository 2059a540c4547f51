"""The summary document (``summary --format json``), with and without an index."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    # (At run time the row types are imported where rows are made: the index's own
    # work, summary included, never makes one, and their classes take a while to set up.)
    pass

from tlsrpt_tui.core.archive import collect_files
from tlsrpt_tui.core.progress import ProgressCallback
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, Limits
from tlsrpt_tui.store.extract import (
    P_FAILED,
    P_OK,
    P_TYPE,
    U_DOMAIN,
    U_FAILED,
    U_FOLDED,
    U_OK,
    U_RTC,
)
from tlsrpt_tui.store.parallel.pool import _same, extract_in_order

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


