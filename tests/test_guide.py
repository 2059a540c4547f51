"""The guide (`g`): every entry of the catalogue, what the archive holds for each, and
the jump between the guide and the explorer's rows (Pilot)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tlsrpt_tui.core import guidance
from tlsrpt_tui.core.archive import Archive, collect_files
from tlsrpt_tui.core.model import RFC_RESULT_TYPES
from tlsrpt_tui.core.reading.loader import load_file
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import Filter
from tlsrpt_tui.ui.app import ExplorerApp
from tlsrpt_tui.ui.screens.guide import NOTHING, OTHER_GROUP, GuideScreen
from tlsrpt_tui.ui.widgets.overview import overview_text

SIZE = (120, 40)
WEIRD = "[red]weird[/]"


def report(
    org: str = "Google Inc.",
    domain: str = "example.com",
    day: int = 1,
    failed: int = 0,
    details: list[dict[str, Any]] | None = None,
    mode: str = "enforce",
) -> dict[str, Any]:
    return {
        "organization-name": org,
        "date-range": {
            "start-datetime": f"2026-11-{day:02d}T00:00:00Z",
            "end-datetime": f"2026-11-{day:02d}T23:59:59Z",
        },
        "contact-info": "tls@example.net",
        "report-id": f"{org}-{domain}-{day}",
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": [
                        "version: STSv1",
                        f"mode: {mode}",
                        f"mx: mx1.{domain}",
                        "max_age: 86400",
                    ],
                    "policy-domain": domain,
                    "mx-host": [f"mx1.{domain}"],
                },
                "summary": {
                    "total-successful-session-count": 100,
                    "total-failure-session-count": failed,
                },
                "failure-details": details or [],
            }
        ],
    }


def failure(result_type: str, mx: str, count: int, ip: str = "192.0.2.25") -> dict[str, Any]:
    return {
        "result-type": result_type,
        "sending-mta-ip": "198.51.100.7",
        "receiving-mx-hostname": mx,
        "receiving-ip": ip,
        "failed-session-count": count,
    }


def write_gz(path: Path, obj: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(obj).encode()))
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """certificate-expired on two domains, two reporters, two days (3 + 5 sessions);
    sts-policy-fetch-error on a third domain; one clean domain in testing mode."""
    root = tmp_path / "reports"
    expired_com = failure("certificate-expired", "mx2.example.com", 3)
    write_gz(root / "a.json.gz", report(failed=3, details=[expired_com]))
    expired_net = failure("certificate-expired", "mx.example.net", 5, ip="203.0.113.9")
    write_gz(
        root / "b.json.gz",
        report(
            org="Microsoft Corporation",
            domain="example.net",
            day=2,
            failed=5,
            details=[expired_net],
        ),
    )
    fetch = failure("sts-policy-fetch-error", "mx1.shop.example", 7)
    write_gz(
        root / "c.json.gz", report(org="Yahoo", domain="shop.example", failed=7, details=[fetch])
    )
    write_gz(root / "d.json.gz", report(org="Yahoo", domain="quiet.example", mode="testing"))
    return root


async def loaded(pilot: Any) -> ExplorerApp:
    app: ExplorerApp = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert not app.loading
    return app


async def open_guide(pilot: Any) -> GuideScreen:
    await pilot.press("g")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, GuideScreen)
    return screen


async def go_to(pilot: Any, screen: GuideScreen, key: str) -> None:
    """Walk the list with the keyboard (j/k) until ``key`` is on show."""
    keys = [item.key for item in screen.items.values()]
    assert screen.current is not None
    step = "j" if keys.index(key) > keys.index(screen.current.key) else "k"
    for _ in range(len(keys)):
        if screen.current.key == key:
            break
        await pilot.press(step)
        await pilot.pause()
    assert screen.current.key == key


def headings(screen: GuideScreen) -> list[str]:
    return [str(o.prompt) for o in screen.toc.options if o.disabled]


def prompt(screen: GuideScreen, key: str) -> str:
    for option_id, item in screen.items.items():
        if item.key == key:
            return str(screen.toc.get_option(option_id).prompt)
    raise AssertionError(key)


# --------------------------------------------------------------------------- the list


async def test_guide_lists_every_entry_grouped_in_rfc_order(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert "Guide" in [c.title for c in app.get_system_commands(app.screen)]
        screen = await open_guide(pilot)
        keys = [item.key for item in screen.items.values()]
        assert keys == ["getting-started", *(e.key for e in guidance.ALL_ENTRIES)]
        assert set(RFC_RESULT_TYPES) <= set(keys)
        assert headings(screen) == [name for name, _ in guidance.groups()]
        assert headings(screen)[:3] == [
            "Negotiation failures",
            "DANE policy failures",
            "MTA-STS policy failures",
        ]
        # Badges: failed sessions per result-type, only where the archive has some.
        assert prompt(screen, "certificate-expired").endswith("▲ 8")
        assert prompt(screen, "sts-policy-fetch-error").endswith("▲ 7")
        assert "▲" not in prompt(screen, "tlsa-invalid")
        # Headings cannot be highlighted: the cursor steps over them.
        screen.select("validation-failure")
        await pilot.press("down")
        await pilot.pause()
        assert screen.current is not None and screen.current.key == "tlsa-invalid"
        await pilot.press("k")
        await pilot.pause()
        assert screen.current.key == "validation-failure"
        # q closes; g from the explorer reopens on the same entry; g toggles back.
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, GuideScreen) and app.is_running
        assert app.guide_key == "validation-failure"
        screen = await open_guide(pilot)
        assert screen.current is not None and screen.current.key == "validation-failure"
        await pilot.press("g")
        await pilot.pause()
        assert not isinstance(app.screen, GuideScreen)


# --------------------------------------------------------------------------- an entry, and the jump


async def test_entry_archive_numbers_and_the_jump_there_and_back(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        screen = await open_guide(pilot)
        screen.select("certificate-not-trusted")
        await go_to(pilot, screen, "certificate-expired")  # k
        entry = guidance.entry_for("certificate-expired")
        text = screen.entry_plain
        for part in (entry.title, entry.rfc_section, entry.summary, *entry.causes, *entry.fix):
            assert part in text
        for heading in entry.labels:
            assert heading in text
        assert all(c.description in text for c in entry.confirm)
        assert all(f"{key}: {note}" in text for key, note in entry.related)
        # Commands are filled with the most affected domain, MX host and IP.
        assert "$ openssl s_client -connect mx.example.net:25" in text
        assert '"[203.0.113.9]:25"' in text
        # The archive section matches the store.
        rows = app.store.failure_rows(Filter(result_type="certificate-expired"))
        assert sum(r.count for r in rows) == 8
        facts = screen.archive_plain
        assert "In this archive" in facts
        assert re.search(r"Sessions affected +8\n", facts)
        assert "example.net (5), example.com (3)" in facts
        assert "mx.example.net (5), mx2.example.com (3)" in facts
        assert "Microsoft Corporation (5), Google Inc. (3)" in facts
        assert re.search(r"First seen +2026-11-01\n", facts)
        assert re.search(r"Last seen +2026-11-02\n", facts)
        assert "shop.example" not in facts

        # Enter: the explorer, narrowed to those rows.
        assert screen.check_action("show_rows", ()) is True
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, GuideScreen)
        assert app.base_filter == Filter(result_type="certificate-expired")
        assert app.focused is app.failures
        assert app.failures.rows_data
        assert {r.result_type for r in app.failures.rows_data} == {"certificate-expired"}
        assert {r.key for r in app.nav.rows_data} == {"example.com", "example.net"}
        overview = app.store.overview(app.base_filter)
        assert "result-type certificate-expired" in overview_text(overview, app.base_filter).plain
        app.nav.move_cursor(row=1)
        await pilot.pause()
        assert {r.result_type for r in app.failures.rows_data} == {"certificate-expired"}
        app.failures.focus()

        # ... and back: g reopens the guide on the same entry.
        screen = await open_guide(pilot)
        assert screen.current is not None and screen.current.key == "certificate-expired"

        # An entry without rows: Enter does not leave the guide, it moves to the text.
        screen.select("dane-required")
        assert NOTHING in screen.archive_plain
        assert screen.check_action("show_rows", ()) is None  # shown, disabled
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.body.has_focus
        await pilot.press("tab")
        assert screen.toc.has_focus
        # Policy types and modes count the sessions of matching policies.
        screen.select("testing")
        assert "quiet.example (100)" in screen.archive_plain
        assert "example.com" not in screen.archive_plain
        screen.select("tlsa")
        assert NOTHING in screen.archive_plain
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, GuideScreen)
        assert app.base_filter.result_type == "certificate-expired"  # unchanged

        # Escape out to the top level clears the narrowing.
        app.nav.focus()
        await pilot.press("escape")
        await pilot.pause()
        assert app.base_filter == Filter()
        assert {r.key for r in app.nav.rows_data} >= {"shop.example", "quiet.example"}


async def test_g_on_a_failure_and_the_policy_type_jump(archive: Path) -> None:
    app = ExplorerApp([archive], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.nav.move_cursor(row=[r.key for r in app.nav.rows_data].index("shop.example"))
        await pilot.pause()
        app.failures.focus()
        screen = await open_guide(pilot)
        assert screen.current is not None and screen.current.key == "sts-policy-fetch-error"
        assert "https://mta-sts.shop.example/.well-known/mta-sts.txt" in screen.entry_plain
        # A policy type: its policies, through the text filter.
        screen.select("sts")
        assert re.search(r"Sessions +415 \(400 ok, 15 failed, 3\.61%\)", screen.archive_plain)
        await pilot.press("enter")
        await pilot.pause()
        assert app.base_filter.text == "sts"
        assert app.query_one("#filter", Input).value == "sts"
        assert app.focused is app.policies
        assert {r.policy_type for r in app.policies.rows_data} == {"sts"}
        assert app.guide_key == "sts"


def test_the_text_filter_finds_policies_by_sts_mode(archive: Path) -> None:
    store = MemoryStore(Archive())
    for path, shown in collect_files([archive]):
        store.archive.add(load_file(path, display_path=shown), path)
    store.resync()
    assert [r.key for r in store.nav_rows("domain", Filter(text="testing"))] == ["quiet.example"]


# --------------------------------------------------------------------------- no reports


async def test_empty_archive_guide_is_still_complete(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        screen = await open_guide(pilot)
        assert screen.current is not None and screen.current.key == "getting-started"
        # Getting started: the record to publish, as a zone file line (no "$ ").
        text = screen.entry_plain
        assert "v=TLSRPTv1" in text
        assert '     _smtp._tls.<domain>. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@<domain>"' in text
        assert "$ _smtp._tls" not in text
        assert "$ dig +short TXT _smtp._tls.<domain>" in text
        assert NOTHING in screen.archive_plain
        keys = [item.key for item in screen.items.values()]
        assert keys == ["getting-started", *(e.key for e in guidance.ALL_ENTRIES)]
        assert OTHER_GROUP not in headings(screen)
        for item in list(screen.items.values()):
            screen.show(item)
            assert item.entry.meaning in screen.entry_plain
            assert NOTHING in screen.archive_plain
            assert screen.check_action("show_rows", ()) in (None, False)
        screen.select("certificate-host-mismatch")
        assert "<mx-host>:25" in screen.entry_plain  # placeholders stay readable
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen  # nothing to jump to
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, GuideScreen)
        assert app.base_filter == Filter()


# --------------------------------------------------------------------------- unknown types


async def test_unknown_result_type_is_literal_and_gets_the_generic_entry(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_gz(
        root / "w.json.gz",
        report(domain="odd.example", failed=2, details=[failure(WEIRD, "mx1.odd.example", 2)]),
    )
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # The explorer shows the value literally, with the generic guidance naming it.
        cell = app.failures.render_row(app.failures.rows_data[0])[0]
        assert cell.plain == WEIRD
        assert f'Unknown result-type "{WEIRD}"' in app.guidance.plain
        assert guidance.UNKNOWN.meaning in app.guidance.plain
        app.failures.focus()
        screen = await open_guide(pilot)
        # The guide lists it under its own heading, literally, and opens on it.
        assert headings(screen)[-1] == OTHER_GROUP
        assert prompt(screen, WEIRD).strip().startswith(WEIRD)
        assert screen.current is not None and screen.current.key == WEIRD
        assert f'Unknown result-type "{WEIRD}"' in screen.entry_plain
        assert re.search(r"Sessions affected +2\n", screen.archive_plain)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert WEIRD in svg
        # Its rows are one key away, like any other type.
        await pilot.press("enter")
        await pilot.pause()
        assert app.base_filter.result_type == WEIRD
        assert [r.result_type for r in app.failures.rows_data] == [WEIRD]


# --------------------------------------------------------------------------- reporter codes


def coded(result_type: str, code: str | None, info: str | None = None) -> dict[str, Any]:
    detail = failure(result_type, "mx1.coded.example", 3)
    if code is not None:
        detail["failure-reason-code"] = code
    if info is not None:
        detail["additional-information"] = info
    return detail


async def test_pane_opens_with_what_the_reporters_code_means(tmp_path: Path) -> None:
    root = tmp_path / "coded"
    detail = coded("sts-policy-fetch-error", "bad https response code: 404")
    write_gz(root / "a.json.gz", report("Mail.ru", "coded.example", 1, 3, [detail]))
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("enter", "enter")
        await pilot.pause()
        lines = app.guidance.plain.splitlines()
        assert lines[0] == "Reporter wrote (failure-reason-code): bad https response code: 404"
        assert lines[1].startswith(' "bad https response code" (Mail.ru): The policy fetch got')
        text = app.guidance.plain
        start = text.index("Start here: Fetch the policy of coded.example yourself first")
        assert text.index("bad https response code") < start < text.index("Likely causes")
        assert "curl -sv https://mta-sts.coded.example/.well-known/mta-sts.txt" in text


async def test_unknown_and_hostile_reporter_text_is_shown_literally(tmp_path: Path) -> None:
    root = tmp_path / "hostile"
    detail = coded("validation-failure", WEIRD, "\x1b[2Jgone")
    write_gz(root / "a.json.gz", report("Example", "coded.example", 1, 3, [detail]))
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("enter", "enter")
        await pilot.pause()
        text = app.guidance.plain
        assert f"Reporter wrote (failure-reason-code): {WEIRD}" in text
        assert "Reporter wrote (additional-information): \\x1b[2Jgone" in text
        assert "\x1b" not in text
        assert "Not in the catalogue of reporter codes" in text


async def test_a_merged_row_says_how_many_codes_instead_of_quoting_the_count(
    tmp_path: Path,
) -> None:
    root = tmp_path / "merged"
    details = [
        coded("sts-policy-fetch-error", "bad https response code: 404"),
        coded("sts-policy-fetch-error", "bad https response code: 500"),
    ]
    for detail, ip in zip(details, ("192.0.2.1", "192.0.2.2"), strict=True):
        detail["receiving-ip"] = ip
    write_gz(root / "a.json.gz", report("Mail.ru", "coded.example", 1, 6, details))
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("enter", "enter")
        await pilot.pause()
        text = app.guidance.plain
        assert app.failures.current is not None
        assert app.failures.current.failure_reason_code == "(2 codes)"
        assert "Reporters wrote 2 different failure-reason-codes here" in text
        assert "Reporter wrote (failure-reason-code): (2 codes)" not in text
        assert "Not in the catalogue" not in text
