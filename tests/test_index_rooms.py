"""The index's rooms one by one: the memo, the writer's promote, the quick refresh's
differences, failure merging, and the pool's workers."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import build_detail, build_policy, build_report

from tlsrpt_tui.commands.summary import summary_document
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS
from tlsrpt_tui.store.index import SqliteStore, open_index, reader
from tlsrpt_tui.store.index import refresh as refresh_module
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.parallel import pool
from tlsrpt_tui.store.queries import Filter


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(folder))
    # Folders count as settled at once, so that a quick refresh trusts their stamps.
    monkeypatch.setattr(refresh_module, "RECENT_NS", -(10**15))
    return folder


def _write(path: Path, report: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path


def _report(n: int, *, domain: str = "example.com", org: str = "Reporter A", **kw: Any) -> Any:
    return build_report(
        organization_name=org,
        report_id=f"report-{n}",
        start=f"2024-03-{n % 27 + 1:02d}T00:00:00Z",
        end=f"2024-03-{n % 27 + 1:02d}T23:59:59Z",
        policies=[build_policy(domain=domain, **kw)],
    )


def _bump(path: Path) -> None:
    """Move a file's and its folder's times on (a change the quick refresh must see)."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))
    folder = path.parent.stat()
    os.utime(path.parent, ns=(folder.st_atime_ns, folder.st_mtime_ns + 5_000_000_000))


def _same_as_memory(root: Path, store: SqliteStore) -> None:
    archive = load_archive([root])
    memory = MemoryStore(archive)
    for flt in (Filter(), Filter(text="example"), Filter(domain="example.com")):
        assert store.overview(flt) == memory.overview(flt), flt
        for pivot in ("domain", "reporter"):
            assert store.nav_rows(pivot, flt) == memory.nav_rows(pivot, flt), (pivot, flt)
        assert store.policy_rows(flt) == memory.policy_rows(flt), flt
        assert store.failure_rows(flt) == memory.failure_rows(flt), flt
    assert store.summary() == summary_document(archive)


# --------------------------------------------------------------------------- the memo


@pytest.fixture
def small(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for n in range(12):
        org = "Reporter A" if n % 2 else "Reporter B"
        domain = "example.com" if n % 3 else "example.net"
        _write(root / f"r{n}.json", _report(n, domain=domain, org=org, failed=n % 4))
    return root


def test_the_overview_reuses_the_grid_the_nav_pane_asked_for(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A filter neither the daily tables nor the signatures answer: both panes read the
    # units grid. The nav pane by reporter asked for it first; the overview takes the
    # same one instead of computing the grid by domain (its key once never matched).
    flt = Filter(reporter="Reporter A")
    store = open_index([small], limits=DEFAULT_LIMITS)
    expected = open_index([small], limits=DEFAULT_LIMITS).overview(flt)  # (domain grid)
    computed: list[str] = []
    compute = store._compute_grid

    def counting(pivot: Any, f: Filter, since: int | None) -> Any:
        computed.append(pivot)
        return compute(pivot, f, since)

    monkeypatch.setattr(store, "_compute_grid", counting)
    store.nav_rows("reporter", flt)
    assert store.overview(flt) == expected
    assert computed == ["reporter"]
    store.close()


class _Watched(dict[Any, Any]):
    """A dict that notes the most entries it ever held."""

    most = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.most = max(self.most, len(self))


def test_every_answer_the_store_remembers_keeps_within_the_memo_bound(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (Every write goes through one door that evicts first: the signatures a text
    # matches, the extra reports, the grids and the SQL index checks included.)
    monkeypatch.setattr(reader, "_MEMO_SIZE", 6)
    store = open_index([small], limits=DEFAULT_LIMITS)
    store._memo = memo = _Watched()
    for text in ("e", "ex", "exa", "exam", "examp", "exampl", "example", "r", "re"):
        for flt in (Filter(text=text), Filter(text=text, reporter="Reporter A")):
            store.overview(flt)  # (the signatures matching, the extra reports)
            store.nav_rows("reporter", flt)
            store.nav_rows("domain", flt.narrowed(domain="example.com"))
            store.overview(Filter(result_type="validation-failure", text=text))  # (grid)
    assert 0 < memo.most <= 6
    store.close()


# --------------------------------------------------------------------------- the writer


def test_a_second_copy_becomes_primary_when_the_first_file_goes(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    report = _report(1, failed=3, failure_details=[build_detail(count=3)])
    first = _write(root / "a" / "first.json", report)
    _write(root / "b" / "second.json", report)
    _write(root / "b" / "other.json", _report(2))
    store = open_index([root], limits=DEFAULT_LIMITS)
    assert store.summary()["reports"] == 2 and store.summary()["duplicates"] == 1
    [row] = [r for r in store.report_rows(Filter()) if r.report_id == "report-1"]
    assert row.sources[0].endswith("first.json")
    first.unlink()
    stats = store.refresh()
    assert stats.removed == 1
    [row] = [r for r in store.report_rows(Filter()) if r.report_id == "report-1"]
    assert [Path(s).name for s in row.sources] == ["second.json"]
    assert store.summary()["duplicates"] == 0
    _same_as_memory(root, store)  # (the facts counted once, now from the second copy)
    store.close()


def test_failure_rows_of_many_reports_merge_in_the_index(tmp_path: Path) -> None:
    # The same failure (type, MX, IPs...) in several reports and reporters is one row,
    # its sessions summed; a different MX is a row of its own.
    root = tmp_path / "archive"
    detail = {"receiving_mx_hostname": "mx.example.com", "receiving_ip": "192.0.2.1"}
    for n in range(4):
        org = "Reporter A" if n % 2 else "Reporter B"
        details = [build_detail("certificate-expired", count=n + 1, **detail)]
        if n == 3:
            details.append(
                build_detail("certificate-expired", count=7, receiving_mx_hostname="mx2")
            )
        total = sum(d["failed-session-count"] for d in details)
        _write(root / f"r{n}.json", _report(n, org=org, failed=total, failure_details=details))
    store = open_index([root], limits=DEFAULT_LIMITS)
    rows = store.failure_rows(Filter())
    memory = MemoryStore(load_archive([root])).failure_rows(Filter())
    assert rows == memory
    by_mx = {r.receiving_mx_hostname: r for r in rows}
    assert by_mx["mx.example.com"].count == 1 + 2 + 3 + 4
    assert by_mx["mx2"].count == 7
    store.close()


# --------------------------------------------------------------------------- refresh


def test_the_quick_refresh_finds_new_changed_deleted_and_renamed_files(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    files = [_write(root / f"d{n % 3}" / f"r{n}.json", _report(n)) for n in range(9)]
    store = open_index([root], limits=DEFAULT_LIMITS)
    assert store.last_refresh.files == 9

    _write(root / "d0" / "new.json", _report(20))  # new
    changed = _write(files[1], _report(1, failed=5))  # changed (d1)
    _bump(changed)
    files[2].unlink()  # deleted (d2)
    files[4].rename(root / "d1" / "renamed.json")  # renamed, in a folder that changed
    stats = store.refresh()
    assert not stats.full  # (only the folders whose stamps moved were listed)
    assert (stats.added, stats.changed, stats.removed) == (2, 1, 2)
    assert stats.files == 9
    assert sorted(r.report_id for r in store.report_rows(Filter())) == sorted(
        f"report-{n}" for n in (0, 1, 3, 4, 5, 6, 7, 8, 20)
    )
    _same_as_memory(root, store)
    store.close()


# --------------------------------------------------------------------------- the pool


def _square(batch: list[int], _limits: Any) -> list[int]:
    return [n * n for n in batch]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forked pool is Linux's")
@pytest.mark.parametrize("forked", [True, False], ids=["forked", "concurrent.futures"])
def test_map_batches_starts_its_workers_and_keeps_order(
    forked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both back ends: forked workers fed through pipes (the command line), and a
    # concurrent.futures pool (what the explorer gets, a thread being about).
    monkeypatch.setattr(pool, "POOL_MIN_FILES", 8)
    blocker = threading.Event()
    thread = None
    if not forked:
        thread = threading.Thread(target=blocker.wait, daemon=True)
        thread.start()
    try:
        assert pool._fork_is_safe() is forked
        items = list(range(500))
        got: list[int] = []
        for batch, out in pool.map_batches(
            items, lambda n: n, _square, DEFAULT_LIMITS, 2, size=16, pooled=32
        ):
            assert out == [n * n for n in batch]
            got.extend(batch)
        assert got == items
    finally:
        blocker.set()
        if thread is not None:
            thread.join()


def _stop(batch: list[int], _limits: Any) -> list[int]:
    return batch


def test_map_batches_stops_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(pool.IndexCancelled):
        for _ in pool.map_batches(range(1000), lambda n: n, _stop, DEFAULT_LIMITS, 2, cancel):
            pass


# --------------------------------------------------------------------------- rows


def test_mx_hosts_are_stored_as_json_and_read_back_as_the_loader_read_them(
    tmp_path: Path,
) -> None:
    root = tmp_path / "archive"
    odd = ["mx.example.com", 'it\'s "quoted"', "back\\slash", "bell\x07", "bücher.example"]
    # (quotes, a backslash, a control character, an internationalized name)
    _write(root / "odd.json", _report(1, mx_host=odd))
    _write(root / "none.json", _report(2, domain="example.net", mx_host=[]))
    store = open_index([root], limits=DEFAULT_LIMITS)
    stored = [text for (text,) in store.conn.execute("SELECT DISTINCT mx FROM policies")]
    memory = MemoryStore(load_archive([root]))
    expected = {row.mx_hosts for row in memory.policy_rows(Filter())}
    assert len(expected) == 2 and () in expected  # (the IDN host as its A-label)
    assert {tuple(json.loads(text)) for text in stored} == expected
    assert store.policy_rows(Filter()) == memory.policy_rows(Filter())
    store.close()
