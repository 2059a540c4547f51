"""Rendering a live probe next to the guidance: verdicts, the matching check first."""

from __future__ import annotations

from rich.text import Text

from tlsrpt_tui.probe import CachedProbe, Check
from tlsrpt_tui.ui.safe import safe

VERDICT_STYLE = {
    "pass": ("PASS", "bold green"),
    "warn": ("WARN", "bold yellow"),
    "fail": ("FAIL", "bold red"),
    "error": ("ERR ", "bold magenta"),
}


def check_line(check: Check, *, highlight: bool) -> Text:
    label, style = VERDICT_STYLE.get(check.verdict, (check.verdict.upper()[:4], "bold"))
    line = Text.assemble((f" [{label}] ", style))
    line.append_text(safe(check.name, "bold"))
    if check.target:
        line.append(" ")
        line.append_text(safe(check.target, "dim"))
    line.append(": ")
    line.append_text(safe(check.summary, limit=200))
    if highlight:
        line.append("  ◀ explains this failure", style="bold reverse")
    return line


def probe_text(cached: CachedProbe, result_type: str | None) -> Text:
    """The probe as text; checks that explain ``result_type`` come first, with evidence."""
    result = cached.result
    explaining = {id(c) for c in result.explaining(result_type)} if result_type else set()
    counts = result.counts()
    header = Text.assemble(
        ("Live probe ", "bold underline"),
        safe(result.domain, "bold"),
        (f"  {cached.describe_age()}", "dim"),
        ("  (x: run again)", "dim"),
    )
    summary = " · ".join(f"{n} {v}" for v, n in counts.items() if n)
    lines = [header, Text(f" {summary}", style="dim")]
    ordered = sorted(result.checks, key=lambda c: id(c) not in explaining)
    for check in ordered:
        highlight = id(check) in explaining
        lines.append(check_line(check, highlight=highlight))
        if highlight:
            for evidence in check.evidence[:6]:
                lines.append(Text.assemble("        ", safe(evidence, "dim", limit=200)))
    if result_type and not explaining:
        lines.append(
            Text(
                f" No check failed that would explain {result_type}: the problem may have "
                "been fixed, or is intermittent, or lies with the sender.",
                style="italic",
            )
        )
    return Text("\n").join(lines)
