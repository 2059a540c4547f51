"""The explorer keeps quarantined reports apart: a count in the overview line, a screen
(`u`) with each report's DKIM verdict and reason, and never a session in the totals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import make_report, report_bytes
from textual.widgets import DataTable, Static

from tlsrpt_tui.core.model import Report, Source
from tlsrpt_tui.core.reading.loader import load_bytes
from tlsrpt_tui.ingest.report_dir import ReportStore
from tlsrpt_tui.ui.app import ExplorerApp
from tlsrpt_tui.ui.screens.quarantine import QuarantineScreen
from tlsrpt_tui.ui.widgets.overview import OverviewBar


def parsed(payload: bytes) -> Report:
    [report] = load_bytes(payload, Source("test")).reports
    return report


def quarantine(store: ReportStore, report_id: str, reason: str, sessions: int = 1000) -> Path:
    payload = report_bytes(
        make_report(organization="Forged", report_id=report_id, successful=sessions)
    )
    saved = store.save(
        payload,
        parsed(payload),
        submitter="evil.example",
        quarantine=True,
        sidecars={"dkim": {"verdict": "none", "reason": reason}},
    )
    assert saved.quarantined
    return saved.path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    store = ReportStore(root)
    store.prepare()
    good = report_bytes(make_report(report_id="good", successful=10))
    store.save(good, parsed(good), submitter="reporter.example")
    # A hostile reason: markup must stay characters.
    quarantine(store, "forged-1", "no DKIM signature [bold red]spoofed[/]")
    return root


async def until(pilot: Any, condition: Any, tries: int = 150) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.1)
    return bool(condition())


def overview_line(app: ExplorerApp) -> str:
    return str(app.query_one("#overview", OverviewBar).render())


@pytest.mark.parametrize("use_index", [False, True])
async def test_quarantine_is_counted_apart_and_listed_with_reasons(
    root: Path, use_index: bool
) -> None:
    app = ExplorerApp([root], watch=False, use_index=use_index)
    async with app.run_test(size=(160, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        await pilot.pause()
        overview = app.store.overview(app.base_filter)
        assert overview.reports == 1 and overview.sessions == 10
        assert "1 quarantined (u)" in overview_line(app)
        assert [r.key for r in app.nav.rows_data] == ["example.com"]
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, QuarantineScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells == [
            "2024-05-01",
            "evil.example",
            "example.com",
            "none",
            "no DKIM signature [bold red]spoofed[/]",
        ]
        detail = str(app.screen.query_one("#quarantine-detail", Static).render())
        assert "File  quarantine/2024/05/01/evil.example!example.com!" in detail
        assert "DKIM  none: no DKIM signature [bold red]spoofed[/]" in detail
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuarantineScreen)


async def test_no_quarantine_no_count(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    store = ReportStore(root)
    store.prepare()
    good = report_bytes(make_report(report_id="good"))
    store.save(good, parsed(good), submitter="reporter.example")
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        await pilot.pause()
        assert "quarantined" not in overview_line(app)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, QuarantineScreen)
        assert app.screen.query_one(DataTable).row_count == 0


@pytest.mark.parametrize("use_index", [False, True])
async def test_report_quarantined_while_watching_counts_apart(root: Path, use_index: bool) -> None:
    app = ExplorerApp([root], watch=True, use_index=use_index)
    async with app.run_test(size=(160, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        await pilot.pause(0.5)  # let the watcher start
        store = ReportStore(root)
        quarantine(store, "forged-2", "signature does not verify", sessions=5000)
        assert await until(pilot, lambda: "2 quarantined (u)" in overview_line(app))
        overview = app.store.overview(app.base_filter)
        assert overview.reports == 1 and overview.sessions == 10
