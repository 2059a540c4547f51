"""Health rules over an indexed archive, run in a child process.

The rules need whole reports (policy strings, failure details), which the index
re-reads from their files. For a large archive that is seconds of CPU: done in
another process it never competes with the explorer for the GIL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tlsrpt_tui.core.health import Alert, evaluate
from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.settings import Thresholds
from tlsrpt_tui.store.queries import Filter

#: How far back the rules look (30-day baselines plus their own windows).
LOOKBACK = timedelta(days=40)


def recent_alerts(
    paths: list[Path], limits: Limits, thresholds: Thresholds, now: datetime | None = None
) -> list[Alert]:
    """Alerts for the archive's recent reports, read through its index as it stands.

    ``now`` as for :func:`~tlsrpt_tui.core.health.evaluate`; without it the silence
    rules measure from the wall clock (taken here, when the rules run).
    """
    from tlsrpt_tui.store.index import open_index

    store = open_index(paths, limits=limits, jobs=1, refresh=False)
    try:
        last = store.overview(Filter()).last_day
        if last is None:
            return []
        rows = store.report_rows(Filter(since=last - LOOKBACK), limit=10**9)
        reports = [r for r in (store.report(row.key) for row in rows) if r is not None]
    finally:
        store.close()
    return list(evaluate(reports, now=now, clock=datetime.now(UTC), thresholds=thresholds).alerts)
