"""How far a long operation has come and how long it has left, as the progress lines
show it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def time_left(done: int, total: int, rate: float) -> str | None:
    """``M:SS`` left for ``total - done`` items at ``rate`` per second (None when there
    is nothing to tell: done, or no rate yet)."""
    if total <= done or rate <= 0:
        return None
    seconds = int((total - done) / rate)
    return f"{seconds // 60}:{seconds % 60:02d}"


class Totals:
    """Follows the totals a progress callback is given: one still growing since the
    last call is not known yet (a walk goes on), is marked ``+``, and gives no time
    left."""

    def __init__(self) -> None:
        self.last = -1

    def count(self, done: int, total: int, rate: float) -> tuple[str, str | None]:
        """(``done/total``, with ``+`` while the total grows; the time left or None)."""
        settled = total <= self.last
        self.last = total
        text = f"{done:,}/{total:,}{'' if settled else '+'}"
        return text, (time_left(done, total, rate) if settled else None)


ProgressCallback = Callable[[int, int], None]

# --------------------------------------------------------------------------- progress


@dataclass
class ProgressMeter:
    """Turns (done, total) calls into a line with files/s and the time left."""

    label: str = "indexing"
    started: float = field(default_factory=time.perf_counter)
    totals: Totals = field(default_factory=Totals)

    def line(self, done: int, total: int) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = done / elapsed
        count, left = self.totals.count(done, total, rate)
        text = f"{self.label}: {count} files"
        if done and elapsed > 0.2:
            text += f", {rate:,.0f} files/s"
            if left is not None:
                text += f", ETA {left}"
        return text


def terminal_progress(
    label: str = "indexing", stream: Any = None
) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """A progress callback printing one updating line, and a finisher; no callback when
    the stream is not a terminal (nothing is counted for it, then)."""
    out = stream if stream is not None else sys.stderr
    meter = ProgressMeter(label)
    shown = [False, 0.0]
    enabled = hasattr(out, "isatty") and out.isatty()

    def progress(done: int, total: int) -> None:
        if not total:
            return
        now = time.perf_counter()
        if done < total and now - float(shown[1]) < 0.1:
            return
        shown[0], shown[1] = True, now
        out.write("\r\033[K" + meter.line(done, total))
        out.flush()

    def finish() -> None:
        if enabled and shown[0]:
            out.write("\r\033[K")
            out.flush()

    return (progress if enabled else None), finish
