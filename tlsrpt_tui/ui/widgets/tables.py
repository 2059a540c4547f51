"""The three drill-down tables: navigation, policies, failure details.

Each table shows rows the store computed (aggregates, never raw reports), keeps the
cursor on the same row across refreshes, and caps what it renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType

from tlsrpt_tui.core.lookalike import lookalike
from tlsrpt_tui.core.model import u_label
from tlsrpt_tui.store.queries import FailureRow, NavRow, Pivot, PolicyRow
from tlsrpt_tui.ui.safe import LOOKALIKE_MARK, compact, name, names, number, rate, safe, spark
from tlsrpt_tui.ui.widgets.line_table import CELL_PADDING, LineTable
from tlsrpt_tui.ui.widgets.scroll_thumb import THUMB_WIDTH

RowT = TypeVar("RowT")

#: More rows than this are cut, with a last row saying how many were left out.
MAX_ROWS = 2000
TREND_DAYS = 14


def domain_text(domain: str, *, limit: int) -> Text:
    """A policy domain as every machine output has it (the A-label), with its Unicode
    spelling beside it for people: ``xn--bcher-kva.example (bücher.example)``."""
    shown = u_label(domain)
    text = safe(domain if shown is None else f"{domain} ({shown})", limit=limit)
    if lookalike(domain) is not None:
        text = Text.assemble((LOOKALIKE_MARK, "bold yellow"), text)
    return text


class RowTable(LineTable, Generic[RowT]):
    """A row-cursor table backed by a list of typed rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("s", "cycle_sort", "Sort", show=True),
    ]
    #: (label, sort key) pairs the user can cycle through with `s`.
    SORTS: ClassVar[Sequence[tuple[str, Callable[[Any], Any]]]] = ()

    #: (label, width) of each column.
    COLUMNS: ClassVar[Sequence[tuple[str, int]]] = ()
    #: The column holding a policy domain, if any: it widens into the pane's unused
    #: width to show an internationalized domain's Unicode spelling beside its A-label.
    DOMAIN_COLUMN: ClassVar[int | None] = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = list(self.COLUMNS)
        self.rows_data: list[RowT] = []
        self.all_rows: list[RowT] = []
        self.sort_index = 0
        self.truncated = 0
        self.last_shown: object = None
        #: The domain column's width as declared (it is widened from there).
        self.domain_base: int | None = None

    @property
    def current(self) -> RowT | None:
        if not self.rows_data or self.cursor_row >= len(self.rows_data):
            return None
        return self.rows_data[self.cursor_row]

    def key_of(self, row: RowT) -> object:
        return row

    def render_row(self, row: RowT) -> list[Text]:
        raise NotImplementedError

    def domain_of(self, row: RowT) -> str | None:
        """The policy domain a row shows in DOMAIN_COLUMN (None: none)."""
        return None

    def fit_domain_column(self) -> bool:
        """Widen the domain column, within the pane, to what internationalized domains
        need (``xn--bcher-kva.example (bücher.example)``); True if its width changed."""
        index = self.DOMAIN_COLUMN
        if index is None or index >= len(self.columns):
            return False
        label, width = self.columns[index]
        if self.domain_base is None:
            self.domain_base = width
        needed = 0
        for row in self.rows_data:
            domain = self.domain_of(row)
            if domain is not None and "xn--" in domain:
                needed = max(needed, domain_text(domain, limit=80).cell_len)
        others = self.table_width - width - 2 * CELL_PADDING
        room = self.size.width - THUMB_WIDTH - others - 2 * CELL_PADDING
        fitted = max(self.domain_base, min(needed, room))
        if fitted == width:
            return False
        self.columns[index] = (label, fitted)
        self._header_cache = None
        return True

    def on_resize(self) -> None:
        super().on_resize()
        if self.fit_domain_column():
            self.set_rows(self._count, cursor=self.cursor_row)

    def shown_with(self) -> object:
        """Besides the rows and the sort, what the drawn cells depend on."""
        return None

    def show(self, rows: list[RowT]) -> None:
        """Replace the rows, keeping the cursor on the same logical row if it remains.

        The same rows as shown already (typing a filter often leaves a pane as it was)
        change nothing and cost no repaint.
        """
        shown = (self.sort_index, self.shown_with(), rows)
        if shown == self.last_shown:
            return
        self.last_shown = shown
        previous = self.current
        previous_key = None if previous is None else self.key_of(previous)
        self.all_rows = rows
        if self.SORTS and self.sort_index:
            rows = sorted(rows, key=self.SORTS[self.sort_index][1])
        self.truncated = max(0, len(rows) - MAX_ROWS)
        self.rows_data = rows[:MAX_ROWS]
        target = 0
        if previous_key is not None:
            for index, row in enumerate(self.rows_data):
                if self.key_of(row) == previous_key:
                    target = index
                    break
        self.fit_domain_column()
        self.set_rows(len(self.rows_data) + (1 if self.truncated else 0), cursor=target)

    def row_cells(self, row: int) -> Sequence[Text]:
        if row < len(self.rows_data):
            return self.render_row(self.rows_data[row])
        return [Text(f"… {self.truncated:,} more rows: use / to filter", style="dim")]

    def action_cycle_sort(self) -> None:
        if not self.SORTS:
            return
        self.sort_index = (self.sort_index + 1) % len(self.SORTS)
        self.show(self.all_rows)
        self.notify(f"Sorted by {self.SORTS[self.sort_index][0]}", timeout=2)


class NavTable(RowTable[NavRow]):
    """Policy domains or reporters, worst first, with a daily failure trend."""

    SORTS = (
        ("failures", lambda r: (-r.failed, -r.failure_rate, r.key)),
        ("failure rate", lambda r: (-r.failure_rate, -r.failed, r.key)),
        ("sessions", lambda r: (-r.sessions, r.key)),
        ("name", lambda r: r.key),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_day: date | None = None
        self.pivot: Pivot = "domain"

    def key_of(self, row: NavRow) -> object:
        return row.key

    def shown_with(self) -> object:
        return self.last_day

    DOMAIN_COLUMN = 0

    def domain_of(self, row: NavRow) -> str | None:
        return row.key if self.pivot == "domain" else None

    def set_pivot(self, pivot: Pivot) -> None:
        self.pivot = pivot
        self.domain_base = None
        self.rows_data = []
        self.last_shown = None
        self.set_columns(
            [
                ("Policy domain" if pivot == "domain" else "Reporter", 18),
                ("Sessions", 7),
                ("Rate", 6),
                (f"Last {TREND_DAYS}d", TREND_DAYS),
            ]
        )
        self.border_title = "Policy domains" if pivot == "domain" else "Reporters"

    def render_row(self, row: NavRow) -> list[Text]:
        return [
            domain_text(row.key, limit=60) if self.pivot == "domain" else name(row.key, limit=60),
            number(row.sessions),
            rate(row.failure_rate, row.failed),
            self.trend(row),
        ]

    def trend(self, row: NavRow) -> Text:
        if self.last_day is None:
            return Text("")
        days = [self.last_day - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
        by_day = {p.day: p for p in row.daily}
        values = []
        for day in days:
            point = by_day.get(day)
            values.append(0.0 if point is None else float(point.failed))
        style = "red" if any(values) else "green"
        return spark(values, style=style)


class PolicyTable(RowTable[PolicyRow]):
    SORTS = (
        ("failures", lambda r: (-r.failed, r.domain, r.policy_type, r.reporter)),
        ("failure rate", lambda r: (-r.failure_rate, -r.failed, r.domain)),
        ("domain", lambda r: (r.domain, r.policy_type, r.reporter)),
        ("reporter", lambda r: (r.reporter, r.domain)),
    )

    COLUMNS = (
        ("Domain", 16),
        ("Type", 9),
        ("Mode", 7),
        ("Reporter", 16),
        ("OK", 6),
        ("Failed", 6),
        ("Rate", 6),
        ("MX hosts", 30),
    )

    DOMAIN_COLUMN = 0

    def domain_of(self, row: PolicyRow) -> str | None:
        return row.domain

    def on_mount(self) -> None:
        self.border_title = "Policies"

    def key_of(self, row: PolicyRow) -> object:
        return (row.domain, row.policy_type, row.sts_mode, row.reporter, row.mx_hosts)

    def render_row(self, row: PolicyRow) -> list[Text]:
        mode_style = {"enforce": "bold", "testing": "yellow", "none": "dim"}.get(
            row.sts_mode or "", ""
        )
        return [
            domain_text(row.domain, limit=40),
            safe(row.policy_type, limit=20),
            safe(row.sts_mode or "-", mode_style, limit=10),
            name(row.reporter, limit=40),
            number(row.successful),
            number(row.failed, "red" if row.failed else ""),
            rate(row.failure_rate, row.failed),
            names(row.mx_hosts, limit=80),
        ]


def merge_failures(rows: list[FailureRow]) -> list[FailureRow]:
    """Group rows by result-type, domain and receiving MX, folding the rest.

    Sending IPs and additional information that differ within a group are shown as
    a count ("7 IPs"); nothing is summed twice (each input row counts once).
    """
    groups: dict[tuple[str, str, str | None], list[FailureRow]] = {}
    for row in rows:
        groups.setdefault((row.result_type, row.domain, row.receiving_mx_hostname), []).append(row)
    merged = []
    for (result_type, domain, mx), members in groups.items():

        def one(values: set[str | None], noun: str) -> str | None:
            values.discard(None)
            if len(values) <= 1:
                return next(iter(values), None)
            return f"({len(values)} {noun})"

        merged.append(
            FailureRow(
                result_type=result_type,
                domain=domain,
                receiving_mx_hostname=mx,
                receiving_ip=one({m.receiving_ip for m in members}, "IPs"),
                sending_mta_ip=one({m.sending_mta_ip for m in members}, "IPs"),
                receiving_mx_helo=one({m.receiving_mx_helo for m in members}, "names"),
                additional_information=one({m.additional_information for m in members}, "texts"),
                failure_reason_code=one({m.failure_reason_code for m in members}, "codes"),
                count=sum(m.count for m in members),
                first_day=min(m.first_day for m in members),
                last_day=max(m.last_day for m in members),
                reporters=tuple(sorted({r for m in members for r in m.reporters})),
            )
        )
    merged.sort(key=lambda r: (-r.count, r.result_type, r.domain))
    return merged


class FailureTable(RowTable[FailureRow]):
    SORTS = (
        ("count", lambda r: (-r.count, r.result_type, r.domain)),
        ("result-type", lambda r: (r.result_type, -r.count)),
        ("receiving MX", lambda r: (r.receiving_mx_hostname or "", -r.count)),
        ("last seen", lambda r: (-r.last_day.toordinal(), -r.count)),
        ("sending IP", lambda r: (r.sending_mta_ip or "", -r.count)),
    )

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("G", "toggle_grouping", "Group", show=True),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: True: one row per result-type, domain and MX; False: every distinct detail.
        self.grouped = True

    def show(self, rows: list[FailureRow]) -> None:
        self.detail_rows = rows
        super().show(merge_failures(rows) if self.grouped else rows)

    def action_toggle_grouping(self) -> None:
        self.grouped = not self.grouped
        self.show(self.detail_rows)
        label = "result-type and MX" if self.grouped else "every distinct detail"
        self.notify(f"Failure details grouped by {label}", timeout=2)

    COLUMNS = (
        ("Result type", 22),
        ("Receiving MX", 20),
        ("Count", 6),
        ("Last seen", 10),
        ("MX IP", 15),
        ("Sending IP", 15),
        ("First seen", 10),
        ("Domain", 16),
        ("Additional information", 40),
    )

    DOMAIN_COLUMN = 7

    def domain_of(self, row: FailureRow) -> str | None:
        return row.domain

    def on_mount(self) -> None:
        self.border_title = "Failure details"

    def key_of(self, row: FailureRow) -> object:
        return (
            row.result_type,
            row.domain,
            row.receiving_mx_hostname,
            row.receiving_ip,
            row.sending_mta_ip,
            row.additional_information,
            row.failure_reason_code,
        )

    def render_row(self, row: FailureRow) -> list[Text]:
        info = row.additional_information or row.failure_reason_code or ""
        return [
            safe(row.result_type, "bold red", limit=40),
            name(row.receiving_mx_hostname or "-", limit=60),
            Text(compact(row.count), justify="right"),
            Text(row.last_day.isoformat()),
            safe(row.receiving_ip or "-", limit=45),
            safe(row.sending_mta_ip or "-", limit=45),
            Text(row.first_day.isoformat()),
            domain_text(row.domain, limit=40),
            safe(info, "dim", limit=200),
        ]
