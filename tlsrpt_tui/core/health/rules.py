"""The health rules, one function each, over one input shape.

Every rule takes the placed rows (:class:`Placed`: a :class:`~.rows.HealthRow` with its
place in the windows, see :mod:`tlsrpt_tui.core.health`) and the :class:`Context` (the
two clocks and the thresholds), keeps its own accumulator, and returns its alerts.
:func:`~tlsrpt_tui.core.health.evaluate.evaluate_rows` is the fold that places the rows
and calls them. A new rule is a new function here and one line there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from tlsrpt_tui.core.health.alerts import Alert, Severity, Thresholds, isoformat
from tlsrpt_tui.core.health.rows import HealthRow, moment, mx_pattern_matches

DAY = timedelta(days=1)
DAY_S = DAY.total_seconds()


class Placed(NamedTuple):
    """A row placed in time: ``delta`` seconds from *now* to its midpoint (window
    ``k = delta // 1 day``), ``silence_delta`` from the silence rules' *now*."""

    row: HealthRow
    middle: float
    delta: float
    silence_delta: float
    k: int


@dataclass(frozen=True)
class Context:
    """The clocks and thresholds of one evaluation (module docstring of the package)."""

    thresholds: Thresholds
    now: datetime
    now_ts: float
    #: Where "h ago" is counted from: the wall clock (from_clock) or now.
    wall: datetime
    silence_now: datetime
    silence_ts: float
    from_clock: bool
    #: The archive's newest report end (POSIX seconds).
    newest_ts: float

    @property
    def lag(self) -> int:
        return max(0, self.thresholds.delivery_lag_hours)

    @property
    def silent_s(self) -> float:
        return max(0, self.thresholds.silent_hours) * 3600.0

    @property
    def lookback(self) -> int:
        return max(0, self.thresholds.new_result_type_lookback_days)

    @property
    def spike_days(self) -> int:
        return max(1, self.thresholds.spike_baseline_days)

    @property
    def horizon(self) -> int:
        return max(self.lookback, self.spike_days)

    @property
    def silent_window(self) -> int:
        return max(1, self.thresholds.silent_reporter_window_days)

    def silence_words(self) -> tuple[str, dict[str, float | int]]:
        """How the silence rules name their window, and the numbers that go with it."""
        t = self.thresholds
        if self.from_clock:
            return (
                f"no report in the {t.silent_hours} h up to {isoformat(self.silence_now)} "
                f"(now less {self.lag} h allowed for delivery)",
                {"delivery-lag-hours": self.lag},
            )
        return f"no report in the last {t.silent_hours} h", {}


def content_span(thresholds: Thresholds) -> float:
    """How far before *now* (seconds) the content rules read a row's counts: the spike
    and rate days (window k up to the horizon) and the new-result-type lookback. Older
    rows only place a report in time for the silence rules."""
    t = thresholds
    lookback = max(0, t.new_result_type_lookback_days)
    horizon = max(lookback, max(1, t.spike_baseline_days))
    new_span = max(24, t.new_result_type_hours) * 3600.0
    return max((horizon + 1) * DAY_S, new_span + lookback * DAY_S) + DAY_S


# --------------------------------------------------------------------------- helpers


@dataclass(slots=True)
class _Bucket:
    successful: int = 0
    failed: int = 0
    first_failure: float | None = None  # start of the earliest report with failures

    def add(self, successful: int, failed: int, start: float) -> None:
        self.successful += successful
        self.failed += failed
        if failed and (self.first_failure is None or start < self.first_failure):
            self.first_failure = start


@dataclass(slots=True)
class _Sighting:
    failed: int = 0
    first: float | None = None
    reporters: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    result_types: set[str] = field(default_factory=set)

    def add(self, count: int, start: float, reporter: str, host: str | None) -> None:
        self.failed += count
        if self.first is None or start < self.first:
            self.first = start
        self.reporters.add(reporter)
        if host:
            self.hosts.add(host)


def _one(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _names(values: Iterable[str], limit: int = 4) -> str:
    items = sorted(values)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _pct(value: float) -> str:
    return f"{value:.2%}"


def _since(ts: float | None, ctx: Context) -> datetime:
    return moment(ts) if ts is not None else ctx.now


def _content(placed: Sequence[Placed]) -> Iterable[Placed]:
    """The rows the content rules see: not after *now*."""
    return (p for p in placed if p.delta >= 0)


class DomainDays(NamedTuple):
    """Shared by the rate and spike rules: per domain its daily buckets (window k ->
    sessions, for k up to the horizon) and its failures of the last 24 h."""

    buckets: dict[str, dict[int, _Bucket]]
    today: dict[str, _Sighting]


def domain_days(placed: Sequence[Placed], ctx: Context) -> DomainDays:
    buckets: dict[str, dict[int, _Bucket]] = {}
    today: dict[str, _Sighting] = {}
    for p in _content(placed):
        if p.k > ctx.horizon:
            continue
        row = p.row
        by_k = buckets.setdefault(row.domain, {})
        bucket = by_k.get(p.k)
        if bucket is None:
            bucket = by_k[p.k] = _Bucket()
        bucket.add(row.successful, row.failed, row.start)
        if p.k == 0:
            agg = today.setdefault(row.domain, _Sighting())
            for rt, host, count in row.failures:
                agg.add(count, row.start, row.reporter, host)
                agg.result_types.add(rt)
    return DomainDays(buckets, today)


def _modes_today(placed: Sequence[Placed]) -> dict[str, set[str]]:
    modes: dict[str, set[str]] = {}
    for p in _content(placed):
        if p.k == 0 and p.row.modes:
            modes.setdefault(p.row.domain, set()).update(p.row.modes)
    return modes


# --------------------------------------------------------------------------- 1. new-result-type


def new_result_type(placed: Sequence[Placed], ctx: Context) -> list[Alert]:
    lookback = ctx.lookback
    lookback_s = lookback * DAY_S
    new_span = max(24, ctx.thresholds.new_result_type_hours) * 3600.0
    sightings: dict[tuple[str, str], _Sighting] = {}
    seen_before: set[tuple[str, str]] = set()
    had_before: dict[str, set[int]] = {}  # domain -> its lookback days with reports
    first_seen: dict[tuple[str, str], float] = {}  # first sighting in the "new" span
    for p in _content(placed):
        row = p.row
        if p.delta < new_span:
            for rt, _count in row.result_types:
                pair = (row.domain, rt)
                if pair not in first_seen or row.start < first_seen[pair]:
                    first_seen[pair] = row.start
        elif p.delta - new_span < lookback_s:
            had_before.setdefault(row.domain, set()).add(int((p.delta - new_span) // DAY_S))
            for rt, _count in row.result_types:
                seen_before.add((row.domain, rt))
        if p.k == 0:
            for rt, host, count in row.failures:
                sighting = sightings.get((row.domain, rt))
                if sighting is None:
                    sighting = sightings[(row.domain, rt)] = _Sighting()
                sighting.add(count, row.start, row.reporter, host)
    alerts: list[Alert] = []
    for (domain, rt), s in sightings.items():
        if (domain, rt) in seen_before or domain not in had_before:
            continue
        first = first_seen.get((domain, rt), s.first)
        since = _since(first, ctx)
        # Say over how much history: a domain new to the archive has only a few days.
        known = len(had_before[domain])
        history = (
            f"{lookback} days before"
            if known >= lookback
            else f"{known} day{'s' if known != 1 else ''} with reports of the {lookback} before"
        )
        earlier = f"first seen {isoformat(since)}; " if since < ctx.now - DAY else ""
        hosts = f" on {_names(s.hosts)}" if s.hosts else ""
        alerts.append(
            Alert(
                rule="new-result-type",
                severity="critical",
                policy_domain=domain,
                reporter=_one(s.reporters),
                result_type=rt,
                detail=(
                    f"{rt}: {s.failed:,} failed sessions{hosts} in the last 24 h, reported by "
                    f"{_names(s.reporters)}; {earlier}none in the {history}"
                ),
                since=since,
                numbers={
                    "failed": s.failed,
                    "reporters": len(s.reporters),
                    "lookback-days": lookback,
                    "days-with-reports": known,
                },
                mx_host=_one(s.hosts),
            )
        )
    return alerts


# --------------------------------------------------------------------------- 2. failure-rate


def failure_rate(placed: Sequence[Placed], ctx: Context, days: DomainDays) -> list[Alert]:
    t = ctx.thresholds
    modes = _modes_today(placed)
    alerts: list[Alert] = []
    for domain, by_k in days.buckets.items():
        today = by_k.get(0)
        if today is None:
            continue
        domain_modes = modes.get(domain, set())
        mode: str | None = None
        limit = t.failure_rate_enforce
        severity: Severity = "critical"
        if domain_modes & {"enforce", "tlsa"}:
            mode = "enforce" if "enforce" in domain_modes else "tlsa"
        elif "testing" in domain_modes:
            mode, limit, severity = "testing", t.failure_rate_testing, "warning"
        total = today.successful + today.failed
        if mode is None or not total or today.failed / total <= limit:
            continue
        rate = today.failed / total
        since_k = 0
        while since_k < ctx.horizon:
            prev = by_k.get(since_k + 1)
            if prev is None or not prev.failed:
                break
            if prev.failed / (prev.successful + prev.failed) <= limit:
                break
            since_k += 1
        failures = days.today.get(domain)
        alerts.append(
            Alert(
                rule="failure-rate",
                severity=severity,
                policy_domain=domain,
                reporter=None,
                result_type=_one(failures.result_types) if failures else None,
                detail=(
                    f"{_pct(rate)} of sessions failed in the last 24 h "
                    f"({today.failed:,} of {total:,}); threshold {_pct(limit)} "
                    f"for mode {mode}" + (f"; {since_k + 1} days in a row" if since_k else "")
                ),
                since=_since(by_k[since_k].first_failure, ctx),
                numbers={
                    "successful": today.successful,
                    "failed": today.failed,
                    "failure-rate": rate,
                    "threshold": limit,
                    "days": since_k + 1,
                },
                mx_host=_one(failures.hosts) if failures else None,
            )
        )
    return alerts


# --------------------------------------------------------------------------- 3. failure-spike


def failure_spike(placed: Sequence[Placed], ctx: Context, days: DomainDays) -> list[Alert]:
    t = ctx.thresholds
    spike_days = ctx.spike_days
    alerts: list[Alert] = []
    for domain, by_k in days.buckets.items():
        today = by_k.get(0)
        if today is None:
            continue
        baseline = [by_k[i] for i in range(1, spike_days + 1) if i in by_k]
        if not baseline or today.failed < t.spike_min_sessions:
            continue
        # Over the days with a report of the domain: a day with none (before its
        # first report, a fetch gap) is unknown, not a day without failures.
        mean = sum(b.failed for b in baseline) / len(baseline)
        if not today.failed > t.spike_factor * mean:
            continue
        critical = today.failed > t.spike_critical_factor * mean
        days_before = (
            f"{spike_days} days before"
            if len(baseline) == spike_days
            else f"{len(baseline)} day{'s' if len(baseline) != 1 else ''} with "
            f"reports of the {spike_days} before"
        )
        if mean:
            versus = (
                f"{today.failed / mean:.1f}x the daily mean of {mean:,.1f} over the {days_before}"
            )
        else:
            versus = f"none in the {days_before}"
        failures = days.today.get(domain)
        alerts.append(
            Alert(
                rule="failure-spike",
                severity="critical" if critical else "warning",
                policy_domain=domain,
                reporter=None,
                result_type=_one(failures.result_types) if failures else None,
                detail=(
                    f"{today.failed:,} failed sessions in the last 24 h, {versus} "
                    f"(threshold {t.spike_factor:g}x, at least {t.spike_min_sessions})"
                ),
                since=_since(today.first_failure, ctx),
                numbers={
                    "failed": today.failed,
                    "daily-mean": mean,
                    "factor": t.spike_factor,
                    "baseline-days": len(baseline),
                },
                mx_host=_one(failures.hosts) if failures else None,
            )
        )
    return alerts


# --------------------------------------------------------------------------- silence


class Silence(NamedTuple):
    """Shared by the two silence rules: who reported what, and when."""

    recent_domains: set[str]
    recent_pairs: set[tuple[str, str]]
    #: (reporter, domain) -> the latest end (POSIX seconds).
    last_end: dict[tuple[str, str], float]
    #: domain -> reports in the no-reports lookback.
    reports_before: dict[str, int]
    #: (reporter, domain) -> its days with reports in the silent-reporter window.
    reporting_days: dict[tuple[str, str], set[int]]


def silence(placed: Sequence[Placed], ctx: Context) -> Silence:
    silent = ctx.silent_s
    # The no-reports lookback ends where the silence window starts, or at the archive's
    # newest report when that is earlier: when every report stopped (a broken fetch),
    # the domains that reported before keep raising it, however long ago that was.
    span = max(0, ctx.thresholds.no_reports_lookback_days) * DAY_S
    no_reports_from = min(ctx.silence_ts - silent, ctx.newest_ts) - span
    out = Silence(set(), set(), {}, {}, {})
    for p in placed:
        row = p.row
        pair = (row.reporter, row.domain)
        if p.silence_delta < silent:
            out.recent_domains.add(row.domain)
            out.recent_pairs.add(pair)
        else:
            before = int((p.silence_delta - silent) // DAY_S)
            if before < ctx.silent_window:
                out.reporting_days.setdefault(pair, set()).add(before)
            if p.middle > no_reports_from:
                out.reports_before[row.domain] = out.reports_before.get(row.domain, 0) + 1
        latest = out.last_end.get(pair)
        if latest is None or row.end > latest:
            out.last_end[pair] = row.end
    return out


# --------------------------------------------------------------------------- 6. no-reports


def no_reports(ctx: Context, seen: Silence) -> list[Alert]:
    window, lag_numbers = ctx.silence_words()
    domain_last_end: dict[str, float] = {}
    for (_reporter, domain), end in sorted(seen.last_end.items(), key=lambda kv: kv[1]):
        domain_last_end[domain] = end
    alerts: list[Alert] = []
    for domain, count in seen.reports_before.items():
        if domain in seen.recent_domains or not count:
            continue
        last = moment(domain_last_end[domain])
        hours = (ctx.wall - last) / timedelta(hours=1)
        alerts.append(
            Alert(
                rule="no-reports",
                severity="critical",
                policy_domain=domain,
                reporter=None,
                result_type=None,
                detail=f"last report ended {isoformat(last)} ({hours:,.0f} h ago); {window}",
                since=last,
                numbers={"hours-silent": round(hours, 1), "reports-before": count, **lag_numbers},
            )
        )
    return alerts


# --------------------------------------------------------------------------- 4. silent-reporter


def silent_reporter(ctx: Context, seen: Silence, quiet_domains: set[str]) -> list[Alert]:
    """Not for a domain that raises ``no-reports`` (``quiet_domains``: that one says more)."""
    window, lag_numbers = ctx.silence_words()
    alerts: list[Alert] = []
    for (reporter, domain), days in seen.reporting_days.items():
        if (reporter, domain) in seen.recent_pairs or domain in quiet_domains:
            continue
        if len(days) < ctx.thresholds.silent_reporter_min_days:
            continue
        last = moment(seen.last_end[(reporter, domain)])
        hours = (ctx.wall - last) / timedelta(hours=1)
        alerts.append(
            Alert(
                rule="silent-reporter",
                severity="warning",
                policy_domain=domain,
                reporter=reporter,
                result_type=None,
                detail=(
                    f"{window} after reports on {len(days)} of the {ctx.silent_window} days "
                    f"before; last report ended {isoformat(last)} ({hours:,.0f} h ago)"
                ),
                since=last,
                numbers={
                    "days-reporting": len(days),
                    "window-days": ctx.silent_window,
                    "hours-silent": round(hours, 1),
                    **lag_numbers,
                },
            )
        )
    return alerts


# --------------------------------------------------------------------------- 5. mx-mismatch


def mx_mismatch(placed: Sequence[Placed], ctx: Context) -> list[Alert]:
    """Failures to a host the same report's policy patterns do not match."""
    bad: dict[tuple[str, str], _Sighting] = {}
    # Every sighting's patterns, named in the order of the reports (start, reporter), not
    # of the store's rows: the memory store and the index order reports differently.
    patterns_of: dict[tuple[str, str], list[tuple[float, str, tuple[str, ...]]]] = {}
    for p in _content(placed):
        row = p.row
        if p.k != 0 or not row.mx_patterns:
            continue
        for rt, host, count in row.failures:
            if not host or any(mx_pattern_matches(pat, host) for pat in row.mx_patterns):
                continue
            sighting = bad.get((row.domain, host))
            if sighting is None:
                sighting = bad[(row.domain, host)] = _Sighting()
            patterns_of.setdefault((row.domain, host), []).append(
                (row.start, row.reporter, row.mx_patterns)
            )
            sighting.add(count, row.start, row.reporter, host)
            sighting.result_types.add(rt)
    return [
        Alert(
            rule="mx-mismatch",
            severity="warning",
            policy_domain=domain,
            reporter=_one(s.reporters),
            result_type=_one(s.result_types),
            detail=(
                f"{s.failed:,} failed sessions in the last 24 h to {host}, which the "
                f"policy's mx patterns ({', '.join(_patterns(patterns_of[(domain, host)]))}) do "
                f"not match; reported by {_names(s.reporters)}"
            ),
            since=_since(s.first, ctx),
            numbers={"failed": s.failed, "reporters": len(s.reporters)},
            mx_host=host,
        )
        for (domain, host), s in bad.items()
    ]


def _patterns(seen: list[tuple[float, str, tuple[str, ...]]]) -> list[str]:
    return list(dict.fromkeys(p for _start, _reporter, mx in sorted(seen) for p in mx))


def _describe_policy(key: tuple[str, ...]) -> str:
    shown = [line for line in key if not line.startswith("version:")]
    return "; ".join(shown) or "(empty)"


def policy_disagreement(placed: Sequence[Placed], ctx: Context) -> list[Alert]:
    """Two or more reporters sending different STS policy-strings for one domain and
    day in the last 24 h (raised as ``mx-mismatch``)."""
    by_day: dict[tuple[str, date], dict[tuple[str, ...], set[str]]] = {}
    for p in _content(placed):
        if p.k != 0:
            continue
        row = p.row
        for key in row.policy_keys:
            by_day.setdefault((row.domain, row.day), {}).setdefault(key, set()).add(row.reporter)
    alerts: list[Alert] = []
    for (domain, day), versions in sorted(by_day.items()):  # (in any store's row order)
        if len(versions) < 2:
            continue
        reporters = set().union(*versions.values())
        if len(reporters) < 2:
            continue
        shown = " vs ".join(
            f"{_names(who)}: {_describe_policy(key)}"
            for key, who in sorted(versions.items(), key=lambda kv: sorted(kv[1]))
        )
        alerts.append(
            Alert(
                rule="mx-mismatch",
                severity="warning",
                policy_domain=domain,
                reporter=None,
                result_type=None,
                detail=f"reporters disagree on the MTA-STS policy for {day.isoformat()}: {shown}",
                since=datetime(day.year, day.month, day.day, tzinfo=UTC),
                numbers={"policy-versions": len(versions), "reporters": len(reporters)},
            )
        )
    return alerts
