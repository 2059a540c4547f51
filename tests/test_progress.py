"""Progress of long operations: a total still growing is marked and gives no time left;
a cold build counts the files ahead of its own walk, so the time left is known early."""

from __future__ import annotations

import io
import time
from datetime import date
from pathlib import Path

import pytest
from test_app import archive  # noqa: F401  (a fixture)
from textual.widgets import Static

from tlsrpt_tui.core.progress import time_left
from tlsrpt_tui.core.reading.walk import Scan, count_files, iter_scan
from tlsrpt_tui.demo.generator import generate_archive
from tlsrpt_tui.store.index import ProgressMeter, open_index, refresh, terminal_progress
from tlsrpt_tui.store.parallel import pool
from tlsrpt_tui.ui.app import ExplorerApp
from tlsrpt_tui.ui.messages import LoadProgress


def test_time_left() -> None:
    assert time_left(10, 100, 5.0) == "0:18"
    assert time_left(0, 10_000, 20.0) == "8:20"
    assert time_left(100, 100, 5.0) is None  # done
    assert time_left(10, 100, 0.0) is None  # no rate yet


def test_a_growing_total_gives_no_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    meter = ProgressMeter("reading")
    meter.started = time.perf_counter() - 2.0  # (two seconds in)
    growing = meter.line(100, 1_000)
    assert growing.startswith("reading: 100/1,000+ files, ") and "ETA" not in growing
    assert "ETA" not in meter.line(200, 2_000)  # still growing
    settled = meter.line(300, 2_000)
    assert "300/2,000 files" in settled and "ETA 0:" in settled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_progress_only_on_a_terminal() -> None:
    progress, finish = terminal_progress("indexing", io.StringIO())
    assert progress is None  # (nothing is counted for a pipe or a file)
    finish()
    out = _Terminal()
    progress, finish = terminal_progress("indexing", out)
    assert progress is not None
    progress(0, 50)
    progress(50, 50)
    assert "indexing: 50/50 files" in out.getvalue()
    finish()
    assert out.getvalue().endswith("\r\033[K")


def test_count_files_counts_what_the_walk_lists(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    generate_archive(root, reports=90, domains=3, reporters=3, start=date(2026, 3, 1), seed=9)
    (root / ".hidden.json").write_text("{}")  # (not a candidate: not counted)
    (root / "partial.json.tmp").write_text("{}")
    scan = Scan([root])
    listed = sum(1 for _ in iter_scan(scan, keep=False, stat=False))
    assert count_files([root], lambda: False) == listed == 90
    assert count_files([root, root / "2026"], lambda: False) == len(
        list(iter_scan(Scan([root, root / "2026"]), stat=False))
    )
    assert count_files([root], lambda: True) is None  # stopped
    assert count_files([tmp_path / "missing"], lambda: False) in (0, None)


def test_a_cold_build_knows_its_total_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    files = 2_000
    generate_archive(root, reports=files, domains=4, reporters=5, start=date(2026, 3, 1), seed=10)
    # The walk is kept just ahead of the parsing: slow the parsing down, so that the
    # total could only be known early from the count.
    monkeypatch.setattr(refresh, "ROWS_BATCH_FILES", 64)
    monkeypatch.setattr(pool, "BATCH_FILES", 64)
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        time.sleep(0.02)

    store = open_index([root], jobs=2, progress=progress)
    store.close()
    assert calls[-1] == (files, files)
    early = [total for done, total in calls if done < files // 2]
    assert files in early  # known while half the files were still to read
    assert all(total <= files for _done, total in calls)


async def test_the_explorer_shows_the_time_left(archive: Path) -> None:  # noqa: F811
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        label = app.query_one("#progress-label", Static)
        app.post_message(LoadProgress(10, 100, 5.0))
        await pilot.pause()
        first = str(label.render())
        assert "10/100+" in first and "left" not in first
        app.post_message(LoadProgress(20, 100, 5.0))
        await pilot.pause()
        assert "20/100 · 5 files/s · 0:16 left" in str(label.render())
