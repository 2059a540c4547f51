"""Text and JSON renderings of a :class:`ProbeResult` (used by ``tlsrpt-tui probe``)."""

from __future__ import annotations

import json
import textwrap

from tlsrpt_tui.core.text import plain
from tlsrpt_tui.probe.model import PER_MX_CHECKS, Check, ProbeResult

VERDICT_LABELS = {"pass": "PASS", "info": "INFO", "warn": "WARN", "fail": "FAIL", "error": "ERROR"}


def to_json(result: ProbeResult, *, indent: int | None = 2) -> str:
    return json.dumps(result.to_dict(), indent=indent, ensure_ascii=True)


def _check_lines(check: Check, width: int, verbose: bool) -> list[str]:
    label = VERDICT_LABELS[check.verdict]
    head = f"{label:<5}  {check.name:<18}  {plain(check.summary)}"
    lines = textwrap.wrap(head, width=width, subsequent_indent=" " * 27) or [head]
    if check.explains and check.verdict not in ("pass", "info"):
        verb = "explains" if check.verdict in ("fail", "warn") else "could not check"
        lines.append(" " * 27 + f"{verb}: {', '.join(check.explains)}")
    if verbose or check.verdict != "pass":
        for item in check.evidence:
            wrapped = textwrap.wrap(
                plain(item),
                width=width,
                initial_indent=" " * 27 + "· ",
                subsequent_indent=" " * 29,
            )
            lines.extend(wrapped or [" " * 27 + "·"])
    return lines


def to_text(result: ProbeResult, *, width: int = 100, verbose: bool = False) -> str:
    """A report grouped by target: domain-wide checks, then each MX host."""
    out = [
        f"Probe of {plain(result.domain)}: {result.started:%Y-%m-%d %H:%M:%S} UTC, "
        f"{result.duration:.1f} s"
    ]
    last_group: tuple[str, str | None] | None = None
    for check in result.checks:
        per_mx = check.name in PER_MX_CHECKS
        group = (check.target, check.address) if per_mx else (result.domain, None)
        if group != last_group:
            out.append("")
            if per_mx:
                at = f" at {plain(check.address)}" if check.address else ""
                out.append(f"MX {plain(check.target)}{at}")
            else:
                out.append(f"Domain {plain(result.domain)}")
            last_group = group
        out.extend("  " + line for line in _check_lines(check, width - 2, verbose))
    out.append("")
    out.append(result.outcome())
    return "\n".join(out) + "\n"
