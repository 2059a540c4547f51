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
from test_app import loaded, report, write_gz

from tlsrpt_tui.locations import cache_dir
from tlsrpt_tui.ui.app import ExplorerApp

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"
POSTFIX_NO_DOMAIN = (
    CORPUS / "issue-sys4-tlsrpt-reporter-51_postfix-no-policy-found-without-policy-domain.json"
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


@pytest.mark.skipif(not POSTFIX_NO_DOMAIN.is_file(), reason="shared corpus not present")
async def test_real_postfix_report_without_policy_domain_opens(tmp_path: Path) -> None:
    app = ExplorerApp([POSTFIX_NO_DOMAIN], watch=False)
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
