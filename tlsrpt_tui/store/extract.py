"""Turn one file into the compact rows the SQLite index stores (runs in worker processes).

The index never keeps :class:`~tlsrpt_tui.core.model.Report` objects: a worker reads a
file and sends back plain tuples (cheap to pickle) holding exactly the facts
:mod:`tlsrpt_tui.core.aggregate` and :mod:`tlsrpt_tui.store.memory` derive from a
report. Well-formed JSON and gzip files take a fast path that reads the decoded JSON
directly; anything the fast path is not certain about (email, mbox, odd types, values
the loader would cut, drop or warn about) goes through :func:`load_file`, so the
answers are the loader's in every case.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from datetime import datetime
from hashlib import blake2b
from json import dumps as json_dumps
from typing import Any, Final

from tlsrpt_tui.core.loader import (
    GZIP_MAGIC,
    MAX_COUNT,
    Limits,
    ReportError,
    _cut,
    _mx_hosts,
    _parse_datetime,
    _parse_detail,
    _policy_domain,
    _policy_string,
    decode_json,
    gunzip_capped,
    load_file,
    sniff,
)
from tlsrpt_tui.core.model import Report, normalise_domain, sts_mode_of

# A failure-details row as the index keeps it, in aggregate.DetailKey order plus count:
# (result_type, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, receiving_ip,
#  additional_information, failure_reason_code, failed_session_count)
Detail = tuple[str, str | None, str | None, str | None, str | None, str | None, str | None, int]
# (policy_type, policy_domain, policy_string, mx_host, successful, failed, details)
NPolicy = tuple[str, str, tuple[str, ...], tuple[str, ...], int, int, list[Detail]]

# What a worker sends back: rows in the index's column order, as lists, so the parent
# process only fills in the ids it hands out (None until then) before inserting them.
#   UnitRow    = [id, report, sig, domain, reporter, day, successful, failed, lead,
#                 result-type counts as JSON or None]
#   PolicyRow  = [id, unit, sig, domain, reporter, day, policy_type, sts_mode,
#                 repr(mx_host), successful, failed, first]
#   FailureRow = [id, unit, domain, reporter, day, result_type, receiving_mx_hostname,
#                 receiving_ip, sending_mta_ip, receiving_mx_helo, additional_information,
#                 failure_reason_code, count, haystack]
#   UnitOut    = (haystack, UnitRow, [PolicyRow], [FailureRow])
#   ReportOut  = (key, key_hash, reporter, report_id, day_ordinal, part, [UnitOut])
#   FileOut    = ([ReportOut], [(part, message)])
UnitOut = tuple[str, list[Any], list[list[Any]], list[list[Any]]]
ReportOut = tuple[str, int, str, str, int, str | None, list[UnitOut]]
FileOut = tuple[list[ReportOut], list[tuple[str | None, str]]]

#: Column positions in the rows above.
U_DOMAIN: Final = 3
U_OK: Final = 6
U_FAILED: Final = 7
U_RTC: Final = 9
P_TYPE: Final = 6
P_OK: Final = 9
P_FAILED: Final = 10


class _Irregular(Exception):
    """The fast path is not sure: let the loader read the file."""


# --------------------------------------------------------------------------- text


def clean(value: str) -> str:
    """``value`` storable in SQLite: lone surrogates (from JSON escapes) become U+FFFD."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _clean_opt(value: str | None) -> str | None:
    return None if value is None else clean(value)


def key_hash(key: str) -> int:
    """A stable signed 64-bit hash of a report key (the index looks keys up by it)."""
    digest = blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def report_key_of(org: str, report_id: str, start: datetime, domains: Iterable[str]) -> str:
    """Same text as :func:`tlsrpt_tui.store.memory.report_key`."""
    return "\x1f".join((org, report_id, start.isoformat(), ",".join(sorted(set(domains)))))


# --------------------------------------------------------------------------- facts


def report_out(
    org: str, report_id: str, start: datetime, part: str | None, policies: Sequence[NPolicy]
) -> ReportOut:
    """The rows of one report: one unit per policy domain, as facts_of/units_of count."""
    units: dict[str, list[Any]] = {}
    for ptype, domain, pstring, mx, ok, failed, details in policies:
        unit = units.get(domain)
        if unit is None:
            # [successful, failed, policy facts, detail key -> count, result type -> count]
            unit = units[domain] = [ok, failed, [], {}, {}]
        else:
            if ok > unit[0]:
                unit[0] = ok
            if failed > unit[1]:
                unit[1] = failed
        unit[2].append((ptype, _mode_of(pstring), mx, ok, failed))
        if details:
            in_block: dict[tuple[Any, ...], int] = {}
            by_type: dict[str, int] = {}
            for d in details:
                dkey = d[:7]
                in_block[dkey] = in_block.get(dkey, 0) + d[7]
                by_type[d[0]] = by_type.get(d[0], 0) + d[7]
            merged = unit[3]
            for dkey, count in in_block.items():
                if count > merged.get(dkey, -1):
                    merged[dkey] = count
            rtc = unit[4]
            for result_type, count in by_type.items():
                if count > rtc.get(result_type, -1):
                    rtc[result_type] = count
    day = start.date().toordinal()
    org_clean = clean(org)
    out_units: list[UnitOut] = []
    lead = 1
    for domain, (ok, failed, pols, merged, rtc) in units.items():
        domain_clean = clean(domain)
        words = [domain, org]
        words.extend(p[0] for p in pols)
        words.extend(host for p in pols for host in p[2])
        failures: list[list[Any]] = []
        for dkey, count in merged.items():
            rt, smta, rmx, helo, rip, info, reason = dkey
            parts = (domain, org, rt, rmx, rip, smta, helo, info, reason)
            haystack = "\n".join(p for p in parts if p).lower()
            words.append(haystack)
            failures.append(
                [
                    None,
                    None,
                    domain_clean,
                    org_clean,
                    day,
                    clean(rt),
                    _clean_opt(rmx),
                    _clean_opt(rip),
                    _clean_opt(smta),
                    _clean_opt(helo),
                    _clean_opt(info),
                    _clean_opt(reason),
                    count,
                    clean(haystack),
                ]
            )
        policy_rows: list[list[Any]] = []
        seen: set[tuple[str, str | None, tuple[str, ...]]] = set()
        for ptype, mode, mx, p_ok, p_failed in pols:
            # ``first``: policy rows count a report once per (type, mode, MX) group.
            group = (ptype, mode, mx)
            first = group not in seen
            seen.add(group)
            policy_rows.append(
                [
                    None,
                    None,
                    None,
                    domain_clean,
                    org_clean,
                    day,
                    clean(ptype),
                    _clean_opt(mode),
                    _mx_text(mx),
                    p_ok,
                    p_failed,
                    int(first),
                ]
            )
        counts = json_dumps({clean(rt): n for rt, n in rtc.items()}) if rtc else None
        unit_row = [None, None, None, domain_clean, org_clean, day, ok, failed, lead, counts]
        lead = 0
        out_units.append((clean("\n".join(words).lower()), unit_row, policy_rows, failures))
    key = clean(report_key_of(org, report_id, start, units))
    return (key, key_hash(key), org_clean, clean(report_id), day, _clean_opt(part), out_units)


def policies_of(report: Report) -> list[NPolicy]:
    return [
        (
            p.policy_type,
            p.policy_domain,
            p.policy_string,
            p.mx_host,
            p.total_successful_session_count,
            p.total_failure_session_count,
            [
                (
                    d.result_type,
                    d.sending_mta_ip,
                    d.receiving_mx_hostname,
                    d.receiving_mx_helo,
                    d.receiving_ip,
                    d.additional_information,
                    d.failure_reason_code,
                    d.failed_session_count,
                )
                for d in p.failure_details
            ],
        )
        for p in report.policies
    ]


def out_of_report(report: Report) -> ReportOut:
    return report_out(
        report.organization_name,
        report.report_id,
        report.start,
        report.source.part,
        policies_of(report),
    )


# --------------------------------------------------------------------------- fast path


def _count(value: Any) -> int:
    if type(value) is not int or value < 0 or value > MAX_COUNT:
        raise _Irregular
    return value


def _fast_detail(raw: Any, notes: list[str]) -> Detail:
    """A failure-details row exactly as the loader reads it (rows are few: no shortcut)."""
    try:
        d = _parse_detail(raw, "", notes)
    except ReportError:
        raise _Irregular from None
    return (
        d.result_type,
        d.sending_mta_ip,
        d.receiving_mx_hostname,
        d.receiving_mx_helo,
        d.receiving_ip,
        d.additional_information,
        d.failure_reason_code,
        d.failed_session_count,
    )


#: Reports of one day share their date-range strings: parse each pair once per worker.
_DATES: dict[tuple[Any, Any], datetime] = {}


def _start_of(start: Any, end: Any) -> datetime:
    """The loader's reading of a date-range's start (the end only has to be valid)."""
    if type(start) is not str or type(end) is not str:
        raise _Irregular
    key = (start, end)
    parsed = _DATES.get(key)
    if parsed is None:
        notes: list[str] = []
        pair = {"start-datetime": start, "end-datetime": end}
        try:
            parsed = _parse_datetime(pair, "start-datetime", "", notes)
            _parse_datetime(pair, "end-datetime", "", notes)
        except ReportError:
            raise _Irregular from None
        if len(_DATES) > 4096:
            _DATES.clear()
        _DATES[key] = parsed
    return parsed


#: (policy-string) -> STS mode and (mx-host) -> its text in the index, per worker.
_MODES: dict[tuple[str, ...], str | None] = {}
_MX_TEXT: dict[tuple[str, ...], str] = {}


def _mode_of(policy_string: tuple[str, ...]) -> str | None:
    try:
        return _MODES[policy_string]
    except KeyError:
        if len(_MODES) > 4096:
            _MODES.clear()
        mode = _MODES[policy_string] = sts_mode_of(policy_string)
        return mode


def _mx_text(hosts: tuple[str, ...]) -> str:
    try:
        return _MX_TEXT[hosts]
    except KeyError:
        if len(_MX_TEXT) > 4096:
            _MX_TEXT.clear()
        text = _MX_TEXT[hosts] = clean(repr(hosts))
        return text


def fast_policies(obj: Any) -> tuple[str, str, datetime, list[NPolicy]]:
    """What :func:`parse_report` would make of a clean report, or :class:`_Irregular`."""
    if type(obj) is not dict:
        raise _Irregular
    org = obj.get("organization-name")
    report_id = obj.get("report-id")
    if type(org) is not str or type(report_id) is not str:
        raise _Irregular
    # From here on, the loader's own helpers wherever a value is cleaned up (they only
    # add warnings, which the index does not keep).
    notes: list[str] = []
    org = _cut(org, "", notes)
    report_id = _cut(report_id, "", notes)
    date_range = obj.get("date-range")
    if type(date_range) is not dict:
        raise _Irregular
    start = _start_of(date_range.get("start-datetime"), date_range.get("end-datetime"))
    raw_policies = obj.get("policies")
    if type(raw_policies) is not list or not raw_policies:
        raise _Irregular
    policies: list[NPolicy] = []
    for raw in raw_policies:
        if type(raw) is not dict:
            raise _Irregular
        policy = raw.get("policy")
        summary = raw.get("summary")
        if type(policy) is not dict or type(summary) is not dict:
            raise _Irregular
        ptype = policy.get("policy-type")
        if type(ptype) is not str or not ptype.strip():
            raise _Irregular
        ptype = _cut(ptype.strip().lower(), "", notes)
        domain = policy.get("policy-domain")
        if type(domain) is not str or not normalise_domain(domain):
            raise _Irregular  # missing: the loader may take it from the file name
        domain = _policy_domain(domain, "", None, notes)
        pstring = policy.get("policy-string")
        pstring = _policy_string(pstring, "", notes) if pstring is not None else ()
        mx = policy.get("mx-host")
        mx = _mx_hosts(mx, "", notes) if mx is not None else ()
        ok = _count(summary.get("total-successful-session-count"))
        failed = _count(summary.get("total-failure-session-count"))
        raw_details = raw.get("failure-details")
        if raw_details is None:
            details: list[Detail] = []
        elif type(raw_details) is list:
            details = [_fast_detail(d, notes) for d in raw_details]
        else:
            raise _Irregular
        policies.append((ptype, domain, pstring, mx, ok, failed, details))
    return org, report_id, start, policies


def _fast_file(path: str, limits: Limits) -> FileOut:
    # O_NONBLOCK: a FIFO swapped in since the scan must not block (the loader refuses it).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limits.max_file_bytes:
            raise _Irregular
        data = handle.read()
    if len(data) > limits.max_file_bytes:
        raise _Irregular
    try:
        if data.startswith(GZIP_MAGIC):
            data = gunzip_capped(data, limits.max_decompressed_bytes)
        elif sniff(data) != "json" or len(data) > limits.max_decompressed_bytes:
            raise _Irregular
        obj, _warnings = decode_json(data)
    except ReportError:
        raise _Irregular from None
    if type(obj) is list:
        if not obj:
            raise _Irregular  # the loader reports an empty array as an error
        reports = []
        for index, item in enumerate(obj):
            org, report_id, start, policies = fast_policies(item)
            reports.append(report_out(org, report_id, start, f"item {index}", policies))
        return reports, []
    org, report_id, start, policies = fast_policies(obj)
    return [report_out(org, report_id, start, None, policies)], []


def slow_file(path: str, display: str, limits: Limits) -> tuple[FileOut, list[Report]]:
    """Read a file with the loader; also returns the reports it found."""
    result = load_file(path, display_path=display, limits=limits)
    reports = [out_of_report(r) for r in result.reports]
    errors = [(_clean_opt(e.source.part), clean(e.error)) for e in result.errors]
    return (reports, errors), result.reports


def extract_file(path: str, display: str, limits: Limits) -> FileOut:
    """The index rows of one file. Never raises on bad input."""
    try:
        return _fast_file(path, limits)
    except Exception:  # irregular, unreadable or surprising: the loader decides
        pass
    try:
        return slow_file(path, display, limits)[0]
    except Exception as exc:  # load_file never raises; this is belt and braces
        return [], [(None, clean(f"unexpected error: {type(exc).__name__}: {exc}"))]


def extract_batch(batch: list[tuple[str, str]], limits: Limits) -> list[FileOut]:
    """Worker entry point: extract several files (keeps IPC overhead per file low)."""
    return [extract_file(path, display, limits) for path, display in batch]


def worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which stops them cleanly."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = [
    "FileOut",
    "ReportOut",
    "extract_batch",
    "extract_file",
    "out_of_report",
    "report_out",
    "slow_file",
    "worker_init",
]
