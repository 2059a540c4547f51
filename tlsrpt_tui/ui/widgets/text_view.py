"""A scrollable, wrapped block of rich Text on Textual's line API.

``Static`` inside a scroll container re-lays out the whole screen whenever its text
changes height; the guidance changes on every cursor move, so that cost would be
paid on every key press. Here the text is wrapped once per change (and per width)
and only the visible lines are drawn.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tlsrpt_tui.ui.widgets.line_table import set_virtual_size
from tlsrpt_tui.ui.widgets.scroll_thumb import (
    THUMB_WIDTH,
    line_at,
    scrollbar_cell,
    thumb_styles,
)


class TextView(ScrollView):
    """Wrapped text that scrolls; ``update`` replaces it."""

    DEFAULT_CSS = """
    TextView {
        overflow-x: hidden;
        /* The view draws its own vertical scrollbar (see scroll_thumb). */
        overflow-y: scroll;
        scrollbar-size-vertical: 0;
    }
    """

    def __init__(
        self,
        text: Text | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.text = text or Text("")
        self._lines: list[list[Segment]] | None = None
        self._wrapped_width = -1
        self._strips: dict[int, Strip] = {}
        self._strip_style: Style | None = None
        self._thumb_styles: tuple[Style, Style] | None = None

    def update(self, text: Text) -> None:
        self.text = text
        self._lines = None
        self._strips.clear()
        self._wrap()
        self.refresh()

    @property
    def _text_width(self) -> int:
        return self.scrollable_content_region.width - THUMB_WIDTH

    def _wrap(self) -> None:
        width = self._text_width
        if width <= 0:
            return
        console = self.app.console
        options = console.options.update(width=width, no_wrap=False, highlight=False)
        self._lines = console.render_lines(self.text, options, pad=False, new_lines=False)
        self._wrapped_width = width
        self._strips.clear()
        set_virtual_size(self, Size(width + THUMB_WIDTH, len(self._lines)))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip_style = None
        self._thumb_styles = None
        self._strips.clear()

    def on_focus(self) -> None:
        self.notify_style_update()

    def on_blur(self) -> None:
        self.notify_style_update()

    def on_resize(self) -> None:
        if self._text_width != self._wrapped_width:
            self._wrap()

    def render_line(self, y: int) -> Strip:
        if self._thumb_styles is None:
            self._thumb_styles = thumb_styles(self)
        text = self._text_line(y)  # (first: it wraps the text again if the width changed)
        total = len(self._lines or [])
        track = self.scrollable_content_region.height
        bar = scrollbar_cell(y, track, total, round(self.scroll_y), self._thumb_styles)
        return Strip.join([text, bar])

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.x >= self._text_width:  # the scrollbar
            track = self.scrollable_content_region.height
            top = line_at(track, len(self._lines or []), offset.y)
            self.scroll_to(y=top, animate=False, immediate=True)

    def _text_line(self, y: int) -> Strip:
        width = max(0, self._text_width)
        if self._lines is None or self._wrapped_width != width:
            self._wrap()
        if self._strip_style is None:
            self._strips.clear()
            self._strip_style = self.rich_style
        style = self._strip_style
        index = y + round(self.scroll_y)
        strip = self._strips.get(index)
        if strip is None:
            lines = self._lines or []
            if index >= len(lines):
                strip = Strip.blank(width, style)
            else:
                segments = list(Segment.apply_style(lines[index], style))
                strip = Strip(segments).extend_cell_length(width, style)
            self._strips[index] = strip
        return strip.crop(0, width)
