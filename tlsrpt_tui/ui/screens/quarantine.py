"""`u`: reports kept in quarantine (their mail failed DKIM or was unsigned), and why.

``import``, ``fetch`` and ``receive`` keep such reports apart in a folder holding the
quarantine marker (``quarantine/`` under the report folder by default). The explorer
never counts them (RFC 8460 section 3: anyone can send a report about any domain); it
shows how many there are in the overview line and lists them here, each with the
DKIM verdict and reason recorded when it came in.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

# (What is found on disk, and counted, is in ingest/quarantine_list.py.)
from tlsrpt_tui.core.archive import QUARANTINE_MARKER
from tlsrpt_tui.ingest.quarantine_list import QuarantineList
from tlsrpt_tui.ui.safe import safe


class QuarantineScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,u", "close", "Close")]
    DEFAULT_CSS = """
    QuarantineScreen { align: center middle; }
    #quarantine-box {
        width: 95%;
        height: 80%;
        border: round $warning;
        padding: 0 1;
        background: $surface;
    }
    #quarantine-box DataTable { height: 1fr; }
    #quarantine-detail { height: auto; max-height: 8; border-top: solid $warning; }
    """

    def __init__(self, found: QuarantineList) -> None:
        super().__init__()
        self.found = found

    def compose(self) -> ComposeResult:
        with Vertical(id="quarantine-box") as box:
            box.border_title = f"Quarantine ({self.found.label})"
            if self.found.reports:
                note = (
                    "Reports whose mail failed DKIM or was unsigned (RFC 8460 section 3: "
                    "anyone can send a report about any domain). None of them is counted "
                    "anywhere. Import again with --accept-unsigned to count them."
                )
                if not self.found.complete:
                    note += f" Only the first {len(self.found.reports):,} are listed."
            else:
                note = f"Nothing in quarantine (no folder holding {QUARANTINE_MARKER})."
            yield Static(note, markup=False)
            table: DataTable[object] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_column("Begins", width=10)
            table.add_column("Submitter", width=16)
            table.add_column("Domain", width=16)
            table.add_column("DKIM", width=9)
            table.add_column("Why", width=200)
            for item in self.found.reports:
                table.add_row(
                    safe(item.day),
                    safe(item.submitter, limit=64),
                    safe(item.domain, limit=64),
                    safe(item.verdict, "bold yellow"),
                    safe(item.reason, "yellow", limit=200),
                )
            yield table
            # The selected report in full (the table cuts long reasons), wrapped.
            yield Static("", id="quarantine-detail", markup=False)

    def on_mount(self) -> None:
        self.show_detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.cursor_row)

    def show_detail(self, row: int) -> None:
        detail = self.query_one("#quarantine-detail", Static)
        if not 0 <= row < len(self.found.reports):
            detail.update("")
            return
        item = self.found.reports[row]
        detail.update(
            Text.assemble(
                ("File  ", "bold"),
                safe(item.path),
                ("\nDKIM  ", "bold"),
                safe(f"{item.verdict}: {item.reason}", "yellow"),
            )
        )

    def action_close(self) -> None:
        self.dismiss(None)
