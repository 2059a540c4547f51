"""One hostile report costs a bounded amount: failure-details are folded over 1,000 a policy.

The rows over the cap are folded into one counted row, so every total stays as sent;
the report is listed under ``folded`` in ``summary``'s JSON and in the bad-files screen,
and is not an error.
"""

from __future__ import annotations

import gc
import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from conftest import build_detail, build_policy, build_report
from textual.widgets import DataTable

from tlsrpt_tui.cli import main
from tlsrpt_tui.commands.summary import summary_document
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.model import FailureDetail, Source
from tlsrpt_tui.core.reading.loader import (
    FOLDED_RESULT_TYPE,
    MAX_DETAILS,
    fold_details,
    load_bytes,
)
from tlsrpt_tui.store.index import (
    delete_index,
    index_path,
    open_index,
    summarize_with_index,
    summarize_without_index,
)
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import Filter
from tlsrpt_tui.ui.app import ExplorerApp
from tlsrpt_tui.ui.screens.bad_files import BadFilesScreen

ROWS = 100_000


def hostile(rows: int = ROWS, *, result_types: tuple[str, ...] = ("validation-failure",)) -> Any:
    """One report, one policy, ``rows`` failure-details of one session each (distinct IPs)
    but for three big rows: 5,000 / 4,000 / 3,000 sessions."""
    details = [
        build_detail(
            result_types[i % len(result_types)],
            1,
            sending_mta_ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            receiving_mx_hostname="mx.hostile.example",
            additional_information="x" * 40,
        )
        for i in range(rows)
    ]
    details[rows // 2] = build_detail("certificate-expired", 5000, receiving_ip="192.0.2.1")
    details[rows // 3] = build_detail("certificate-expired", 4000, receiving_ip="192.0.2.2")
    details[-1] = build_detail("certificate-expired", 3000, receiving_ip="192.0.2.3")
    failed = sum(d["failed-session-count"] for d in details)
    return build_report(
        organization_name="Hostile Org",
        report_id="hostile-1",
        policies=[build_policy("hostile.example", "sts", 7, failed, details)],
    )


def expected_failed(rows: int = ROWS) -> int:
    return rows - 3 + 5000 + 4000 + 3000


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def hostile_bytes() -> bytes:
    return gzip.compress(json.dumps(hostile()).encode(), 1)


@pytest.fixture
def archive(tmp_path: Path, hostile_bytes: bytes) -> Path:
    root = tmp_path / "archive"
    root.mkdir()
    (root / "big.json.gz").write_bytes(hostile_bytes)
    detail = build_detail("sts-webpki-invalid", 2)
    ordinary = build_report(
        organization_name="Google LLC",
        report_id="ordinary",
        policies=[build_policy("hostile.example", "sts", 10, 2, [detail])],
    )
    (root / "ordinary.json").write_text(json.dumps(ordinary))
    return root


# --------------------------------------------------------------------------- the loader


def test_fold_keeps_the_largest_rows_in_order_and_counts_the_rest() -> None:
    details = [FailureDetail("a", n) for n in (1, 9, 2, 8, 3, 7)]
    kept, folded = fold_details(details, cap=3)
    assert folded == 3
    assert [(d.result_type, d.failed_session_count) for d in kept[:3]] == [
        ("a", 9),
        ("a", 8),
        ("a", 7),
    ]
    (rest,) = kept[3:]
    assert (rest.result_type, rest.failed_session_count) == ("a", 1 + 2 + 3)
    assert rest.additional_information is not None
    assert "3 more failure-details rows folded" in rest.additional_information
    assert sum(d.failed_session_count for d in kept) == sum(d.failed_session_count for d in details)


def test_fold_of_several_result_types_says_so() -> None:
    details = [FailureDetail("a", 5), FailureDetail("b", 1), FailureDetail("c", 1)]
    kept, folded = fold_details(details, cap=1)
    assert folded == 2
    assert (kept[-1].result_type, kept[-1].failed_session_count) == (FOLDED_RESULT_TYPE, 2)


def test_at_the_cap_nothing_is_folded() -> None:
    details = [FailureDetail("a", 1)] * MAX_DETAILS
    kept, folded = fold_details(details)
    assert (len(kept), folded) == (MAX_DETAILS, 0)


def test_loader_folds_a_hostile_report(hostile_bytes: bytes) -> None:
    result = load_bytes(hostile_bytes, Source("big.json.gz"))
    assert result.errors == []
    ((policy,),) = [r.policies for r in result.reports]
    assert len(policy.failure_details) == MAX_DETAILS + 1
    assert policy.folded_details == ROWS - MAX_DETAILS
    assert result.reports[0].folded_details == ROWS - MAX_DETAILS
    assert sum(d.failed_session_count for d in policy.failure_details) == expected_failed()
    big = [d.failed_session_count for d in policy.failure_details if d.failed_session_count > 1]
    assert big[:3] == [4000, 5000, 3000]  # kept as sent, in their order


def test_errors_of_many_bad_rows_are_capped() -> None:
    obj = build_report(
        policies=[build_policy(failed=1, failure_details=[{"x": i} for i in range(5000)])]
    )
    result = load_bytes(json.dumps(obj).encode(), Source("bad-rows.json"))
    assert len(result.errors) == 21
    assert "4,980 more rows dropped" in result.errors[-1].error
    assert result.reports  # the report itself stays


def test_one_hostile_report_costs_a_bounded_amount(archive: Path) -> None:
    """What the explorer keeps of the 100,000-row report (its Report and the store's
    units) stays small: a few MB, not the hundreds an unfolded report costs."""
    gc.collect()
    tracemalloc.start()
    try:
        store = MemoryStore(load_archive([archive]))
        gc.collect()
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.overview(Filter()).failed == expected_failed() + 2
    assert kept < 8 * 1024 * 1024, f"{kept / 2**20:.1f} MiB kept for one report"


# --------------------------------------------------------------------------- stores


def test_stores_hold_the_folded_rows_and_whole_totals(archive: Path) -> None:
    memory = MemoryStore(load_archive([archive]))
    index = open_index([archive], jobs=1)
    try:
        for store in (memory, index):
            assert store.overview(Filter()).failed == expected_failed() + 2
            assert store.overview(Filter()).bad_files == 0
            assert store.errors() == []
            rows = store.failure_rows(Filter(reporter="Hostile Org"))
            assert len(rows) == MAX_DETAILS + 1
            assert sum(r.count for r in rows) == expected_failed()
            assert store.result_types(Filter(reporter="Hostile Org")) == {
                "validation-failure": ROWS - 3,
                "certificate-expired": 12000,
            }
            (folded,) = store.folded()
            assert (folded.source.path, folded.reporter, folded.report_id, folded.rows) == (
                "big.json.gz",
                "Hostile Org",
                "hostile-1",
                ROWS - MAX_DETAILS,
            )
        (count,) = index.conn.execute("SELECT count(*) FROM failures").fetchone()
        assert count == MAX_DETAILS + 1 + 1
    finally:
        index.close()


def _check_summary(document: dict[str, Any]) -> None:
    assert document["errors"] == []
    assert document["folded"] == [
        {
            "path": "big.json.gz",
            "part": None,
            "reporter": "Hostile Org",
            "report-id": "hostile-1",
            "count": ROWS - MAX_DETAILS,
        }
    ]
    entry = document["domains"]["hostile.example"]
    assert entry["failed"] == expected_failed() + 2
    assert entry["result-types"] == {
        "certificate-expired": 12000,
        "sts-webpki-invalid": 2,
        "validation-failure": ROWS - 3,
    }


def test_summary_lists_folded_reports(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = summary_document(load_archive([archive]))
    _check_summary(document)
    assert summarize_without_index([archive]) == document
    assert summarize_with_index([archive]) == document  # cold
    assert summarize_with_index([archive]) == document  # warm (the kept summary)
    for extra in ([], ["--no-cache"]):
        assert main(["summary", "--jobs", "1", "--format", "json", str(archive), *extra]) == 0
        _check_summary(json.loads(capsys.readouterr().out))
    assert main(["summary", "--jobs", "1", "--format", "table", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "0 errors" in out
    assert f"big.json.gz: {ROWS - MAX_DETAILS:,} rows folded" in out


def test_no_folded_reports_is_an_empty_list(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "r.json").write_text(json.dumps(build_report()))
    assert summarize_with_index([root])["folded"] == []
    assert summary_document(load_archive([root]))["folded"] == []


@pytest.mark.parametrize("use_index", [False, True])
async def test_bad_files_screen_notes_folded_reports(archive: Path, use_index: bool) -> None:
    app = ExplorerApp([archive], watch=False, use_index=use_index)
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(300):
            if not app.loading:
                break
            await pilot.pause(0.1)
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BadFilesScreen)
        assert screen.errors == []
        assert [f.source.path for f in screen.folded] == ["big.json.gz"]
        table = screen.query_one(DataTable)
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[0] == "big.json.gz"
        assert f"{ROWS - MAX_DETAILS:,} failure-details rows" in cells[1]
        assert "not an error" in cells[1]
        assert screen.query_one("#bad-files-box").border_title == "Bad files (0)"


@pytest.mark.parametrize("jobs", [1, 2])
def test_index_keeps_folded_through_builds_refreshes_and_copies(
    archive: Path, jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tlsrpt_tui.store.parallel import pool

    monkeypatch.setattr(pool, "POOL_MIN_FILES", 1)  # jobs=2: the cold build's batches
    big = archive / "big.json.gz"
    data = big.read_bytes()
    big.unlink()
    store = open_index([archive], jobs=jobs)  # cold, without the big report
    assert store.folded() == []
    store.close()
    big.write_bytes(data)  # a refresh adds it, and a copy of it
    moved = archive / "later" / "big.json.gz"
    moved.parent.mkdir()
    moved.write_bytes(data)
    store = open_index([archive], jobs=jobs)
    assert [(f.source.path, f.rows) for f in store.folded()] == [
        ("big.json.gz", ROWS - MAX_DETAILS)
    ]
    assert store.summary()["folded"][0]["path"] == "big.json.gz"
    store.close()
    big.unlink()  # the copy under later/ becomes the report's file
    store = open_index([archive], jobs=jobs)
    assert [(f.source.path, f.rows) for f in store.folded()] == [
        ("later/big.json.gz", ROWS - MAX_DETAILS)
    ]
    assert store.overview(Filter()).failed == expected_failed() + 2
    store.close()
    moved.unlink()
    store = open_index([archive], jobs=jobs)
    assert store.folded() == []
    assert store.summary()["folded"] == []
    store.close()
    # And a cold build that finds it from the start, in a batch of its own.
    big.write_bytes(gzip.compress(json.dumps(hostile()).encode(), 1))
    delete_index(index_path([archive]))
    store = open_index([archive], jobs=jobs)
    assert [f.rows for f in store.folded()] == [ROWS - MAX_DETAILS]
    store.close()


# --------------------------------------------------------------------------- lists


@pytest.mark.parametrize("as_text", [False, True])
def test_policy_lists_are_capped_the_same_in_both_stores(tmp_path: Path, as_text: bool) -> None:
    """A policy of 50,000 mx-host entries and policy-string lines keeps the first 1,000
    of each (the same through the index's fast path and the loader)."""
    from tlsrpt_tui.core.reading.loader import MAX_POLICY_ITEMS

    lines = ["version: STSv1", "mode: enforce", *(f"mx: m{i}.example" for i in range(50_000))]
    pstring: Any = json.dumps(lines) if as_text else lines
    policy = build_policy(
        "lists.example",
        "sts",
        3,
        0,
        policy_string=pstring,
        mx_host=[f"m{i}.example" for i in range(50_000)],
    )
    root = tmp_path / "lists"
    root.mkdir()
    (root / "lists.json").write_text(json.dumps(build_report(policies=[policy])))
    result = load_bytes((root / "lists.json").read_bytes(), Source("lists.json"))
    ((kept,),) = [r.policies for r in result.reports]
    assert len(kept.mx_host) == len(kept.policy_string) == MAX_POLICY_ITEMS
    assert kept.sts_mode == "enforce"
    assert any("49,000 more items ignored" in w for w in result.reports[0].warnings)
    memory = MemoryStore(load_archive([root]))
    index = open_index([root], jobs=1)
    try:
        assert index.policy_rows(Filter()) == memory.policy_rows(Filter())
        (row,) = memory.policy_rows(Filter())
        assert len(row.mx_hosts) == MAX_POLICY_ITEMS
        for text in ("m999.example", "m1000.example", "enforce"):
            assert index.overview(Filter(text=text)) == memory.overview(Filter(text=text))
        assert memory.overview(Filter(text="m1000.example")).reports == 0
    finally:
        index.close()


def test_folded_reports_are_found_without_a_scan_of_every_unit(archive: Path) -> None:
    """After a refresh that changed something (when summary is summed again), the folded
    units are found through their partial index, not by reading every unit."""
    from tlsrpt_tui.store import summary

    open_index([archive], jobs=1).close()
    (archive / "late.json").write_text(json.dumps(build_report(report_id="late")))
    store = open_index([archive], jobs=1)
    try:
        plan = store.conn.execute("EXPLAIN QUERY PLAN " + summary._FOLDED_SQL).fetchall()
        assert any("units_folded" in str(row) for row in plan), plan
        assert [f.rows for f in store.folded()] == [ROWS - MAX_DETAILS]
        assert [f[4] for f in summary._folded(store.conn)] == [ROWS - MAX_DETAILS]
    finally:
        store.close()


# --------------------------------------------------------------------------- counts


def test_many_rows_at_the_largest_count_add_up_without_overflow(tmp_path: Path) -> None:
    """1,100 failure-details rows of the largest count the loader takes, in one policy
    and in two reports: every sum stays a 64-bit integer, in the index as in memory (the
    index build died of an OverflowError when the largest count was 2**53)."""
    from tlsrpt_tui.core.reading.loader import MAX_COUNT

    root = tmp_path / "big-counts"
    root.mkdir()
    for n in range(2):
        details = [
            build_detail("validation-failure", MAX_COUNT, sending_mta_ip=f"10.0.{i >> 8}.{i & 255}")
            for i in range(1100)
        ]
        obj = build_report(
            report_id=f"big-{n}",
            policies=[build_policy("big.example", "sts", MAX_COUNT, MAX_COUNT, details)],
        )
        (root / f"r{n}.json").write_text(json.dumps(obj))
    document = summary_document(load_archive([root]))
    entry = document["domains"]["big.example"]
    assert entry["failed"] == 2 * MAX_COUNT
    assert entry["result-types"] == {"validation-failure": 2 * 1100 * MAX_COUNT}
    assert summarize_without_index([root]) == document
    assert summarize_with_index([root]) == document
    store = open_index([root], jobs=1)
    try:
        assert store.result_types(Filter()) == {"validation-failure": 2 * 1100 * MAX_COUNT}
    finally:
        store.close()


def test_a_count_over_the_largest_is_an_error_naming_the_field(tmp_path: Path) -> None:
    from tlsrpt_tui.core.reading.loader import MAX_COUNT

    obj = build_report(policies=[build_policy(failed=MAX_COUNT + 1)])
    result = load_bytes(json.dumps(obj).encode(), Source("r.json"))
    assert result.reports == []
    (error,) = result.errors
    assert "total-failure-session-count: implausibly large" in error.error
