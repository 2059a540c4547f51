"""How long a long operation has left, as the progress lines show it."""

from __future__ import annotations


def time_left(done: int, total: int, rate: float) -> str | None:
    """``M:SS`` left for ``total - done`` items at ``rate`` per second (None when there
    is nothing to tell: done, or no rate yet)."""
    if total <= done or rate <= 0:
        return None
    seconds = int((total - done) / rate)
    return f"{seconds // 60}:{seconds % 60:02d}"
