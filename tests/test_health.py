"""Health rules (issue 5): one crafted archive per rule that triggers it and a near miss
that does not, a clean baseline, the windows, the trend series, ``tlsrpt-tui check``
and the demo archive's incidents."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from health_fixtures import (
    GOOGLE,
    LAST_DAY,
    MAILRU,
    MICROSOFT,
    NOW,
    SMALL,
    baseline,
    baseline_json,
    day,
    fail,
    policy_block,
    replace_report,
    report_json,
    simple,
    sts_policy_string,
    to_report,
    volume,
    write_archive,
)

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.facts import facts_of, summarize_domains
from tlsrpt_tui.core.health import (
    RULES,
    Alert,
    HealthResult,
    daily_series,
    domain_counts,
    evaluate,
    failures_by_result_type_daily,
    isoformat,
    midpoint,
    mx_pattern_matches,
    policy_mx_patterns,
)
from tlsrpt_tui.core.model import Report
from tlsrpt_tui.settings import Thresholds


def alerts_of(result: HealthResult, rule: str) -> list[Alert]:
    return [a for a in result.alerts if a.rule == rule]


def with_last_day(reports: list[Report], *extra: Report) -> list[Report]:
    for report in extra:
        reports = replace_report(reports, report)
    return reports


# --------------------------------------------------------------------------- baseline


def test_clean_30_day_baseline_raises_no_alert() -> None:
    reports = baseline(30, reporters=(GOOGLE, MAILRU, MICROSOFT, SMALL))
    result = evaluate(reports)
    assert result.now == NOW
    assert result.alerts == ()


def test_empty_archive_has_no_now_and_no_alerts() -> None:
    assert evaluate([]) == HealthResult(now=None, alerts=())
    assert evaluate([], now=NOW).alerts == ()


def test_now_defaults_to_latest_end_and_naive_now_is_utc() -> None:
    google_only = [simple(GOOGLE, LAST_DAY)]
    assert evaluate(google_only).now == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    naive = evaluate(google_only, now=datetime(2026, 7, 1))
    assert naive.now == NOW


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    "now",
    [NOW, datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC), datetime(2026, 7, 1, 6, tzinfo=UTC)],
)
def test_last_24h_is_the_last_day_of_reports_of_every_reporter_style(now: datetime) -> None:
    # Google ends its day at 23:59:59Z, Mail.ru at the next midnight; whichever "now"
    # is, the last 24 h hold exactly the last day's report of each.
    reports = baseline(10)
    last = [
        r for r in reports if r.start.date() == LAST_DAY and r.policy_domains == {"example.com"}
    ]
    assert {r.organization_name for r in last} == {GOOGLE, MAILRU}
    failing = [
        simple(
            GOOGLE, LAST_DAY, ok=900, failures=[fail("certificate-expired", 100, "mx2.example.com")]
        ),
        simple(
            MAILRU, LAST_DAY, ok=300, failures=[fail("certificate-expired", 100, "mx2.example.com")]
        ),
    ]
    result = evaluate(with_last_day(reports, *failing), now=now)
    (rate,) = alerts_of(result, "failure-rate")
    total = 900 + 100 + 300 + 100
    assert rate.numbers["failed"] == 200
    assert rate.numbers["successful"] + rate.numbers["failed"] == total


def test_midpoint_places_both_day_styles_at_noon() -> None:
    google = simple(GOOGLE, LAST_DAY)
    mailru = simple(MAILRU, LAST_DAY)
    assert midpoint(google).date() == midpoint(mailru).date() == LAST_DAY
    assert abs(midpoint(google) - midpoint(mailru)) < timedelta(seconds=1)


def test_reports_after_an_explicit_now_are_ignored() -> None:
    reports = baseline(30)
    failing = simple(GOOGLE, LAST_DAY, ok=100, failures=[fail("certificate-expired", 100)])
    result = evaluate(with_last_day(reports, failing), now=datetime(2026, 6, 30, tzinfo=UTC))
    assert result.alerts == ()


# --------------------------------------------------------------------------- 1. new-result-type


def test_new_result_type_triggers() -> None:
    reports = baseline(31)
    failing = simple(
        GOOGLE, LAST_DAY, ok=990, failures=[fail("certificate-expired", 10, "mx2.example.com")]
    )
    result = evaluate(with_last_day(reports, failing))
    (alert,) = alerts_of(result, "new-result-type")
    assert alert.severity == "critical"
    assert alert.policy_domain == "example.com"
    assert alert.result_type == "certificate-expired"
    assert alert.reporter == GOOGLE
    assert alert.mx_host == "mx2.example.com"
    assert alert.since == datetime(2026, 6, 30, tzinfo=UTC)
    assert alert.numbers["failed"] == 10
    assert "none in the 30 days before" in alert.detail


def test_new_result_type_near_miss_seen_within_the_lookback() -> None:
    reports = baseline(31)
    earlier = simple(MAILRU, day(-29), ok=400, failures=[fail("certificate-expired", 1)])
    failing = simple(GOOGLE, LAST_DAY, ok=990, failures=[fail("certificate-expired", 10)])
    result = evaluate(with_last_day(reports, earlier, failing))
    assert alerts_of(result, "new-result-type") == []


def test_new_result_type_seen_only_longer_ago_than_the_lookback_is_new_again() -> None:
    reports = baseline(40)
    long_ago = simple(MAILRU, day(-31), ok=400, failures=[fail("certificate-expired", 1)])
    failing = simple(GOOGLE, LAST_DAY, ok=990, failures=[fail("certificate-expired", 10)])
    result = evaluate(with_last_day(reports, long_ago, failing))
    assert [a.result_type for a in alerts_of(result, "new-result-type")] == ["certificate-expired"]


def test_new_result_type_needs_a_baseline() -> None:
    # The archive starts with the failure: nothing to call it new against.
    failing = simple(GOOGLE, LAST_DAY, ok=990, failures=[fail("certificate-expired", 10)])
    assert alerts_of(evaluate([failing]), "new-result-type") == []


def test_new_result_type_of_yesterday_is_no_longer_new_by_default() -> None:
    reports = baseline(31)
    yesterday = simple(GOOGLE, day(-1), ok=990, failures=[fail("certificate-expired", 10)])
    today = simple(GOOGLE, LAST_DAY, ok=990, failures=[fail("certificate-expired", 10)])
    reports = with_last_day(reports, yesterday, today)
    assert alerts_of(evaluate(reports), "new-result-type") == []
    # ...unless new_result_type_hours keeps it "new" for 48 h.
    longer = evaluate(reports, thresholds=Thresholds(new_result_type_hours=48))
    (alert,) = alerts_of(longer, "new-result-type")
    assert alert.since == datetime(2026, 6, 29, tzinfo=UTC)
    assert "first seen 2026-06-29T00:00:00Z" in alert.detail


def test_new_result_type_several_reporters_and_hosts() -> None:
    reports = baseline(31)
    failing = [
        simple(
            GOOGLE, LAST_DAY, ok=990, failures=[fail("validation-failure", 5, "mx1.example.com")]
        ),
        simple(
            MAILRU, LAST_DAY, ok=390, failures=[fail("validation-failure", 7, "mx2.example.com")]
        ),
    ]
    (alert,) = alerts_of(evaluate(with_last_day(reports, *failing)), "new-result-type")
    assert alert.reporter is None and alert.mx_host is None
    assert alert.numbers == {
        "failed": 12,
        "reporters": 2,
        "lookback-days": 30,
        "days-with-reports": 30,
    }
    assert GOOGLE in alert.detail and MAILRU in alert.detail


# --------------------------------------------------------------------------- 2. failure-rate


def _rate_archive(google_failed: int, domain: str = "example.com", **policy: Any) -> list[Report]:
    # Google and Mail.ru each report 1,000 sessions for the domain on the last day.
    reports = baseline(10, domains=(domain,))
    return with_last_day(
        reports,
        simple(GOOGLE, LAST_DAY, domain, ok=1000 - google_failed, failed=google_failed, **policy),
        simple(MAILRU, LAST_DAY, domain, ok=1000, **policy),
    )


def test_failure_rate_enforce_triggers_critical() -> None:
    result = evaluate(_rate_archive(11))  # 11 / 2000 = 0.55 % > 0.5 %
    (alert,) = alerts_of(result, "failure-rate")
    assert alert.severity == "critical"
    assert alert.policy_domain == "example.com"
    assert alert.reporter is None
    assert alert.numbers["failed"] == 11 and alert.numbers["successful"] == 1989
    assert alert.numbers["failure-rate"] == pytest.approx(0.0055)
    assert alert.numbers["threshold"] == 0.005
    assert alert.since == datetime(2026, 6, 30, tzinfo=UTC)
    assert "mode enforce" in alert.detail


def test_failure_rate_enforce_near_miss_at_the_threshold() -> None:
    assert alerts_of(evaluate(_rate_archive(10)), "failure-rate") == []  # exactly 0.5 %


def test_failure_rate_testing_has_its_own_threshold_and_is_a_warning() -> None:
    (alert,) = alerts_of(evaluate(_rate_archive(101, mode="testing")), "failure-rate")
    assert alert.severity == "warning"
    assert alert.numbers["threshold"] == 0.05
    assert alerts_of(evaluate(_rate_archive(100, mode="testing")), "failure-rate") == []


def test_failure_rate_tlsa_counts_as_enforce() -> None:
    reports = baseline(10)
    block = policy_block("example.org", ok=980, failed=20, policy_type="tlsa")
    tlsa = to_report(report_json(GOOGLE, LAST_DAY, [block]))
    (alert,) = alerts_of(evaluate(with_last_day(reports, tlsa)), "failure-rate")
    assert alert.severity == "critical" and alert.policy_domain == "example.org"
    assert "mode tlsa" in alert.detail


def test_failure_rate_not_for_mode_none_or_no_policy() -> None:
    assert alerts_of(evaluate(_rate_archive(500, mode="none")), "failure-rate") == []
    block = policy_block("example.com", ok=500, failed=500, policy_type="no-policy-found")
    npf = to_report(report_json(GOOGLE, LAST_DAY, [block]))
    reports = with_last_day(baseline(10, domains=("example.com",), reporters=(GOOGLE,)), npf)
    assert alerts_of(evaluate(reports), "failure-rate") == []


def test_failure_rate_counts_a_report_once_per_domain() -> None:
    # Microsoft lists the same sessions under sts and tlsa: 20 failures, not 40.
    reports = baseline(10, domains=("example.com",), reporters=(MICROSOFT,))
    blocks = [
        policy_block("example.com", ok=1980, failed=20, policy_type=kind)
        for kind in ("sts", "tlsa")
    ]
    double = to_report(report_json(MICROSOFT, LAST_DAY, blocks))
    result = evaluate(with_last_day(reports, double))
    (alert,) = alerts_of(result, "failure-rate")
    assert alert.numbers["failed"] == 20 and alert.numbers["successful"] == 1980


def test_failure_rate_since_walks_back_over_days_above_threshold() -> None:
    reports = baseline(10, domains=("example.com",), reporters=(GOOGLE,))
    reports = with_last_day(
        reports,
        simple(GOOGLE, day(-3), ok=999, failed=1),  # 0.1 %: below
        simple(GOOGLE, day(-2), ok=900, failed=100),
        simple(GOOGLE, day(-1), ok=900, failed=100),
        simple(GOOGLE, LAST_DAY, ok=900, failed=100),
    )
    (alert,) = alerts_of(evaluate(reports), "failure-rate")
    assert alert.since == datetime(2026, 6, 28, tzinfo=UTC)
    assert alert.numbers["days"] == 3


# --------------------------------------------------------------------------- 3. failure-spike


def _spike_archive(today: int, daily: int = 10) -> list[Report]:
    # example.org (mode none: no failure-rate noise) with `daily` failures a day before.
    reports = baseline(10, domains=("example.org",), reporters=(GOOGLE,))
    failing = [simple(GOOGLE, day(-i), "example.org", ok=100, failed=daily) for i in range(1, 8)]
    failing.append(simple(GOOGLE, LAST_DAY, "example.org", ok=100, failed=today))
    return with_last_day(reports, *failing)


def test_failure_spike_triggers() -> None:
    (alert,) = alerts_of(evaluate(_spike_archive(31)), "failure-spike")  # 31 > 3 x 10
    assert alert.severity == "warning"
    assert alert.policy_domain == "example.org"
    assert alert.numbers["failed"] == 31
    assert alert.numbers["daily-mean"] == pytest.approx(10.0)
    assert alert.since == datetime(2026, 6, 30, tzinfo=UTC)


def test_failure_spike_near_miss_at_three_times() -> None:
    assert alerts_of(evaluate(_spike_archive(30)), "failure-spike") == []


def test_failure_spike_critical_above_the_critical_factor() -> None:
    (alert,) = alerts_of(evaluate(_spike_archive(101)), "failure-spike")
    assert alert.severity == "critical"


def test_failure_spike_needs_the_minimum_sessions() -> None:
    assert alerts_of(evaluate(_spike_archive(9, daily=0)), "failure-spike") == []
    (alert,) = alerts_of(evaluate(_spike_archive(10, daily=0)), "failure-spike")
    assert alert.severity == "critical"  # from none: above any factor
    assert "none in the 7 days before" in alert.detail


def test_failure_spike_mean_is_over_seven_days_including_quiet_ones() -> None:
    # 70 failures on one day of the week before: mean 10, so 31 is a spike.
    reports = baseline(10, domains=("example.org",), reporters=(GOOGLE,))
    reports = with_last_day(
        reports,
        simple(GOOGLE, day(-4), "example.org", ok=100, failed=70),
        simple(GOOGLE, LAST_DAY, "example.org", ok=100, failed=31),
    )
    (alert,) = alerts_of(evaluate(reports), "failure-spike")
    assert alert.numbers["daily-mean"] == pytest.approx(10.0)


# --------------------------------------------------------------------------- 4. silent-reporter


def _small_reporter(*offsets: int) -> list[Report]:
    reports = baseline(30)
    return reports + [simple(SMALL, day(o), ok=40) for o in offsets]


def test_silent_reporter_triggers() -> None:
    # Reported 3 of the 7 days before the last 48 h (days -4..-2), nothing since.
    result = evaluate(_small_reporter(-4, -3, -2))
    (alert,) = alerts_of(result, "silent-reporter")
    assert alert.severity == "warning"
    assert alert.reporter == SMALL and alert.policy_domain == "example.com"
    assert alert.since == datetime(2026, 6, 29, tzinfo=UTC)  # end of its last report
    assert alert.numbers["days-reporting"] == 3
    assert alert.numbers["hours-silent"] == 48.0
    assert [a.rule for a in result.alerts] == ["silent-reporter"]


def test_silent_reporter_near_miss_too_few_days() -> None:
    assert alerts_of(evaluate(_small_reporter(-3, -2)), "silent-reporter") == []


def test_silent_reporter_near_miss_reported_within_48h() -> None:
    assert alerts_of(evaluate(_small_reporter(-4, -3, -2, -1)), "silent-reporter") == []


def test_silent_reporter_near_miss_days_outside_the_seven() -> None:
    # The 7 days before the last 48 h are days -8..-2: only day -8 counts here.
    assert alerts_of(evaluate(_small_reporter(-10, -9, -8)), "silent-reporter") == []
    assert len(alerts_of(evaluate(_small_reporter(-8, -7, -6)), "silent-reporter")) == 1


def test_silent_reporter_configurable() -> None:
    thresholds = Thresholds(silent_reporter_min_days=2)
    result = evaluate(_small_reporter(-3, -2), thresholds=thresholds)
    assert len(alerts_of(result, "silent-reporter")) == 1


# --------------------------------------------------------------------------- 5. mx-mismatch


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mx1.example.com", "mx1.example.com", True),
        ("mx1.example.com", "MX1.Example.COM.", True),
        ("mx1.example.com.", "mx1.example.com", True),
        ("*.example.com", "mx1.example.com", True),
        ("*.Example.com", "MX1.EXAMPLE.COM.", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "mx1.example.net", False),
        ("*.example.com", ".example.com", False),
        ("mx1.example.com", "mx2.example.com", False),
        ("", "mx1.example.com", False),
    ],
)
def test_mx_pattern_matches(pattern: str, host: str, expected: bool) -> None:
    assert mx_pattern_matches(pattern, host) is expected


def test_policy_mx_patterns_prefer_policy_string() -> None:
    assert policy_mx_patterns(
        ["version: STSv1", "MX: *.Example.com", "mx:mx9.example.com"], []
    ) == (
        "*.example.com",
        "mx9.example.com",
    )
    assert policy_mx_patterns(["version: STSv1"], ["mx1.example.com"]) == ("mx1.example.com",)


def test_mx_mismatch_triggers_for_an_unlisted_host() -> None:
    reports = baseline(10)
    failing = simple(
        GOOGLE,
        LAST_DAY,
        ok=990,
        failures=[fail("certificate-host-mismatch", 10, "mx3.example.com")],
    )
    result = evaluate(with_last_day(reports, failing))
    (alert,) = alerts_of(result, "mx-mismatch")
    assert alert.severity == "warning"
    assert alert.mx_host == "mx3.example.com"
    assert alert.reporter == GOOGLE
    assert alert.result_type == "certificate-host-mismatch"
    assert "mx1.example.com, mx2.example.com" in alert.detail


def test_mx_mismatch_wildcard_matches_one_label_only() -> None:
    reports = baseline(10)
    ok_host = simple(
        GOOGLE, LAST_DAY, "example.net", ok=990,
        failures=[fail("starttls-not-supported", 10, "Backup-MX.example.net.")],
    )  # fmt: skip
    assert alerts_of(evaluate(with_last_day(reports, ok_host)), "mx-mismatch") == []
    deep = simple(
        GOOGLE, LAST_DAY, "example.net", ok=990,
        failures=[fail("starttls-not-supported", 10, "a.backup.example.net")],
    )  # fmt: skip
    (alert,) = alerts_of(evaluate(with_last_day(reports, deep)), "mx-mismatch")
    assert alert.mx_host == "a.backup.example.net"


def test_mx_mismatch_near_miss_listed_host_and_old_failures() -> None:
    reports = baseline(10)
    listed = simple(
        GOOGLE, LAST_DAY, ok=990, failures=[fail("certificate-expired", 10, "mx2.example.com")]
    )
    old = simple(
        MAILRU, day(-3), ok=390, failures=[fail("certificate-expired", 10, "mx9.example.com")]
    )
    assert alerts_of(evaluate(with_last_day(reports, listed, old)), "mx-mismatch") == []


def test_mx_mismatch_policy_disagreement_triggers() -> None:
    reports = baseline(10)
    rotated = simple(
        MAILRU, LAST_DAY, ok=400, policy_string=sts_policy_string("testing", ["mx1.example.com"])
    )
    result = evaluate(with_last_day(reports, rotated))
    (alert,) = alerts_of(result, "mx-mismatch")
    assert alert.policy_domain == "example.com" and alert.reporter is None
    assert alert.numbers == {"policy-versions": 2, "reporters": 2}
    assert "mode: testing" in alert.detail and "mode: enforce" in alert.detail
    assert alert.since == datetime(2026, 6, 30, tzinfo=UTC)


def test_mx_mismatch_policy_near_miss_same_policy_written_differently() -> None:
    reports = baseline(10)
    reordered = simple(
        MAILRU, LAST_DAY, ok=400,
        policy_string=["MODE: enforce", "version: STSv1", "mx: MX2.example.com.",
                       "max_age:604800", "mx: mx1.example.com"],
    )  # fmt: skip
    older = simple(MAILRU, day(-2), ok=400, policy_string=sts_policy_string("testing", ["x"]))
    missing = simple(MAILRU, day(-1), ok=400, policy_string=[])
    reports = with_last_day(reports, reordered, older, missing)
    assert alerts_of(evaluate(reports), "mx-mismatch") == []


# --------------------------------------------------------------------------- 6. no-reports


def test_no_reports_triggers() -> None:
    reports = [
        r
        for r in baseline(30)
        if not ("example.org" in r.policy_domains and r.start.date() > day(-2))
    ]
    result = evaluate(reports)
    (alert,) = alerts_of(result, "no-reports")
    assert alert.severity == "critical"
    assert alert.policy_domain == "example.org" and alert.reporter is None
    assert alert.since == datetime(2026, 6, 29, tzinfo=UTC)  # Mail.ru's day -2 ends then
    assert alert.numbers["hours-silent"] == 48.0
    # The domain's reporters are not listed again as silent reporters.
    assert [a.rule for a in result.alerts] == ["no-reports"]


def test_no_reports_near_miss_a_report_within_48h() -> None:
    reports = [
        r
        for r in baseline(30)
        if not (
            "example.org" in r.policy_domains
            and (
                r.start.date() == LAST_DAY
                or (r.organization_name == GOOGLE and r.start.date() == day(-1))
            )
        )
    ]
    assert alerts_of(evaluate(reports), "no-reports") == []


def test_no_reports_near_miss_domain_gone_for_longer_than_the_lookback() -> None:
    old = [simple(GOOGLE, day(-40 + i), "example.org", ok=10) for i in range(5)]
    reports = baseline(30, domains=("example.com",)) + old
    assert alerts_of(evaluate(reports), "no-reports") == []
    assert evaluate(reports, thresholds=Thresholds(no_reports_lookback_days=60)).alerts != ()


def test_a_now_after_the_archive_makes_every_domain_silent() -> None:
    result = evaluate(baseline(10), now=NOW + timedelta(days=3))
    assert {a.policy_domain for a in alerts_of(result, "no-reports")} == {
        "example.com",
        "example.net",
        "example.org",
    }
    assert [a.rule for a in result.alerts] == ["no-reports"] * 3


# --------------------------------------------------------------------------- alert shape


def test_alerts_sorted_by_severity_rule_domain() -> None:
    reports = baseline(31)
    reports = with_last_day(
        reports,
        simple(
            GOOGLE,
            LAST_DAY,
            "example.net",
            ok=50,
            failures=[fail("starttls-not-supported", 500, "x.other.example")],
        ),
        simple(
            GOOGLE, LAST_DAY, ok=900, failures=[fail("certificate-expired", 100, "mx2.example.com")]
        ),
    )
    reports += [simple(SMALL, day(o), ok=40) for o in (-5, -4, -3)]
    result = evaluate(reports)
    keys = [(a.severity, a.rule, a.policy_domain) for a in result.alerts]
    assert keys == sorted(keys, key=lambda k: (k[0] != "critical", RULES.index(k[1]), k[2]))
    assert {a.rule for a in result.alerts} >= {
        "new-result-type", "failure-rate", "failure-spike", "silent-reporter", "mx-mismatch"
    }  # fmt: skip
    assert result.critical + result.warning == len(result.alerts)
    assert all(a.severity == "critical" for a in result.at_or_above("critical"))


def test_alert_to_dict_has_the_contract_keys() -> None:
    alert = Alert(
        rule="no-reports",
        severity="critical",
        policy_domain="example.org",
        reporter=None,
        result_type=None,
        detail="d",
        since=datetime(2026, 6, 29, tzinfo=UTC),
        numbers={"hours-silent": 48.0},
    )
    doc = alert.to_dict()
    assert list(doc)[:7] == [
        "rule", "severity", "policy-domain", "reporter", "result-type", "detail", "since"
    ]  # fmt: skip
    assert doc["since"] == "2026-06-29T00:00:00Z"
    assert doc["reporter"] is None and doc["result-type"] is None
    json.dumps(doc)


def test_isoformat() -> None:
    assert isoformat(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)) == "2026-06-30T23:59:59Z"


# --------------------------------------------------------------------------- series


def test_domain_counts_follow_the_aggregate_rule() -> None:
    blocks = [
        policy_block("example.com", ok=100, failed=7, policy_type="sts"),
        policy_block("example.com", ok=90, failed=9, policy_type="tlsa"),
        policy_block("example.net", ok=5, failed=0),
    ]
    report = to_report(report_json(MICROSOFT, LAST_DAY, blocks))
    expected = {f.domain: (f.successful, f.failed) for f in facts_of(report).domains}
    assert domain_counts(report) == expected == {"example.com": (100, 9), "example.net": (5, 0)}


def test_daily_series_by_domain_and_reporter() -> None:
    reports = baseline(3, domains=("example.com",))
    blocks = [policy_block("example.com", ok=50, failed=5, policy_type=t) for t in ("sts", "tlsa")]
    reports.append(to_report(report_json(MICROSOFT, day(-2), blocks)))
    by_domain = daily_series(reports, by="domain")
    assert list(by_domain) == ["example.com"]
    series = by_domain["example.com"]
    assert [d for d, _, _ in series] == [day(-2), day(-1), LAST_DAY]
    ok = sum(volume(r, "example.com", day(-2)) for r in (GOOGLE, MAILRU)) + 50
    assert series[0] == (day(-2), ok, 5)
    totals = summarize_domains(reports)["example.com"]
    assert sum(s for _, s, _ in series) == totals["successful"]
    assert sum(f for _, _, f in series) == totals["failed"]

    by_reporter = daily_series(reports, by="reporter")
    assert set(by_reporter) == {GOOGLE, MAILRU, MICROSOFT}
    # Zero-filled over the archive's whole day range.
    assert by_reporter[MICROSOFT] == [(day(-2), 50, 5), (day(-1), 0, 0), (LAST_DAY, 0, 0)]
    with pytest.raises(ValueError):
        daily_series(reports, by="policy")  # type: ignore[arg-type]


def test_failures_by_result_type_daily() -> None:
    blocks = [
        policy_block("example.com", ok=10, failures=[fail("certificate-expired", 4)], policy_type=t)
        for t in ("sts", "tlsa")
    ]
    reports = [
        to_report(report_json(MICROSOFT, day(-2), blocks)),
        simple(
            GOOGLE,
            LAST_DAY,
            ok=10,
            failures=[fail("certificate-expired", 1), fail("starttls-not-supported", 2)],
        ),
    ]
    assert failures_by_result_type_daily(reports) == {
        "certificate-expired": [(day(-2), 4), (day(-1), 0), (LAST_DAY, 1)],
        "starttls-not-supported": [(day(-2), 0), (day(-1), 0), (LAST_DAY, 2)],
    }
    assert daily_series([]) == {} and failures_by_result_type_daily([]) == {}


# --------------------------------------------------------------------------- performance


def test_evaluate_100k_reports_quickly() -> None:
    template = simple(GOOGLE, LAST_DAY)
    reporters = [f"reporter{i}.example" for i in range(1000)]
    reports = []
    for offset in range(-99, 1):
        on = day(offset)
        start = datetime(on.year, on.month, on.day, tzinfo=UTC)
        for name in reporters:
            reports.append(
                Report(
                    organization_name=name,
                    start=start,
                    end=start + timedelta(seconds=86399),
                    report_id=f"{on}-{name}",
                    contact_info=None,
                    policies=template.policies,
                    source=template.source,
                )
            )
    assert len(reports) == 100_000
    began = time.perf_counter()
    result = evaluate(reports)
    elapsed = time.perf_counter() - began
    assert result.alerts == ()
    assert elapsed < 4.0  # about 1 s on a laptop; generous for loaded CI machines


# --------------------------------------------------------------------------- check command


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    monkeypatch.setenv("TLSRPT_TUI_CONFIG_DIR", str(directory))
    return directory


#: The crafted archives end on LAST_DAY (June 2026): by the wall clock every domain has
#: long been silent, so the tests of other behaviour evaluate as of their end.
AT_NOW = ["--now", isoformat(NOW)]


def _failing_archive(root: Path) -> Path:
    objs = [
        o
        for o in baseline_json(31)
        if not (
            o["organization-name"] == GOOGLE
            and o["date-range"]["start-datetime"].startswith("2026-06-30")
        )
    ]
    objs.append(
        report_json(
            GOOGLE,
            LAST_DAY,
            [
                policy_block(
                    "example.com",
                    ok=990,
                    failures=[fail("certificate-expired", 10, "mx2.example.com")],
                ),
                policy_block("example.net", ok=500),
                policy_block("example.org", ok=100),
            ],
        )
    )
    return write_archive(root, objs)


def test_check_clean_archive_exits_0(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "reports", baseline_json(30))
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW]) == 0
    assert capsys.readouterr().out == "no alerts\n"
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "now": "2026-07-01T00:00:00Z",
        "silence-now": "2026-07-01T00:00:00Z",
        "alerts": [],
    }


def test_check_text_output_and_exit_1(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _failing_archive(tmp_path / "reports")
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "3 alerts: 3 critical"
    assert lines[0].startswith("CRITICAL new-result-type example.com ")
    assert "result-type=certificate-expired" in lines[0] and "mx=mx2.example.com" in lines[0]
    assert "(since 2026-06-30T00:00:00Z)" in lines[0]
    assert lines[1].startswith("CRITICAL failure-rate ")
    assert lines[2].startswith("CRITICAL failure-spike ")  # from no failures at all


def test_check_json_contract(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _failing_archive(tmp_path / "reports")
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["now"] == "2026-07-01T00:00:00Z"
    first = doc["alerts"][0]
    for key in ("rule", "severity", "policy-domain", "reporter", "result-type", "detail", "since"):
        assert key in first
    assert first["rule"] == "new-result-type"
    assert first["severity"] == "critical"
    assert first["policy-domain"] == "example.com"
    assert first["reporter"] == GOOGLE
    assert first["result-type"] == "certificate-expired"
    assert first["since"] == "2026-06-30T00:00:00Z"
    rate = doc["alerts"][1]
    assert rate["rule"] == "failure-rate" and rate["reporter"] is None


def test_check_fail_on_critical(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs = baseline_json(30)
    objs += [report_json(SMALL, day(o), [policy_block("example.com", ok=40)]) for o in (-4, -3, -2)]
    archive = write_archive(tmp_path / "reports", objs)
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW, "--fail-on", "critical"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "1 alert: 1 warning"
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW]) == 1


def test_check_now_option(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _failing_archive(tmp_path / "reports")
    # The day before the failure: clean.
    assert main(["check", str(archive), "--jobs", "1", "--now", "2026-06-30T00:00:00Z"]) == 0
    assert capsys.readouterr().out == "no alerts\n"
    assert (
        main(["check", str(archive), "--jobs", "1", "--format", "json", "--now", "2026-06-30"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["now"] == "2026-06-30T00:00:00Z"
    assert (
        main(
            [
                "check",
                str(archive),
                "--jobs",
                "1",
                "--format",
                "json",
                "--now",
                "2026-06-30T02:00:00+02:00",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["now"] == "2026-06-30T00:00:00Z"


@pytest.mark.parametrize(
    "argv",
    [
        ["--now", "yesterday"],
        ["--format", "xml"],
        ["--fail-on", "info"],
    ],
)
def test_check_usage_errors_exit_2(
    tmp_path: Path, config_dir: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "reports", baseline_json(2))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(archive), *argv])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_check_missing_path_exits_2(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "nowhere")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["check"]) == 2


def test_check_thresholds_come_from_the_settings_file(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _failing_archive(tmp_path / "reports")
    (config_dir / "settings.toml").write_text(
        "[thresholds]\nfailure_rate_enforce = 0.02\nspike_min_sessions = 50\n"
        "new_result_type_lookback_days = 'thirty'\n",
        encoding="utf-8",
    )
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[-1] == "1 alert: 1 critical"
    assert lines[0].startswith("CRITICAL new-result-type ")
    assert "new_result_type_lookback_days" in captured.err  # a bad value is reported


def test_check_escapes_control_characters(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = "Evil\x1b[2J\x07 Corp"
    objs = baseline_json(30)
    objs += [report_json(evil, day(o), [policy_block("example.com", ok=40)]) for o in (-4, -3, -2)]
    archive = write_archive(tmp_path / "reports", objs)
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "reporter=Evil\\x1b[2J\\x07 Corp" in out
    assert main(["check", str(archive), "--jobs", "1", *AT_NOW, "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["alerts"][0]["reporter"] == evil


# --------------------------------------------------------------------------- demo archive


def _demo() -> tuple[Any, list[Report], date]:
    demo = pytest.importorskip("tlsrpt_tui.demo", reason="the demo package is not there yet")
    from tlsrpt_tui.core.archive import load_archive

    path = demo.demo_archive_path()
    if not path.is_dir() or not any(path.iterdir()):
        pytest.skip("the bundled demo archive has not been generated")
    archive = load_archive([path])
    return demo, list(archive.reports.values()), demo.DEMO_END


def test_demo_archive_raises_its_incidents() -> None:
    demo, reports, end = _demo()
    result = evaluate(reports)
    assert result.now == datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    by_rule: dict[str, list[Alert]] = {}
    for alert in result.alerts:
        by_rule.setdefault(alert.rule, []).append(alert)
    for incident in demo.DEMO_INCIDENTS:
        domain = incident["policy-domain"]
        if incident["kind"] == "failure" and incident["last-day"] == end:
            if incident["first-day"] > end - timedelta(days=7):
                # A recent incident still going on: its failure rate alerts.
                rate = [a for a in by_rule.get("failure-rate", []) if a.policy_domain == domain]
                assert rate, incident["id"]
                assert rate[0].result_type == incident["result-type"]
                assert rate[0].mx_host == incident["mx"]
                first = incident["first-day"]
                assert rate[0].since == datetime(first.year, first.month, first.day, tzinfo=UTC)
            else:
                # Going on all month: not new.
                assert not [
                    a
                    for a in by_rule.get("new-result-type", [])
                    if a.policy_domain == domain and a.result_type == incident["result-type"]
                ], incident["id"]
        elif incident["kind"] == "failure":
            # Over before the end: nothing names it.
            assert not [
                a
                for a in result.alerts
                if a.policy_domain == domain and a.result_type == incident["result-type"]
            ], incident["id"]
        elif incident["kind"] == "silence":
            silent = [(a.policy_domain, a.reporter) for a in by_rule.get("silent-reporter", [])]
            for reporter in incident["reporters"]:
                assert (domain, reporter) in silent, incident["id"]
    # Nothing but the incidents: every alert is about one of them.
    assert {a.policy_domain for a in result.alerts} <= {
        i["policy-domain"] for i in demo.DEMO_INCIDENTS if i["kind"] in ("failure", "silence")
    }
    assert not by_rule.get("no-reports")
    assert not by_rule.get("mx-mismatch")


def test_demo_archive_new_result_type_on_the_incident_s_first_day() -> None:
    demo, reports, end = _demo()
    for incident in demo.DEMO_INCIDENTS:
        if incident["kind"] != "failure" or incident["first-day"] <= demo.DEMO_START:
            continue
        first = incident["first-day"]
        now = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(days=1)
        result = evaluate(reports, now=now)
        new = [
            a
            for a in alerts_of(result, "new-result-type")
            if a.policy_domain == incident["policy-domain"]
        ]
        assert [a.result_type for a in new] == [incident["result-type"]], incident["id"]
        assert new[0].mx_host == incident["mx"]
        assert new[0].since == now - timedelta(days=1)
        # ...and with new_result_type_hours = 48 still "new" the day after.
        if incident["last-day"] > first:
            later = evaluate(
                reports,
                now=now + timedelta(days=1),
                thresholds=Thresholds(new_result_type_hours=48),
            )
            assert [
                a.result_type
                for a in alerts_of(later, "new-result-type")
                if a.policy_domain == incident["policy-domain"]
            ] == [incident["result-type"]]
    assert end == demo.DEMO_END


def test_summary_line_counts() -> None:
    from tlsrpt_tui.commands.check import summary_line

    def alert(severity: Any) -> Alert:
        return Alert("no-reports", severity, "d", None, None, "x", NOW)

    mixed = HealthResult(NOW, (alert("critical"), alert("critical"), alert("warning")))
    assert summary_line(mixed) == "3 alerts: 2 critical, 1 warning"
    assert summary_line(HealthResult(NOW, ())) == "no alerts"
