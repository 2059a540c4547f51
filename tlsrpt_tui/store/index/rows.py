"""Turn one file into the compact rows the SQLite index stores (runs in worker processes).

The index never keeps :class:`~tlsrpt_tui.core.model.Report` objects: a worker reads a
file and sends back plain tuples (cheap to pickle) holding exactly the facts
:mod:`tlsrpt_tui.core.facts` and :mod:`tlsrpt_tui.store.memory` derive from a
report. Well-formed JSON and gzip files take a fast path that reads the decoded JSON
directly; anything the fast path is not certain about (email, mbox, odd types, values
the loader would cut, drop or warn about) goes through :func:`load_file`, so the
answers are the loader's in every case.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from json import dumps as json_dumps
from json import loads as json_loads
from typing import Any, Final, TypeVar

# The hash functions from their own modules: hashlib also sets up OpenSSL, a few
# milliseconds of every start (where these are missing, hashlib has them).
try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover
    from hashlib import blake2b
try:
    from _sha256 import sha256  # (Python 3.11)
except ImportError:  # pragma: no cover
    from hashlib import sha256

from tlsrpt_tui.core.facts import (
    failure_haystack_of,
    joined_domains,
    key_text,
    larger_of_types,
    unit_haystack,
)
from tlsrpt_tui.core.model import Report
from tlsrpt_tui.core.reading.fast import (
    Irregular,
    NPolicy,
    decoded,
    fast_policies,
    hashable,
    policy_head,
    read_regular,
    session_counts,
    start_of,
    sts_mode_cached,
    text_of,
)
from tlsrpt_tui.core.reading.loader import (
    MAX_STRING,
    Limits,
    load_file,
)
from tlsrpt_tui.core.text import clean
from tlsrpt_tui.store.parallel.pool import map_batches

# What a worker sends back: rows in the index's column order, as lists, so the parent
# process only fills in the ids it hands out (None until then) before inserting them.
#   UnitRow    = [id, report, sig, domain, reporter, day, successful, failed, lead,
#                 result-type counts as JSON or None, failure-details rows folded]
#   PolicyRow  = [id, unit, sig, domain, reporter, day, policy_type, sts_mode,
#                 mx_host as a JSON array, successful, failed, first]
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
U_FOLDED: Final = 10
P_TYPE: Final = 6
P_OK: Final = 9
P_FAILED: Final = 10


# --------------------------------------------------------------------------- text


def _clean_opt(value: str | None) -> str | None:
    return None if value is None else clean(value)


def key_hash(key: str) -> int:
    """A stable signed 64-bit hash of a report key (the index looks keys up by it)."""
    digest = blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# --------------------------------------------------------------------------- facts


#: Per worker: what a unit without failure details turns into, by (domain, reporter,
#: policies' (type, mode, MX)): its cleaned columns and haystack. Reports of one sender
#: about one domain repeat these every day.
_UNITS: dict[tuple[Any, ...], tuple[str, str, str, list[tuple[str, str | None, str, int]]]] = {}
#: Per worker: ``start.isoformat()`` and the day's ordinal, by start.
_STARTS: dict[datetime, tuple[str, int]] = {}
_SINGLE: dict[tuple[Any, ...], tuple[str, str, str, list[tuple[str, str | None, str, int]]]] = {}


def _start_text(start: datetime) -> tuple[str, int]:
    try:
        return _STARTS[start]
    except KeyError:
        if len(_STARTS) > 4096:
            _STARTS.clear()
        value = _STARTS[start] = (start.isoformat(), start.date().toordinal())
        return value


def _unit_static(
    domain: str, org: str, pols: list[tuple[str, str | None, tuple[str, ...], int, int]]
) -> tuple[str, str, str, list[tuple[str, str | None, str, int]]]:
    """(domain, reporter, haystack, [(type, mode, MX text, first)]) of a unit without
    failure details, cleaned for SQLite (remembered per worker)."""
    key = (domain, org, tuple([(p[0], p[1], p[2]) for p in pols]))
    static = _UNITS.get(key)
    if static is None:
        hay = unit_haystack(domain, org, [(p[0], p[1], p[2]) for p in pols])
        seen: set[tuple[str, str | None, tuple[str, ...]]] = set()
        columns: list[tuple[str, str | None, str, int]] = []
        for ptype, mode, mx, _ok, _failed in pols:
            # ``first``: policy rows count a report once per (type, mode, MX) group.
            group = (ptype, mode, mx)
            columns.append((clean(ptype), _clean_opt(mode), _mx_text(mx), int(group not in seen)))
            seen.add(group)
        static = (clean(domain), clean(org), clean(hay), columns)
        if len(_UNITS) > 8192:
            _UNITS.clear()
            _SINGLE.clear()
        _UNITS[key] = static
    return static


def report_out(
    org: str,
    report_id: str,
    start: datetime,
    part: str | None,
    policies: Sequence[NPolicy],
    folded: dict[str, int] | None = None,
) -> ReportOut:
    """The rows of one report: one unit per policy domain, as facts_of/units_of count.

    ``folded``: failure-details rows the loader folded, per policy domain (the fast path
    never folds: it leaves reports with that many rows to the loader)."""
    if len(policies) == 1 and not policies[0][6]:
        # The common case, in short: one policy, no failure details.
        ptype, domain, pstring, mx, ok, failed, _details = policies[0]
        iso, day = _start_text(start)
        mode = sts_mode_cached(pstring)
        static = _SINGLE.get((domain, org, ptype, mode, mx))
        if static is None:
            static = _SINGLE[(domain, org, ptype, mode, mx)] = _unit_static(
                domain, org, [(ptype, mode, mx, ok, failed)]
            )
        domain_clean, org_clean, hay, ((pt, md, mxt, first),) = static
        key = clean(key_text(org, report_id, iso, domain))
        unit_row = [None, None, None, domain_clean, org_clean, day, ok, failed, 1, None, 0]
        policy_row = [
            None, None, None, domain_clean, org_clean, day, pt, md, mxt, ok, failed, first
        ]  # fmt: skip
        return (
            key,
            key_hash(key),
            org_clean,
            clean(report_id),
            day,
            None if part is None else clean(part),
            [(hay, unit_row, [policy_row], [])],
        )
    # The counting rule of core.facts: per domain and policy-type the blocks added
    # up, then per count the larger of the per-type sums.
    # domain -> [policy facts, policy type -> [successful, failed, detail key -> count,
    #            result type -> count]]
    by_domain: dict[str, list[Any]] = {}
    for ptype, domain, pstring, mx, ok, failed, details in policies:
        entry = by_domain.get(domain)
        if entry is None:
            entry = by_domain[domain] = [[], {}]
        entry[0].append((ptype, sts_mode_cached(pstring), mx, ok, failed))
        sums = entry[1].get(ptype)
        if sums is None:
            sums = entry[1][ptype] = [ok, failed, {}, {}]
        else:
            sums[0] += ok
            sums[1] += failed
        if details:
            in_type: dict[tuple[Any, ...], int] = sums[2]
            by_type: dict[str, int] = sums[3]
            for d in details:
                dkey = d[:7]
                in_type[dkey] = in_type.get(dkey, 0) + d[7]
                by_type[d[0]] = by_type.get(d[0], 0) + d[7]
    # [successful, failed, policy facts, detail key -> count, result type -> count]
    units: dict[str, list[Any]] = {}
    for domain, (pols, types) in by_domain.items():
        if len(types) == 1:
            ((ok, failed, merged, rtc),) = types.values()
        else:
            sums_list = list(types.values())
            ok = max(t[0] for t in sums_list)
            failed = max(t[1] for t in sums_list)
            merged = larger_of_types(t[2] for t in sums_list)
            rtc = larger_of_types(t[3] for t in sums_list)
        units[domain] = [ok, failed, pols, merged, rtc]
    iso, day = _start_text(start)
    org_clean = clean(org)
    out_units: list[UnitOut] = []
    lead = 1
    for domain, (ok, failed, pols, merged, rtc) in units.items():
        if not merged:
            domain_clean, org_clean, hay, columns = _unit_static(domain, org, pols)
            out_units.append(
                (
                    hay,
                    [None, None, None, domain_clean, org_clean, day, ok, failed, lead, None,
                     folded.get(domain, 0) if folded else 0],
                    [
                        [None, None, None, domain_clean, org_clean, day, c[0], c[1], c[2],
                         p[3], p[4], c[3]]
                        for c, p in zip(columns, pols, strict=True)
                    ],
                    [],
                )
            )  # fmt: skip
            lead = 0
            continue
        domain_clean = clean(domain)
        hays: list[str] = []
        failures: list[list[Any]] = []
        for dkey, count in merged.items():
            rt, smta, rmx, helo, rip, info, reason = dkey
            haystack = failure_haystack_of(domain, org, rt, rmx, rip, smta, helo, info, reason)
            hays.append(haystack)
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
        unit_row = [
            None, None, None, domain_clean, org_clean, day, ok, failed, lead, counts,
            folded.get(domain, 0) if folded else 0,
        ]  # fmt: skip
        lead = 0
        hay = unit_haystack(domain, org, [(p[0], p[1], p[2]) for p in pols], hays)
        out_units.append((clean(hay), unit_row, policy_rows, failures))
    domains = list(units)
    key = clean(
        key_text(org, report_id, iso, domains[0] if len(domains) == 1 else joined_domains(domains))
    )
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
    folded: dict[str, int] = {}
    for p in report.policies:
        if p.folded_details:
            folded[p.policy_domain] = folded.get(p.policy_domain, 0) + p.folded_details
    return report_out(
        report.organization_name,
        report.report_id,
        report.start,
        report.source.part,
        policies_of(report),
        folded,
    )


_MX_TEXT: dict[tuple[str, ...], str] = {}


def _mx_text(hosts: tuple[str, ...]) -> str:
    try:
        return _MX_TEXT[hosts]
    except KeyError:
        if len(_MX_TEXT) > 4096:
            _MX_TEXT.clear()
        text = _MX_TEXT[hosts] = clean(json_dumps(hosts, ensure_ascii=False))
        return text


#: Per worker: a policy block's (type, domain, policy-string, mx-host) as the loader
#: reads them, by the raw values (senders repeat the same block in every report).
def _fast_file(path: str, limits: Limits) -> FileOut:
    return _fast_read(path, limits)[0]


def _fast_read(path: str, limits: Limits) -> tuple[FileOut, os.stat_result]:
    data, info = read_regular(path, limits)
    return _outs_of(decoded(data, limits)), info


def _outs_of(obj: Any) -> FileOut:
    """The rows of a decoded file (:class:`Irregular` when the loader must decide)."""
    if type(obj) is list:
        if not obj:
            raise Irregular  # the loader reports an empty array as an error
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


# --------------------------------------------------------------------------- cold builds


def place_unit(
    unit: list[Any],
    unit_policies: list[list[Any]],
    unit_failures: list[list[Any]],
    ids: tuple[int, int, int, int, int],
    out: tuple[list[list[Any]], list[list[Any]], list[list[Any]]],
) -> tuple[int, int]:
    """Number one unit's rows in place and append them to ``out`` (units, policies,
    failures). ``ids`` are the unit's id, its report's, its signature's and the next
    policy and failure ids; returns the next policy and failure ids after it. The one
    numbering of rows, for a worker's batch and for the writer's appends."""
    uid, rid, sid, pid, fid = ids
    units, policies, failures = out
    unit[0] = uid
    unit[1] = rid
    unit[2] = sid
    units.append(unit)
    for row in unit_policies:
        row[0] = pid
        row[1] = uid
        row[2] = sid
        policies.append(row)
        pid += 1
    for row in unit_failures:
        row[0] = fid
        row[1] = uid
        failures.append(row)
        fid += 1
    return pid, fid


class SigCollision(Exception):
    """Two signatures share a hash (never seen; the build then takes the slow road)."""


def sig_hash(domain: str, reporter: str, hay: str) -> int:
    """A signature's id: a stable signed 64-bit hash of (domain, reporter, haystack), so
    that workers number signatures without asking the parent."""
    text = f"{domain}\x00{reporter}\x00{hay}".encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(text, digest_size=8).digest(), "big", signed=True)


#: Per worker: signature -> its hash.
_SIG_IDS: dict[tuple[str, str, str], int] = {}

#: What :func:`extract_rows` returns for a batch of files, every id local to the batch
#: (numbered from 0; the parent adds its offsets while inserting):
#:   (stats: (size, mtime) per file or None when it is gone or not a regular file,
#:    report rows, unit rows, policy rows, failure rows,
#:    error rows (file, seq, part, message), {signature id: (domain, reporter, hay)},
#:    the batch's sums for the aggregate tables (:func:`aggregate_rows`),
#:    staged reports)
#: Report rows are ``reports`` rows (file = position in the batch), unit, policy and
#: failure rows those of their tables, with hashed signature ids. A report of the
#: common shape (one policy, no failure details) is one staged row instead of three:
#: (report number, key hash, key, reporter, report id, day, file position, unit id,
#: policy id, next failure id, signature id, domain, successful, failed, policy type,
#: STS mode, MX text); :func:`staged_rows` spells out the rows it stands for.
Rows = tuple[
    list[tuple[int, int] | None],
    list[tuple[Any, ...]],
    list[list[Any]],
    list[list[Any]],
    list[list[Any]],
    list[tuple[int, int, str | None, str]],
    dict[int, tuple[str, str, str]],
    "Sums",
    list[tuple[Any, ...]],
]

#: What the aggregate tables hold, as dictionaries:
#:   daily_domain   (domain, day) -> [successful, failed, units]
#:   daily_reporter (reporter, day) -> [successful, failed, leads]
#:   sigs           signature id -> [units, leads, successful, failed, first, last]
#:   policy_types   (domain, policy_type) -> [successful, failed, n]
#:   type_totals    (domain, result_type) -> [count, n]
Sums = tuple[
    dict[tuple[str, int], list[int]],
    dict[tuple[str, int], list[int]],
    dict[int, list[int]],
    dict[tuple[str, str], list[int]],
    dict[tuple[str, str], list[int]],
]


def new_sums() -> Sums:
    return {}, {}, {}, {}, {}


def aggregate_rows(
    units: Iterable[Sequence[Any]],
    policies: Iterable[Sequence[Any]],
    staged: Sequence[Sequence[Any]] = (),
) -> Sums:
    """The aggregate tables' sums over unit and policy rows, and staged reports (what
    the index's SQL ``GROUP BY`` of them gives)."""
    domains, reporters, sigs, types, results = new_sums()
    if staged:
        # (each the unit and the policy row it stands for, as the loops below read them)
        units = chain(
            units, ((0, 0, r[10], r[11], r[3], r[5], r[12], r[13], 1, None, 0) for r in staged)
        )
        policies = chain(
            policies, ((0, 0, 0, r[11], 0, 0, r[14], 0, 0, r[12], r[13]) for r in staged)
        )
    for _uid, _rid, sid, domain, reporter, day, ok, failed, lead, rtc, _folded in units:
        e = domains.get((domain, day))
        if e is None:
            domains[(domain, day)] = [ok, failed, 1]
        else:
            e[0] += ok
            e[1] += failed
            e[2] += 1
        e = reporters.get((reporter, day))
        if e is None:
            reporters[(reporter, day)] = [ok, failed, lead]
        else:
            e[0] += ok
            e[1] += failed
            e[2] += lead
        e = sigs.get(sid)
        if e is None:
            sigs[sid] = [1, lead, ok, failed, day, day]
        else:
            e[0] += 1
            e[1] += lead
            e[2] += ok
            e[3] += failed
            if day < e[4]:
                e[4] = day
            if day > e[5]:
                e[5] = day
        if rtc is not None:
            for result_type, count in json_loads(rtc).items():
                e = results.get((domain, result_type))
                if e is None:
                    results[(domain, result_type)] = [count, 1]
                else:
                    e[0] += count
                    e[1] += 1
    for row in policies:
        key = (row[3], row[6])
        e = types.get(key)
        if e is None:
            types[key] = [row[9], row[10], 1]
        else:
            e[0] += row[9]
            e[1] += row[10]
            e[2] += 1
    return domains, reporters, sigs, types, results


def merge_sums(into: Sums, more: Sums) -> None:
    """Add ``more`` to ``into`` (in place)."""
    _merge(into[0], more[0])
    _merge(into[1], more[1])
    _merge(into[3], more[3])
    _merge(into[4], more[4])
    target = into[2]
    if not target:
        target.update(more[2])
        return
    for key, values in more[2].items():  # signatures: counts, then first and last day
        have = target.get(key)
        if have is None:
            target[key] = values
            continue
        have[0] += values[0]
        have[1] += values[1]
        have[2] += values[2]
        have[3] += values[3]
        if values[4] < have[4]:
            have[4] = values[4]
        if values[5] > have[5]:
            have[5] = values[5]


K = TypeVar("K")
T = TypeVar("T")


def _merge(target: dict[K, list[int]], source: dict[K, list[int]]) -> None:
    if not target:
        target.update(source)
        return
    for key, values in source.items():
        have = target.get(key)
        if have is None:
            target[key] = values
        else:
            for i, value in enumerate(values):
                have[i] += value


def extract_with_stat(
    path: str, display: str, limits: Limits
) -> tuple[FileOut, tuple[int, int]] | None:
    """:func:`extract_file` and the (size, mtime) of what was read; None when the file is
    gone. Never raises. Anything that is not a regular file (a FIFO, a device, a broken
    link, a folder that cannot be listed) is an error the loader names, as without the
    index; its (size, mtime) are the scan's (``stat``, else ``lstat``)."""
    try:
        out, info = _fast_read(path, limits)
        return out, (info.st_size, info.st_mtime_ns)
    except Exception:  # irregular, unreadable or surprising: the loader decides
        pass
    try:
        try:
            info = os.stat(path)
        except OSError:
            info = os.lstat(path)  # (a broken link or a link loop)
    except (OSError, ValueError):
        return None  # gone
    try:
        out = slow_file(path, display, limits)[0]
    except Exception as exc:  # load_file never raises; this is belt and braces
        out = [], [(None, clean(f"unexpected error: {type(exc).__name__}: {exc}"))]
    return out, (info.st_size, info.st_mtime_ns)


def extract_rows(batch: list[tuple[str, str]], limits: Limits) -> Rows:
    """Worker entry point of a cold build: a batch's rows, ready to insert."""
    # Parsing makes many short-lived containers and no cycles: the collector would
    # run hundreds of times per batch for nothing (it runs once after the batch).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _rows_of(batch, limits)
    finally:
        if enabled:
            gc.enable()


#: Per worker: what a report of the common shape (one policy, no failure details)
#: takes from its reporter and policy block, by their raw values (see _common_static).
_COMMON: dict[tuple[Any, ...], tuple[Any, ...]] = {}
#: Per worker: (start as text, day ordinal) by the raw date-range strings.
_DAYS: dict[tuple[str, str], tuple[str, int]] = {}


def _common_static(org: str, policy: dict[str, Any]) -> tuple[Any, ...]:
    """(report key's reporter, policy domain, domain column, reporter column, policy type
    column, STS mode, MX text, signature id, signature) of a report
    of the common shape: what :func:`report_out` and :func:`_rows_of` make of them."""
    pstring = policy.get("policy-string")
    mx = policy.get("mx-host")
    key = (org, policy.get("policy-type"), policy.get("policy-domain"), hashable(pstring),
           hashable(mx))  # fmt: skip
    static = _COMMON.get(key)
    if static is None:
        org_text = text_of(org)
        ptype, domain, pstring_n, mx_n = policy_head(policy)
        mode = sts_mode_cached(pstring_n)
        domain_clean, org_clean, hay, ((pt, md, mxt, _first),) = _unit_static(
            domain, org_text, [(ptype, mode, mx_n, 0, 0)]
        )
        sig = (domain_clean, org_clean, hay)
        sid = _SIG_IDS.get(sig)
        if sid is None:
            sid = sig_hash(*sig)
        static = (org_text, domain, domain_clean, org_clean, pt, md, mxt, sid, sig)
        if len(_COMMON) > 8192:
            _COMMON.clear()
        _COMMON[key] = static
    return static


def _common_report(obj: Any) -> tuple[tuple[Any, ...], str, str, int, int, int] | None:
    """(static facts, report id, start as text, day, successful, failed) of a report of
    the common shape -- one policy, no failure details, nothing the loader would touch
    up -- or None (the general path then decides)."""
    if type(obj) is not dict:
        return None
    org = obj.get("organization-name")
    report_id = obj.get("report-id")
    date_range = obj.get("date-range")
    raw_policies = obj.get("policies")
    if (
        type(org) is not str
        or type(report_id) is not str
        or type(date_range) is not dict
        or type(raw_policies) is not list
        or len(raw_policies) != 1
    ):
        return None
    raw = raw_policies[0]
    if type(raw) is not dict:
        return None
    policy = raw.get("policy")
    summary = raw.get("summary")
    if type(policy) is not dict or type(summary) is not dict:
        return None
    details = raw.get("failure-details")
    if details is not None and (type(details) is not list or details):
        return None
    counts = session_counts(summary)
    if counts is None:
        return None
    ok, failed = counts
    start = date_range.get("start-datetime")
    end = date_range.get("end-datetime")
    if type(start) is not str or type(end) is not str:
        return None
    try:
        days = _DAYS.get((start, end))
        if days is None:
            days = _start_text(start_of(start, end))
            if len(_DAYS) > 4096:
                _DAYS.clear()
            _DAYS[(start, end)] = days
        static = _common_static(org, policy)
    except Exception:  # irregular (or unhashable): the general path decides
        return None
    return static, report_id, days[0], days[1], ok, failed


def _rows_of(batch: list[tuple[str, str]], limits: Limits, *, common: bool = True) -> Rows:
    stats: list[tuple[int, int] | None] = []
    reports: list[tuple[Any, ...]] = []
    units: list[list[Any]] = []
    policies: list[list[Any]] = []
    failures: list[list[Any]] = []
    errors: list[tuple[int, int, str | None, str]] = []
    out = (units, policies, failures)
    sigs: dict[int, tuple[str, str, str]] = {}
    staged: list[tuple[Any, ...]] = []
    sig_ids = _SIG_IDS
    # Local ids of the next report, unit, policy and failure row.
    number = uid = pid = fid = 0
    for position, (path, display) in enumerate(batch):
        got: tuple[FileOut, tuple[int, int]] | None = None
        try:
            data, stat_info = read_regular(path, limits)
            obj = decoded(data, limits)
        except Exception:
            got = extract_with_stat(path, display, limits)  # the loader decides
        else:
            found = _common_report(obj) if common else None
            if found is not None:
                static, report_id, iso, day, ok, failed = found
                (org_text, domain, dc, oc, pt, md, mxt, sid, sig) = static
                if report_id.isascii() and len(report_id) <= MAX_STRING:
                    key = key_text(org_text, report_id, iso, domain)
                    if not key.isascii():
                        key = clean(key)
                else:
                    report_id = text_of(report_id)
                    key = clean(key_text(org_text, report_id, iso, domain))
                    report_id = clean(report_id)
                have = sigs.get(sid)
                if have is None:
                    sigs[sid] = sig
                elif have is not sig and have != sig:
                    raise SigCollision
                staged.append(
                    (number, key_hash(key), key, oc, report_id, day, position, uid, pid, fid,
                     sid, dc, ok, failed, pt, md, mxt)
                )  # fmt: skip
                number += 1
                uid += 1
                pid += 1
                stats.append((stat_info.st_size, stat_info.st_mtime_ns))
                continue
            try:
                got = _outs_of(obj), (stat_info.st_size, stat_info.st_mtime_ns)
            except Exception:
                # (the decoded file goes first: a big one is not held twice)
                del data, obj
                got = extract_with_stat(path, display, limits)  # the loader decides
        if got is None:
            stats.append(None)
            continue
        (outs, file_errors), info = got
        stats.append(info)
        for seq, (part, message) in enumerate(file_errors):
            errors.append((position, seq, part, message))
        for seq, (key, khash, org, report_id, day, part, unit_outs) in enumerate(outs):
            u0, p0, f0 = uid, pid, fid
            for hay, unit, unit_policies, unit_failures in unit_outs:
                sig = (unit[3], org, hay)
                sid = sig_ids.get(sig)
                if sid is None:
                    if len(sig_ids) > 65536:
                        sig_ids.clear()
                    sid = sig_ids[sig] = sig_hash(*sig)
                if sigs.setdefault(sid, sig) != sig:
                    raise SigCollision
                pid, fid = place_unit(
                    unit, unit_policies, unit_failures, (uid, number, sid, pid, fid), out
                )
                uid += 1
            reports.append(
                (number, khash, key, org, report_id, day, position, seq, part,
                 u0, uid - 1, p0, pid - 1, f0, fid - 1)
            )  # fmt: skip
            number += 1
    sums = aggregate_rows(units, policies, staged)
    return stats, reports, units, policies, failures, errors, sigs, sums, staged


def staged_rows(rows: Rows) -> tuple[list[tuple[Any, ...]], list[list[Any]], list[list[Any]]]:
    """The report, unit and policy rows of the staged reports of ``rows`` (what
    :mod:`tlsrpt_tui.store.index.batch` makes of them in SQL; for tests)."""
    reports: list[tuple[Any, ...]] = []
    units: list[list[Any]] = []
    policies: list[list[Any]] = []
    for row in rows[8]:
        number, khash, key, oc, report_id, day, position, uid, pid, fid = row[:10]
        sid, dc, ok, failed, pt, md, mxt = row[10:]
        reports.append(
            (number, khash, key, oc, report_id, day, position, 0, None, uid, uid, pid, pid,
             fid, fid - 1)
        )  # fmt: skip
        units.append([uid, number, sid, dc, oc, day, ok, failed, 1, None, 0])
        policies.append([pid, uid, sid, dc, oc, day, pt, md, mxt, ok, failed, 1])
    return reports, units, policies


def extract_in_order(
    items: Iterable[T],
    job: Callable[[T], tuple[str, str]],
    limits: Limits,
    jobs: int,
    cancel: threading.Event | None = None,
) -> Iterator[list[tuple[T, FileOut]]]:
    """Consecutive batches of (item, rows of its file), in the order of ``items``.

    ``job(item)`` is (path, display name). See :func:`map_batches`.
    """
    for batch, outs in map_batches(items, job, extract_batch, limits, jobs, cancel):
        yield list(zip(batch, outs, strict=True))


__all__ = [
    "FileOut",
    "ReportOut",
    "Rows",
    "SigCollision",
    "Sums",
    "aggregate_rows",
    "blake2b",
    "clean",
    "extract_batch",
    "extract_file",
    "extract_in_order",
    "extract_rows",
    "extract_with_stat",
    "merge_sums",
    "new_sums",
    "out_of_report",
    "report_out",
    "sha256",
    "sig_hash",
    "slow_file",
    "staged_rows",
]
