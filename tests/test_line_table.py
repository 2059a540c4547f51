"""The line-API table and text view behind the explorer's panes, driven with Pilot."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult

from tlsrpt_tui.ui.widgets.line_table import LineTable
from tlsrpt_tui.ui.widgets.text_view import TextView


class NumberTable(LineTable):
    def __init__(self) -> None:
        super().__init__(id="table")
        self.columns = [("Name", 10), ("Count", 6)]
        self.asked: list[int] = []

    def row_cells(self, row: int) -> Sequence[Text]:
        self.asked.append(row)
        return [
            Text(f"row {row}" if row != 3 else "[b]x[/b] and a long tail"),
            Text(str(row * 7), justify="right"),
        ]


class TableApp(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.highlighted: list[int] = []
        self.selected: list[int] = []

    def compose(self) -> ComposeResult:
        yield NumberTable()
        yield TextView(id="text")

    def on_mount(self) -> None:
        self.query_one(NumberTable).set_rows(self.rows)
        self.query_one(NumberTable).focus()

    @on(LineTable.RowHighlighted)
    def remember_highlight(self, event: LineTable.RowHighlighted) -> None:
        self.highlighted.append(event.cursor_row)

    @on(LineTable.RowSelected)
    def remember_selection(self, event: LineTable.RowSelected) -> None:
        self.selected.append(event.cursor_row)


def screen_lines(app: App[None]) -> list[str]:
    return [
        "".join(segment.text for segment in strip)
        for strip in app.screen._compositor.render_strips()
    ]


async def test_keys_move_the_cursor_and_announce_it() -> None:
    app = TableApp(rows=100)
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NumberTable)
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        assert app.highlighted == [1, 2]
        await pilot.press("up", "up", "up")  # the cursor stops at the first row
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == 99
        await pilot.press("pageup")
        assert 80 < table.cursor_row < 99
        await pilot.press("home", "enter")
        assert table.cursor_row == 0 and app.selected == [0]


async def test_only_visible_rows_are_rendered_and_the_header_stays() -> None:
    app = TableApp(rows=100_000)
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NumberTable)
        await pilot.pause()
        assert max(table.asked) < 20  # a 12-line screen never asks for row 20
        await pilot.press("end")
        await pilot.pause()
        lines = screen_lines(app)
        assert lines[0].startswith(" Name ")  # the header stays on top while rows scroll
        assert any("row 99999" in line for line in lines)
        assert len(table.asked) < 60


async def test_refill_places_the_cursor_quietly_and_clamps_it() -> None:
    app = TableApp(rows=50)
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NumberTable)
        await pilot.press("end")
        app.highlighted.clear()
        table.set_rows(5, cursor=40)
        await pilot.pause()
        assert table.cursor_row == 4
        assert app.highlighted == []  # the owner refreshes what depends on it itself
        assert table.scroll_y == 0
        table.set_rows(0)
        await pilot.press("enter", "down")
        assert app.selected == []


async def test_clicks_highlight_then_select() -> None:
    app = TableApp(rows=10)
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NumberTable)
        await pilot.click("#table", offset=(2, 3))  # line 3: row 2 (the header is line 0)
        assert table.cursor_row == 2 and app.selected == []
        await pilot.click("#table", offset=(2, 3))
        assert app.selected == [2]
        await pilot.click("#table", offset=(2, 0))  # the header is not a row
        assert table.cursor_row == 2


async def test_cells_are_literal_cut_to_width_and_right_aligned() -> None:
    app = TableApp(rows=5)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        # Markup in a value is shown as typed; a long value ends with an ellipsis.
        assert lines[4].startswith(" [b]x[/b] … ")
        assert "    21 " in lines[4]  # numbers right-aligned in their column


async def test_text_view_wraps_to_its_width_and_scrolls() -> None:
    app = TableApp(rows=1)
    async with app.run_test(size=(30, 24)) as pilot:
        view = app.query_one(TextView)
        view.update(Text("word " * 200 + "\n[red]literal[/red]"))
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert view.virtual_size.height > 200 * 5 // width  # wrapped, not cut
        view.focus()
        await pilot.press("end")
        await pilot.wait_for_scheduled_animations()
        assert round(view.scroll_y) == view.max_scroll_y > 0
        assert any("[red]literal[/red]" in line for line in screen_lines(app))


async def test_on_cursor_runs_before_the_next_frame() -> None:
    """What follows the cursor changes in the same call as the cursor: no message hop
    (and no frame with only the cursor moved)."""
    app = TableApp(rows=10)
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NumberTable)
        followed: list[int] = []
        table.on_cursor = followed.append
        table.move_cursor(row=3)
        assert followed == [3]  # already, before any await
        assert app.highlighted == []  # the message comes later
        await pilot.pause()
        assert app.highlighted == [3]
        table.move_cursor(row=3)  # not a move
        assert followed == [3]


async def test_a_pane_shown_the_same_rows_again_is_not_redrawn() -> None:
    from tlsrpt_tui.locations import demo_archive
    from tlsrpt_tui.ui.app import ExplorerApp

    app = ExplorerApp([demo_archive()], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.loading:
            await pilot.pause(0.05)
        await pilot.pause()
        rows = list(app.policies.all_rows)
        drawn: list[int] = []
        original = app.policies.set_rows
        app.policies.set_rows = lambda count, cursor=0: (
            drawn.append(count),
            original(count, cursor=cursor),
        )  # type: ignore[method-assign]
        app.policies.show(list(rows))  # equal rows, a new list
        assert drawn == []
        app.policies.show(rows[:1])
        assert drawn == [1]
        app.policies.action_cycle_sort()  # same rows, another order: drawn again
        assert len(drawn) == 2


def thumb_lines_drawn(widget: LineTable | TextView, first: int) -> list[int]:
    """The lines whose last cell is the scrollbar's thumb (as the widget draws them)."""
    if isinstance(widget, LineTable):
        thumb = widget._style("thumb")
    else:
        thumb = widget._thumb_styles[1] if widget._thumb_styles else None
    lines = []
    for y in range(first, widget.size.height):
        segments = list(widget.render_line(y))
        if segments[-1].style == thumb:
            lines.append(y)
    return lines


async def test_the_panes_draw_their_own_scrollbar() -> None:
    """The thumb is part of the table's and the text's own lines: it follows the rows
    and the text, a click on the track jumps there, and the wheel still scrolls."""
    from tlsrpt_tui.ui.widgets.scroll_thumb import thumb_lines

    assert thumb_lines(10, 10, 0) == range(0)  # everything fits: no thumb
    assert thumb_lines(10, 100, 0) == range(0, 1)
    assert thumb_lines(10, 100, 90) == range(9, 10)
    assert thumb_lines(10, 20, 5) == range(2, 7)

    app = TableApp(rows=200)
    async with app.run_test(size=(40, 24)) as pilot:
        table = app.query_one(NumberTable)
        await pilot.pause()
        assert table.allow_vertical_scroll  # (what the mouse wheel asks)
        assert table.vertical_scrollbar.size.width == 0  # Textual's own is not drawn
        assert thumb_lines_drawn(table, 1) == [1]  # at the top of the track
        await pilot.press("end")
        await pilot.pause()
        assert thumb_lines_drawn(table, 1) == [table.size.height - 1]
        # Values are drawn one column in from the scrollbar.
        assert any("1393 " in line for line in screen_lines(app))
        await pilot.click("#table", offset=(table.size.width - 1, 1))
        assert table.scroll_y == 0

        view = app.query_one(TextView)
        view.update(Text("word " * 400))
        await pilot.pause()
        assert view.max_scroll_y > 0
        top = thumb_lines_drawn(view, 0)
        assert top and top[0] == 0
        view.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert thumb_lines_drawn(view, 0)[-1] == view.size.height - 1
