"""``tlsrpt-tui fetch imap`` against a real dovecot on loopback (IMAPS and STARTTLS)."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import (
    DkimKey,
    DnsServer,
    Dovecot,
    TestCA,
    build_report_mail,
    corpus_emails,
    make_report,
    serving_keys,
    unrelated_mail,
)

import tlsrpt_tui.ingest.imap as imap_module
from tlsrpt_tui.cli import main
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.loader import load_file, parse_message
from tlsrpt_tui.ingest.dkim_check import make_dnsfunc
from tlsrpt_tui.ingest.imap import ImapConfig, encode_mailbox, fetch_imap
from tlsrpt_tui.ingest.mail import IngestOptions
from tlsrpt_tui.ingest.store import ReportStore, read_sidecars

PASSWORD_ENV = "TLSRPT_IMAP_PASSWORD"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys() -> dict[str, DkimKey]:
    return {
        "reporter": DkimKey("reporter.example", "sel1"),
        "google": DkimKey("google.com", "tlsrpt-test"),
        "microsoft": DkimKey("microsoft.com", "tlsrpt-test"),
        "mailru": DkimKey("corp.mail.ru", "tlsrpt-test"),
    }


@pytest.fixture(scope="module")
def dns_server(keys: dict[str, DkimKey]) -> Iterator[DnsServer]:
    with serving_keys(keys.values()) as server:
        yield server


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)


def fetch(
    dovecot: Dovecot, dns: DnsServer, out: Path, folder: str, *extra: str, starttls: bool = False
) -> int:
    port = dovecot.imap_port if starttls else dovecot.imaps_port
    return main(
        [
            "fetch",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *(["--starttls"] if starttls else []),
            "--user",
            dovecot.user,
            "--folder",
            folder,
            "--ca-file",
            str(dovecot.ca.ca_file),
            "--timeout",
            "20",
            "--dir",
            str(out),
            "--dns-resolver",
            dns.address,
            "--dns-timeout",
            "2",
            *extra,
        ]
    )


def summary_line(output: str) -> str:
    return [line for line in output.splitlines() if line.startswith("saved ")][-1]


def archived(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.json.gz")
        if not p.name.startswith(".") and "quarantine" not in p.relative_to(root).parts
    )


def quarantined(root: Path) -> list[Path]:
    return sorted(p for p in (root / "quarantine").rglob("*.json.gz") if not p.name.startswith("."))


def message_id(raw: bytes) -> str:
    return str(parse_message(raw)["Message-ID"]).strip()


def signed(key: DkimKey, report_id: str, day: int, **kwargs: Any) -> bytes:
    report = make_report(
        organization="Reporter Example",
        report_id=report_id,
        start=dt.datetime(2024, 7, day, tzinfo=dt.UTC),
        contact=f"tlsrpt@{key.domain}",
    )
    return key.sign(build_report_mail(report, submitter=key.domain, **kwargs))


def broken_report_mail(key: DkimKey) -> bytes:
    raw = build_report_mail(make_report(report_id="broken"), submitter=key.domain)
    head, _, tail = raw.rpartition(b"\r\n\r\n--")
    return key.sign(head[: len(head) - 40] + b"\r\n\r\n--" + tail)


def test_fetch_over_imaps(
    dovecot: Dovecot,
    dns_server: DnsServer,
    keys: dict[str, DkimKey],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = "Reports1"
    reporter = keys["reporter"]
    corpus = [p.read_bytes() for p in corpus_emails()]
    built = [
        signed(reporter, "imap-google", 1, style="google"),
        signed(reporter, "imap-microsoft", 2, style="microsoft"),
        signed(reporter, "imap-mailru-json", 3, style="mailru", gz=False),
    ]
    already_seen = signed(reporter, "imap-seen-before", 4)
    unrelated = [unrelated_mail("Lunch?"), unrelated_mail("Re: invoices")]
    broken = broken_report_mail(reporter)
    for raw in [*corpus, *built, *unrelated, broken]:
        dovecot.append(folder, raw)
    dovecot.append(folder, already_seen, r"(\Seen)")

    # Check the order of events: a message is flagged only when its reports are on disk.
    flagged_with_files: list[bool] = []
    last: dict[str, Any] = {}
    real_ingest = imap_module.ingest_message  # type: ignore[attr-defined]
    real_finish = imap_module._finish_message

    def spy_ingest(*args: Any, **kwargs: Any) -> Any:
        last["outcome"] = real_ingest(*args, **kwargs)
        return last["outcome"]

    def spy_finish(*args: Any, **kwargs: Any) -> None:
        paths = last["outcome"].saved
        flagged_with_files.append(
            all(p.exists() and gzip.decompress(p.read_bytes()) for p in paths)
        )
        real_finish(*args, **kwargs)

    monkeypatch.setattr(imap_module, "ingest_message", spy_ingest)
    monkeypatch.setattr(imap_module, "_finish_message", spy_finish)

    out = tmp_path / "reports"
    status = fetch(dovecot, dns_server, out, folder)
    captured = capsys.readouterr()
    assert status == 1, captured.err  # the broken report is an error
    assert summary_line(captured.out) == (
        f"saved 3, duplicates 0, quarantined {len(corpus)}, messages without report 2, errors 1"
    )
    assert "invalid report" in captured.err
    assert flagged_with_files == [True] * (len(corpus) + 3)
    assert len(archived(out)) == 3
    assert len(quarantined(out)) == len(corpus)
    archive = load_archive([out])
    assert archive.errors == []
    for path in archived(out):
        sidecar = read_sidecars(path)["dkim"]
        assert sidecar["verdict"] == "pass" and sidecar["via"] == "imap"
        assert sidecar["source"].startswith("imap://reports@127.0.0.1:")

    flags = dovecot.flags(folder)
    for raw in [*corpus, *built]:
        assert r"\Seen" in flags[message_id(raw)]
    for raw in [*unrelated, broken]:
        assert r"\Seen" not in flags[message_id(raw)], "left alone"
    assert dovecot.count(folder) == len(corpus) + 3 + 2 + 1 + 1

    # Again: the report mail is seen now; the rest is still left alone.
    status = fetch(dovecot, dns_server, out, folder)
    assert status == 1
    assert summary_line(capsys.readouterr().out) == (
        "saved 0, duplicates 0, quarantined 0, messages without report 2, errors 1"
    )
    # Everything, seen or not: only the message seen before we came is new.
    status = fetch(dovecot, dns_server, out, folder, "--all")
    assert summary_line(capsys.readouterr().out) == (
        f"saved 1, duplicates {len(corpus) + 3}, quarantined 0, messages without report 2, errors 1"
    )
    assert len(archived(out)) == 4
    assert len(quarantined(out)) == len(corpus)


def test_fetch_with_starttls_and_move(
    dovecot: Dovecot,
    dns_server: DnsServer,
    keys: dict[str, DkimKey],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = "Reports2"
    processed = "Processed Réports"
    corpus = corpus_emails()
    resigned: list[bytes] = []
    for path in corpus:
        name = path.name.lower()
        key = (
            keys["google"]
            if "google" in name
            else (keys["microsoft"] if "microsoft" in name else keys["mailru"])
        )
        resigned.append(key.sign(path.read_bytes()))
    lunch = unrelated_mail("Lunch on Friday")
    for raw in [*resigned, lunch]:
        dovecot.append(folder, raw)

    out = tmp_path / "reports"
    status = fetch(dovecot, dns_server, out, folder, "--move-to", processed, starttls=True)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert summary_line(captured.out) == (
        f"saved {len(corpus)}, duplicates 0, quarantined 0, messages without report 1, errors 0"
    )
    assert len(archived(out)) == len(corpus)
    assert dovecot.count(folder) == 1  # only the lunch mail stayed
    assert r"\Seen" not in dovecot.flags(folder)[message_id(lunch)]
    moved = dovecot.flags(encode_mailbox(processed))
    assert len(moved) == len(corpus)
    assert all(r"\Seen" in flags for flags in moved.values())
    for path in archived(out):
        assert load_file(path).reports
        assert read_sidecars(path)["dkim"]["verdict"] == "pass"


def test_untrusted_certificate_is_refused(
    dovecot: Dovecot,
    dns_server: DnsServer,
    keys: dict[str, DkimKey],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = "Reports3"
    raw = signed(keys["reporter"], "untrusted", 10)
    dovecot.append(folder, raw)
    other_ca = TestCA(tmp_path / "other-ca")
    out = tmp_path / "reports"
    for starttls in (False, True):
        status = main(
            [
                "fetch",
                "imap",
                "--host",
                "127.0.0.1",
                "--port",
                str(dovecot.imap_port if starttls else dovecot.imaps_port),
                *(["--starttls"] if starttls else []),
                "--user",
                dovecot.user,
                "--folder",
                folder,
                "--ca-file",
                str(other_ca.ca_file),
                "--dir",
                str(out),
            ]
        )
        assert status == 1
        assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
    assert archived(out) == []
    assert r"\Seen" not in dovecot.flags(folder)[message_id(raw)]


def test_passwords_and_usage_errors(
    dovecot: Dovecot,
    dns_server: DnsServer,
    keys: dict[str, DkimKey],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = "Reports4"
    dovecot.append(folder, signed(keys["reporter"], "password-file", 11))
    out = tmp_path / "reports"

    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    assert fetch(dovecot, dns_server, out, folder) == 1
    assert "login failed" in capsys.readouterr().err

    monkeypatch.delenv(PASSWORD_ENV)
    assert fetch(dovecot, dns_server, out, folder) == 2
    assert "no password" in capsys.readouterr().err

    secret = tmp_path / "imap-password"
    secret.write_text(Dovecot.password + "\n", "utf-8")
    secret.chmod(0o600)
    assert fetch(dovecot, dns_server, out, folder, "--password-file", str(secret)) == 0
    assert summary_line(capsys.readouterr().out).startswith("saved 1, ")

    monkeypatch.setenv("MY_IMAP_SECRET", Dovecot.password)
    assert fetch(dovecot, dns_server, out, folder, "--password-env", "MY_IMAP_SECRET", "--all") == 0
    assert summary_line(capsys.readouterr().out).startswith("saved 0, duplicates 1")

    # no such folder: an error, not a crash
    monkeypatch.setenv(PASSWORD_ENV, Dovecot.password)
    assert fetch(dovecot, dns_server, out, "No such folder") == 1
    assert "SELECT" in capsys.readouterr().err


def test_message_is_not_flagged_when_its_report_cannot_be_written(
    dovecot: Dovecot,
    dns_server: DnsServer,
    keys: dict[str, DkimKey],
    tmp_path: Path,
) -> None:
    folder = "Reports5"
    first = signed(keys["reporter"], "disk-ok", 12)
    second = signed(keys["reporter"], "disk-full", 13)
    for raw in (first, second):
        dovecot.append(folder, raw)

    class FullDisk(ReportStore):
        def save(self, payload: bytes, report: Any, **kwargs: Any) -> Any:
            if report.report_id == "disk-full":
                raise OSError(28, "No space left on device")
            return super().save(payload, report, **kwargs)

    config = ImapConfig(
        host="127.0.0.1",
        port=dovecot.imaps_port,
        user=dovecot.user,
        password=dovecot.password,
        folder=folder,
        ca_file=str(dovecot.ca.ca_file),
        timeout=20,
    )
    options = IngestOptions(dnsfunc=make_dnsfunc(dns_server.address), via="imap")
    out = tmp_path / "reports"
    totals = fetch_imap(config, FullDisk(out), options)
    assert (totals.saved, totals.errors) == (1, 1)
    assert "No space left" in totals.error_messages[0]
    flags = dovecot.flags(folder)
    assert r"\Seen" in flags[message_id(first)]
    assert r"\Seen" not in flags[message_id(second)]
    # the disk has room again: the next run picks it up
    totals = fetch_imap(config, ReportStore(out), options)
    assert (totals.saved, totals.errors, totals.duplicates) == (1, 0, 0)
    assert r"\Seen" in dovecot.flags(folder)[message_id(second)]
    assert len(archived(out)) == 2


def test_encode_mailbox() -> None:
    assert encode_mailbox("INBOX") == '"INBOX"'
    assert encode_mailbox("Processed Réports") == '"Processed R&AOk-ports"'
    assert encode_mailbox('a"b\\c&d') == '"a\\"b\\\\c&-d"'
