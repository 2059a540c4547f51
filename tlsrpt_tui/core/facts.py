"""Counting rules shared by every view, the CLI and the index.

The rule, per report and policy domain: add up the blocks of each policy-type (``sts``,
``tlsa``, ``no-policy-found``, ...), then take the larger of the per-type sums, for the
successful count, the failed count, each result-type and each failure-details row.

Blocks of one type are different sessions: Google splits a day at a policy change into
two ``sts`` blocks, SocketLabs sends one ``sts`` block of successes and another of
failures. Blocks of different types are the same sessions seen twice: Microsoft reports
them under both ``tlsa`` and ``sts``. So no failure is hidden and no session counted
twice. Per policy-type (the policy pane, ``policy-types``) every block counts. Totals
use the ``summary`` counts; result-type breakdowns sum ``failed-session-count`` of
failure-details; the two can disagree and both are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from tlsrpt_tui.core.model import FailureDetail, Report

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class DomainFact:
    """One report's sessions for one policy domain (the counting rule over its blocks)."""

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
    """One failure-details row of one report (the counting rule over its blocks)."""

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


def key_text(org: str, report_id: str, start_iso: str, domains: str) -> str:
    """A report's key within an archive: its identity (:attr:`Report.identity`) as text.

    ``domains`` is :func:`joined_domains` of its policy domains (or the one domain). The
    one definition: the in-memory store and the index's row maker both key by it.
    """
    return f"{org}\x1f{report_id}\x1f{start_iso}\x1f{domains}"


def joined_domains(domains: Iterable[str]) -> str:
    """Policy domains as a report's key holds them: distinct, sorted, comma-separated."""
    return ",".join(sorted(set(domains)))


def report_key(report: Report) -> str:
    """A stable key for a report within an archive (see :func:`key_text`)."""
    org, report_id, start, domains = report.identity
    return key_text(org, report_id, start.isoformat(), joined_domains(domains))


def report_day(report: Report) -> date:
    """The day a report covers: its start date in UTC (reports cover one UTC day)."""
    return report.start.date()


class _TypeSums:
    """One policy domain's blocks of one policy-type in one report, added up."""

    __slots__ = ("details", "failed", "result_types", "successful")

    def __init__(self) -> None:
        self.successful = 0
        self.failed = 0
        self.details: dict[DetailKey, int] = {}
        self.result_types: dict[str, int] = {}


def _detail_key(d: FailureDetail) -> DetailKey:
    return (
        d.result_type,
        d.sending_mta_ip,
        d.receiving_mx_hostname,
        d.receiving_mx_helo,
        d.receiving_ip,
        d.additional_information,
        d.failure_reason_code,
    )


def _type_sums(report: Report) -> dict[str, dict[str, _TypeSums]]:
    """domain -> policy-type -> the sums of that type's blocks (in report order)."""
    by_domain: dict[str, dict[str, _TypeSums]] = {}
    for policy in report.policies:
        types = by_domain.setdefault(policy.policy_domain, {})
        sums = types.get(policy.policy_type)
        if sums is None:
            sums = types[policy.policy_type] = _TypeSums()
        sums.successful += policy.total_successful_session_count
        sums.failed += policy.total_failure_session_count
        details, result_types = sums.details, sums.result_types
        for d in policy.failure_details:
            key = _detail_key(d)
            details[key] = details.get(key, 0) + d.failed_session_count
            result_types[d.result_type] = (
                result_types.get(d.result_type, 0) + d.failed_session_count
            )
    return by_domain


def larger_of_types(per_type: Iterable[dict[K, int]]) -> dict[K, int]:
    """The counting rule's second step: per key, the largest of the per-type sums."""
    best: dict[K, int] = {}
    for counts in per_type:
        for key, count in counts.items():
            have = best.get(key)
            if have is None or count > have:
                best[key] = count
    return best


def domain_counts(report: Report) -> dict[str, tuple[int, int]]:
    """(successful, failed) per policy domain of one report, by the counting rule
    (per policy-type the blocks added up, then the larger per-type sum of each)."""
    out: dict[str, tuple[int, int]] = {}
    for domain, types in _type_sums(report).items():
        out[domain] = (
            max(t.successful for t in types.values()),
            max(t.failed for t in types.values()),
        )
    return out


def facts_of(report: Report) -> ReportFacts:
    day = report_day(report)
    reporter = report.organization_name
    policies = tuple(
        PolicyFact(
            reporter=reporter,
            domain=policy.policy_domain,
            policy_type=policy.policy_type,
            sts_mode=policy.sts_mode,
            day=day,
            successful=policy.total_successful_session_count,
            failed=policy.total_failure_session_count,
            mx_hosts=policy.mx_host,
            policy_string=policy.policy_string,
        )
        for policy in report.policies
    )
    domains: list[DomainFact] = []
    failures: list[FailureFact] = []
    for domain, types in _type_sums(report).items():
        domains.append(
            DomainFact(
                reporter,
                domain,
                day,
                max(t.successful for t in types.values()),
                max(t.failed for t in types.values()),
            )
        )
        merged = larger_of_types(t.details for t in types.values())
        for key, count in merged.items():
            failures.append(
                FailureFact(
                    reporter=reporter,
                    domain=domain,
                    policy_types=tuple(sorted(pt for pt, t in types.items() if key in t.details)),
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
            )
    return ReportFacts(domains=tuple(domains), policies=policies, failures=tuple(failures))


def result_type_counts(report: Report) -> dict[tuple[str, str], int]:
    """(domain, result-type) -> failed sessions of failure-details, by the counting rule."""
    best: dict[tuple[str, str], int] = {}
    for domain, types in _type_sums(report).items():
        for result_type, count in larger_of_types(t.result_types for t in types.values()).items():
            best[(domain, result_type)] = count
    return best


# --------------------------------------------------------------------------- filter text

#: What the explorer's text filter matches, one definition for the in-memory store and
#: the index: per unit (one report's facts for one policy domain) its domain, reporter,
#: every policy block's policy-type, STS mode and MX hosts, and every failure-details
#: row's text (:func:`failure_haystack_of`). Lower-case, one field per line.
FILTER_FIELDS = (
    "policy-domain",
    "reporter",
    "policy-type",
    "sts-mode",
    "mx-host",
    "result-type",
    "receiving-mx-hostname",
    "receiving-ip",
    "sending-mta-ip",
    "receiving-mx-helo",
    "additional-information",
    "failure-reason-code",
)


def failure_haystack_of(
    domain: str,
    reporter: str,
    result_type: str,
    receiving_mx_hostname: str | None,
    receiving_ip: str | None,
    sending_mta_ip: str | None,
    receiving_mx_helo: str | None,
    additional_information: str | None,
    failure_reason_code: str | None,
) -> str:
    """The text a failure-details row matches: its unit's domain and reporter and its own
    fields (the failure pane keeps a row when the filter text is in here)."""
    parts = (
        domain,
        reporter,
        result_type,
        receiving_mx_hostname,
        receiving_ip,
        sending_mta_ip,
        receiving_mx_helo,
        additional_information,
        failure_reason_code,
    )
    return "\n".join([p for p in parts if p]).lower()


def unit_haystack(
    domain: str,
    reporter: str,
    policies: Iterable[tuple[str, str | None, tuple[str, ...]]],
    failure_haystacks: Iterable[str] = (),
) -> str:
    """The text a unit matches: ``policies`` are its blocks' (policy-type, STS mode, MX
    hosts), ``failure_haystacks`` its failure rows' :func:`failure_haystack_of`."""
    pols = list(policies)
    words = [domain, reporter]
    words.extend([p[0] for p in pols])
    words.extend([p[1] for p in pols if p[1]])
    words.extend([host for p in pols for host in p[2]])
    words.extend(failure_haystacks)
    return "\n".join(words).lower()


def _pair() -> dict[str, int]:
    return {"successful": 0, "failed": 0}


def domains_document(
    unit_sums: Iterable[tuple[str, str, int, int]],
    policy_sums: Iterable[tuple[str, str, int, int]],
    type_sums: Iterable[tuple[str, str, int]],
) -> dict[str, dict[str, Any]]:
    """The ``domains`` object of ``summary --format json``, sorted by domain, from sums
    per (domain, reporter), (domain, policy type) and (domain, result type): the one
    builder, whether the sums come from reports in memory or from the index."""
    domains: dict[str, dict[str, Any]] = {}

    def entry(domain: str) -> dict[str, Any]:
        e = domains.get(domain)
        if e is None:
            e = domains[domain] = {
                "successful": 0,
                "failed": 0,
                "result-types": {},
                "reporters": {},
                "policy-types": {},
            }
        return e

    for domain, reporter, ok, failed in unit_sums:
        e = entry(domain)
        e["successful"] += ok
        e["failed"] += failed
        pair = e["reporters"].setdefault(reporter, _pair())
        pair["successful"] += ok
        pair["failed"] += failed
    for domain, policy_type, ok, failed in policy_sums:
        pair = entry(domain)["policy-types"].setdefault(policy_type, _pair())
        pair["successful"] += ok
        pair["failed"] += failed
    for domain, result_type, count in type_sums:
        types = entry(domain)["result-types"]
        types[result_type] = types.get(result_type, 0) + count
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


def summarize_domains(reports: Iterable[Report]) -> dict[str, dict[str, Any]]:
    """The ``domains`` object of ``summary --format json`` for these reports."""
    units: list[tuple[str, str, int, int]] = []
    policies: list[tuple[str, str, int, int]] = []
    types: list[tuple[str, str, int]] = []
    for report in reports:
        facts = facts_of(report)
        units.extend((f.domain, f.reporter, f.successful, f.failed) for f in facts.domains)
        policies.extend((p.domain, p.policy_type, p.successful, p.failed) for p in facts.policies)
        types.extend((d, t, n) for (d, t), n in result_type_counts(report).items())
    return domains_document(units, policies, types)


def failure_rate(successful: int, failed: int) -> float:
    total = successful + failed
    return failed / total if total else 0.0
