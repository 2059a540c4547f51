"""The one input shape of the health rules: :class:`HealthRow`, one report's facts for
one policy domain, as the rules need them.

The in-memory store makes them from reports (:func:`health_rows`), the index from its
tables (:mod:`tlsrpt_tui.store.health_input`); both answer
:meth:`~tlsrpt_tui.store.queries.ArchiveQueries.health_rows`, so ``check`` and the
explorer compute alerts the same way whichever store answers. Counting follows
:mod:`tlsrpt_tui.core.facts` (per policy-type the blocks added up, then the larger
per-type sum).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from tlsrpt_tui.core.facts import larger_of_types
from tlsrpt_tui.core.model import Policy, PolicyType, Report, normalise_domain, sts_mode_of


class HealthRow(NamedTuple):
    """One report's facts for one of its policy domains.

    ``start``/``end`` are the report's date-range as POSIX seconds (the rules place it
    by the midpoint); ``modes`` the policy blocks' modes (``"tlsa"`` for a TLSA block,
    the STS mode for an STS one); ``mx_patterns`` the STS blocks' ``mx`` patterns in
    report order (:func:`policy_mx_patterns`); ``policy_keys`` the STS policy-strings as
    compared (:func:`policy_key`, empty ones left out); ``result_types`` the failed
    sessions per result-type and ``failures`` per (result-type, receiving MX host), by
    the counting rule, rows without sessions left out. A report that lists no policy
    has one row without a domain (:func:`time_mark`).
    """

    reporter: str
    domain: str
    start: float
    end: float
    day: date
    successful: int
    failed: int
    modes: tuple[str, ...]
    mx_patterns: tuple[str, ...]
    policy_keys: tuple[tuple[str, ...], ...]
    result_types: tuple[tuple[str, int], ...]
    failures: tuple[tuple[str, str | None, int], ...]

    def to_json(self) -> list[Any]:
        """A JSON-able form (the index keeps the rows it made): :meth:`from_json` reads it."""
        return [*self[:4], self.day.toordinal(), *self[5:]]

    @classmethod
    def from_json(cls, data: list[Any]) -> HealthRow:
        (reporter, domain, start, end, day, ok, failed, modes, mx, keys, types, failures) = data
        return cls(
            reporter,
            domain,
            float(start),
            float(end),
            date.fromordinal(day),
            ok,
            failed,
            tuple(modes),
            tuple(mx),
            tuple(tuple(k) for k in keys),
            tuple((rt, n) for rt, n in types),
            tuple((rt, host, n) for rt, host, n in failures),
        )


def moment(ts: float) -> datetime:
    """A row's POSIX seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def mx_pattern_matches(pattern: str, host: str) -> bool:
    """RFC 8461 section 4.1: does the policy ``mx:`` pattern match an MX host name?

    ``*.example.com`` matches exactly one extra leftmost label (``mx1.example.com``, not
    ``example.com`` nor ``a.b.example.com``). Case-insensitive, trailing dot ignored.
    """
    p = normalise_domain(pattern)
    h = normalise_domain(host)
    if not p or not h:
        return False
    if p.startswith("*."):
        head, dot, rest = h.partition(".")
        return bool(head) and bool(dot) and rest == p[2:]
    return p == h


def policy_mx_patterns(policy_string: Iterable[str], mx_hosts: Iterable[str]) -> tuple[str, ...]:
    """The ``mx:`` lines of an STS policy-string, or the ``mx-host`` field without any."""
    patterns: list[str] = []
    for line in policy_string:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "mx" and value.strip():
            patterns.append(normalise_domain(value))
    if not patterns:
        patterns = [normalise_domain(h) for h in mx_hosts if h.strip()]
    return tuple(p for p in patterns if p)


def policy_key(policy_string: Iterable[str]) -> tuple[str, ...]:
    """A policy-string compared the way a reader of it would: line order, case, spaces."""
    lines = set()
    for line in policy_string:
        key, sep, value = line.partition(":")
        if sep:
            lines.add(f"{key.strip().lower()}: {normalise_domain(value)}")
        elif line.strip():
            lines.add(line.strip().lower())
    return tuple(sorted(lines))


@lru_cache(maxsize=4096)
def _sts_facts(
    policy_string: tuple[str, ...], mx_hosts: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(mode, mx patterns, policy key) of one STS block: the same few policies recur
    every day, and parsing them again was a third of the rows' time on 100,000 reports."""
    return (
        sts_mode_of(policy_string),
        policy_mx_patterns(policy_string, mx_hosts),
        policy_key(policy_string),
    )


def rows_of(report: Report) -> Iterator[HealthRow]:
    """The health rows of one report, one per policy domain (in report order).

    The counting rule (:func:`~tlsrpt_tui.core.facts.domain_counts`,
    :func:`~tlsrpt_tui.core.facts.result_type_counts`, the failure rows of
    :func:`~tlsrpt_tui.core.facts.facts_of`) in one pass over the blocks: the
    rules read every report of an archive, and three passes cost 5x the rules
    themselves on 100,000 reports (a test holds the rows to those three functions).
    """
    start, end = report.start.timestamp(), report.end.timestamp()
    day = report.start.date()  # (aggregate.report_day)
    reporter = report.organization_name
    sums: dict[str, dict[str, _Sums]] = {}
    modes: dict[str, dict[str, None]] = {}
    patterns: dict[str, list[str]] = {}
    keys: dict[str, dict[tuple[str, ...], None]] = {}
    for policy in report.policies:
        domain, policy_type = policy.policy_domain, policy.policy_type
        types = sums.get(domain)
        if types is None:
            types = sums[domain] = {}
        one = types.get(policy_type)
        if one is None:
            one = types[policy_type] = _Sums()
        one.add(policy)
        if policy_type == PolicyType.TLSA:
            modes.setdefault(domain, {})["tlsa"] = None
        elif policy_type == PolicyType.STS:
            mode, mx, key = _sts_facts(policy.policy_string, policy.mx_host)
            if mode:
                modes.setdefault(domain, {})[mode] = None
            patterns.setdefault(domain, []).extend(mx)
            if key:
                keys.setdefault(domain, {})[key] = None
    if not sums:
        yield time_mark(report)
    for domain, types in sums.items():
        if len(types) == 1:
            (only,) = types.values()
            successful, failed = only.successful, only.failed
            details, result_types = only.details, only.result_types
        else:
            successful = max(t.successful for t in types.values())
            failed = max(t.failed for t in types.values())
            details = larger_of_types(t.details for t in types.values())
            result_types = larger_of_types(t.result_types for t in types.values())
        failures: dict[tuple[str, str | None], int] = {}
        for detail, count in details.items():
            if count > 0:
                pair = (detail[0], detail[1])
                failures[pair] = failures.get(pair, 0) + count
        yield HealthRow(
            reporter,
            domain,
            start,
            end,
            day,
            successful,
            failed,
            tuple(modes.get(domain, ())),
            tuple(patterns.get(domain, ())),
            tuple(keys.get(domain, ())),
            tuple((rt, n) for rt, n in result_types.items() if n > 0),
            tuple((rt, host, n) for (rt, host), n in failures.items()),
        )


class _Sums:
    """One policy domain's blocks of one policy-type in one report, added up."""

    __slots__ = ("details", "failed", "result_types", "successful")

    def __init__(self) -> None:
        self.successful = 0
        self.failed = 0
        #: Each failure-details row (result-type and receiving MX host first) -> sessions.
        self.details: dict[tuple[Any, ...], int] = {}
        self.result_types: dict[str, int] = {}

    def add(self, policy: Policy) -> None:
        self.successful += policy.total_successful_session_count
        self.failed += policy.total_failure_session_count
        details, result_types = self.details, self.result_types
        for d in policy.failure_details:
            n = d.failed_session_count
            key = (
                d.result_type,
                d.receiving_mx_hostname,
                d.sending_mta_ip,
                d.receiving_mx_helo,
                d.receiving_ip,
                d.additional_information,
                d.failure_reason_code,
            )
            details[key] = details.get(key, 0) + n
            result_types[d.result_type] = result_types.get(d.result_type, 0) + n


def placing_rows(report: Report) -> Iterator[HealthRow]:
    """Rows that only place the report in time (no counts nor policies): what the
    silence rules read of a report older than every content window."""
    start, end = report.start.timestamp(), report.end.timestamp()
    day = report.start.date()
    reporter = report.organization_name
    for domain in dict.fromkeys(p.policy_domain for p in report.policies):
        yield HealthRow(reporter, domain, start, end, day, 0, 0, (), (), (), (), ())
    if not report.policies:
        yield time_mark(report)


def time_mark(report: Report) -> HealthRow:
    """The row of a report that lists no policy (the loader keeps one, with a note):
    no domain (``""``, which no policy domain is), so no rule reads it but its end
    still counts toward the newest report, *now* by default."""
    start, end = report.start.timestamp(), report.end.timestamp()
    return HealthRow(
        report.organization_name, "", start, end, report.start.date(), 0, 0, (), (), (), (), ()
    )


def health_rows(reports: Iterable[Report], *, full_after: float | None = None) -> list[HealthRow]:
    """The health rows of distinct reports (in their order).

    With ``full_after`` (POSIX seconds), a report whose midpoint is not after it gets
    only :func:`placing_rows` (:func:`~tlsrpt_tui.core.health.evaluate.evaluate` passes
    the start of the content rules' widest window: 2.5x faster on 100 days of reports).
    """
    if full_after is None:
        return [row for report in reports for row in rows_of(report)]
    rows: list[HealthRow] = []
    for report in reports:
        start, end = report.start.timestamp(), report.end.timestamp()
        middle = (start + end) / 2 if end > start else start
        rows.extend(rows_of(report) if middle > full_after else placing_rows(report))
    return rows
