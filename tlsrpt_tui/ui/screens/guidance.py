"""Full-screen guidance for narrow terminals (the explorer's guidance pane, alone)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from tlsrpt_tui.store.queries import FailureRow
from tlsrpt_tui.ui.widgets.guidance_pane import GuidancePane


class GuidanceScreen(Screen[None]):
    """Full-screen guidance for narrow terminals."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Back")]

    def __init__(self, row: FailureRow) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        yield GuidancePane(id="guidance-full")
        yield Footer()

    def on_mount(self) -> None:
        pane = self.query_one(GuidancePane)
        pane.show_row(self.row)
        pane.focus()

    def action_close(self) -> None:
        self.dismiss(None)
