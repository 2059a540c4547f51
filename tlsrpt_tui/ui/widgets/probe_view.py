"""Rendering a live probe next to the guidance: verdicts, the matching check first."""

from __future__ import annotations

from rich.text import Text

from tlsrpt_tui.probe import CachedProbe, Check
from tlsrpt_tui.probe.render import VERDICT_LABELS
from tlsrpt_tui.ui.safe import safe

#: The labels `tlsrpt-tui probe` prints, with a colour each (status is never colour alone).
VERDICT_STYLE = {
    "pass": (VERDICT_LABELS["pass"], "bold green"),
    "info": (VERDICT_LABELS["info"], "bold blue"),
    "warn": (VERDICT_LABELS["warn"], "bold yellow"),
    "fail": (VERDICT_LABELS["fail"], "bold red"),
    "error": (VERDICT_LABELS["error"], "bold magenta"),
}


def check_line(check: Check, *, highlight: bool) -> Text:
    label, style = VERDICT_STYLE.get(check.verdict, (check.verdict.upper()[:4], "bold"))
    line = Text.assemble((f" [{label}] ", style))
    line.append_text(safe(check.name, "bold"))
    if check.target:
        line.append(" ")
        line.append_text(safe(check.target, "dim"))
    if check.address:
        line.append(" at ", style="dim")
        line.append_text(safe(check.address, "dim"))
    line.append(": ")
    line.append_text(safe(check.summary, limit=200))
    if highlight:
        line.append("  ◀ explains this failure", style="bold reverse")
    return line


def probe_text(cached: CachedProbe, result_type: str | None) -> Text:
    """The probe as text; checks that explain ``result_type`` come first, with evidence."""
    result = cached.result
    explaining = {id(c) for c in result.explaining(result_type)} if result_type else set()
    header = Text.assemble(
        ("Live probe ", "bold underline"),
        safe(result.domain, "bold"),
        (f"  {cached.describe_age()}", "dim"),
        ("  (x: run again)", "dim"),
    )
    # the same words as the last line of `tlsrpt-tui probe`
    lines = [header, Text(f" {result.outcome()}", style="dim")]
    ordered = sorted(result.checks, key=lambda c: id(c) not in explaining)
    for check in ordered:
        highlight = id(check) in explaining
        lines.append(check_line(check, highlight=highlight))
        if highlight:
            for evidence in check.evidence[:6]:
                lines.append(Text.assemble("        ", safe(evidence, "dim", limit=200)))
    if result_type and not explaining:
        lines.append(Text(not_explained(cached, result_type), style="italic"))
    return Text("\n").join(lines)


def not_explained(cached: CachedProbe, result_type: str) -> str:
    """What the probe can say about ``result_type`` when no check explains it: only
    when the checks that cover it ran may it say the problem looks fixed."""
    covering = cached.result.covering(result_type)
    unchecked = [c for c in covering if c.verdict == "error"]
    if unchecked:
        names = ", ".join(dict.fromkeys(c.name for c in unchecked))
        return (
            f" Could not check what would explain {result_type}: {len(unchecked)} of "
            f"{len(covering)} check(s) that cover it could not check ({names}). "
            "The probe cannot tell whether the problem is still there."
        )
    if covering:
        return (
            f" No check failed that would explain {result_type}: the checks that cover it "
            "passed. The problem may have been fixed, or is intermittent, or lies with "
            "the sender."
        )
    return f" No check of the probe covers {result_type}: read the guidance below."


def toast_text(domain: str, cached: CachedProbe) -> str:
    """The explorer's toast after a probe: the outcome in the words ``probe`` prints."""
    return f"Probe of {domain}: {cached.result.outcome()}"
