"""Time the store queries behind each key press of the explorer (index warm).

Prints one JSON object: action -> {p50, p95, max, n} in milliseconds. Remembered
answers are dropped before every action, so each one really queries the index.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tlsrpt_tui.store.index import SqliteStore, open_index
from tlsrpt_tui.store.queries import Filter


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


#: The explorer draws a trend of this many days per navigation row.
TREND_DAYS = 14


def screen(store: SqliteStore, base: Filter, pivot: str = "domain") -> None:
    """What the explorer's refresh_all asks: overview, nav, and the first row's detail."""
    store.overview(base)
    rows = store.nav_rows(pivot, base, trend_days=TREND_DAYS)  # type: ignore[arg-type]
    if rows:
        detail = base.narrowed(**{pivot: rows[0].key})
        store.policy_rows(detail)
        store.failure_rows(detail)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    started = time.perf_counter()
    store = open_index(args.paths, jobs=args.jobs)
    opened = (time.perf_counter() - started) * 1000
    store.close()
    started = time.perf_counter()
    store = open_index(args.paths, jobs=args.jobs)
    reopened = (time.perf_counter() - started) * 1000
    store.close()
    started = time.perf_counter()
    store = open_index(args.paths, jobs=args.jobs, refresh=False)
    at_once = (time.perf_counter() - started) * 1000
    timings: dict[str, list[float]] = {}

    def timed(action: str, work: Callable[..., object], *args: object) -> None:
        store._memo.clear()  # no remembered answers: every action queries
        if action.startswith("filter keystroke"):
            # What the explorer loads once, while idle, for text filters.
            store.prepare_text_filter(14)
        t = time.perf_counter()
        work(*args)
        timings.setdefault(action, []).append((time.perf_counter() - t) * 1000)

    def detail(flt: Filter) -> None:
        store.policy_rows(flt)
        store.failure_rows(flt)

    def trends(flt: Filter) -> None:
        """What the trends screen (opened with a text filter) asks: every day."""
        store.daily(flt)
        store.result_type_daily(flt)

    def drill_type(flt: Filter) -> None:
        store.failure_rows(flt)
        store.report_rows(flt)

    everything = Filter()
    timed("first screen (all panes)", screen, store, everything)
    domains = [r.key for r in store.nav_rows("domain", everything)]
    reporters = [r.key for r in store.nav_rows("reporter", everything)]
    for domain in domains[:40]:
        timed("cursor move (domain row)", detail, everything.narrowed(domain=domain))
    for reporter in reporters[:40]:
        timed("cursor move (reporter row)", detail, everything.narrowed(reporter=reporter))
    for domain in domains[:20]:
        rows = store.policy_rows(everything.narrowed(domain=domain))
        for row in rows[:3]:
            flt = everything.narrowed(domain=row.domain, reporter=row.reporter)
            timed("drill-down (policy->failures)", store.failure_rows, flt)
    for word in ("google", "mx1.", "203.0.113", "certificate-expired", "microsoft", "zzz"):
        for end in range(1, len(word) + 1):
            base = everything.narrowed(text=word[:end])
            timed("filter keystroke", screen, store, base)
            timed("open (trends screen, text filter)", trends, base)
    timed("pivot toggle", screen, store, everything, "reporter")
    timed("pivot toggle", screen, store, everything, "domain")
    overview = store.overview(everything)
    if overview.last_day:
        for days in (7, 30, 90):
            base = everything.narrowed(since=overview.last_day - timedelta(days=days))
            timed("date range", screen, store, base)
    for domain in domains[:10]:
        timed("raw view (report list)", store.report_rows, everything.narrowed(domain=domain))
    timed("raw view (report list)", store.report_rows, everything)
    for result_type in list(store.result_types(everything))[:5]:
        timed("result-type drill-down", drill_type, everything.narrowed(result_type=result_type))
    for key in [r.key for r in store.report_rows(everything, limit=20)]:
        timed("open one raw report", store.report, key)
    result: dict[str, dict[str, float]] = {
        "open (first after summary)": {"p50": opened, "p95": opened, "max": opened, "n": 1},
        "open (warm, checks files)": {"p50": reopened, "p95": reopened, "max": reopened, "n": 1},
        "open (warm, refresh=False)": {"p50": at_once, "p95": at_once, "max": at_once, "n": 1},
    }
    for action, values in timings.items():
        result[action] = {
            "p50": statistics.median(values),
            "p95": percentile(values, 0.95),
            "max": max(values),
            "n": len(values),
        }
    store.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
