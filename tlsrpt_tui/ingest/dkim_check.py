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

A signature's expiry (``x=``, Google's is about a week) is checked against the time
the message arrived (its topmost ``Received`` header, else its ``Date``), not against
the clock: report mail imported or fetched a month later was valid when it came. The
time used is recorded in the verdict (``verified-as-of``, ``as-of-from``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import dkim
import dkim.util
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
    #: The moment signature expiry was checked against (ISO, UTC), and where it came
    #: from: ``Received`` (the topmost), ``Date`` or ``now``.
    as_of: str | None = None
    as_of_from: str | None = None

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
            "verified-as-of": self.as_of,
            "as-of-from": self.as_of_from,
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


#: dkimpy's leeway for mailers with inaccurate clocks, kept for the expiry check.
CLOCK_SLOP = 36000


def _parse_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def arrival_time(message: Message, now: datetime | None = None) -> tuple[datetime, str]:
    """When the message arrived, and from which header: the date of the topmost
    ``Received`` (added by the server that took the mail in), else ``Date``, else now.

    Never later than now: a header dated in the future does not make an expired
    signature good, it only stops an old one from being judged by today's clock.
    """
    current = now or datetime.now(UTC)
    try:
        received = [str(v) for v in message.get_all("Received", [])]
    except Exception:
        received = []
    candidates: list[tuple[str, str]] = []
    if received:
        candidates.append(("Received", received[0].rpartition(";")[2]))
    date = message.get("Date")
    if date is not None:
        candidates.append(("Date", str(date)))
    for name, value in candidates:
        moment = _parse_date(re.sub(r"\s+", " ", value))
        if moment is not None:
            return min(moment, current), name
    return current, "now"


class _ExpiryError(dkim.ValidationError):  # type: ignore[misc]
    pass


class _DatedDKIM(dkim.DKIM):  # type: ignore[misc]
    """dkimpy's verifier, with ``x=`` checked against :attr:`as_of` instead of the clock.

    (dkimpy offers no way to pass a time: this repeats its ``verify_headerprep`` and
    leaves its other checks, ``t=`` in the future included, as they are.)
    """

    as_of: int = 0

    def verify_headerprep(self, idx: int = 0) -> Any:
        headers = [(x, y) for x, y in self.headers if x.lower() == b"dkim-signature"]
        if len(headers) <= idx:
            return False
        try:
            sig = dkim.util.parse_tag_value(headers[idx][1])
        except dkim.util.InvalidTagValueList as exc:
            raise dkim.MessageFormatError(exc) from None
        self.signature_fields = sig
        _check_expiry(sig, self.as_of)
        dkim.validate_signature_fields({k: v for k, v in sig.items() if k != b"x"})
        self.domain = sig[b"d"]
        self.selector = sig[b"s"]
        include_headers = [x.lower() for x in re.split(rb"\s*:\s*", sig[b"h"])]
        self.include_headers = tuple(include_headers)
        return sig, include_headers, headers


def _check_expiry(sig: dict[bytes, bytes], as_of: int) -> None:
    if b"x" not in sig:
        return
    if re.fullmatch(rb"\d+", sig[b"x"]) is None:
        raise dkim.ValidationError(f"x= value is not a decimal integer ({sig[b'x']!r})")
    expiry = int(sig[b"x"])
    if expiry < as_of - CLOCK_SLOP:
        when = datetime.fromtimestamp(expiry, UTC).isoformat(timespec="seconds")
        arrived = datetime.fromtimestamp(as_of, UTC).isoformat(timespec="seconds")
        raise _ExpiryError(f"signature expired (x= {when}) before the message arrived ({arrived})")
    t = sig.get(b"t", b"")
    if re.fullmatch(rb"\d+", t) and expiry < int(t):
        raise dkim.ValidationError(f"x= value is less than t= value (x={expiry} t={int(t)})")


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
    now: datetime | None = None,
) -> DkimVerdict:
    """Check the DKIM signatures of one report mail (``raw`` exactly as received),
    signature expiry as of the message's arrival (:func:`arrival_time`)."""
    arrived, arrived_from = arrival_time(message, now)
    verdict = _verify(raw, message, dnsfunc, timeout, int(arrived.timestamp()))
    return replace(
        verdict,
        as_of=arrived.isoformat(timespec="seconds").replace("+00:00", "Z"),
        as_of_from=arrived_from,
    )


def _verify(
    raw: bytes, message: Message, dnsfunc: DnsFunc | None, timeout: float, as_of: int
) -> DkimVerdict:
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
        verifier = _DatedDKIM(raw, logger=logger, minkey=1024, timeout=timeout, tlsrpt=True)
    except dkim.DKIMException as exc:
        return DkimVerdict(
            FAIL, reason=f"message cannot be checked: {exc}", reporting_domains=domains
        )
    verifier.as_of = as_of
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
