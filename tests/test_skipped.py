"""Nothing is skipped without a word: what the walk cannot read is an error entry with a
plain reason, the same with the index (cold, warm, after a change, full check) and
without it (``--no-cache``)."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from conftest import Attachment, build_email, build_report, gz_report

import tlsrpt_tui.commands.summary
import tlsrpt_tui.core.archive
import tlsrpt_tui.core.facts
import tlsrpt_tui.store.index  # noqa: F401  (loaded before a child drops root)
from tlsrpt_tui.cli import main
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.reading.loader import MAX_MIME_DEPTH, load_file

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534

FIFO = "not a regular file: a FIFO (named pipe), never read"
DEVICE = "not a regular file: a character device, never read"
SOCKET = "not a regular file: a socket, never read"
BROKEN = "cannot read file: broken symbolic link"
LOOP = "cannot read file: symbolic link loop"
LOCKED = "cannot list folder: Permission denied"
TOO_DEEP = f"MIME parts nested too deeply (more than {MAX_MIME_DEPTH} levels)"


def summary(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["summary", "--jobs", "1", "--format", "json", *args])
    assert status == 0
    return json.loads(out.getvalue())


def outcome(doc: dict[str, Any]) -> tuple[int, int, list[tuple[str, str]]]:
    return doc["files"], doc["reports"], sorted((e["path"], e["error"]) for e in doc["errors"])


def every_way(*paths: Path) -> list[tuple[int, int, list[tuple[str, str]]]]:
    """The summary without the index, then through it: cold, warm and a full check."""
    given = [str(p) for p in paths]
    return [
        outcome(summary(*given, "--no-cache")),
        outcome(summary(*given)),
        outcome(summary(*given)),
        outcome(summary(*given, "--full-check")),
    ]


def make_specials(folder: Path) -> dict[str, str]:
    """A FIFO, a device (a link to /dev/null), a socket, a broken link and a link loop;
    returns name -> the error each must be."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "pipe.json")  # (never opened: that would block)
    (folder / "null.json").symlink_to("/dev/null")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock.json"))
    (folder / "broken.json.gz").symlink_to(folder / "nowhere.json.gz")
    (folder / "loop.json").symlink_to("loop.json")
    return {
        "pipe.json": FIFO,
        "null.json": DEVICE,
        "sock.json": SOCKET,
        "broken.json.gz": BROKEN,
        "loop.json": LOOP,
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and Unix sockets")
def test_fifo_device_socket_and_broken_links_are_errors_both_ways(write: Any) -> None:
    write.json("good.json", build_report(report_id="good"))
    expected = make_specials(write.root / "2024" / "03")
    want = sorted((f"2024/03/{name}", error) for name, error in expected.items())
    assert every_way(write.root) == [(6, 1, want)] * 4
    # A change in that folder (one more report) keeps them all as errors.
    write.gz("2024/03/more.json.gz", build_report(report_id="more"))
    assert every_way(write.root)[1:] == [(7, 2, want)] * 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and Unix sockets")
def test_each_given_as_path_is_an_error_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = make_specials(tmp_path / "odd")
    for name in ("broken.json.gz", "loop.json"):
        # A PATH that leads nowhere is a usage error (exit 2) that names it.
        error = expected.pop(name)
        for extra in (["--no-cache"], []):
            assert main(["summary", str(tmp_path / "odd" / name), *extra]) == 2
            assert name in capsys.readouterr().err, error
    for name, error in expected.items():
        assert every_way(tmp_path / "odd" / name) == [(1, 0, [(name, error)])] * 4, name


def test_explorer_without_index_lists_them_as_bad_files(write: Any) -> None:
    write.json("good.json", build_report(report_id="good"))
    expected = make_specials(write.root)
    archive = load_archive([write.root])
    assert [r.report_id for r in archive.reports.values()] == ["good"]
    assert sorted((e.source.path, e.error) for e in archive.errors) == sorted(expected.items())


# --------------------------------------------------------------------------- folders


def as_nobody(work: Callable[[], Any]) -> Any:
    """``work()`` in a forked child that dropped root for nobody (root reads a chmod 000
    folder anyway); its JSON-able result. Everything it needs is imported already."""
    if not IS_ROOT:
        return work()
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            data = json.dumps(work()).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        except BaseException as exc:
            sys.stderr.write(f"child failed: {exc!r}\n")
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(data)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder the nobody user can reach and write (pytest's tmp_path is root's only),
    with the index's cache folder in it."""
    top = Path(tempfile.mkdtemp(prefix="tlsrpt-skipped-"))
    top.chmod(0o755)
    cache = top / "cache"
    cache.mkdir()
    if IS_ROOT:
        os.chown(cache, NOBODY, NOBODY)
    old = os.environ.get("TLSRPT_TUI_CACHE_DIR")
    os.environ["TLSRPT_TUI_CACHE_DIR"] = str(cache)
    try:
        yield top
    finally:
        for path in top.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        if old is None:
            os.environ.pop("TLSRPT_TUI_CACHE_DIR", None)
        else:
            os.environ["TLSRPT_TUI_CACHE_DIR"] = old
        shutil.rmtree(top)


def test_a_folder_that_cannot_be_listed_is_an_error_both_ways(shared_tmp: Path) -> None:
    root = shared_tmp / "reports"
    (root / "2024" / "locked").mkdir(parents=True)
    (root / "2024" / "locked" / "inner").mkdir()
    (root / "good.json").write_text(json.dumps(build_report(report_id="good")))
    (root / "2024" / "locked" / "hidden.json.gz").write_bytes(gz_report(report_id="hidden"))
    (root / "2024" / "locked" / "inner" / "deep.json").write_text(
        json.dumps(build_report(report_id="deep", start="2024-03-02T00:00:00Z"))
    )
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)

    def ways() -> list[Any]:
        return every_way(root)

    # Readable: indexed with everything in it.
    assert as_nobody(ways) == [[3, 3, []]] * 4
    # Locked: its reports are not silently missing, the folder is an error entry; a
    # refresh of the index (the folder's parent unchanged) sees it too.
    (root / "2024" / "locked").chmod(0)
    assert as_nobody(ways) == [[2, 1, [["2024/locked", LOCKED]]]] * 4
    # Readable again: the error is gone and the reports are back.
    (root / "2024" / "locked").chmod(0o755)
    assert as_nobody(ways) == [[3, 3, []]] * 4


def test_the_folder_given_cannot_be_listed(shared_tmp: Path) -> None:
    root = shared_tmp / "reports"
    root.mkdir()
    (root / "good.json").write_text(json.dumps(build_report(report_id="good")))
    (root / "good.json").chmod(0o644)
    root.chmod(0)
    assert as_nobody(lambda: every_way(root)) == [[1, 0, [[str(root), LOCKED]]]] * 4


# --------------------------------------------------------------------------- mail


def deep_mime(depth: int) -> bytes:
    """A message whose multipart parts nest ``depth`` levels deep."""
    lines = [
        "From: a@reporter.example\r\nTo: b@example.com\r\nSubject: deep\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    ]
    for level in range(1, depth):
        lines.append(
            f'--b{level - 1}\r\nContent-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
        )
    lines.append(f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
    lines.extend(f"--b{level}--\r\n" for level in reversed(range(depth)))
    return "".join(lines).encode()


@pytest.mark.parametrize("depth", [MAX_MIME_DEPTH + 1, 3000])
def test_deeply_nested_mime_is_a_plain_error_both_ways(write: Any, depth: int) -> None:
    write.raw("deep.eml", deep_mime(depth))
    write.mbox("inbox.mbox", [deep_mime(depth), build_email([Attachment(gz_report())])])
    assert load_file(write.root / "deep.eml").errors[0].error == TOO_DEEP
    want = [("deep.eml", TOO_DEEP), ("inbox.mbox", f"message 1: {TOO_DEEP}")]
    assert every_way(write.root) == [(2, 1, want)] * 4


def test_mime_nested_as_deep_as_allowed_still_loads(write: Any) -> None:
    message = deep_mime(MAX_MIME_DEPTH - 1).replace(
        b"Content-Type: text/plain\r\n\r\nhello\r\n",
        b"Content-Type: application/tlsrpt+json\r\n\r\n" + json.dumps(build_report()).encode()
        + b"\r\n",
    )  # fmt: skip
    result = load_file(write.raw("deep.eml", message))
    assert result.errors == [] and len(result.reports) == 1


def test_import_says_plainly_that_a_message_nests_too_deeply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "deep.eml"
    source.write_bytes(deep_mime(3000))
    out = tmp_path / "reports"
    assert main(["import", str(source), "--dir", str(out), "--accept-unsigned"]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("errors 1")
    assert f"deep.eml: {TOO_DEEP}" in captured.err
    assert "RecursionError" not in captured.out + captured.err


# --------------------------------------------------------------------------- watcher


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_the_watchers_changes_name_them_too(write: Any) -> None:
    """What the explorer's watcher hands the index (apply_changes) ends as a refresh
    does: a FIFO or a broken link is an error entry."""
    from tlsrpt_tui.store.index import open_index

    write.json("good.json", build_report(report_id="good"))
    store = open_index([write.root], jobs=1)
    try:
        os.mkfifo(write.root / "pipe.json")
        (write.root / "broken.json").symlink_to(write.root / "nowhere.json")
        store.apply_changes([write.root / "pipe.json", write.root / "broken.json"])
        errors = sorted((e.source.path, e.error) for e in store.errors())
        assert errors == [("broken.json", BROKEN), ("pipe.json", FIFO)]
        assert store.summary()["reports"] == 1
        doc = summary(str(write.root), "--no-cache")
        assert sorted((e["path"], e["error"]) for e in doc["errors"]) == errors
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_import_names_a_fifo_and_a_broken_link_and_never_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mail"
    maildir_new = source / "box" / "new"
    for sub in ("new", "cur", "tmp"):
        (source / "box" / sub).mkdir(parents=True)
    os.mkfifo(source / "pipe.eml")
    (source / "broken.eml").symlink_to(tmp_path / "nowhere.eml")
    os.mkfifo(maildir_new / "1714600000.M1P1.host")
    out = tmp_path / "reports"
    statuses: list[int] = []

    def run(*sources: Path) -> None:
        statuses.append(
            main(["import", *map(str, sources), "--dir", str(out), "--accept-unsigned"])
        )

    for sources in ((source,), (source / "pipe.eml",)):
        worker = threading.Thread(target=run, args=sources, daemon=True)
        worker.start()
        worker.join(20)
        if worker.is_alive():
            for fifo in (source / "pipe.eml", maildir_new / "1714600000.M1P1.host"):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # let it go
            worker.join(10)
            pytest.fail(f"import of {sources} blocked reading a FIFO")
    captured = capsys.readouterr()
    assert statuses == [1, 1]
    assert captured.err.splitlines() == [
        f"tlsrpt-tui: {source / 'box' / 'new' / '1714600000.M1P1.host'}: {FIFO}",
        f"tlsrpt-tui: {source / 'broken.eml'}: {BROKEN}",
        f"tlsrpt-tui: {source / 'pipe.eml'}: {FIFO}",
        f"tlsrpt-tui: {source / 'pipe.eml'}: {FIFO}",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("use_index", [False, True])
async def test_explorer_watching_names_a_fifo(
    write: Any, use_index: bool
) -> None:
    from tlsrpt_tui.store.queries import Filter
    from tlsrpt_tui.ui.app import ExplorerApp

    write.json("good.json", build_report(report_id="good"))
    app = ExplorerApp([write.root], watch=True, use_index=use_index)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.loading:
                break
        await pilot.pause(0.5)  # let the watcher start
        os.mkfifo(write.root / "pipe.json")
        # (a report that arrives after them: once it shows, the watcher has seen them)
        write.json("later.json", build_report(report_id="later", start="2024-03-02T00:00:00Z"))
        for _ in range(100):
            await pilot.pause(0.1)
            if app.store.overview(Filter()).reports >= 2 and app.store.errors():
                break
        await pilot.pause(0.3)
        assert [(e.source.path, e.error) for e in app.store.errors()] == [("pipe.json", FIFO)]
        assert app.store.overview(Filter()).reports == 2
