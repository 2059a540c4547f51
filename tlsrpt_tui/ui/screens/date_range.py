"""`d`: narrow every pane to a date range."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

DateRange = tuple[date | None, date | None]


def parse_day(text: str) -> date | None:
    text = text.strip()
    return date.fromisoformat(text) if text else None


class DateRangeScreen(ModalScreen[DateRange | None]):
    """Returns (since, until), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: DateRange, last_day: date | None) -> None:
        super().__init__()
        self.current = current
        self.last_day = last_day or date.today()

    def compose(self) -> ComposeResult:
        since, until = self.current
        with Vertical(id="date-box") as box:
            box.border_title = "Date range (UTC days, inclusive)"
            with Horizontal(classes="date-row"):
                yield Label("From ")
                yield Input(
                    since.isoformat() if since else "", placeholder="YYYY-MM-DD", id="since"
                )
                yield Label(" to ")
                yield Input(
                    until.isoformat() if until else "", placeholder="YYYY-MM-DD", id="until"
                )
            yield Label("", id="date-error")
            with Horizontal(classes="date-row"):
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Last day", id="d1")
                yield Button("Last 7 days", id="d7")
                yield Button("Last 30 days", id="d30")
                yield Button("All", id="all")

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def apply(self) -> None:
        try:
            since = parse_day(self.query_one("#since", Input).value)
            until = parse_day(self.query_one("#until", Input).value)
        except ValueError:
            self.query_one("#date-error", Label).update("Dates are YYYY-MM-DD.")
            return
        if since and until and since > until:
            self.query_one("#date-error", Label).update("The range ends before it starts.")
            return
        self.dismiss((since, until))

    @on(Button.Pressed, "#d1, #d7, #d30")
    def preset(self, event: Button.Pressed) -> None:
        days = int((event.button.id or "d1")[1:])
        self.dismiss((self.last_day - timedelta(days=days - 1), self.last_day))

    @on(Button.Pressed, "#all")
    def everything(self) -> None:
        self.dismiss((None, None))

    def action_cancel(self) -> None:
        self.dismiss(None)
