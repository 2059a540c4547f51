"""Showing untrusted report text in widgets: literally, and without control characters.

Report strings come from strangers. They are never parsed as markup (a ``[@click]``
must stay characters) and their control characters are shown escaped so nothing
reaches the terminal. Every widget gets report text through these helpers.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from tlsrpt_tui.core.lookalike import lookalike
from tlsrpt_tui.core.text import plain

ELLIPSIS = "…"
#: Marks a name that may pass for another (mixed scripts, invisible characters).
LOOKALIKE_MARK = "⚠ "


def safe(value: object, style: str = "", *, limit: int | None = None) -> Text:
    """A rich ``Text`` holding ``value`` literally (never markup), controls escaped."""
    text = plain("" if value is None else str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + ELLIPSIS
    return Text(text, style=style, no_wrap=False)


def name(value: str | None, style: str = "", *, limit: int | None = None) -> Text:
    """A domain, host or reporter name as :func:`safe` shows it, marked with ⚠ when it
    may pass for another (``pаypal.test`` with a Cyrillic ``а``: core/lookalike.py)."""
    text = safe(value, style, limit=limit)
    if lookalike(value) is not None:
        text = Text.assemble((LOOKALIKE_MARK, "bold yellow"), text)
    return text


def names(values: Iterable[str], *, limit: int | None = None) -> Text:
    """Names joined by ", " (each marked as :func:`name` marks it), or "-"."""
    text = Text(", ").join(name(value) for value in values) or Text("-")
    if limit is not None and len(text) > limit:
        text.truncate(limit, overflow="ellipsis")
        text = text[: limit - 1] + Text(ELLIPSIS)
    return text


def lookalike_note(value: str | None) -> Text | None:
    """``⚠ pаypal.test looks like another name: mixes Latin and Cyrillic…`` or None."""
    reason = lookalike(value)
    if value is None or reason is None:
        return None
    return Text.assemble(
        (LOOKALIKE_MARK, "bold yellow"),
        safe(value, "bold yellow"),
        (" may pass for another name: it ", "yellow"),
        safe(reason, "yellow"),
    )


def number(value: int, style: str = "") -> Text:
    return Text(compact(value), style=style, justify="right")


def compact(value: int) -> str:
    """12,345 -> 12.3k: keeps numeric columns narrow over SSH."""
    if value < 10_000:
        return f"{value:,}"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)  # pragma: no cover


def rate(value: float, failed: int) -> Text:
    """A failure rate with a style that does not rely on colour alone."""
    if failed == 0:
        return Text("0%", style="green", justify="right")
    label = f"{value:.1%}" if value >= 0.001 else f"{value:.2%}"
    style = "bold red" if value >= 0.05 else "yellow"
    return Text(f"!{label}", style=style, justify="right")


BLOCKS = "▁▂▃▄▅▆▇█"


def spark(values: list[float], *, style: str = "") -> Text:
    """A one-line sparkline; an all-zero series draws as a flat baseline."""
    if not values:
        return Text("")
    top = max(values)
    chars = []
    for value in values:
        if top <= 0 or value <= 0:
            chars.append(BLOCKS[0] if top > 0 else "·")
        else:
            chars.append(BLOCKS[min(len(BLOCKS) - 1, 1 + int(value / top * (len(BLOCKS) - 2)))])
    return Text("".join(chars), style=style)
