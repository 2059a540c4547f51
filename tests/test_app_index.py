"""The explorer on the persistent index (the default outside tests): same journey."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from test_app import archive, report, write_gz  # noqa: F401  (archive is a fixture)

from tlsrpt_tui.ui.app import ExplorerApp
from tlsrpt_tui.ui.screens.bad_files import BadFilesScreen
from tlsrpt_tui.ui.screens.report import ReportScreen


async def until(pilot: Any, condition: Any, tries: int = 150) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.1)
    return bool(condition())


async def test_index_journey_raw_view_and_bad_files(archive: Path) -> None:  # noqa: F811
    app = ExplorerApp([archive], watch=False, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        await pilot.pause()
        assert app.index is not None and app.store is app.index
        assert [r.key for r in app.nav.rows_data] == ["example.com", "example.net"]
        await pilot.press("enter", "enter")
        row = app.failures.current
        assert row is not None and row.result_type == "certificate-expired"
        assert "mx2.example.com:25" in app.guidance.plain
        await pilot.press("escape", "escape")
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReportScreen)
        assert '"organization-name": "Google Inc."' in app.screen.current_json
        assert any("2026/11/01/a.json.gz" in s for s in app.screen.sources)
        await pilot.press("escape", "b")
        await pilot.pause()
        assert isinstance(app.screen, BadFilesScreen)
        assert [e.source.path for e in app.screen.errors] == ["broken.json.gz"]


async def test_index_second_start_is_warm_and_watching_works(archive: Path) -> None:  # noqa: F811
    first = ExplorerApp([archive], watch=False, use_index=True)
    async with first.run_test() as pilot:
        assert await until(pilot, lambda: not first.loading)
    app = ExplorerApp([archive], watch=True, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        assert {r.key for r in app.nav.rows_data} == {"example.com", "example.net"}
        await pilot.pause(0.5)  # let the watcher start
        blob = gzip.compress(
            json.dumps(report(org="Mail.ru", domain="shop.example", day=3)).encode()
        )
        new = archive / "2026/11/03/new.json.gz"
        new.parent.mkdir(parents=True)
        new.write_bytes(blob)
        assert await until(pilot, lambda: any(r.key == "shop.example" for r in app.nav.rows_data))
        new.unlink()
        assert await until(
            pilot, lambda: not any(r.key == "shop.example" for r in app.nav.rows_data)
        )


async def test_cold_build_uses_the_process_pool_under_the_ui(tmp_path: Path) -> None:
    """Enough files for the process pool: it must start from the UI's worker thread
    (Textual's stderr has no file descriptor) and give the same answers as memory."""
    from tlsrpt_tui.demo.generator import generate_archive
    from tlsrpt_tui.store.parallel import pool

    root = tmp_path / "big"
    generate_archive(root, reports=pool.POOL_MIN_FILES + 100, domains=8, reporters=5, seed=3)
    app = ExplorerApp([root], watch=False, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading, tries=600)
        assert app.load_error is None
        assert app.index is not None
        ov = app.store.overview(app.base_filter)
    memory = ExplorerApp([root], watch=False)
    async with memory.run_test(size=(120, 40)) as pilot:
        await memory.workers.wait_for_complete()
        assert memory.store.overview(memory.base_filter) == ov


async def test_alerts_over_the_index_come_from_a_child_process() -> None:
    from tlsrpt_tui.locations import demo_archive

    app = ExplorerApp([demo_archive()], watch=False, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: bool(app.alerts), tries=300)
        assert {"failure-rate", "silent-reporter"} <= {a.rule for a in app.alerts}
        assert app.load_error is None


async def test_check_every_file_from_the_command_palette(
    archive: Path,  # noqa: F811
    monkeypatch: Any,
) -> None:
    """A report rewritten in place (its folder's times unchanged) is found by the
    palette's full check, not by the quick refresh at start."""
    from tlsrpt_tui.store.index import refresh

    monkeypatch.setattr(refresh, "RECENT_NS", -(10**15))  # folders settle at once
    first = ExplorerApp([archive], watch=False, use_index=True)
    async with first.run_test() as pilot:
        assert await until(pilot, lambda: not first.loading)
    target = archive / "2026/11/01/a.json.gz"
    target.write_bytes(
        gzip.compress(json.dumps(report(org="Mail.ru", domain="rewritten.example")).encode())
    )
    app = ExplorerApp([archive], watch=False, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        assert app.index is not None and not app.index.last_refresh.full
        assert not any(r.key == "rewritten.example" for r in app.nav.rows_data)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"check every file")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await until(
            pilot, lambda: any(r.key == "rewritten.example" for r in app.nav.rows_data)
        )
        assert await until(pilot, lambda: not app.loading)
        assert app.index.last_refresh.full and app.index.last_refresh.changed == 1


async def test_explorer_on_an_index_summary_built(archive: Path) -> None:  # noqa: F811
    """`summary` builds the index without the explorer's query indexes: the explorer
    draws the archive from it at once and adds them in the background, saying so."""
    import sqlite3

    from tlsrpt_tui.cli import main as cli_main
    from tlsrpt_tui.store.index import index_path

    assert cli_main(["summary", str(archive), "--format", "json"]) == 0

    def indexes() -> set[str]:
        with sqlite3.connect(index_path([archive])) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
            return {name for (name,) in rows}

    assert "policies_by_domain" not in indexes()
    app = ExplorerApp([archive], watch=False, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: "first_screen" in app.timings)
        assert {r.key for r in app.nav.rows_data} == {"example.com", "example.net"}
        assert await until(pilot, lambda: not app.loading)
    assert "policies_by_domain" in indexes()


def test_refresh_tells_when_it_adds_the_query_indexes(archive: Path) -> None:  # noqa: F811
    from tlsrpt_tui.cli import main as cli_main
    from tlsrpt_tui.store.index import open_index

    assert cli_main(["summary", str(archive), "--format", "json"]) == 0
    store = open_index([archive], refresh=False)
    said: list[str] = []
    store.refresh(status=said.append)
    assert said == ["Indexing the archive for browsing (once)…"]
    store.refresh(status=said.append)  # (they are there now)
    assert len(said) == 1
    store.close()


async def test_detail_rows_are_asked_ahead_of_the_cursor(archive: Path) -> None:  # noqa: F811
    """Once loaded, the detail panes' answers for every navigation row are ready: the
    cursor then moves without querying the index."""
    from tlsrpt_tui.store.queries import Filter

    app = ExplorerApp([archive], watch=False, use_index=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: not app.loading)
        keys = [row.key for row in app.nav.rows_data]
        index = app.index
        assert index is not None and len(keys) == 2
        wanted = {("policies", Filter(domain=key)) for key in keys}
        assert await until(pilot, lambda: wanted <= set(index._memo))
        asked: list[str] = []
        original = index.conn

        class Spy:
            def execute(self, sql: str, *args: Any) -> Any:
                asked.append(sql)
                return original.execute(sql, *args)

        index.conn = Spy()  # type: ignore[assignment]
        try:
            await pilot.press("down")
            await pilot.pause()
        finally:
            index.conn = original
        assert app.nav.current is not None and app.nav.current.key == keys[1]
        assert [sql for sql in asked if "FROM policies" in sql or "FROM failures" in sql] == []


async def test_full_garbage_collections_wait_for_a_pause_in_typing(
    archive: Path,  # noqa: F811
    monkeypatch: Any,
) -> None:
    import gc

    from tlsrpt_tui.store import live

    collected: list[int] = []
    monkeypatch.setattr(live.gc, "collect", lambda *a: collected.append(1) or 0)
    before = gc.get_threshold()
    app = ExplorerApp([archive], watch=False, use_index=True)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await until(pilot, lambda: not app.loading)
            assert await until(pilot, lambda: app.idle_collector is not None)
            assert gc.get_threshold()[2] == live.FULL_COLLECTION_EVERY
            monkeypatch.setattr(live.gc, "get_count", lambda: (0, 0, 9))
            await pilot.press("down")
            app.collect_when_idle()
            assert collected == []  # a key was just pressed
            await pilot.press("slash")
            app.last_key -= 5
            await pilot.press("x")  # (typed into the filter: the Input keeps the key)
            app.collect_when_idle()
            assert collected == []
            app.last_key -= 5
            app.collect_when_idle()
            assert collected == [1]
    finally:
        gc.set_threshold(*before)
