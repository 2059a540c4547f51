"""Cold builds: the workers' common-shape shortcut gives exactly the general rows, and
an interrupted build keeps what it committed."""

from __future__ import annotations

import copy
import gzip
import json
import random
import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_index import _corpus_reports, _mutations, assert_same

from tlsrpt_tui.commands.summary import summary_document
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS
from tlsrpt_tui.demo.generator import generate_archive
from tlsrpt_tui.store.index import database, index_path, open_index, refresh, writer
from tlsrpt_tui.store.index import rows as rowmaker
from tlsrpt_tui.store.index.batch import batch_base, build_batch, expand_stage
from tlsrpt_tui.store.index.schema import BATCH_TABLES
from tlsrpt_tui.store.parallel import pool


def _payload(obj: Any, index: int) -> bytes:
    """The report in one of the forms files come in (some the shortcut leaves alone)."""
    text = json.dumps(obj if index % 7 else [obj, obj]).encode("utf-8", "surrogatepass")
    form = index % 6
    if form == 1:
        text = b" \n" + text + b"\n"  # surrounding whitespace
    elif form == 2:
        text = b"\xef\xbb\xbf" + text  # a byte order mark
    elif form == 3:
        text = text + b"\x0b"  # not JSON whitespace: the loader refuses it
    if index % 2:
        data = gzip.compress(text)
        if index % 5 == 0:
            half = len(text) // 2
            data = gzip.compress(text[:half]) + gzip.compress(text[half:])  # two members
        elif index % 5 == 1:
            data += b"\x00\x00"  # padding after the member
        elif index % 5 == 2:
            data = data[:-3]  # truncated
        return data
    return text


def _files(tmp_path: Path, count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    mutations = _mutations(rng)
    reports = _corpus_reports()
    batch = []
    for index in range(count):
        obj = copy.deepcopy(rng.choice(reports))
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            rng.choice(mutations)(obj)
        target = tmp_path / f"r{index:04d}.json{'.gz' if index % 2 else ''}"
        target.write_bytes(_payload(obj, index))
        batch.append((str(target), target.name))
    batch.append((str(tmp_path / "gone.json"), "gone.json"))
    return batch


def test_decoding_agrees_with_the_loader(tmp_path: Path) -> None:
    for path, display in _files(tmp_path, 300, 11)[:-1]:
        expected, _reports = rowmaker.slow_file(path, display, DEFAULT_LIMITS)
        try:
            got = rowmaker._fast_file(path, DEFAULT_LIMITS)
        except Exception:
            continue
        assert got == expected


def test_common_shape_rows_are_the_general_rows(tmp_path: Path) -> None:
    batch = _files(tmp_path, 600, 12)
    # Twice: the second time every per-worker memo is warm.
    for _ in range(2):
        general = rowmaker._rows_of(batch, DEFAULT_LIMITS, common=False)
        shortcut = rowmaker.extract_rows(batch, DEFAULT_LIMITS)
        assert general[8] == []  # (nothing is staged without the shortcut)
        reports, units, policies = rowmaker.staged_rows(shortcut)
        assert sorted([*shortcut[1], *reports]) == general[1]
        assert sorted([*shortcut[2], *units]) == general[2]
        assert sorted([*shortcut[3], *policies]) == general[3]
        assert shortcut[:1] + shortcut[4:8] == general[:1] + general[4:8]
        stats, *_rest, sums, _staged = shortcut
        assert sums == rowmaker.aggregate_rows(general[2], general[3])
        assert stats[-1] is None  # the file that is not there
    assert len(shortcut[8]) > 200  # most reports take the shortcut


def _tables(database: bytes, number: int) -> dict[str, list[tuple[Any, ...]]]:
    """The tables of a batch, with the rows its staged files stand for."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(database)
    staged = conn.execute("SELECT count(*) FROM stage").fetchone()[0]
    assert staged > 100  # (many files take the shortcut)
    expand_stage(conn, "main", "main", number)
    tables = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in BATCH_TABLES}
    conn.close()
    return tables


def test_a_batch_database_holds_the_general_rows(tmp_path: Path) -> None:
    work = [(path, display, display.encode()) for path, display in _files(tmp_path, 400, 13)]
    number, database, _meta = build_batch(work, DEFAULT_LIMITS, 3)
    assert number == 3
    tables = _tables(database, 3)
    general = rowmaker._rows_of([job[:2] for job in work], DEFAULT_LIMITS, common=False)
    stats, reports, units, policies, failures, errors, *_rest = general
    b = batch_base(3)
    assert tables["files"] == [
        (b + i, key, display, *stat)
        for i, ((_path, display, key), stat) in enumerate(zip(work, stats, strict=True))
        if stat is not None
    ]
    shift = {  # the columns holding ids, by table
        "reports": (0, 6, 9, 10, 11, 12, 13, 14),
        "units": (0, 1),
        "policies": (0, 1),
        "failures": (0, 1),
    }
    for table, rows in (
        ("reports", reports), ("units", units), ("policies", policies), ("failures", failures)
    ):  # fmt: skip
        expected = [
            tuple(v + b if i in shift[table] else v for i, v in enumerate(row)) for row in rows
        ]
        assert tables[table] == expected, table
    assert tables["errors"] == [(b + i, b + e[0], *e[1:]) for i, e in enumerate(errors)]
    assert len(tables["reports"]) > 200


def test_ctrl_c_while_writing_a_batch_keeps_the_batches_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    generate_archive(root, reports=300, domains=4, reporters=5, start=date(2026, 3, 1), seed=3)
    paths = [root]
    calls: list[int] = []
    add_batch = writer._Writer.add_batch
    copy_tables = writer.BATCH_TABLES

    class Interrupting(tuple[str, ...]):
        """The tables a batch copies: Ctrl-C comes after the third batch's first table."""

        def __iter__(self) -> Any:
            for number, table in enumerate(copy_tables):
                if len(calls) == 3 and number == 1:
                    raise KeyboardInterrupt  # written, but not committed yet
                yield table

    def interrupted(self: Any, out: Any) -> int:
        calls.append(writer.unpack_meta(out[2])[0])
        return add_batch(self, out)

    monkeypatch.setattr(writer._Writer, "add_batch", interrupted)
    monkeypatch.setattr(writer, "BATCH_TABLES", Interrupting(copy_tables))
    with pytest.raises(KeyboardInterrupt):
        open_index(paths, jobs=1)
    monkeypatch.setattr(writer._Writer, "add_batch", add_batch)
    monkeypatch.setattr(writer, "BATCH_TABLES", copy_tables)
    with sqlite3.connect(index_path(paths)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = conn.execute("SELECT count(*) FROM files").fetchone()[0]
        assert kept == calls[0] + calls[1]  # the third batch went
    store = open_index(paths, jobs=1)
    assert 0 < store.last_refresh.added < store.last_refresh.files
    assert store.summary() == summary_document(load_archive(paths))
    store.close()


def _assert_finished(paths: list[Path]) -> None:
    """A finished build leaves the index in WAL mode, with no 'building' mark."""
    with sqlite3.connect(index_path(paths)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT 1 FROM meta WHERE name='building'").fetchone() is None


def test_a_cold_build_that_died_is_started_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    generate_archive(root, reports=120, domains=3, reporters=4, start=date(2026, 3, 1), seed=5)
    paths = [root]
    open_index(paths, jobs=1).close()
    _assert_finished(paths)
    with sqlite3.connect(index_path(paths)) as conn:
        # What a build killed half way leaves (its journal was in memory): the mark,
        # and rows that may be anything.
        conn.execute("INSERT INTO meta VALUES ('building', '1')")
        conn.execute("DELETE FROM units WHERE id % 2 = 0")
    store = open_index(paths, jobs=1)
    assert store.last_refresh.rebuilt and store.last_refresh.cold
    assert store.summary() == summary_document(load_archive(paths))
    store.close()


def test_a_cold_build_while_another_connection_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty archive's index is open elsewhere (an explorer on an empty folder) when
    # reports arrive: the build cannot take the journal into memory, and goes on in WAL.
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    root.mkdir()
    paths = [root]
    reader = open_index(paths, jobs=1)
    assert reader.summary()["files"] == 0
    generate_archive(root, reports=60, domains=2, reporters=3, start=date(2026, 3, 1), seed=6)
    store = open_index(paths, jobs=1)
    assert store.last_refresh.cold and store.last_refresh.added == 60
    assert store.summary() == summary_document(load_archive(paths))
    store.close()
    reader.close()
    _assert_finished(paths)


def test_without_batch_databases_the_general_path_builds_the_same_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (A Python whose SQLite cannot serialize: every file goes through the general path,
    # here through the forked pool, whose workers send back each file's rows.)
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(refresh, "can_serialize", lambda: False)
    root = tmp_path / "archive"
    generate_archive(
        root, reports=pool.POOL_MIN_FILES + 150, domains=4, reporters=5,
        start=date(2026, 3, 1), seed=8,
    )  # fmt: skip
    paths = [root]
    pools: list[Any] = []
    fork_pool = pool.ForkPool

    def spy(*args: Any, **kwargs: Any) -> Any:
        pools.append(fork_pool(*args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(pool, "ForkPool", spy)
    store = open_index(paths, jobs=2)
    assert pools  # (the forked pool did the reading)
    assert store.last_refresh.cold and store.last_refresh.added == pool.POOL_MIN_FILES + 150
    assert store.summary() == summary_document(load_archive(paths))
    store.close()


def _spy_appends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each refresh added the way a cold build does (_append)."""
    appended: list[int] = []
    append = refresh._append

    def spy(conn: Any, writer: Any, todo: Any, *args: Any) -> None:
        appended.append(len(todo))
        append(conn, writer, todo, *args)

    monkeypatch.setattr(refresh, "_append", spy)
    return appended


def test_an_interrupted_cold_build_goes_on_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    generate_archive(root, reports=1_200, domains=5, reporters=6, start=date(2026, 3, 1), seed=11)
    paths = [root]
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 300:
            cancel.set()

    with pytest.raises(database.IndexCancelled):
        open_index(paths, jobs=2, progress=progress, cancel=cancel)
    appended = _spy_appends(monkeypatch)
    store = open_index(paths, jobs=2)
    assert appended and 0 < appended[0] < 1_200  # the rest, after what was kept
    assert store.last_refresh.added == appended[0]
    assert_same(paths, store)
    store.close()


def test_a_big_folder_added_at_the_end_goes_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    generate_archive(
        root / "a", reports=450, domains=4, reporters=5, start=date(2026, 3, 1), seed=12
    )
    paths = [root]
    open_index(paths, jobs=2).close()
    # A later folder: new reports, and copies of reports indexed already (which stay
    # copies: their first copy is the one indexed) and of new ones within the folder.
    generate_archive(
        root / "b", reports=450, domains=4, reporters=5, start=date(2026, 4, 1), seed=13
    )
    old = sorted((root / "a").rglob("*.json.gz"))[:40]
    new = sorted((root / "b").rglob("*.json.gz"))[:20]
    for index, source in enumerate(old + new):
        target = root / "c" / f"copy-{index:03d}.json.gz"
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(source.read_bytes())
    appended = _spy_appends(monkeypatch)
    store = open_index(paths, jobs=2)
    assert appended == [510]
    assert store.last_refresh.new_reports == 450
    assert store.summary()["duplicates"] == 60
    assert_same(paths, store)
    store.close()
