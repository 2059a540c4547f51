"""Typed, immutable records for RFC 8460 aggregate reports.

Every field of RFC 8460 section 4.4 is represented, required and optional. Values
come from strangers: strings are kept exactly as sent (the UI escapes them), only
domains are normalised (lower case, no trailing dot, internationalized names as their
A-labels: RFC 8460 sends them so, and ``bücher.example`` is ``xn--bcher-kva.example``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep a hostile file from costing more than a bad report should (the
    loader applies them; the explorer and the commands only choose them)."""

    max_file_bytes: int = 256 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024


class PolicyType(StrEnum):
    STS = "sts"
    TLSA = "tlsa"
    NO_POLICY_FOUND = "no-policy-found"


#: The result-types RFC 8460 section 4.3 defines, grouped as the RFC groups them.
NEGOTIATION_RESULT_TYPES: tuple[str, ...] = (
    "starttls-not-supported",
    "certificate-host-mismatch",
    "certificate-expired",
    "certificate-not-trusted",
    "validation-failure",
)
DANE_RESULT_TYPES: tuple[str, ...] = ("tlsa-invalid", "dnssec-invalid", "dane-required")
STS_RESULT_TYPES: tuple[str, ...] = (
    "sts-policy-fetch-error",
    "sts-policy-invalid",
    "sts-webpki-invalid",
)
RFC_RESULT_TYPES: tuple[str, ...] = NEGOTIATION_RESULT_TYPES + DANE_RESULT_TYPES + STS_RESULT_TYPES

UNKNOWN_DOMAIN = "(unknown)"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a report was read from.

    ``part`` names the piece of a container the report came out of, for example
    ``"message 3, part 2 (report.json.gz)"`` in an mbox, or ``None`` for a bare file.
    """

    path: str
    part: str | None = None

    def describe(self) -> str:
        return self.path if self.part is None else f"{self.path} [{self.part}]"


@dataclass(frozen=True, slots=True)
class FailureDetail:
    result_type: str
    failed_session_count: int
    sending_mta_ip: str | None = None
    receiving_mx_hostname: str | None = None
    receiving_mx_helo: str | None = None
    receiving_ip: str | None = None
    additional_information: str | None = None
    failure_reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    policy_type: str  # one of PolicyType's values normally; kept as sent otherwise
    policy_domain: str
    policy_string: tuple[str, ...] = ()
    mx_host: tuple[str, ...] = ()
    total_successful_session_count: int = 0
    total_failure_session_count: int = 0
    failure_details: tuple[FailureDetail, ...] = ()
    #: Rows of failure-details folded into the last one (the loader keeps a bounded
    #: number per policy: see core.reading.loader.fold_details); 0 when all were kept.
    folded_details: int = 0

    @property
    def sts_mode(self) -> str | None:
        """The STS ``mode`` (enforce/testing/none) from policy-string, if present."""
        return sts_mode_of(self.policy_string)

    @property
    def sessions(self) -> int:
        return self.total_successful_session_count + self.total_failure_session_count

    @property
    def detail_failure_count(self) -> int:
        """Sum of failed-session-count over failure-details (may differ from the summary)."""
        return sum(d.failed_session_count for d in self.failure_details)


@dataclass(frozen=True, slots=True)
class Report:
    organization_name: str
    start: datetime  # timezone-aware UTC
    end: datetime  # timezone-aware UTC
    report_id: str
    contact_info: str | None
    policies: tuple[Policy, ...]
    source: Source
    warnings: tuple[str, ...] = ()

    @property
    def policy_domains(self) -> frozenset[str]:
        return frozenset(p.policy_domain for p in self.policies)

    @property
    def folded_details(self) -> int:
        """Failure-details rows folded, over all policies (0: every row kept)."""
        return sum(p.folded_details for p in self.policies)

    @property
    def identity(self) -> tuple[str, str, datetime, frozenset[str]]:
        """Two copies of a report are the same report when these are equal."""
        return (self.organization_name, self.report_id, self.start, self.policy_domains)


@dataclass(frozen=True, slots=True)
class LoadError:
    """A file (or part of one) that could not be read as a report, and why."""

    source: Source
    error: str


@dataclass(slots=True)
class LoadResult:
    """What one file yielded: any number of reports and errors. Never raises."""

    path: str
    reports: list[Report] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


def sts_mode_of(policy_string: tuple[str, ...] | list[str]) -> str | None:
    """Parse ``mode: enforce`` (RFC 8461 policy line) out of a policy-string list."""
    for line in policy_string:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "mode":
            mode = value.strip().lower()
            return mode or None
    return None


def normalise_domain(value: str) -> str:
    """Lower-case a domain, drop a trailing dot, and spell an internationalized one with
    A-labels (UTS 46 processing, non-transitional: ``Bücher.example`` ->
    ``xn--bcher-kva.example``), so both spellings are one domain everywhere.

    A name that is not valid IDNA keeps its text as given (lower-cased): it is still
    the name the reporter used, and not an error.
    """
    domain = value.strip().rstrip(".").lower()
    if domain.isascii():  # (the common case: A-labels and plain names as they are)
        return domain
    return _a_labels(domain)


@lru_cache(maxsize=4096)
def _a_labels(domain: str) -> str:
    import idna  # (here: only internationalized names need it)

    try:
        # The UTS 46 mapping: case folding, full-width letters and the ideographic full
        # stop (U+3002) as a dot, ...
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
        labels = [
            # (ASCII labels stay: a wildcard "*" or "_tls" is no IDNA label but fine here)
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in mapped.rstrip(".").split(".")
        ]
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain
    return ".".join(labels)


@lru_cache(maxsize=4096)
def u_label(domain: str) -> str | None:
    """The Unicode spelling of a domain with A-labels (``xn--bcher-kva.example`` ->
    ``bücher.example``), for people to read beside it; None when it has none, or when
    an ``xn--`` label does not decode (it is then shown as it is)."""
    if "xn--" not in domain:
        return None
    import idna

    try:
        labels = [
            idna.ulabel(label) if label.startswith("xn--") else label for label in domain.split(".")
        ]
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    text = ".".join(labels)
    return text if text != domain else None
