"""Counting rules shared by every view, the CLI and the index.

A report may list several policy blocks for one domain: Microsoft reports the same
sessions under both ``tlsa`` and ``sts``. Toward a domain's and a reporter's totals
such a report counts once, as the largest successful count of its blocks and the
largest failed count, so no failure is hidden and no session counted twice. The same
rule applies per result-type and per failure-detail row. Per policy-type every block
counts. Totals use the ``summary`` counts; result-type breakdowns sum
``failed-session-count`` of failure-details; the two can disagree and both are kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from tlsrpt_tui.core.model import Report


@dataclass(frozen=True, slots=True)
class DomainFact:
    """One report's sessions for one policy domain (max over its blocks)."""

    reporter: str
    domain: str
    day: date
    successful: int
    failed: int


@dataclass(frozen=True, slots=True)
class PolicyFact:
    """One policy block of one report, counted as sent."""

    reporter: str
    domain: str
    policy_type: str
    sts_mode: str | None
    day: date
    successful: int
    failed: int
    mx_hosts: tuple[str, ...]
    policy_string: tuple[str, ...]


#: What identifies one failure-details row within a report.
DetailKey = tuple[str, str | None, str | None, str | None, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class FailureFact:
    """One failure-details row of one report (max over the report's blocks)."""

    reporter: str
    domain: str
    policy_types: tuple[str, ...]
    day: date
    result_type: str
    sending_mta_ip: str | None
    receiving_mx_hostname: str | None
    receiving_mx_helo: str | None
    receiving_ip: str | None
    additional_information: str | None
    failure_reason_code: str | None
    count: int


@dataclass(frozen=True, slots=True)
class ReportFacts:
    domains: tuple[DomainFact, ...]
    policies: tuple[PolicyFact, ...]
    failures: tuple[FailureFact, ...]


def report_day(report: Report) -> date:
    """The day a report covers: its start date in UTC (reports cover one UTC day)."""
    return report.start.date()


def facts_of(report: Report) -> ReportFacts:
    day = report_day(report)
    reporter = report.organization_name
    by_domain: dict[str, list[int]] = {}
    policies: list[PolicyFact] = []
    details: dict[str, dict[DetailKey, int]] = defaultdict(dict)
    detail_types: dict[tuple[str, DetailKey], set[str]] = defaultdict(set)
    for policy in report.policies:
        domain = policy.policy_domain
        ok, failed = policy.total_successful_session_count, policy.total_failure_session_count
        best = by_domain.setdefault(domain, [0, 0])
        best[0] = max(best[0], ok)
        best[1] = max(best[1], failed)
        policies.append(
            PolicyFact(
                reporter=reporter,
                domain=domain,
                policy_type=policy.policy_type,
                sts_mode=policy.sts_mode,
                day=day,
                successful=ok,
                failed=failed,
                mx_hosts=policy.mx_host,
                policy_string=policy.policy_string,
            )
        )
        in_block: dict[DetailKey, int] = defaultdict(int)
        for d in policy.failure_details:
            key: DetailKey = (
                d.result_type,
                d.sending_mta_ip,
                d.receiving_mx_hostname,
                d.receiving_mx_helo,
                d.receiving_ip,
                d.additional_information,
                d.failure_reason_code,
            )
            in_block[key] += d.failed_session_count
        merged = details[domain]
        for key, count in in_block.items():
            merged[key] = max(merged.get(key, 0), count)
            detail_types[(domain, key)].add(policy.policy_type)
    failures = tuple(
        FailureFact(
            reporter=reporter,
            domain=domain,
            policy_types=tuple(sorted(detail_types[(domain, key)])),
            day=day,
            result_type=key[0],
            sending_mta_ip=key[1],
            receiving_mx_hostname=key[2],
            receiving_mx_helo=key[3],
            receiving_ip=key[4],
            additional_information=key[5],
            failure_reason_code=key[6],
            count=count,
        )
        for domain, rows in details.items()
        for key, count in rows.items()
    )
    domains = tuple(
        DomainFact(reporter, domain, day, ok, failed) for domain, (ok, failed) in by_domain.items()
    )
    return ReportFacts(domains=domains, policies=tuple(policies), failures=failures)


def result_type_counts(report: Report) -> dict[tuple[str, str], int]:
    """(domain, result-type) -> failed sessions, max over the report's blocks."""
    best: dict[tuple[str, str], int] = {}
    for policy in report.policies:
        block: dict[str, int] = defaultdict(int)
        for d in policy.failure_details:
            block[d.result_type] += d.failed_session_count
        for result_type, count in block.items():
            key = (policy.policy_domain, result_type)
            best[key] = max(best.get(key, 0), count)
    return best


def _pair() -> dict[str, int]:
    return {"successful": 0, "failed": 0}


def summarize_domains(reports: Iterable[Report]) -> dict[str, dict[str, Any]]:
    """The ``domains`` object of ``summary --format json``, sorted by domain."""
    domains: dict[str, dict[str, Any]] = {}

    def entry(domain: str) -> dict[str, Any]:
        if domain not in domains:
            domains[domain] = {
                "successful": 0,
                "failed": 0,
                "result-types": defaultdict(int),
                "reporters": defaultdict(_pair),
                "policy-types": defaultdict(_pair),
            }
        return domains[domain]

    for report in reports:
        facts = facts_of(report)
        for fact in facts.domains:
            e = entry(fact.domain)
            e["successful"] += fact.successful
            e["failed"] += fact.failed
            reporter = e["reporters"][fact.reporter]
            reporter["successful"] += fact.successful
            reporter["failed"] += fact.failed
        for policy in facts.policies:
            pair = entry(policy.domain)["policy-types"][policy.policy_type]
            pair["successful"] += policy.successful
            pair["failed"] += policy.failed
        for (domain, result_type), count in result_type_counts(report).items():
            entry(domain)["result-types"][result_type] += count

    return {
        name: {
            "successful": e["successful"],
            "failed": e["failed"],
            "result-types": dict(sorted(e["result-types"].items())),
            "reporters": dict(sorted(e["reporters"].items())),
            "policy-types": dict(sorted(e["policy-types"].items())),
        }
        for name, e in sorted(domains.items())
    }


def failure_rate(successful: int, failed: int) -> float:
    total = successful + failed
    return failed / total if total else 0.0
