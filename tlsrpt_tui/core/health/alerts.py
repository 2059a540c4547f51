"""What the health rules say: :class:`Alert`, :class:`HealthResult`, and the
:class:`Thresholds` they are tuned by (the settings file's ``[thresholds]`` table is
read into one by :mod:`tlsrpt_tui.settings`, which depends on this module, not the
reverse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

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


@dataclass
class Thresholds:
    """Alert thresholds used by the health rules (see ``tlsrpt-tui check``)."""

    failure_rate_enforce: float = 0.005
    failure_rate_testing: float = 0.05
    spike_factor: float = 3.0
    spike_min_sessions: int = 10
    new_result_type_lookback_days: int = 30
    silent_reporter_min_days: int = 3
    silent_hours: int = 48
    spike_baseline_days: int = 7
    spike_critical_factor: float = 10.0
    silent_reporter_window_days: int = 7
    no_reports_lookback_days: int = 30
    new_result_type_hours: int = 24
    #: The silence rules (``silent-reporter``, ``no-reports``) measure from the wall
    #: clock less this many hours: a report covers a UTC day and arrives up to about a
    #: day after that day ends (the real reports seen: 10 min to 21.5 h), plus the time
    #: until a fetch from cron picks it up. ``check --now`` replaces both (no lag).
    delivery_lag_hours: int = 30


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
