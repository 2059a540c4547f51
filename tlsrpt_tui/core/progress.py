"""How far a long operation has come and how long it has left, as the progress lines
show it."""

from __future__ import annotations


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
