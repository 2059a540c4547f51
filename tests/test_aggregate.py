"""Counting rules: one report counts once per domain, every block counts per policy-type."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from conftest import build_detail, build_policy, build_report

from tlsrpt_tui.core.facts import (
    facts_of,
    failure_rate,
    report_day,
    result_type_counts,
    summarize_domains,
)
from tlsrpt_tui.core.model import Report, Source
from tlsrpt_tui.core.reading.loader import load_bytes


def parse(**overrides: Any) -> Report:
    result = load_bytes(json.dumps(build_report(**overrides)).encode(), Source("r.json"))
    assert result.errors == []
    (report,) = result.reports
    return report


def sts_and_tlsa(
    sts: tuple[int, int],
    tlsa: tuple[int, int],
    sts_details: list | None = None,
    tlsa_details: list | None = None,
    **overrides: Any,
) -> Report:
    return parse(
        policies=[
            build_policy("example.com", "sts", *sts, failure_details=sts_details),
            build_policy(
                "example.com",
                "tlsa",
                *tlsa,
                failure_details=tlsa_details,
                policy_string=["3 1 1 AB"],
            ),
        ],
        **overrides,
    )


def test_sts_and_tlsa_for_one_domain_count_once() -> None:
    report = sts_and_tlsa((100, 3), (90, 5))
    domains = summarize_domains([report])
    entry = domains["example.com"]
    # Max of successful, max of failed: no session counted twice, no failure hidden.
    assert (entry["successful"], entry["failed"]) == (100, 5)
    assert entry["reporters"] == {"Example Reporter": {"successful": 100, "failed": 5}}
    # Per policy-type every block counts.
    assert entry["policy-types"] == {
        "sts": {"successful": 100, "failed": 3},
        "tlsa": {"successful": 90, "failed": 5},
    }


def test_same_sessions_under_both_policies() -> None:
    """Microsoft's shape: the same 4 sessions reported under tlsa and sts."""
    report = sts_and_tlsa((4, 0), (4, 0))
    entry = summarize_domains([report])["example.com"]
    assert (entry["successful"], entry["failed"]) == (4, 0)
    assert sum(p["successful"] for p in entry["policy-types"].values()) == 8


def test_result_types_max_over_blocks_sum_within_a_block() -> None:
    sts_details = [
        build_detail("validation-failure", 2, receiving_ip="192.0.2.1"),
        build_detail("validation-failure", 3, receiving_ip="192.0.2.2"),
        build_detail("sts-policy-fetch-error", 1),
    ]
    tlsa_details = [
        build_detail("validation-failure", 4),
        build_detail("tlsa-invalid", 6),
    ]
    report = sts_and_tlsa((10, 6), (10, 10), sts_details, tlsa_details)
    assert result_type_counts(report) == {
        ("example.com", "validation-failure"): 5,  # max(2 + 3, 4)
        ("example.com", "sts-policy-fetch-error"): 1,
        ("example.com", "tlsa-invalid"): 6,
    }
    entry = summarize_domains([report])["example.com"]
    assert entry["result-types"] == {
        "sts-policy-fetch-error": 1,
        "tlsa-invalid": 6,
        "validation-failure": 5,
    }
    assert entry["failed"] == 10


def test_result_types_sum_details_not_summary() -> None:
    """Mail.ru's shape: details add up to 2, the summary says 1; both are kept."""
    details = [build_detail("sts-policy-fetch-error", 1), build_detail("sts-policy-fetch-error", 1)]
    report = parse(policies=[build_policy(successful=0, failed=1, failure_details=details)])
    entry = summarize_domains([report])["example.com"]
    assert entry["failed"] == 1
    assert entry["result-types"] == {"sts-policy-fetch-error": 2}


def test_different_domains_in_one_report_are_separate() -> None:
    report = parse(
        policies=[build_policy("a.example", successful=5), build_policy("b.example", successful=7)]
    )
    domains = summarize_domains([report])
    assert list(domains) == ["a.example", "b.example"]
    assert domains["a.example"]["successful"] == 5
    assert domains["b.example"]["successful"] == 7


def test_reports_add_up_across_reporters_and_days() -> None:
    reports = [
        sts_and_tlsa((10, 1), (8, 2), organization_name="Microsoft Corporation", report_id="1"),
        parse(
            organization_name="Google Inc.",
            report_id="2",
            policies=[build_policy(successful=20, failed=3)],
        ),
        parse(
            organization_name="Google Inc.",
            report_id="3",
            start="2024-03-02T00:00:00Z",
            end="2024-03-02T23:59:59Z",
            policies=[build_policy(successful=1)],
        ),
    ]
    entry = summarize_domains(reports)["example.com"]
    assert (entry["successful"], entry["failed"]) == (31, 5)
    assert entry["reporters"] == {
        "Google Inc.": {"successful": 21, "failed": 3},
        "Microsoft Corporation": {"successful": 10, "failed": 2},
    }
    assert entry["policy-types"] == {
        "sts": {"successful": 31, "failed": 4},
        "tlsa": {"successful": 8, "failed": 2},
    }
    assert list(entry) == ["successful", "failed", "result-types", "reporters", "policy-types"]


def test_facts_of() -> None:
    details = [build_detail("validation-failure", 2, receiving_mx_hostname="mx.example.com")]
    report = sts_and_tlsa((10, 2), (7, 2), details, details)
    facts = facts_of(report)
    (domain,) = facts.domains
    assert (domain.domain, domain.successful, domain.failed, domain.day) == (
        "example.com",
        10,
        2,
        date(2024, 3, 1),
    )
    assert [(p.policy_type, p.successful, p.sts_mode) for p in facts.policies] == [
        ("sts", 10, "enforce"),
        ("tlsa", 7, None),
    ]
    (failure,) = facts.failures  # the same row under both policies counts once
    assert (failure.count, failure.policy_types) == (2, ("sts", "tlsa"))
    assert failure.receiving_mx_hostname == "mx.example.com"


def test_report_day_is_start_date_in_utc() -> None:
    report = parse(start="2024-03-01T01:00:00+02:00")
    assert report_day(report) == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("ok", "failed", "rate"), [(0, 0, 0.0), (3, 1, 0.25), (0, 5, 1.0), (10, 0, 0.0)]
)
def test_failure_rate(ok: int, failed: int, rate: float) -> None:
    assert failure_rate(ok, failed) == rate


def test_empty() -> None:
    assert summarize_domains([]) == {}
    assert summarize_domains([parse(policies=[])]) == {}
