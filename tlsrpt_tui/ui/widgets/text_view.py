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
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tlsrpt_tui.ui.widgets.line_table import set_virtual_size


class TextView(ScrollView):
    """Wrapped text that scrolls; ``update`` replaces it."""

    DEFAULT_CSS = """
    TextView {
        overflow-x: hidden;
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

    def update(self, text: Text) -> None:
        self.text = text
        self._lines = None
        self._strips.clear()
        self._wrap()
        self.refresh()

    def _wrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0:
            return
        console = self.app.console
        options = console.options.update(width=width, no_wrap=False, highlight=False)
        self._lines = console.render_lines(self.text, options, pad=False, new_lines=False)
        self._wrapped_width = width
        self._strips.clear()
        set_virtual_size(self, Size(width, len(self._lines)))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip_style = None
        self._strips.clear()

    def on_focus(self) -> None:
        self.notify_style_update()

    def on_blur(self) -> None:
        self.notify_style_update()

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._wrapped_width:
            self._wrap()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
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
