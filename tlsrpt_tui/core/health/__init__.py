"""Health rules: tell an operator when a quiet TLS-RPT archive stops being quiet.

Pure functions (no Textual, no store), used by ``tlsrpt-tui check`` and by the
explorer's alerts pane, both through :func:`tlsrpt_tui.store.health_job.health_of`.
The rooms:

- :mod:`.alerts`: what the rules say (:class:`Alert`, :class:`HealthResult`) and the
  :class:`Thresholds` that tune them (read from the settings file by
  :mod:`tlsrpt_tui.settings`);
- :mod:`.rows`: the one input, :class:`~.rows.HealthRow` (a report's facts for one
  policy domain), made from reports here and from the index by
  :mod:`tlsrpt_tui.store.health_input`; every store answers
  :meth:`~tlsrpt_tui.store.queries.ArchiveQueries.health_rows`;
- :mod:`.rules`: one function per rule, each with its own accumulator;
- :mod:`.evaluate`: the fold (:func:`evaluate` over reports, :func:`evaluate_rows`
  over rows), the first day a store must give rows from, and the trend series.

Counting follows :mod:`tlsrpt_tui.core.facts`: a report counts once per policy
domain, its blocks of each policy-type added up and the larger per-type sum taken;
result-type counts come from ``failure-details`` by the same rule.

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
    extra leftmost label; case-insensitive; trailing dot ignored); the detail names
    the patterns of every report that showed it. Also: two or more
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

from datetime import datetime

from tlsrpt_tui.core.facts import domain_counts as aggregate_domain_counts
from tlsrpt_tui.core.health.alerts import (
    RULES,
    SEVERITIES,
    Alert,
    HealthResult,
    Severity,
    Thresholds,
    isoformat,
)
from tlsrpt_tui.core.health.evaluate import (
    daily_series,
    evaluate,
    evaluate_rows,
    failures_by_result_type_daily,
)
from tlsrpt_tui.core.health.rows import (
    HealthRow,
    health_rows,
    mx_pattern_matches,
    policy_mx_patterns,
)
from tlsrpt_tui.core.health.rules import DAY
from tlsrpt_tui.core.model import Report


def midpoint(report: Report) -> datetime:
    """Where a report sits in time for the windows (see the module docstring)."""
    if report.end <= report.start:
        return report.start
    return report.start + (report.end - report.start) / 2


def domain_counts(report: Report) -> dict[str, tuple[int, int]]:
    """(successful, failed) per policy domain of one report: the counting rule of
    :func:`~tlsrpt_tui.core.facts.domain_counts` (per policy-type the blocks added
    up, then the larger per-type sum), without building the other facts."""
    return aggregate_domain_counts(report)



__all__ = [
    "DAY",
    "RULES",
    "SEVERITIES",
    "Alert",
    "HealthResult",
    "HealthRow",
    "Severity",
    "Thresholds",
    "daily_series",
    "domain_counts",
    "evaluate",
    "evaluate_rows",
    "failures_by_result_type_daily",
    "health_rows",
    "isoformat",
    "midpoint",
    "mx_pattern_matches",
    "policy_mx_patterns",
]
