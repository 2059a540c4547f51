"""`a`: what changed and needs attention; Enter drills to the rows behind an alert."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tlsrpt_tui.core.health import Alert
from tlsrpt_tui.ui.safe import safe


class AlertsScreen(ModalScreen[Alert | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,a", "close", "Close"),
        Binding("enter", "open", "Show rows"),
    ]

    def __init__(self, alerts: list[Alert]) -> None:
        super().__init__()
        self.alerts = alerts

    def compose(self) -> ComposeResult:
        with Vertical(id="alerts-box") as box:
            box.border_title = f"Alerts ({len(self.alerts)})"
            if not self.alerts:
                yield Static("No alerts: nothing changed that needs attention.", markup=False)
            table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, id="alerts")
            for label, width in (
                ("Severity", 9),
                ("Rule", 16),
                ("Policy domain", 18),
                ("Reporter", 16),
                ("Result type", 22),
                ("Since", 10),
                ("Detail", 70),
            ):
                table.add_column(label, width=width)
            for alert in self.alerts:
                critical = alert.severity == "critical"
                table.add_row(
                    Text(
                        ("‼ " if critical else "! ") + alert.severity,
                        style="bold red" if critical else "yellow",
                    ),
                    Text(alert.rule),
                    safe(alert.policy_domain or "-", limit=60),
                    safe(alert.reporter or "-", limit=60),
                    safe(alert.result_type or "-", limit=60),
                    Text(alert.since.date().isoformat() if alert.since else "-"),
                    safe(alert.detail, limit=300),
                )
            yield table

    def action_open(self) -> None:
        table = self.query_one("#alerts", DataTable)
        if self.alerts and 0 <= table.cursor_row < len(self.alerts):
            self.dismiss(self.alerts[table.cursor_row])

    def on_data_table_row_selected(self) -> None:
        self.action_open()

    def action_close(self) -> None:
        self.dismiss(None)
