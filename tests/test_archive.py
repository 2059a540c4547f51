"""Archive scan: folders, junk, loops, unreadable entries, odd names, de-duplication."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Attachment, build_email, build_policy, build_report, gz_report

from tlsrpt_tui.core.archive import (
    Archive,
    collect_files,
    is_candidate_name,
    iter_report_files,
    load_archive,
)
from tlsrpt_tui.core.reading.loader import load_file
from tlsrpt_tui.core.text import printable_path
from tlsrpt_tui.store.parallel.pool import load_archive as pool_load_archive

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def names(root: Path) -> list[str]:
    return sorted(shown for _, shown in collect_files([root]))


def test_recursive_scan_of_dated_folders(write: Any) -> None:
    write.json("2024/03/01/google.com!a.example!1!2!001.json", build_report(report_id="a"))
    write.gz("2024/03/02/r.json.gz", build_report(report_id="b"))
    write.eml("2024/04/mail.eml", [Attachment(gz_report(report_id="c"))])
    write.json("top.json", build_report(report_id="d"))
    archive = load_archive([write.root])
    assert archive.files == 4
    assert archive.errors == []
    assert sorted(r.report_id for r in archive.reports.values()) == ["a", "b", "c", "d"]
    assert sorted(archive.results) == [
        "2024/03/01/google.com!a.example!1!2!001.json",
        "2024/03/02/r.json.gz",
        "2024/04/mail.eml",
        "top.json",
    ]
    assert archive.locations["2024/03/02/r.json.gz"] == write.root / "2024/03/02/r.json.gz"


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.json",
        "r.json.tmp",
        "r.json.TMP",
        "r.json.part",
        "r.json.partial",
        "r.json~",
        "#r.json#",
        ".r.json.swp",
        "r.json.crdownload",
    ],
)
def test_hidden_and_temporary_names_skipped(write: Any, name: str) -> None:
    assert not is_candidate_name(name)
    write.json(name, build_report())
    write.json("ok.json", build_report(report_id="ok"))
    assert names(write.root) == ["ok.json"]


def test_hidden_folders_skipped(write: Any) -> None:
    write.json(".git/objects/r.json", build_report())
    write.json(".cache/r.json", build_report())
    write.json("reports/r.json", build_report())
    assert names(write.root) == ["reports/r.json"]


def test_symlink_loop_is_not_followed_forever(write: Any) -> None:
    write.json("a/b/r.json", build_report())
    (write.root / "a" / "b" / "up").symlink_to(write.root / "a", target_is_directory=True)
    (write.root / "a" / "self").symlink_to(write.root / "a", target_is_directory=True)
    (write.root / "loop1").symlink_to(write.root / "loop2")
    (write.root / "loop2").symlink_to(write.root / "loop1")
    files = list(iter_report_files(write.root))
    # (the walk ends; the file links that loop are named, for the loader's error entry)
    assert [f.name for f in files] == ["loop1", "loop2", "r.json"]
    archive = load_archive([write.root])
    assert archive.files == 3
    assert len(archive.reports) == 1
    assert [(e.source.path, e.error) for e in archive.errors] == [
        ("loop1", "cannot read file: symbolic link loop"),
        ("loop2", "cannot read file: symbolic link loop"),
    ]


def test_symlinked_folder_outside_root_followed_once(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "r.json").write_text(json.dumps(build_report()))
    root = tmp_path / "root"
    root.mkdir()
    (root / "link1").symlink_to(outside, target_is_directory=True)
    (root / "link2").symlink_to(outside, target_is_directory=True)
    assert names(root) == ["link1/r.json"]


def test_fifo_and_broken_symlink_survived(write: Any) -> None:
    write.json("good.json", build_report())
    if hasattr(os, "mkfifo"):
        os.mkfifo(write.root / "pipe.json")
    (write.root / "broken.json").symlink_to(write.root / "nowhere.json")
    archive = load_archive([write.root])
    # Survived, and not dropped without a word: each is an error entry (tests/test_skipped.py).
    assert len(archive.reports) == 1
    assert sorted((e.source.path, e.error) for e in archive.errors) == [
        ("broken.json", "cannot read file: broken symbolic link"),
        *([("pipe.json", "not a regular file: a FIFO (named pipe), never read")]
          if hasattr(os, "mkfifo") else []),
    ]  # fmt: skip


@pytest.mark.skipif(IS_ROOT, reason="root reads chmod 000 files anyway")
def test_unreadable_file_and_folder(write: Any) -> None:
    write.json("good.json", build_report(report_id="good"))
    secret = write.json("secret.json", build_report(report_id="secret"))
    locked = write.json("locked/inner.json", build_report(report_id="inner")).parent
    secret.chmod(0)
    locked.chmod(0)
    try:
        archive = load_archive([write.root])
    finally:
        secret.chmod(0o644)
        locked.chmod(0o755)
    assert [r.report_id for r in archive.reports.values()] == ["good"]
    assert [(e.source.path, e.error) for e in archive.errors] == [
        ("secret.json", "cannot read file: Permission denied"),
        ("locked", "cannot list folder: Permission denied"),
    ]


def test_permission_errors_simulated(write: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as above whoever runs the tests: reads and listings raise EACCES."""
    write.json("good.json", build_report(report_id="good"))
    secret = write.json("secret.json", build_report(report_id="secret"))
    locked = write.json("locked/inner.json", build_report(report_id="inner")).parent
    real_open, real_scandir = Path.open, os.scandir

    def fake_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == secret:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    def fake_scandir(path: Any = ".") -> Any:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(Path, "open", fake_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    archive = load_archive([write.root])
    assert [r.report_id for r in archive.reports.values()] == ["good"]
    assert [(e.source.path, e.error) for e in archive.errors] == [
        ("secret.json", "cannot read file: Permission denied"),
        ("locked", "cannot list folder: Permission denied"),
    ]


def test_file_vanishing_between_scan_and_read(write: Any) -> None:
    """What chmod 000 cannot show when tests run as root: a read that fails."""
    write.json("good.json", build_report(report_id="good"))
    gone = write.json("gone.json", build_report(report_id="gone"))
    files = collect_files([write.root])
    gone.unlink()
    archive = Archive()
    for path, shown in files:
        archive.add(load_file(path, display_path=shown), path)
    assert [r.report_id for r in archive.reports.values()] == ["good"]
    assert [(e.source.path, e.error.split(":")[0]) for e in archive.errors] == [
        ("gone.json", "cannot read file")
    ]
    assert archive.bad_files == 1


def test_non_utf8_file_names(write: Any) -> None:
    write.json(b"caf\xe9-report.json", build_report(report_id="latin1"))
    write.json(b"\xff-report.json", build_report(report_id="ff"))
    write.json(b"\xfe-report.json", build_report(report_id="fe"))
    write.raw(b"bad-\xff.json", b"garbage")
    archive = load_archive([write.root])
    assert archive.files == 4
    assert sorted(r.report_id for r in archive.reports.values()) == ["fe", "ff", "latin1"]
    shown = list(archive.results)
    assert len(set(shown)) == 4  # no two names collapse into one
    for name in shown:
        name.encode("utf-8")  # printable: no lone surrogates
        assert archive.locations[name].exists()
    assert [e.source.path for e in archive.errors] == ["bad-\\xff.json"]
    json.dumps({"errors": [e.source.path for e in archive.errors]}, ensure_ascii=False).encode()


def test_printable_path() -> None:
    assert printable_path("plain/ü.json") == "plain/ü.json"
    assert printable_path(os.fsdecode(b"a\xff")) == "a\\xff"


def same_report_everywhere(write: Any) -> None:
    obj = build_report()
    write.json("a/r.json", obj)
    write.gz("b/r.json.gz", obj)
    write.eml("c/r.eml", [Attachment(gz_report())])
    write.mbox("d/box.mbox", [build_email([Attachment(gz_report())])])


def test_duplicates_kept_once_with_every_path(write: Any) -> None:
    same_report_everywhere(write)
    archive = load_archive([write.root])
    assert archive.files == 4
    assert len(archive.reports) == 1
    assert archive.duplicates == 3
    (sources,) = archive.copies.values()
    assert sorted(s.path for s in sources) == ["a/r.json", "b/r.json.gz", "c/r.eml", "d/box.mbox"]
    assert {s.part for s in sources} == {
        None,
        "part 2 (google.com!example.com!1709251200!1709337599!001.json.gz)",
        "message 1, part 2 (google.com!example.com!1709251200!1709337599!001.json.gz)",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"organization_name": "Other Reporter"},
        {"report_id": "another-id"},
        {"start": "2024-03-02T00:00:00Z"},
        {"policies": [build_policy("example.com"), build_policy("example.net")]},
    ],
    ids=["org", "report-id", "start", "policy-domains"],
)
def test_identity_parts_each_make_a_distinct_report(write: Any, change: dict) -> None:
    write.json("a.json", build_report())
    write.json("b.json", build_report(**change))
    archive = load_archive([write.root])
    assert len(archive.reports) == 2
    assert archive.duplicates == 0


def test_identity_ignores_counts_and_normalised_domains(write: Any) -> None:
    write.json("a.json", build_report())
    write.json("b.json", build_report(policies=[build_policy("EXAMPLE.com.", successful=3)]))
    archive = load_archive([write.root])
    assert len(archive.reports) == 1
    assert archive.duplicates == 1


def test_add_and_remove_keep_counts_right(write: Any) -> None:
    same_report_everywhere(write)
    write.json("other.json", build_report(report_id="other"))
    write.raw("junk.json", b"nope")
    archive = load_archive([write.root])
    assert (archive.files, len(archive.reports), archive.duplicates, archive.bad_files) == (
        6,
        2,
        3,
        1,
    )
    (identity,) = [i for i, r in archive.reports.items() if r.report_id != "other"]
    first = archive.reports[identity].source.path
    archive.remove(first)
    assert (archive.files, len(archive.reports), archive.duplicates) == (5, 2, 2)
    assert archive.reports[identity].source.path != first
    assert first not in {s.path for s in archive.copies[identity]}
    archive.remove("junk.json")
    assert (archive.files, archive.bad_files, archive.errors) == (4, 0, [])
    for path in ["b/r.json.gz", "c/r.eml", "d/box.mbox"]:
        archive.remove(path)
    assert identity not in archive.reports
    assert identity not in archive.copies
    assert (archive.files, len(archive.reports), archive.duplicates) == (1, 1, 0)
    archive.remove("not/there.json")  # unknown paths are ignored
    assert archive.files == 1


def test_replacing_a_file(write: Any) -> None:
    path = write.json("r.json", build_report(report_id="old"))
    archive = Archive()
    assert len(archive.add(load_file(path, display_path="r.json"), path)) == 1
    write.json("r.json", build_report(report_id="new"))
    new = archive.add(load_file(path, display_path="r.json"), path)
    assert [r.report_id for r in new] == ["new"]
    assert archive.files == 1
    assert [r.report_id for r in archive.reports.values()] == ["new"]
    # Re-adding an identical copy is not a duplicate of itself.
    assert archive.add(load_file(path, display_path="r.json"), path) == []
    assert (archive.files, len(archive.reports), archive.duplicates) == (1, 1, 0)
    # A file that turns bad replaces its reports by its error.
    write.raw("r.json", b"{")
    archive.add(load_file(path, display_path="r.json"), path)
    assert (archive.files, len(archive.reports), archive.bad_files) == (1, 0, 1)


def test_same_report_twice_in_one_file(write: Any) -> None:
    message = build_email([Attachment(gz_report())])
    path = write.mbox("box.mbox", [message, message])
    archive = Archive()
    archive.add(load_file(path, display_path="box.mbox"), path)
    assert (len(archive.reports), archive.duplicates) == (1, 1)
    archive.remove("box.mbox")
    assert (archive.files, len(archive.reports), archive.duplicates) == (0, 0, 0)


def test_maildir(write: Any) -> None:
    messages = [build_email([Attachment(gz_report(report_id=f"m{i}"))]) for i in range(3)]
    root = write.maildir("Maildir", messages[:2])
    write.maildir("Maildir", messages[2:], new=False)
    (root / "tmp" / "123.being-delivered").write_bytes(
        build_email([Attachment(gz_report(report_id="tmp"))])
    )
    archive = load_archive([root])
    assert archive.errors == []
    assert sorted(r.report_id for r in archive.reports.values()) == ["m0", "m1", "m2"]
    assert {shown.split("/")[0] for shown in archive.results} == {"new", "cur"}


def test_mbox_in_archive(write: Any) -> None:
    write.mbox("box", [build_email([Attachment(gz_report(report_id=f"x{i}"))]) for i in range(3)])
    archive = load_archive([write.root])
    assert (archive.files, len(archive.reports)) == (1, 3)


def test_a_file_given_as_root(write: Any) -> None:
    path = write.json("deep/r.json", build_report())
    archive = load_archive([path])
    assert list(archive.results) == ["r.json"]
    assert archive.locations["r.json"] == path


def test_same_file_under_two_roots_counted_once(write: Any) -> None:
    write.json("a/r.json", build_report())
    write.json("a/sub/s.json", build_report(report_id="s"))
    archive = load_archive([write.root / "a", write.root / "a" / "sub", write.root / "a/r.json"])
    assert archive.files == 2
    assert archive.duplicates == 0


def test_two_roots_with_the_same_relative_names(write: Any) -> None:
    write.json("one/r.json", build_report(report_id="one"))
    write.json("two/r.json", build_report(report_id="two"))
    archive = load_archive([write.root / "one", write.root / "two"])
    assert archive.files == 2
    assert sorted(r.report_id for r in archive.reports.values()) == ["one", "two"]
    assert "r.json" in archive.results


def test_parallel_loading_matches_serial(write: Any) -> None:
    for day in range(1, 9):
        obj = build_report(report_id=f"d{day}", start=f"2024-03-{day:02d}T00:00:00Z")
        write.json(f"2024/03/{day:02d}/r.json", obj)
        write.gz(f"2024/03/{day:02d}/copy.json.gz", obj)
    write.raw("bad.json", b"[")
    calls: list[tuple[int, int]] = []
    serial = load_archive([write.root], progress=lambda d, t: calls.append((d, t)))
    parallel = pool_load_archive([write.root], jobs=2)
    assert calls[0] == (0, 17) and calls[-1] == (17, 17)
    assert serial.files == parallel.files == 17
    assert list(serial.reports) == list(parallel.reports)
    assert serial.copies == parallel.copies
    assert serial.errors == parallel.errors
    assert serial.duplicates == 8


def test_sorted_reports(write: Any) -> None:
    write.json("b.json", build_report(report_id="late", start="2024-03-05T00:00:00Z"))
    write.json("a.json", build_report(report_id="early", start="2024-03-01T00:00:00Z"))
    archive = load_archive([write.root])
    assert [r.report_id for r in archive.sorted_reports()] == ["early", "late"]
