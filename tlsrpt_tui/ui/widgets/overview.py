"""The overview line: the archive at a glance."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tlsrpt_tui.store.queries import Filter, Overview
from tlsrpt_tui.ui.safe import compact, safe


def overview_text(
    ov: Overview, flt: Filter, alerts: int | None = None, quarantined: str | None = None
) -> Text:
    span = (
        f"{ov.first_day.isoformat()} → {ov.last_day.isoformat()}"
        if ov.first_day and ov.last_day
        else "no dates"
    )
    text = Text.assemble(
        (f"{ov.reports:,}", "bold"),
        " reports · ",
        (f"{ov.reporters:,}", "bold"),
        " reporters · ",
        (f"{ov.domains:,}", "bold"),
        " domains · ",
        (span, "bold"),
        " · ",
        (compact(ov.sessions), "bold"),
        " sessions · ",
        (f"{ov.failure_rate:.2%}", "bold red" if ov.failed else "bold green"),
        " failed",
    )
    if ov.bad_files:
        text.append(" · ")
        text.append(f"{ov.bad_files} bad files (b)", style="bold yellow")
    if quarantined:  # (reports kept apart: never in the totals)
        text.append(" · ")
        text.append(f"{quarantined} quarantined (u)", style="bold magenta")
    if ov.duplicates:
        text.append(f" · {ov.duplicates:,} dup", style="dim")
    if alerts:
        text.append(" · ")
        text.append(f"⚠ {alerts} alerts (a)", style="bold red")
    narrowing = []
    if flt.text:
        narrowing.append(Text.assemble("filter ", safe(repr(flt.text), "bold")))
    if flt.result_type:
        narrowing.append(Text.assemble("result-type ", safe(flt.result_type, "bold")))
    if flt.since or flt.until:
        since = flt.since.isoformat() if flt.since else "…"
        until = flt.until.isoformat() if flt.until else "…"
        narrowing.append(Text(f"dates {since}..{until}", style="bold"))
    if narrowing:
        text.append("  [")
        text.append_text(Text(" · ").join(narrowing))
        text.append("]")
    return text


class OverviewBar(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]

    def show(
        self, ov: Overview, flt: Filter, alerts: int | None = None, quarantined: str | None = None
    ) -> None:
        # The bar is always two lines high (app.tcss): a filter that makes it wrap must
        # not move every pane down, nor cost a layout of the whole screen per keystroke.
        self.update(overview_text(ov, flt, alerts, quarantined), layout=False)
