"""The live archive without Textual: loading both ways, the watcher (real files in a
temporary folder, real watchfiles), the raw report with its provenance, alerts."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from health_fixtures import baseline_json, offset_of_yesterday, write_archive
from test_app import archive, report, write_gz  # noqa: F401  (archive is a fixture)
from test_health_clock import no_lasting_children  # noqa: F401  (a fixture)

from tlsrpt_tui.core.model import LoadResult, Report
from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.store.live import LiveArchive, LiveEvents
from tlsrpt_tui.store.queries import Filter


class Recorder(LiveEvents):
    """Takes what the live archive hands over at once (one thread here), and notes it."""

    def __init__(self, live: LiveArchive) -> None:
        self.live = live
        self.log: list[tuple[Any, ...]] = []
        self.new: list[Report] = []

    def progress(self, done: int, total: int, rate: float) -> None:
        self.log.append(("progress", done, total))

    def results(self, batch: list[tuple[LoadResult, str]], final: bool) -> None:
        self.new += self.live.take(batch)
        self.log.append(("results", len(batch), final))

    def index_ready(self, final: bool) -> None:
        self.log.append(("index", final))

    def index_failed(self, reason: str) -> None:
        self.log.append(("index failed", reason))

    def files_changed(self, loaded: list[tuple[LoadResult, str]], removed: list[str]) -> None:
        self.new += self.live.take_changes(loaded, removed)
        self.log.append(("files", sorted(Path(p).name for _, p in loaded), removed))

    def index_changed(self, new_reports: list[Report]) -> None:
        self.new += new_reports
        self.log.append(("index changed", len(new_reports)))

    def watching(self, problem: str | None) -> None:
        self.log.append(("watching", problem))

    def kinds(self) -> list[Any]:
        return [entry[0] for entry in self.log]


def domains(live: LiveArchive) -> list[str]:
    return sorted(row.key for row in live.store.nav_rows("domain", Filter()))


async def until(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    for _ in range(int(seconds * 20)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
def test_loading_a_folder_both_ways(archive: Path, use_index: bool) -> None:  # noqa: F811
    live = LiveArchive([archive], use_index=use_index)
    events = Recorder(live)
    live.load(events)
    assert domains(live) == ["example.com", "example.net"]
    assert live.store.overview(Filter()).reports == 3
    assert [e.source.path for e in live.store.errors()] == ["broken.json.gz"]
    assert live.load_error is None
    if use_index:
        assert live.index is not None and live.store is live.index
        # First the index as it was left (at once), then up to date.
        assert [e for e in events.log if e[0] == "index"] == [("index", False), ("index", True)]
        assert "results" not in events.kinds()
    else:
        assert live.index is None and live.store is live.memory
        assert events.log[0] == ("progress", 0, 4)
        assert events.log[-1] == ("progress", 4, 4)
        assert [e for e in events.log if e[0] == "results"][-1][2] is True
        assert len(events.new) == 3  # (every report, each once)


def test_an_index_that_cannot_be_opened_falls_back_to_memory(
    archive: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(blocker / "cache"))
    live = LiveArchive([archive], use_index=True)
    events = Recorder(live)
    live.load(events)
    assert live.load_error is not None
    assert events.log[0] == ("index failed", live.load_error)
    assert live.index is None and domains(live) == ["example.com", "example.net"]


def test_cancelled_loading_hands_over_no_final_batch(archive: Path) -> None:  # noqa: F811
    live = LiveArchive([archive])
    live.close()
    events = Recorder(live)
    live.load(events)
    assert ("results", 0, True) not in events.log and live.store.overview(Filter()).reports == 0


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
async def test_the_watcher_sees_a_new_file_and_a_deleted_one(
    archive: Path,  # noqa: F811
    use_index: bool,
) -> None:
    live = LiveArchive([archive], use_index=use_index)
    events = Recorder(live)
    await asyncio.to_thread(live.load, events)
    events.new.clear()
    watching = asyncio.create_task(live.watch(events))
    try:
        await asyncio.sleep(0.5)  # (the watches set up)
        new = write_gz(archive / "2026/11/01/new.json.gz", report(org="Mail.ru", domain="x.test"))
        assert await until(lambda: "x.test" in domains(live))
        assert [r.organization_name for r in events.new] == ["Mail.ru"]
        if not use_index:
            assert ("files", ["new.json.gz"], []) in events.log
        new.unlink()
        assert await until(lambda: "x.test" not in domains(live))
        if not use_index:
            assert ("files", [], ["2026/11/01/new.json.gz"]) in events.log
        assert domains(live) == ["example.com", "example.net"]
        assert live.watch_problem is None and "watching" not in events.kinds()
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching


async def test_the_watcher_says_why_it_stopped_and_catches_up_when_back(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    write_gz(root / "a.json.gz", report())
    live = LiveArchive([root])
    live.backoff = (0.2,)
    events = Recorder(live)
    await asyncio.to_thread(live.load, events)
    watching = asyncio.create_task(live.watch(events))
    try:
        await asyncio.sleep(0.5)
        shutil.rmtree(root)
        assert await until(lambda: live.watch_problem is not None)
        assert live.watch_problem == f"{root} is no longer a folder (trying again in 0.2 s)"
        assert ("watching", live.watch_problem) in events.log
        # Back, with a report written while nobody watched: caught up with.
        write_gz(root / "b.json.gz", report(org="Mail.ru", domain="back.test"))
        assert await until(lambda: live.watch_problem is None)
        assert await until(lambda: "back.test" in domains(live))
        assert events.log[-1][0] in ("watching", "files")
        assert ("watching", None) in events.log
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
def test_raw_report_with_every_copy_and_its_provenance(tmp_path: Path, use_index: bool) -> None:
    root = tmp_path / "reports"
    obj = report(org="Google Inc.", domain="example.com")
    first = write_gz(root / "2026/11/01/one.json.gz", obj)
    second = root / "2026/11/02/two.json"
    second.parent.mkdir(parents=True)
    text = json.dumps(obj, indent=1)
    second.write_text(text, encoding="utf-8")
    sidecar = {"verdict": "fail", "domain": "google.com", "reason": "body hash mismatch"}
    (second.parent / ".two.json.dkim.json").write_text(json.dumps(sidecar), encoding="utf-8")
    (first.parent / ".one.json.gz.https.json").write_text("{}", encoding="utf-8")
    live = LiveArchive([root], use_index=use_index)
    live.load(Recorder(live))
    (row,) = live.store.report_rows(Filter())
    raw = live.raw_report(row.key)
    assert raw.obj == obj
    assert sorted(raw.sources) == [
        "2026/11/01/one.json.gz  · received by HTTPS POST",
        "2026/11/02/two.json  · DKIM fail (d=google.com): body hash mismatch",
    ]
    # The text as received, from the first copy that can still be read.
    first.unlink()
    assert live.raw_report(row.key).text == text
    second.unlink()
    gone = live.raw_report(row.key)
    assert gone.obj is None and gone.text == "" and len(gone.sources) == 2


@pytest.mark.parametrize("use_index", [False, True], ids=["memory", "index"])
def test_alerts_both_ways(
    tmp_path: Path,
    use_index: bool,
    no_lasting_children: None,  # noqa: F811
) -> None:
    root = write_archive(tmp_path / "r", baseline_json(30, last=offset_of_yesterday() - 7))
    live = LiveArchive([root], use_index=use_index, limits=Limits())
    live.load(Recorder(live))
    alerts = live.alerts()
    assert [(a.rule, a.policy_domain) for a in alerts] == [
        ("no-reports", d) for d in ("example.com", "example.net", "example.org")
    ]


async def test_the_quarantine_is_counted_apart_and_followed_by_the_watcher(tmp_path: Path) -> None:
    from tlsrpt_tui.ingest.report_dir import QUARANTINE_MARKER

    root = tmp_path / "reports"
    write_gz(root / "2026/11/01/good.json.gz", report())
    kept = root / "quarantine/2026/11/01"
    write_gz(kept / "Forged!example.com!1793491200!1793577599!k.json.gz", report(org="Forged"))
    (root / "quarantine" / QUARANTINE_MARKER).write_text("")
    sidecar = {"verdict": "fail", "reason": "no signature"}
    (kept / ".Forged!example.com!1793491200!1793577599!k.json.gz.dkim.json").write_text(
        json.dumps(sidecar), encoding="utf-8"
    )
    live = LiveArchive([root])
    events = Recorder(live)
    await asyncio.to_thread(live.load, events)
    assert live.store.overview(Filter()).reports == 1  # (never counted)
    assert live.quarantine_label() == "1"
    (listed,) = live.quarantined().reports
    assert (listed.submitter, listed.verdict, listed.reason) == ("Forged", "fail", "no signature")
    watching = asyncio.create_task(live.watch(events))
    try:
        await asyncio.sleep(0.5)
        events.log.clear()
        write_gz(kept / "Other!example.com!1793491200!1793577599!j.json.gz", report(org="Other"))
        # The watcher says something changed (the header's count follows) and counts nothing.
        assert await until(lambda: ("files", [], []) in events.log)
        assert live.quarantine_label() == "2"
        assert live.store.overview(Filter()).reports == 1
    finally:
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching


def test_the_live_archive_imports_no_textual_nor_rich() -> None:
    import os
    import subprocess
    import sys

    script = (
        "import sys, tlsrpt_tui.store.live, tlsrpt_tui.ingest.quarantine_list\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))"
    )
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_checking_every_file_finds_a_report_rewritten_in_place(
    archive: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tlsrpt_tui.store.index import refresh

    # Folders count as settled at once (not only seconds after they last changed).
    monkeypatch.setattr(refresh, "RECENT_NS", -(10**15))
    live = LiveArchive([archive], use_index=True)
    live.load(Recorder(live))
    target = archive / "2026/11/01/a.json.gz"
    write_gz(target, report(org="Rewritten", domain="rewritten.test"))
    # Written in place: its folder's times stay as they were, and the quick refresh
    # (folder stamps) does not look inside.
    assert live.index is not None
    live.index.refresh()
    assert "rewritten.test" not in domains(live)
    seen: list[tuple[int, int]] = []
    stats = live.check_every_file(lambda done, total, _rate: seen.append((done, total)))
    assert stats is not None and stats.changed == 1 and (stats.added, stats.removed) == (0, 0)
    assert "rewritten.test" in domains(live)
    assert seen and seen[-1][0] == seen[-1][1]
    with pytest.raises(ValueError):
        LiveArchive([archive]).check_every_file()
