"""The index's answers to the views: :class:`SqliteStore`."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tlsrpt_tui.core.model import LoadError, Report, Source
from tlsrpt_tui.core.progress import ProgressCallback
from tlsrpt_tui.core.reading.loader import Limits, load_file
from tlsrpt_tui.core.reading.walk import (
    key_location,
)
from tlsrpt_tui.store.index.database import (
    _CONTENT_ERRORS,
    IndexDamaged,
    RefreshStats,
    _connect,
    _exclusive,
    _is_corrupt,
    _lock_path,
    delete_index,
    has_index,
)
from tlsrpt_tui.store.index.refresh import _apply_changes, _refresh
from tlsrpt_tui.store.index.rows import (
    key_hash,
    out_of_report,
)
from tlsrpt_tui.store.index.sql import (
    _MEMO_SIZE,
    _add_units,
    _days,
    _failure_row,
    _fromordinal,
    _newest_reports,
    _policy_row,
    _scope,
    _sig_only,
    _sig_where,
    _simple,
    _sorted_failures,
    _sorted_policies,
    _unit_where,
    _Where,
    report_rows_of,
)
from tlsrpt_tui.store.index.text_filter import Signature, failure_groups, policy_groups, signatures
from tlsrpt_tui.store.queries import (
    DailyPoint,
    FailureRow,
    Filter,
    FoldedReport,
    NavRow,
    Overview,
    Pivot,
    PolicyRow,
    ReportRow,
)
from tlsrpt_tui.store.summary import _error_entry, _folded, build_summary

if TYPE_CHECKING:
    from tlsrpt_tui.core.health.rows import HealthRow

T = TypeVar("T")


def _grid_key(pivot: Pivot, flt: Filter, since: int | None = None) -> tuple[Any, ...]:
    """The memo's key of :meth:`SqliteStore._grid` (one definition: the overview looks
    for the nav pane's grid by it)."""
    return ("grid", pivot, flt, since)


class SqliteStore:
    """:class:`~tlsrpt_tui.store.queries.ArchiveQueries` answered from the index.

    Get one from :func:`open_index`. Beyond the protocol: ``nav_rows(...,
    trend_days=N)`` (only the last N days of each row's trend: what the explorer
    draws, and much cheaper under a text filter), :meth:`locate` (every copy of a
    report on disk, for the raw view), :meth:`summary`, and :meth:`refresh` /
    :meth:`apply_changes` to keep up with the archive.

    Safe to use from several threads (queries are serialised; refreshes write on a
    connection of their own, so queries go on meanwhile). Results of repeated queries
    are remembered until the index changes (by this or another process). A damaged
    index raises :class:`IndexDamaged` (the file is deleted: open it again).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        roots: Sequence[Path],
        limits: Limits,
        jobs: int,
    ) -> None:
        self.conn = conn
        self.path = path
        self.roots = list(roots)
        self.limits = limits
        self.jobs = jobs
        self.lock = threading.RLock()
        self.last_refresh = RefreshStats()
        self._memo: dict[tuple[Any, ...], Any] = {}
        #: What text filters are answered from (see _signatures): forgotten with the
        #: remembered answers, but never to make room for them.
        self._prepared: dict[tuple[Any, ...], Any] = {}
        self._data_version = -1

    # -- housekeeping -------------------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _fresh(self) -> None:
        """Forget remembered answers when another connection changed the index."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._memo.clear()
            self._prepared.clear()
            self._data_version = version

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Serialise access; a damaged index is deleted and reported as IndexDamaged."""
        with self.lock:
            try:
                yield
            except (sqlite3.DatabaseError, *_CONTENT_ERRORS) as exc:
                if not _is_corrupt(exc):
                    raise
                self._damaged()
                raise IndexDamaged(str(exc)) from exc

    def _memoized(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._reading():
            self._fresh()
            return self._recall(key, compute)

    def _recall(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The remembered answer for ``key``, or ``compute()``'s, remembered: the one way
        into the memo, which keeps it within :data:`_MEMO_SIZE` (the caller holds the
        lock)."""
        memo = self._memo
        if key in memo:
            value = memo[key] = memo.pop(key)  # (the most recently used go last)
            return value
        value = compute()
        while len(memo) >= _MEMO_SIZE:
            del memo[next(iter(memo))]  # the least recently used
        memo[key] = value
        return value

    def _changed(self) -> None:
        self._memo.clear()
        self._prepared.clear()

    def _damaged(self) -> None:
        """Delete the damaged index (other instances keep their open copy)."""
        with _exclusive(_lock_path(self.path), None):
            delete_index(self.path)

    # -- totals ----------------------------------------------------------------------------

    def _totals(self) -> tuple[int, int, int, int]:
        def compute() -> tuple[int, int, int, int]:
            c = self.conn
            files = c.execute("SELECT count(*) FROM files").fetchone()[0]
            reports = c.execute("SELECT count(*) FROM reports").fetchone()[0]
            copies = c.execute("SELECT count(*) FROM copies").fetchone()[0]
            bad = c.execute("SELECT count(DISTINCT file) FROM errors").fetchone()[0]
            return files, reports, copies, bad

        value: tuple[int, int, int, int] = self._memoized(("totals",), compute)
        return value

    # -- ArchiveQueries ----------------------------------------------------------------

    def overview(self, flt: Filter) -> Overview:
        result: Overview = self._memoized(("overview", flt), lambda: self._overview(flt))
        return result

    def _overview(self, flt: Filter) -> Overview:

        files, _reports, duplicates, bad = self._totals()
        conn = self.conn
        if _simple(flt):
            days = _days(flt, "day")
            ok, failed, domains, first, last = conn.execute(
                "SELECT sum(successful), sum(failed), count(DISTINCT domain), min(day), max(day)"
                f" FROM daily_domain{days.sql}",
                days.params,
            ).fetchone()
            reports, reporters = conn.execute(
                f"SELECT sum(leads), count(DISTINCT reporter) FROM daily_reporter{days.sql}",
                days.params,
            ).fetchone()
        elif _sig_only(flt):
            matching = self._matching(flt)
            ok = sum(r.successful for r in matching)
            failed = sum(r.failed for r in matching)
            domains = len({r.domain for r in matching})
            reporters = len({r.reporter for r in matching})
            first = min((r.first for r in matching if r.first is not None), default=None)
            last = max((r.last for r in matching if r.last is not None), default=None)
            leads = sum(r.leads for r in matching)
            units = sum(r.units for r in matching)
            if flt.domain is not None:
                reports = units
            else:
                reports = (leads or 0) + sum(self._extra("reporter", flt).values())
        else:
            # One pass over the units (the nav pane's, remembered for it) and a look at
            # the signatures for the other dimension.
            # (The grid the nav pane asked for, without a trend window: see _nav_rows.)
            pivot: Pivot = "reporter" if _grid_key("reporter", flt) in self._memo else "domain"
            grid = self._grid(pivot, flt)
            ok = sum(r[2] for r in grid)
            failed = sum(r[3] for r in grid)
            first = min((r[1] for r in grid), default=None)
            last = max((r[1] for r in grid), default=None)
            keys = len({r[0] for r in grid})
            if flt.domain is not None:
                reports = sum(r[4] for r in grid)
            else:
                reports = sum(r[5] for r in grid) + sum(self._extra("reporter", flt).values())
            other = self._distinct("reporter" if pivot == "domain" else "domain", flt)
            domains, reporters = (keys, other) if pivot == "domain" else (other, keys)
        return Overview(
            files=files,
            reports=reports or 0,
            duplicates=duplicates,
            bad_files=bad,
            reporters=reporters,
            domains=domains,
            first_day=None if first is None else _fromordinal(first),
            last_day=None if last is None else _fromordinal(last),
            successful=ok or 0,
            failed=failed or 0,
        )

    def _distinct(self, column: str, flt: Filter) -> int:
        """How many domains or reporters have a unit the filter keeps (via signatures)."""
        if flt.result_type is not None:  # few units have failures: ask them directly
            units = _unit_where(flt)
            row = self.conn.execute(
                f"SELECT count(DISTINCT u.{column}) FROM units u{units.sql}", units.params
            ).fetchone()
            return int(row[0])
        where = _sig_where(flt)
        inner = _scope(
            flt.narrowed(text="", domain=None, reporter=None),  # (its dates and type)
            "u",
            with_type=True,
            with_text=None,
        )
        if inner.conds:
            where.add(
                "EXISTS (SELECT 1 FROM units u WHERE u.sig = s.id AND"
                f" {' AND '.join(inner.conds)})",
                *inner.params,
            )
        row = self.conn.execute(
            f"SELECT count(DISTINCT s.{column}) FROM sigs s{where.sql}", where.params
        ).fetchone()
        return int(row[0])

    def _extra(self, pivot: Pivot, flt: Filter) -> dict[str, int]:
        """Reports the filter keeps through a unit other than their lead unit, but not
        through the lead unit (counted per lead, they would be missed), per key."""
        if flt.domain is not None or not (flt.needle or flt.result_type is not None):
            return {}
        extra: dict[str, int] = self._recall(
            ("extra", pivot, flt), lambda: self._compute_extra(pivot, flt)
        )
        return extra

    def _compute_extra(self, pivot: Pivot, flt: Filter) -> dict[str, int]:
        where = _unit_where(flt)
        lead = _unit_where(flt, "l")
        index = " INDEXED BY units_more" if self._has_index("units_more") else ""
        return dict(
            self.conn.execute(
                f"SELECT u.{pivot}, count(DISTINCT u.report) FROM units u{index}"
                " JOIN reports r ON r.id = u.report"
                f"{where.sql}{' AND' if where.conds else ' WHERE'} u.lead = 0"
                " AND NOT EXISTS (SELECT 1 FROM units l WHERE l.id = r.u0"
                f"{' AND ' + ' AND '.join(lead.conds) if lead.conds else ''}) GROUP BY 1",
                [*where.params, *lead.params],
            ).fetchall()
        )

    def _has_index(self, name: str) -> bool:
        return bool(self._recall(("index", name), lambda: has_index(self.conn, name)))

    def _grid(self, pivot: Pivot, flt: Filter, since: int | None = None) -> list[tuple[Any, ...]]:
        """(key, day, ok, failed, units, leads) of the units kept, by key and day.

        ``since``: only days from this ordinal on (the nav pane's trend window).
        """
        rows = self._recall(
            _grid_key(pivot, flt, since), lambda: self._compute_grid(pivot, flt, since)
        )
        assert isinstance(rows, list)
        return rows

    def _compute_grid(self, pivot: Pivot, flt: Filter, since: int | None) -> list[tuple[Any, ...]]:
        if since is not None and _sig_only(flt):
            return self._recent_grid(pivot, flt, since)
        if since is not None and (flt.since is None or flt.since.toordinal() < since):
            flt = flt.narrowed(since=_fromordinal(since))
        if _simple(flt):
            table, count = (
                ("daily_domain", "units") if pivot == "domain" else ("daily_reporter", "leads")
            )
            days = _days(flt, "day")
            return self.conn.execute(
                f"SELECT {pivot}, day, successful, failed, {count}, {count}"
                f" FROM {table}{days.sql} ORDER BY 1, 2",
                days.params,
            ).fetchall()
        where = _unit_where(flt)
        return self.conn.execute(
            f"SELECT u.{pivot}, u.day, sum(u.successful), sum(u.failed), count(*), sum(u.lead)"
            f" FROM units u{where.sql} GROUP BY 1, 2 ORDER BY 1, 2",
            where.params,
        ).fetchall()

    # A text filter, typed a key at a time, asks which signatures hold the text over and
    # over: the signatures (a few thousand rows however large the archive) and the units
    # of the trend window are kept in memory, and matched and summed here.

    def _kept(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        """What text filters are answered from, loaded once (until the index changes)."""
        value: T | None = self._prepared.get(key)
        if value is None:
            value = self._prepared[key] = load()
        return value

    def _signatures(self) -> list[Signature]:
        """Every signature with units."""
        return self._kept(("signatures",), lambda: signatures(self.conn))

    def _matching(self, flt: Filter) -> list[Signature]:
        """The signatures a text filter (and its domain and reporter) keeps."""
        needle, domain, reporter = flt.needle, flt.domain, flt.reporter

        def compute() -> list[Signature]:
            return [
                sig
                for sig in self._signatures()
                if needle in sig.hay
                and (domain is None or sig.domain == domain)
                and (reporter is None or sig.reporter == reporter)
            ]

        rows = self._recall(("matching", needle, domain, reporter), compute)
        assert isinstance(rows, list)
        return rows

    def _recent_units(self, since: int) -> dict[int, list[tuple[int, int, int, int]]]:
        """(day, successful, failed, lead) of every unit from day ``since`` on, by
        signature (only the latest window asked is kept)."""

        def load() -> dict[int, list[tuple[int, int, int, int]]]:
            for old in [k for k in self._prepared if k[0] in ("recent", "recent cells")]:
                del self._prepared[old]
            recent: dict[int, list[tuple[int, int, int, int]]] = {}
            for sig, day, ok, failed, lead in self.conn.execute(
                "SELECT sig, day, successful, failed, lead FROM units WHERE day >= ?", (since,)
            ):
                recent.setdefault(sig, []).append((day, ok, failed, lead))
            return recent

        return self._kept(("recent", since), load)

    def _recent_grid(self, pivot: Pivot, flt: Filter, since: int) -> list[tuple[Any, ...]]:
        """:meth:`_compute_grid` of a text filter's trend window, from memory.

        A short text keeps most signatures: then the window's totals less the
        signatures it drops are summed (whichever is fewer).
        """
        column = attrgetter(pivot)  # (a signature's domain or reporter)
        recent = self._recent_units(since)
        matching = self._matching(flt)
        signatures = self._signatures()
        if len(matching) * 2 <= len(signatures):
            cells: dict[tuple[str, int], list[int]] = {}
            _add_units(cells, matching, column, recent, 1)
        else:
            cells = {key: list(cell) for key, cell in self._recent_cells(pivot, since).items()}
            kept = {sig.id for sig in matching}
            dropped = [sig for sig in signatures if sig.id not in kept]
            _add_units(cells, dropped, column, recent, -1)
        return [(name, day, *cell) for (name, day), cell in sorted(cells.items()) if cell[2] > 0]

    def _recent_cells(self, pivot: Pivot, since: int) -> dict[tuple[str, int], list[int]]:
        """Every signature's units from ``since`` on, summed by key and day."""

        def load() -> dict[tuple[str, int], list[int]]:
            cells: dict[tuple[str, int], list[int]] = {}
            column = attrgetter(pivot)  # (a signature's domain or reporter)
            _add_units(cells, self._signatures(), column, self._recent_units(since), 1)
            return cells

        return self._kept(("recent cells", pivot, since), load)

    def prepare_text_filter(self, trend_days: int) -> None:
        """Load what a text filter's keys need (off the UI thread, while idle): the
        signatures, the units of the trend window, and the policies and failures
        summed by signature (or by what a row of the failure pane shows), which then
        answer the detail panes under a text filter (until the index changes)."""

        last = self.overview(Filter()).last_day
        with self._reading():
            self._fresh()
            self._signatures()
            if last is not None:
                since = last.toordinal() - trend_days + 1
                for pivot in ("domain", "reporter"):
                    self._recent_cells(pivot, since)
        # (Each in its own turn at the lock: the UI's queries go on in between.)
        for key, load in (
            (("policy groups",), lambda: policy_groups(self.conn)),
            (("failure groups",), lambda: failure_groups(self.conn)),
        ):
            with self._reading():
                self._fresh()
                self._kept(key, load)

    def nav_rows(self, pivot: Pivot, flt: Filter, *, trend_days: int | None = None) -> list[NavRow]:
        """The navigation pane's rows.

        ``trend_days``: keep only the last that many days in each row's ``daily`` (up to
        the last day any row has); the totals are unchanged. What the explorer shows,
        and much cheaper to answer while a text filter is typed on a large archive.
        """
        result: list[NavRow] = self._memoized(
            ("nav", pivot, flt, trend_days), lambda: self._nav_rows(pivot, flt, trend_days)
        )
        return list(result)

    def _nav_rows(self, pivot: Pivot, flt: Filter, trend_days: int | None) -> list[NavRow]:

        by_units = pivot == "domain" or flt.domain is not None
        extra = {} if by_units else self._extra(pivot, flt)
        totals: dict[str, list[Any]] = {}  # key -> [successful, failed, count, last day]
        if _simple(flt):
            table, count = (
                ("daily_domain", "units") if pivot == "domain" else ("daily_reporter", "leads")
            )
            days = _days(flt, "day")
            for name, ok, failed, n, last in self.conn.execute(
                f"SELECT {pivot}, sum(successful), sum(failed), sum({count}), max(day)"
                f" FROM {table}{days.sql} GROUP BY 1",
                days.params,
            ):
                totals[name] = [ok, failed, n, last]
            last_day = max((t[3] for t in totals.values()), default=None)
            since = None
            if trend_days is not None and last_day is not None:
                since = last_day - trend_days + 1
            points = self._points(self._grid(pivot, flt, since))
        elif _sig_only(flt):
            column = attrgetter(pivot)  # (a signature's domain or reporter)
            counted = attrgetter("units" if by_units else "leads")
            for sig in self._matching(flt):
                entry = totals.get(column(sig))
                if entry is None:
                    totals[column(sig)] = [sig.successful, sig.failed, counted(sig), sig.last]
                    continue
                entry[0] += sig.successful
                entry[1] += sig.failed
                entry[2] += counted(sig)
                if sig.last is not None and (entry[3] is None or sig.last > entry[3]):
                    entry[3] = sig.last
            last_day = max((t[3] for t in totals.values() if t[3] is not None), default=None)
            since = None
            if trend_days is not None and last_day is not None:
                since = last_day - trend_days + 1
            points = self._points(self._grid(pivot, flt, since))
        else:
            grid = self._grid(pivot, flt)
            for name, _day, ok, failed, units, leads in grid:
                entry = totals.setdefault(name, [0, 0, 0, 0])
                entry[0] += ok
                entry[1] += failed
                entry[2] += units if by_units else leads
            points = self._points(grid)
            if trend_days is not None and grid:
                cut = _fromordinal(max(r[1] for r in grid) - trend_days + 1)
                points = {k: [p for p in v if p.day >= cut] for k, v in points.items()}
        rows = [
            NavRow(
                name,
                ok,
                failed,
                reports + extra.get(name, 0),
                tuple(points.get(name, ())),
            )
            for name, (ok, failed, reports, *_rest) in totals.items()
        ]
        rows.sort(key=lambda r: (-r.failed, -r.failure_rate, r.key))
        return rows

    @staticmethod
    def _points(grid: list[tuple[Any, ...]]) -> dict[str, list[DailyPoint]]:

        points: dict[str, list[DailyPoint]] = {}
        for name, day, ok, failed, _units, _leads in grid:
            points.setdefault(name, []).append(DailyPoint(_fromordinal(day), ok, failed))
        return points

    def policy_rows(self, flt: Filter) -> list[PolicyRow]:
        result: list[PolicyRow] = self._memoized(("policies", flt), lambda: self._policy_rows(flt))
        return list(result)

    def _policy_rows(self, flt: Filter) -> list[PolicyRow]:
        groups = self._prepared.get(("policy groups",))
        if groups is not None and _sig_only(flt):
            return _sorted_policies(self._policy_rows_in_memory(flt, groups))
        # A policy row counts when its unit matches: same domain, reporter, day and
        # signature (haystack) as the unit, and the unit's id for the result-type.
        where = _scope(flt, "p", with_type=False, with_text="sig")
        if flt.result_type is not None:
            where.add(
                "p.unit IN (SELECT unit FROM failures WHERE result_type = ?)", flt.result_type
            )
        source = "policies p"
        cursor = self.conn.execute(
            "SELECT p.domain, p.policy_type, p.sts_mode, p.reporter, p.mx,"
            " sum(p.successful), sum(p.failed), sum(p.first), min(p.day), max(p.day)"
            f" FROM {source}{where.sql}"
            " GROUP BY p.domain, p.policy_type, p.sts_mode, p.reporter, p.mx",
            where.params,
        )
        return _sorted_policies([_policy_row(*row) for row in cursor])

    def _policy_rows_in_memory(
        self, flt: Filter, groups: dict[int, list[tuple[Any, ...]]]
    ) -> list[PolicyRow]:
        """:meth:`_policy_rows` under a text filter, from the policies summed by
        signature (prepare_text_filter): the signatures the text keeps, added up."""
        cells: dict[tuple[Any, ...], list[Any]] = {}
        for sig in self._matching(flt):
            domain, reporter = sig.domain, sig.reporter
            for policy_type, mode, mx, ok, failed, first, day0, day1 in groups.get(sig.id, ()):
                key = (domain, policy_type, mode, reporter, mx)
                cell = cells.get(key)
                if cell is None:
                    cells[key] = [ok, failed, first, day0, day1]
                else:
                    cell[0] += ok
                    cell[1] += failed
                    cell[2] += first
                    cell[3] = min(cell[3], day0)
                    cell[4] = max(cell[4], day1)
        return [_policy_row(*key, *cell) for key, cell in cells.items()]

    def _failure_where(self, flt: Filter) -> _Where:
        # A failure row counts when its unit matches the filter; for the text, when the
        # row itself mentions it (its haystack holds the unit's domain and reporter too).
        where = _scope(flt, "f", with_type=False, with_text="haystack")
        if flt.result_type is not None:
            where.add("f.result_type = ?", flt.result_type)
        return where

    def failure_rows(self, flt: Filter) -> list[FailureRow]:
        result: list[FailureRow] = self._memoized(
            ("failures", flt), lambda: self._failure_rows(flt)
        )
        return list(result)

    def _failure_rows(self, flt: Filter) -> list[FailureRow]:
        groups = self._prepared.get(("failure groups",))
        if groups is not None and flt.needle and flt.since is None and flt.until is None:
            return _sorted_failures(self._failure_rows_in_memory(flt, groups))
        where = self._failure_where(flt)
        cursor = self.conn.execute(
            "SELECT f.result_type, f.domain, f.mx_hostname, f.receiving_ip, f.sending_ip,"
            " f.helo, f.info, f.reason, sum(f.count), min(f.day), max(f.day),"
            " json_group_array(DISTINCT f.reporter)"
            f" FROM failures f{where.sql} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
            where.params,
        )
        loads = json.loads
        rows = [_failure_row(r[:8], r[8], r[9], r[10], loads(r[11])) for r in cursor]
        return _sorted_failures(rows)

    def _failure_rows_in_memory(
        self, flt: Filter, groups: dict[str, list[tuple[Any, ...]]]
    ) -> list[FailureRow]:
        """:meth:`_failure_rows` under a text filter (no dates), from the failures
        summed by what a row shows, reporter and text (prepare_text_filter)."""
        needle, reporter, result_type = flt.needle, flt.reporter, flt.result_type
        if flt.domain is not None:
            candidates: Iterable[tuple[Any, ...]] = groups.get(flt.domain, ())
        else:
            candidates = chain.from_iterable(groups.values())
        cells: dict[tuple[Any, ...], list[Any]] = {}
        for group in candidates:
            if needle not in group[9]:
                continue
            if reporter is not None and group[8] != reporter:
                continue
            if result_type is not None and group[0] != result_type:
                continue
            key = group[:8]
            cell = cells.get(key)
            if cell is None:
                cells[key] = [group[10], group[11], group[12], {group[8]}]
            else:
                cell[0] += group[10]
                cell[1] = min(cell[1], group[11])
                cell[2] = max(cell[2], group[12])
                cell[3].add(group[8])
        return [_failure_row(key, *cell) for key, cell in cells.items()]

    def daily(self, flt: Filter) -> list[DailyPoint]:
        """Sessions per report day over the selection (the sum of its navigation rows)."""

        if _sig_only(flt):
            points: list[DailyPoint] = self._memoized(
                ("daily", flt), lambda: self._daily_of_signatures(flt)
            )
            return points
        days: dict[date, list[int]] = {}
        for row in self.nav_rows("domain", flt):
            for point in row.daily:
                pair = days.setdefault(point.day, [0, 0])
                pair[0] += point.successful
                pair[1] += point.failed
        return [DailyPoint(d, s, f) for d, (s, f) in sorted(days.items())]

    def _daily_of_signatures(self, flt: Filter) -> list[DailyPoint]:
        """:meth:`daily` of a text filter over every day (the trends screen): the units of
        the signatures it keeps, summed by day from the ``units_sig`` index alone; or,
        when it keeps most, the daily totals less the units of those it drops."""

        matching = self._matching(flt)
        signatures = self._signatures()
        days: dict[int, list[int]] = {}  # day -> [successful, failed, units]
        ids = [sig.id for sig in matching]
        sign = 1
        if len(matching) * 2 > len(signatures) and flt.domain is None and flt.reporter is None:
            with self._reading():
                for day, ok, failed, units in self.conn.execute(
                    "SELECT day, sum(successful), sum(failed), sum(units) FROM daily_domain"
                    " GROUP BY day"
                ):
                    days[day] = [ok, failed, units]
            kept = set(ids)
            ids = [sig.id for sig in signatures if sig.id not in kept]
            sign = -1
        if ids:
            with self._reading():
                for day, ok, failed, units in self.conn.execute(
                    "SELECT day, sum(successful), sum(failed), count(*) FROM units"
                    " WHERE sig IN (SELECT value FROM json_each(?)) GROUP BY day",
                    (json.dumps(ids),),
                ):
                    cell = days.setdefault(day, [0, 0, 0])
                    cell[0] += sign * ok
                    cell[1] += sign * failed
                    cell[2] += sign * units
        return [
            DailyPoint(_fromordinal(day), ok, failed)
            for day, (ok, failed, units) in sorted(days.items())
            if units > 0
        ]

    def result_type_daily(self, flt: Filter) -> dict[str, dict[date, int]]:
        """Failed sessions per result-type per day (failure-details counts)."""
        where = self._failure_where(flt)
        with self._reading():
            cursor = self.conn.execute(
                f"SELECT f.result_type, f.day, sum(f.count) FROM failures f{where.sql}"
                " GROUP BY 1, 2",
                where.params,
            )
            series: dict[str, dict[date, int]] = {}
            for result_type, day, count in cursor:
                series.setdefault(result_type, {})[_fromordinal(day)] = count
        return dict(sorted(series.items()))

    def result_types(self, flt: Filter) -> dict[str, int]:
        result: dict[str, int] = self._memoized(("types", flt), lambda: self._result_types(flt))
        return dict(result)

    def _result_types(self, flt: Filter) -> dict[str, int]:
        # Same order as summing failure_rows in their order: by total, then by the
        # largest single row, then by name.
        where = self._failure_where(flt)
        rows = self.conn.execute(
            "SELECT rt, sum(c), max(c) FROM (SELECT f.result_type AS rt, sum(f.count) AS c"
            f" FROM failures f{where.sql} GROUP BY f.result_type, f.domain, f.mx_hostname,"
            " f.receiving_ip, f.sending_ip, f.helo, f.info, f.reason) GROUP BY rt",
            where.params,
        ).fetchall()
        rows.sort(key=lambda r: (-r[1], -r[2], r[0]))
        return {rt: total for rt, total, _ in rows}

    def report_rows(self, flt: Filter, limit: int = 500) -> list[ReportRow]:
        result: list[ReportRow] = self._memoized(
            ("reports", flt, limit), lambda: self._report_rows(flt, limit)
        )
        return list(result)

    def _report_rows(self, flt: Filter, limit: int) -> list[ReportRow]:
        conn = self.conn
        where = _unit_where(flt)
        inner = (" AND " + " AND ".join(where.conds)) if where.conds else ""
        if flt.domain is None and flt.result_type is None and not flt.needle:
            # Reporter and dates only: walk that reporter's reports newest first.
            scope = _Where()
            scope.add("r.file IS NOT NULL")
            if flt.reporter is not None:
                scope.add("r.reporter = ?", flt.reporter)
            days = _days(flt, "r.day")
            scope.conds.extend(days.conds)
            scope.params.extend(days.params)
            picked = conn.execute(
                f"SELECT r.id FROM reports r{scope.sql} AND EXISTS (SELECT 1 FROM units u"
                f" WHERE u.id BETWEEN r.u0 AND r.u1) ORDER BY r.day DESC, r.reporter DESC, r.id"
                " LIMIT ?",
                [*scope.params, limit],
            ).fetchall()
        elif flt.domain is not None or flt.reporter is not None:
            picked = _newest_reports(conn, where, limit)
        elif flt.result_type is not None:
            picked = conn.execute(
                f"SELECT u.report FROM units u{where.sql} GROUP BY u.report"
                " ORDER BY u.day DESC, u.reporter DESC, u.report LIMIT ?",
                [*where.params, limit],
            ).fetchall()
        else:
            picked = conn.execute(
                "SELECT r.id FROM reports r WHERE r.file IS NOT NULL AND EXISTS (SELECT 1 FROM"
                f" units u NOT INDEXED WHERE u.id BETWEEN r.u0 AND r.u1{inner})"
                " ORDER BY r.day DESC, r.reporter DESC, r.id LIMIT ?",
                [*where.params, limit],
            ).fetchall()
        return report_rows_of(self.conn, [r for (r,) in picked], flt)

    def failure_reports(
        self, flt: Filter, row: FailureRow, *, grouped: bool = False, limit: int = 500
    ) -> list[ReportRow]:
        """The reports behind one failure pane row (of ``failure_rows(flt)``), newest
        first: those with a failure-detail equal to it in every field, or with
        ``grouped`` (a row of merge_failures) in result-type, domain and MX."""
        where = self._failure_where(flt)
        where.add("f.result_type = ?", row.result_type)
        where.add("f.domain = ?", row.domain)
        where.add("f.mx_hostname IS ?", row.receiving_mx_hostname)
        if not grouped:
            where.add("f.receiving_ip IS ?", row.receiving_ip)
            where.add("f.sending_ip IS ?", row.sending_mta_ip)
            where.add("f.helo IS ?", row.receiving_mx_helo)
            where.add("f.info IS ?", row.additional_information)
            where.add("f.reason IS ?", row.failure_reason_code)

        def compute() -> list[ReportRow]:
            picked = self.conn.execute(
                f"SELECT u.report FROM failures f JOIN units u ON u.id = f.unit{where.sql}"
                " GROUP BY u.report ORDER BY max(u.day) DESC, u.reporter DESC, u.report"
                " LIMIT ?",
                [*where.params, limit],
            ).fetchall()
            return report_rows_of(self.conn, [r for (r,) in picked], flt)

        result: list[ReportRow] = self._memoized(
            ("failure reports", flt, row, grouped, limit), compute
        )
        return list(result)

    def locate(self, key: str) -> list[tuple[Path, Source]]:
        """Every copy of a report: (file on disk, source as shown), first copy first."""
        with self._reading():
            row = self.conn.execute(
                "SELECT id FROM reports WHERE khash = ? AND key = ?", (key_hash(key), key)
            ).fetchone()
            if row is None:
                return []
            rows = self.conn.execute(
                "SELECT f.key, r.seq, f.display, r.part FROM reports r"
                " JOIN files f ON f.id = r.file WHERE r.id = ?"
                " UNION ALL SELECT f.key, c.seq, f.display, c.part FROM copies c"
                " JOIN files f ON f.id = c.file WHERE c.report = ? ORDER BY 1, 2",
                (row[0], row[0]),
            ).fetchall()
            return [
                (Path(key_location(fkey, self.roots)), Source(display, part))
                for fkey, _, display, part in rows
            ]

    def report(self, key: str) -> Report | None:
        """The report itself, read again from the file of its first readable copy."""
        for location, source in self.locate(key):
            result = load_file(location, display_path=source.path, limits=self.limits)
            for report in result.reports:
                if report.source.part == source.part and out_of_report(report)[0] == key:
                    return report
        return None

    def errors(self) -> list[LoadError]:
        def compute() -> list[LoadError]:
            return [
                LoadError(Source(display, part), message)
                for display, part, message in self.conn.execute(
                    "SELECT f.display, e.part, e.message FROM errors e"
                    " JOIN files f ON f.id = e.file ORDER BY f.key, e.seq"
                )
            ]

        result: list[LoadError] = self._memoized(("errors",), compute)
        return list(result)

    def folded(self) -> list[FoldedReport]:
        """Reports with failure-details folded (kept in their units' ``folded``)."""

        def compute() -> list[FoldedReport]:
            return [
                FoldedReport(Source(display, part), reporter, report_id, rows)
                for display, part, reporter, report_id, rows in _folded(self.conn)
            ]

        result: list[FoldedReport] = self._memoized(("folded",), compute)
        return list(result)

    # -- health ------------------------------------------------------------------------

    def health_rows(
        self, since: date | None = None, until: date | None = None, *, remember: bool = True
    ) -> list[HealthRow]:
        """The health rules' input (:mod:`tlsrpt_tui.store.health_input`), kept in the
        index until it changes (``remember``)."""
        from tlsrpt_tui.store.health_input import health_rows  # (check and alerts only)

        with self._reading():
            return health_rows(self.conn, self.roots, self.limits, since, until, remember=remember)

    # -- summary -----------------------------------------------------------------------

    def summary(self, *, remember: bool = False) -> dict[str, Any]:
        """The ``summary --format json`` document.

        With ``remember`` (only while holding the archive's lock) the document is kept
        in the index until the index changes.
        """
        with self._reading():
            conn = self.conn
            conn.execute("BEGIN")  # one snapshot for every query below
            try:
                return self._summary(remember)
            finally:
                conn.execute("COMMIT")

    def _summary(self, remember: bool) -> dict[str, Any]:
        conn = self.conn
        row = conn.execute("SELECT value FROM cache WHERE name='summary'").fetchone()
        if row is not None:
            cached: dict[str, Any] = json.loads(row[0])
            return cached
        files, reports, duplicates, _bad = self._totals()
        errors = [
            _error_entry(display, part, message)
            for display, part, message in conn.execute(
                "SELECT f.display, e.part, e.message FROM errors e"
                " JOIN files f ON f.id = e.file ORDER BY f.key, e.seq"
            )
        ]
        document = build_summary(
            files,
            reports,
            duplicates,
            errors,
            conn.execute(
                "SELECT domain, reporter, sum(successful), sum(failed) FROM sigs"
                " WHERE units > 0 GROUP BY domain, reporter"
            ),
            conn.execute("SELECT domain, policy_type, successful, failed FROM policy_types"),
            conn.execute("SELECT domain, result_type, count FROM type_totals"),
            _folded(conn),
        )
        if remember:
            conn.execute(
                "INSERT OR REPLACE INTO cache VALUES ('summary', ?)",
                (json.dumps(document, ensure_ascii=False),),
            )
        return document

    # -- keeping up to date --------------------------------------------------------------

    def refresh(
        self,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        query_indexes: bool = True,
        full: bool = False,
        status: Callable[[str], None] | None = None,
    ) -> RefreshStats:
        """Re-scan the archive and index what changed (under the archive's lock).

        Only folders that changed since the last refresh are listed, unless ``full``:
        then every file's size and time are compared (which also finds files rewritten
        in place, leaving their folder as it was). ``status(text)`` tells of a long step
        that is not reading files (the explorer's first open of an index ``summary``
        built adds the indexes its queries need).

        Runs on a connection of its own: queries from other threads go on meanwhile
        (they see each batch as it is committed). Raises :class:`IndexCancelled`.
        """
        with _exclusive(_lock_path(self.path), cancel):
            conn = _connect(self.path)
            try:
                stats = _refresh(
                    conn,
                    self.roots,
                    self.limits,
                    self.jobs,
                    progress=progress,
                    cancel=cancel,
                    query_indexes=query_indexes,
                    full=full,
                    status=status,
                )
            finally:
                conn.close()
        with self.lock:
            self._changed()
            self.last_refresh = stats
        return stats

    def apply_changes(self, paths: Iterable[Path]) -> list[Report]:
        """Index files the watcher saw change (added, modified, deleted, or folders).

        Returns the reports that are new to the archive, for notifications. Like
        :meth:`refresh`, on a connection of its own.
        """
        with _exclusive(_lock_path(self.path), None):
            conn = _connect(self.path)
            try:
                new = _apply_changes(conn, self.roots, self.limits, self.jobs, list(paths))
            finally:
                conn.close()
        with self.lock:
            self._changed()
        return new
