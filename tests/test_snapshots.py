"""SVG snapshots of the main screens on the bundled demo archive.

Regenerate after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the diff in snapshot_report.html before committing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tlsrpt_tui.locations import demo_archive
from tlsrpt_tui.settings import Settings
from tlsrpt_tui.ui.app import ExplorerApp

pytestmark = pytest.mark.skipif(not demo_archive().is_dir(), reason="demo archive not generated")


def demo_app() -> ExplorerApp:
    # Fixed settings: the user's own theme or pivot must not leak into snapshots.
    return ExplorerApp([demo_archive()], settings=Settings(), watch=False, label="demo archive")


async def wait_loaded(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24), (200, 60)])
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(demo_app(), terminal_size=size, run_before=wait_loaded)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_drilled_into_failure(snap_compare: Any, size: tuple[int, int]) -> None:
    async def drill(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("enter", "enter")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=size, run_before=drill)


def test_reporter_pivot(snap_compare: Any) -> None:
    async def pivot(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=pivot)


def test_raw_report(snap_compare: Any) -> None:
    async def raw(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("r")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=raw)


def test_help(snap_compare: Any) -> None:
    async def help_screen(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=help_screen)


def test_bad_files(snap_compare: Any) -> None:
    async def bad(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=bad)


def test_trends(snap_compare: Any) -> None:
    async def trends(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("t")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=trends)


def test_alerts(snap_compare: Any) -> None:
    async def alerts(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("a")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=alerts)


def test_guide(snap_compare: Any) -> None:
    async def guide(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("g")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=guide)


def test_date_range(snap_compare: Any) -> None:
    async def date_range(pilot: Any) -> None:
        await wait_loaded(pilot)
        await pilot.press("d")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(120, 40), run_before=date_range)
