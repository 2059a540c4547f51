"""Deterministic generator of realistic SMTP TLS Reporting (RFC 8460) archives.

Pure standard library (no Textual): used by the bundled demo archive, by the
benchmarks and by tests.

Reports imitate what real reporters send (see the real-report corpus notes):

* Google: ``Google Inc.``, day ending ``23:59:59Z``, report-id
  ``2026-11-01T00:00:00Z_example.com``, ``mx-host`` as a list, one report per domain,
  no ``failure-details`` key when nothing failed.
* Microsoft: ``Microsoft Corporation``, the SAME sessions under an ``sts`` and a
  ``tlsa`` policy block when the domain has both, the TLSA ``policy-string`` is ONE
  string holding a JSON array of records, the unique-id is an 18-digit Windows
  FILETIME, ``sts-policy-fetch-error`` details carry only result-type and count.
* Yahoo: ``Yahoo``, contact ``tlsrpt@yahooinc.com`` (no real sample seen: modelled
  on the RFC with a ``receiving-mx-helo``).
* Mail.ru: ends at the next midnight, Go error texts in ``failure-reason-code``, no
  ``policy-string`` when the policy could not be fetched.
* Small reporters: Postfix sites running sys4 ``tlsrpt-reporter`` (organization-name
  is the host name, ``summary`` before ``policy``, ``failure-details: []``, report-id
  ``<day>T00:00:00Z_idx1_<domain>``) and a small ISP (ends at the next midnight,
  ``policy-string: []`` for no-policy-found, ``additional-information`` URIs).

Everything is deterministic: randomness comes from seeded :class:`random.Random`
instances and keyed hashes, dates are arguments, and gzip members are written with
``mtime=0`` and a fixed header, so the same arguments give byte-identical files (with
the same zlib build).

Only reserved names and addresses are used for the receiving side: example.com/.net/
.org, ``*.example``, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import random
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypedDict

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
_FILETIME_OFFSET = 11_644_473_600  # seconds between 1601-01-01 and 1970-01-01
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
_SMALL_REPORTERS: tuple[tuple[str, str, str], ...] = (
    ("Bluefjord Hosting", "bluefjord.example", "isp"),
    ("mx.lindenhof-praxis.example", "mx.lindenhof-praxis.example", "sys4"),
    ("Aurora Mailservices", "aurora-mail.example", "isp"),
    ("smtp.tannery-lane.example", "smtp.tannery-lane.example", "sys4"),
    ("Kupferberg Stadtwerke", "kupferberg-stadtwerke.example", "isp"),
    ("mail.quillon-labs.example", "mail.quillon-labs.example", "sys4"),
    ("Seabright Networks", "seabright.example", "isp"),
    ("mx01.hollowpine.example", "mx01.hollowpine.example", "sys4"),
    ("Veldhuis Internet", "veldhuis-internet.example", "isp"),
    ("mail.orchard-school.example", "mail.orchard-school.example", "sys4"),
    ("Cinder Cloud Mail", "cindercloud.example", "isp"),
    ("relay.marlow-legal.example", "relay.marlow-legal.example", "sys4"),
    ("Polaris ISP", "polaris-isp.example", "isp"),
    ("mx.fernbrook.example", "mx.fernbrook.example", "sys4"),
)

_GZIP_BY_STYLE = {"isp": (9, 2, 3), "sys4": (9, 2, 255)}


def benchmark_reporters(count: int) -> list[Reporter]:
    """``count`` reporters: Google, Microsoft, Yahoo, Mail.ru, then small ones."""
    pool = [GOOGLE, MICROSOFT, YAHOO, MAILRU, NORDWIND, KESTREL]
    i = 0
    while len(pool) < count:
        n = len(pool)
        if i < len(_SMALL_REPORTERS):
            org, submitter, style = _SMALL_REPORTERS[i]
        else:
            org = submitter = f"mx.reporter{i}.example"
            style = "sys4"
        level, xfl, os_byte = _GZIP_BY_STYLE[style]
        contact = (
            f"smtp-tls-reporting@{submitter}" if style == "sys4" else f"postmaster@{submitter}"
        )
        pool.append(
            Reporter(
                key=f"small{i}",
                organization_name=org,
                submitter=submitter,
                contact_info=contact,
                style=style,
                ipv4=(f"198.51.100.{(n * 3) % 150 + 30}",),
                ipv6=(f"2001:db8:f00:{n:x}::25",) if n % 2 else (),
                share=0.02 / (1 + i % 7),
                gzip_level=level,
                gzip_xfl=xfl,
                gzip_os=os_byte,
            )
        )
        i += 1
    return pool[:count]


# --------------------------------------------------------------------------- helpers


def day_start_unix(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400


def _hash_int(*parts: object, bits: int = 64) -> int:
    data = "\x1f".join(str(p) for p in parts).encode()
    digest = hashlib.blake2b(data, digest_size=bits // 8).digest()
    return int.from_bytes(digest, "big")


def _uuid_like(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _clock(seconds: int) -> str:
    seconds %= 86400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def rfc5322_date(unix: int) -> str:
    """``Sat, 21 Nov 2026 07:12:00 +0000`` without locale or time zone influence."""
    d = date.fromordinal(_EPOCH_ORDINAL + unix // 86400)
    return (
        f"{_DAY_NAMES[d.weekday()]}, {d.day:02d} {_MONTH_NAMES[d.month - 1]} {d.year} "
        f"{_clock(unix)} +0000"
    )


def _mbox_date(unix: int) -> str:
    d = date.fromordinal(_EPOCH_ORDINAL + unix // 86400)
    return (
        f"{_DAY_NAMES[d.weekday()]} {_MONTH_NAMES[d.month - 1]} {d.day:2d} {_clock(unix)} {d.year}"
    )


def gzip_bytes(data: bytes, *, level: int = 9, xfl: int = 2, os_byte: int = 255) -> bytes:
    """A single gzip member with mtime 0, no file name and a fixed header."""
    body = zlib.compress(data, level, wbits=-15)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes((xfl, os_byte))
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def encode_report(report: JSONDict, reporter: Reporter, *, bom: bool = False) -> bytes:
    """The report as compact JSON, gzipped the way ``reporter``'s software does."""
    data = json.dumps(report, separators=(",", ":")).encode()
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
    h = _hash_int(salt, reporter.key, policy_domain, day.toordinal(), bits=128)
    if style == "microsoft":
        sent = day_start_unix(day) + 86400 + 1800 + (h % 72000)
        return str((sent + _FILETIME_OFFSET) * 10_000_000 + (h >> 64) % 10_000_000)
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
        return f"{_uuid_like(_hash_int(salt, 'mailru', policy_domain, day, bits=128))}@mail.ru"
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
    h = _hash_int(salt, "message", filename, bits=128)
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


# --------------------------------------------------------------------------- benchmark archive

_WORDS = (
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "tyrell", "cyberdyne",
    "aperture", "oscorp", "wonka", "hooli", "pied-piper", "vandelay", "dunder", "bluth",
    "soylent", "gringotts", "monarch", "nakatomi", "massive", "vehement", "sirius",
    "wernham", "prestige", "krusty", "sterling", "gekko", "duff", "oceanic", "ollivander",
    "zorg", "virtucon", "genco", "tessier", "weyland", "yoyodyne", "spacely", "cogswell",
    "buynlarge", "rekall", "ingen", "omni", "delos", "abstergo", "lacuna", "rossum",
    "momcorp", "planex", "wolfram",
)  # fmt: skip
_SUFFIXES = (".example", ".example.net", ".example.org", ".example.com")
_MAX_AGES = (86400, 604800, 1209600, 2592000, 10368000, 31557600)


def benchmark_domains(count: int, seed: int) -> list[PolicyDomain]:
    """``count`` policy domains with a realistic mix of MTA-STS, DANE and neither."""
    rng = random.Random(f"{seed}/domains")
    names = ["example.com", "example.net", "example.org", "shop.example"]
    i = 0
    while len(names) < count:
        word = _WORDS[i % len(_WORDS)]
        suffix = _SUFFIXES[(i // len(_WORDS)) % len(_SUFFIXES)]
        rounds = i // (len(_WORDS) * len(_SUFFIXES))
        names.append(f"{word}{rounds if rounds else ''}{suffix}")
        i += 1
    domains: list[PolicyDomain] = []
    for index, name in enumerate(names[:count]):
        roll = rng.random()
        mode = "enforce" if roll < 0.45 else "testing" if roll < 0.65 else None
        dane = rng.random() < (0.3 if mode else 0.25)
        n_mx = rng.choices((1, 2, 3), (0.3, 0.55, 0.15))[0]
        hosts: list[MxHost] = []
        for j in range(n_mx):
            backup = n_mx == 3 and j == 2
            serial = index * 3 + j
            hosts.append(
                MxHost(
                    hostname=f"backup-mx.{name}" if backup else f"mx{j + 1}.{name}",
                    ipv4=f"192.0.2.{serial % 253 + 1}",
                    ipv6=f"2001:db8:{index:x}::{j + 1:x}" if rng.random() < 0.6 else None,
                    weight=0.03 if backup else (0.97 if n_mx == 3 else 1.0) / min(n_mx, 2),
                )
            )
        wildcard = rng.random() < 0.4
        sts_mx = (f"*.{name}",) if wildcard else tuple(h.hostname for h in hosts)
        tlsa = tuple(
            f"{rng.choice((2, 3))} 1 1 {_hash_int(seed, name, k, bits=256):064X}"
            for k in range(rng.randint(1, 3) if dane else 0)
        )
        domains.append(
            PolicyDomain(
                name=name,
                mx=tuple(hosts),
                sts_mode=mode,
                sts_mx=sts_mx if mode else (),
                sts_max_age=rng.choice(_MAX_AGES),
                tlsa=tlsa,
                daily_sessions=int(40000 / (index + 1) ** 1.1) + rng.randint(5, 60),
            )
        )
    return domains


@dataclass(frozen=True, slots=True)
class _Incident:
    first: int  # day index
    last: int
    result_type: str
    mx_index: int | None
    rate: float  # fraction of the affected sessions that fail


_NEGOTIATION_MIX = (
    ("certificate-expired", 5.0, (1, 3), 1.0),
    ("certificate-host-mismatch", 2.0, (1, 6), 1.0),
    ("certificate-not-trusted", 1.0, (1, 3), 1.0),
    ("validation-failure", 2.0, (1, 2), 0.3),
    ("starttls-not-supported", 1.0, (1, 4), 1.0),
)
_STS_MIX = (
    ("sts-policy-fetch-error", 4.0, (1, 4), 0.8),
    ("sts-policy-invalid", 0.7, (1, 3), 1.0),
    ("sts-webpki-invalid", 0.7, (1, 3), 1.0),
)
_DANE_MIX = (
    ("tlsa-invalid", 3.0, (1, 3), 1.0),
    ("dnssec-invalid", 0.7, (1, 2), 1.0),
    ("dane-required", 0.3, (1, 2), 1.0),
)


def _domain_incidents(seed: int, domain: PolicyDomain, horizon: int) -> list[_Incident]:
    """Incidents of ``domain`` up to day ``horizon`` (prefix-stable in ``horizon``)."""
    if domain.sts_mode is None and not domain.tlsa:
        return []
    rng = random.Random(f"{seed}/incidents/{domain.name}")
    incidents: list[_Incident] = []
    backups = [i for i, mx in enumerate(domain.mx) if mx.hostname.startswith("backup-mx.")]
    if backups and rng.random() < 0.5:  # a forgotten backup MX, for good
        incidents.append(_Incident(0, 1 << 30, "starttls-not-supported", backups[0], 1.0))
    mix = list(_NEGOTIATION_MIX)
    if domain.sts_mode:
        mix += _STS_MIX
    if domain.tlsa:
        mix += _DANE_MIX
    weights = [m[1] for m in mix]
    day = int(rng.expovariate(1 / 30))
    while day < horizon:
        result_type, _w, (lo, hi), rate = rng.choices(mix, weights)[0]
        length = rng.randint(lo, hi)
        mx_index = None if result_type in STS_TYPES else rng.randrange(len(domain.mx))
        incidents.append(_Incident(day, day + length - 1, result_type, mx_index, rate))
        day += length + int(rng.expovariate(1 / 50)) + 1
    return incidents


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    files: int
    bytes: int
    days: int  # days the written reports span


@dataclass(frozen=True, slots=True)
class _Params:
    domains: int
    reporters: int
    days: int
    start: date
    seed: int


class _World:
    """Reporters, domains and who reports what, derived from the parameters only."""

    def __init__(self, params: _Params) -> None:
        self.params = params
        self.reporters = benchmark_reporters(params.reporters)
        self.domains = benchmark_domains(params.domains, params.seed)
        rng = random.Random(f"{params.seed}/coverage")
        #: per reporter: [(domain index, weekday mean sessions, daily probability of a report)]
        self.pairs: list[tuple[int, int, float, float]] = []
        for r, reporter in enumerate(self.reporters):
            big = reporter.style in ("google", "microsoft", "yahoo")
            for d, domain in enumerate(self.domains):
                if not big and rng.random() > (0.85 if d < 5 else 0.25):
                    continue
                mean = domain.daily_sessions * reporter.share * rng.uniform(0.5, 1.5)
                p_send = 0.995 if big else min(0.98, 1.0 - math.exp(-mean))
                if p_send < 0.02:
                    continue
                self.pairs.append((r, d, max(mean, 1.0), p_send))
        self._incidents: dict[int, list[list[_Incident]]] = {}

    def plan(self, day_index: int) -> list[tuple[int, int, float]]:
        """The (reporter, domain, mean sessions) reports sent about day ``day_index``."""
        rng = random.Random(f"{self.params.seed}/plan/{day_index}")
        return [(r, d, mean) for r, d, mean, p in self.pairs if rng.random() < p]

    def incidents(self, day_index: int) -> list[list[_Incident]]:
        """Active incidents per domain on ``day_index``."""
        block = day_index // 256
        table = self._incidents.get(block)
        if table is None:
            horizon = (block + 1) * 256
            table = [_domain_incidents(self.params.seed, dom, horizon) for dom in self.domains]
            self._incidents = {block: table}
        return [[i for i in incs if i.first <= day_index <= i.last] for incs in table]


def _bench_traffic(
    rng: random.Random,
    reporter: Reporter,
    domain: PolicyDomain,
    mean: float,
    incidents: list[_Incident],
) -> Traffic:
    n = max(1, round(mean * rng.uniform(0.7, 1.3)))
    kinds = effective_policies(reporter, domain)
    traffic = Traffic(successes=n)
    if not kinds:
        return traffic
    for inc in incidents:
        rt = inc.result_type
        if (rt in DANE_TYPES and "tlsa" not in kinds) or (rt in STS_TYPES and "sts" not in kinds):
            continue
        if inc.mx_index is None:
            count = min(traffic.successes, max(1, round(n * inc.rate * rng.uniform(0.8, 1.0))))
            traffic.successes -= count
            if rt == "sts-policy-fetch-error":
                traffic.policy_fetched = False
            mx = None
        else:
            mx = domain.mx[inc.mx_index]
            count = round(n * mx.weight * inc.rate * rng.uniform(0.7, 1.1))
            if len(domain.mx) == 1:  # nowhere to fail over to
                count = min(count, traffic.successes)
                traffic.successes -= count
        reason = failure_reason(reporter, rt, domain.name, mx)
        traffic.failures += spread_failures(rng, reporter, rt, count, mx, reason)
    if rng.random() < 0.02:  # background noise: one odd sender path
        rt = rng.choice(("validation-failure", "certificate-not-trusted"))
        mx = rng.choice(domain.mx)
        reason = failure_reason(reporter, rt, domain.name, mx)
        traffic.failures += spread_failures(
            rng, reporter, rt, rng.randint(1, 3), mx, reason, max_rows=1
        )
    return traffic


def _write_days(
    dest: str, params: _Params, first_day: int, last_day: int, last_limit: int | None
) -> tuple[int, int]:
    """Write days ``first_day..last_day``; only ``last_limit`` reports of the last day."""
    world = _WORLD_CACHE.get(params)
    if world is None:
        world = _World(params)
        _WORLD_CACHE.clear()
        _WORLD_CACHE[params] = world
    files = total = 0
    reporters, domains, seed = world.reporters, world.domains, params.seed
    for day_index in range(first_day, last_day + 1):
        plan = world.plan(day_index)
        if day_index == last_day and last_limit is not None:
            plan = plan[:last_limit]
        if not plan:
            continue
        day = params.start + timedelta(days=day_index)
        folder = os.path.join(dest, f"{day:%Y}", f"{day:%m}", f"{day:%d}")
        os.makedirs(folder, exist_ok=True)
        incidents = world.incidents(day_index)
        rng = random.Random(f"{seed}/content/{day_index}")
        weekday = 0.55 if day.weekday() >= 5 else 1.0
        for r, d, mean in plan:
            reporter, domain = reporters[r], domains[d]
            traffic = _bench_traffic(rng, reporter, domain, mean * weekday, incidents[d])
            generated = build_report(reporter, domain, day, traffic, salt=seed)
            data = encode_report(generated.report, reporter)
            with open(os.path.join(folder, generated.filename), "wb") as fh:
                fh.write(data)
            files += 1
            total += len(data)
    return files, total


_WORLD_CACHE: dict[_Params, _World] = {}


def generate_archive(
    dest: Path,
    *,
    reports: int | None = None,
    domains: int = 50,
    reporters: int = 20,
    days: int = 30,
    start: date = date(2026, 1, 1),
    seed: int = 0,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ArchiveStats:
    """Write a realistic archive of gzipped reports into ``dest/YYYY/MM/DD/``.

    Without ``reports`` every report of ``days`` days from ``start`` is written. With
    ``reports`` exactly that many files are written: generation stops early, or goes
    on past ``days`` until the count is reached. The output depends only on the
    arguments (not on ``jobs``), and reports are produced day by day, so memory use
    stays flat however many files are asked for. ``progress`` is called with the
    number of files written so far after each batch.
    """
    if reports is not None and reports < 0:
        raise ValueError("reports must be >= 0")
    if domains < 1 or reporters < 1 or days < 1:
        raise ValueError("domains, reporters and days must be >= 1")
    params = _Params(domains, reporters, days, start, seed)
    world = _WORLD_CACHE.get(params) or _World(params)
    _WORLD_CACHE.clear()
    _WORLD_CACHE[params] = world
    if not world.pairs:
        raise ValueError("no reporter covers any domain; use more domains or reporters")
    # Plan: how many reports each day has, until the window or the count is done.
    counts: list[int] = []
    remaining = reports
    day_index = 0
    while (remaining is None and day_index < days) or (remaining is not None and remaining > 0):
        n = len(world.plan(day_index))
        if remaining is not None:
            n = min(n, remaining)
            remaining -= n
        counts.append(n)
        day_index += 1
    tasks = list(_batches(counts, max(200, sum(counts) // max(1, jobs * 8))))
    dest.mkdir(parents=True, exist_ok=True)
    files = total = 0
    if jobs <= 1 or len(tasks) <= 1:
        for first, last, limit in tasks:
            f, b = _write_days(str(dest), params, first, last, limit)
            files, total = files + f, total + b
            if progress is not None:
                progress(files)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_write_days, str(dest), params, *task) for task in tasks]
            for future in futures:
                f, b = future.result()
                files, total = files + f, total + b
                if progress is not None:
                    progress(files)
    return ArchiveStats(files=files, bytes=total, days=len(counts))


def _batches(counts: list[int], size: int) -> Iterator[tuple[int, int, int | None]]:
    """Group consecutive days into tasks of about ``size`` reports."""
    first, acc = 0, 0
    for index, n in enumerate(counts):
        acc += n
        if acc >= size or index == len(counts) - 1:
            yield first, index, n if index == len(counts) - 1 else None
            first, acc = index + 1, 0


# --------------------------------------------------------------------------- demo archive

DEMO_END = date(2026, 11, 27)
DEMO_DAYS = 30
DEMO_START = DEMO_END - timedelta(days=DEMO_DAYS - 1)
#: The demo's documented "now": the end of its last day (its latest date-range end).
#: ``check`` and the explorer's alerts measure every rule from it on the demo archive
#: (not from the wall clock, by which the demo would only ever say "no reports"), so
#: the demo stays deterministic and shows its incidents on any date.
DEMO_NOW = datetime.combine(DEMO_END + timedelta(days=1), time(0, 0), tzinfo=UTC)
DEMO_SALT = "tlsrpt-tui-demo"

DEMO_REPORTERS: tuple[Reporter, ...] = (GOOGLE, MICROSOFT, YAHOO, MAILRU, NORDWIND, KESTREL)


def _tlsa_record(label: str) -> str:
    return f"2 1 1 {hashlib.sha256(label.encode()).hexdigest().upper()}"


EXAMPLE_COM = PolicyDomain(
    name="example.com",
    mx=(
        MxHost("mx1.example.com", "192.0.2.11", "2001:db8:25::11", 0.5),
        MxHost("mx2.example.com", "192.0.2.12", "2001:db8:25::12", 0.5),
    ),
    sts_mode="enforce",
    sts_mx=("mx1.example.com", "mx2.example.com"),
    sts_max_age=604800,
    tlsa=(_tlsa_record("demo issuing CA R10"), _tlsa_record("demo issuing CA R11")),
)
EXAMPLE_NET = PolicyDomain(
    name="example.net",
    mx=(
        MxHost("mx.example.net", "192.0.2.21", None, 0.97),
        MxHost("backup-mx.example.net", "192.0.2.22", None, 0.03, helo="bkp01.example.net"),
    ),
    sts_mode="testing",
    sts_mx=("*.example.net",),
    sts_max_age=86400,
)
EXAMPLE_ORG = PolicyDomain(name="example.org", mx=(MxHost("mail.example.org", "192.0.2.31"),))
SHOP_EXAMPLE = PolicyDomain(
    name="shop.example",
    mx=(MxHost("mx.shop.example", "192.0.2.41", "2001:db8:5e::41"),),
    sts_mode="enforce",
    sts_mx=("mx.shop.example",),
    sts_max_age=604800,
)
DEMO_DOMAINS: tuple[PolicyDomain, ...] = (EXAMPLE_COM, EXAMPLE_NET, EXAMPLE_ORG, SHOP_EXAMPLE)

#: Weekday mean sessions per (reporter key, policy domain); absent pairs never report.
DEMO_VOLUMES: dict[tuple[str, str], float] = {
    ("google", "example.com"): 3200,
    ("microsoft", "example.com"): 1200,
    ("yahoo", "example.com"): 380,
    ("mailru", "example.com"): 35,
    ("nordwind", "example.com"): 22,
    ("kestrel", "example.com"): 12,
    ("google", "example.net"): 450,
    ("microsoft", "example.net"): 160,
    ("yahoo", "example.net"): 55,
    ("nordwind", "example.net"): 9,
    ("google", "example.org"): 40,
    ("microsoft", "example.org"): 12,
    ("google", "shop.example"): 260,
    ("microsoft", "shop.example"): 90,
    ("yahoo", "shop.example"): 30,
    ("mailru", "shop.example"): 3,
}

CERT_EXPIRED_DAYS = (date(2026, 11, 26), date(2026, 11, 27))
STS_OUTAGE_DAYS = (date(2026, 11, 11), date(2026, 11, 13))
KESTREL_LAST_DAY = date(2026, 11, 23)
DUPLICATE_DAY = date(2026, 11, 20)
MBOX_DAYS = (date(2026, 11, 3), date(2026, 11, 4))
TRUNCATED_DAY = date(2026, 11, 18)
HTML_ERROR_DAY = date(2026, 11, 5)
QUIRK_DAY = date(2026, 11, 15)

DEMO_EML = "mail/microsoft.com-example.com-2026-11-20.eml"
DEMO_MBOX = "mail/tlsrpt-inbox.mbox"


def _demo_relpath(reporter: Reporter, domain: str, day: date, *, ext: str = ".json.gz") -> str:
    path = report_relpath(reporter, domain, day, DEMO_SALT)
    return path.removesuffix(".json.gz") + ext


DemoIncident = TypedDict(
    "DemoIncident",
    {
        "id": str,
        "kind": str,  # failure | silence | duplicate | container | bad-file | quirk
        "what": str,
        "policy-domain": str,
        "mx": str | None,
        "result-type": str | None,
        "reporters": tuple[str, ...],  # organization-names
        "first-day": date,
        "last-day": date,
        "files": tuple[str, ...],  # archive-relative paths involved, if specific files
    },
)

#: Everything unusual in the bundled demo archive, on purpose. Every failure-details row
#: in the archive belongs to one of the "failure" incidents; nothing else fails.
DEMO_INCIDENTS: tuple[DemoIncident, ...] = (
    {
        "id": "mx2-certificate-expired",
        "kind": "failure",
        "what": "The TLS certificate of mx2.example.com expired at 2026-11-26T00:00:00Z; "
        "senders fail on mx2 and retry on mx1 (about a third of all sessions fail).",
        "policy-domain": "example.com",
        "mx": "mx2.example.com",
        "result-type": "certificate-expired",
        "reporters": (
            "Google Inc.",
            "Microsoft Corporation",
            "Yahoo",
            "Mail.ru",
            "Nordwind Telecom",
        ),
        "first-day": CERT_EXPIRED_DAYS[0],
        "last-day": CERT_EXPIRED_DAYS[1],
        "files": (),
    },
    {
        "id": "backup-mx-no-starttls",
        "kind": "failure",
        "what": "backup-mx.example.net does not offer STARTTLS; example.net's MTA-STS policy is "
        "in testing mode so mail is delivered in clear text. Low volume (about 3% of sessions), "
        "all month; Google reports it every day, the others on most days.",
        "policy-domain": "example.net",
        "mx": "backup-mx.example.net",
        "result-type": "starttls-not-supported",
        "reporters": ("Google Inc.", "Microsoft Corporation", "Yahoo", "Nordwind Telecom"),
        "first-day": DEMO_START,
        "last-day": DEMO_END,
        "files": (),
    },
    {
        "id": "shop-sts-policy-fetch-outage",
        "kind": "failure",
        "what": "https://mta-sts.shop.example/.well-known/mta-sts.txt answered 404 for three "
        "days: every session of Google, Microsoft and Mail.ru fails with "
        "sts-policy-fetch-error (no policy-string in their reports); Yahoo kept its cached "
        "policy and reports successes.",
        "policy-domain": "shop.example",
        "mx": None,
        "result-type": "sts-policy-fetch-error",
        "reporters": ("Google Inc.", "Microsoft Corporation", "Mail.ru"),
        "first-day": STS_OUTAGE_DAYS[0],
        "last-day": STS_OUTAGE_DAYS[1],
        "files": (),
    },
    {
        "id": "kestrel-stops-reporting",
        "kind": "silence",
        "what": "mail.kestrel-consulting.example reported example.com every day until "
        "2026-11-23, then stopped sending reports.",
        "policy-domain": "example.com",
        "mx": None,
        "result-type": None,
        "reporters": (KESTREL.organization_name,),
        "first-day": KESTREL_LAST_DAY + timedelta(days=1),
        "last-day": DEMO_END,
        "files": (),
    },
    {
        "id": "microsoft-duplicate",
        "kind": "duplicate",
        "what": "The same Microsoft report is present twice: as its .json.gz and inside the "
        "report e-mail (application/tlsrpt+gzip part).",
        "policy-domain": "example.com",
        "mx": None,
        "result-type": None,
        "reporters": ("Microsoft Corporation",),
        "first-day": DUPLICATE_DAY,
        "last-day": DUPLICATE_DAY,
        "files": (_demo_relpath(MICROSOFT, "example.com", DUPLICATE_DAY), DEMO_EML),
    },
    {
        "id": "google-mbox",
        "kind": "container",
        "what": "Two Google reports for example.org exist only as messages in an mbox file.",
        "policy-domain": "example.org",
        "mx": None,
        "result-type": None,
        "reporters": ("Google Inc.",),
        "first-day": MBOX_DAYS[0],
        "last-day": MBOX_DAYS[1],
        "files": (DEMO_MBOX,),
    },
    {
        "id": "truncated-gzip",
        "kind": "bad-file",
        "what": "A Yahoo report whose gzip stream is cut in half (interrupted download).",
        "policy-domain": "example.net",
        "mx": None,
        "result-type": None,
        "reporters": ("Yahoo",),
        "first-day": TRUNCATED_DAY,
        "last-day": TRUNCATED_DAY,
        "files": (_demo_relpath(YAHOO, "example.net", TRUNCATED_DAY),),
    },
    {
        "id": "html-error-page",
        "kind": "bad-file",
        "what": "An nginx '502 Bad Gateway' HTML page saved under a report's .json name.",
        "policy-domain": "example.net",
        "mx": None,
        "result-type": None,
        "reporters": ("Nordwind Telecom",),
        "first-day": HTML_ERROR_DAY,
        "last-day": HTML_ERROR_DAY,
        "files": (_demo_relpath(NORDWIND, "example.net", HTML_ERROR_DAY, ext=".json"),),
    },
    {
        "id": "bom-and-mx-host-string",
        "kind": "quirk",
        "what": "A report starting with a UTF-8 byte order mark whose mx-host is one string "
        "with an 'mx: ' prefix ('mx: *.example.net') instead of a list; readers should "
        "tolerate both.",
        "policy-domain": "example.net",
        "mx": None,
        "result-type": None,
        "reporters": ("Nordwind Telecom",),
        "first-day": QUIRK_DAY,
        "last-day": QUIRK_DAY,
        "files": (_demo_relpath(NORDWIND, "example.net", QUIRK_DAY),),
    },
)

#: Files in the demo archive that are not readable reports.
DEMO_BAD_FILES: tuple[str, ...] = tuple(
    path for inc in DEMO_INCIDENTS if inc["kind"] == "bad-file" for path in inc["files"]
)

_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _demo_traffic(
    rng: random.Random, reporter: Reporter, domain: PolicyDomain, day: date
) -> Traffic | None:
    """Sessions ``reporter`` saw for ``domain`` on ``day``, or None when it sends no report."""
    base = DEMO_VOLUMES.get((reporter.key, domain.name))
    if base is None:
        return None
    if reporter is KESTREL and day > KESTREL_LAST_DAY:
        return None
    mean = base * (0.55 if day.weekday() >= 5 else 1.0)
    n = poisson(rng, mean * rng.uniform(0.88, 1.12))
    name = domain.name
    outage = STS_OUTAGE_DAYS[0] <= day <= STS_OUTAGE_DAYS[1]
    if name == "shop.example" and outage and reporter in (GOOGLE, MICROSOFT, MAILRU):
        n = max(1, n)
        reason = failure_reason(reporter, "sts-policy-fetch-error", name, None)
        rows = spread_failures(rng, reporter, "sts-policy-fetch-error", n, None, reason)
        return Traffic(successes=0, failures=rows, policy_fetched=False)
    if n == 0:
        return None  # nothing delivered, nothing to report
    traffic = Traffic(successes=n)
    if name == "example.com" and CERT_EXPIRED_DAYS[0] <= day <= CERT_EXPIRED_DAYS[1]:
        mx2 = domain.mx[1]
        failed = max(1, round(n * rng.uniform(0.45, 0.55)))
        reason = failure_reason(reporter, "certificate-expired", name, mx2)
        if reporter is MAILRU and reason:
            now = day_start_unix(day) + rng.randrange(86400)
            reason += (
                f": current time {day.isoformat()}T{_clock(now)}Z is after 2026-11-25T23:59:59Z"
            )
        traffic.failures = spread_failures(
            rng, reporter, "certificate-expired", failed, mx2, reason
        )
    elif name == "example.net":
        backup = domain.mx[1]
        failed = poisson(rng, n * backup.weight)
        if reporter is GOOGLE:
            failed = max(1, failed)
        failed = min(failed, n)
        traffic.successes -= failed
        reason = failure_reason(reporter, "starttls-not-supported", name, backup)
        traffic.failures = spread_failures(
            rng, reporter, "starttls-not-supported", failed, backup, reason, max_rows=2
        )
    return traffic


def build_demo_archive(dest: Path) -> list[str]:
    """Write the bundled demo archive into ``dest``; return the relative paths, sorted.

    About 30 days of reports ending 2026-11-27 from Google, Microsoft, Yahoo, Mail.ru
    and two small reporters for example.com, example.net, example.org and shop.example,
    with the incidents listed in :data:`DEMO_INCIDENTS`.
    """
    rng = random.Random(f"{DEMO_SALT}/traffic")
    files: dict[str, bytes] = {}
    mbox_messages: list[tuple[str, int, bytes]] = []
    day = DEMO_START
    while day <= DEMO_END:
        for reporter in DEMO_REPORTERS:
            for domain in DEMO_DOMAINS:
                traffic = _demo_traffic(rng, reporter, domain, day)
                if traffic is None:
                    continue
                generated = build_report(reporter, domain, day, traffic, salt=DEMO_SALT)
                relpath = generated.relpath
                name, key = domain.name, (reporter.key, domain.name, day)
                if key == ("nordwind", "example.net", HTML_ERROR_DAY):
                    files[relpath.removesuffix(".gz")] = _HTML_502.encode()
                    continue
                quirk = key == ("nordwind", "example.net", QUIRK_DAY)
                if quirk:
                    generated.report["policies"][0]["policy"]["mx-host"] = "mx: *.example.net"
                data = encode_report(generated.report, reporter, bom=quirk)
                sent = day_start_unix(day) + 86400 + 3600 + rng.randrange(6 * 3600)
                if key == ("yahoo", "example.net", TRUNCATED_DAY):
                    data = data[: len(data) // 2]
                elif reporter is GOOGLE and name == "example.org" and day in MBOX_DAYS:
                    message = tlsrpt_message(
                        report_gz=data,
                        filename=generated.filename,
                        reporter=reporter,
                        policy_domain=name,
                        report_id=generated.report["report-id"],
                        to_addr="tlsrpt@example.org",
                        sent_unix=sent,
                        salt=DEMO_SALT,
                    )
                    sender = "noreply-smtp-tls-reporting@google.com"
                    mbox_messages.append((sender, sent + 5, message))
                    continue
                elif key == ("microsoft", "example.com", DUPLICATE_DAY):
                    uid = generated.filename.split("!")[4].removesuffix(".json.gz")
                    sent = int(uid) // 10_000_000 - _FILETIME_OFFSET
                    files[DEMO_EML] = tlsrpt_message(
                        report_gz=data,
                        filename=generated.filename,
                        reporter=reporter,
                        policy_domain=name,
                        report_id=generated.report["report-id"],
                        to_addr="tlsrpt@example.com",
                        sent_unix=sent,
                        salt=DEMO_SALT,
                        newline="\r\n",
                    )
                files[relpath] = data
        day += timedelta(days=1)
    files[DEMO_MBOX] = mbox_bytes(mbox_messages)
    for relpath in sorted(files):
        target = dest / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[relpath])
    return sorted(files)
