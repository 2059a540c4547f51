"""Issue 14: what the explorer shows can be trusted (no crash, no wrong figure, nothing
dropped without a word), driven the way a person drives it (Pilot)."""

from __future__ import annotations

import gzip
import html
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import corpus_file
from test_app import loaded, report, write_gz

from tlsrpt_tui.locations import cache_dir
from tlsrpt_tui.ui.app import ExplorerApp

POSTFIX_NO_DOMAIN = (
    "issue-sys4-tlsrpt-reporter-51_postfix-no-policy-found-without-policy-domain.json"
)


def failing(mx: str, *, domain: str = "example.com", org: str = "Google Inc.") -> dict[str, Any]:
    return report(
        org=org,
        domain=domain,
        failed=5,
        details=[
            {
                "result-type": "starttls-not-supported",
                "sending-mta-ip": "198.51.100.7",
                "receiving-mx-hostname": mx,
                "receiving-ip": "192.0.2.25",
                "failed-session-count": 5,
            }
        ],
    )


# --------------------------------------------------------------------------- item 1


#: MX names the probe refuses, each in the first (worst) row of the archive.
REFUSED_MX = [
    "mail",
    "mx1;reboot.example.com",
    "mx 1.example.com",
    "[mx1].example.com",
    "mx1\x1b[31m.example.com",
    "mx1\u202eelpmaxe.com",
]


@pytest.mark.parametrize("mx", REFUSED_MX, ids=repr)
async def test_a_row_the_probe_refuses_says_so_instead_of_crashing(tmp_path: Path, mx: str) -> None:
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", failing(mx))
    write_gz(root / "b.json.gz", report(org="Yahoo", domain="example.net"))
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.is_running
        assert app.failures.current is not None
        assert "This row cannot be probed: MX host" in app.guidance.plain
        assert "\x1b" not in app.guidance.plain and "\u202e" not in app.guidance.plain
        # `x` says the same and runs nothing.
        app.failures.focus()
        await pilot.press("x")
        await pilot.pause()
        assert app.is_running
        assert "This row cannot be probed" in app.guidance.plain
        assert "running: DNS" not in app.guidance.plain
    assert app.return_code in (None, 0) and app.crash_log is None


async def test_a_failure_without_policy_domain_cannot_be_probed(tmp_path: Path) -> None:
    """As Postfix's tlsrpt-reporter writes it (no policy-domain): shown as (unknown)."""
    obj = failing("mx1.example.com")
    del obj["policies"][0]["policy"]["policy-domain"]
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", obj)
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.is_running
        assert [r.key for r in app.nav.rows_data] == ["(unknown)"]
        assert "This row cannot be probed: domain '(unknown)'" in app.guidance.plain


async def test_real_postfix_report_without_policy_domain_opens(tmp_path: Path) -> None:
    app = ExplorerApp([corpus_file(POSTFIX_NO_DOMAIN)], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.is_running
        assert [r.key for r in app.nav.rows_data] == ["(unknown)"]
        await pilot.press("r")
        await pilot.pause()
        assert type(app.screen).__name__ == "ReportScreen"


def screen_text(app: ExplorerApp) -> str:
    """What the screen shows, as text (from its SVG)."""
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


HOSTILE_NAME = "[bold]x[/] [@click=app.quit]q[/]"


async def test_report_text_in_titles_is_never_markup(tmp_path: Path) -> None:
    """A reporter named like markup, drilled into (the failure pane's title), then the
    raw view's and the trends screen's titles: shown literally, the app keeps running."""
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", failing("mx1.example.com", org=HOSTILE_NAME, domain="e.example"))
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("enter", "enter")  # into the policy: the title names its reporter
        await pilot.pause()
        assert app.drilled == ("e.example", HOSTILE_NAME)
        assert HOSTILE_NAME in screen_text(app)
        await pilot.press("escape", "escape", "p")  # reporters on the left
        await pilot.pause()
        assert app.nav.current is not None and app.nav.current.key == HOSTILE_NAME
        await pilot.press("r")
        await pilot.pause()
        assert type(app.screen).__name__ == "ReportScreen"
        assert HOSTILE_NAME in screen_text(app)
        await pilot.press("escape", "t")
        await pilot.pause()
        assert type(app.screen).__name__ == "TrendsScreen"
        assert HOSTILE_NAME in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running


def explode(self: ExplorerApp) -> None:
    raise RuntimeError("boom from a test")


async def test_an_unexpected_exception_leaves_a_crash_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", failing("mx1.example.com"))
    monkeypatch.setattr(ExplorerApp, "refresh_guidance", explode)  # (a fault, injected)
    app = ExplorerApp([root], watch=False)
    with pytest.raises(RuntimeError, match="boom from a test"):
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
    assert app.return_code == 1
    assert app.crash_log is not None and app.crash_log.parent == cache_dir()
    assert app.crash_log.name.startswith("crash-") and app.crash_log.suffix == ".log"
    text = app.crash_log.read_text()
    assert "Traceback" in text and "RuntimeError: boom from a test" in text


def test_the_command_exits_1_naming_the_crash_log(tmp_path: Path) -> None:
    """The real command, on Textual's headless driver: exit status 1, one line on stderr."""
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", failing("mx1.example.com"))
    script = (
        "import sys\n"
        "from tlsrpt_tui.ui.app import ExplorerApp\n"
        "def boom(self):\n"
        "    raise RuntimeError('boom from a test')\n"
        "ExplorerApp.refresh_guidance = boom\n"
        "from tlsrpt_tui.explore import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver")
    done = subprocess.run(
        [sys.executable, "-c", script, "--no-watch", "--no-cache", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tlsrpt-tui: the explorer crashed; the traceback is in ")
    log = Path(lines[0].rsplit(" ", 1)[1])
    assert log.parent == cache_dir() and log.name.startswith("crash-")
    assert "RuntimeError: boom from a test" in log.read_text()


# --------------------------------------------------------------------------- item 12


async def wait_for(pilot: Any, condition: Any, seconds: float = 10.0) -> bool:
    """Poll ``condition()`` while the app runs (the watch worker never completes)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await pilot.pause(0.05)
    return bool(condition())


def notice_text(app: ExplorerApp) -> str:
    from textual.widgets import Static

    notice = app.query_one("#notice", Static)
    return str(notice.render()) if notice.display else ""


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
@pytest.mark.parametrize("notice", [None, "Created the report folder /somewhere."])
async def test_empty_banner_goes_when_reports_arrive_and_comes_back(
    tmp_path: Path, use_index: bool, notice: str | None
) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    app = ExplorerApp([root], watch=True, use_index=use_index, notice=notice)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_for(pilot, lambda: not app.loading)
        assert await wait_for(pilot, lambda: "No TLS-RPT reports in" in notice_text(app))
        await pilot.pause(0.5)  # let the watcher start
        write_gz(root / "2026/11/01/a.json.gz", report(domain="arrived.example"))
        assert await wait_for(pilot, lambda: bool(app.nav.rows_data))
        await pilot.pause()
        assert "No TLS-RPT reports" not in notice_text(app)
        assert "No TLS-RPT reports" not in screen_text(app)
        if notice:  # the start-up notice itself stays
            assert notice in notice_text(app)
        else:
            assert notice_text(app) == ""
        # The last report deleted: the archive is empty again, and says so.
        (root / "2026/11/01/a.json.gz").unlink()
        assert await wait_for(pilot, lambda: not app.nav.rows_data)
        assert await wait_for(pilot, lambda: "No TLS-RPT reports in" in notice_text(app))


# --------------------------------------------------------------------------- item 5


def write_bytes_name(folder: Path, name: bytes, obj: dict[str, Any]) -> None:
    """A report file whose name is not UTF-8 (written through bytes paths)."""
    path = os.path.join(os.fsencode(folder), name)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(json.dumps(obj).encode()))


def header(app: ExplorerApp) -> str:
    return app.format_title(app.title, app.sub_title).plain


def keys(app: ExplorerApp) -> list[str]:
    return [r.key for r in app.nav.rows_data]


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
async def test_watcher_survives_names_that_are_not_utf8(tmp_path: Path, use_index: bool) -> None:
    root = tmp_path / "r"
    write_gz(root / "2026/11/01/a.json.gz", report(domain="first.example"))
    # A folder whose name is not UTF-8, there from the start (watchfiles refused to
    # set up its watches at all), with a report in it.
    bad_folder = os.path.join(os.fsencode(root), b"caf\xe9")
    os.mkdir(bad_folder)
    write_bytes_name(Path(os.fsdecode(bad_folder)), b"r.json.gz", report(domain="latin1.example"))
    app = ExplorerApp([root], watch=True, use_index=use_index)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_for(pilot, lambda: not app.loading)
        assert {"first.example", "latin1.example"} <= set(keys(app))
        await pilot.pause(0.5)  # let the watcher start
        write_gz(root / "2026/11/02/b.json.gz", report(domain="second.example", day=2))
        assert await wait_for(pilot, lambda: "second.example" in keys(app))
        # A file whose name is not UTF-8 in a watched folder (watchfiles stopped for
        # good at its event): it is read, and the watcher goes on.
        write_bytes_name(root / "2026/11/02", b"\xff\xfe.json.gz", report(domain="bad.example"))
        assert await wait_for(pilot, lambda: "bad.example" in keys(app))
        write_gz(root / "2026/11/03/c.json.gz", report(domain="third.example", day=3))
        assert await wait_for(pilot, lambda: "third.example" in keys(app))
        assert await wait_for(pilot, lambda: "not watching" not in header(app))
        assert app.is_running


async def test_a_stopped_watcher_says_why_and_starts_again(tmp_path: Path) -> None:
    """The watched folder itself vanishes (an unmounted disk): the header says "not
    watching: <reason>"; once it is back, so is the watcher, with what landed meanwhile."""
    base = tmp_path / "mnt"
    root = base / "r"
    write_gz(root / "a.json.gz", report(domain="first.example"))
    app = ExplorerApp([root], watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await wait_for(pilot, lambda: not app.loading)
        await pilot.pause(0.5)  # let the watcher start
        (root / "a.json.gz").unlink()
        root.rmdir()
        assert await wait_for(pilot, lambda: "not watching: " in header(app))
        assert "not watching: " in screen_text(app)
        write_gz(root / "b.json.gz", report(domain="back.example"))
        assert await wait_for(pilot, lambda: "back.example" in keys(app), seconds=20)
        assert await wait_for(pilot, lambda: "not watching" not in header(app))
        write_gz(root / "c.json.gz", report(domain="later.example"))
        assert await wait_for(pilot, lambda: "later.example" in keys(app))


# --------------------------------------------------------------------------- item 2

#: Strings a reporter may send: newlines, a terminal escape, a bidi override, a C1 CSI.
TRICKY_INFO = 'first line\nsecond "line"\ttab \x1b[31mred\x1b[0m \u202eevil\u202c \x9b2J end'


def tricky_report() -> dict[str, Any]:
    return report(
        failed=2,
        details=[
            {
                "result-type": "certificate-expired",
                "receiving-mx-hostname": "mx1.example.com",
                "additional-information": TRICKY_INFO,
                "failed-session-count": 2,
            }
        ],
    )


async def open_raw(pilot: Any, *keys: str) -> Any:
    from tlsrpt_tui.ui.screens.report import ReportScreen

    await pilot.press(*keys, "r")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReportScreen)
    return screen


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
async def test_raw_view_shows_json_lines_and_copies_the_json_as_received(
    tmp_path: Path, use_index: bool
) -> None:
    root = tmp_path / "r"
    obj = tricky_report()
    # Spaced like Postfix's reporter, report-id last: what is copied is this text.
    received = json.dumps(obj, indent=4, ensure_ascii=False)
    (root / "2026/11/01").mkdir(parents=True)
    (root / "2026/11/01/a.json").write_text(received, encoding="utf-8")
    app = ExplorerApp([root], watch=False, use_index=use_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        screen = await open_raw(pilot)
        shown = screen.current_json
        # Indented JSON lines, not one line of "\x0a".
        assert "\\x0a" not in shown and len(shown.splitlines()) > 20
        assert '  "organization-name": "Google Inc.",' in shown.splitlines()
        # Nothing that acts on a terminal, and still JSON meaning the same report.
        for char in ("\x1b", "\u202e", "\u202c", "\x9b"):
            assert char not in shown
        assert "\\u001b[31mred" in shown and "\\u202eevil" in shown and "\\u009b2J" in shown
        assert json.loads(shown) == obj
        # What the screen draws: the lines themselves.
        picture = screen_text(app)
        assert '"organization-name"' in picture and '"Google Inc."' in picture
        assert "\\x0a" not in picture and "\x1b" not in picture
        # Copy: the JSON text as received, which parses.
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == received
        assert json.loads(app.clipboard) == obj


async def test_a_large_report_is_written_to_a_file_never_over_one_unasked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tlsrpt_tui.ui.screens.report import OSC52_LIMIT, WriteDialog

    root = tmp_path / "r"
    details = [
        {
            "result-type": "validation-failure",
            "sending-mta-ip": f"198.51.{i // 250}.{i % 250}",
            "receiving-mx-hostname": "mx1.example.com",
            "additional-information": "x" * 100,
            "failed-session-count": 1,
        }
        for i in range(1000)
    ]
    obj = report(failed=1000, details=details)
    received = json.dumps(obj)
    assert len(received) > OSC52_LIMIT
    write_gz(root / "big.json.gz", obj)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        screen = await open_raw(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == ""  # (not cut short into the clipboard)
        dialog = app.screen
        assert isinstance(dialog, WriteDialog)
        from textual.widgets import Input

        box = dialog.query_one("#write-path", Input)
        assert Path(box.value).parent == work and box.value.endswith(".json")
        # The name can be edited; the file is written as received.
        target = work / "saved.json"
        box.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        assert target.read_text(encoding="utf-8") == received
        # Writing again to the same name asks first; Esc leaves the file alone.
        target.write_text("keep me", encoding="utf-8")
        await pilot.press("w")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, WriteDialog)
        dialog.query_one("#write-path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and "exists" in str(dialog.query_one("#write-message").render())
        assert target.read_text(encoding="utf-8") == "keep me"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and target.read_text(encoding="utf-8") == "keep me"
        # Asked twice, it is replaced.
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one("#write-path", Input).value = str(target)
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert app.screen is screen and target.read_text(encoding="utf-8") == received
        # A report file itself is never replaced, even when asked twice.
        await pilot.press("w")
        await pilot.pause()
        app.screen.query_one("#write-path", Input).value = str(root / "big.json.gz")
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, WriteDialog)
        assert "never replaced" in str(app.screen.query_one("#write-message").render())
        assert json.loads(gzip.decompress((root / "big.json.gz").read_bytes())) == obj


def failure_archive(root: Path) -> None:
    def detail(result_type: str, mx: str, ip: str) -> dict[str, Any]:
        return {
            "result-type": result_type,
            "sending-mta-ip": ip,
            "receiving-mx-hostname": mx,
            "failed-session-count": 4,
        }

    # Four reports of one domain: the pane shows their failures apart.
    write_gz(
        root / "a.json.gz",
        report(
            org="A", day=1, failed=4, details=[detail("certificate-expired", "mx1.e", "1.1.1.1")]
        ),
    )
    write_gz(
        root / "b.json.gz",
        report(
            org="B", day=2, failed=4, details=[detail("certificate-expired", "mx1.e", "2.2.2.2")]
        ),
    )
    write_gz(
        root / "c.json.gz",
        report(
            org="C", day=3, failed=4, details=[detail("starttls-not-supported", "mx2.e", "1.1.1.1")]
        ),
    )
    write_gz(root / "d.json.gz", report(org="D", day=4))


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
async def test_r_on_a_failure_row_lists_the_reports_behind_it(
    tmp_path: Path, use_index: bool
) -> None:
    root = tmp_path / "r"
    failure_archive(root)
    app = ExplorerApp([root], watch=False, use_index=use_index)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        # The domain: every report.
        screen = await open_raw(pilot)
        assert sorted(r.reporter for r in screen.rows) == ["A", "B", "C", "D"]
        await pilot.press("escape")
        app.failures.focus()
        await pilot.pause()
        # Grouped by result-type and MX (the default): both reports of that group.
        assert app.failures.grouped
        row = app.failures.current
        assert row is not None and row.result_type == "certificate-expired" and row.count == 8
        screen = await open_raw(pilot)
        assert sorted(r.reporter for r in screen.rows) == ["A", "B"]
        assert "certificate-expired via mx1.e" in screen_text(app)
        await pilot.press("escape")
        app.failures.move_cursor(row=1)
        await pilot.pause()
        screen = await open_raw(pilot)
        assert [r.reporter for r in screen.rows] == ["C"]
        await pilot.press("escape")
        # Every distinct detail: one report per row.
        await pilot.press("G")
        await pilot.pause()
        for index, failure in enumerate(app.failures.rows_data):
            app.failures.move_cursor(row=index)
            await pilot.pause()
            screen = await open_raw(pilot)
            expected = {"1.1.1.1": {"certificate-expired": "A", "starttls-not-supported": "C"}}
            expected["2.2.2.2"] = {"certificate-expired": "B"}
            wanted = expected[str(failure.sending_mta_ip)][failure.result_type]
            assert [r.reporter for r in screen.rows] == [wanted]
            await pilot.press("escape")


# --------------------------------------------------------------------------- item 14

LOOKALIKE = "p\u0430ypal.test"  # a Cyrillic а
LOOKALIKE_A = "xn--pypal-4ve.test"  # its A-label, the key everywhere (IDN)


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
async def test_lookalike_domains_are_marked_in_the_panes_and_the_detail(
    tmp_path: Path, use_index: bool
) -> None:
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", failing(f"mx1.{LOOKALIKE}", domain=LOOKALIKE))
    write_gz(root / "b.json.gz", report(org="Yahoo", domain="paypal.test"))
    app = ExplorerApp([root], watch=False, use_index=use_index)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        cells = {r.key: app.nav.render_row(r)[0].plain for r in app.nav.rows_data}
        assert cells[LOOKALIKE_A] == f"⚠ {LOOKALIKE_A} ({LOOKALIKE})"
        assert cells["paypal.test"] == "paypal.test"
        assert app.policies.render_row(app.policies.rows_data[0])[0].plain.startswith("⚠ ")
        failure = app.failures.render_row(app.failures.rows_data[0])
        assert failure[1].plain == f"⚠ mx1.{LOOKALIKE_A}"
        # The detail says which scripts are mixed, for the domain and for the MX.
        body = app.guidance.plain
        assert f"{LOOKALIKE_A} may pass for another name: it mixes Latin and Cyrillic" in body
        assert f"mx1.{LOOKALIKE_A} may pass for another name" in body
        assert "may pass for another name" in screen_text(app)
        screen = await open_raw(pilot)
        header = str(screen.query_one("#report-sources").render())
        assert "mixes Latin and Cyrillic" in header
        # The plain domain is not marked anywhere.
        await pilot.press("escape")
        app.nav.move_cursor(row=[r.key for r in app.nav.rows_data].index("paypal.test"))
        await pilot.pause()
        assert not app.policies.render_row(app.policies.rows_data[0])[0].plain.startswith("⚠")


# --------------------------------------------------------------------------- the class of item 1

#: One report per value, the value in every field (the fuzzing behind this test tried
#: more: empty, blank, IPs, "..", "xn--zz", both stores).
HOSTILE_VALUES = [
    "mail",
    "[/]",
    "[@click=app.quit]x[/]",
    "a;b",
    "\x1b[2J",
    "\u202e",
    "x" * 3000,
    "p\u0430ypal.test",
]


async def test_every_screen_on_hostile_values_keeps_the_app_running(tmp_path: Path) -> None:
    """Each value in every field of a report (names, MX, IPs, information, policy), each
    failure row walked through the guidance, copy, raw view, trends and guide."""
    root = tmp_path / "r"
    for number, value in enumerate(HOSTILE_VALUES):
        obj = report(
            org=value,
            domain=value,
            day=1 + number % 28,
            failed=3,
            details=[
                {
                    "result-type": value,
                    "receiving-mx-hostname": value,
                    "receiving-ip": value,
                    "sending-mta-ip": value,
                    "receiving-mx-helo": value,
                    "additional-information": value,
                    "failure-reason-code": value,
                    "failed-session-count": 3,
                }
            ],
        )
        obj["policies"][0]["policy"]["mx-host"] = [value]
        obj["policies"][0]["policy"]["policy-string"] = [value]
        write_gz(root / f"{number}.json.gz", obj)
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        assert len(app.nav.rows_data) == len(HOSTILE_VALUES)
        for index in range(len(app.nav.rows_data)):
            app.nav.move_cursor(row=index)
            app.nav.focus()
            await pilot.pause()
            for keys in [
                ("enter", "enter", "c", "enter"),
                ("r", "c", "escape"),
                ("t", "escape"),
                ("g", "escape"),
                ("G", "s", "escape", "escape", "escape"),
            ]:
                await pilot.press(*keys)
                await pilot.pause()
                assert app.is_running, (app.nav.rows_data[index].key, keys)
        await pilot.press("p", "r", "escape", "p")
        await pilot.pause()
        assert app.is_running and "\x1b" not in app.export_screenshot()
    assert app.return_code in (None, 0) and app.crash_log is None


async def test_a_background_job_that_fails_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alerts job (a worker that does not end the app) fails: a notification names
    it and the error, instead of an alerts count that silently stays at nothing."""
    import tlsrpt_tui.store.health_job as health_job

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("thresholds exploded")

    monkeypatch.setattr(health_job, "health_of", broken)  # (a fault, injected)
    root = tmp_path / "r"
    write_gz(root / "a.json.gz", report())
    app = ExplorerApp([root], watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        wanted = "The health job failed: RuntimeError: thresholds exploded"
        assert await wait_for(pilot, lambda: any(wanted in n.message for n in app._notifications))
        assert app.is_running
