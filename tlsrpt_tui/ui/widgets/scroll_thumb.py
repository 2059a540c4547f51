"""A scrollbar drawn by a line-API view itself, as the last column of its lines.

Textual's scrollbars are widgets of their own: when a pane's rows or text change, each
one repaints through the whole style pipeline, a line at a time, which was a third of
the cost of a key press in the explorer. The panes draw theirs in the lines they redraw
anyway (with ``scrollbar-size-vertical: 0`` for Textual's): the same track and thumb,
at no extra cost. The mouse wheel scrolls as before; a click on the track jumps there.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

#: Columns the scrollbar takes on the right of a view's lines.
THUMB_WIDTH = 1


def thumb_lines(track: int, total: int, top: int) -> range:
    """The lines of a ``track``-line track the thumb covers, for ``total`` lines of
    content of which the first shown is ``top`` (empty when everything fits)."""
    if track <= 0 or total <= track:
        return range(0)
    size = max(1, round(track * track / total))
    span = total - track
    start = round(max(0, min(top, span)) / span * (track - size))
    return range(start, start + size)


def thumb_styles(widget: Widget) -> tuple[Style, Style]:
    """(track, thumb) styles from the widget's ``scrollbar-background`` and
    ``scrollbar-color``, over its background."""
    base = widget.background_colors[1]
    styles = widget.styles
    track = base + styles.scrollbar_background
    thumb = track + styles.scrollbar_color
    return Style(bgcolor=track.rich_color), Style(bgcolor=thumb.rich_color)


def scrollbar_cell(
    line: int, track: int, total: int, top: int, styles: tuple[Style, Style]
) -> Strip:
    """The scrollbar on line ``line`` of a ``track``-line track (see thumb_lines), in
    the (track, thumb) ``styles``."""
    thumb = line in thumb_lines(track, total, top)
    return Strip([Segment(" " * THUMB_WIDTH, styles[1] if thumb else styles[0])], THUMB_WIDTH)


def line_at(track: int, total: int, line: int) -> int:
    """The first line to show for a click on ``line`` of the track (centred there)."""
    if track <= 0 or total <= track:
        return 0
    target = round(line / max(1, track - 1) * (total - 1)) - track // 2
    return max(0, min(target, total - track))
