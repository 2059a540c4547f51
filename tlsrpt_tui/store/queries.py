"""What the views ask of an archive, and the rows they get back.

Views never hold reports: they ask for aggregates through :class:`ArchiveQueries`,
answered by the in-memory store (small archives, ``--no-cache``) or the SQLite index.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from tlsrpt_tui.core.model import LoadError, Report, Source

if TYPE_CHECKING:  # (only a return type here; the health rules load when they run)
    from tlsrpt_tui.core.health.rows import HealthRow

Pivot = Literal["domain", "reporter"]


@dataclass(frozen=True, slots=True)
class Filter:
    """What every pane is narrowed by: free text, a date range, and the drill-down."""

    text: str = ""
    since: date | None = None
    until: date | None = None
    domain: str | None = None
    reporter: str | None = None
    result_type: str | None = None

    def narrowed(self, **changes: object) -> Filter:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def needle(self) -> str:
        return self.text.strip().lower()


@dataclass(frozen=True, slots=True)
class Overview:
    files: int
    reports: int
    duplicates: int
    bad_files: int
    reporters: int
    domains: int
    first_day: date | None
    last_day: date | None
    successful: int
    failed: int

    @property
    def sessions(self) -> int:
        return self.successful + self.failed

    @property
    def failure_rate(self) -> float:
        return self.failed / self.sessions if self.sessions else 0.0


@dataclass(frozen=True, slots=True)
class DailyPoint:
    day: date
    successful: int
    failed: int


@dataclass(frozen=True, slots=True)
class NavRow:
    """A policy domain or a reporter in the navigation pane."""

    key: str
    successful: int
    failed: int
    reports: int
    daily: tuple[DailyPoint, ...] = ()

    @property
    def sessions(self) -> int:
        return self.successful + self.failed

    @property
    def failure_rate(self) -> float:
        return self.failed / self.sessions if self.sessions else 0.0


@dataclass(frozen=True, slots=True)
class PolicyRow:
    domain: str
    policy_type: str
    sts_mode: str | None
    reporter: str
    successful: int
    failed: int
    mx_hosts: tuple[str, ...]
    reports: int
    first_day: date
    last_day: date

    @property
    def failure_rate(self) -> float:
        total = self.successful + self.failed
        return self.failed / total if total else 0.0


@dataclass(frozen=True, slots=True)
class FailureRow:
    result_type: str
    domain: str
    receiving_mx_hostname: str | None
    receiving_ip: str | None
    sending_mta_ip: str | None
    receiving_mx_helo: str | None
    additional_information: str | None
    failure_reason_code: str | None
    count: int
    first_day: date
    last_day: date
    reporters: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A single report in the selection, for the raw view."""

    key: str
    reporter: str
    report_id: str
    day: date
    domains: tuple[str, ...]
    successful: int
    failed: int
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FoldedReport:
    """A report some of whose failure-details rows were folded into one (the loader
    keeps at most :data:`~tlsrpt_tui.core.reading.loader.MAX_DETAILS` per policy). Not an error:
    its totals are whole."""

    source: Source
    reporter: str
    report_id: str
    rows: int  # rows folded


def sort_folded(reports: list[FoldedReport]) -> list[FoldedReport]:
    return sorted(
        reports, key=lambda f: (f.source.path, f.source.part or "", f.reporter, f.report_id)
    )


class ArchiveQueries(Protocol):
    def overview(self, flt: Filter) -> Overview: ...

    def nav_rows(
        self, pivot: Pivot, flt: Filter, *, trend_days: int | None = None
    ) -> list[NavRow]: ...

    def policy_rows(self, flt: Filter) -> list[PolicyRow]: ...

    def failure_rows(self, flt: Filter) -> list[FailureRow]: ...

    def report_rows(self, flt: Filter, limit: int = 500) -> list[ReportRow]: ...

    def failure_reports(
        self, flt: Filter, row: FailureRow, *, grouped: bool = False, limit: int = 500
    ) -> list[ReportRow]:
        """The reports behind a row of ``failure_rows(flt)`` (``grouped``: a row that
        merges every detail of one result-type, domain and MX)."""
        ...

    def report(self, key: str) -> Report | None: ...

    def locate(self, key: str) -> list[tuple[Path, Source]]: ...

    def errors(self) -> list[LoadError]: ...

    def folded(self) -> list[FoldedReport]: ...

    def result_types(self, flt: Filter) -> dict[str, int]: ...

    def daily(self, flt: Filter) -> list[DailyPoint]: ...

    def result_type_daily(self, flt: Filter) -> dict[str, dict[date, int]]: ...

    def health_rows(self, since: date | None = None, until: date | None = None) -> list[HealthRow]:
        """The health rules' one input: a row per distinct report (of the days from
        ``since`` to ``until``; unbounded without) and policy domain, in the store's
        order of reports (:class:`~tlsrpt_tui.core.health.rows.HealthRow`; the rules:
        :func:`~tlsrpt_tui.core.health.evaluate.evaluate_rows`)."""
        ...
