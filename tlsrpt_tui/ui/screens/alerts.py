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
                ("Severity", 10),
                ("Rule", 16),
                ("Policy domain", 16),
                ("Detail", 52),
                ("Since", 10),
                ("Result type", 22),
                ("Reporter", 20),
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
                    safe(alert.detail, limit=300),
                    Text(alert.since.date().isoformat() if alert.since else "-"),
                    safe(alert.result_type or "-", limit=60),
                    safe(alert.reporter or "-", limit=60),
                )
            yield table
            yield Static("", id="alert-detail", markup=False)

    def on_mount(self) -> None:
        self.show_detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.cursor_row)

    def show_detail(self, index: int) -> None:
        if not 0 <= index < len(self.alerts):
            return
        alert = self.alerts[index]
        text = Text.assemble((f"{alert.rule} ", "bold"), (f"({alert.severity}) ", "dim"))
        text.append_text(safe(alert.detail))
        for label, value in (
            ("policy domain", alert.policy_domain),
            ("reporter", alert.reporter),
            ("result-type", alert.result_type),
            ("MX host", alert.mx_host),
            ("since", alert.since.isoformat() if alert.since else None),
        ):
            if value:
                text.append(f"\n{label}: ", style="dim")
                text.append_text(safe(value))
        text.append("\nEnter: show the rows behind this alert", style="dim italic")
        self.query_one("#alert-detail", Static).update(text)

    def action_open(self) -> None:
        table = self.query_one("#alerts", DataTable)
        if self.alerts and 0 <= table.cursor_row < len(self.alerts):
            self.dismiss(self.alerts[table.cursor_row])

    def on_data_table_row_selected(self) -> None:
        self.action_open()

    def action_close(self) -> None:
        self.dismiss(None)
