"""Reading the certificates an MX presented: expiry, names, and short descriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tlsrpt_tui.probe.model import Verdict

EXPIRY_WARN_DAYS = 14


@dataclass(frozen=True, slots=True)
class CertInfo:
    der: bytes
    cert: x509.Certificate | None
    error: str | None = None

    @classmethod
    def from_der(cls, der: bytes) -> CertInfo:
        try:
            return cls(der=der, cert=x509.load_der_x509_certificate(der))
        except ValueError as exc:
            return cls(der=der, cert=None, error=f"unparseable certificate: {exc}")

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string() if self.cert else "(unparseable)"

    @property
    def issuer(self) -> str:
        return self.cert.issuer.rfc4514_string() if self.cert else "(unparseable)"

    @property
    def self_signed(self) -> bool:
        return self.cert is not None and self.cert.subject == self.cert.issuer

    @property
    def sha256(self) -> str:
        return hashes_hex(self.der)

    def spki_der(self) -> bytes | None:
        if self.cert is None:
            return None
        try:
            return self.cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        except (ValueError, TypeError):  # unsupported key type
            return None

    def dns_names(self) -> list[str]:
        if self.cert is None:
            return []
        try:
            san = self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        except ValueError:
            return []
        return [str(v) for v in san.value.get_values_for_type(x509.DNSName)]

    def common_names(self) -> list[str]:
        if self.cert is None:
            return []
        return [str(a.value) for a in self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]

    def describe(self) -> str:
        if self.cert is None:
            return self.error or "(unparseable certificate)"
        names = self.dns_names()
        san = f"; SAN {', '.join(names)}" if names else "; no SAN"
        return (
            f"subject {self.subject}; issuer {self.issuer}{san}; "
            f"valid {self.cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
            f"{self.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; sha256 {self.sha256[:16]}..."
        )


def hashes_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize().hex()


@dataclass(frozen=True, slots=True)
class ExpiryFinding:
    verdict: Verdict
    summary: str
    evidence: list[str]


def expiry_finding(chain: list[CertInfo], now: datetime) -> ExpiryFinding:
    """Days to expiry of every presented certificate; the leaf first."""
    evidence: list[str] = []
    worst: Verdict = "pass"
    summary = ""
    for index, info in enumerate(chain):
        role = "leaf" if index == 0 else f"chain[{index}]"
        if info.cert is None:
            evidence.append(f"{role}: {info.error}")
            continue
        after = info.cert.not_valid_after_utc
        before = info.cert.not_valid_before_utc
        days = (after - now).total_seconds() / 86400
        if after <= now:
            ago = (now - after).total_seconds() / 86400
            line = f"{role} {info.subject} expired {ago:.1f} days ago ({after:%Y-%m-%d %H:%M} UTC)"
            evidence.append(line)
            if worst != "fail":
                summary = f"{role} certificate expired {ago:.1f} days ago ({after:%Y-%m-%d})"
            worst = "fail"
        elif before > now:
            line = f"{role} {info.subject} is not valid before {before:%Y-%m-%d %H:%M} UTC"
            evidence.append(line)
            if worst != "fail":
                summary = f"{role} certificate not yet valid (from {before:%Y-%m-%d %H:%M} UTC)"
            worst = "fail"
        else:
            evidence.append(
                f"{role} {info.subject} expires in {days:.1f} days ({after:%Y-%m-%d %H:%M} UTC)"
            )
            if days < EXPIRY_WARN_DAYS and worst == "pass":
                worst = "warn"
                summary = f"{role} certificate expires in {days:.1f} days ({after:%Y-%m-%d})"
    if worst == "pass":
        leaf = chain[0].cert if chain else None
        if leaf is None:
            return ExpiryFinding("warn", "no readable certificate", evidence)
        days = (leaf.not_valid_after_utc - now).total_seconds() / 86400
        summary = (
            f"certificate valid for {days:.0f} more days ({leaf.not_valid_after_utc:%Y-%m-%d})"
        )
    return ExpiryFinding(worst, summary, evidence)


def name_matches(presented: str, host: str) -> bool:
    """RFC 6125 matching: exact, or a ``*.`` wildcard standing for one whole left-most label."""
    presented = presented.strip().rstrip(".").lower()
    host = host.strip().rstrip(".").lower()
    if not presented or not host:
        return False
    if presented.startswith("*."):
        first, dot, rest = host.partition(".")
        return bool(first) and bool(dot) and rest == presented[2:] and "." in rest
    return presented == host


def names_for_matching(info: CertInfo) -> tuple[list[str], bool]:
    """The DNS names to match (SAN dNSNames, else the CN as legacy fallback)."""
    names = info.dns_names()
    if names:
        return names, False
    return info.common_names(), True
