"""`b`: files that could not be read, and why."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tlsrpt_tui.core.model import LoadError
from tlsrpt_tui.store.queries import FoldedReport
from tlsrpt_tui.ui.safe import safe


class BadFilesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,b", "close", "Close")]

    def __init__(self, errors: list[LoadError], folded: list[FoldedReport] | None = None) -> None:
        super().__init__()
        self.errors = errors
        # (trust-counts, issue 14 item 13) Reports whose failure-details were folded:
        # noted after the errors, not counted as bad files.
        self.folded = folded or []

    def compose(self) -> ComposeResult:
        with Vertical(id="bad-files-box") as box:
            box.border_title = f"Bad files ({len({e.source.path for e in self.errors})})"
            if not self.errors:
                yield Static("Every file was read without error.", markup=False)
            table: DataTable[object] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_column("File", width=48)
            table.add_column("Problem", width=70)
            for error in self.errors:
                table.add_row(safe(error.source.describe(), limit=300), safe(error.error, "yellow"))
            for f in self.folded:
                table.add_row(
                    safe(f.source.describe(), limit=300),
                    # (fits the column: the cap is MAX_DETAILS rows a policy, see README)
                    safe(f"not an error: {f.rows:,} failure-details rows folded into one", "dim"),
                )
            yield table

    def action_close(self) -> None:
        self.dismiss(None)
