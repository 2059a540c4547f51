"""The fast reader: a well-formed JSON or gzip report's policies, read straight from
the decoded JSON exactly as :mod:`tlsrpt_tui.core.reading.loader` reads them.

Anything it is not certain about (email, mbox, odd types, values the loader would cut,
drop or warn about) raises :class:`Irregular`, and the caller lets the loader read the
file, so the answers are the loader's in every case. The index's row maker
(:mod:`tlsrpt_tui.store.index.rows`) is its user.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import datetime
from json import JSONDecoder
from typing import Any, Final
from zlib import decompressobj as zlib_decompressobj
from zlib import error as zlib_error

from tlsrpt_tui.core.model import normalise_domain, sts_mode_of
from tlsrpt_tui.core.reading.loader import (
    GUNZIP_STEP,
    GZIP_MAGIC,
    MAX_COUNT,
    MAX_DETAILS,
    MAX_STRING,
    UTF8_BOM,
    Limits,
    ReportError,
    cut_long,
    decode_json,
    gunzip_capped,
    parse_datetime,
    parse_detail,
    parse_mx_hosts,
    parse_policy_domain,
    parse_policy_string,
    sniff,
)

# A failure-details row as the index keeps it, in aggregate.DetailKey order plus count:
# (result_type, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, receiving_ip,
#  additional_information, failure_reason_code, failed_session_count)
Detail = tuple[str, str | None, str | None, str | None, str | None, str | None, str | None, int]
# (policy_type, policy_domain, policy_string, mx_host, successful, failed, details)
NPolicy = tuple[str, str, tuple[str, ...], tuple[str, ...], int, int, list[Detail]]


class Irregular(Exception):
    """The fast path is not sure: let the loader read the file."""


# --------------------------------------------------------------------------- fast path


def _fast_detail(raw: Any, notes: list[str]) -> Detail:
    """A failure-details row exactly as the loader reads it (rows are few: no shortcut)."""
    try:
        d = parse_detail(raw, "", notes)
    except ReportError:
        raise Irregular from None
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
_READ_FLAGS: Final = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def start_of(start: Any, end: Any) -> datetime:
    """The loader's reading of a date-range's start (the end only has to be valid)."""
    if type(start) is not str or type(end) is not str:
        raise Irregular
    key = (start, end)
    parsed = _DATES.get(key)
    if parsed is None:
        notes: list[str] = []
        pair = {"start-datetime": start, "end-datetime": end}
        try:
            parsed = parse_datetime(pair, "start-datetime", "", notes)
            parse_datetime(pair, "end-datetime", "", notes)
        except ReportError:
            raise Irregular from None
        if len(_DATES) > 4096:
            _DATES.clear()
        _DATES[key] = parsed
    return parsed


#: (policy-string) -> STS mode and (mx-host) -> its text in the index, per worker.
_MODES: dict[tuple[str, ...], str | None] = {}


def sts_mode_cached(policy_string: tuple[str, ...]) -> str | None:
    try:
        return _MODES[policy_string]
    except KeyError:
        if len(_MODES) > 4096:
            _MODES.clear()
        mode = _MODES[policy_string] = sts_mode_of(policy_string)
        return mode


_POLICIES: dict[tuple[Any, ...], tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}


def hashable(value: Any) -> Any:
    """A key for a raw policy-string or mx-host value (lists of strings are the rule)."""
    if type(value) is list:
        return (list, *value)
    if value is None or type(value) is str:
        return value
    raise TypeError  # anything else is read without the memo


def policy_head(policy: dict[str, Any]) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    ptype = policy.get("policy-type")
    domain = policy.get("policy-domain")
    pstring = policy.get("policy-string")
    mx = policy.get("mx-host")
    if type(ptype) is not str or type(domain) is not str:
        raise Irregular
    try:
        key: tuple[Any, ...] | None = (ptype, domain, hashable(pstring), hashable(mx))
        head = _POLICIES.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable item (the loader ignores it): no memo
        key = head = None
    if head is None:
        if not ptype.strip() or not normalise_domain(domain):
            raise Irregular  # missing domain: the loader may take it from the file name
        notes: list[str] = []
        head = (
            cut_long(ptype.strip().lower(), "", notes),
            parse_policy_domain(domain, "", None, notes),
            parse_policy_string(pstring, "", notes) if pstring is not None else (),
            parse_mx_hosts(mx, "", notes) if mx is not None else (),
        )
        if key is not None:
            if len(_POLICIES) > 8192:
                _POLICIES.clear()
            _POLICIES[key] = head
    return head


def session_counts(summary: dict[str, Any]) -> tuple[int, int] | None:
    """(successful, failed) when both are ints in 0..MAX_COUNT, the only counts the
    fast paths take as they are (anything else goes to the loader, which says why)."""
    ok = summary.get("total-successful-session-count")
    failed = summary.get("total-failure-session-count")
    if (
        type(ok) is int
        and type(failed) is int
        and 0 <= ok <= MAX_COUNT
        and 0 <= failed <= MAX_COUNT
    ):
        return ok, failed
    return None


def text_of(value: str) -> str:
    """The loader's ``cut_long`` of a string (no surrogates in ASCII: the common case)."""
    if value.isascii() and len(value) <= MAX_STRING:
        return value
    return cut_long(value, "", [])


def fast_policies(obj: Any) -> tuple[str, str, datetime, list[NPolicy]]:
    """What :func:`parse_report` would make of a clean report, or :class:`Irregular`."""
    if type(obj) is not dict:
        raise Irregular
    org = obj.get("organization-name")
    report_id = obj.get("report-id")
    if type(org) is not str or type(report_id) is not str:
        raise Irregular
    # From here on, the loader's own helpers wherever a value is cleaned up (they only
    # add warnings, which the index does not keep).
    org = text_of(org)
    report_id = text_of(report_id)
    date_range = obj.get("date-range")
    if type(date_range) is not dict:
        raise Irregular
    start = start_of(date_range.get("start-datetime"), date_range.get("end-datetime"))
    raw_policies = obj.get("policies")
    if type(raw_policies) is not list or not raw_policies:
        raise Irregular
    policies: list[NPolicy] = []
    notes: list[str] = []
    for raw in raw_policies:
        if type(raw) is not dict:
            raise Irregular
        policy = raw.get("policy")
        summary = raw.get("summary")
        if type(policy) is not dict or type(summary) is not dict:
            raise Irregular
        ptype, domain, pstring, mx = policy_head(policy)
        counts = session_counts(summary)
        if counts is None:
            raise Irregular
        ok, failed = counts
        raw_details = raw.get("failure-details")
        if not raw_details:
            if raw_details is None or type(raw_details) is list:
                details: list[Detail] = []
            else:
                raise Irregular
        elif type(raw_details) is list:
            if len(raw_details) > MAX_DETAILS:
                raise Irregular  # the loader folds the rows over the cap
            details = [_fast_detail(d, notes) for d in raw_details]
        else:
            raise Irregular
        policies.append((ptype, domain, pstring, mx, ok, failed, details))
    return org, report_id, start, policies


def read_regular(path: str, limits: Limits) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes and its ``fstat`` (:class:`Irregular` for anything else)."""
    # O_NONBLOCK: a FIFO swapped in since the scan must not block (the loader refuses it).
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limits.max_file_bytes:
            raise Irregular
        data = os.read(fd, info.st_size + 1)
        if len(data) != info.st_size:  # it changed: read to the end, never past the cap
            chunks = [data]
            size = len(data)
            while size <= limits.max_file_bytes:
                more = os.read(fd, min(1 << 20, limits.max_file_bytes + 1 - size))
                if not more:
                    break
                chunks.append(more)
                size += len(more)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return data, info


#: The JSON scanner ``json.loads`` ends up in (called directly: the common case, a
#: document without surrounding whitespace, skips three layers of Python).
_Scanner = Callable[[str, int], tuple[Any, int]]
_SCAN_JSON: Final[_Scanner] = JSONDecoder().scan_once  # type: ignore[attr-defined]


def decoded(data: bytes, limits: Limits) -> Any:
    """The JSON value of a file's bytes as the loader decodes it, or :class:`Irregular`."""
    if len(data) > limits.max_file_bytes:
        raise Irregular
    try:
        if data[:2] == GZIP_MAGIC:
            cap = limits.max_decompressed_bytes
            # One step of gunzip_capped: all it would do for a small single member.
            decomp = zlib_decompressobj(wbits=31)
            out = decomp.decompress(data, min(GUNZIP_STEP, cap + 1))
            if decomp.eof and not decomp.unused_data and len(out) <= cap:
                data = out
            else:
                data = gunzip_capped(data, cap)
        elif sniff(data) != "json" or len(data) > limits.max_decompressed_bytes:
            raise Irregular
        if data[:3] != UTF8_BOM:
            try:
                text = data.decode("utf-8")
                obj, end = _SCAN_JSON(text, 0)
                if end == len(text):
                    return obj
            except Exception:  # the loader's own decoding says what it is
                pass
        obj, _warnings = decode_json(data)
    except (ReportError, zlib_error):
        raise Irregular from None
    return obj
