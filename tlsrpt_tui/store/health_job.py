"""Health rules over an indexed archive, run in a child process by the explorer.

The rules' input comes through the queries interface (:func:`alerts_of`), from
whichever store answers: the same rows, the same rules, the same alerts as ``check``.
From the index the rows of a report are made by reading it again, once, and then kept
in the index until it changes; the first time that is seconds of CPU for a large
archive, so the explorer runs :func:`recent_alerts` in another process, where it never
competes with the UI for the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from tlsrpt_tui.core.health.alerts import Alert, HealthResult, Thresholds
from tlsrpt_tui.core.health.evaluate import evaluate_rows, first_day_read, last_day_read
from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.store.queries import ArchiveQueries, Filter


def health_of(
    store: ArchiveQueries,
    *,
    thresholds: Thresholds,
    now: datetime | None = None,
    clock: datetime | None = None,
) -> HealthResult:
    """The rules over the archive a store answers for (``now`` and ``clock`` as for
    :func:`~tlsrpt_tui.core.health.evaluate.evaluate`), over the rows from
    :func:`~tlsrpt_tui.core.health.evaluate.first_day_read` on: what ``check`` prints
    and the explorer's alerts pane shows."""
    last = store.overview(Filter()).last_day
    rows = []
    until = last_day_read(now)
    newer = until is not None and last is not None and last > until
    if last is not None:
        since = first_day_read(last, now=now, clock=clock, thresholds=thresholds)
        rows = store.health_rows(since, until if newer else None)
    return evaluate_rows(rows, now=now, clock=clock, thresholds=thresholds, newer=newer)


def alerts_of(
    store: ArchiveQueries,
    *,
    thresholds: Thresholds,
    now: datetime | None = None,
    clock: datetime | None = None,
) -> list[Alert]:
    """The active alerts of :func:`health_of`."""
    return list(health_of(store, thresholds=thresholds, now=now, clock=clock).alerts)


def recent_alerts(
    paths: list[Path], limits: Limits, thresholds: Thresholds, now: datetime | None = None
) -> list[Alert]:
    """Alerts for the archive, through its index as it stands (not refreshed here).

    ``now`` as for :func:`~tlsrpt_tui.core.health.evaluate.evaluate`; without it the
    silence rules measure from the wall clock (taken here, when the rules run).
    """
    from tlsrpt_tui.store.index import open_index

    store = open_index(paths, limits=limits, jobs=1, refresh=False)
    try:
        return alerts_of(store, thresholds=thresholds, now=now, clock=datetime.now(UTC))
    finally:
        store.close()


def documented_now(paths: Iterable[Path]) -> datetime | None:
    """The fixed "now" of an archive that documents one, else ``None`` (the wall clock).

    Only the bundled demo archive does (:data:`~tlsrpt_tui.demo.DEMO_NOW`, the end of its
    last day): opened alone, as ``--demo`` does, its alerts stay the same on any date.
    """
    from tlsrpt_tui.locations import demo_archive

    root = Path(os.path.abspath(demo_archive()))
    given = [Path(os.path.abspath(p)) for p in paths]
    if not given or not all(p == root or p.is_relative_to(root) for p in given):
        return None
    from tlsrpt_tui.demo.generator import DEMO_NOW  # (only then: its import is not free)

    return DEMO_NOW
