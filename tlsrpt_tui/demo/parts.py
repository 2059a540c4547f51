"""The parts every generated archive is made of: reporters, policy domains, and the
reports, gzip members, messages and mailboxes built from them.

Pure standard library (no Textual). The shipped demo (:mod:`tlsrpt_tui.demo.generator`)
and the benchmark world (:mod:`tlsrpt_tui.demo.world`) both build their reports here, so
a reporter's quirks (see the generator's docstring) are written once.

Everything is deterministic: randomness comes from seeded :class:`random.Random`
instances and keyed hashes, dates are arguments, and gzip members are written with
``mtime=0`` and a fixed header, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

JSONDict = dict[str, Any]

# --------------------------------------------------------------------------- constants

STS_TYPES = frozenset({"sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"})
DANE_TYPES = frozenset({"tlsa-invalid", "dnssec-invalid", "dane-required"})

#: ``YYYY/MM/DD/<submitter>!<policy-domain>!<begin>!<end>!<unique-id>.json[.gz]``
RFC8460_FILENAME_PATTERN = (
    r"^(?P<submitter>[^!/]+)!(?P<domain>[^!/]+)!(?P<begin>\d+)!(?P<end>\d+)"
    r"!(?P<uid>[^!/]+)\.json(?:\.gz)?$"
)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
FILETIME_OFFSET = 11_644_473_600  # seconds between 1601-01-01 and 1970-01-01
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Reporter:
    """A sending organisation that emits TLS-RPT reports, and how it writes them."""

    key: str  # short stable name used for seeding and look-ups
    organization_name: str
    submitter: str  # the domain in file names and TLS-Report-Submitter
    contact_info: str
    style: str  # google | microsoft | yahoo | mailru | sys4 | isp
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...] = ()
    share: float = 0.01  # share of a domain's inbound sessions this reporter sends
    gzip_level: int = 6
    gzip_xfl: int = 0
    gzip_os: int = 255
    #: A sys4 tlsrpt-reporter site whose Postfix checks MTA-STS as well as DANE: its
    #: reports carry both a ``tlsa`` and an ``sts`` block for a domain that has both.
    both_policies: bool = False

    @property
    def does_dane(self) -> bool:
        return self.style in ("microsoft", "sys4")


@dataclass(frozen=True, slots=True)
class MxHost:
    hostname: str
    ipv4: str
    ipv6: str | None = None
    weight: float = 1.0  # share of first delivery attempts
    helo: str | None = None

    @property
    def helo_name(self) -> str:
        return self.helo or self.hostname


@dataclass(frozen=True, slots=True)
class PolicyDomain:
    """A receiving domain with its MX hosts and published policies."""

    name: str
    mx: tuple[MxHost, ...]
    sts_mode: str | None = None  # enforce | testing | none | None (no MTA-STS)
    sts_mx: tuple[str, ...] = ()  # the ``mx:`` lines of the MTA-STS policy
    sts_max_age: int = 604800
    tlsa: tuple[str, ...] = ()  # TLSA records as "usage selector type HEX"
    daily_sessions: int = 100  # all reporters together, on a weekday

    def policy_string(self) -> list[str]:
        lines = ["version: STSv1", f"mode: {self.sts_mode}"]
        lines += [f"mx: {mx}" for mx in self.sts_mx]
        lines.append(f"max_age: {self.sts_max_age}")
        return lines


@dataclass(slots=True)
class Failure:
    """Failed sessions of one kind, as one failure-details row (before formatting)."""

    result_type: str
    count: int
    mx: MxHost | None = None
    sending_ip: str | None = None
    receiving_ip: str | None = None
    reason: str | None = None  # failure-reason-code, for reporters that send one


@dataclass(slots=True)
class Traffic:
    """What one reporter saw for one policy domain on one day."""

    successes: int
    failures: list[Failure] = field(default_factory=list)
    policy_fetched: bool = True  # False: MTA-STS policy could not be fetched


@dataclass(frozen=True, slots=True)
class GeneratedReport:
    filename: str  # RFC 8460 section 5.1 name, ending in .json.gz
    report: JSONDict

    @property
    def relpath(self) -> str:
        """``YYYY/MM/DD/<filename>`` (by the day the report starts)."""
        start = self.report["date-range"]["start-datetime"]
        return f"{start[0:4]}/{start[5:7]}/{start[8:10]}/{self.filename}"


# --------------------------------------------------------------------------- reporters

GOOGLE = Reporter(
    key="google",
    organization_name="Google Inc.",
    submitter="google.com",
    contact_info="smtp-tls-reporting@google.com",
    style="google",
    ipv4=tuple(f"203.0.113.{i}" for i in range(10, 30)),
    ipv6=tuple(f"2001:db8:4860:4864:20::{i:x}" for i in range(0x21, 0x31)),
    share=0.45,
    gzip_level=6,
    gzip_xfl=0,
    gzip_os=0,
)
MICROSOFT = Reporter(
    key="microsoft",
    organization_name="Microsoft Corporation",
    submitter="microsoft.com",
    contact_info="tlsrpt-noreply@microsoft.com",
    style="microsoft",
    ipv4=tuple(f"203.0.113.{i}" for i in range(100, 120)),
    ipv6=tuple(f"2001:db8:10b6:1::{i:x}" for i in range(0x10, 0x20)),
    share=0.25,
    gzip_level=1,
    gzip_xfl=4,
    gzip_os=0,
)
YAHOO = Reporter(
    key="yahoo",
    organization_name="Yahoo",
    submitter="yahoo.com",
    contact_info="tlsrpt@yahooinc.com",
    style="yahoo",
    ipv4=tuple(f"198.51.100.{i}" for i in range(200, 212)),
    ipv6=tuple(f"2001:db8:b000:1::{i:x}" for i in range(1, 9)),
    share=0.07,
    gzip_level=6,
    gzip_xfl=0,
    gzip_os=3,
)
MAILRU = Reporter(
    key="mailru",
    organization_name="Mail.ru",
    submitter="mail.ru",
    contact_info="tls_support@corp.mail.ru",
    style="mailru",
    ipv4=tuple(f"198.51.100.{i}" for i in range(180, 188)),
    share=0.015,
    gzip_level=6,
    gzip_xfl=0,
    gzip_os=255,
)
NORDWIND = Reporter(
    key="nordwind",
    organization_name="Nordwind Telecom",
    submitter="nordwind-telecom.example",
    contact_info="postmaster@nordwind-telecom.example",
    style="isp",
    ipv4=("198.51.100.25", "198.51.100.26"),
    share=0.006,
    gzip_level=9,
    gzip_xfl=2,
    gzip_os=3,
)
KESTREL = Reporter(
    key="kestrel",
    organization_name="mail.kestrel-consulting.example",
    submitter="mail.kestrel-consulting.example",
    contact_info="smtp-tls-reporting@mail.kestrel-consulting.example",
    style="sys4",
    ipv4=("198.51.100.41",),
    ipv6=("2001:db8:f00:41::25",),
    share=0.004,
    gzip_level=9,
    gzip_xfl=2,
    gzip_os=255,
)

#: Fictional small reporters for the benchmark pool: (organization-name, submitter, style).

# --------------------------------------------------------------------------- helpers


def day_start_unix(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400


def hash_int(*parts: object, bits: int = 64) -> int:
    data = "\x1f".join(str(p) for p in parts).encode()
    digest = hashlib.blake2b(data, digest_size=bits // 8).digest()
    return int.from_bytes(digest, "big")


def _uuid_like(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def clock(seconds: int) -> str:
    seconds %= 86400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def rfc5322_date(unix: int) -> str:
    """``Sat, 21 Nov 2026 07:12:00 +0000`` without locale or time zone influence."""
    d = date.fromordinal(_EPOCH_ORDINAL + unix // 86400)
    return (
        f"{_DAY_NAMES[d.weekday()]}, {d.day:02d} {_MONTH_NAMES[d.month - 1]} {d.year} "
        f"{clock(unix)} +0000"
    )


def _mbox_date(unix: int) -> str:
    d = date.fromordinal(_EPOCH_ORDINAL + unix // 86400)
    return (
        f"{_DAY_NAMES[d.weekday()]} {_MONTH_NAMES[d.month - 1]} {d.day:2d} {clock(unix)} {d.year}"
    )


def gzip_bytes(data: bytes, *, level: int = 9, xfl: int = 2, os_byte: int = 255) -> bytes:
    """A single gzip member with mtime 0, no file name and a fixed header."""
    body = zlib.compress(data, level, wbits=-15)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes((xfl, os_byte))
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


#: How a report's JSON is laid out: ``compact`` (no spaces, as most reporters write it),
#: ``spaced`` (a space after every separator: Python's default, as the sys4
#: tlsrpt-reporter writes it), ``indented`` (pretty-printed, two spaces a level).
JSON_LAYOUTS = ("compact", "spaced", "indented")


def encode_report(
    report: JSONDict, reporter: Reporter, *, bom: bool = False, layout: str = "compact"
) -> bytes:
    """The report as JSON laid out as ``layout`` says, gzipped the way ``reporter``'s
    software does."""
    if layout == "compact":
        data = json.dumps(report, separators=(",", ":")).encode()
    elif layout == "spaced":
        data = json.dumps(report).encode()
    elif layout == "indented":
        data = json.dumps(report, indent=2).encode()
    else:
        raise ValueError(f"unknown JSON layout {layout!r}; one of {', '.join(JSON_LAYOUTS)}")
    if bom:
        data = b"\xef\xbb\xbf" + data
    return gzip_bytes(
        data, level=reporter.gzip_level, xfl=reporter.gzip_xfl, os_byte=reporter.gzip_os
    )


def _split_count(rng: random.Random, total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    if parts == 1:
        return [total]
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def _pick_ips(rng: random.Random, reporter: Reporter, mx: MxHost | None) -> tuple[str, str | None]:
    """A sending IP and the receiving IP of the same address family."""
    if mx is not None and mx.ipv6 and reporter.ipv6 and rng.random() < 0.4:
        return rng.choice(reporter.ipv6), mx.ipv6
    return rng.choice(reporter.ipv4), (mx.ipv4 if mx is not None else None)


def spread_failures(
    rng: random.Random,
    reporter: Reporter,
    result_type: str,
    count: int,
    mx: MxHost | None,
    reason: str | None,
    *,
    max_rows: int = 4,
) -> list[Failure]:
    """Split ``count`` failed sessions over a few of ``reporter``'s sending IPs."""
    if count <= 0:
        return []
    rows: list[Failure] = []
    for part in _split_count(rng, count, rng.randint(1, max_rows)):
        sending, receiving = _pick_ips(rng, reporter, mx)
        rows.append(Failure(result_type, part, mx, sending, receiving, reason))
    return rows


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# --------------------------------------------------------------------------- reasons

_GO_REASONS = {
    "certificate-expired": "x509: certificate has expired or is not yet valid",
    "certificate-host-mismatch": "x509: certificate is valid for {other}, not {mx}",
    "certificate-not-trusted": "x509: certificate signed by unknown authority",
    "validation-failure": "tls: failed to verify certificate",
    "starttls-not-supported": "smtp: server doesn't support STARTTLS",
    "sts-policy-invalid": "invalid policy: unknown mode",
    "sts-webpki-invalid": (
        'Get "https://mta-sts.{domain}/.well-known/mta-sts.txt": '
        "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    ),
}
_POSTFIX_REASONS = {
    "certificate-expired": "certificate verification failed: certificate has expired",
    "certificate-host-mismatch": "server certificate name mismatch: {other}",
    "certificate-not-trusted": "certificate verification failed: unable to get local issuer",
    "validation-failure": "certificate verification failed",
    "starttls-not-supported": "TLS is required, but was not offered by host {mx}[{ip}]",
    "tlsa-invalid": "no TLSA record matches the certificate chain of {mx}[{ip}]",
    "dnssec-invalid": "DNSSEC validation of the TLSA RRset failed",
    "dane-required": "TLSA records unusable: all records have unsupported parameters",
    "sts-policy-fetch-error": "policy fetch failed: connection timed out",
    "sts-policy-invalid": "policy fetch failed: invalid policy",
    "sts-webpki-invalid": "policy fetch failed: certificate verify failed",
}


def failure_reason(
    reporter: Reporter, result_type: str, domain: str, mx: MxHost | None
) -> str | None:
    """The failure-reason-code ``reporter`` would write, or ``None`` if it sends none."""
    if reporter.style == "mailru":
        if result_type == "sts-policy-fetch-error":
            return "bad https response code: 404"
        text = _GO_REASONS.get(result_type, "tls: handshake failure")
    elif reporter.style in ("sys4", "isp"):
        text = _POSTFIX_REASONS.get(result_type, "TLS handshake failed")
    else:
        return None
    mx_name = mx.hostname if mx else ""
    return text.format(
        domain=domain,
        mx=mx_name,
        ip=mx.ipv4 if mx else "",
        other=f"mail.{domain}" if mx_name != f"mail.{domain}" else f"www.{domain}",
    )


# --------------------------------------------------------------------------- reports


def _date_range(day: date, next_midnight: bool) -> tuple[int, int, JSONDict]:
    start = day_start_unix(day)
    day_iso = day.isoformat()
    if next_midnight:
        end = start + 86400
        end_iso = f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
    else:
        end = start + 86399
        end_iso = f"{day_iso}T23:59:59Z"
    return start, end, {"start-datetime": f"{day_iso}T00:00:00Z", "end-datetime": end_iso}


def report_uid(reporter: Reporter, policy_domain: str, day: date, salt: object) -> str:
    """The unique-id of the report file (and the basis of the report-id)."""
    style = reporter.style
    if style in ("google", "mailru", "sys4"):
        return "001"
    h = hash_int(salt, reporter.key, policy_domain, day.toordinal(), bits=128)
    if style == "microsoft":
        sent = day_start_unix(day) + 86400 + 1800 + (h % 72000)
        return str((sent + FILETIME_OFFSET) * 10_000_000 + (h >> 64) % 10_000_000)
    if style == "yahoo":
        return _uuid_like(h)
    return f"{day_start_unix(day)}_{h >> 64}"  # isp


def report_filename(reporter: Reporter, policy_domain: str, day: date, salt: object) -> str:
    """``<submitter>!<policy-domain>!<begin>!<end>!<unique-id>.json.gz``."""
    start = day_start_unix(day)
    end = start + (86400 if reporter.style in ("mailru", "isp") else 86399)
    uid = report_uid(reporter, policy_domain, day, salt)
    return f"{reporter.submitter}!{policy_domain}!{start}!{end}!{uid}.json.gz"


def report_relpath(reporter: Reporter, policy_domain: str, day: date, salt: object) -> str:
    return f"{day:%Y/%m/%d}/{report_filename(reporter, policy_domain, day, salt)}"


def _report_id(reporter: Reporter, policy_domain: str, day: date, uid: str, salt: object) -> str:
    style = reporter.style
    if style == "google":
        return f"{day.isoformat()}T00:00:00Z_{policy_domain}"
    if style == "microsoft":
        return f"{uid}+{policy_domain}"
    if style == "mailru":
        return f"{_uuid_like(hash_int(salt, 'mailru', policy_domain, day, bits=128))}@mail.ru"
    if style == "sys4":
        return f"{day.isoformat()}T00:00:00Z_idx1_{policy_domain}"
    return uid  # yahoo, isp


def _detail(style: str, f: Failure) -> JSONDict:
    rt = f.result_type
    mx = f.mx
    row: JSONDict = {"result-type": rt}
    if style == "microsoft":
        if rt not in STS_TYPES and mx is not None:
            row["sending-mta-ip"] = f.sending_ip
            row["receiving-mx-hostname"] = mx.hostname
            row["receiving-ip"] = f.receiving_ip
    elif style == "mailru":
        if mx is not None:
            row["receiving-mx-hostname"] = mx.hostname
            row["receiving-ip"] = f.receiving_ip
        row["failed-session-count"] = f.count
        if f.reason:
            row["failure-reason-code"] = f.reason
        return row
    else:
        if f.sending_ip:
            row["sending-mta-ip"] = f.sending_ip
        if mx is not None:
            if style == "google":
                row["receiving-ip"] = f.receiving_ip
                row["receiving-mx-hostname"] = mx.hostname
            else:
                row["receiving-mx-hostname"] = mx.hostname
                if style in ("yahoo", "sys4"):
                    row["receiving-mx-helo"] = mx.helo_name
                row["receiving-ip"] = f.receiving_ip
    row["failed-session-count"] = f.count
    if style in ("sys4", "isp") and f.reason:
        row["failure-reason-code"] = f.reason
    return row


def _details(style: str, failures: Iterable[Failure]) -> list[JSONDict]:
    """Format rows and merge the ones that became identical (e.g. no IP shown)."""
    merged: dict[tuple[tuple[str, Any], ...], JSONDict] = {}
    for f in failures:
        row = _detail(style, f)
        key = tuple((k, v) for k, v in row.items() if k != "failed-session-count")
        if key in merged:
            merged[key]["failed-session-count"] += f.count
        else:
            merged[key] = row
    return list(merged.values())


def _block(
    style: str,
    policy: JSONDict,
    traffic: Traffic,
    *,
    excluded: frozenset[str] = frozenset(),
) -> JSONDict:
    """A policies[] entry; failures whose type is ``excluded`` count as successes."""
    kept = [f for f in traffic.failures if f.result_type not in excluded]
    moved = sum(f.count for f in traffic.failures if f.result_type in excluded)
    summary = {
        "total-successful-session-count": traffic.successes + moved,
        "total-failure-session-count": sum(f.count for f in kept),
    }
    details = _details(style, kept)
    if style == "sys4":
        return {"summary": summary, "policy": policy, "failure-details": details}
    entry: JSONDict = {"policy": policy, "summary": summary}
    if details or style == "isp":
        entry["failure-details"] = details
    return entry


def effective_policies(reporter: Reporter, domain: PolicyDomain) -> tuple[str, ...]:
    """The policy types ``reporter`` validates ``domain`` with ("sts", "tlsa")."""
    has_sts = domain.sts_mode is not None
    if reporter.style == "microsoft":
        return (("sts",) if has_sts else ()) + (("tlsa",) if domain.tlsa else ())
    if reporter.style == "sys4" and reporter.both_policies:
        return (("tlsa",) if domain.tlsa else ()) + (("sts",) if has_sts else ())
    if reporter.style == "sys4":  # Postfix prefers DANE over MTA-STS
        return ("tlsa",) if domain.tlsa else (("sts",) if has_sts else ())
    return ("sts",) if has_sts else ()


def build_report(
    reporter: Reporter,
    domain: PolicyDomain,
    day: date,
    traffic: Traffic,
    *,
    salt: object = "",
) -> GeneratedReport:
    """One daily report of ``reporter`` for ``domain``, written the way it writes them."""
    style = reporter.style
    name = domain.name
    _start, _end, date_range = _date_range(day, style in ("mailru", "isp"))
    uid = report_uid(reporter, name, day, salt)
    mx_names = [mx.hostname for mx in domain.mx]
    policies: list[JSONDict] = []
    kinds = effective_policies(reporter, domain)
    if "sts" in kinds:
        sts: JSONDict = {"policy-type": "sts"}
        if traffic.policy_fetched:
            sts["policy-string"] = domain.policy_string()
        sts["policy-domain"] = name
        if traffic.policy_fetched and style not in ("microsoft", "mailru"):
            sts["mx-host"] = list(domain.sts_mx)
        policies.append(_block(style, sts, traffic, excluded=DANE_TYPES))
    if "tlsa" in kinds:
        records = list(domain.tlsa)
        tlsa: JSONDict = {
            "policy-type": "tlsa",
            "policy-string": [json.dumps(records, separators=(",", ":"))]
            if style == "microsoft"
            else records,
            "policy-domain": name,
        }
        if style != "microsoft":
            tlsa["mx-host"] = mx_names
        policies.append(_block(style, tlsa, traffic, excluded=STS_TYPES))
    if not kinds:
        npf: JSONDict = {"policy-type": "no-policy-found"}
        if style == "isp":
            npf["policy-string"] = []
        npf["policy-domain"] = name
        if style == "isp":
            npf["mx-host"] = []
        policies.append(_block(style, npf, traffic))
    report: JSONDict = {
        "organization-name": reporter.organization_name,
        "date-range": date_range,
        "contact-info": reporter.contact_info,
    }
    report_id = _report_id(reporter, name, day, uid, salt)
    if style == "sys4":
        report["policies"] = policies
        report["report-id"] = report_id
    else:
        report["report-id"] = report_id
        report["policies"] = policies
    return GeneratedReport(report_filename(reporter, name, day, salt), report)


# --------------------------------------------------------------------------- email


def tlsrpt_message(
    *,
    report_gz: bytes,
    filename: str,
    reporter: Reporter,
    policy_domain: str,
    report_id: str,
    to_addr: str,
    sent_unix: int,
    salt: object = "",
    newline: str = "\n",
) -> bytes:
    """An RFC 8460 section 5.3 report message (multipart/report; report-type=tlsrpt)."""
    h = hash_int(salt, "message", filename, bits=128)
    b64 = base64.encodebytes(report_gz).decode("ascii").rstrip("\n").split("\n")
    if reporter.style == "google":
        stamp, _sep, rest = report_id.partition("_")
        subject_id = f"<{stamp.replace('-', '.').replace(':', '.')}+{rest}@google.com>"
        boundary = f"000000000000{h % 16**16:016x}"
        headers = [
            f"Return-Path: <noreply-smtp-tls-reporting@{reporter.submitter}>",
            f"Date: {rfc5322_date(sent_unix)}",
            f"TLS-Report-Domain: {policy_domain}",
            f"TLS-Report-Submitter: {reporter.submitter}",
            f"Message-ID: <{h >> 96:08x}.{(h >> 64) % 2**32:08x}.{h % 2**20:05x}tls@google.com>",
            f"Subject: Report Domain: {policy_domain} Submitter: {reporter.submitter} "
            f"Report-ID: {subject_id}",
            f"From: noreply-smtp-tls-reporting@{reporter.submitter}",
            f"To: {to_addr}",
            f'Content-Type: multipart/report; boundary="{boundary}"; report-type=tlsrpt',
            "MIME-Version: 1.0",
        ]
        text = [
            f"--{boundary}",
            'Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes',
            "",
            f"This is an aggregate TLS report from {reporter.submitter}",
            "",
        ]
        attachment = [
            f"--{boundary}",
            f'Content-Type: application/tlsrpt+gzip; name="{filename}"',
            f'Content-Disposition: attachment; filename="{filename}"',
            "Content-Transfer-Encoding: base64",
        ]
    else:
        u = _uuid_like(h)
        boundary = f"_{u}_"
        from_addr = reporter.contact_info
        headers = [
            f"Return-Path: {from_addr}",
            f"Received: from mx1.example.com (mx1.example.com [192.0.2.11])\n"
            f"\tby imap.example.com (Postfix) with ESMTPS id {h % 16**11:011X}\n"
            f"\tfor <{to_addr}>; {rfc5322_date(sent_unix + 3)}",
            f"Received: from outbound.{reporter.submitter} (unknown [203.0.113.105])\n"
            f"\tby mx1.example.com (Postfix) with ESMTPS id {(h >> 50) % 16**11:011X}\n"
            f"\tfor <{to_addr}>; {rfc5322_date(sent_unix + 2)}",
            f"From: <{from_addr}>",
            f'To: "{to_addr}" <{to_addr}>',
            f"Date: {rfc5322_date(sent_unix)}",
            f"Subject: Report Domain: {policy_domain} Submitter: {reporter.submitter}\n"
            f" Report-ID: <{report_id}>",
            f"TLS-Report-Domain: {policy_domain}",
            f"TLS-Report-Submitter: {reporter.submitter}",
            "MIME-Version: 1.0",
            f"Message-ID: <{report_id}@{policy_domain}>",
            f'Content-Type: multipart/report;\n\tboundary="{boundary}"; report-type="tlsrpt"',
        ]
        text = [
            "This is a multi-part message in MIME format.",
            "",
            f"--{boundary}",
            'Content-Type: text/html; charset="us-ascii"',
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "<html>",
            "<head>",
            '<meta http-equiv=3D"Content-Type" content=3D"text/html; charset=3Dus-ascii"=',
            ">",
            "</head>",
            "<body>",
            f"<div>This is an aggregate TLS report from {reporter.submitter}</div>",
            "</body>",
            "</html>",
            "",
        ]
        attachment = [
            f"--{boundary}",
            "Content-Type: application/tlsrpt+gzip",
            f"Content-Description:\n {filename}",
            f'Content-Disposition: attachment;\n\tfilename="{filename}"',
            "Content-Transfer-Encoding: base64",
        ]
    lines = [*headers, "", *text, *attachment, "", *b64, "", f"--{boundary}--", ""]
    return "\n".join(lines).replace("\n", newline).encode("ascii")


def mbox_bytes(messages: Sequence[tuple[str, int, bytes]]) -> bytes:
    """An mboxo file of (envelope sender, unix time, LF-terminated message) entries."""
    out = bytearray()
    for sender, unix, message in messages:
        out += f"From {sender} {_mbox_date(unix)}\n".encode("ascii")
        for line in message.split(b"\n"):
            if line.lstrip(b">").startswith(b"From "):
                line = b">" + line
            out += line + b"\n"
        if not message.endswith(b"\n"):
            out += b"\n"
    return bytes(out)
