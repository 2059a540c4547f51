"""Health rules: tell an operator when a quiet TLS-RPT archive stops being quiet.

Pure functions over :class:`~tlsrpt_tui.core.model.Report` objects (no Textual), used
by ``tlsrpt-tui check`` and by the explorer's alerts pane. Counting follows
:mod:`tlsrpt_tui.core.facts`: a report counts once per policy domain, its blocks
of each policy-type added up and the larger per-type sum taken; result-type counts
come from ``failure-details`` by the same rule.

Time
----
*Now* is the latest ``date-range`` end in the archive unless given. Every report is
placed in time by the **midpoint of its date-range**. "The last 24 h" is the half-open
window ``(now - 24 h, now]`` of midpoints, "the day before" is ``(now - 48 h, now - 24 h]``
and so on: window *k* holds the reports with ``k * 24 h <= now - midpoint < (k+1) * 24 h``.
The midpoint makes daily reports land in the same window whichever way a reporter
writes the end of the day (Google ``23:59:59Z``, Mail.ru the next ``00:00:00Z``), and
whether *now* is one or the other: with a normal daily archive "the last 24 h" is the
last day of reports of every reporter. Reports whose midpoint lies after *now* (when
``now`` is given explicitly) are ignored. The "last 48 h" of the silence rules is
``(silence_now - silent_hours, silence_now]`` in the same way.

Two clocks. The rules over report contents (new result-type, failure rate, spike, MX
mismatch) measure from *now*, the newest report, so a check run from cron every hour
gives the same answer all day. The silence rules (silent reporter, no reports) must
notice that reports stopped arriving, which the newest report cannot tell: given the
wall ``clock`` they measure from ``silence_now = clock - delivery_lag_hours`` (a report
of a UTC day arrives up to about a day after the day ends; the default 30 h allows
that and a fetch from cron). Reports whose midpoint is after ``silence_now`` (early
deliveries) count as recent. An explicit ``now`` sets both to itself, with no lag;
without either ``silence_now`` is the newest report's end, as for the content rules.

Rules and severities
--------------------
``new-result-type`` (critical)
    A (policy domain, result-type) with failed sessions in the last 24 h that had none
    in the ``new_result_type_lookback_days`` days before. Only for domains that had at
    least one report in those days: without a baseline nothing can be called new.
    ``new_result_type_hours`` (default 24, the issue's rule) keeps a result-type "new"
    for longer while it goes on: with 48, one first seen yesterday and still seen in
    the last 24 h is new too (the lookback days then end 48 h before now).
``failure-rate`` (critical for STS ``enforce`` and TLSA, warning for ``testing``)
    failed / (successful + failed) over the last 24 h above ``failure_rate_enforce``
    (or ``failure_rate_testing``). The mode is the strictest one reported for the
    domain in the window; domains with mode ``none`` or no policy are not rated.
``failure-spike`` (warning; critical above ``spike_critical_factor``)
    Failed sessions in the last 24 h more than ``spike_factor`` times the daily mean of
    the ``spike_baseline_days`` days before and at least ``spike_min_sessions``. The
    mean is over the days with a report of the domain (a report without failures is a
    zero; a day without any report, before the domain's first one or in a fetch gap,
    is unknown and left out). Needs at least one report in the baseline days. A zero
    baseline counts as above any factor.
``silent-reporter`` (warning)
    A reporter that sent reports for a domain on at least ``silent_reporter_min_days``
    of the ``silent_reporter_window_days`` days before the last ``silent_hours`` sent
    none since. Not raised for a domain that raises ``no-reports`` (that one says more).
``mx-mismatch`` (warning)
    A ``receiving-mx-hostname`` in the last 24 h's failure-details that no ``mx:``
    pattern of the domain's STS policy (``policy-string`` ``mx:`` lines, or else
    ``mx-host``) matches, with the RFC 8461 rules (``*.example.com`` matches exactly one
    extra leftmost label; case-insensitive; trailing dot ignored). Also: two or more
    reporters sending different STS ``policy-string`` for the same domain and day in
    the last 24 h (a policy being rotated, or stale caches).
``no-reports`` (critical)
    No report at all for a domain in the last ``silent_hours`` when it had reports in
    the ``no_reports_lookback_days`` days before (before the archive's newest report
    when that is earlier: an archive where every report stopped keeps raising it).

``since`` is when the condition started: the start of the first report showing it in
the window (walking back day by day while a failure rate stays above threshold), or for
the silence rules the end of the last report received.

Alerts are sorted by severity (critical first), then by rule in the order above, then
by domain, reporter, result-type and MX host.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from tlsrpt_tui.core.facts import domain_counts as aggregate_domain_counts
from tlsrpt_tui.core.facts import facts_of, report_day, result_type_counts
from tlsrpt_tui.core.model import PolicyType, Report, normalise_domain
from tlsrpt_tui.settings import Thresholds

#: Rule names, in the order alerts of the same severity are listed.
RULES: tuple[str, ...] = (
    "new-result-type",
    "failure-rate",
    "failure-spike",
    "silent-reporter",
    "mx-mismatch",
    "no-reports",
)
SEVERITIES: tuple[str, ...] = ("critical", "warning")

Severity = Literal["critical", "warning"]
DAY = timedelta(days=1)
_DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Alert:
    """One active alert. Fields that do not apply to a rule are ``None``.

    ``numbers`` holds the values that triggered it (kebab-case keys, e.g. ``failed``,
    ``failure-rate``, ``threshold``); ``since`` is timezone-aware UTC.
    """

    rule: str
    severity: Severity
    policy_domain: str | None
    reporter: str | None
    result_type: str | None
    detail: str
    since: datetime
    numbers: dict[str, float | int] = field(default_factory=dict, hash=False)
    mx_host: str | None = None

    def sort_key(self) -> tuple[int, int, str, str, str, str]:
        return (
            SEVERITIES.index(self.severity),
            RULES.index(self.rule) if self.rule in RULES else len(RULES),
            self.policy_domain or "",
            self.reporter or "",
            self.result_type or "",
            self.mx_host or "",
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``check --format json`` (the documented keys, then extras)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "policy-domain": self.policy_domain,
            "reporter": self.reporter,
            "result-type": self.result_type,
            "detail": self.detail,
            "since": isoformat(self.since),
            "mx-host": self.mx_host,
            "numbers": dict(self.numbers),
        }


@dataclass(frozen=True)
class HealthResult:
    """The alerts active at ``now`` (``None`` only for an empty archive).

    ``silence_now`` is where the silence rules measured from (the wall clock less the
    delivery lag, or ``now``); ``None`` when it is ``now`` or the archive is empty.
    """

    now: datetime | None
    alerts: tuple[Alert, ...]
    silence_now: datetime | None = None

    @property
    def critical(self) -> int:
        return sum(1 for a in self.alerts if a.severity == "critical")

    @property
    def warning(self) -> int:
        return sum(1 for a in self.alerts if a.severity == "warning")

    def at_or_above(self, severity: Severity) -> tuple[Alert, ...]:
        rank = SEVERITIES.index(severity)
        return tuple(a for a in self.alerts if SEVERITIES.index(a.severity) <= rank)


def isoformat(moment: datetime) -> str:
    """``2026-11-27T23:59:59Z`` (UTC, no microseconds unless present)."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


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


def midpoint(report: Report) -> datetime:
    """Where a report sits in time for the windows (see the module docstring)."""
    if report.end <= report.start:
        return report.start
    return report.start + (report.end - report.start) / 2


# --------------------------------------------------------------------------- MX patterns


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


def _policy_key(policy_string: tuple[str, ...]) -> tuple[str, ...]:
    """A policy-string compared the way a reader of it would: line order, case, spaces."""
    lines = set()
    for line in policy_string:
        key, sep, value = line.partition(":")
        if sep:
            lines.add(f"{key.strip().lower()}: {normalise_domain(value)}")
        elif line.strip():
            lines.add(line.strip().lower())
    return tuple(sorted(lines))


def _describe_policy(key: tuple[str, ...]) -> str:
    shown = [line for line in key if not line.startswith("version:")]
    return "; ".join(shown) or "(empty)"


# --------------------------------------------------------------------------- evaluation


@dataclass(slots=True)
class _Bucket:
    successful: int = 0
    failed: int = 0
    first_failure: datetime | None = None  # start of the earliest report with failures

    def add(self, successful: int, failed: int, start: datetime) -> None:
        self.successful += successful
        self.failed += failed
        if failed and (self.first_failure is None or start < self.first_failure):
            self.first_failure = start


@dataclass(slots=True)
class _Sighting:
    failed: int = 0
    first: datetime | None = None
    reporters: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    result_types: set[str] = field(default_factory=set)

    def add(self, count: int, start: datetime, reporter: str, host: str | None) -> None:
        self.failed += count
        if self.first is None or start < self.first:
            self.first = start
        self.reporters.add(reporter)
        if host:
            self.hosts.add(host)


def domain_counts(report: Report) -> dict[str, tuple[int, int]]:
    """(successful, failed) per policy domain of one report: the counting rule of
    :func:`~tlsrpt_tui.core.facts.domain_counts` (per policy-type the blocks added
    up, then the larger per-type sum), without building the other facts."""
    return aggregate_domain_counts(report)


def _one(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _names(values: Iterable[str], limit: int = 4) -> str:
    items = sorted(values)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _pct(value: float) -> str:
    return f"{value:.2%}"


def evaluate(
    reports: Iterable[Report],
    *,
    now: datetime | None = None,
    clock: datetime | None = None,
    thresholds: Thresholds = _DEFAULT_THRESHOLDS,
) -> HealthResult:
    """Run every rule over ``reports`` (distinct reports) and return the active alerts.

    ``now`` defaults to the latest date-range end and sets every rule's time; without
    it, ``clock`` (the wall clock: ``check`` and the explorer pass it) moves the silence
    rules to ``clock`` less ``thresholds.delivery_lag_hours`` (module docstring,
    "Two clocks"). A naive ``now`` or ``clock`` is read as UTC.
    """
    # Times as POSIX seconds: datetime arithmetic would dominate on 100k reports.
    rows = [(report, report.start.timestamp(), report.end.timestamp()) for report in reports]
    t = thresholds
    from_clock = now is None and clock is not None
    if now is None:
        if not rows:
            return HealthResult(now=None, alerts=())
        now = max(rows, key=lambda row: row[2])[0].end
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now_ts = now.timestamp()
    # The silence rules' "now", and the moment "h ago" is counted from.
    lag = max(0, t.delivery_lag_hours)
    if from_clock and clock is not None:
        wall = clock if clock.tzinfo is not None else clock.replace(tzinfo=UTC)
        wall = wall.astimezone(UTC).replace(microsecond=0)  # (shown to the second)
        silence_now = wall - timedelta(hours=lag)
    else:
        wall = silence_now = now
    silence_ts = silence_now.timestamp()
    day_s = DAY.total_seconds()
    silent = max(0, t.silent_hours) * 3600.0
    lookback = max(0, t.new_result_type_lookback_days)
    lookback_s = lookback * day_s
    new_span = max(24, t.new_result_type_hours) * 3600.0
    spike_days = max(1, t.spike_baseline_days)
    horizon = max(lookback, spike_days)
    silent_window = max(1, t.silent_reporter_window_days)
    no_reports_span = max(0, t.no_reports_lookback_days) * day_s
    # The no-reports lookback ends where the silence window starts, or at the archive's
    # newest report when that is earlier: when every report stopped (a broken fetch),
    # the domains that reported before keep raising it, however long ago that was.
    newest_ts = max((row[2] for row in rows), default=now_ts)
    no_reports_from = min(silence_ts - silent, newest_ts) - no_reports_span

    # Per-domain daily buckets (window index -> counts), filled for 0..horizon.
    buckets: dict[str, dict[int, _Bucket]] = defaultdict(dict)
    modes: dict[str, set[str]] = defaultdict(set)  # domain -> modes seen in window 0
    new_types: dict[tuple[str, str], _Sighting] = {}
    seen_before: set[tuple[str, str]] = set()
    # Domains with a report in the lookback days -> which of those days (0 = the last).
    had_before: dict[str, set[int]] = defaultdict(set)
    first_seen: dict[tuple[str, str], datetime] = {}  # first sighting in the "new" span
    now_types: dict[str, _Sighting] = defaultdict(_Sighting)  # domain -> failures, window 0
    # Silence rules.
    recent_domains: set[str] = set()
    recent_pairs: set[tuple[str, str]] = set()
    last_end: dict[tuple[str, str], tuple[float, datetime]] = {}
    reports_before: dict[str, int] = defaultdict(int)
    reporting_days: dict[tuple[str, str], set[int]] = defaultdict(set)
    # MX rules.
    mx_bad: dict[tuple[str, str], _Sighting] = {}
    mx_patterns_of: dict[tuple[str, str], tuple[str, ...]] = {}
    policies_by_day: dict[tuple[str, date], dict[tuple[str, ...], set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )

    for report, start_ts, end_ts in rows:
        middle = (start_ts + end_ts) / 2 if end_ts > start_ts else start_ts
        delta = now_ts - middle
        silence_delta = silence_ts - middle  # (after silence_now, from the clock: recent)
        if delta < 0 and (silence_delta < 0 or not from_clock):
            continue
        k = int(delta // day_s)
        reporter = report.organization_name
        start = report.start
        domains = report.policy_domains

        # ---- silence: who reported what, when
        is_recent = silence_delta < silent
        before = -1 if is_recent else int((silence_delta - silent) // day_s)
        for domain in domains:
            pair = (reporter, domain)
            if is_recent:
                recent_domains.add(domain)
                recent_pairs.add(pair)
            else:
                if before < silent_window:
                    reporting_days[pair].add(before)
                if middle > no_reports_from:
                    reports_before[domain] += 1
            latest = last_end.get(pair)
            if latest is None or end_ts > latest[0]:
                last_end[pair] = (end_ts, report.end)

        if delta < 0:
            continue  # (after now: counted above only as a sign of life)

        # ---- new result-types: the "new" span, and the lookback days before it
        if delta < new_span:
            for pair_rt, count in result_type_counts(report).items():
                if count > 0 and (pair_rt not in first_seen or start < first_seen[pair_rt]):
                    first_seen[pair_rt] = start
        elif delta - new_span < lookback_s:
            lookback_day = int((delta - new_span) // day_s)
            for domain in domains:
                had_before[domain].add(lookback_day)
            for pair_rt, count in result_type_counts(report).items():
                if count > 0:
                    seen_before.add(pair_rt)

        if k > horizon:
            continue

        for domain, (successful, failed) in domain_counts(report).items():
            bucket = buckets[domain].get(k)
            if bucket is None:
                bucket = buckets[domain][k] = _Bucket()
            bucket.add(successful, failed, start)

        if k == 0:
            facts = facts_of(report)
            patterns: dict[str, list[str]] = defaultdict(list)
            for policy in facts.policies:
                if policy.policy_type == PolicyType.TLSA:
                    modes[policy.domain].add("tlsa")
                elif policy.policy_type == PolicyType.STS:
                    if policy.sts_mode:
                        modes[policy.domain].add(policy.sts_mode)
                    patterns[policy.domain].extend(
                        policy_mx_patterns(policy.policy_string, policy.mx_hosts)
                    )
                    key = _policy_key(policy.policy_string)
                    if key:
                        policies_by_day[(policy.domain, report_day(report))][key].add(reporter)
            for failure in facts.failures:
                if failure.count <= 0:
                    continue
                domain, rt, host = (
                    failure.domain,
                    failure.result_type,
                    failure.receiving_mx_hostname,
                )
                sighting = new_types.get((domain, rt))
                if sighting is None:
                    sighting = new_types[(domain, rt)] = _Sighting()
                sighting.add(failure.count, start, reporter, host)
                agg = now_types[domain]
                agg.add(failure.count, start, reporter, host)
                agg.result_types.add(rt)
                domain_patterns = patterns.get(domain)
                if (
                    host
                    and domain_patterns
                    and not any(mx_pattern_matches(p, host) for p in domain_patterns)
                ):
                    bad = mx_bad.get((domain, host))
                    if bad is None:
                        bad = mx_bad[(domain, host)] = _Sighting()
                        mx_patterns_of[(domain, host)] = tuple(dict.fromkeys(domain_patterns))
                    bad.add(failure.count, start, reporter, host)
                    bad.result_types.add(rt)

    domain_last_end: dict[str, datetime] = {}
    for (_reporter, domain), (_end_ts, end) in sorted(last_end.items(), key=lambda kv: kv[1][0]):
        domain_last_end[domain] = end

    alerts: list[Alert] = []
    if from_clock:
        window = (
            f"no report in the {t.silent_hours} h up to {isoformat(silence_now)} "
            f"(now less {lag} h allowed for delivery)"
        )
        lag_numbers: dict[str, float | int] = {"delivery-lag-hours": lag}
    else:
        window, lag_numbers = f"no report in the last {t.silent_hours} h", {}

    # ---- 1. new-result-type
    for (domain, rt), s in new_types.items():
        if (domain, rt) in seen_before or domain not in had_before:
            continue
        since = first_seen.get((domain, rt), s.first or now)
        # Say over how much history: a domain new to the archive has only a few days.
        known = len(had_before[domain])
        history = (
            f"{lookback} days before"
            if known >= lookback
            else f"{known} day{'s' if known != 1 else ''} with reports of the {lookback} before"
        )
        earlier = f"first seen {isoformat(since)}; " if since < now - DAY else ""
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

    # ---- 2. failure-rate and 3. failure-spike
    for domain, by_k in buckets.items():
        today = by_k.get(0)
        if today is None:
            continue
        failures = now_types.get(domain)
        top_type = _one(failures.result_types) if failures else None
        top_host = _one(failures.hosts) if failures else None
        domain_modes = modes.get(domain, set())
        mode: str | None = None
        limit = t.failure_rate_enforce
        severity: Severity = "critical"
        if domain_modes & {"enforce", "tlsa"}:
            mode = "enforce" if "enforce" in domain_modes else "tlsa"
        elif "testing" in domain_modes:
            mode, limit, severity = "testing", t.failure_rate_testing, "warning"
        total = today.successful + today.failed
        if mode is not None and total and today.failed / total > limit:
            rate = today.failed / total
            since_k = 0
            while since_k < horizon:
                prev = by_k.get(since_k + 1)
                if prev is None or not prev.failed:
                    break
                if prev.failed / (prev.successful + prev.failed) <= limit:
                    break
                since_k += 1
            first = by_k[since_k].first_failure or now
            alerts.append(
                Alert(
                    rule="failure-rate",
                    severity=severity,
                    policy_domain=domain,
                    reporter=None,
                    result_type=top_type,
                    detail=(
                        f"{_pct(rate)} of sessions failed in the last 24 h "
                        f"({today.failed:,} of {total:,}); threshold {_pct(limit)} "
                        f"for mode {mode}" + (f"; {since_k + 1} days in a row" if since_k else "")
                    ),
                    since=first,
                    numbers={
                        "successful": today.successful,
                        "failed": today.failed,
                        "failure-rate": rate,
                        "threshold": limit,
                        "days": since_k + 1,
                    },
                    mx_host=top_host,
                )
            )
        baseline = [by_k[i] for i in range(1, spike_days + 1) if i in by_k]
        if baseline and today.failed >= t.spike_min_sessions:
            # Over the days with a report of the domain: a day with none (before its
            # first report, a fetch gap) is unknown, not a day without failures.
            mean = sum(b.failed for b in baseline) / len(baseline)
            if today.failed > t.spike_factor * mean:
                critical = today.failed > t.spike_critical_factor * mean
                days_before = (
                    f"{spike_days} days before"
                    if len(baseline) == spike_days
                    else f"{len(baseline)} day{'s' if len(baseline) != 1 else ''} with "
                    f"reports of the {spike_days} before"
                )
                if mean:
                    versus = (
                        f"{today.failed / mean:.1f}x the daily mean of {mean:,.1f} over the "
                        f"{days_before}"
                    )
                else:
                    versus = f"none in the {days_before}"
                alerts.append(
                    Alert(
                        rule="failure-spike",
                        severity="critical" if critical else "warning",
                        policy_domain=domain,
                        reporter=None,
                        result_type=top_type,
                        detail=(
                            f"{today.failed:,} failed sessions in the last 24 h, {versus} "
                            f"(threshold {t.spike_factor:g}x, at least {t.spike_min_sessions})"
                        ),
                        since=today.first_failure or now,
                        numbers={
                            "failed": today.failed,
                            "daily-mean": mean,
                            "factor": t.spike_factor,
                            "baseline-days": len(baseline),
                        },
                        mx_host=top_host,
                    )
                )

    # ---- 6. no-reports (before 4, which it silences)
    quiet_domains: set[str] = set()
    for domain, count in reports_before.items():
        if domain in recent_domains or not count:
            continue
        quiet_domains.add(domain)
        last = domain_last_end[domain]
        hours = (wall - last) / timedelta(hours=1)
        alerts.append(
            Alert(
                rule="no-reports",
                severity="critical",
                policy_domain=domain,
                reporter=None,
                result_type=None,
                detail=f"last report ended {isoformat(last)} ({hours:,.0f} h ago); {window}",
                since=last,
                numbers={
                    "hours-silent": round(hours, 1),
                    "reports-before": count,
                    **lag_numbers,
                },
            )
        )

    # ---- 4. silent-reporter
    for (reporter, domain), days in reporting_days.items():
        if (reporter, domain) in recent_pairs or domain in quiet_domains:
            continue
        if len(days) < t.silent_reporter_min_days:
            continue
        last = last_end[(reporter, domain)][1]
        hours = (wall - last) / timedelta(hours=1)
        alerts.append(
            Alert(
                rule="silent-reporter",
                severity="warning",
                policy_domain=domain,
                reporter=reporter,
                result_type=None,
                detail=(
                    f"{window} after reports on {len(days)} of the {silent_window} days "
                    f"before; last report ended {isoformat(last)} ({hours:,.0f} h ago)"
                ),
                since=last,
                numbers={
                    "days-reporting": len(days),
                    "window-days": silent_window,
                    "hours-silent": round(hours, 1),
                    **lag_numbers,
                },
            )
        )

    # ---- 5. mx-mismatch
    for (domain, host), s in mx_bad.items():
        alerts.append(
            Alert(
                rule="mx-mismatch",
                severity="warning",
                policy_domain=domain,
                reporter=_one(s.reporters),
                result_type=_one(s.result_types),
                detail=(
                    f"{s.failed:,} failed sessions in the last 24 h to {host}, which the "
                    f"policy's mx patterns ({', '.join(mx_patterns_of[(domain, host)])}) do "
                    f"not match; reported by {_names(s.reporters)}"
                ),
                since=s.first or now,
                numbers={"failed": s.failed, "reporters": len(s.reporters)},
                mx_host=host,
            )
        )
    for (domain, day), versions in policies_by_day.items():
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

    alerts.sort(key=Alert.sort_key)
    return HealthResult(
        now=now, alerts=tuple(alerts), silence_now=silence_now if from_clock else None
    )


# --------------------------------------------------------------------------- trend series


def _day_range(days: Iterable[date]) -> list[date]:
    known = sorted(set(days))
    if not known:
        return []
    first, last = known[0], known[-1]
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def daily_series(
    reports: Iterable[Report], *, by: Literal["domain", "reporter"] = "domain"
) -> dict[str, list[tuple[date, int, int]]]:
    """Sessions per day for each policy domain (or reporter): ``(day, successful, failed)``.

    Days are report days (:func:`~tlsrpt_tui.core.facts.report_day`); every series
    covers the archive's whole day range, days without reports as zeros, so series line
    up. Counting follows the aggregate rules (a report counts once per domain).
    """
    if by not in ("domain", "reporter"):
        raise ValueError(f"by must be 'domain' or 'reporter', not {by!r}")
    totals: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    days: set[date] = set()
    for report in reports:
        for fact in facts_of(report).domains:
            key = fact.domain if by == "domain" else fact.reporter
            ok, failed = totals[key].get(fact.day, (0, 0))
            totals[key][fact.day] = (ok + fact.successful, failed + fact.failed)
            days.add(fact.day)
    span = _day_range(days)
    series: dict[str, list[tuple[date, int, int]]] = {}
    for key, per_day in sorted(totals.items()):
        points: list[tuple[date, int, int]] = []
        for d in span:
            ok, failed = per_day.get(d, (0, 0))
            points.append((d, ok, failed))
        series[key] = points
    return series


def failures_by_result_type_daily(reports: Iterable[Report]) -> dict[str, list[tuple[date, int]]]:
    """Failed sessions per day for each result-type (from failure-details), zero-filled.

    Counted as :func:`~tlsrpt_tui.core.facts.result_type_counts` does: a report
    counts each (domain, result-type) once, by the counting rule over its blocks.
    """
    totals: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    days: set[date] = set()
    for report in reports:
        day = report_day(report)
        days.add(day)
        for (_domain, result_type), count in result_type_counts(report).items():
            totals[result_type][day] += count
    span = _day_range(days)
    return {rt: [(d, per_day.get(d, 0)) for d in span] for rt, per_day in sorted(totals.items())}
