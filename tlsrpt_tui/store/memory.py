"""Answer the views' queries from an in-memory :class:`Archive`.

Each distinct report contributes one *unit* per policy domain it covers, carrying
the facts of :mod:`tlsrpt_tui.core.facts` and a lower-case haystack for the text
filter. Queries are single passes over the units that survive the filter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from tlsrpt_tui.core.archive import Archive
from tlsrpt_tui.core.facts import (
    FailureFact,
    PolicyFact,
    facts_of,
    failure_haystack_of,
    report_key,
    unit_haystack,
)
from tlsrpt_tui.core.health.rows import HealthRow, health_rows
from tlsrpt_tui.core.model import LoadError, Report, Source
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
    sort_folded,
)


@dataclass(frozen=True, slots=True)
class Unit:
    key: str
    reporter: str
    domain: str
    day: date
    successful: int
    failed: int
    policies: tuple[PolicyFact, ...]
    failures: tuple[FailureFact, ...]
    haystack: str


def failure_haystack(f: FailureFact) -> str:
    return failure_haystack_of(
        f.domain,
        f.reporter,
        f.result_type,
        f.receiving_mx_hostname,
        f.receiving_ip,
        f.sending_mta_ip,
        f.receiving_mx_helo,
        f.additional_information,
        f.failure_reason_code,
    )


def units_of(report: Report) -> list[Unit]:
    facts = facts_of(report)
    key = report_key(report)
    units = []
    for fact in facts.domains:
        policies = tuple(p for p in facts.policies if p.domain == fact.domain)
        failures = tuple(f for f in facts.failures if f.domain == fact.domain)
        haystack = unit_haystack(
            fact.domain,
            fact.reporter,
            [(p.policy_type, p.sts_mode, p.mx_hosts) for p in policies],
            [failure_haystack(f) for f in failures],
        )
        units.append(
            Unit(
                key=key,
                reporter=fact.reporter,
                domain=fact.domain,
                day=fact.day,
                successful=fact.successful,
                failed=fact.failed,
                policies=policies,
                failures=failures,
                haystack=haystack,
            )
        )
    return units


def folded_reports(reports: Iterable[Report]) -> list[FoldedReport]:
    """The reports with failure-details folded (see core.reading.loader.fold_details)."""
    return sort_folded(
        [
            FoldedReport(r.source, r.organization_name, r.report_id, r.folded_details)
            for r in reports
            if r.folded_details
        ]
    )


def failure_key(row: FailureRow | FailureFact, grouped: bool) -> tuple[str | None, ...]:
    """What makes a failure pane row (grouped: what merge_failures groups by)."""
    head = (row.result_type, row.domain, row.receiving_mx_hostname)
    if grouped:
        return head
    return (
        *head,
        row.receiving_ip,
        row.sending_mta_ip,
        row.receiving_mx_helo,
        row.additional_information,
        row.failure_reason_code,
    )


class _Acc:
    """Running totals of one group of rows."""

    __slots__ = ("failed", "first", "keys", "last", "reporters", "successful")

    def __init__(self, day: date) -> None:
        self.successful = 0
        self.failed = 0
        self.first = day
        self.last = day
        self.keys: set[str] = set()
        self.reporters: set[str] = set()

    def add(self, successful: int, failed: int, day: date, key: str, reporter: str) -> None:
        self.successful += successful
        self.failed += failed
        self.first = min(self.first, day)
        self.last = max(self.last, day)
        self.keys.add(key)
        self.reporters.add(reporter)


class MemoryStore:
    """:class:`~tlsrpt_tui.store.queries.ArchiveQueries` over an :class:`Archive`."""

    def __init__(self, archive: Archive | None = None) -> None:
        self.archive = archive or Archive()
        self._units: dict[str, list[Unit]] = {}
        self._reports: dict[str, Report] = {}
        for report in self.archive.reports.values():
            self._index(report)

    # -- updates -----------------------------------------------------------------

    def _index(self, report: Report) -> None:
        key = report_key(report)
        self._reports[key] = report
        self._units[key] = units_of(report)

    def resync(self) -> None:
        """Bring the units in line with the archive after adds and removes."""
        current = {report_key(r): r for r in self.archive.reports.values()}
        for key in list(self._reports):
            if key not in current:
                del self._reports[key]
                del self._units[key]
        for key, report in current.items():
            if key not in self._reports or self._reports[key] is not report:
                self._index(report)

    # -- queries -----------------------------------------------------------------

    def _matching(self, flt: Filter) -> Iterator[Unit]:
        needle = flt.needle
        for units in self._units.values():
            for unit in units:
                if flt.domain is not None and unit.domain != flt.domain:
                    continue
                if flt.reporter is not None and unit.reporter != flt.reporter:
                    continue
                if flt.since is not None and unit.day < flt.since:
                    continue
                if flt.until is not None and unit.day > flt.until:
                    continue
                if flt.result_type is not None and not any(
                    f.result_type == flt.result_type for f in unit.failures
                ):
                    continue
                if needle and needle not in unit.haystack:
                    continue
                yield unit

    def overview(self, flt: Filter) -> Overview:
        reporters: set[str] = set()
        domains: set[str] = set()
        keys: set[str] = set()
        ok = failed = 0
        first: date | None = None
        last: date | None = None
        for unit in self._matching(flt):
            reporters.add(unit.reporter)
            domains.add(unit.domain)
            keys.add(unit.key)
            ok += unit.successful
            failed += unit.failed
            first = unit.day if first is None or unit.day < first else first
            last = unit.day if last is None or unit.day > last else last
        return Overview(
            files=self.archive.files,
            reports=len(keys),
            duplicates=self.archive.duplicates,
            bad_files=self.archive.bad_files,
            reporters=len(reporters),
            domains=len(domains),
            first_day=first,
            last_day=last,
            successful=ok,
            failed=failed,
        )

    def nav_rows(self, pivot: Pivot, flt: Filter, *, trend_days: int | None = None) -> list[NavRow]:
        """Rows of the navigation pane; ``trend_days`` keeps only the last days of each trend
        (up to the last day of the rows)."""
        rows = self._nav_rows(pivot, flt)
        if trend_days is None:
            return rows
        last = max((p.day for row in rows for p in row.daily), default=None)
        if last is None:
            return rows
        first = last - timedelta(days=trend_days - 1)
        return [
            NavRow(
                r.key,
                r.successful,
                r.failed,
                r.reports,
                tuple(p for p in r.daily if p.day >= first),
            )
            for r in rows
        ]

    def _nav_rows(self, pivot: Pivot, flt: Filter) -> list[NavRow]:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        keys: dict[str, set[str]] = defaultdict(set)
        daily: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for unit in self._matching(flt):
            name = unit.domain if pivot == "domain" else unit.reporter
            pair = totals[name]
            pair[0] += unit.successful
            pair[1] += unit.failed
            keys[name].add(unit.key)
            day = daily[name][unit.day]
            day[0] += unit.successful
            day[1] += unit.failed
        rows = [
            NavRow(
                key=name,
                successful=ok,
                failed=failed,
                reports=len(keys[name]),
                daily=tuple(DailyPoint(d, s, f) for d, (s, f) in sorted(daily[name].items())),
            )
            for name, (ok, failed) in totals.items()
        ]
        rows.sort(key=lambda r: (-r.failed, -r.failure_rate, r.key))
        return rows

    def policy_rows(self, flt: Filter) -> list[PolicyRow]:
        groups: dict[tuple[str, str, str | None, str, tuple[str, ...]], _Acc] = {}
        for unit in self._matching(flt):
            for p in unit.policies:
                gkey = (p.domain, p.policy_type, p.sts_mode, p.reporter, p.mx_hosts)
                acc = groups.get(gkey)
                if acc is None:
                    acc = groups[gkey] = _Acc(p.day)
                acc.add(p.successful, p.failed, p.day, unit.key, p.reporter)
        rows = [
            PolicyRow(
                domain=k[0],
                policy_type=k[1],
                sts_mode=k[2],
                reporter=k[3],
                mx_hosts=k[4],
                successful=acc.successful,
                failed=acc.failed,
                reports=len(acc.keys),
                first_day=acc.first,
                last_day=acc.last,
            )
            for k, acc in groups.items()
        ]
        rows.sort(key=lambda r: (-r.failed, r.domain, r.policy_type, r.reporter))
        return rows

    def _matching_failures(self, flt: Filter) -> Iterator[tuple[Unit, FailureFact]]:
        """Failure rows of the matching units that the filter keeps.

        With text, a row stays when the text names its unit's domain or reporter, or
        appears in the row itself (its result-type, MX, IPs, information).
        """
        needle = flt.needle
        for unit in self._matching(flt):
            unit_matches = not needle or needle in unit.domain or needle in unit.reporter.lower()
            for f in unit.failures:
                if flt.result_type is not None and f.result_type != flt.result_type:
                    continue
                if not unit_matches and needle not in failure_haystack(f):
                    continue
                yield unit, f

    def failure_rows(self, flt: Filter) -> list[FailureRow]:
        groups: dict[
            tuple[str, str, str | None, str | None, str | None, str | None, str | None, str | None],
            _Acc,
        ] = {}
        for unit, f in self._matching_failures(flt):
            gkey = (
                f.result_type,
                f.domain,
                f.receiving_mx_hostname,
                f.receiving_ip,
                f.sending_mta_ip,
                f.receiving_mx_helo,
                f.additional_information,
                f.failure_reason_code,
            )
            acc = groups.get(gkey)
            if acc is None:
                acc = groups[gkey] = _Acc(f.day)
            acc.add(0, f.count, f.day, unit.key, f.reporter)
        rows = [
            FailureRow(
                result_type=k[0],
                domain=k[1],
                receiving_mx_hostname=k[2],
                receiving_ip=k[3],
                sending_mta_ip=k[4],
                receiving_mx_helo=k[5],
                additional_information=k[6],
                failure_reason_code=k[7],
                count=acc.failed,
                first_day=acc.first,
                last_day=acc.last,
                reporters=tuple(sorted(acc.reporters)),
            )
            for k, acc in groups.items()
        ]
        rows.sort(key=lambda r: (-r.count, r.result_type, r.domain))
        return rows

    def result_types(self, flt: Filter) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for row in self.failure_rows(flt):
            counts[row.result_type] += row.count
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def daily(self, flt: Filter) -> list[DailyPoint]:
        """Sessions per report day over the selection (domain counting rule)."""
        days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        for unit in self._matching(flt):
            pair = days[unit.day]
            pair[0] += unit.successful
            pair[1] += unit.failed
        return [DailyPoint(d, s, f) for d, (s, f) in sorted(days.items())]

    def result_type_daily(self, flt: Filter) -> dict[str, dict[date, int]]:
        """Failed sessions per result-type per day (failure-details counts)."""
        series: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
        for _unit, f in self._matching_failures(flt):
            series[f.result_type][f.day] += f.count
        return {k: dict(v) for k, v in sorted(series.items())}

    def report_rows(self, flt: Filter, limit: int = 500) -> list[ReportRow]:
        seen: dict[str, list[Unit]] = defaultdict(list)
        for unit in self._matching(flt):
            seen[unit.key].append(unit)
        return self._report_rows_of(seen, limit)

    def failure_reports(
        self, flt: Filter, row: FailureRow, *, grouped: bool = False, limit: int = 500
    ) -> list[ReportRow]:
        """The reports behind one failure pane row (of ``failure_rows(flt)``): those
        with a failure-detail equal to it in every field, or with ``grouped`` (a row of
        merge_failures) in result-type, domain and MX."""
        wanted = failure_key(row, grouped)
        keys = {
            unit.key
            for unit, fact in self._matching_failures(flt)
            if failure_key(fact, grouped) == wanted
        }
        seen: dict[str, list[Unit]] = defaultdict(list)
        for unit in self._matching(flt):
            if unit.key in keys:
                seen[unit.key].append(unit)
        return self._report_rows_of(seen, limit)

    def _report_rows_of(self, seen: dict[str, list[Unit]], limit: int) -> list[ReportRow]:
        rows = []
        for key, units in seen.items():
            report = self._reports[key]
            rows.append(
                ReportRow(
                    key=key,
                    reporter=report.organization_name,
                    report_id=report.report_id,
                    day=units[0].day,
                    domains=tuple(sorted(u.domain for u in units)),
                    successful=sum(u.successful for u in units),
                    failed=sum(u.failed for u in units),
                    sources=tuple(s.describe() for s in self.archive.copies[report.identity]),
                )
            )
        rows.sort(key=lambda r: (r.day, r.reporter), reverse=True)
        return rows[:limit]

    def report(self, key: str) -> Report | None:
        return self._reports.get(key)

    def locate(self, key: str) -> list[tuple[Path, Source]]:
        """Every copy of a report: (file on disk, source as shown), first copy first."""
        report = self._reports.get(key)
        if report is None:
            return []
        return [
            (self.archive.locations.get(source.path, Path(source.path)), source)
            for source in self.archive.copies.get(report.identity, [report.source])
        ]

    def errors(self) -> list[LoadError]:
        return list(self.archive.errors)

    def folded(self) -> list[FoldedReport]:
        return folded_reports(self._reports.values())

    def health_rows(self, since: date | None = None, until: date | None = None) -> list[HealthRow]:
        reports: Iterable[Report] = self._reports.values()
        if since is not None or until is not None:
            first, last = since or date.min, until or date.max
            reports = [r for r in reports if first <= r.start.date() <= last]  # (report_day)
        return health_rows(reports)

    def all_reports(self) -> Iterable[Report]:
        return self._reports.values()
