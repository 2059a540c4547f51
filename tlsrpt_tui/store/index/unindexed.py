"""The summary document straight from the files, through the index's row maker but
without a database (``summary --no-cache``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.archive import collect_files
from tlsrpt_tui.core.progress import ProgressCallback
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, Limits
from tlsrpt_tui.store.index.rows import (
    P_FAILED,
    P_OK,
    P_TYPE,
    U_DOMAIN,
    U_FAILED,
    U_FOLDED,
    U_OK,
    U_RTC,
    extract_in_order,
)
from tlsrpt_tui.store.parallel.pool import _same
from tlsrpt_tui.store.summary import Folded, _error_entry, _folded_order, build_summary


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
