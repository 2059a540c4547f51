"""The explorer, driven the way a person drives it (Pilot)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tlsrpt_tui.ui.app import ExplorerApp
from tlsrpt_tui.ui.screens.bad_files import BadFilesScreen
from tlsrpt_tui.ui.screens.report import ReportScreen


def report(
    org: str = "Google Inc.",
    domain: str = "example.com",
    day: int = 1,
    failed: int = 0,
    details: list[dict[str, Any]] | None = None,
    report_id: str | None = None,
) -> dict[str, Any]:
    return {
        "organization-name": org,
        "date-range": {
            "start-datetime": f"2026-11-{day:02d}T00:00:00Z",
            "end-datetime": f"2026-11-{day:02d}T23:59:59Z",
        },
        "contact-info": "tls@example.net",
        "report-id": report_id or f"{org}-{domain}-{day}",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": [
                        "version: STSv1",
                        "mode: enforce",
                        "mx: mx1.example.com",
                        "max_age: 86400",
                    ],
                    "policy-domain": domain,
                    "mx-host": ["mx1.example.com"],
                },
                "summary": {
                    "total-successful-session-count": 100,
                    "total-failure-session-count": failed,
                },
                "failure-details": details or [],
            }
        ],
    }


def write_gz(path: Path, obj: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(obj).encode()))
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    write_gz(
        root / "2026/11/01/a.json.gz",
        report(
            failed=3,
            details=[
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "198.51.100.7",
                    "receiving-mx-hostname": "mx2.example.com",
                    "receiving-ip": "192.0.2.25",
                    "failed-session-count": 3,
                }
            ],
        ),
    )
    write_gz(
        root / "2026/11/01/b.json.gz", report(org="Microsoft Corporation", domain="example.net")
    )
    write_gz(root / "2026/11/02/c.json.gz", report(org="Yahoo", domain="example.net", day=2))
    (root / "broken.json.gz").write_bytes(gzip.compress(b'{"organization-name": 1}')[:12])
    return root


async def loaded(pilot: Any) -> None:
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert not app.loading


async def test_journey_domain_to_guidance(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        # Worst domain first; its policies and failures follow the cursor.
        assert [r.key for r in app.nav.rows_data] == ["example.com", "example.net"]
        assert app.policies.rows_data[0].reporter == "Google Inc."
        await pilot.press("enter")
        assert app.focused is app.policies
        await pilot.press("enter")
        assert app.focused is app.failures
        assert app.drilled == ("example.com", "Google Inc.")
        row = app.failures.current
        assert row is not None and row.result_type == "certificate-expired"
        assert row.receiving_mx_hostname == "mx2.example.com" and row.count == 3
        await pilot.press("enter")
        assert app.focused is app.guidance
        body = app.guidance.plain
        assert "certificate-expired" in app.guidance.border_title
        # Commands come filled with the selected MX host.
        assert "mx2.example.com:25" in body
        # Escape walks back out.
        await pilot.press("escape", "escape", "escape")
        assert app.focused is app.nav
        assert app.drilled is None


async def test_filter_pivot_and_bad_files(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        assert app.focused is app.query_one("#filter", Input)
        await pilot.press(*"yahoo")
        await pilot.pause()
        assert [r.key for r in app.nav.rows_data] == ["example.net"]
        assert app.store.overview(app.base_filter).reports == 1
        await pilot.press("enter")  # keeps the filter, back to the panes
        await pilot.press("escape")  # at the top level: clears the filter
        await pilot.pause()
        assert app.base_filter.text == ""
        assert len(app.nav.rows_data) == 2
        await pilot.press("p")
        await pilot.pause()
        assert app.pivot == "reporter"
        assert {r.key for r in app.nav.rows_data} == {
            "Google Inc.",
            "Microsoft Corporation",
            "Yahoo",
        }
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BadFilesScreen)
        errors = app.screen.errors
        assert [e.source.path for e in errors] == ["broken.json.gz"]
        assert "truncated gzip" in errors[0].error
        await pilot.press("escape")
        assert not isinstance(app.screen, BadFilesScreen)


async def test_raw_report_view_shows_json_and_sources(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        assert len(screen.rows) == 1  # example.com has one report
        assert '"organization-name": "Google Inc."' in screen.current_json
        assert any("2026/11/01/a.json.gz" in s for s in screen.sources)
        await pilot.press("escape")


async def test_date_range_narrows(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("d")
        await pilot.pause()
        since = app.screen.query_one("#since", Input)
        since.value = "2026-11-02"
        await pilot.click("#apply")
        await pilot.pause()
        assert app.base_filter.since is not None
        assert [r.key for r in app.nav.rows_data] == ["example.net"]


HOSTILE = "[bold red]x[/] [@click=app.quit]click[/] [link=http://x]l[/link] \x1b[31mred\x07\r"


async def test_hostile_strings_are_shown_literally(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_gz(
        root / "evil.json.gz",
        report(
            org=HOSTILE,
            domain="evil.example",
            failed=1,
            details=[
                {
                    "result-type": "[red]boom[/]",
                    "receiving-mx-hostname": "mx.evil.example",
                    "additional-information": HOSTILE,
                    "failed-session-count": 1,
                }
            ],
        ),
    )
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("p")
        await pilot.pause()
        cell = app.nav.render_row(app.nav.rows_data[0])[0]
        assert cell.plain.startswith("[bold red]x[/] [@click=app.quit]click[/]")
        assert "\x1b" not in cell.plain
        info = app.failures.render_row(app.failures.rows_data[0])[-1].plain
        assert info.endswith("\\x1b[31mred\\x07\\x0d") and "\x1b" not in info
        svg = app.export_screenshot()
        assert "[bold red]x[/]" in svg.replace("&#160;", " ")
        assert "\x1b" not in svg and "\x07" not in svg
        # Clicking the literal text does nothing: the app keeps running.
        await pilot.click("#nav", offset=(20, 2))
        await pilot.pause()
        assert app.is_running
        failure = app.failures.render_row(app.failures.rows_data[0])
        assert failure[0].plain == "[red]boom[/]"
        # An unknown result-type gets the generic guidance, named literally.
        assert "[red]boom[/]" in app.guidance.plain


async def test_new_report_appears_while_watching(archive: Path) -> None:
    app = ExplorerApp([archive], watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.loading:
                break
        await pilot.pause(0.5)  # let the watcher start
        write_gz(
            archive / "2026/11/03/new.json.gz", report(org="Mail.ru", domain="shop.example", day=3)
        )
        # (up to 30 s each: on a loaded 2-core machine, a new folder's watch being set
        # up again took more than 10 s in one run)
        for _ in range(300):
            await pilot.pause(0.1)
            if any(r.key == "shop.example" for r in app.nav.rows_data):
                break
        assert any(r.key == "shop.example" for r in app.nav.rows_data)
        # A truncated file is bad at first, then fine once it is complete.
        target = archive / "2026/11/04/slow.json.gz"
        target.parent.mkdir(parents=True)
        blob = gzip.compress(json.dumps(report(org="Slow", domain="slow.example", day=4)).encode())
        target.write_bytes(blob[: len(blob) // 2])
        for _ in range(50):
            await pilot.pause(0.1)
            if any(e.source.path.endswith("slow.json.gz") for e in app.store.errors()):
                break
        target.write_bytes(blob)
        for _ in range(300):
            await pilot.pause(0.1)
            if any(r.key == "slow.example" for r in app.nav.rows_data):
                break
        assert any(r.key == "slow.example" for r in app.nav.rows_data)
        assert not any(e.source.path.endswith("slow.json.gz") for e in app.store.errors())
        # Deleting a file takes its report away.
        (archive / "2026/11/03/new.json.gz").unlink()
        for _ in range(100):
            await pilot.pause(0.1)
            if not any(r.key == "shop.example" for r in app.nav.rows_data):
                break
        assert not any(r.key == "shop.example" for r in app.nav.rows_data)


async def test_narrow_layout_stacks_and_opens_guidance_full_screen(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert app.screen.has_class("-narrow")
        assert not app.guidance.display or app.guidance.region.height == 0
        await pilot.press("enter", "enter", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "GuidanceScreen"


async def test_real_corpus_journey(corpus_dir: Path) -> None:
    app = ExplorerApp([corpus_dir], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        keys = [r.key for r in app.nav.rows_data]
        assert keys[0] == "example.com" and "krvtz.net" in keys
        # Select krvtz.net: Mail.ru's policy fetch failure with its reason.
        app.nav.move_cursor(row=keys.index("krvtz.net"))
        await pilot.pause()
        rows = app.failures.rows_data
        assert [r.result_type for r in rows] == ["sts-policy-fetch-error"]
        assert "mta-sts.krvtz.net" in (rows[0].failure_reason_code or "")
        body = app.guidance.plain
        assert "https://mta-sts.krvtz.net/.well-known/mta-sts.txt" in body
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReportScreen)
        assert app.screen.current_json


async def test_alerts_pane_drills_to_rows() -> None:
    from tlsrpt_tui.locations import demo_archive
    from tlsrpt_tui.ui.screens.alerts import AlertsScreen

    app = ExplorerApp([demo_archive()], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        rules = {a.rule for a in app.alerts}
        assert {"failure-rate", "silent-reporter"} <= rules
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        first = app.screen.alerts[0]
        assert first.rule == "failure-rate" and first.policy_domain == "example.com"
        await pilot.press("enter")
        await pilot.pause()
        assert app.base_filter.result_type == "certificate-expired"
        assert app.nav.current is not None and app.nav.current.key == "example.com"
        assert app.focused is app.failures
        assert {r.result_type for r in app.failures.rows_data} == {"certificate-expired"}


async def test_trends_and_explorer_keys_inert_on_other_screens(archive: Path) -> None:
    from tlsrpt_tui.ui.screens.trends import TrendRow, TrendsScreen

    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TrendsScreen)
        rows = list(app.screen.query(TrendRow))
        # sessions, failed, rate, and one row per result-type of example.com
        assert len(rows) == 4
        assert rows[1].values == [3.0]
        # Explorer keys do nothing here (and do not crash).
        await pilot.press("slash", "p", "r", "b")
        await pilot.pause()
        assert isinstance(app.screen, TrendsScreen)
        assert app.pivot == "domain"
        await pilot.press("escape")
        assert not isinstance(app.screen, TrendsScreen)


def test_quarantine_folder_is_not_scanned(tmp_path: Path) -> None:
    from tlsrpt_tui.core.archive import collect_files
    from tlsrpt_tui.ingest.report_dir import QUARANTINE_MARKER

    root = tmp_path / "reports"
    write_gz(root / "2026/11/01/good.json.gz", report())
    write_gz(root / "quarantine/2026/11/01/unsigned.json.gz", report(org="Forged"))
    (root / "quarantine" / QUARANTINE_MARKER).write_text("")
    assert [shown for _, shown in collect_files([root])] == ["2026/11/01/good.json.gz"]


async def test_burst_of_files_is_batched(tmp_path: Path) -> None:
    root = tmp_path / "burst"
    write_gz(root / "seed.json.gz", report())
    app = ExplorerApp([root], watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):  # (the watch worker never completes: poll instead)
            await pilot.pause(0.05)
            if not app.loading:
                break
        await pilot.pause(0.5)  # let the watcher start
        before = app.refreshes
        incoming = root / "2026" / "11" / "05"
        incoming.mkdir(parents=True)
        for i in range(300):
            blob = gzip.compress(
                json.dumps(report(org=f"Reporter {i % 7}", domain=f"d{i}.example", day=5)).encode()
            )
            (incoming / f"r{i}.json.gz").write_bytes(blob)
        for _ in range(150):
            await pilot.pause(0.1)
            if app.store.overview(app.base_filter).reports == 301:
                break
        assert app.store.overview(app.base_filter).reports == 301
        # A few watcher batches, not one refresh per file.
        assert app.refreshes - before <= 10


async def test_raw_view_shows_how_an_imported_report_arrived(tmp_path: Path) -> None:
    from tlsrpt_tui.cli import main
    from tlsrpt_tui.locations import demo_archive

    eml = next((demo_archive() / "mail").glob("*.eml"))
    out = tmp_path / "landed"
    status = main(["import", str(eml), "--dir", str(out), "--accept-unsigned"])
    assert status == 0
    app = ExplorerApp([out], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReportScreen)
        # Unsigned mail, kept because of --accept-unsigned: the verdict says so.
        assert any("DKIM none" in source for source in app.screen.sources), app.screen.sources
