"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record, the policy file and its ``mx`` patterns.

The policy is fetched the way a sending MTA fetches it: HTTPS GET of
``https://mta-sts.DOMAIN/.well-known/mta-sts.txt``, WebPKI certificate validation
for that host name, no redirects, a size limit. The host name is resolved through
the probe's own resolver (so split-horizon DNS and tests work) while the TLS SNI and
certificate name check still use the real name.
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from tlsrpt_tui.probe.dns import DnsAnswer, DnsClient, DnsUnreachable, txt_strings
from tlsrpt_tui.probe.model import (
    CHECK_STS_MX,
    CHECK_STS_POLICY,
    CHECK_STS_RECORD,
    Check,
    Verdict,
)

POLICY_PATH = "/.well-known/mta-sts.txt"
MAX_POLICY_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31557600
USER_AGENT = "tlsrpt-tui-probe"
#: aiohttp >= 3.10 tells DNS failures apart; older versions raise ClientConnectorError.
_DNS_ERROR: type[aiohttp.ClientConnectorError] = getattr(
    aiohttp, "ClientConnectorDNSError", aiohttp.ClientConnectorError
)

STS_VERSION_RE = re.compile(r"^v=STSv1[ \t]*(;|$)")
FIELD_DELIM_RE = re.compile(r"[ \t]*;[ \t]*")
STS_ID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
EXT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
EXT_VALUE_RE = re.compile(r"^[\x21-\x3a\x3c\x3e-\x7e]+$")
POLICY_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9\-_]{1,63}(?<!-)$")

STS_FETCH_TYPES = ("sts-policy-fetch-error", "sts-webpki-invalid")
STS_POLICY_TYPES = ("sts-policy-fetch-error", "sts-webpki-invalid", "sts-policy-invalid")


# --------------------------------------------------------------------------- TXT record


@dataclass(slots=True)
class StsRecordParse:
    text: str
    id: str | None = None
    errors: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)


def is_sts_candidate(text: str) -> bool:
    return STS_VERSION_RE.match(text) is not None


def parse_sts_record(text: str) -> StsRecordParse:
    """``v=STSv1; id=...`` (RFC 8461 section 3.1)."""
    result = StsRecordParse(text=text)
    if not is_sts_candidate(text):
        result.errors.append("does not begin with 'v=STSv1'")
        return result
    fields = FIELD_DELIM_RE.split(text)
    if fields and fields[-1] == "":
        fields.pop()
    for item in fields[1:]:
        name, eq, value = item.partition("=")
        if not eq:
            result.errors.append(f"field {item!r} has no '='")
        elif name == "id":
            if result.id is not None:
                result.errors.append("id given twice")
            elif not STS_ID_RE.match(value):
                result.errors.append(f"id {value!r} must be 1 to 32 letters and digits")
            else:
                result.id = value
        elif not EXT_NAME_RE.match(name) or not EXT_VALUE_RE.match(value):
            result.errors.append(f"field {item!r} is not a valid extension")
        else:
            result.extensions[name] = value
    if result.id is None and not any("id" in e for e in result.errors):
        result.errors.append("no id field")
    return result


#: Whether a usable ``_mta-sts`` record exists: yes, no, or the lookup got no answer.
RecordState = Literal["present", "absent", "unknown"]


def sts_record_check(domain: str, answer: DnsAnswer | DnsUnreachable) -> tuple[Check, RecordState]:
    """The ``mta-sts-record`` check, and whether a usable record exists."""
    target = f"_mta-sts.{domain}"
    if isinstance(answer, DnsUnreachable):
        return (
            Check(
                CHECK_STS_RECORD,
                target,
                "error",
                f"could not look up the MTA-STS record: {answer}",
                [str(answer)],
                STS_POLICY_TYPES,
            ),
            "unknown",
        )
    evidence = [answer.describe()]
    if not answer.noerror and not answer.nxdomain:
        return (
            Check(
                CHECK_STS_RECORD,
                target,
                "fail",
                f"MTA-STS TXT lookup failed: {answer.rcode} (senders cannot discover the policy)",
                evidence,
                ("sts-policy-fetch-error",),
            ),
            "unknown",
        )
    texts = txt_strings(answer)
    for rdata in answer.records:
        if len(rdata.strings) > 1:
            evidence.append(f"TXT record of {len(rdata.strings)} strings, joined")
    candidates = [t for t in texts if is_sts_candidate(t)]
    evidence.extend(f"discarded TXT {t!r}" for t in texts if t not in candidates)
    if not candidates:
        return (
            Check(
                CHECK_STS_RECORD,
                target,
                "warn",
                "no MTA-STS record: MTA-STS is not in use (senders that cached a policy "
                "keep it until max_age runs out)",
                evidence,
            ),
            "absent",
        )
    if len(candidates) > 1:
        evidence.extend(f"record: {t!r}" for t in candidates)
        return (
            Check(
                CHECK_STS_RECORD,
                target,
                "fail",
                f"{len(candidates)} MTA-STS records: senders treat this as no MTA-STS",
                evidence,
            ),
            "absent",
        )
    parsed = parse_sts_record(candidates[0])
    evidence.append(f"record: {parsed.text!r}")
    evidence.extend(f"error: {e}" for e in parsed.errors)
    if parsed.errors:
        return (
            Check(
                CHECK_STS_RECORD,
                target,
                "fail",
                f"invalid MTA-STS record: {parsed.errors[0]}",
                evidence,
            ),
            "absent",
        )
    return (
        Check(CHECK_STS_RECORD, target, "pass", f"MTA-STS record valid, id={parsed.id}", evidence),
        "present",
    )


# --------------------------------------------------------------------------- policy file


@dataclass(slots=True)
class StsPolicy:
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def valid_mx_pattern(pattern: str) -> bool:
    """``["*."] Domain`` with at least two labels after a wildcard."""
    name = pattern[2:] if pattern.startswith("*.") else pattern
    name = name.rstrip(".")
    labels = name.split(".")
    if pattern.startswith("*.") and len(labels) < 2:
        return False
    return bool(name) and all(LABEL_RE.match(label) for label in labels)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 4.1: a wildcard matches exactly one left-most label."""
    pattern = pattern.strip().rstrip(".").lower()
    host = host.strip().rstrip(".").lower()
    if pattern.startswith("*."):
        first, dot, rest = host.partition(".")
        return bool(first) and bool(dot) and rest == pattern[2:]
    return host == pattern


def parse_sts_policy(body: bytes) -> StsPolicy:
    """Parse a policy file (RFC 8461 section 3.2), strictly, saying why it is invalid."""
    policy = StsPolicy()
    if body.startswith(b"\xef\xbb\xbf"):
        policy.errors.append(
            "the policy starts with a UTF-8 byte-order mark: strict parsers read the "
            "first key as '\\ufeffversion' and find no version"
        )
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        policy.errors.append(f"the policy is not UTF-8 text ({exc.reason} at byte {exc.start})")
        text = body.decode("utf-8", errors="replace")
    if not text.strip():
        policy.errors.append("the policy is empty")
        return policy
    crlf = text.count("\r\n")
    lone_lf = text.count("\n") - crlf
    lone_cr = text.count("\r") - crlf
    if lone_cr:
        policy.errors.append(
            f"{lone_cr} bare CR line ending(s): a line ends with LF or CRLF, CR alone "
            "does not end a line"
        )
    if crlf and lone_lf:
        policy.warnings.append(f"mixed line endings ({crlf} CRLF, {lone_lf} LF)")
    policy.notes.append(
        "line endings: "
        + (
            "CRLF"
            if crlf and not lone_lf
            else "LF"
            if lone_lf and not crlf
            else "mixed"
            if crlf
            else "none (one line)"
        )
    )
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.strip() == "":
            policy.warnings.append(f"line {number} is empty")
            continue
        key, colon, value = line.partition(":")
        if not colon:
            policy.errors.append(f"line {number} {line!r} has no ':'")
            continue
        value = value.strip(" \t")
        if not POLICY_KEY_RE.match(key):
            policy.errors.append(f"line {number}: key {key!r} is malformed (no spaces before ':')")
            continue
        if key != "mx" and key in seen:
            policy.warnings.append(
                f"line {number}: {key!r} repeats line {seen[key]}; senders use the first"
            )
            continue
        seen.setdefault(key, number)
        if key == "version":
            policy.version = value
            if value != "STSv1":
                policy.errors.append(f"version is {value!r}, must be 'STSv1'")
        elif key == "mode":
            policy.mode = value
            if value not in ("enforce", "testing", "none"):
                policy.errors.append(f"mode {value!r} is not enforce, testing or none")
        elif key == "max_age":
            if not re.fullmatch(r"[0-9]{1,10}", value):
                policy.errors.append(f"max_age {value!r} is not a number of seconds")
            else:
                policy.max_age = int(value)
                if policy.max_age > MAX_AGE_LIMIT:
                    policy.errors.append(
                        f"max_age {policy.max_age} is above the maximum {MAX_AGE_LIMIT} (one year)"
                    )
                elif policy.max_age < 86400:
                    policy.warnings.append(
                        f"max_age {policy.max_age} is under a day; RFC 8461 suggests weeks"
                    )
        elif key == "mx":
            if not valid_mx_pattern(value):
                policy.errors.append(f"line {number}: mx pattern {value!r} is not a host name")
            else:
                policy.mx.append(value.lower().rstrip("."))
        else:
            if key.lower() in ("version", "mode", "max_age", "mx"):
                policy.errors.append(f"line {number}: key {key!r}: policy keys are case-sensitive")
            else:
                policy.notes.append(f"unknown key {key!r} ignored")
    for required in ("version", "mode", "max_age"):
        if required not in seen:
            policy.errors.append(f"no {required} field")
    if policy.mode in ("enforce", "testing") and not policy.mx:
        policy.errors.append(f"mode {policy.mode} needs at least one mx pattern")
    return policy


# --------------------------------------------------------------------------- fetching


class ProbeHttpResolver(AbstractResolver):
    """aiohttp resolver that asks the probe's DNS client instead of the system."""

    def __init__(self, client: DnsClient) -> None:
        self.client = client
        #: Set when the resolver gave no answer at all (not an answer saying "no address").
        self.unreachable: str | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses, _ = await self.client.addresses(host)
        except DnsUnreachable as exc:
            self.unreachable = str(exc)
            raise OSError(f"DNS lookup of {host} failed: {exc}") from None
        results: list[ResolveResult] = []
        for address in addresses:
            fam = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, fam):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=fam,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise OSError(f"{host} has no address records")
        return results

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class PolicyFetch:
    url: str
    ok: bool = False
    status: int | None = None
    content_type: str | None = None
    body: bytes = b""
    #: "webpki", "fetch", "unchecked" (the policy host's address could not be looked
    #: up: nothing is known about the policy) or None (fetched).
    problem: str | None = None
    message: str = ""
    evidence: list[str] = field(default_factory=list)


def policy_url(domain: str, https_port: int) -> str:
    port = "" if https_port == 443 else f":{https_port}"
    return f"https://mta-sts.{domain}{port}{POLICY_PATH}"


def _describe_cert_error(exc: aiohttp.ClientConnectorCertificateError) -> str:
    error: Any = exc.certificate_error
    message = getattr(error, "verify_message", None) or str(error)
    code = getattr(error, "verify_code", None)
    return f"{message} (verify code {code})" if code is not None else str(message)


async def fetch_policy(
    domain: str,
    client: DnsClient,
    ssl_context: ssl.SSLContext,
    https_port: int,
    timeout: float,
) -> PolicyFetch:
    """GET the policy like a sender would; never raises for network trouble."""
    url = policy_url(domain, https_port)
    fetch = PolicyFetch(url=url)
    host = f"mta-sts.{domain}"
    resolver = ProbeHttpResolver(client)
    connector = aiohttp.TCPConnector(
        resolver=resolver, ssl=ssl_context, use_dns_cache=False, limit=2
    )
    client_timeout = aiohttp.ClientTimeout(total=timeout * 2, connect=timeout, sock_read=timeout)
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=client_timeout, trust_env=False
            ) as session,
            session.get(
                url,
                allow_redirects=False,
                headers={"User-Agent": USER_AGENT, "Accept": "text/plain"},
            ) as response,
        ):
            fetch.status = response.status
            fetch.content_type = response.headers.get("Content-Type")
            fetch.evidence.append(
                f"HTTP {response.status} {response.reason or ''}".rstrip()
                + f", Content-Type: {fetch.content_type or '(none)'}"
            )
            peer = response.connection.transport if response.connection else None
            if peer is not None:
                peername = peer.get_extra_info("peername")
                if peername:
                    fetch.evidence.insert(0, f"connected to {peername[0]} port {peername[1]}")
            if 300 <= response.status < 400:
                fetch.problem = "fetch"
                location = response.headers.get("Location", "")
                fetch.message = (
                    f"HTTP {response.status} redirect to {location!r}: senders must not follow "
                    "redirects"
                )
                return fetch
            if response.status != 200:
                fetch.problem = "fetch"
                fetch.message = f"HTTP {response.status} for {POLICY_PATH}"
                return fetch
            body = await response.content.read(MAX_POLICY_BYTES + 1)
            if len(body) > MAX_POLICY_BYTES:
                fetch.problem = "fetch"
                fetch.message = f"the policy is larger than {MAX_POLICY_BYTES} bytes"
                return fetch
            fetch.body = body
            fetch.ok = True
            return fetch
    except aiohttp.ClientConnectorCertificateError as exc:
        fetch.problem = "webpki"
        fetch.message = (
            f"the certificate of {host} is not valid for WebPKI: {_describe_cert_error(exc)}"
        )
    except _DNS_ERROR as exc:
        fetch.problem = "fetch"
        fetch.message = f"cannot resolve {host}: {exc.os_error}"
    except aiohttp.ClientSSLError as exc:
        fetch.problem = "fetch"
        fetch.message = f"TLS handshake with {host} failed: {exc}"
    except aiohttp.ClientConnectorError as exc:
        fetch.problem = "fetch"
        fetch.message = f"cannot connect to {host} port {https_port}: {exc.os_error}"
    except TimeoutError:
        fetch.problem = "fetch"
        fetch.message = f"timed out fetching {url} (limit {timeout:g}s per step)"
    except aiohttp.ClientError as exc:
        fetch.problem = "fetch"
        fetch.message = f"HTTP error fetching {url}: {type(exc).__name__}: {exc}"
    except OSError as exc:
        fetch.problem = "fetch"
        fetch.message = f"cannot fetch {url}: {exc}"
    if resolver.unreachable is not None:
        fetch.problem = "unchecked"
        fetch.message = f"could not look up {host}: {resolver.unreachable}"
    return fetch


def policy_check(
    domain: str, fetch: PolicyFetch, record: RecordState
) -> tuple[Check, StsPolicy | None]:
    """The ``mta-sts-policy`` check: fetched? WebPKI-valid? parses? served as text/plain?

    A policy is only "not published" when the ``_mta-sts`` lookup answered that there
    is no record; when that lookup (or the policy host's) got no answer, the check
    could not be done and says so (``error``), never ``pass``."""
    evidence = [f"GET {fetch.url}", *fetch.evidence]
    target = f"mta-sts.{domain}"
    record_present = record == "present"
    if record == "absent":
        evidence.append("no usable _mta-sts TXT record: senders do not fetch this policy")
    elif record == "unknown":
        evidence.append("the _mta-sts TXT lookup got no answer: whether senders fetch is unknown")
    if not fetch.ok:
        evidence.append(fetch.message)
        if fetch.problem == "unchecked" or (record == "unknown" and fetch.problem != "webpki"):
            reason = (
                fetch.message
                if fetch.problem == "unchecked"
                else "the _mta-sts record could not be looked up, and " + fetch.message
            )
            return (
                Check(
                    CHECK_STS_POLICY,
                    target,
                    "error",
                    f"could not check the MTA-STS policy: {reason}",
                    evidence,
                    STS_POLICY_TYPES,
                ),
                None,
            )
        explains = (
            ("sts-webpki-invalid",) if fetch.problem == "webpki" else ("sts-policy-fetch-error",)
        )
        if record == "absent":
            return (
                Check(
                    CHECK_STS_POLICY,
                    target,
                    "warn" if fetch.problem == "webpki" else "pass",
                    "no MTA-STS policy published"
                    if fetch.problem != "webpki"
                    else f"no MTA-STS record, and the policy host fails: {fetch.message}",
                    evidence,
                    explains if fetch.problem == "webpki" else STS_POLICY_TYPES,
                ),
                None,
            )
        verdict: Verdict = "fail" if record_present else "warn"
        return Check(CHECK_STS_POLICY, target, verdict, fetch.message, evidence, explains), None
    policy = parse_sts_policy(fetch.body)
    content_type = (fetch.content_type or "").split(";")[0].strip().lower()
    wrong_type = (
        None
        if content_type == "text/plain"
        else (
            f"Content-Type is {fetch.content_type or '(none)'!r}, not text/plain (RFC 8461 "
            "§3.2): senders that check it reject the policy and report "
            "sts-policy-invalid or sts-policy-fetch-error"
        )
    )
    preview = fetch.body[:2048].decode("utf-8", errors="backslashreplace")
    evidence.append(f"policy ({len(fetch.body)} bytes): {preview!r}")
    if wrong_type:
        evidence.append(f"error: {wrong_type}")
    evidence.extend(f"error: {e}" for e in policy.errors)
    evidence.extend(f"warning: {w}" for w in policy.warnings)
    evidence.extend(f"note: {n}" for n in policy.notes)
    if policy.valid:
        evidence.append(
            f"version={policy.version} mode={policy.mode} max_age={policy.max_age} "
            f"mx={', '.join(policy.mx) or '(none)'}"
        )
    bad_verdict: Verdict = "fail" if record_present else "warn"
    if not policy.valid:
        return (
            Check(
                CHECK_STS_POLICY,
                target,
                bad_verdict,
                f"invalid MTA-STS policy: {policy.errors[0]}",
                evidence,
                ("sts-policy-invalid",),
            ),
            None,
        )
    if wrong_type:
        return (
            Check(
                CHECK_STS_POLICY,
                target,
                bad_verdict,
                wrong_type,
                evidence,
                ("sts-policy-invalid", "sts-policy-fetch-error"),
            ),
            policy,
        )
    if record == "absent":
        return (
            Check(
                CHECK_STS_POLICY,
                target,
                "warn",
                "an MTA-STS policy is published but no valid _mta-sts TXT record announces it",
                evidence,
                STS_POLICY_TYPES,
            ),
            policy,
        )
    mode_note = {
        "enforce": "senders refuse delivery on failures",
        "testing": "failures are reported, delivery proceeds",
        "none": "the policy is being retired",
    }.get(policy.mode or "", "")
    summary = (
        f"policy fetched and valid: mode {policy.mode} ({mode_note}), max_age {policy.max_age}"
    )
    if record == "unknown":
        summary += "; the _mta-sts record could not be looked up"
    if policy.warnings:
        return (
            Check(
                CHECK_STS_POLICY,
                target,
                "warn",
                f"policy valid with warnings: {policy.warnings[0]}",
                evidence,
                STS_POLICY_TYPES,
            ),
            policy,
        )
    return Check(CHECK_STS_POLICY, target, "pass", summary, evidence, STS_POLICY_TYPES), policy


def sts_mx_check(domain: str, policy: StsPolicy, dns_mx: list[str], given_mx: list[str]) -> Check:
    """The ``mta-sts-mx`` check: every MX host matches a policy ``mx`` pattern."""
    evidence = [f"policy mx patterns: {', '.join(policy.mx) or '(none)'}"]
    hosts: list[str] = []
    for host in [*dns_mx, *given_mx]:
        if host not in hosts:
            hosts.append(host)
    if policy.mode == "none":
        evidence.extend(f"MX {h}" for h in hosts)
        return Check(
            CHECK_STS_MX,
            domain,
            "pass",
            "mode none: MX hosts are not checked against the policy",
            evidence,
            ("validation-failure",),
        )
    unmatched: list[str] = []
    for host in hosts:
        matching = [p for p in policy.mx if mx_matches(p, host)]
        source = "DNS" if host in dns_mx else "given"
        if matching:
            evidence.append(f"MX {host} ({source}) matches {', '.join(matching)}")
        else:
            evidence.append(f"MX {host} ({source}) matches no pattern")
            unmatched.append(host)
    if not hosts:
        return Check(
            CHECK_STS_MX,
            domain,
            "warn",
            "no MX hosts to compare with the policy",
            evidence,
            ("validation-failure",),
        )
    if unmatched:
        verdict: Verdict = "fail" if policy.mode == "enforce" else "warn"
        return Check(
            CHECK_STS_MX,
            domain,
            verdict,
            f"MX {', '.join(unmatched)} not allowed by the MTA-STS policy "
            f"(mode {policy.mode}): senders refuse to deliver there",
            evidence,
            ("validation-failure", "certificate-host-mismatch"),
        )
    return Check(
        CHECK_STS_MX,
        domain,
        "pass",
        f"all {len(hosts)} MX host(s) match the policy",
        evidence,
        ("validation-failure",),
    )
