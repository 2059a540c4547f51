"""The health rules' one input through the queries interface: the rows and the alerts
from the in-memory store and from the index are the same (on the demo, on generated
archives, on an eventful crafted one), ``check`` through the index prints what it
prints over every file in memory, and the explorer's health job
(:mod:`tlsrpt_tui.store.health_job`) answers from the index's kept rows."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from health_fixtures import (
    GOOGLE,
    LAST_DAY,
    MAILRU,
    NOW,
    baseline_json,
    day,
    fail,
    policy_block,
    report_json,
    sts_policy_string,
    write_archive,
)

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.health import evaluate, isoformat
from tlsrpt_tui.core.health.alerts import Thresholds
from tlsrpt_tui.core.health.evaluate import evaluate_rows, first_day_read
from tlsrpt_tui.core.health.rows import HealthRow, health_rows
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS
from tlsrpt_tui.locations import demo_archive
from tlsrpt_tui.store import health_input
from tlsrpt_tui.store.health_job import alerts_of, recent_alerts
from tlsrpt_tui.store.index import open_index
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.parallel.pool import load_archive

THRESHOLDS = Thresholds()


def eventful_json() -> list[dict[str, Any]]:
    """40 days of two reporters over three domains, then on the last days: a reporter
    gone quiet for one domain, a domain nobody reports any more, new failures to an MX
    the policy does not name (beside a TLSA block of the same sessions), and two
    reporters disagreeing on a policy."""
    objs = [
        o
        for o in baseline_json(40)
        if not (
            o["organization-name"] == MAILRU
            and o["policies"][0]["policy"]["policy-domain"] == "example.org"
            and o["date-range"]["start-datetime"] >= day(-3).isoformat()
        )
        and not (
            o["organization-name"] == GOOGLE
            and o["date-range"]["start-datetime"].startswith(LAST_DAY.isoformat())
            and o["policies"][0]["policy"]["policy-domain"] in ("example.com", "example.net")
        )
    ]
    for offset in range(-39, -5):
        objs.append(report_json(GOOGLE, day(offset), [policy_block("example.io", ok=50)]))
    failures = [
        fail("certificate-expired", 40, "mx9.elsewhere.example"),
        fail("starttls-not-supported", 5, "mx1.example.com"),
    ]
    objs.append(
        report_json(
            GOOGLE,
            LAST_DAY,
            [
                policy_block("example.com", ok=900, failed=45, failures=failures),
                policy_block(
                    "example.com", ok=900, failed=45, failures=failures, policy_type="tlsa"
                ),
            ],
        )
    )
    objs.append(
        report_json(
            GOOGLE,
            LAST_DAY,
            [
                policy_block(
                    "example.net",
                    ok=300,
                    policy_string=sts_policy_string("testing", ["*.other.example"]),
                )
            ],
        )
    )
    return objs


@pytest.fixture
def eventful(tmp_path: Path) -> Path:
    root = write_archive(tmp_path / "reports", eventful_json())
    (root / "broken.json").write_text("{not json", encoding="utf-8")
    return root


def both_stores(root: Path) -> tuple[MemoryStore, Any]:
    memory = MemoryStore(load_archive([root], jobs=1))
    index = open_index([root], jobs=1)
    return memory, index


def moments() -> list[tuple[datetime | None, datetime | None]]:
    """(now, clock) pairs: from the newest report, from a clock, and back in time."""
    return [
        (None, None),
        (NOW, None),
        (None, NOW + timedelta(hours=40)),
        (None, NOW + timedelta(days=12)),
        (NOW - timedelta(days=9, hours=5), None),
    ]


def alert_dicts(alerts: Any) -> list[dict[str, Any]]:
    return [a.to_dict() for a in alerts]


def test_the_eventful_archive_raises_every_kind_of_alert(eventful: Path) -> None:
    """(So that the parity below compares alerts, not two empty lists.)"""
    reports = load_archive([eventful], jobs=1).reports.values()
    rules = {a.rule for a in evaluate(reports).alerts}
    assert {"new-result-type", "failure-rate", "silent-reporter", "mx-mismatch"} <= rules
    assert "no-reports" in {a.rule for a in evaluate(reports, now=NOW - timedelta(days=3)).alerts}


def test_rows_and_alerts_are_the_same_from_memory_and_the_index(eventful: Path) -> None:
    memory, index = both_stores(eventful)
    try:
        assert sorted(index.health_rows()) == sorted(memory.health_rows())
        since = day(-10)
        assert sorted(index.health_rows(since)) == sorted(memory.health_rows(since))
        assert all(row.day >= since for row in index.health_rows(since))
        every = list(load_archive([eventful], jobs=1).reports.values())
        for now, clock in moments():
            want = alert_dicts(evaluate(every, now=now, clock=clock).alerts)
            for store in (memory, index):
                got = alerts_of(store, thresholds=THRESHOLDS, now=now, clock=clock)
                assert alert_dicts(got) == want, (now, clock, type(store).__name__)
    finally:
        index.close()


def test_parity_on_the_demo_archive() -> None:
    from tlsrpt_tui.demo.generator import DEMO_NOW

    root = demo_archive()
    memory, index = both_stores(root)
    try:
        assert sorted(index.health_rows()) == sorted(memory.health_rows())
        every = list(load_archive([root], jobs=1).reports.values())
        for now, clock in [(DEMO_NOW, None), (None, DEMO_NOW + timedelta(days=3))]:
            want = alert_dicts(evaluate(every, now=now, clock=clock).alerts)
            assert want  # (the demo shows alerts)
            for store in (memory, index):
                assert (
                    alert_dicts(alerts_of(store, thresholds=THRESHOLDS, now=now, clock=clock))
                    == want
                )
    finally:
        index.close()


@pytest.mark.parametrize("seed", [1, 7])
def test_parity_on_generated_archives(tmp_path: Path, seed: int) -> None:
    from tlsrpt_tui.demo.generator import generate_archive

    root = tmp_path / f"gen{seed}"
    generate_archive(root, domains=6, reporters=5, days=45, seed=seed)
    memory, index = both_stores(root)
    try:
        rows = memory.health_rows()
        assert rows and sorted(index.health_rows()) == sorted(rows)
        every = list(load_archive([root], jobs=1).reports.values())
        newest = max(r.end for r in every)
        for now, clock in [
            (None, None),
            (newest - timedelta(days=20), None),
            (None, newest + timedelta(days=4)),
        ]:
            want = alert_dicts(evaluate(every, now=now, clock=clock).alerts)
            for store in (memory, index):
                got = alerts_of(store, thresholds=THRESHOLDS, now=now, clock=clock)
                assert alert_dicts(got) == want
    finally:
        index.close()


def test_rows_from_first_day_read_give_the_alerts_of_all_rows(eventful: Path) -> None:
    every = health_rows(load_archive([eventful], jobs=1).reports.values())
    newest = max(row.day for row in every)
    tight = Thresholds(
        new_result_type_lookback_days=5, spike_baseline_days=3, no_reports_lookback_days=4
    )
    for thresholds in (THRESHOLDS, tight):
        for now, clock in moments():
            since = first_day_read(newest, now=now, clock=clock, thresholds=thresholds)
            some = [row for row in every if row.day >= since]
            assert len(some) < len(every) or thresholds is THRESHOLDS
            want = evaluate_rows(every, now=now, clock=clock, thresholds=thresholds)
            got = evaluate_rows(some, now=now, clock=clock, thresholds=thresholds)
            assert got == want, (now, clock, thresholds)


def test_a_row_survives_the_index_cache() -> None:
    row = HealthRow(
        "Rep \u202e\n",
        "example.com",
        1.5,
        86400.25,
        LAST_DAY,
        3,
        4,
        ("enforce", "tlsa"),
        ("*.example.com",),
        (("mode: enforce", "mx: a"),),
        (("x", 4),),
        (("x", None, 3), ("x", "h", 1)),
    )
    assert HealthRow.from_json(json.loads(json.dumps(row.to_json()))) == row


# --------------------------------------------------------------------------- check


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["check", *args, "--jobs", "1"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_check_through_the_index_prints_what_every_file_in_memory_gives(
    eventful: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # (With --now: without it the silence rules measure from the clock, to the second.)
    for extra in (["--now", isoformat(NOW)], ["--format", "json", "--now", isoformat(NOW)]):
        memory = run_check(capsys, str(eventful), "--no-cache", *extra)
        cold = run_check(capsys, str(eventful), *extra)
        warm = run_check(capsys, str(eventful), *extra)
        assert memory[0] == 1 and "1 files could not be read as reports" in memory[2]
        assert cold == memory and warm == memory


def test_check_no_cache_leaves_the_index_alone(
    eventful: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tlsrpt_tui.store.index import index_path

    assert run_check(capsys, str(eventful), "--no-cache")[0] == 1
    assert not index_path([eventful]).exists()


def test_check_of_an_empty_folder_through_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    status, out, _ = run_check(capsys, str(tmp_path / "empty"), "--format", "json")
    assert status == 1
    (alert,) = json.loads(out)["alerts"]
    assert alert["rule"] == "no-reports" and alert["policy-domain"] is None
    assert alert["numbers"] == {"files": 0, "bad-files": 0}


def test_a_warm_check_reads_the_kept_rows_and_a_change_drops_them(
    eventful: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_check(capsys, str(eventful))
    store = open_index([eventful], refresh=False)
    try:
        names = [n for (n,) in store.conn.execute("SELECT name FROM cache")]
        assert any(n.startswith(health_input.CACHE_NAME) for n in names)
    finally:
        store.close()
    # A new report with a new failure: the index changes, the kept rows go, and the
    # alert shows.
    late = report_json(
        MAILRU,
        LAST_DAY,
        [
            policy_block(
                "example.org",
                ok=10,
                failed=30,
                failures=[fail("dane-required", 30, "mail.example.org")],
            )
        ],
        report_id="late",
    )
    write_archive(eventful / "late", [late])
    _status, out, _ = run_check(capsys, str(eventful), "--format", "json", "--now", isoformat(NOW))
    rules = {(a["rule"], a["result-type"]) for a in json.loads(out)["alerts"]}
    assert ("new-result-type", "dane-required") in rules


# --------------------------------------------------------------------------- the health job


def test_the_health_job_gives_the_alerts_of_every_report(eventful: Path) -> None:
    open_index([eventful], jobs=1).close()
    every = list(load_archive([eventful], jobs=1).reports.values())
    got = recent_alerts([eventful], DEFAULT_LIMITS, THRESHOLDS, NOW)
    assert alert_dicts(got) == alert_dicts(evaluate(every, now=NOW).alerts)
    assert got


def test_the_health_job_answers_from_the_kept_rows_without_reading_a_file(eventful: Path) -> None:
    """Before the rows were kept, every run of the job read every recent report's file
    again (seconds for a large archive, every hour and at each change)."""
    open_index([eventful], jobs=1).close()
    first = recent_alerts([eventful], DEFAULT_LIMITS, THRESHOLDS, NOW)
    for path in eventful.glob("*.json"):
        path.unlink()  # (the test's own files; the index is not refreshed by the job)
    assert recent_alerts([eventful], DEFAULT_LIMITS, THRESHOLDS, NOW) == first


def test_the_health_job_of_an_empty_archive(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    assert recent_alerts([tmp_path / "none"], DEFAULT_LIMITS, THRESHOLDS) == []


def test_the_health_job_measures_silence_from_the_clock(eventful: Path) -> None:
    """Without ``now`` the silence rules measure from the wall clock: long after the
    archive's last report every domain has gone quiet."""
    open_index([eventful], jobs=1).close()
    alerts = recent_alerts([eventful], DEFAULT_LIMITS, THRESHOLDS)
    quiet = {a.policy_domain for a in alerts if a.rule == "no-reports"}
    assert {"example.com", "example.net", "example.org"} <= quiet
    assert all(a.numbers.get("delivery-lag-hours") == 30 for a in alerts if a.rule == "no-reports")


def test_rows_made_from_a_stale_snapshot_are_not_kept(eventful: Path) -> None:
    """Another process changes the index while the rows are being made: they are
    returned but not kept (SQLite refuses the write of a stale snapshot), so a later
    reader does not take old rows for the index's."""
    store = open_index([eventful], jobs=1)
    try:
        conn = store.conn
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM reports").fetchone()  # (the snapshot starts)
        other = sqlite3.connect(store.path, isolation_level=None)
        other.execute("INSERT INTO meta VALUES ('someone-else', 'was here')")
        other.close()
        rows = health_input.health_rows(conn, store.roots, store.limits, None)
        conn.execute("COMMIT")
        assert rows
        kept = conn.execute("SELECT count(*) FROM cache WHERE name LIKE 'health-rows%'").fetchone()[
            0
        ]
        assert kept == 0
        health_input.health_rows(conn, store.roots, store.limits, None)
        kept = conn.execute("SELECT count(*) FROM cache WHERE name LIKE 'health-rows%'").fetchone()[
            0
        ]
        assert kept == 1
    finally:
        store.close()


def test_memory_rows_follow_the_counting_rule(eventful: Path) -> None:
    """The rows' one pass over the blocks gives what the aggregate functions give."""
    from tlsrpt_tui.core.facts import domain_counts, facts_of, result_type_counts

    for report in load_archive([eventful], jobs=1).reports.values():
        rows = {row.domain: row for row in health_rows([report])}
        assert {d: (r.successful, r.failed) for d, r in rows.items()} == domain_counts(report)
        types = {(d, rt): n for d, r in rows.items() for rt, n in r.result_types}
        assert types == {k: n for k, n in result_type_counts(report).items() if n > 0}
        per_host: dict[tuple[str, str, str | None], int] = {}
        for f in facts_of(report).failures:
            if f.count > 0:
                k = (f.domain, f.result_type, f.receiving_mx_hostname)
                per_host[k] = per_host.get(k, 0) + f.count
        assert {(d, rt, h): n for d, r in rows.items() for rt, h, n in r.failures} == per_host


_ = UTC


def test_a_report_without_policies_still_marks_now(tmp_path: Path) -> None:
    """The loader keeps a report that lists no policy (with a note). No rule reads it,
    but its end is the archive's newest as before the rows: *now*, and so the windows,
    do not move back a day because the newest report happens to be empty."""
    objs = baseline_json(10)
    objs.append(report_json(MAILRU, day(1), [], report_id="empty"))
    root = write_archive(tmp_path / "reports", objs)
    every = list(load_archive([root], jobs=1).reports.values())
    empty = next(r for r in every if not r.policies)
    result = evaluate(every)
    assert result.now == empty.end
    memory, index = both_stores(root)
    try:
        assert sorted(index.health_rows()) == sorted(memory.health_rows())
        for store in (memory, index):
            got = evaluate_rows(store.health_rows())
            assert got == result
    finally:
        index.close()


def test_the_index_keeps_the_rows_of_one_first_day_only(eventful: Path) -> None:
    store = open_index([eventful], jobs=1)
    try:
        for since in (day(-5), day(-9), None):
            health_input.health_rows(store.conn, store.roots, store.limits, since)
            names = [n for (n,) in store.conn.execute("SELECT name FROM cache")]
            assert [n for n in names if n.startswith("health-rows")] == [
                health_input.cache_name(since)
            ]
    finally:
        store.close()


def test_alerts_do_not_depend_on_the_order_a_store_gives_its_reports(eventful: Path) -> None:
    """The index numbers a report added later after the others, the in-memory store
    puts it where its file sorts: the alerts are the same. (The mx-mismatch detail
    named the patterns of whichever sighting came first in the store's order.)"""
    open_index([eventful], jobs=1).close()
    late = report_json(
        MAILRU,
        LAST_DAY,
        [
            policy_block(
                "example.com",
                ok=500,
                failed=7,
                failures=[fail("certificate-expired", 7, "mx9.elsewhere.example")],
                mx=["mx3.example.com"],
            )
        ],
        report_id="late-mailru",
    )
    (eventful / "0-first-in-the-walk.json").write_text(json.dumps(late), encoding="utf-8")
    memory, index = both_stores(eventful)
    try:
        want = alerts_of(memory, thresholds=THRESHOLDS, now=NOW)
        (mismatch,) = [
            a for a in want if a.rule == "mx-mismatch" and a.mx_host == "mx9.elsewhere.example"
        ]
        assert "mx1.example.com" in mismatch.detail and "mx3.example.com" in mismatch.detail
        assert alert_dicts(alerts_of(index, thresholds=THRESHOLDS, now=NOW)) == alert_dicts(want)
    finally:
        index.close()


def test_check_without_a_usable_index_says_so_and_reads_every_file(
    eventful: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The index is only a cache (as for ``summary``): a cache folder that cannot be
    made gives the same answer over every file, with one line saying why."""
    want = run_check(capsys, str(eventful), "--no-cache", "--now", isoformat(NOW))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(blocker / "cache"))
    status, out, err = run_check(capsys, str(eventful), "--now", isoformat(NOW))
    assert (status, out) == want[:2]
    assert err.startswith("tlsrpt-tui: index not used (") and "Not a directory" in err


def test_an_explicit_now_reads_no_rows_of_the_days_after_it(eventful: Path) -> None:
    """``check --now`` back in time: the reports after it only say that reports went
    on, so the rows stop two days after it, and the alerts are those of every row."""
    from tlsrpt_tui.core.health.evaluate import last_day_read

    every = list(load_archive([eventful], jobs=1).reports.values())
    memory, index = both_stores(eventful)
    try:
        seen = 0
        for now in (NOW - timedelta(days=20), NOW - timedelta(days=3, hours=7)):
            until = last_day_read(now)
            assert until is not None
            assert all(row.day <= until for row in index.health_rows(None, until))
            assert sorted(index.health_rows(None, until)) == sorted(memory.health_rows(None, until))
            want = alert_dicts(evaluate(every, now=now).alerts)
            seen += len(want)
            for store in (memory, index):
                assert alert_dicts(alerts_of(store, thresholds=THRESHOLDS, now=now)) == want
        assert seen  # (alerts compared, not only empty lists)
    finally:
        index.close()
