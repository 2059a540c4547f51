"""`r`: the reports behind the selection, and each one's raw JSON with its files."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tlsrpt_tui.core.text import plain
from tlsrpt_tui.store.queries import ReportRow
from tlsrpt_tui.ui.safe import number, safe

RawLoader = Callable[[str], tuple[Any, list[str]]]


def pretty_json(obj: Any) -> str:
    """Indented JSON with every control character escaped (json escapes C0; plain the rest)."""
    return plain(json.dumps(obj, indent=2, ensure_ascii=False))


class ReportScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("c", "copy", "Copy JSON"),
    ]

    def __init__(self, rows: list[ReportRow], load_raw: RawLoader, title: str) -> None:
        super().__init__()
        self.rows = rows
        self.load_raw = load_raw
        self.title_text = title
        self.current_json = ""
        self.sources: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="report-layout"):
            table: DataTable[Any] = DataTable(
                cursor_type="row", zebra_stripes=True, id="report-list"
            )
            table.border_title = safe(self.title_text, limit=60)  # (report text: never markup)
            yield table
            with VerticalScroll(id="report-json") as scroll:
                scroll.border_title = "Raw report"
                yield Static("", id="report-sources", markup=False)
                yield Static("", id="report-body", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#report-list", DataTable)
        table.add_column("Day", width=10)
        table.add_column("Reporter", width=20)
        table.add_column("Domains", width=18)
        table.add_column("OK", width=6)
        table.add_column("Failed", width=6)
        for row in self.rows:
            table.add_row(
                Text(row.day.isoformat()),
                safe(row.reporter, limit=40),
                safe(", ".join(row.domains), limit=60),
                number(row.successful),
                number(row.failed, "red" if row.failed else ""),
            )
        if not self.rows:
            self.query_one("#report-body", Static).update(Text("No reports in the selection."))
        else:
            self.show(0)
        table.focus()

    @on(DataTable.RowHighlighted, "#report-list")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show(event.cursor_row)

    def show(self, index: int) -> None:
        if not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        obj, sources = self.load_raw(row.key)
        self.sources = sources
        header = Text()
        header.append("Report-ID ", style="dim")
        header.append_text(safe(row.report_id))
        for source in sources:
            header.append("\nfile ", style="dim")
            header.append_text(safe(source, "bold"))
        self.query_one("#report-sources", Static).update(header)
        body = self.query_one("#report-body", Static)
        if obj is None:
            self.current_json = ""
            body.update(Text("The file no longer holds this report.", style="yellow"))
        else:
            self.current_json = pretty_json(obj)
            body.update(Syntax(self.current_json, "json", theme="ansi_dark", word_wrap=True))

    def action_copy(self) -> None:
        if self.current_json:
            self.app.copy_to_clipboard(self.current_json)
            self.notify("Report JSON copied to the clipboard (OSC 52).", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
