"""The guidance pane: what a result-type means and how to confirm and fix it.

Commands are filled with the selected row's MX host, domain and IP (values the
guidance catalogue has checked look like host names or addresses, so a copied
command cannot carry anything else).
"""

from __future__ import annotations

import re

from rich.text import Text

from tlsrpt_tui.core import guidance
from tlsrpt_tui.store.queries import FailureRow
from tlsrpt_tui.ui.safe import lookalike_note, safe
from tlsrpt_tui.ui.widgets.text_view import TextView

#: What the failure table puts in a merged row where members differ: "(3 codes)".
_MERGED = re.compile(r"\((\d+) (codes|texts)\)")


def render_reporter_says(
    result_type: str, failure_reason_code: str | None, additional_information: str | None
) -> list[Text]:
    """What the row's reporter wrote (failure-reason-code, additional-information),
    shown as text, and what the catalogue knows it means; [] when the row has neither.

    A merged row whose members differ says "(3 codes)" there: that is the table's
    count, not a reporter's text, and is said so."""
    parts: list[Text] = []
    known: dict[str, str | None] = {}
    for label, value in (
        ("failure-reason-code", failure_reason_code),
        ("additional-information", additional_information),
    ):
        if not value or not value.strip():
            continue
        merged = _MERGED.fullmatch(value.strip())
        if merged:
            parts.append(
                Text.assemble(
                    (f"Reporters wrote {merged.group(1)} different {label}s here: ", "bold"),
                    ("narrow the rows (e.g. to one reporter) to have each explained.", ""),
                )
            )
            continue
        known[label] = value
        parts.append(Text.assemble((f"Reporter wrote ({label}): ", "bold"), safe(value, limit=300)))
    if not parts:
        return []
    if known:
        found = guidance.reporter_code_for(
            known.get("failure-reason-code"),
            known.get("additional-information"),
            result_type=result_type,
        )
        if found is None:
            parts.append(
                Text(
                    " Not in the catalogue of reporter codes: read it as the reporter's own words.",
                    style="dim",
                )
            )
        else:
            code, _value = found
            who = f" ({', '.join(code.reporters)})" if code.reporters else ""
            parts.append(Text.assemble((f' "{code.text}"{who}: ', "bold"), (code.meaning, "")))
    parts.append(Text(""))
    return parts


def render_entry(
    entry: guidance.GuidanceEntry,
    *,
    domain: str | None = None,
    mx: str | None = None,
    ip: str | None = None,
    compact: bool = False,
    summary: bool = False,
    reporter_says: list[Text] | None = None,
) -> Text:
    """The entry as rich renderables; every value from a report goes through ``safe``.

    Headings come from ``entry.labels``; shell commands start with ``$ ``, other lines
    (e.g. a zone file record) do not. ``summary`` adds the group, the severity and the
    one-line summary under the title (the guide shows them; the pane has no room).
    ``reporter_says`` (from :func:`render_reporter_says`) opens the entry: what the
    row's code means comes first. Then "Start here": the first thing to do.
    """
    causes_label, confirm_label, fix_label = entry.labels
    parts: list[Text] = list(reporter_says or ())
    title = Text.assemble(
        (entry.title, "bold"),
        ("  ", ""),
        (entry.rfc_section, "dim"),
    )
    parts.append(title)
    if summary:
        meta = [entry.group]
        if entry.severity not in ("info", ""):
            meta.append(f"severity: {entry.severity}")
        parts.append(Text(" · ".join(meta), style="dim"))
        parts.append(Text(entry.summary, style="italic"))
    if domain or mx:
        where = Text("for ", style="dim")
        if domain:
            where.append_text(safe(domain, "bold"))
        if mx:
            where.append(" via ", style="dim")
            where.append_text(safe(mx, "bold"))
        parts.append(where)
        for value in (domain, mx):
            warning = lookalike_note(value)
            if warning is not None:
                parts.append(warning)
    if entry.start:
        parts.append(Text(""))
        text, first = guidance.start_for(entry, ip)
        start = guidance.fill(text, domain=domain, mx=mx, ip=ip)
        parts.append(Text.assemble(("Start here: ", "bold reverse"), (start, "bold")))
        if first is not None:
            filled = guidance.fill(first.template, domain=domain, mx=mx, ip=ip)
            prompt = "   $ " if first.shell else "     "
            parts.append(Text(f"{prompt}{filled}", style="bold cyan"))
    parts.append(Text(""))
    parts.append(Text(entry.meaning))
    parts.append(Text(""))
    parts.append(Text(causes_label, style="bold underline"))
    for item in entry.causes:
        parts.append(Text(f" • {item}"))
    parts.append(Text(""))
    parts.append(Text(confirm_label, style="bold underline"))
    for command in entry.confirm:
        parts.append(Text(f" {command.description}", style="dim"))
        filled = guidance.fill(command.template, domain=domain, mx=mx, ip=ip)
        prompt = "   $ " if command.shell else "     "
        parts.append(Text(f"{prompt}{filled}", style="bold cyan"))
    parts.append(Text(""))
    parts.append(Text(fix_label, style="bold underline"))
    for item in entry.fix:
        parts.append(Text(f" • {item}"))
    codes = guidance.codes_for(entry.key)
    if codes and not compact:
        parts.append(Text(""))
        parts.append(Text("What reporters write", style="bold underline"))
        for code in codes:
            who = f" ({', '.join(code.reporters)})" if code.reporters else ""
            parts.append(Text.assemble((f' "{code.text}"{who}: ', "bold"), (code.meaning, "")))
    if entry.related and not compact:
        parts.append(Text(""))
        parts.append(Text("Related", style="bold underline"))
        for key, note in entry.related:
            parts.append(Text.assemble((f" {key}: ", "bold"), (note, "")))
    return Text("\n").join(parts)


class GuidancePane(TextView, can_focus=True):
    """Scrollable guidance for the selected failure's result-type."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.key: tuple[str | None, ...] | None = None
        #: What the pane shows, as plain text (for copying and tests).
        self.plain = ""
        self.entry_text = Text("")
        self.probe_text: Text | None = None

    def on_mount(self) -> None:
        self.border_title = "Guidance"
        self.show_empty()

    def show_empty(self) -> None:
        self.key = None
        self.border_title = "Guidance"
        text = Text(
            "Select a failure to see what its result-type means, how to confirm it "
            "and how to fix it.\nPress g for the guide to every result-type.",
            style="dim",
        )
        self.plain = text.plain
        self.update(text)

    def show(
        self,
        result_type: str,
        *,
        domain: str | None,
        mx: str | None,
        ip: str | None,
        failure_reason_code: str | None = None,
        additional_information: str | None = None,
    ) -> None:
        key = (result_type, domain, mx, ip, failure_reason_code, additional_information)
        if key == self.key:
            return
        self.key = key
        entry = guidance.entry_for(result_type)
        self.border_title = f"Guidance: {entry.key}"
        says = render_reporter_says(result_type, failure_reason_code, additional_information)
        self.entry_text = render_entry(entry, domain=domain, mx=mx, ip=ip, reporter_says=says)
        self.probe_text = None
        self._refresh_body()
        self.scroll_home(animate=False)

    def show_row(self, row: FailureRow) -> None:
        """Guidance for a failure-details row, commands filled from its domain, MX and IP."""
        self.show(
            row.result_type,
            domain=row.domain,
            mx=row.receiving_mx_hostname,
            ip=row.receiving_ip,
            failure_reason_code=row.failure_reason_code,
            additional_information=row.additional_information,
        )

    def set_probe(self, text: Text | None) -> None:
        """Show live probe verdicts above the guidance (None removes them)."""
        self.probe_text = text
        self._refresh_body()

    def _refresh_body(self) -> None:
        text = self.entry_text
        if self.probe_text is not None:
            text = Text("\n").join([self.probe_text, Text(""), self.entry_text])
        self.plain = text.plain
        self.update(text)
