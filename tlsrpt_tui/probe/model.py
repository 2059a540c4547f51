"""Results of a live probe: one :class:`Check` per thing looked at, and the whole run.

Strings in a check come partly from the network (TXT records, SMTP banners,
certificate names, HTTP bodies). They are passed through :func:`plain` when the
check is made, so no control character, bidi override or line separator survives
into a terminal. They may still contain ``[``: a Rich/Textual consumer must escape
markup itself.

``explains`` lists RFC 8460 result-types. Its meaning follows the verdict:

* ``fail`` / ``warn``: the result-types this finding explains;
* ``pass`` / ``info``: the result-types this check covers and found no cause for now
  (``info``: nothing to check, e.g. no TLSA records where DANE is not expected);
* ``error``: the result-types the check could not look into: a step or a prerequisite
  could not be looked up, so the check says "could not check", never "pass".

Exit status of ``tlsrpt-tui probe`` (:attr:`ProbeResult.exit_status`): 0 no ``fail``
and no ``error`` (``warn`` and ``info`` allowed); 1 any ``fail``; 3 no ``fail`` but at
least one ``error``. (2 is a usage error, raised before anything is probed.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tlsrpt_tui.core.text import plain

Verdict = Literal["pass", "info", "warn", "fail", "error"]
VERDICTS: tuple[Verdict, ...] = ("pass", "info", "warn", "fail", "error")

#: Verdicts that make a probe "not ok".
FAILING_VERDICTS: frozenset[str] = frozenset({"fail", "error"})

#: How each verdict is counted in words: one phrase for ``probe``, the explorer's
#: probe block and its toast, so they say the same thing.
VERDICT_WORDS: dict[str, str] = {
    "pass": "passed",
    "info": "info",
    "warn": "warning",
    "fail": "failed",
    "error": "could not check",
}

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_CHECKED = 3

# Check names, in the order they are reported.
CHECK_TLSRPT_RECORD = "tlsrpt-record"
CHECK_MX_RECORDS = "mx-records"
CHECK_STS_RECORD = "mta-sts-record"
CHECK_STS_POLICY = "mta-sts-policy"
CHECK_STS_MX = "mta-sts-mx"
CHECK_STARTTLS = "smtp-starttls"
CHECK_CERT_EXPIRY = "certificate-expiry"
CHECK_CERT_TRUST = "certificate-trust"
CHECK_CERT_NAMES = "certificate-names"
CHECK_DANE = "dane-tlsa"

CHECK_ORDER: tuple[str, ...] = (
    CHECK_TLSRPT_RECORD,
    CHECK_MX_RECORDS,
    CHECK_STS_RECORD,
    CHECK_STS_POLICY,
    CHECK_STS_MX,
    CHECK_STARTTLS,
    CHECK_CERT_EXPIRY,
    CHECK_CERT_TRUST,
    CHECK_CERT_NAMES,
    CHECK_DANE,
)

#: Checks that are about one MX host (their ``target`` is the host name).
PER_MX_CHECKS: frozenset[str] = frozenset(
    {CHECK_STARTTLS, CHECK_CERT_EXPIRY, CHECK_CERT_TRUST, CHECK_CERT_NAMES, CHECK_DANE}
)


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict with its evidence."""

    name: str
    target: str
    verdict: Verdict
    summary: str
    evidence: list[str] = field(default_factory=list)
    explains: tuple[str, ...] = ()
    #: The IP address this check is about (per-address MX checks), or None.
    address: str | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")
        object.__setattr__(self, "target", plain(self.target))
        object.__setattr__(self, "summary", plain(self.summary))
        object.__setattr__(self, "evidence", [plain(str(line)) for line in self.evidence])
        object.__setattr__(self, "explains", tuple(self.explains))

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING_VERDICTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "verdict": self.verdict,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "explains": list(self.explains),
            "address": self.address,
        }


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Everything one probe run found. ``started``/``finished`` are aware UTC datetimes."""

    domain: str
    started: datetime
    finished: datetime
    checks: tuple[Check, ...]
    #: The MX hosts that were probed (from DNS, or as given).
    mx_hosts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check failed or errored (warnings are fine)."""
        return not any(check.failed for check in self.checks)

    @property
    def exit_status(self) -> int:
        """0 no fail and no error; 1 any fail; 3 no fail but an error (could not check)."""
        verdicts = {check.verdict for check in self.checks}
        if "fail" in verdicts:
            return EXIT_FAILED
        if "error" in verdicts:
            return EXIT_NOT_CHECKED
        return EXIT_OK

    def outcome(self) -> str:
        """One line in words: ``FAILED: 1 failed, 6 could not check, 3 passed``."""
        counts = self.counts()
        order = ("fail", "error", "warn", "info", "pass")
        parts = []
        for verdict in order:
            n = counts[verdict]
            if n:
                word = VERDICT_WORDS[verdict]
                parts.append(f"{n} {word}{'s' if verdict == 'warn' and n != 1 else ''}")
        head = {
            EXIT_FAILED: "FAILED",
            EXIT_NOT_CHECKED: "COULD NOT CHECK",
            EXIT_OK: "OK",
        }[self.exit_status]
        return f"{head}: {', '.join(parts) or 'no checks'}"

    @property
    def duration(self) -> float:
        return (self.finished - self.started).total_seconds()

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for check in self.checks:
            counts[check.verdict] += 1
        return counts

    def domain_checks(self) -> list[Check]:
        """The domain-wide checks (records, MX list, MTA-STS)."""
        return [c for c in self.checks if c.name not in PER_MX_CHECKS]

    def for_target(self, target: str) -> list[Check]:
        """The checks about one MX host (STARTTLS, certificate, DANE)."""
        wanted = target.strip().rstrip(".").lower()
        return [c for c in self.checks if c.target.lower() == wanted]

    def explaining(self, result_type: str) -> list[Check]:
        """Failing or warning checks whose finding explains ``result_type``."""
        return [
            c for c in self.checks if c.verdict in ("fail", "warn") and result_type in c.explains
        ]

    def covering(self, result_type: str) -> list[Check]:
        """Every check that looked at a possible cause of ``result_type``, any verdict."""
        return [c for c in self.checks if result_type in c.explains]

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
            "mx_hosts": list(self.mx_hosts),
            "checks": [check.to_dict() for check in self.checks],
            "counts": self.counts(),
            "ok": self.ok,
            "exit-status": self.exit_status,
        }
