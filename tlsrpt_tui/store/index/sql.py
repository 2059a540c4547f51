"""SQL for a :class:`~tlsrpt_tui.store.queries.Filter`, and the rows built from it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from tlsrpt_tui.store.index.text_filter import Signature
from tlsrpt_tui.store.index.writer import _marks
from tlsrpt_tui.store.queries import FailureRow, Filter, PolicyRow, ReportRow
from tlsrpt_tui.store.summary import _describe

# --------------------------------------------------------------------------- the store


def _mx(text: str) -> tuple[str, ...]:
    """A policy's MX hosts as stored (a JSON array of strings, see rows._mx_text)."""
    return tuple(str(v) for v in json.loads(text))


_fromordinal = date.fromordinal

#: Answers a store remembers (a filter typed and deleted again finds its answers).
_MEMO_SIZE = 1024


class _Where:
    """SQL conditions for a :class:`Filter` over one of the fact tables."""

    def __init__(self) -> None:
        self.conds: list[str] = []
        self.params: list[Any] = []

    def add(self, cond: str, *params: Any) -> None:
        self.conds.append(cond)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.conds)) if self.conds else ""


#: The signatures (hence units) whose haystack holds the needle.
_MATCHING_SIGS = "(SELECT id FROM sigs WHERE instr(hay, ?) > 0)"


def _scope(flt: Filter, alias: str, *, with_type: bool, with_text: str | None) -> _Where:
    """Domain, reporter and dates on ``alias``; result-type and text when asked.

    ``with_text``: ``"sig"`` for tables with a signature column (units, policies: the
    unit's haystack), ``"haystack"`` for failures (the row's own), None to skip it.
    """
    where = _Where()
    if flt.domain is not None:
        where.add(f"{alias}.domain = ?", flt.domain)
    if flt.reporter is not None:
        where.add(f"{alias}.reporter = ?", flt.reporter)
    if flt.since is not None:
        where.add(f"{alias}.day >= ?", flt.since.toordinal())
    if flt.until is not None:
        where.add(f"{alias}.day <= ?", flt.until.toordinal())
    if with_type and flt.result_type is not None:
        where.add(
            f"{alias}.id IN (SELECT unit FROM failures WHERE result_type = ?)", flt.result_type
        )
    if with_text == "sig" and flt.needle:
        where.add(f"{alias}.sig IN {_MATCHING_SIGS}", flt.needle)
    elif with_text == "haystack" and flt.needle:
        where.add(f"instr({alias}.haystack, ?) > 0", flt.needle)
    return where


def _unit_where(flt: Filter, alias: str = "u") -> _Where:
    return _scope(flt, alias, with_type=True, with_text="sig")


def _simple(flt: Filter) -> bool:
    """Only dates: the daily aggregate tables answer."""
    return (
        not flt.needle and flt.result_type is None and flt.domain is None and flt.reporter is None
    )


def _sig_only(flt: Filter) -> bool:
    """Text (and domain, reporter) only: the signatures' totals answer."""
    return bool(flt.needle) and flt.result_type is None and flt.since is None and flt.until is None


def _sig_where(flt: Filter) -> _Where:
    """Signatures with units, holding the needle, of the domain and reporter asked."""
    where = _Where()
    where.add("s.units > 0")
    if flt.needle:
        where.add("instr(s.hay, ?) > 0", flt.needle)
    if flt.domain is not None:
        where.add("s.domain = ?", flt.domain)
    if flt.reporter is not None:
        where.add("s.reporter = ?", flt.reporter)
    return where


def _days(flt: Filter, column: str) -> _Where:
    where = _Where()
    if flt.since is not None:
        where.add(f"{column} >= ?", flt.since.toordinal())
    if flt.until is not None:
        where.add(f"{column} <= ?", flt.until.toordinal())
    return where


def _newest_reports(conn: sqlite3.Connection, where: _Where, limit: int) -> list[tuple[int]]:
    """The ``limit`` newest reports with a unit ``where`` keeps (a domain's or a
    reporter's), newest first, then by reporter (descending) and id.

    Their units are walked newest first through the domain's or reporter's index, up to
    the day the last report needed is on: a few hundred rows, not every unit of the
    domain grouped and sorted (a second at a million reports).
    """
    found: dict[int, tuple[int, str]] = {}
    last_day: int | None = None
    for report, day, reporter in conn.execute(
        f"SELECT u.report, u.day, u.reporter FROM units u{where.sql} ORDER BY u.day DESC",
        where.params,
    ):
        if last_day is not None and day < last_day:
            break
        if report not in found:
            found[report] = (day, reporter)
            if len(found) == limit:
                last_day = day  # (the rest of that day still sorts among them)
    ordered = sorted(found.items(), key=lambda item: (item[1][0], item[1][1], -item[0]))
    return [(report,) for report, _ in reversed(ordered)][:limit]


def _policy_row(
    domain: str,
    policy_type: str,
    mode: str | None,
    reporter: str,
    mx: str,
    ok: int,
    failed: int,
    reports: int,
    first: int,
    last: int,
) -> PolicyRow:
    """A policy pane row from (group columns, sums, first and last day ordinals)."""

    return PolicyRow(
        domain=domain,
        policy_type=policy_type,
        sts_mode=mode,
        reporter=reporter,
        successful=ok,
        failed=failed,
        mx_hosts=_mx(mx),
        reports=reports,
        first_day=_fromordinal(first),
        last_day=_fromordinal(last),
    )


def _failure_row(
    columns: Sequence[Any], count: int, first: int, last: int, reporters: Iterable[str]
) -> FailureRow:
    """A failure pane row from (result type, domain, MX, receiving IP, sending IP, HELO,
    additional information, reason code), the count, the first and last day ordinals
    and the reporters."""

    return FailureRow(
        result_type=columns[0],
        domain=columns[1],
        receiving_mx_hostname=columns[2],
        receiving_ip=columns[3],
        sending_mta_ip=columns[4],
        receiving_mx_helo=columns[5],
        additional_information=columns[6],
        failure_reason_code=columns[7],
        count=count,
        first_day=_fromordinal(first),
        last_day=_fromordinal(last),
        reporters=tuple(sorted(set(reporters))),
    )


def _sorted_policies(rows: list[PolicyRow]) -> list[PolicyRow]:
    rows.sort(
        key=lambda r: (-r.failed, r.domain, r.policy_type, r.reporter, r.sts_mode or "", r.mx_hosts)
    )
    return rows


def _sorted_failures(rows: list[FailureRow]) -> list[FailureRow]:
    rows.sort(
        key=lambda r: (
            -r.count,
            r.result_type,
            r.domain,
            r.receiving_mx_hostname or "",
            r.receiving_ip or "",
            r.sending_mta_ip or "",
            r.receiving_mx_helo or "",
            r.additional_information or "",
            r.failure_reason_code or "",
        )
    )
    return rows


def _add_units(
    cells: dict[tuple[str, int], list[int]],
    signatures: Iterable[Signature],
    column: Callable[[Signature], str],
    recent: dict[int, list[tuple[int, int, int, int]]],
    sign: int,
) -> None:
    """Add (``sign`` 1) or take away (-1) the recent units of ``signatures`` to
    ``cells``: (key, day) -> [successful, failed, units, leads]."""
    for sig in signatures:
        name = column(sig)
        for day, ok, failed, lead in recent.get(sig.id, ()):
            cell = cells.get((name, day))
            if cell is None:
                cells[(name, day)] = [sign * ok, sign * failed, sign, sign * lead]
            else:
                cell[0] += sign * ok
                cell[1] += sign * failed
                cell[2] += sign
                cell[3] += sign * lead


def report_rows_of(conn: sqlite3.Connection, rids: list[int], flt: Filter) -> list[ReportRow]:
    """Raw-view rows of the reports ``rids``, in that order, with the units ``flt``
    keeps summed."""

    if not rids:
        return []
    where = _unit_where(flt)
    inner = (" AND " + " AND ".join(where.conds)) if where.conds else ""
    marks = _marks(len(rids))
    head = {
        rid: (key, reporter, report_id, day)
        for rid, key, reporter, report_id, day in conn.execute(
            f"SELECT id, key, reporter, report_id, day FROM reports WHERE id IN ({marks})", rids
        )
    }
    units: dict[int, list[tuple[str, int, int]]] = {}
    # CROSS JOIN: reports first, then each one's units by id range. The filter's terms
    # only test those units: through an index on one of them (NOT INDEXED), or the
    # ids of a result-type's units ("+u.id"), each report would walk all of them.
    inner = inner.replace("u.id IN (SELECT unit", "+u.id IN (SELECT unit")
    for rid, domain, ok, failed in conn.execute(
        "SELECT r.id, u.domain, u.successful, u.failed FROM reports r"
        " CROSS JOIN units u NOT INDEXED ON u.id BETWEEN r.u0 AND r.u1"
        f" WHERE r.id IN ({marks}){inner}",
        [*rids, *where.params],
    ):
        units.setdefault(rid, []).append((domain, ok, failed))
    sources: dict[int, list[str]] = {}
    for rid, _key, _seq, display, part in conn.execute(
        "SELECT r.id, f.key, r.seq, f.display, r.part FROM reports r"
        f" JOIN files f ON f.id = r.file WHERE r.id IN ({marks})"
        " UNION ALL SELECT c.report, f.key, c.seq, f.display, c.part FROM copies c"
        f" JOIN files f ON f.id = c.file WHERE c.report IN ({marks})"
        " ORDER BY 1, 2, 3",
        [*rids, *rids],
    ):
        sources.setdefault(rid, []).append(_describe(display, part))
    rows = []
    for rid in rids:
        key, reporter, report_id, day = head[rid]
        parts = units.get(rid, [])
        rows.append(
            ReportRow(
                key=key,
                reporter=reporter,
                report_id=report_id,
                day=_fromordinal(day),
                domains=tuple(sorted(d for d, _, _ in parts)),
                successful=sum(s for _, s, _ in parts),
                failed=sum(f for _, _, f in parts),
                sources=tuple(sources.get(rid, ())),
            )
        )
    return rows
