"""The TLS-RPT policy record, ``_smtp._tls.DOMAIN`` TXT, checked against RFC 8460 section 3.

    tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
    field-delim   = *WSP ";" *WSP
    tlsrpt-version = %s"v=TLSRPTv1"
    tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
    tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)

Records that do not begin with ``v=TLSRPTv1;`` are discarded; if not exactly one
remains, senders act as if there were no record. Commas and semicolons inside a
URI must be percent-encoded (they separate URIs and fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from tlsrpt_tui.probe.dns import DnsAnswer, DnsUnreachable, txt_strings
from tlsrpt_tui.probe.model import CHECK_TLSRPT_RECORD, Check, Verdict

VERSION_RE = re.compile(r"^v=TLSRPTv1[ \t]*;")
FIELD_DELIM_RE = re.compile(r"[ \t]*;[ \t]*")
URI_DELIM_RE = re.compile(r"[ \t]*,[ \t]*")
EXT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
EXT_VALUE_RE = re.compile(r"^[\x21-\x3a\x3c\x3e-\x7e]+$")
# RFC 3986 characters (unreserved, reserved, percent); anything else must be encoded.
URI_CHARS_RE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(slots=True)
class TlsRptParse:
    """One record, parsed. ``errors`` make it unusable; ``warnings`` don't."""

    text: str
    rua: list[str] = field(default_factory=list)
    extensions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and bool(self.rua)


def is_tlsrpt_candidate(text: str) -> bool:
    return VERSION_RE.match(text) is not None


def check_uri(uri: str) -> tuple[list[str], list[str]]:
    """Errors and warnings for one ``rua`` URI."""
    errors: list[str] = []
    warnings: list[str] = []
    if not uri:
        errors.append("empty URI in rua (a stray comma?)")
        return errors, warnings
    scheme, sep, rest = uri.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        errors.append(
            f"rua entry {uri!r} is not a URI (no scheme): an unencoded ',' inside a URI "
            "splits it in two; encode it as %2C"
        )
        return errors, warnings
    if not URI_CHARS_RE.match(uri):
        errors.append(f"rua URI {uri!r} has characters that must be percent-encoded")
    if PCT_RE.search(uri):
        errors.append(f"rua URI {uri!r} has a '%' that is not a %XX escape")
    lowered = scheme.lower()
    if lowered == "mailto":
        address = unquote(rest.split("?", 1)[0])
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or "." not in domain:
            errors.append(f"rua URI {uri!r}: mailto: needs an address like reports@example.com")
    elif lowered == "https":
        parts = urlsplit(uri)
        if not parts.hostname:
            errors.append(f"rua URI {uri!r}: https: URI without a host")
    else:
        errors.append(
            f"rua URI {uri!r}: scheme {scheme!r} is not allowed "
            "(RFC 8460 defines mailto: and https:)"
        )
    return errors, warnings


def parse_tlsrpt_record(text: str) -> TlsRptParse:
    """Validate one TXT record (character-strings already joined)."""
    result = TlsRptParse(text=text)
    if not is_tlsrpt_candidate(text):
        result.errors.append("does not begin with 'v=TLSRPTv1;'")
        return result
    if not text.isascii():
        result.errors.append("contains non-ASCII characters")
    fields = FIELD_DELIM_RE.split(text)
    if fields and fields[-1] == "":
        fields.pop()  # a trailing delimiter is allowed
    fields = fields[1:]  # the version
    if not fields:
        result.errors.append("no fields after the version (rua is required)")
    seen_rua = False
    for item in fields:
        if item == "":
            result.errors.append("empty field (two ';' in a row)")
            continue
        name, eq, value = item.partition("=")
        if not eq:
            result.errors.append(f"field {item!r} has no '='")
            continue
        if name == "rua":
            if seen_rua:
                result.warnings.append("rua given twice; senders may use either")
            seen_rua = True
            for uri in URI_DELIM_RE.split(value.strip()):
                errors, warnings = check_uri(uri)
                result.errors.extend(errors)
                result.warnings.extend(warnings)
                if not errors:
                    result.rua.append(uri)
            continue
        if name.lower() == "rua":
            result.errors.append(f"field name {name!r}: the 'rua' tag is case-sensitive")
            continue
        if not EXT_NAME_RE.match(name):
            result.errors.append(f"field name {name!r} is not a valid extension name")
        elif not EXT_VALUE_RE.match(value):
            result.errors.append(f"extension {name}={value!r} has characters not allowed")
        else:
            result.extensions[name] = value
    if not seen_rua:
        result.errors.append("no rua field: reports have nowhere to go")
    return result


def tlsrpt_check(domain: str, answer: DnsAnswer | DnsUnreachable) -> Check:
    """The ``tlsrpt-record`` check from the TXT lookup of ``_smtp._tls.DOMAIN``."""
    target = f"_smtp._tls.{domain}"
    if isinstance(answer, DnsUnreachable):
        return Check(
            CHECK_TLSRPT_RECORD,
            target,
            "error",
            f"could not look up the TLS-RPT record: {answer}",
            [str(answer)],
        )
    evidence = [answer.describe()]
    if answer.servfail:
        return Check(
            CHECK_TLSRPT_RECORD,
            target,
            "fail",
            "the resolver answered SERVFAIL for the TLS-RPT record (DNSSEC or server trouble)",
            evidence,
        )
    if not answer.noerror and not answer.nxdomain:
        return Check(
            CHECK_TLSRPT_RECORD,
            target,
            "fail",
            f"TXT lookup failed: {answer.rcode}",
            evidence,
        )
    texts = txt_strings(answer)
    for rdata in answer.records:
        if len(rdata.strings) > 1:
            evidence.append(
                f"TXT record of {len(rdata.strings)} strings, joined: "
                + " + ".join(repr(s.decode("utf-8", "backslashreplace")) for s in rdata.strings)
            )
    candidates = [t for t in texts if is_tlsrpt_candidate(t)]
    for text in texts:
        if text not in candidates:
            note = ""
            if text.lower().startswith("v=tlsrptv1"):
                note = " (the version tag is case-sensitive and must be followed by ';')"
            evidence.append(f"discarded TXT {text!r}{note}")
    if not candidates:
        return Check(
            CHECK_TLSRPT_RECORD,
            target,
            "fail",
            "no TLS-RPT record: senders send no reports",
            evidence,
        )
    if len(candidates) > 1:
        evidence.extend(f"record: {t!r}" for t in candidates)
        return Check(
            CHECK_TLSRPT_RECORD,
            target,
            "fail",
            f"{len(candidates)} TLS-RPT records: RFC 8460 requires exactly one, "
            "senders treat this as no record",
            evidence,
        )
    parsed = parse_tlsrpt_record(candidates[0])
    evidence.append(f"record: {parsed.text!r}")
    evidence.extend(f"error: {e}" for e in parsed.errors)
    evidence.extend(f"note: {w}" for w in parsed.warnings)
    evidence.extend(f"rua: {uri}" for uri in parsed.rua)
    evidence.extend(
        f"extension field (ignored by senders): {k}={v}" for k, v in parsed.extensions.items()
    )
    if not parsed.valid:
        return Check(
            CHECK_TLSRPT_RECORD,
            target,
            "fail",
            f"invalid TLS-RPT record: {parsed.errors[0]}",
            evidence,
        )
    verdict: Verdict = "warn" if parsed.warnings else "pass"
    first = parsed.warnings[0] if parsed.warnings else ""
    summary = (
        f"TLS-RPT record valid, reports go to {', '.join(parsed.rua)}"
        if verdict == "pass"
        else f"TLS-RPT record usable; {first}"
    )
    return Check(CHECK_TLSRPT_RECORD, target, verdict, summary, evidence)
