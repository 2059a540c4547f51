"""`r`: the reports behind the selection, and each one's raw JSON with its files."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from tlsrpt_tui.core.text import json_escaped
from tlsrpt_tui.store.queries import ReportRow
from tlsrpt_tui.ui.safe import lookalike_note, name, names, number, safe

#: Above this many bytes `c` offers a file instead: terminals and multiplexers cut
#: (or drop) longer OSC 52 clipboard sequences.
OSC52_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class RawReport:
    """A report as its file holds it: decoded, its JSON text as received, and every file
    it was seen in (``obj`` None: no copy holds it any more)."""

    obj: Any
    text: str
    sources: list[str] = field(default_factory=list)


RawLoader = Callable[[str], RawReport]


def pretty_json(obj: Any) -> str:
    """Indented JSON lines; inside strings, whatever could act on a terminal (escapes,
    bidi controls...) is shown as a JSON escape (still valid JSON, same value)."""
    return json_escaped(json.dumps(obj, indent=2, ensure_ascii=False))


def highlighted(pretty: str) -> Text:
    """The JSON with keys, strings and numbers coloured by a regex highlighter: report
    text is only ever characters of a Text, never markup."""
    text = Text(pretty, no_wrap=False)
    JSONHighlighter().highlight(text)
    return text


def file_name_for(row: ReportRow) -> str:
    """A file name for a report that is safe on any file system and in any shell."""
    stem = f"tlsrpt-{row.reporter}-{row.day.isoformat()}-{row.report_id}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:120]
    return f"{stem or 'tlsrpt-report'}.json"


class ReportScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("c", "copy", "Copy JSON"),
        Binding("w", "write", "Write JSON to a file"),
    ]

    def __init__(
        self,
        rows: list[ReportRow],
        load_raw: RawLoader,
        title: str,
        *,
        protected: list[Path] | None = None,
    ) -> None:
        super().__init__()
        self.rows = rows
        self.load_raw = load_raw
        self.title_text = title
        #: The report folders: a write never replaces a file under them.
        self.protected = protected or []
        #: The report as shown (indented, escaped) and as received (what is copied).
        self.current_json = ""
        self.current_text = ""
        self.current_row: ReportRow | None = None
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
                name(row.reporter, limit=40),
                names(row.domains, limit=60),
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
        raw = self.load_raw(row.key)
        self.current_row = row
        self.sources = raw.sources
        header = Text()
        header.append("Report-ID ", style="dim")
        header.append_text(safe(row.report_id))
        for value in (row.reporter, *row.domains):
            note = lookalike_note(value)
            if note is not None:
                header.append("\n")
                header.append_text(note)
        for source in raw.sources:
            header.append("\nfile ", style="dim")
            header.append_text(safe(source, "bold"))
        self.query_one("#report-sources", Static).update(header)
        body = self.query_one("#report-body", Static)
        if raw.obj is None:
            self.current_json = self.current_text = ""
            body.update(Text("The file no longer holds this report.", style="yellow"))
        else:
            self.current_json = pretty_json(raw.obj)
            self.current_text = raw.text
            body.update(highlighted(self.current_json))

    def action_copy(self) -> None:
        """Copy the JSON as received (OSC 52); too large for that, offer a file."""
        if not self.current_text:
            return
        size = len(self.current_text.encode("utf-8"))
        if size > OSC52_LIMIT:
            self.notify(
                f"The report is {size / 1000:,.0f} kB: too large for the terminal's clipboard "
                "(OSC 52 is cut at about 100 kB). Write it to a file instead.",
                severity="warning",
                timeout=6,
            )
            self.action_write()
            return
        self.app.copy_to_clipboard(self.current_text)
        self.notify(f"Report JSON copied to the clipboard (OSC 52, {size:,} bytes).", timeout=3)

    def action_write(self) -> None:
        if not self.current_text or self.current_row is None:
            return
        folder = Path.cwd()
        if any(folder.is_relative_to(root) for root in self.protected):
            folder = Path.home()  # (not into the report folder: the watcher would read it)
        suggested = folder / file_name_for(self.current_row)
        text = self.current_text

        def written(path: Path | None) -> None:
            if path is not None:
                self.notify(f"Wrote the report JSON to {path}", timeout=5, markup=False)

        self.app.push_screen(WriteDialog(suggested, text, self.protected), written)

    def action_close(self) -> None:
        self.dismiss(None)


class WriteDialog(ModalScreen[Path | None]):
    """A small dialog: the file to write (editable); an existing file is replaced only
    when asked twice, and never one under the report folders."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, suggested: Path, text: str, protected: list[Path]) -> None:
        super().__init__()
        self.suggested = suggested
        self.text = text
        self.protected = protected
        #: The existing file the user was warned about (Enter again replaces it).
        self.confirmed: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="write-dialog") as box:
            box.border_title = "Write the report JSON to a file"
            yield Input(str(self.suggested), id="write-path", select_on_focus=False)
            yield Static(
                "Enter: write · Esc: cancel. An existing file is never replaced without asking.",
                id="write-message",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#write-path", Input).focus()

    def say(self, message: str, style: str = "yellow") -> None:
        self.query_one("#write-message", Static).update(safe(message, style))

    @on(Input.Submitted, "#write-path")
    def submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.say("Type a file name.")
            return
        path = Path(os.path.abspath(Path(value).expanduser()))
        exists = path.exists() or path.is_symlink()
        if exists and any(path.is_relative_to(root) for root in self.protected):
            self.say(f"{path} is in the report folder: it is never replaced. Choose another name.")
            return
        if exists and path.is_dir():
            self.say(f"{path} is a folder. Choose a file name.")
            return
        if exists and self.confirmed != path:
            self.confirmed = path
            self.say(f"{path} exists. Enter again to replace it, or change the name.", "bold red")
            return
        try:
            with open(path, "w" if exists else "x", encoding="utf-8") as handle:
                handle.write(self.text)
        except OSError as exc:
            self.say(f"Cannot write {path}: {exc.strerror or exc}", "bold red")
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
