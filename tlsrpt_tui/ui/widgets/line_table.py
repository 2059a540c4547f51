"""A lean row-cursor table on Textual's line API.

The explorer's tables are refilled on every cursor move in the pane to their left,
so the cost of a refill is the cost of a key press. ``DataTable`` renders each cell
through Rich's padding and wrapping machinery and drops its caches on every change;
here a row is turned into segments once, when it is first drawn, and a refill only
swaps the list of rows. Only the visible lines are ever rendered.

Cells are single-line ``rich.text.Text`` values in fixed-width columns (long values
are cut with an ellipsis); the header stays on top while the rows scroll.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from tlsrpt_tui.ui.widgets.scroll_thumb import (
    THUMB_WIDTH,
    line_at,
    scrollbar_cell,
    thumb_styles,
)

#: Blank cells either side of every column, as in DataTable.
CELL_PADDING = 1


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Change what ``view`` scrolls over without a layout of the whole screen.

    Setting ``virtual_size`` asks for a layout of every widget, and with it a
    repaint of every scrollbar, twice per key press. A line-API view only needs its
    own scrollbars updated; if one has to appear or disappear, that reactive asks
    for the layout itself.
    """
    if size == view.virtual_size:
        return
    if not view.is_mounted or not view.container_size:
        view.virtual_size = size
        return
    view.set_reactive(Widget.virtual_size, size)
    view._scroll_update(size)  # scrollbar windows and visibility
    if view.scroll_y > view.max_scroll_y or view.scroll_x > view.max_scroll_x:
        view.scroll_to(
            x=min(view.scroll_x, view.max_scroll_x),
            y=min(view.scroll_y, view.max_scroll_y),
            animate=False,
            immediate=True,
        )
    view.refresh()


class LineTable(ScrollView, can_focus=True):
    """Rows of fixed-width cells with a row cursor, a fixed header and zebra stripes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "cursor_home", "Top", show=False),
        Binding("end", "cursor_end", "Bottom", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-table--header",
        "line-table--cursor",
        "line-table--even-row",
    }

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        /* The table draws its own vertical scrollbar (see scroll_thumb). */
        overflow-y: scroll;
        scrollbar-size-vertical: 0;
        &:focus {
            background-tint: $foreground 5%;
            & > .line-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .line-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .line-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .line-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .line-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .line-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class _RowMessage(Message):
        """Something happened to row ``cursor_row`` of ``table``."""

        def __init__(self, table: LineTable, cursor_row: int) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row

        @property
        def control(self) -> LineTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row (by the user or ``move_cursor``)."""

    class RowSelected(_RowMessage):
        """Enter (or a click on the highlighted row) chose a row."""

    cursor_row: reactive[int] = reactive(0, repaint=False, init=False)

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[tuple[str, int]] = []
        self._count = 0
        #: Rendered rows (segments without background), filled as rows are drawn.
        self._row_cache: dict[int, list[Segment]] = {}
        #: Styled rows as drawn: (row, "odd"/"even"/...cursor) -> Strip. Few segments
        #: (runs of one style are merged): everything after this works per segment.
        self._strips: dict[tuple[int, str], Strip] = {}
        self._header_cache: list[Segment] | None = None
        #: Rich styles of the widget and its parts, looked up once per style change.
        self._styles: dict[str, Style] | None = None
        #: Called at once when the cursor moves, before the screen is next drawn: what
        #: follows the cursor changes in the same frame as the cursor. (RowHighlighted
        #: arrives a message hop later, usually after a frame with only the cursor moved,
        #: and frames are at most 60 a second.)
        self.on_cursor: Callable[[int], None] | None = None

    # -- content -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return self._count

    def row_cells(self, row: int) -> Sequence[Text]:
        """The cells of row ``row``: asked only when the row is first drawn."""
        raise NotImplementedError

    @property
    def table_width(self) -> int:
        return sum(width + 2 * CELL_PADDING for _, width in self.columns)

    def set_columns(self, columns: Sequence[tuple[str, int]]) -> None:
        """Replace the columns (label, width in cells); rows are dropped."""
        self.columns = list(columns)
        self._header_cache = None
        self._strips.clear()
        self.set_rows(0, cursor=0)

    def set_rows(self, count: int, *, cursor: int = 0) -> None:
        """Now ``count`` rows (see ``row_cells``); place the cursor without announcing it.

        The caller knows what it changed and refreshes what depends on the cursor
        itself; a RowHighlighted here would make it do that twice.
        """
        self._count = count
        self._row_cache.clear()
        self._strips.clear()
        self.set_reactive(LineTable.cursor_row, self._clamp(cursor))
        set_virtual_size(self, Size(self.table_width + THUMB_WIDTH, count + 1))
        self._scroll_cursor_into_view()
        self.refresh()

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on ``row`` (clamped); announces it if it moved."""
        del animate  # accepted for DataTable compatibility; moves are never animated
        self.cursor_row = self._clamp(row)

    def _clamp(self, row: int) -> int:
        return max(0, min(row, self._count - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_cursor_into_view()
        if self.on_cursor is not None:
            self.on_cursor(new)
        self.post_message(self.RowHighlighted(self, new))

    # -- geometry --------------------------------------------------------------------

    @property
    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_y)
        cursor = self.cursor_row
        if cursor < top:
            self.scroll_to(y=cursor, animate=False, immediate=True)
        elif cursor >= top + self._visible_rows:
            self.scroll_to(y=cursor - self._visible_rows + 1, animate=False, immediate=True)

    def _refresh_row(self, row: int) -> None:
        line = row - round(self.scroll_y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def on_resize(self) -> None:
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._strips.clear()

    def on_focus(self) -> None:
        self._styles = None
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._styles = None
        self._strips.clear()
        self.refresh()

    def _style(self, part: str) -> Style:
        if self._styles is None:
            base = self.rich_style
            self._styles = {"": base}
            for name in ("header", "even-row", "cursor"):
                self._styles[name] = self.get_component_rich_style(f"line-table--{name}")
            self._styles["odd"] = base
            self._styles["even"] = base + self._styles["even-row"]
            self._styles["odd-cursor"] = base + self._styles["cursor"]
            self._styles["even-cursor"] = self._styles["even"] + self._styles["cursor"]
            self._styles["top"] = base + self._styles["header"]
            self._styles["track"], self._styles["thumb"] = thumb_styles(self)
        return self._styles[part]

    # -- rendering ---------------------------------------------------------------------

    def _render_cells(self, cells: Sequence[Text]) -> list[Segment]:
        console = self.app.console
        segments: list[Segment] = []
        pad = Segment(" " * CELL_PADDING)
        for (_, width), cell in zip(self.columns, cells, strict=False):
            own = console.get_style(cell.style) if cell.style else None
            if not cell.spans:  # one style: no need for Rich's span machinery
                plain = cell.plain
                length = cell_len(plain)
                if length > width:
                    plain = set_cell_size(plain, width - 1) + "…"
                elif length < width:
                    gap = width - length
                    if cell.justify == "right":
                        plain = " " * gap + plain
                    elif cell.justify == "center":
                        plain = " " * (gap // 2) + plain + " " * (gap - gap // 2)
                    else:
                        plain += " " * gap
                segments += (pad, Segment(plain, own), pad)
                continue
            text = cell.copy()
            text.no_wrap = True
            text.end = ""
            if text.cell_len > width:
                text.truncate(width, overflow="ellipsis")
            justify = text.justify if text.justify in ("right", "center") else "left"
            text.align(justify, width)
            segments.append(pad)
            # render() applies the spans only; the Text's own style goes underneath.
            segments.extend(Segment.apply_style(text.render(console), own))
            segments.append(pad)
        return segments

    def _row_segments(self, row: int) -> list[Segment]:
        segments = self._row_cache.get(row)
        if segments is None:
            segments = self._render_cells(self.row_cells(row))
            self._row_cache[row] = segments
        return segments

    def render_line(self, y: int) -> Strip:
        width = max(0, self.size.width - THUMB_WIDTH)
        if y == 0:
            bar = Strip([Segment(" " * THUMB_WIDTH, self._style("top"))], THUMB_WIDTH)
        else:
            styles = (self._style("track"), self._style("thumb"))
            top = round(self.scroll_y)
            bar = scrollbar_cell(y - 1, self._visible_rows, self._count, top, styles)
        return Strip.join([self._render_row_line(y, width), bar])

    def _render_row_line(self, y: int, width: int) -> Strip:
        scroll_x = round(self.scroll_x)
        if y == 0:
            row, part = -1, "top"
        else:
            row = y - 1 + round(self.scroll_y)
            if row >= self._count:
                return Strip.blank(width, self._style(""))
            part = "even" if row % 2 else "odd"
            if row == self.cursor_row:
                part += "-cursor"
        style = self._style(part)
        strip = self._strips.get((row, part))
        if strip is None:
            if row < 0:
                if self._header_cache is None:
                    labels = [Text(label) for label, _ in self.columns]
                    self._header_cache = self._render_cells(labels)
                segments = self._header_cache
            else:
                segments = self._row_segments(row)
            # The cursor's colours win over a cell's own (as in DataTable): a red
            # value on the cursor's background would be hard to read.
            post = self._style("cursor") if part.endswith("-cursor") else None
            styled = Segment.simplify(Segment.apply_style(segments, style, post))
            strip = Strip(list(styled), self.table_width)
            self._strips[(row, part)] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    # -- actions -----------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._visible_rows)

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._visible_rows)

    def action_cursor_home(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_end(self) -> None:
        self.move_cursor(row=self._count - 1)

    def action_select_cursor(self) -> None:
        if self._count:
            self.post_message(self.RowSelected(self, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        if offset.x >= self.size.width - THUMB_WIDTH:  # the scrollbar: jump there
            visible = self._visible_rows
            top = line_at(visible, self._count, offset.y - 1)
            self.scroll_to(y=top, animate=False, immediate=True)
            return
        row = offset.y - 1 + round(self.scroll_y)
        if not 0 <= row < self._count:
            return
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)
