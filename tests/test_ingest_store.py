"""The durable report store: names, de-duplication, quarantine, crash left-overs."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import corpus_file
from ingest_helpers import make_report, report_bytes

from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.model import Report, Source
from tlsrpt_tui.core.reading.loader import domain_from_filename, load_bytes, load_file
from tlsrpt_tui.ingest.report_dir import (
    INCOMING_DIR,
    QUARANTINE_MARKER,
    ReportStore,
    read_sidecars,
    report_file_name,
    report_key,
    sanitize_component,
    split_payload,
)


def parsed(payload: bytes) -> Report:
    result = load_bytes(payload, Source("test"))
    assert not result.errors, result.errors
    assert len(result.reports) == 1
    return result.reports[0]


def stored_reports(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if not p.name.startswith("."))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("google.com", "google.com"),
        ("Google Inc.", "Google_Inc"),
        ("../../etc/passwd", "_._etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("..", "unknown"),
        (".hidden", "hidden"),
        ("-rf", "rf"),
        ("", "unknown"),
        ("x\x00y\x1b[31m", "x_y_31m"),
        ("Ünïcode Ltd", "_n_code_Ltd"),
        ("a!b!c", "a_b_c"),
    ],
)
def test_sanitize_component(value: str, expected: str) -> None:
    result = sanitize_component(value)
    assert result == expected
    assert "/" not in result and "!" not in result and not result.startswith(".")


def test_sanitize_caps_length() -> None:
    assert len(sanitize_component("x" * 1000)) == 64


def test_file_name_is_rfc_style_and_reads_back() -> None:
    report = parsed(report_bytes(make_report(domain="Example.COM")))
    name = report_file_name(report, "reporter.example")
    submitter, domain, begin, end, rest = name.split("!")
    assert (submitter, domain) == ("reporter.example", "example.com")
    assert int(begin) == int(report.start.timestamp())
    assert int(end) == int(report.end.timestamp())
    assert rest == f"{report_key(report)}.json.gz"
    assert domain_from_filename(name) == "example.com"


def test_key_is_the_identity() -> None:
    one = parsed(report_bytes(make_report(successful=1)))
    two = parsed(report_bytes(make_report(successful=99)))  # same identity, other counts
    other = parsed(report_bytes(make_report(report_id="another")))
    assert report_key(one) == report_key(two)
    assert report_key(one) != report_key(other)


def test_save_gzips_json_and_reads_back(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    store.prepare()
    payload = report_bytes(make_report(), gz=False)
    report = parsed(payload)
    saved = store.save(payload, report, submitter="reporter.example")
    assert saved.status == "saved"
    assert saved.path.parent == tmp_path / "2024" / "05" / "01"
    data = saved.path.read_bytes()
    assert data.startswith(b"\x1f\x8b")
    assert gzip.decompress(data) == payload
    loaded = load_file(saved.path)
    assert not loaded.errors
    assert [r.identity for r in loaded.reports] == [report.identity]


def test_gzip_payload_is_stored_byte_for_byte(tmp_path: Path) -> None:
    payload = corpus_file("google.com!krvtz.net!1726358400!1726444799!001.json.gz").read_bytes()
    store = ReportStore(tmp_path)
    saved = store.save(payload, parsed(payload), submitter="google.com")
    assert saved.path.read_bytes() == payload


def test_duplicates_are_not_stored_twice(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    payload = report_bytes(make_report())
    report = parsed(payload)
    first = store.save(payload, report, submitter="reporter.example")
    # The same report via another channel: another submitter spelling, JSON not gzip.
    again = store.save(
        report_bytes(make_report(), gz=False),
        parsed(report_bytes(make_report(), gz=False)),
        submitter="Example Reporter Inc.",
    )
    assert (first.status, again.status) == ("saved", "duplicate")
    assert again.path == first.path
    assert stored_reports(tmp_path) == [first.path]


def test_quarantine_and_promotion(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    payload = report_bytes(make_report())
    report = parsed(payload)
    sidecar = {"dkim": {"verdict": "none"}}
    held = store.save(payload, report, submitter="r.example", quarantine=True, sidecars=sidecar)
    assert held.status == "saved" and held.quarantined
    assert held.path.is_relative_to(tmp_path / "quarantine")
    assert (tmp_path / "quarantine" / QUARANTINE_MARKER).exists()
    assert read_sidecars(held.path) == sidecar
    # Unsigned again: still one quarantined copy.
    assert store.save(payload, report, submitter="r.example", quarantine=True).status == (
        "duplicate"
    )
    # Now a copy with a good signature: into the archive, out of quarantine.
    good = store.save(
        payload, report, submitter="r.example", sidecars={"dkim": {"verdict": "pass"}}
    )
    assert good.status == "saved" and not good.quarantined
    assert not held.path.exists()
    assert not any((tmp_path / "quarantine").rglob("*.dkim.json"))
    assert read_sidecars(good.path) == {"dkim": {"verdict": "pass"}}
    # And a later unsigned copy is a duplicate of the archived one.
    late = store.save(payload, report, submitter="r.example", quarantine=True)
    assert late.status == "duplicate" and late.path == good.path
    assert stored_reports(tmp_path) == [good.path]


def test_concurrent_saves_of_one_report_store_one_copy(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    other = ReportStore(tmp_path)  # as if another process
    payload = report_bytes(make_report())
    report = parsed(payload)
    results: list[str] = []
    barrier = threading.Barrier(16)

    def worker(index: int) -> None:
        barrier.wait()
        target = store if index % 2 else other
        submitter = "a.example" if index % 3 else "b.example"
        results.append(target.save(payload, report, submitter=submitter).status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["duplicate"] * 15 + ["saved"]
    assert len(stored_reports(tmp_path)) == 1


def test_names_from_hostile_report_data_stay_inside(tmp_path: Path) -> None:
    raw = make_report(organization="../../../../tmp/evil", domain="x")
    raw["policies"][0]["policy"]["policy-domain"] = "../../etc"
    raw["report-id"] = "/etc/passwd\x00"
    store = ReportStore(tmp_path / "archive")
    payload = json.dumps(raw).encode()
    saved = store.save(payload, parsed(payload), submitter="../../..")
    assert saved.path.resolve().is_relative_to((tmp_path / "archive").resolve())
    assert saved.path.name.count("!") == 4
    assert [p.name for p in tmp_path.iterdir()] == ["archive"]


def test_report_without_policy_domain_keeps_its_identity(tmp_path: Path) -> None:
    payload = corpus_file(
        "issue-sys4-tlsrpt-reporter-51_postfix-no-policy-found-without-policy-domain.json"
    ).read_bytes()
    report = parsed(payload)
    store = ReportStore(tmp_path)
    saved = store.save(payload, report, submitter="sonne.floppy.org")
    assert saved.path.name.split("!")[1] == ""
    again = load_file(saved.path).reports
    assert [r.identity for r in again] == [report.identity]


def test_json_array_is_split_into_one_file_per_report(tmp_path: Path) -> None:
    reports = [make_report(report_id=f"r{i}") for i in range(3)]
    payload = json.dumps(reports).encode()
    result = load_bytes(payload, Source("upload"))
    pieces = split_payload(payload, result)
    assert len(pieces) == 3
    store = ReportStore(tmp_path)
    for data, report in pieces:
        store.save(data, report, submitter="r.example")
    loaded = load_archive([tmp_path])
    assert sorted(r.report_id for r in loaded.reports.values()) == ["r0", "r1", "r2"]
    assert not loaded.errors


def test_stale_temporaries_are_removed_and_fresh_ones_kept(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    store.prepare()
    incoming = tmp_path / INCOMING_DIR
    stale = incoming / ".tmp-crashed.tmp"
    fresh = incoming / ".tmp-writing.tmp"
    stale.write_bytes(b"half a rep")
    fresh.write_bytes(b"being written")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    store.prepare()
    assert not stale.exists()
    assert fresh.exists()


def test_archive_scanner_sees_reports_not_sidecars(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    store.prepare()
    for day in range(1, 4):
        payload = report_bytes(
            make_report(report_id=f"d{day}", start=dt.datetime(2024, 6, day, tzinfo=dt.UTC))
        )
        store.save(
            payload, parsed(payload), submitter="r.example", sidecars={"dkim": {"verdict": "pass"}}
        )
    (tmp_path / INCOMING_DIR / ".tmp-left.tmp").write_bytes(b"junk")
    archive = load_archive([tmp_path])
    assert len(archive.reports) == 3
    assert archive.errors == []
    assert archive.files == 3


def test_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: Any) -> None:
    store = ReportStore(tmp_path)
    store.prepare()
    payload = report_bytes(make_report())

    def broken_link(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", broken_link)
    with pytest.raises(OSError):
        store.save(payload, parsed(payload), submitter="r.example")
    monkeypatch.undo()
    assert stored_reports(tmp_path) == []
    assert list((tmp_path / INCOMING_DIR).iterdir()) == []
    # and the next attempt stores it
    assert store.save(payload, parsed(payload), submitter="r.example").status == "saved"


def test_ingest_never_imports_textual() -> None:
    import subprocess
    import sys

    from ingest_helpers import REPO

    modules = [
        "tlsrpt_tui.ingest.report_dir",
        "tlsrpt_tui.ingest.dkim_check",
        "tlsrpt_tui.ingest.mail",
        "tlsrpt_tui.ingest.imap",
        "tlsrpt_tui.ingest.receiver",
        "tlsrpt_tui.commands.fetch",
        "tlsrpt_tui.commands.import_",
        "tlsrpt_tui.commands.receive",
    ]
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *modules],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- quarantine


def _summary(root: Path, *extra: str) -> dict[str, Any]:
    import contextlib
    import io

    from tlsrpt_tui.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["summary", str(root), "--format", "json", "--jobs", "1", *extra]) == 0
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_quarantined_reports_never_count_in_any_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index (default), its warm reopen and --no-cache agree: a forged report's
    1,000 sessions in quarantine/ appear in none of them."""
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "reports"
    store = ReportStore(root)
    store.prepare()
    good = report_bytes(make_report(report_id="good", successful=10))
    store.save(good, parsed(good), submitter="reporter.example")
    forged = report_bytes(
        make_report(organization="Forged", report_id="forged", successful=1000, failed=7)
    )
    result = store.save(forged, parsed(forged), submitter="evil.example", quarantine=True)
    assert result.quarantined and (root / "quarantine" / QUARANTINE_MARKER).exists()

    expected = _summary(root, "--no-cache")
    assert expected["reports"] == 1
    assert expected["domains"]["example.com"]["successful"] == 10
    assert _summary(root) == expected  # cold build of the index
    assert _summary(root) == expected  # warm
    # A quarantined report added after the index was built stays out too.
    later = report_bytes(make_report(organization="Forged", report_id="forged-2", successful=500))
    store.save(later, parsed(later), submitter="evil.example", quarantine=True)
    assert _summary(root) == expected
    # A folder that becomes a quarantine after being indexed leaves the totals.
    plain_dir = root / "held" / "2024"
    plain_dir.mkdir(parents=True)
    extra = report_bytes(make_report(report_id="held", successful=3))
    (plain_dir / "held.json.gz").write_bytes(extra)
    assert _summary(root)["reports"] == 2
    (root / "held" / QUARANTINE_MARKER).write_text("")
    assert _summary(root) == expected
    assert _summary(root, "--no-cache") == expected
    # Opened itself, a quarantine folder shows what it holds.
    assert _summary(root / "quarantine", "--no-cache")["reports"] == 2
    assert _summary(root / "quarantine")["reports"] == 2


def test_watched_changes_in_quarantine_stay_out_of_the_index(tmp_path: Path) -> None:
    from tlsrpt_tui.store.index import open_index
    from tlsrpt_tui.store.queries import Filter

    root = tmp_path / "reports"
    store = ReportStore(root)
    store.prepare()
    good = report_bytes(make_report(report_id="good"))
    store.save(good, parsed(good), submitter="reporter.example")
    index = open_index([root], jobs=1)
    try:
        assert index.overview(Filter()).reports == 1
        forged = report_bytes(make_report(report_id="forged", successful=1000))
        saved = store.save(forged, parsed(forged), submitter="x.example", quarantine=True)
        # What the watcher reports: the new folders and the file.
        changed = [root / "quarantine", saved.path.parent, saved.path]
        assert index.apply_changes(changed) == []
        assert index.overview(Filter()).reports == 1
    finally:
        index.close()
