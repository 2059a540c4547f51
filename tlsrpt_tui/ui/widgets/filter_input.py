"""The `/` filter box."""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import Input


class FilterInput(Input):
    """An Input whose scrollable width stays put while the text fits in the box.

    Input sets its virtual size to the text's width on every keystroke, and a new
    virtual size means a layout of the whole screen (and a repaint of every scrollbar
    in a second frame): a third of a filter keystroke's time at 100,000 reports.
    """

    @property
    def content_width(self) -> int:
        return max(super().content_width, self.scrollable_content_region.width)

    def on_resize(self) -> None:
        # Settle the scrollable width when the box appears (a layout happens then
        # anyway), so that the first keystroke does not change it.
        self.virtual_size = Size(self.content_width, 1)
