"""`?`: every binding, and what the panes mean."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k", "move the cursor"),
    ("Tab / Shift+Tab", "next / previous pane"),
    ("Enter", "drill into the selection (domain → policies → failures → guidance)"),
    ("Escape", "go back one level; clears the filter at the top"),
    ("/", "filter every pane by text (domain, reporter, result-type, MX, IP)"),
    ("d", "narrow by date range"),
    ("p", "pivot the navigation pane: policy domains ⇄ reporters"),
    ("s", "cycle the sort order of the focused table"),
    ("G", "failure details: group by result-type and MX, or show every detail"),
    ("r", "raw JSON of the reports behind the selection, with their files"),
    ("a", "alerts: what changed and needs attention; Enter shows the rows behind one"),
    ("t", "trends of the selection: sessions, failures, failure rate, result-types per day"),
    ("b", "bad files, each with the reason it could not be read"),
    ("u", "quarantine: reports whose mail failed DKIM, each with why (never counted)"),
    ("g", "the guide: every result-type, policy type and STS mode"),
    ("x", "probe the selected domain and MX live (DNS, MTA-STS, STARTTLS, DANE)"),
    ("c", "copy the selected row (OSC 52 clipboard; also shown)"),
    ("Ctrl+P", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with VerticalScroll(id="help-box") as box:
            box.border_title = "tlsrpt-tui: keys"
            yield Static(
                Text(
                    "Triage SMTP TLS reports: pick a domain (or reporter) on the left; its "
                    "policies, failure details and the guidance for the selected failure "
                    "follow on the right.\n",
                ),
                markup=False,
            )
            yield Static(table)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
