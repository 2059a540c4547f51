"""The fold: place the rows in the windows, run every rule, sort the alerts; and the
daily series of the trends screen."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from tlsrpt_tui.core.facts import facts_of, report_day, result_type_counts
from tlsrpt_tui.core.health import rules
from tlsrpt_tui.core.health.alerts import Alert, HealthResult, Thresholds
from tlsrpt_tui.core.health.rows import HealthRow, health_rows, moment
from tlsrpt_tui.core.model import Report

_DEFAULT_THRESHOLDS = Thresholds()


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
    rules to ``clock`` less ``thresholds.delivery_lag_hours`` (package docstring,
    "Two clocks"). A naive ``now`` or ``clock`` is read as UTC.
    """
    reports = list(reports)
    if not reports:
        return evaluate_rows([], now=now, clock=clock, thresholds=thresholds)
    at = now if now is not None else max(report.end for report in reports)
    at_ts = (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()
    rows = health_rows(reports, full_after=at_ts - rules.content_span(thresholds))
    return evaluate_rows(rows, now=now, clock=clock, thresholds=thresholds)


def evaluate_rows(
    rows: Sequence[HealthRow],
    *,
    now: datetime | None = None,
    clock: datetime | None = None,
    thresholds: Thresholds = _DEFAULT_THRESHOLDS,
    newer: bool = False,
) -> HealthResult:
    """:func:`evaluate` over health rows, whichever store made them.

    ``newer``: the rows stop at :func:`last_day_read` before the archive's newest
    report (which only tells the rules that reports went on after ``now``).
    """
    from_clock = now is None and clock is not None
    if now is None:
        if not rows:
            return HealthResult(now=None, alerts=())
        now = moment(max(row.end for row in rows))
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now_ts = now.timestamp()
    if from_clock and clock is not None:
        wall = clock if clock.tzinfo is not None else clock.replace(tzinfo=UTC)
        wall = wall.astimezone(UTC).replace(microsecond=0)  # (shown to the second)
        silence_now = wall - timedelta(hours=max(0, thresholds.delivery_lag_hours))
    else:
        wall = silence_now = now
    silence_ts = silence_now.timestamp()
    ctx = rules.Context(
        thresholds=thresholds,
        now=now,
        now_ts=now_ts,
        wall=wall,
        silence_now=silence_now,
        silence_ts=silence_ts,
        from_clock=from_clock,
        newest_ts=max((row.end for row in rows), default=now_ts)
        if not newer
        else max(now_ts, *(row.end for row in rows)),
    )
    placed: list[rules.Placed] = []
    for row in rows:
        if not row.domain:
            continue  # (a report without policies: only a mark in time, taken above)
        middle = (row.start + row.end) / 2 if row.end > row.start else row.start
        delta = now_ts - middle
        silence_delta = silence_ts - middle  # (after silence_now, from the clock: recent)
        if delta < 0 and (silence_delta < 0 or not from_clock):
            continue  # after now: ignored (from the clock, a sign of life for silence)
        placed.append(rules.Placed(row, middle, delta, silence_delta, int(delta // rules.DAY_S)))

    days = rules.domain_days(placed, ctx)
    seen = rules.silence(placed, ctx)
    no_reports = rules.no_reports(ctx, seen)
    quiet = {alert.policy_domain for alert in no_reports if alert.policy_domain}
    alerts: list[Alert] = [
        *rules.new_result_type(placed, ctx),
        *rules.failure_rate(placed, ctx, days),
        *rules.failure_spike(placed, ctx, days),
        *no_reports,
        *rules.silent_reporter(ctx, seen, quiet),
        *rules.mx_mismatch(placed, ctx),
        *rules.policy_disagreement(placed, ctx),
    ]
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


def first_day_read(
    newest: date,
    *,
    now: datetime | None = None,
    clock: datetime | None = None,
    thresholds: Thresholds = _DEFAULT_THRESHOLDS,
) -> date:
    """The first report day whose rows the rules can need, for an archive whose newest
    report day is ``newest``: a store asked for the rows from this day on gives the
    same alerts as all of them (two days of slack for reports ending a day late).

    Every window is measured back from *now* (at the latest the newest day's start,
    which only widens the reach) or from the silence rules' *now*.
    """
    t = thresholds
    at = now if now is not None else datetime(newest.year, newest.month, newest.day, tzinfo=UTC)
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if now is None and clock is not None:
        wall = clock if clock.tzinfo is not None else clock.replace(tzinfo=UTC)
        silence_now = wall - timedelta(hours=max(0, t.delivery_lag_hours))
    else:
        silence_now = at
    silent = timedelta(hours=max(0, t.silent_hours))
    reach = min(
        at - timedelta(seconds=rules.content_span(t)),
        min(silence_now - silent, at) - timedelta(days=max(0, t.no_reports_lookback_days)),
        silence_now - silent - timedelta(days=max(1, t.silent_reporter_window_days)),
    )
    return reach.astimezone(UTC).date() - timedelta(days=2)


def last_day_read(now: datetime | None) -> date | None:
    """The last report day whose rows the rules can need (``None``: every one). Only
    an explicit ``now`` bounds it: reports after it are ignored (two days of slack),
    but for telling that reports went on (``newer`` of :func:`evaluate_rows`)."""
    if now is None:
        return None
    at = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return at.astimezone(UTC).date() + timedelta(days=2)
