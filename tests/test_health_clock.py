"""Issue 14 item 6: the silence rules measure from the wall clock, less the delivery lag.

A folder whose reports stopped arriving must raise ``no-reports`` from cron (no
``--now``) and in the explorer's alerts; the rules over report contents keep measuring
from the newest report (they do not change with the hour); ``--now`` sets both; the
bundled demo keeps its documented "now".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from health_fixtures import (
    GOOGLE,
    LAST_DAY,
    NOW,
    SMALL,
    baseline,
    baseline_json,
    day,
    fail,
    offset_of_yesterday,
    policy_block,
    replace_report,
    report_json,
    simple,
    write_archive,
)

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.health import (
    Alert,
    HealthResult,
    Thresholds,
    evaluate,
    isoformat,
)
from tlsrpt_tui.core.model import Report
from tlsrpt_tui.store.health_job import documented_now

SILENCE_RULES = {"no-reports", "silent-reporter"}
DOMAINS = {"example.com", "example.net", "example.org"}
HOUR = timedelta(hours=1)


def rules(result: HealthResult, names: set[str] | None = None) -> list[tuple[str, str | None]]:
    return [(a.rule, a.policy_domain) for a in result.alerts if names is None or a.rule in names]


def content(alerts: tuple[Alert, ...]) -> list[Alert]:
    return [a for a in alerts if a.rule not in SILENCE_RULES]


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    monkeypatch.setenv("TLSRPT_TUI_CONFIG_DIR", str(directory))
    return directory


def check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *argv, "--jobs", "1", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------- evaluate


def test_silence_measures_from_the_clock_less_the_delivery_lag() -> None:
    # The last reports (day 0) sit at their midpoint, NOW - 12 h. From the clock, the
    # 48 h window ends 30 h before it, so the domains go silent when clock - 30 h - 48 h
    # reaches NOW - 12 h: at NOW + 66 h, and not a second earlier.
    reports = baseline(30)
    assert evaluate(reports, clock=NOW + 66 * HOUR - timedelta(seconds=1)).alerts == ()
    at = evaluate(reports, clock=NOW + 66 * HOUR)
    assert rules(at) == [("no-reports", d) for d in sorted(DOMAINS)]
    assert at.now == NOW  # the content rules' now is still the newest report
    assert at.silence_now == NOW + 36 * HOUR
    alert = at.alerts[0]
    assert alert.numbers["hours-silent"] == 66.0  # from the clock itself, not less the lag
    assert alert.numbers["delivery-lag-hours"] == 30
    assert alert.since == NOW
    assert alert.detail == (
        "last report ended 2026-07-01T00:00:00Z (66 h ago); no report in the 48 h up to "
        "2026-07-02T12:00:00Z (now less 30 h allowed for delivery)"
    )


def test_the_delivery_lag_is_a_setting() -> None:
    reports = baseline(30)
    no_lag = Thresholds(delivery_lag_hours=0)
    assert evaluate(reports, clock=NOW + 36 * HOUR - HOUR, thresholds=no_lag).alerts == ()
    assert len(evaluate(reports, clock=NOW + 36 * HOUR, thresholds=no_lag).alerts) == 3
    week = Thresholds(delivery_lag_hours=7 * 24)
    assert evaluate(reports, clock=NOW + 7 * 24 * HOUR, thresholds=week).alerts == ()


def test_a_week_old_archive_raises_no_reports_from_the_clock_only() -> None:
    reports = baseline(30)
    clock = NOW + timedelta(days=7, hours=6)
    assert evaluate(reports).alerts == ()  # measured from its newest report: all is well
    result = evaluate(reports, clock=clock)
    assert rules(result) == [("no-reports", d) for d in sorted(DOMAINS)]
    assert result.alerts[0].numbers["hours-silent"] == 7 * 24 + 6


def test_an_archive_silent_for_longer_than_the_lookback_still_raises_no_reports() -> None:
    # Every report stopped 90 days ago (a broken fetch): the lookback counts back from
    # the newest report, so the alert does not lapse after no_reports_lookback_days.
    reports = baseline(30)
    for clock in (NOW + timedelta(days=31), NOW + timedelta(days=90)):
        assert rules(evaluate(reports, clock=clock)) == [("no-reports", d) for d in sorted(DOMAINS)]
    # ...and so does an explicit now that far after the archive.
    assert len(evaluate(reports, now=NOW + timedelta(days=90)).alerts) == 3


def test_a_domain_gone_for_longer_than_the_lookback_stays_quiet_from_the_clock() -> None:
    # One domain stopped 40 days ago while the others go on: decommissioned, not silent.
    old = [simple(GOOGLE, day(-40 + i), "example.org", ok=10) for i in range(5)]
    reports = baseline(30, domains=("example.com",)) + old
    assert evaluate(reports, clock=NOW + 6 * HOUR).alerts == ()


def test_silent_reporter_from_the_clock() -> None:
    # The big reporters' last day (day 0) is still within the window two days later,
    # but the small reporter's (day -1) is not: it is silent by the clock, not by the
    # newest report.
    reports = baseline(30) + [simple(SMALL, day(o), ok=40) for o in (-4, -3, -2, -1)]
    assert evaluate(reports).alerts == ()
    result = evaluate(reports, clock=NOW + 48 * HOUR)
    (alert,) = result.alerts
    assert (alert.rule, alert.reporter, alert.policy_domain) == (
        "silent-reporter",
        SMALL,
        "example.com",
    )
    assert alert.since == datetime(2026, 6, 30, tzinfo=UTC)
    assert alert.numbers["hours-silent"] == 72.0
    assert alert.numbers["days-reporting"] == 4
    assert "now less 30 h allowed for delivery" in alert.detail


def test_reports_newer_than_the_silence_window_count_as_recent() -> None:
    # An hour after the archive's last day ends its reports lie after clock - 30 h:
    # they are a sign of life, not ignored.
    reports = baseline(30) + [simple(SMALL, day(o), ok=40) for o in (-4, -3, -2, -1, 0)]
    result = evaluate(reports, clock=NOW + HOUR)
    assert result.alerts == ()
    assert result.silence_now == NOW - 29 * HOUR


def _failing() -> list[Report]:
    reports = baseline(31)
    failing = simple(
        GOOGLE,
        LAST_DAY,
        ok=990,
        failures=[fail("certificate-expired", 10, "mx2.example.com")],
    )
    return replace_report(reports, failing)


def test_the_content_rules_do_not_change_with_the_hour() -> None:
    reports = _failing()
    expected = evaluate(reports).alerts
    assert [a.rule for a in expected] == ["new-result-type", "failure-rate", "failure-spike"]
    for hours in range(0, 72, 1):
        result = evaluate(reports, clock=NOW + hours * HOUR)
        assert result.now == NOW
        assert content(result.alerts) == list(expected), hours
    # A cron run before the last reports' day is over (clock earlier than them) too.
    assert content(evaluate(reports, clock=NOW - 5 * HOUR).alerts) == list(expected)


def test_an_explicit_now_sets_both_and_ignores_the_clock() -> None:
    reports = _failing()
    later = NOW + timedelta(days=3)
    for now in (NOW, NOW - timedelta(days=1), later):
        assert evaluate(reports, now=now, clock=NOW + timedelta(days=30)) == evaluate(
            reports, now=now
        )
    assert evaluate(reports, now=NOW, clock=NOW + timedelta(days=30)).silence_now is None
    # Measured from the explicit now itself: no lag.
    (alert, *_) = evaluate(baseline(10), now=later).alerts
    assert alert.rule == "no-reports" and alert.numbers["hours-silent"] == 72.0
    assert "delivery-lag-hours" not in alert.numbers


def test_an_empty_archive_from_the_clock() -> None:
    assert evaluate([], clock=NOW) == HealthResult(now=None, alerts=())


# --------------------------------------------------------------------------- check


def test_check_from_cron_a_week_old_folder_raises_no_reports(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday() - 7))
    before = datetime.now(UTC).replace(microsecond=0)
    code, doc = check_json(capsys, str(archive))
    after = datetime.now(UTC)
    assert code == 1
    assert [(a["rule"], a["policy-domain"]) for a in doc["alerts"]] == [
        ("no-reports", d) for d in sorted(DOMAINS)
    ]
    assert all(a["severity"] == "critical" for a in doc["alerts"])
    silence = datetime.fromisoformat(doc["silence-now"])
    assert before - 30 * HOUR <= silence <= after - 30 * HOUR
    newest = datetime.fromisoformat(doc["now"])
    assert timedelta(days=7) < after - newest < timedelta(days=9)
    assert main(["check", str(archive), "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "3 alerts: 3 critical"
    assert "now less 30 h allowed for delivery" in out


def test_check_from_cron_a_fresh_folder_is_clean_at_any_hour(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its last reports cover yesterday (UTC): within the lag whatever the hour.
    archive = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday()))
    assert main(["check", str(archive), "--jobs", "1"]) == 0
    assert capsys.readouterr().out == "no alerts\n"


def test_check_from_cron_a_folder_silent_for_months_raises_no_reports(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday() - 90))
    code, doc = check_json(capsys, str(archive))
    assert code == 1
    assert {a["rule"] for a in doc["alerts"]} == {"no-reports"}
    assert len(doc["alerts"]) == 3


def test_check_the_delivery_lag_comes_from_the_settings_file(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday() - 7))
    (config_dir / "settings.toml").write_text(
        "[thresholds]\ndelivery_lag_hours = 168\n", encoding="utf-8"
    )
    code, doc = check_json(capsys, str(archive))
    assert (code, doc["alerts"]) == (0, [])


def test_check_now_sets_both_rules_clocks(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs = baseline_json(31)
    objs = [
        o
        for o in objs
        if not (
            o["organization-name"] == GOOGLE
            and o["date-range"]["start-datetime"].startswith(LAST_DAY.isoformat())
            and o["policies"][0]["policy"]["policy-domain"] == "example.com"
        )
    ]
    objs.append(
        report_json(
            GOOGLE,
            LAST_DAY,
            [
                policy_block(
                    "example.com",
                    ok=990,
                    failures=[fail("certificate-expired", 10, "mx2.example.com")],
                )
            ],
        )
    )
    archive = write_archive(tmp_path / "r", objs)
    # Without --now (the archive is months old): the content alerts and no-reports.
    code, doc = check_json(capsys, str(archive))
    assert code == 1 and doc["now"] == isoformat(NOW)
    assert [a["rule"] for a in doc["alerts"]] == [
        "new-result-type",
        "failure-rate",
        "failure-spike",
        "no-reports",
        "no-reports",
        "no-reports",
    ]
    # --now at the archive's end: the same content alerts, nothing silent.
    code, at_end = check_json(capsys, str(archive), "--now", isoformat(NOW))
    assert code == 1
    assert at_end["now"] == at_end["silence-now"] == isoformat(NOW)
    assert at_end["alerts"] == doc["alerts"][:3]
    # --now three days later: silence measured from it (72 h, no lag), and the content
    # rules too (the failing day is no longer the last 24 h).
    later = NOW + timedelta(days=3)
    code, late = check_json(capsys, str(archive), "--now", isoformat(later))
    assert late["now"] == late["silence-now"] == isoformat(later)
    assert [a["rule"] for a in late["alerts"]] == ["no-reports"] * 3
    assert {a["numbers"]["hours-silent"] for a in late["alerts"]} == {72.0}


# --------------------------------------------------------------------------- the demo


def _demo_reports() -> tuple[Any, list[Report]]:
    from tlsrpt_tui import demo
    from tlsrpt_tui.core.archive import load_archive

    path = demo.demo_archive_path()
    if not path.is_dir() or not any(path.iterdir()):
        pytest.skip("the bundled demo archive has not been generated")
    return demo, list(load_archive([path]).reports.values())


def test_the_demo_documents_its_now_the_end_of_its_last_day() -> None:
    demo, reports = _demo_reports()
    assert max(r.end for r in reports) == demo.DEMO_NOW
    assert datetime(2026, 11, 28, tzinfo=UTC) == demo.DEMO_NOW
    path = demo.demo_archive_path()
    assert documented_now([path]) == demo.DEMO_NOW
    assert documented_now([path / "2026" / "11"]) == demo.DEMO_NOW
    assert documented_now([path, path / "mail"]) == demo.DEMO_NOW
    # Anything else, alone or beside the demo, goes by the wall clock.
    assert documented_now([path.parent]) is None
    assert documented_now([path, Path("/tmp")]) is None
    assert documented_now([]) is None


def test_check_demo_is_the_same_on_any_date(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo, reports = _demo_reports()
    code, doc = check_json(capsys, "--demo")
    assert code == 1
    assert doc["now"] == doc["silence-now"] == isoformat(demo.DEMO_NOW)
    expected = evaluate(reports, now=demo.DEMO_NOW).alerts
    assert doc["alerts"] == [a.to_dict() for a in expected]
    assert "no-reports" not in {a["rule"] for a in doc["alerts"]}
    assert {"failure-rate", "silent-reporter"} <= {a["rule"] for a in doc["alerts"]}
    # --now still wins over the demo's own.
    code, later = check_json(capsys, "--demo", "--now", "2026-12-10T00:00:00Z")
    assert "no-reports" in {a["rule"] for a in later["alerts"]}


# --------------------------------------------------------------------------- explorer


async def _alerts_shown(app: Any) -> list[tuple[str, str]]:
    """Open the alerts pane (`a`) and read its table: (rule, policy domain) per row."""
    from tlsrpt_tui.ui.screens.alerts import AlertsScreen

    table = app.screen.query_one("#alerts")
    assert isinstance(app.screen, AlertsScreen)
    return [
        (str(table.get_row_at(i)[1]), str(table.get_row_at(i)[2])) for i in range(table.row_count)
    ]


async def _wait(pilot: Any, condition: Any, tries: int = 300) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.1)
    return bool(condition())


@pytest.fixture
def no_lasting_children() -> Any:
    """Over the index the alerts come from a forkserver child, which (with its resource
    tracker) outlives the app: stopped afterwards, so that later tests in this process
    that count its children (test_index) do not find them."""
    yield
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    multiprocessing.forkserver._forkserver._stop()  # type: ignore[attr-defined]
    multiprocessing.resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
async def test_explorer_alerts_show_the_silence_of_an_old_folder(
    tmp_path: Path, use_index: bool, no_lasting_children: None
) -> None:
    from tlsrpt_tui.ui.app import ExplorerApp

    archive = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday() - 7))
    app = ExplorerApp([archive], watch=False, use_index=use_index)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await _wait(pilot, lambda: not app.loading and bool(app.alerts))
        assert [(a.rule, a.policy_domain) for a in app.alerts] == [
            ("no-reports", d) for d in sorted(DOMAINS)
        ]
        await pilot.press("a")
        await pilot.pause()
        assert await _alerts_shown(app) == [("no-reports", d) for d in sorted(DOMAINS)]


async def test_explorer_alerts_on_the_demo_stay_as_documented() -> None:
    from tlsrpt_tui.locations import demo_archive
    from tlsrpt_tui.ui.app import ExplorerApp

    demo, reports = _demo_reports()
    app = ExplorerApp([demo_archive()], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert await _wait(pilot, lambda: not app.loading and bool(app.alerts))
        assert app.alerts == list(evaluate(reports, now=demo.DEMO_NOW).alerts)
        assert "no-reports" not in {a.rule for a in app.alerts}


# --------------------------------------------------------------------------- other figures


def test_failure_spike_mean_leaves_out_days_without_any_report() -> None:
    # A domain whose reports began two days ago, with a steady 20 failures a day: the
    # days before it was reported are unknown, not days without failures (dividing by 7
    # made 20 look 7x a mean of 2.9).
    reports = baseline(10, domains=("example.com",), reporters=(GOOGLE,))
    steady = [simple(GOOGLE, day(-i), "example.org", ok=100, failed=20) for i in range(3)]
    result = evaluate(reports + steady)
    assert [a for a in result.alerts if a.rule == "failure-spike"] == []


def test_failure_spike_mean_over_a_fetch_gap_is_over_the_days_with_reports() -> None:
    # 10 failures a day, no report at all on days -5..-3 (a fetch gap): the mean is 10
    # over the 4 days with reports, so 25 is no spike, and 41 is, against that mean.
    def archive(today: int) -> list[Report]:
        kept = [d for d in range(1, 8) if d not in (3, 4, 5)]
        days = [simple(GOOGLE, day(-i), "example.org", ok=100, failed=10) for i in kept]
        return [*days, simple(GOOGLE, LAST_DAY, "example.org", ok=100, failed=today)]

    assert [a.rule for a in evaluate(archive(25)).alerts] == []
    (alert,) = evaluate(archive(41)).alerts
    assert alert.rule == "failure-spike"
    assert alert.numbers["daily-mean"] == 10.0
    assert alert.numbers["baseline-days"] == 4
    assert "daily mean of 10.0 over the 4 days with reports of the 7 before" in alert.detail


def test_failure_spike_quiet_days_with_reports_still_count_as_zero() -> None:
    # A report with no failures is data: 70 on one day of seven reported days is a mean
    # of 10 (as before).
    reports = baseline(10, domains=("example.org",), reporters=(GOOGLE,))
    reports = replace_report(reports, simple(GOOGLE, day(-4), "example.org", ok=100, failed=70))
    reports = replace_report(reports, simple(GOOGLE, LAST_DAY, "example.org", ok=100, failed=31))
    (alert,) = [a for a in evaluate(reports).alerts if a.rule == "failure-spike"]
    assert alert.numbers["daily-mean"] == 10.0 and alert.numbers["baseline-days"] == 7
    assert "over the 7 days before" in alert.detail


async def test_explorer_alerts_are_evaluated_again_as_the_clock_moves(tmp_path: Path) -> None:
    # Nothing changes in the folder, yet the alerts are looked at again (hourly; here
    # quicker): a lag setting changed meanwhile stands for hours passing.
    from tlsrpt_tui.settings import Settings
    from tlsrpt_tui.ui.app import ExplorerApp

    archive = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday() - 7))
    settings = Settings(thresholds=Thresholds(delivery_lag_hours=24 * 30))
    app = ExplorerApp([archive], watch=False, settings=settings)
    app.health_every = 0.3

    def idle() -> bool:
        return not app.loading and not any(
            w.group == "health" and not w.is_finished for w in app.workers
        )

    async with app.run_test(size=(120, 40)) as pilot:
        assert await _wait(pilot, idle)  # (the first evaluation is done)
        assert app.alerts == []
        app.settings.thresholds.delivery_lag_hours = 30
        assert await _wait(pilot, lambda: bool(app.alerts), tries=50)
        assert {a.rule for a in app.alerts} == {"no-reports"}


def test_new_result_type_says_over_how_many_days_of_reports() -> None:
    # A domain first reported three days ago: its result-type is new against three days
    # of reports, not "the 30 days before".
    history = [simple(GOOGLE, day(-i), "example.org", ok=100) for i in (3, 2, 1)]
    failing = simple(
        GOOGLE, LAST_DAY, "example.org", ok=90, failures=[fail("starttls-not-supported", 10)]
    )
    (alert,) = [a for a in evaluate([*history, failing]).alerts if a.rule == "new-result-type"]
    assert alert.numbers["days-with-reports"] == 3
    assert alert.detail.endswith("; none in the 3 days with reports of the 30 before")
    # With the whole lookback reported, as before.
    reports = replace_report(baseline(31, domains=("example.org",), reporters=(GOOGLE,)), failing)
    (alert,) = [a for a in evaluate(reports).alerts if a.rule == "new-result-type"]
    assert alert.numbers["days-with-reports"] == 30
    assert alert.detail.endswith("; none in the 30 days before")


def test_check_an_archive_without_any_report_is_not_clean(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty (or unmounted) folder, or one of unreadable files only: "no alerts" from
    # cron would say all is well.
    empty = tmp_path / "empty"
    empty.mkdir()
    code, doc = check_json(capsys, str(empty))
    assert code == 1
    assert doc["now"] is None
    (alert,) = doc["alerts"]
    assert (alert["rule"], alert["severity"], alert["policy-domain"]) == (
        "no-reports",
        "critical",
        None,
    )
    assert alert["detail"] == f"no reports at all in {empty} (0 files)"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.json").write_text("{not json", encoding="utf-8")
    (bad / "b.json.gz").write_bytes(b"\x1f\x8bnot gzip")
    assert main(["check", str(bad), "--jobs", "1", "--fail-on", "critical"]) == 1
    captured = capsys.readouterr()
    line, summary = captured.out.splitlines()
    assert line.startswith(
        f"CRITICAL no-reports      -: no reports at all in {bad} (2 files, 2 of which could "
        "not be read as reports) (since "
    )
    assert summary == "1 alert: 1 critical"
    assert "2 files could not be read as reports" in captured.err
