"""DKIM verification of report mail (RFC 8460 section 3).

Report mail must carry a valid DKIM signature (RFC 6376) by the reporting domain,
without an ``l=`` body length tag; unsigned reports must be ignored, because anyone
can send a report about any domain. Verification uses dkimpy; key look-ups go to the
system resolver or to a resolver given with ``--dns-resolver HOST[:PORT]``.

Verdicts:

``pass``       a valid signature without ``l=`` whose ``d=`` is the reporting domain
               (the TLS-Report-Submitter or the From domain), a subdomain of it or a
               parent domain of it
``fail``       signatures present, none of them good enough (reasons say why)
``none``       no DKIM-Signature at all
``temperror``  no good signature, and a key look-up failed for a reason that may go
               away (timeout, SERVFAIL): worth trying again later
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from typing import Any

import dkim
import dns.exception
import dns.rdatatype
import dns.resolver

from tlsrpt_tui.core.model import normalise_domain

#: ``dnsfunc(name, timeout=...)`` as dkimpy calls it: TXT data of ``name`` or None.
DnsFunc = Callable[..., bytes | None]

PASS = "pass"
FAIL = "fail"
NONE = "none"
TEMPERROR = "temperror"


@dataclass(frozen=True, slots=True)
class SignatureResult:
    domain: str | None
    selector: str | None
    ok: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "selector": self.selector,
            "ok": self.ok,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class DkimVerdict:
    verdict: str  # pass | fail | none | temperror
    domain: str | None = None  # d= of the passing (or first) signature
    selector: str | None = None
    reason: str = ""
    reporting_domains: tuple[str, ...] = ()
    signatures: tuple[SignatureResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "domain": self.domain,
            "selector": self.selector,
            "reason": self.reason,
            "reporting-domains": list(self.reporting_domains),
            "signatures": [s.as_json() for s in self.signatures],
        }


class _TempFailure(Exception):
    pass


def parse_resolver(value: str) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT`` -> (host, port); port 53 by default."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise ValueError(f"no host in {value!r}")
    number = int(port) if port else 53
    if not 0 < number < 65536:
        raise ValueError(f"bad port in {value!r}")
    return host, number


def make_dnsfunc(resolver_address: str | None = None) -> DnsFunc:
    """A dkimpy ``dnsfunc`` backed by dnspython.

    With ``resolver_address`` (``HOST[:PORT]``) queries go only there; otherwise the
    system's resolvers are used. Timeouts and SERVFAIL raise dkimpy's
    ``DnsTimeoutError`` so they can be told apart from a missing key.
    """
    if resolver_address is None:
        resolver = dns.resolver.Resolver(configure=True)
    else:
        host, port = parse_resolver(resolver_address)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            qname = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        try:
            answer = resolver.resolve(
                qname, dns.rdatatype.TXT, lifetime=timeout, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN:
            return None
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise dkim.DnsTimeoutError(f"{qname}: {exc}") from None
        except dns.exception.DNSException as exc:
            raise dkim.DnsTimeoutError(f"{qname}: {exc}") from None
        response = answer.response
        for rrset in response.answer if response is not None else ():
            if rrset.rdtype == dns.rdatatype.TXT:
                for rdata in rrset:
                    return b"".join(rdata.strings)
        return None

    return dnsfunc


def reporting_domains(message: Message) -> tuple[str, ...]:
    """The domains a report mail claims to come from: TLS-Report-Submitter and From."""
    domains: list[str] = []
    submitter = message.get("TLS-Report-Submitter")
    if submitter:
        value = normalise_domain(str(submitter))
        if value and " " not in value:
            domains.append(value)
    try:
        senders = getaddresses([str(v) for v in message.get_all("From", [])])
    except Exception:
        senders = []
    for _, address in senders:
        if "@" in address:
            value = normalise_domain(address.rpartition("@")[2])
            if value and value not in domains:
                domains.append(value)
    return tuple(domains)


def aligned(signing_domain: str, domains: tuple[str, ...]) -> bool:
    """``d=`` is one of the reporting domains, a subdomain of one, or a parent of one."""
    d = normalise_domain(signing_domain)
    if not d:
        return False
    return any(d == r or r.endswith("." + d) or d.endswith("." + r) for r in domains)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.messages.append(record.getMessage())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def verify_report_mail(
    raw: bytes,
    message: Message,
    *,
    dnsfunc: DnsFunc | None = None,
    timeout: float = 5.0,
) -> DkimVerdict:
    """Check the DKIM signatures of one report mail (``raw`` exactly as received)."""
    domains = reporting_domains(message)
    lookup: DnsFunc = dnsfunc if dnsfunc is not None else make_dnsfunc()
    temp_failures: list[str] = []

    def guarded(name: bytes, timeout: float = timeout) -> bytes | None:
        try:
            return lookup(name, timeout=timeout)
        except dkim.DnsTimeoutError as exc:
            temp_failures.append(str(exc))
            raise

    collector = _Collector()
    logger = logging.Logger("tlsrpt_tui.ingest.dkim", logging.DEBUG)
    logger.addHandler(collector)
    try:
        verifier = dkim.DKIM(raw, logger=logger, minkey=1024, timeout=timeout, tlsrpt=True)
    except dkim.DKIMException as exc:
        return DkimVerdict(
            FAIL, reason=f"message cannot be checked: {exc}", reporting_domains=domains
        )
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    if count == 0:
        return DkimVerdict(NONE, reason="no DKIM signature", reporting_domains=domains)

    results: list[SignatureResult] = []
    for index in range(count):
        collector.messages.clear()
        verifier.signature_fields = {}
        before = len(temp_failures)
        try:
            ok = bool(verifier.verify(idx=index, dnsfunc=guarded))
            reason = "" if ok else "; ".join(collector.messages) or "signature does not verify"
        except dkim.DKIMException as exc:
            ok, reason = False, str(exc) or type(exc).__name__
        fields = verifier.signature_fields or {}
        domain = _text(fields.get(b"d"))
        selector = _text(fields.get(b"s"))
        if len(temp_failures) > before:
            ok, reason = False, f"key look-up failed: {temp_failures[-1]}"
        elif ok and b"l" in fields:
            ok, reason = False, "signature has an l= tag (RFC 8460 section 3 forbids it)"
        elif ok and not aligned(domain or "", domains):
            wanted = ", ".join(domains) or "no reporting domain"
            ok, reason = False, f"signed by {domain}, not by the reporting domain ({wanted})"
        result = SignatureResult(domain, selector, ok, reason or "valid")
        results.append(result)
        if ok:
            return DkimVerdict(
                PASS,
                domain=domain,
                selector=selector,
                reason=f"valid signature by {domain}",
                reporting_domains=domains,
                signatures=tuple(results),
            )
    first = results[0]
    verdict = TEMPERROR if temp_failures else FAIL
    return DkimVerdict(
        verdict,
        domain=first.domain,
        selector=first.selector,
        reason="; ".join(f"d={r.domain} s={r.selector}: {r.reason}" for r in results),
        reporting_domains=domains,
        signatures=tuple(results),
    )
