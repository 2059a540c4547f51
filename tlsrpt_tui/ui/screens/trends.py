"""`t`: daily trends for the selection: sessions, failures, failure rate, result-types."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Sparkline, Static

from tlsrpt_tui.store.queries import ArchiveQueries, Filter
from tlsrpt_tui.ui.safe import compact, safe


def day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class TrendRow(Horizontal):
    """A label, a sparkline that fills the width, and the peak value."""

    def __init__(self, label: Text, values: list[float], peak: str, *, classes: str = "") -> None:
        super().__init__(classes=f"trend-row {classes}".strip())
        self.label = label
        self.values = values
        self.peak = peak

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="trend-label", markup=False)
        yield Sparkline(self.values, summary_function=max, classes="trend-spark")
        yield Static(Text(self.peak, justify="right"), classes="trend-peak", markup=False)


class TrendsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,t", "close", "Back")]

    def __init__(self, queries: ArchiveQueries, flt: Filter, title: str) -> None:
        super().__init__()
        self.queries = queries
        self.flt = flt
        self.title_text = title

    def compose(self) -> ComposeResult:
        points = self.queries.daily(self.flt)
        with VerticalScroll(id="trends") as box:
            # A Text: a str border title would be parsed as markup, and this is report text.
            box.border_title = Text.assemble("Trends: ", safe(self.title_text, limit=60))
            if not points:
                yield Static("No reports in the selection.", markup=False)
                return
            days = day_range(points[0].day, points[-1].day)
            by_day = {p.day: p for p in points}
            sessions = [
                float(by_day[d].successful + by_day[d].failed) if d in by_day else 0.0 for d in days
            ]
            failed = [float(by_day[d].failed) if d in by_day else 0.0 for d in days]
            rates = [f / s * 100 if s else 0.0 for f, s in zip(failed, sessions, strict=True)]
            yield Static(
                Text(
                    f"{days[0].isoformat()} … {days[-1].isoformat()}  ({len(days)} days, "
                    "one column per day when the screen is wide enough; peak on the right)",
                    style="dim",
                ),
                markup=False,
            )
            yield TrendRow(Text("Sessions / day"), sessions, compact(int(max(sessions))))
            yield TrendRow(
                Text("Failed / day", style="red"),
                failed,
                compact(int(max(failed))),
                classes="-failed",
            )
            yield TrendRow(
                Text("Failure rate %", style="red"), rates, f"{max(rates):.2f}%", classes="-failed"
            )
            series = self.queries.result_type_daily(self.flt)
            if series:
                yield Static(
                    Text("\nFailures by result-type", style="bold underline"), markup=False
                )
            for result_type, counts in sorted(series.items(), key=lambda kv: -sum(kv[1].values())):
                values = [float(counts.get(d, 0)) for d in days]
                yield TrendRow(
                    safe(result_type, limit=22),
                    values,
                    compact(int(max(values))),
                    classes="-failed",
                )
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
