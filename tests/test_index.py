"""The SQLite index gives the same answers as reading every file, however it got there."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tlsrpt_tui.cli import main as cli_main
from tlsrpt_tui.commands.summary import summary_document
from tlsrpt_tui.core.archive import collect_files, load_archive
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, Limits
from tlsrpt_tui.demo.generator import generate_archive
from tlsrpt_tui.locations import demo_archive
from tlsrpt_tui.store import index as index_face
from tlsrpt_tui.store.index import (
    IndexCancelled,
    SqliteStore,
    index_path,
    open_index,
    refresh,
    rows,
    summarize_with_index,
    writer,
)
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import Filter

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    generate_archive(folder, reports=240, domains=6, reporters=8, start=date(2026, 3, 1), seed=7)
    return folder


@pytest.fixture
def archive(tmp_path: Path, generated: Path) -> Path:
    """The demo archive (every oddity there is) plus generated reports, to change freely."""
    root = tmp_path / "archive"
    shutil.copytree(demo_archive(), root / "demo")
    shutil.copytree(generated, root / "generated")
    return root


# --------------------------------------------------------------------------- comparing


def filters_for(memory: MemoryStore) -> Iterator[Filter]:
    overview = memory.overview(Filter())
    domains = [row.key for row in memory.nav_rows("domain", Filter())]
    reporters = [row.key for row in memory.nav_rows("reporter", Filter())]
    types = list(memory.result_types(Filter()))
    yield Filter()
    for text in ("google", "MX", "mx1.", "203.0.113", "sts", "tlsa", "expired", "zz-nothing", "."):
        yield Filter(text=text)
    for domain in domains[:3] + domains[-1:]:
        yield Filter(domain=domain)
        yield Filter(domain=domain, text="microsoft")
    for reporter in reporters[:2] + reporters[-1:]:
        yield Filter(reporter=reporter)
        yield Filter(reporter=reporter, domain=domains[0])
    for result_type in types[:3]:
        yield Filter(result_type=result_type)
        yield Filter(result_type=result_type, domain=domains[0])
        yield Filter(result_type=result_type, text="mx")
    if overview.first_day and overview.last_day:
        middle = overview.first_day + (overview.last_day - overview.first_day) / 2
        yield Filter(since=middle)
        yield Filter(until=middle, text="google")
        yield Filter(since=overview.first_day, until=overview.first_day)
        yield Filter(since=overview.last_day + timedelta(days=1))


def unordered(rows: list[Any]) -> list[str]:
    return sorted(repr(r) for r in rows)


def assert_same(paths: list[Path], store: SqliteStore) -> None:
    """Every query of the index answers what the in-memory store answers."""
    archive = load_archive(paths)
    memory = MemoryStore(archive)
    for flt in filters_for(memory):
        assert store.overview(flt) == memory.overview(flt), flt
        for pivot in ("domain", "reporter"):
            expected = memory.nav_rows(pivot, flt)
            assert store.nav_rows(pivot, flt) == expected, (pivot, flt)
            # The explorer's trend window: the last 14 days up to the last day shown.
            last = max((p.day for row in expected for p in row.daily), default=date.min)
            window = [
                dataclasses.replace(
                    row, daily=tuple(p for p in row.daily if p.day > last - timedelta(days=14))
                )
                for row in expected
            ]
            assert store.nav_rows(pivot, flt, trend_days=14) == window, (pivot, flt)
        # Rows tied on the sort key keep arrival order in memory: compare as sets, and
        # check the index keeps the documented order.
        policies = store.policy_rows(flt)
        assert unordered(policies) == unordered(memory.policy_rows(flt)), flt
        keys = [(-r.failed, r.domain, r.policy_type, r.reporter) for r in policies]
        assert keys == sorted(keys)
        failures = store.failure_rows(flt)
        assert unordered(failures) == unordered(memory.failure_rows(flt)), flt
        keys2 = [(-r.count, r.result_type, r.domain) for r in failures]
        assert keys2 == sorted(keys2)
        assert store.result_types(flt) == memory.result_types(flt), flt
        assert store.daily(flt) == memory.daily(flt), flt
        assert store.result_type_daily(flt) == memory.result_type_daily(flt), flt
        assert list(store.result_types(flt).items()) == list(memory.result_types(flt).items())
        reports = store.report_rows(flt, limit=100_000)
        assert unordered(reports) == unordered(memory.report_rows(flt, limit=100_000)), flt
        keys3 = [(r.day, r.reporter) for r in reports]
        assert keys3 == sorted(keys3, reverse=True)
        assert len(store.report_rows(flt, limit=7)) == min(7, len(reports))
    assert [(e.source, e.error) for e in store.errors()] == [
        (e.source, e.error) for e in memory.errors()
    ]
    assert store.summary() == summary_document(archive)
    for row in memory.report_rows(Filter(), limit=5):
        assert store.report(row.key) == memory.report(row.key)


def reopen(paths: list[Path], **kwargs: Any) -> SqliteStore:
    return open_index(paths, limits=DEFAULT_LIMITS, **kwargs)


def counting_extract(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the files the index reads (in-process: small batches never use a pool)."""
    read: list[str] = []
    original = rows.extract_batch  # what the index calls, until patched below

    def spy(batch: list[tuple[str, str]], limits: Limits) -> list[rows.FileOut]:
        read.extend(display for _path, display in batch)
        return original(batch, limits)

    monkeypatch.setattr(rows, "extract_batch", spy)  # (extract_in_order)
    monkeypatch.setattr(writer, "extract_batch", spy)
    return read


# --------------------------------------------------------------------------- answers


def test_cold_index_answers_like_memory(archive: Path) -> None:
    store = reopen([archive], jobs=1)
    assert store.last_refresh.added == store.last_refresh.files > 700
    assert_same([archive], store)
    store.close()


def test_process_pool_build_matches(archive: Path) -> None:
    store = reopen([archive], jobs=2)
    assert_same([archive], store)
    store.close()


def test_signature_hash_collisions_still_give_the_same_answers(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every signature hashes alike: the cold build notices and numbers them one by one.
    monkeypatch.setattr(rows, "sig_hash", lambda *_: 42)
    monkeypatch.setattr(writer, "sig_hash", lambda *_: 42)
    store = reopen([archive], jobs=1)
    assert_same([archive], store)
    store.close()
    # (and a refresh adding signatures after that)
    extra = archive / "generated" / "late" / "late.json.gz"
    extra.parent.mkdir()
    report = json.loads(gzip.decompress(_report_files(archive / "generated")[0].read_bytes()))
    report["report-id"] = "late-one"
    report["policies"][0]["policy"]["mx-host"] = ["late.mx.example"]
    extra.write_bytes(gzip.compress(json.dumps(report).encode()))
    store = reopen([archive], jobs=1)
    assert_same([archive], store)
    store.close()


def test_several_roots_and_overlaps(archive: Path, tmp_path: Path, write: Any) -> None:
    other = tmp_path / "other"
    shutil.copytree(demo_archive() / "2026", other / "2026")  # same names as under demo/
    single = next((archive / "generated").rglob("*.json.gz"))
    paths = [archive / "demo", other, archive, single]
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()


def test_summary_with_and_without_index(archive: Path) -> None:
    expected = summary_document(load_archive([archive]))
    assert summarize_with_index([archive], jobs=1, use_cache=False) == expected
    assert summarize_with_index([archive], jobs=2, use_cache=True) == expected  # cold
    assert summarize_with_index([archive], jobs=2, use_cache=True) == expected  # warm
    (archive / "generated").joinpath("late.json").write_text("{}")
    assert summarize_with_index([archive], jobs=1) == summary_document(load_archive([archive]))


# --------------------------------------------------------------------------- changes


def _report_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if p.is_file())


def test_incremental_changes_match_a_fresh_read(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [archive]
    reopen(paths, jobs=1).close()
    read = counting_extract(monkeypatch)
    files = _report_files(archive / "generated")

    # Nothing changed: nothing is read.
    store = reopen(paths, jobs=1)
    assert read == [] and store.last_refresh.changes == 0
    store.close()

    # Added, changed in place (same name), deleted, duplicated.
    new = archive / "generated" / "2026" / "extra" / "copy-of-first.json.gz"
    new.parent.mkdir(parents=True)
    shutil.copy(files[0], new)  # a duplicate that sorts after the original
    report = json.loads(gzip.decompress(files[1].read_bytes()))
    report["policies"][0]["summary"]["total-failure-session-count"] += 1000
    files[1].write_bytes(gzip.compress(json.dumps(report).encode()))
    os.utime(files[1], ns=(1, 1))  # a new mtime even on a coarse clock
    files[2].unlink()
    store = reopen(paths, jobs=1)
    stats = store.last_refresh
    assert (stats.added, stats.changed, stats.removed) == (1, 1, 1)
    assert sorted(read) == sorted(
        [str(new.relative_to(archive)), str(files[1].relative_to(archive))]
    )
    assert_same(paths, store)
    store.close()

    # The first copy of a duplicated report goes: the other copy takes over.
    files[0].unlink()
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()

    # A copy that sorts before the one in the index becomes the first copy.
    early = archive / "generated" / "0000-early.json.gz"
    shutil.copy(new, early)
    other = archive / "demo" / "aaa-dup.json"
    other.write_bytes(gzip.decompress(files[3].read_bytes()))  # same report, earlier, plain
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    row = next(
        r
        for r in store.report_rows(Filter(), limit=10_000)
        if "0000-early.json.gz" in str(r.sources)
    )
    assert row.sources[0].endswith("0000-early.json.gz") and len(row.sources) == 2
    store.close()

    # Every file of a folder deleted; a file turned into garbage.
    shutil.rmtree(archive / "generated" / "2026" / "extra")
    files[4].write_bytes(b"\x1f\x8bnot really gzip")
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()


def test_apply_changes_for_the_watcher(archive: Path) -> None:
    paths = [archive]
    store = reopen(paths, jobs=1)
    files = _report_files(archive / "generated")
    report = json.loads(gzip.decompress(files[0].read_bytes()))
    report["report-id"] = "brand-new-report"
    added = archive / "generated" / "new" / "fresh.json.gz"
    added.parent.mkdir()
    added.write_bytes(gzip.compress(json.dumps(report).encode()))
    dup = archive / "generated" / "new" / "dup.json.gz"
    shutil.copy(files[5], dup)
    files[6].unlink()
    new = store.apply_changes([added, dup, files[6], archive / "elsewhere.json"])
    assert [r.report_id for r in new] == ["brand-new-report"]
    assert_same(paths, store)
    # A deleted folder, a hidden file and a file outside the archive change nothing else.
    shutil.rmtree(added.parent)
    (archive / "generated" / ".hidden.json").write_text("{}")
    assert store.apply_changes([added.parent, archive / "generated" / ".hidden.json"]) == []
    assert_same(paths, store)
    store.close()


def test_text_filters_answered_from_memory_agree(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once prepare_text_filter has run (the explorer does, once loaded), the detail
    panes under a text filter are summed in memory: every answer stays the same."""
    store = reopen([archive], jobs=1)
    store.prepare_text_filter(14)
    used: list[str] = []
    for name in ("_policy_rows_in_memory", "_failure_rows_in_memory"):
        original = getattr(store, name)

        def spy(*args: Any, _name: str = name, _original: Any = original) -> Any:
            used.append(_name)
            return _original(*args)

        monkeypatch.setattr(store, name, spy)
    assert_same([archive], store)
    assert {"_policy_rows_in_memory", "_failure_rows_in_memory"} <= set(used)
    store.close()


def test_a_text_filters_trend_from_memory_agrees_with_sql(archive: Path) -> None:
    """The explorer sums a text filter's trend window in memory, adding the signatures
    the text keeps or taking away those it drops: both agree with the SQL query."""
    store = reopen([archive], jobs=1)
    last = store.overview(Filter()).last_day
    assert last is not None
    branches = set()
    for text in (".", "e", "google", "mx1.", "tlsa", "zz-nothing"):
        flt = Filter(text=text)
        kept = len(store._matching(flt)) * 2 > len(store._signatures())
        branches.add(kept)
        for days in (3, 14, 400):
            since = last - timedelta(days=days - 1)
            for pivot in ("domain", "reporter"):
                in_memory = store._recent_grid(pivot, flt, since.toordinal())
                with_sql = store._compute_grid(pivot, flt.narrowed(since=since), None)
                assert in_memory == [tuple(row) for row in with_sql], (text, days, pivot)
    assert branches == {True, False}
    store.close()


# --------------------------------------------------------------------------- quick refresh


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders count as settled at once (not only seconds after they last changed)."""
    monkeypatch.setattr(refresh, "RECENT_NS", -(10**15))


def _folders(root: Path) -> int:
    return sum(1 for _ in os.walk(root))


def test_a_refresh_lists_only_folders_that_changed(archive: Path, settled: None) -> None:
    paths = [archive]
    first = reopen(paths, jobs=1)
    assert first.last_refresh.full and first.last_refresh.cold
    files = first.last_refresh.files
    first.close()

    store = reopen(paths, jobs=1)
    stats = store.last_refresh
    assert not stats.full and stats.folders_listed == 0
    assert (stats.changes, stats.files) == (0, files)
    store.close()

    generated = archive / "generated" / "2026" / "03"
    days = sorted(p for p in generated.iterdir() if p.is_dir())
    # A file added to one day, one deleted from another, a day deleted, a day renamed,
    # a new nested folder, and a link to a folder already in the archive.
    report = json.loads(gzip.decompress(_report_files(days[0])[0].read_bytes()))
    report["report-id"] = "added-to-an-old-folder"
    (days[0] / "zz-added.json.gz").write_bytes(gzip.compress(json.dumps(report).encode()))
    _report_files(days[1])[0].unlink()
    shutil.rmtree(days[2])
    days[3].rename(days[3].with_name("renamed"))
    nested = archive / "generated" / "2027" / "01" / "01"
    nested.mkdir(parents=True)
    shutil.copy(_report_files(days[4])[0], nested / "copy.json.gz")
    (archive / "generated" / "link").symlink_to(days[4], target_is_directory=True)

    store = reopen(paths, jobs=1)
    stats = store.last_refresh
    assert not stats.full
    # Changed: days[0], days[1], 2026/03 (day gone and renamed), generated (2027 and
    # link), and the new 2027, 2027/01, 2027/01/01 and renamed/ (link/ is days[4] again,
    # walked once).
    assert stats.folders_listed == 8, stats
    assert stats.added > 1 and stats.removed > 1
    assert stats.files == len(collect_files(paths)) == files + stats.added - stats.removed
    assert_same(paths, store)
    listed_before = stats
    store.close()

    store = reopen(paths, jobs=1)
    assert store.last_refresh.folders_listed == 0 and store.last_refresh.changes == 0
    assert store.last_refresh.files == listed_before.files
    assert_same(paths, store)
    store.close()

    # A link's target changes: the link is another folder now.
    (archive / "generated" / "link").unlink()
    (archive / "generated" / "link").symlink_to(days[5], target_is_directory=True)
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()


def test_a_quick_refresh_walks_folders_with_undecodable_names(archive: Path, settled: None) -> None:
    """Folder names are bytes on POSIX: one that is not UTF-8 is remembered and walked
    again like any other."""
    odd = os.fsdecode(b"caf\xe9-\xff")
    folder = archive / "generated" / odd / "inner"
    folder.mkdir(parents=True)
    source = _report_files(archive / "generated")[0]
    shutil.copy(source, folder / "first.json.gz")
    paths = [archive]
    reopen(paths, jobs=1).close()
    report = json.loads(gzip.decompress(source.read_bytes()))
    report["report-id"] = "in-an-odd-folder"
    (folder / "second.json.gz").write_bytes(gzip.compress(json.dumps(report).encode()))
    store = reopen(paths, jobs=1)
    stats = store.last_refresh
    assert not stats.full and stats.folders_listed == 1 and stats.added == 1
    assert_same(paths, store)
    store.close()


def test_a_report_rewritten_in_place_needs_a_full_check(
    archive: Path, settled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewriting a file in place leaves its folder's times alone: only a full check (or
    the explorer's watcher, while it runs) sees it."""
    paths = [archive]
    reopen(paths, jobs=1).close()
    target = _report_files(archive / "generated")[3]
    report = json.loads(gzip.decompress(target.read_bytes()))
    report["policies"][0]["summary"]["total-failure-session-count"] += 1000
    folder_times = os.stat(target.parent)
    target.write_bytes(gzip.compress(json.dumps(report).encode()))
    os.utime(target, ns=(1, 1))
    assert os.stat(target.parent).st_mtime_ns == folder_times.st_mtime_ns

    store = reopen(paths, jobs=1)
    assert store.last_refresh.changes == 0 and not store.last_refresh.full
    store.close()

    assert cli_main(["index", str(archive), "--full-check", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["changed"] == 1 and document["full-check"] is True
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()

    # summary takes the flag too.
    target.write_bytes(gzip.compress(json.dumps(report | {"report-id": "again"}).encode()))
    os.utime(target, ns=(2, 2))
    assert cli_main(["summary", str(archive), "--format", "json"]) == 0
    assert "again" not in capsys.readouterr().out  # (not looked at: same folder times)
    assert cli_main(["summary", str(archive), "--format", "json", "--full-check"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == summary_document(load_archive(paths))


def test_folders_that_just_changed_are_listed_again(archive: Path) -> None:
    """A folder changed moments ago may change again unseen within the same clock
    tick: its times are not trusted until they have settled."""
    paths = [archive]
    reopen(paths, jobs=1).close()
    store = reopen(paths, jobs=1)
    assert store.last_refresh.folders_listed == _folders(archive)
    store.close()


# --------------------------------------------------------------------------- robustness


def test_corrupt_index_is_rebuilt(archive: Path) -> None:
    paths = [archive / "demo"]
    reopen(paths, jobs=1).close()
    location = index_path(paths)
    location.write_bytes(b"this is not a database at all" * 1000)
    store = reopen(paths, jobs=1)
    assert store.last_refresh.rebuilt
    assert_same(paths, store)
    store.close()
    # Cut short (a full disk, a crash while copying the cache folder).
    data = location.read_bytes()
    location.write_bytes(data[: len(data) // 2])
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()
    # Damaged in a way only a query notices: the store says so and drops the file.
    with sqlite3.connect(location) as conn:
        conn.execute("UPDATE files SET key = x'41' WHERE id = (SELECT max(file) FROM reports)")
    store = reopen(paths, jobs=1, refresh=False)
    with pytest.raises(index_face.IndexDamaged):
        for row in store.report_rows(Filter(), limit=100_000):
            store.locate(row.key)
    store.close()
    assert not location.exists()
    store = reopen(paths, jobs=1)
    assert store.last_refresh.added == store.last_refresh.files
    store.close()


def test_old_version_or_other_limits_rebuild(archive: Path) -> None:
    paths = [archive / "demo"]
    reopen(paths, jobs=1).close()
    location = index_path(paths)
    with sqlite3.connect(location) as conn:
        conn.execute("PRAGMA user_version=999")
    store = reopen(paths, jobs=1)
    assert store.last_refresh.rebuilt and store.last_refresh.added > 0
    store.close()
    store = open_index(paths, limits=Limits(max_decompressed_bytes=1000), jobs=1)
    assert store.last_refresh.rebuilt
    expected = summary_document(load_archive(paths, limits=Limits(max_decompressed_bytes=1000)))
    assert store.summary() == expected
    store.close()


def test_deleting_the_index_loses_nothing(archive: Path) -> None:
    paths = [archive]
    reopen(paths, jobs=1).close()
    index_face.delete_index(index_path(paths))
    store = reopen(paths, jobs=1)
    assert store.last_refresh.added == store.last_refresh.files
    assert store.summary() == summary_document(load_archive(paths))
    store.close()


def _integrity(paths: list[Path]) -> str:
    with sqlite3.connect(index_path(paths)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def _children() -> list[int]:
    """This process's child processes (Linux), but multiprocessing's own long-lived
    helpers: an explorer test before this one in the same process (the alerts run in a
    child) leaves its forkserver and resource tracker, which are no build's workers."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            if (
                b"multiprocessing.forkserver" in cmdline
                or b"multiprocessing.resource_tracker" in cmdline
            ):
                continue
            found.append(int(entry))
    return found


def test_interrupted_build_keeps_a_consistent_index(archive: Path) -> None:
    paths = [archive]
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 200:
            cancel.set()

    # (children of earlier tests in this process, e.g. an explorer's alerts job, are
    # not this build's workers)
    before = set(_children())
    with pytest.raises(IndexCancelled):
        open_index(paths, jobs=2, progress=progress, cancel=cancel)
    assert set(_children()) - before == set()  # the workers were stopped, not left running
    assert _integrity(paths) == "ok"
    with sqlite3.connect(index_path(paths)) as conn:
        kept = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    assert 0 < kept < len(list(archive.rglob("*")))

    def interrupt(done: int, total: int) -> None:
        if done >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_index(paths, jobs=1, progress=interrupt)
    assert _integrity(paths) == "ok"
    store = reopen(paths, jobs=1)
    assert 0 < store.last_refresh.added < store.last_refresh.files
    assert_same(paths, store)
    store.close()


_WRITER = """
import sys
from pathlib import Path
from tlsrpt_tui.store.index import open_index, summarize_with_index
paths = [Path(p) for p in sys.argv[1:]]
for _ in range(3):
    summarize_with_index(paths, jobs=1)
    open_index(paths, jobs=1).close()
"""


def test_concurrent_writers_do_not_corrupt(archive: Path, cache: Path) -> None:
    paths = [archive]
    env = {**os.environ, "TLSRPT_TUI_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(archive)], env=env) for _ in range(3)
    ]
    files = _report_files(archive / "generated")
    for i, path in enumerate(files[:40]):  # change the archive while they run
        if i % 2:
            path.unlink()
        else:
            shutil.copy(path, path.with_name("copy-" + path.name))
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert _integrity(paths) == "ok"
    store = reopen(paths, jobs=1)
    assert_same(paths, store)
    store.close()


def test_index_command(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["index", str(archive / "demo"), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "471 files (471 new" in out
    assert cli_main(["index", str(archive / "demo"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["added"] == 0 and document["files"] == 471
    assert document["full-check"] is False  # (only folders whose times changed)
    assert cli_main(["index", str(archive / "demo"), "--rebuild", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert cli_main(["index", str(archive / "missing")]) == 2


# --------------------------------------------------------------------------- fast path


def _mutations(rng: random.Random) -> list[Callable[[dict[str, Any]], None]]:
    odd_values: list[Any] = [
        None, 0, -1, 2**60, 1.5, True, "", " ", "x" * 9000, [], {}, ["a", 1], "\ud800x",
        "MX: Mail.Example.COM.", '["a","b"]', "[1]", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z",
    ]  # fmt: skip

    def pick(obj: Any) -> tuple[Any, Any] | None:
        """A random (container, key) inside obj."""
        spots: list[tuple[Any, Any]] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    spots.append((node, key))
                    walk(value)
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    spots.append((node, index))
                    walk(value)

        walk(obj)
        return rng.choice(spots) if spots else None

    def set_odd(obj: dict[str, Any]) -> None:
        spot = pick(obj)
        if spot:
            spot[0][spot[1]] = copy.deepcopy(rng.choice(odd_values))

    def delete(obj: dict[str, Any]) -> None:
        spot = pick(obj)
        if spot and isinstance(spot[0], dict):
            del spot[0][spot[1]]

    def duplicate_block(obj: dict[str, Any]) -> None:
        if isinstance(obj.get("policies"), list) and obj["policies"]:
            obj["policies"].append(copy.deepcopy(rng.choice(obj["policies"])))

    def case(obj: dict[str, Any]) -> None:
        spot = pick(obj)
        if spot and isinstance(spot[0][spot[1]], str):
            spot[0][spot[1]] = " " + spot[0][spot[1]].upper() + ". "

    return [set_odd, delete, duplicate_block, case]


def _corpus_reports() -> list[dict[str, Any]]:
    reports = []
    for path in sorted(demo_archive().rglob("*")):
        if path.is_file():
            try:
                data = path.read_bytes()
                if data.startswith(b"\x1f\x8b"):
                    data = gzip.decompress(data)
                obj = json.loads(data)
            except (ValueError, OSError, EOFError):
                continue
            if isinstance(obj, dict):
                reports.append(obj)
    return reports


def test_fast_path_agrees_with_the_loader(tmp_path: Path) -> None:
    rng = random.Random(20260101)
    mutations = _mutations(rng)
    reports = _corpus_reports()
    assert len(reports) > 50
    fast = 0
    for index in range(1500):
        obj = copy.deepcopy(rng.choice(reports))
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            rng.choice(mutations)(obj)
        target = tmp_path / f"r{index % 10}.json{'.gz' if index % 2 else ''}"
        payload = json.dumps(obj if index % 7 else [obj, obj]).encode("utf-8", "surrogatepass")
        target.write_bytes(gzip.compress(payload) if index % 2 else payload)
        expected, _reports = rows.slow_file(str(target), target.name, DEFAULT_LIMITS)
        try:
            got = rows._fast_file(str(target), DEFAULT_LIMITS)
        except Exception:
            got = None
        if got is not None:
            fast += 1
            assert got == expected, obj
        assert rows.extract_file(str(target), target.name, DEFAULT_LIMITS) == expected
    assert fast > 500  # most reports take the fast path


# --------------------------------------------------------------------------- scanning


def test_scan_walks_like_collect_files(tmp_path: Path) -> None:
    from tlsrpt_tui.core.archive import collect_files
    from tlsrpt_tui.core.reading.walk import scan_roots

    root = tmp_path / "scan"
    for name in (
        "b.json", "a.json", ".hidden.json", "#draft.json", "partial.json.part", "x.TMP",
        "backup~", "sub/c.json", "sub/deeper/d.json", "Sub2/e.json", "z/.git/f.json",
        "box/cur/1", "box/new/2", "box/tmp/3", "notmaildir/tmp/4", "ünï.json",
    ):  # fmt: skip
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (root / os.fsdecode(b"bad\xffname.json")).write_text("{}")
    (root / "loop").symlink_to(root)  # a folder reached twice is walked once
    (root / "fifo").mkdir()
    os.mkfifo(root / "fifo" / "pipe.json")
    for roots in (
        [root],
        [root / "sub"],
        [root / "sub", root, root / "b.json"],
        [root / "b.json"],
        [Path(os.path.relpath(root))],
    ):
        scan = scan_roots(roots)
        expected = collect_files(roots)
        assert [scan.given(e) for e in scan.entries] == [str(p) for p, _ in expected]
        assert [scan.display(e) for e in scan.entries] == [shown for _, shown in expected]
        assert [scan.todo(e)[1] for e in scan.entries] == [shown for _, shown in expected]
        assert [scan.location(e) for e in scan.entries] == [os.path.abspath(p) for p, _ in expected]
        keys = [e[0] for e in scan.entries]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_queries_go_on_while_a_refresh_runs(archive: Path) -> None:
    paths = [archive]
    store = reopen(paths, jobs=1)
    before = store.overview(Filter())
    extra = archive / "generated" / "more"
    shutil.copytree(archive / "generated" / "2026", extra)  # duplicates: same reports
    (extra / "new.json").write_text(
        json.dumps(
            json.loads(gzip.decompress(_report_files(archive / "generated")[0].read_bytes()))
        ).replace('"report-id": "', '"report-id": "other-')
    )
    seen: list[Any] = []

    def progress(done: int, total: int) -> None:
        if done and not seen:  # the refresh is under way in another thread
            reader = threading.Thread(target=lambda: seen.append(store.overview(Filter())))
            reader.start()
            reader.join(timeout=10)
            assert not reader.is_alive(), "a query waited for the refresh"

    stats = store.refresh(progress=progress)
    assert seen and stats.added > 200
    assert store.overview(Filter()).reports == before.reports + 1
    assert_same(paths, store)
    store.close()
