"""DANE for SMTP (RFC 7672): ``_25._tcp.<mx>`` TLSA, its DNSSEC status, and a match.

Only DANE-TA(2) and DANE-EE(3) records are usable for SMTP; PKIX-TA(0) and
PKIX-EE(1) are not (RFC 7672 section 3.1.3). A record set counts only when the
validating resolver sets the authenticated-data (AD) flag; SERVFAIL from a
validating resolver means the signatures are bogus.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from tlsrpt_tui.probe.certs import CertInfo, name_matches, names_for_matching
from tlsrpt_tui.probe.dns import DnsAnswer, DnsUnreachable
from tlsrpt_tui.probe.model import CHECK_DANE, Check

DANE_TYPES = ("tlsa-invalid", "dnssec-invalid", "validation-failure")
USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
MATCHING = {0: "Full", 1: "SHA2-256", 2: "SHA2-512"}
DIGEST_SIZES = {1: 32, 2: 64}


def tlsa_name(mx: str) -> str:
    return f"_25._tcp.{mx}"


@dataclass(frozen=True, slots=True)
class TlsaRecord:
    usage: int
    selector: int
    mtype: int
    data: bytes

    @classmethod
    def from_rdata(cls, rdata: Any) -> TlsaRecord:
        return cls(int(rdata.usage), int(rdata.selector), int(rdata.mtype), bytes(rdata.cert))

    def describe(self) -> str:
        usage = USAGES.get(self.usage, "?")
        selector = SELECTORS.get(self.selector, "?")
        mtype = MATCHING.get(self.mtype, "?")
        shown = self.data.hex()
        if len(shown) > 64:
            shown = shown[:64] + "..."
        return f"{self.usage} {self.selector} {self.mtype} {shown} ({usage} {selector} {mtype})"

    def unusable_reason(self) -> str | None:
        if self.usage in (0, 1):
            return (
                f"usage {self.usage} ({USAGES[self.usage]}) is not used for SMTP (RFC 7672 3.1.3)"
            )
        if self.usage not in (2, 3):
            return f"unknown usage {self.usage}"
        if self.selector not in SELECTORS:
            return f"unknown selector {self.selector}"
        if self.mtype not in MATCHING:
            return f"unknown matching type {self.mtype}"
        size = DIGEST_SIZES.get(self.mtype)
        if size is not None and len(self.data) != size:
            return f"{MATCHING[self.mtype]} data is {len(self.data)} bytes, must be {size}"
        return None

    def matches(self, info: CertInfo) -> bool:
        if self.selector == 0:
            subject: bytes | None = info.der
        else:
            subject = info.spki_der()
        if subject is None:
            return False
        if self.mtype == 0:
            return subject == self.data
        if self.mtype == 1:
            return hashlib.sha256(subject).digest() == self.data
        if self.mtype == 2:
            return hashlib.sha512(subject).digest() == self.data
        return False


def _chain_links(chain: list[CertInfo], upto: int) -> str | None:
    """Why chain[0..upto] does not link by signatures, or None when it does."""
    for index in range(upto):
        child, parent = chain[index].cert, chain[index + 1].cert
        if child is None or parent is None:
            return f"chain[{index}] or chain[{index + 1}] is unreadable"
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError) as exc:
            return f"chain[{index}] is not issued by chain[{index + 1}]: {exc}"
        except Exception as exc:  # InvalidSignature and friends
            return f"chain[{index}] signature does not verify with chain[{index + 1}]: {exc!r}"
    return None


def match_tlsa(
    records: list[TlsaRecord], chain: list[CertInfo], host_names: list[str]
) -> tuple[bool, list[str], int]:
    """Whether any usable record authenticates the chain; evidence; count of usable records."""
    evidence: list[str] = []
    usable = 0
    matched = False
    for record in records:
        reason = record.unusable_reason()
        if reason is not None:
            evidence.append(f"TLSA {record.describe()}: unusable, {reason}")
            continue
        usable += 1
        if not chain:
            evidence.append(f"TLSA {record.describe()}: not matched (no certificate)")
            continue
        if record.usage == 3:
            if record.matches(chain[0]):
                evidence.append(f"TLSA {record.describe()}: matches the server certificate")
                matched = True
            else:
                evidence.append(f"TLSA {record.describe()}: does not match the server certificate")
            continue
        # DANE-TA: a certificate above the leaf, the chain linking to it, and the name.
        hits = [i for i in range(1, len(chain)) if record.matches(chain[i])]
        if not hits:
            note = " (the server's chain must include the trust-anchor certificate)"
            evidence.append(
                f"TLSA {record.describe()}: matches no issuer certificate in the chain{note}"
            )
            continue
        index = hits[0]
        broken = _chain_links(chain, index)
        if broken:
            evidence.append(f"TLSA {record.describe()}: matches chain[{index}] but {broken}")
            continue
        names, _ = names_for_matching(chain[0])
        if not any(name_matches(n, h) for n in names for h in host_names):
            evidence.append(
                f"TLSA {record.describe()}: matches trust anchor chain[{index}] but the "
                f"certificate names {', '.join(names) or '(none)'} do not cover "
                f"{', '.join(host_names)}"
            )
            continue
        evidence.append(f"TLSA {record.describe()}: trust anchor chain[{index}] matches")
        matched = True
    return matched, evidence, usable


def dane_ee_matches(answer: DnsAnswer | DnsUnreachable | None, chain: list[CertInfo]) -> bool:
    """Whether an authenticated, usable DANE-EE (3 x x) record matches the leaf: then
    DANE senders ignore the certificate's names and dates (RFC 7672 §3.1.1)."""
    if not isinstance(answer, DnsAnswer) or not answer.ad or not chain:
        return False
    records = [TlsaRecord.from_rdata(r) for r in answer.records]
    return any(
        r.usage == 3 and r.unusable_reason() is None and r.matches(chain[0]) for r in records
    )


def dane_check(
    mx: str,
    answer: DnsAnswer | DnsUnreachable,
    cd_answer: DnsAnswer | DnsUnreachable | None,
    chain: list[CertInfo] | None,
    tls_problem: str | None,
    address_ad: bool | None,
    *,
    dane_expected: bool = False,
    owner: str | None = None,
    address: str | None = None,
    names: list[str] | None = None,
) -> Check:
    """The ``dane-tlsa`` check for one MX host (and ``address``, the one whose
    certificate ``chain`` is). ``owner`` is where the TLSA records were found (the
    CNAME-expanded name, RFC 7672 §2.2.2); ``names`` the names the certificate may
    carry for DANE-TA (the MX host, and its expanded name)."""
    owner = owner or tlsa_name(mx)
    checked = _dane_check(
        mx, owner, answer, cd_answer, chain, tls_problem, address_ad, dane_expected, names
    )
    return replace(checked, address=address)


def _dane_check(
    mx: str,
    owner: str,
    answer: DnsAnswer | DnsUnreachable,
    cd_answer: DnsAnswer | DnsUnreachable | None,
    chain: list[CertInfo] | None,
    tls_problem: str | None,
    address_ad: bool | None,
    dane_expected: bool,
    names: list[str] | None,
) -> Check:
    if isinstance(answer, DnsUnreachable):
        return Check(
            CHECK_DANE,
            mx,
            "error",
            f"could not look up {owner} TLSA: {answer}",
            [str(answer)],
            DANE_TYPES,
        )
    evidence = [answer.describe()]
    if address_ad is not None:
        evidence.append(f"address records of {mx}: AD={int(address_ad)}")
    if answer.servfail:
        summary = f"the validating resolver answers SERVFAIL for {owner} TLSA"
        if isinstance(cd_answer, DnsAnswer):
            evidence.append(cd_answer.describe())
            if cd_answer.noerror:
                summary += (
                    "; with checking disabled (CD) it answers: the DNSSEC signatures are bogus"
                )
        return Check(
            CHECK_DANE, mx, "fail", summary, evidence, ("dnssec-invalid", "validation-failure")
        )
    if not answer.noerror and not answer.nxdomain:
        return Check(
            CHECK_DANE,
            mx,
            "fail",
            f"TLSA lookup failed: {answer.rcode}",
            evidence,
            ("dnssec-invalid",),
        )
    records = [TlsaRecord.from_rdata(r) for r in answer.records]
    if not records:
        # Information, not a warning: most domains do not use DANE. It is worth a
        # warning when DANE is expected (the domain's reports carry tlsa policies) or
        # the zone is signed (authenticated denial), where TLSA is one step away.
        if answer.ad or dane_expected:
            why = (
                "the zone is signed (authenticated denial)"
                if answer.ad
                else "reports for this domain carry tlsa policies"
            )
            return Check(
                CHECK_DANE,
                mx,
                "warn",
                f"no TLSA records at {owner} although {why}: DANE is not in use for {mx}; "
                "a sender configured to require DANE reports dane-required",
                evidence,
                ("dane-required",),
            )
        return Check(
            CHECK_DANE,
            mx,
            "info",
            f"DANE not in use: no TLSA records at {owner} (unsigned or unvalidated answer)",
            evidence,
            ("dane-required",),
        )
    if not answer.ad:
        evidence.extend(f"TLSA {r.describe()}" for r in records)
        evidence.append(
            "senders ignore TLSA records that are not DNSSEC-authenticated; if the zone is "
            "signed, make sure --resolver is a validating resolver"
        )
        return Check(
            CHECK_DANE,
            mx,
            "warn",
            f"{len(records)} TLSA record(s) but not DNSSEC-authenticated (AD=0): DANE is not "
            "in effect",
            evidence,
            ("dane-required", "dnssec-invalid"),
        )
    matched, match_evidence, usable = match_tlsa(records, chain or [], names or [mx])
    evidence.extend(match_evidence)
    if not chain:
        return Check(
            CHECK_DANE,
            mx,
            "error",
            f"{len(records)} authenticated TLSA record(s), not matched: "
            f"{tls_problem or 'no certificate was presented'}",
            evidence,
            ("tlsa-invalid", "validation-failure"),
        )
    if matched:
        return Check(
            CHECK_DANE,
            mx,
            "pass",
            "DNSSEC-authenticated TLSA record matches the presented certificate",
            evidence,
            DANE_TYPES,
        )
    if usable == 0:
        return Check(
            CHECK_DANE,
            mx,
            "warn",
            "none of the TLSA records is usable for SMTP: senders fall back to unauthenticated TLS",
            evidence,
            ("tlsa-invalid",),
        )
    return Check(
        CHECK_DANE,
        mx,
        "fail",
        f"none of the {usable} usable TLSA record(s) matches the presented certificate",
        evidence,
        ("tlsa-invalid", "validation-failure"),
    )
