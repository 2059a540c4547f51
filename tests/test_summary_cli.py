"""``tlsrpt-tui summary``: output shapes, exit codes, paths, and hostile text."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Attachment, build_detail, build_email, build_policy, build_report, gz_report

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.locations import demo_archive

REPO = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["summary", "--jobs", "1", *args])
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    status, out, err = run(capsys, *args, "--format", "json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def archive(write: Any) -> Path:
    """Two reporters, one duplicate, a bad file in a sub-folder and a bad mbox message."""
    microsoft = build_report(
        organization_name="Microsoft Corporation",
        report_id="ms-1",
        policies=[
            build_policy("example.com", "sts", 40, 2, [build_detail("validation-failure", 2)]),
            build_policy("example.com", "tlsa", 38, 4, [build_detail("tlsa-invalid", 4)]),
        ],
    )
    write.json("2024/03/01/ms.json", microsoft)
    write.gz("2024/03/01/ms-copy.json.gz", microsoft)
    write.eml(
        "2024/03/01/google.eml",
        [Attachment(gz_report(organization_name="Google Inc.", report_id="g-1"))],
    )
    write.raw("2024/03/02/broken.json", b'{"organization-name": ')
    write.mbox(
        "inbox.mbox",
        [
            build_email([Attachment(b"\x1f\x8b\x08\x00cut", filename="cut.json.gz")]),
            build_email(
                [
                    Attachment(
                        gz_report(
                            report_id="mbox-1", policies=[build_policy("example.net", successful=5)]
                        )
                    )
                ]
            ),
        ],
    )
    return write.root


def test_json_shape_exactly(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    doc = run_json(capsys, str(archive))
    assert list(doc) == ["files", "reports", "duplicates", "errors", "folded", "domains"]
    assert doc["folded"] == []  # (reports with failure-details folded: test_fold.py)
    assert (doc["files"], doc["reports"], doc["duplicates"]) == (5, 3, 1)
    for error in doc["errors"]:
        assert set(error) == {"path", "error"}
    assert sorted(e["path"] for e in doc["errors"]) == ["2024/03/02/broken.json", "inbox.mbox"]
    mbox_error = next(e for e in doc["errors"] if e["path"] == "inbox.mbox")
    assert mbox_error["error"].startswith("message 1, part 2 (cut.json.gz): truncated gzip")
    assert list(doc["domains"]) == ["example.com", "example.net"]
    for entry in doc["domains"].values():
        assert list(entry) == ["successful", "failed", "result-types", "reporters", "policy-types"]
        for pair in [*entry["reporters"].values(), *entry["policy-types"].values()]:
            assert set(pair) == {"successful", "failed"}
    assert doc["domains"]["example.com"] == {
        "successful": 50,
        "failed": 4,
        "result-types": {"tlsa-invalid": 4, "validation-failure": 2},
        "reporters": {
            "Google Inc.": {"successful": 10, "failed": 0},
            "Microsoft Corporation": {"successful": 40, "failed": 4},
        },
        "policy-types": {
            "sts": {"successful": 50, "failed": 2},
            "tlsa": {"successful": 38, "failed": 4},
        },
    }
    assert doc["domains"]["example.net"]["successful"] == 5


def test_error_paths_relative_to_each_path_given(
    capsys: pytest.CaptureFixture[str], archive: Path
) -> None:
    doc = run_json(capsys, str(archive / "2024"), str(archive / "inbox.mbox"))
    assert sorted(e["path"] for e in doc["errors"]) == ["03/02/broken.json", "inbox.mbox"]


def test_default_format_is_json_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str], archive: Path
) -> None:
    status, out, _ = run(capsys, str(archive))
    assert status == 0
    assert json.loads(out)["reports"] == 3


def test_parallel_jobs_same_document(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    assert run_json(capsys, str(archive)) == run_json(capsys, str(archive), "--jobs", "2")


def test_exit_2_when_a_path_does_not_exist(
    capsys: pytest.CaptureFixture[str], archive: Path
) -> None:
    status, out, err = run(capsys, str(archive), str(archive / "missing"), "--format", "json")
    assert status == 2
    assert out == ""
    assert "missing: no such file or directory" in err


def test_exit_2_without_paths(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys)
    assert status == 2
    assert "PATH" in err


def test_exit_0_when_every_file_is_bad(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    write.raw("a.json", b"nope")
    write.raw("b.json.gz", b"\x1f\x8b")
    doc = run_json(capsys, str(write.root))
    assert (doc["files"], doc["reports"], len(doc["errors"]), doc["domains"]) == (2, 0, 2, {})


def test_max_decompressed_option(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    import gzip

    write.raw(
        "big.json.gz",
        gzip.compress(json.dumps(build_report(organization_name="x" * 2_000_000)).encode()),
    )
    doc = run_json(capsys, str(write.root), "--max-decompressed-mb", "1")
    assert doc["reports"] == 0
    assert "limit" in doc["errors"][0]["error"]


def test_csv(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    status, out, _ = run(capsys, str(archive), "--format", "csv")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["policy-domain", "reporter", "successful", "failed", "failure-rate"]
    assert rows[1:] == [
        ["example.com", "Google Inc.", "10", "0", "0.000000"],
        ["example.com", "Microsoft Corporation", "40", "4", f"{4 / 44:.6f}"],
        ["example.net", "Example Reporter", "5", "0", "0.000000"],
    ]


def test_table(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    status, out, _ = run(capsys, str(archive), "--format", "table")
    assert status == 0
    assert out.startswith("5 files, 3 reports, 1 duplicates, 2 errors")
    assert "example.com" in out
    assert "Microsoft Corporation" in out
    assert "! tlsa-invalid" in out
    assert "2024/03/02/broken.json: not JSON" in out


HOSTILE = "\x1b[31mEvil\x1b[0m [bold]x[/] \x07\r\x00\x7f\x9b2J\u202eevil\u2066"


def test_table_escapes_hostile_text(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    details = [build_detail("\x1b]0;pwned\x07", 1)]
    write.json(
        "r.json",
        build_report(
            organization_name=HOSTILE, policies=[build_policy(failed=1, failure_details=details)]
        ),
    )
    write.raw(os.fsencode("bad\x1b[2J.json"), b"\x1b[2Jnot a report")
    status, out, _ = run(capsys, str(write.root), "--format", "table")
    assert status == 0
    for raw in ("\x1b", "\x07", "\r", "\x00", "\x7f", "\x9b", "\u202e", "\u2066"):
        assert raw not in out
    assert "[bold]x[/]" in out
    assert "\\x1b[31mEvil" in out
    assert "bad\\x1b[2J.json" in out


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31m", "\\x1b[31m"),
        ("bell\x07", "bell\\x07"),
        ("a\rb", "a\\x0db"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("csi\x9b", "csi\\x9b"),
        ("c1\x85\x80", "c1\\x85\\x80"),
        ("tab\tnl\n", "tab\\x09nl\\x0a"),
        ("rlo\u202eolr", "rlo\\u202eolr"),
        ("lri\u2066x\u2069", "lri\\u2066x\\u2069"),
        ("ls\u2028", "ls\\u2028"),
        ("[bold]x[/] café ✓", "[bold]x[/] café ✓"),
    ],
)
def test_plain_escapes_controls(raw: str, shown: str) -> None:
    assert plain(raw) == shown


def test_plain_escapes_unpaired_surrogates() -> None:
    # Compared as ascii(): a failure report holding a lone surrogate would break xdist.
    assert ascii(plain("lone" + os.fsdecode(b"\xff") + "\ud800")) == ascii("lone\\udcff\\ud800")


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    if not demo_archive().is_dir():
        pytest.skip(f"demo archive not generated yet ({demo_archive()} is absent)")
    doc = run_json(capsys, "--demo")
    assert doc["files"] > 0
    assert doc["reports"] > 0
    assert doc["domains"]


def test_subprocess(archive: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "tlsrpt_tui", "summary", str(archive), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["files"], doc["reports"], doc["duplicates"], len(doc["errors"])) == (5, 3, 1, 2)
    missing = subprocess.run(
        [sys.executable, "-m", "tlsrpt_tui", "summary", str(archive / "nope")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_max_decompressed_must_be_positive(
    capsys: pytest.CaptureFixture[str], archive: Path, value: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", str(archive), "--max-decompressed-mb", value])
    assert exit_info.value.code == 2
    assert "--max-decompressed-mb" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_unprintable_text_never_breaks_output(
    capsys: pytest.CaptureFixture[str], write: Any, fmt: str
) -> None:
    """A report spelling lone surrogates ("\\ud800") in JSON still prints as UTF-8."""
    obj = build_report(organization_name="Evil\ud800Corp", policies=[build_policy("ex\udfff.com")])
    write.json("r.json", obj)
    status, out, _ = run(capsys, str(write.root), "--format", fmt)
    assert status == 0
    assert not any("\ud800" <= char <= "\udfff" for char in out), "unpaired surrogate in output"
    assert "Evil\ufffdCorp" in out


def test_summary_works_when_the_cache_folder_is_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(blocker / "cache"))
    status = main(["summary", str(demo_archive()), "--format", "json"])
    captured = capsys.readouterr()
    assert status == 0
    assert json.loads(captured.out)["reports"] == 469
    assert "index not used" in captured.err
