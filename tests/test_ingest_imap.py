"""``tlsrpt-tui fetch imap`` against a real dovecot on loopback (IMAPS and STARTTLS)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import (
    REPO,
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
from tlsrpt_tui.core.reading.loader import load_file, parse_message
from tlsrpt_tui.ingest.dkim_check import make_dnsfunc
from tlsrpt_tui.ingest.imap import ImapConfig, encode_mailbox, fetch_imap
from tlsrpt_tui.ingest.mail import IngestOptions
from tlsrpt_tui.ingest.report_dir import ReportStore, read_sidecars

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


# --------------------------------------------------------------------------- overlap and crashes


def fetch_command(
    dovecot: Dovecot, dns: DnsServer, out: Path, folder: str, *extra: str
) -> list[str]:
    return [
        "fetch",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        str(dovecot.imaps_port),
        "--user",
        dovecot.user,
        "--folder",
        folder,
        "--ca-file",
        str(dovecot.ca.ca_file),
        "--timeout",
        "60",
        "--dir",
        str(out),
        "--dns-resolver",
        dns.address,
        "--dns-timeout",
        "2",
        *extra,
    ]


#: Runs the command in a fresh interpreter; with a target, SIGKILLs itself the first
#: time that function is called (a crash at exactly that point: no clean-up runs).
CRASH_RUNNER = """
import os, signal, sys
target = sys.argv[1]
if target:
    module_name, _, attribute = target.rpartition(":")
    import importlib
    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    def crash(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(owner, name, crash)
from tlsrpt_tui.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def start_fetch(args: list[str], crash_at: str = "") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), PASSWORD_ENV: Dovecot.password}
    return subprocess.Popen(
        [sys.executable, "-c", CRASH_RUNNER, crash_at, *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=240)
    return process.returncode, out.decode(), err.decode()


def test_two_overlapping_move_runs_move_each_message_once(
    dovecot: Dovecot, dns_server: DnsServer, keys: dict[str, DkimKey], tmp_path: Path
) -> None:
    """A cron run overlapping the last: before, both read the same messages, both
    moved them (extra copies in the target) and one reported false MOVE errors."""
    folder, target = "Overlap", "OverlapDone"
    messages = [signed(keys["reporter"], f"overlap-{i}", 1 + i % 28) for i in range(60)]
    with dovecot.connect() as connection:
        connection.create(folder)
        for raw in messages:
            status, data = connection.append(folder, None, None, raw)
            assert status == "OK", data
    out = tmp_path / "reports"
    args = fetch_command(dovecot, dns_server, out, folder, "--move-to", target)
    runs = [start_fetch(args), start_fetch(args)]
    results = [finish(run) for run in runs]
    for status, _, stderr in results:
        assert status == 0, stderr
        assert "MOVE failed" not in stderr and "EXPUNGEISSUED" not in stderr
    saved = sum(int(summary_line(stdout).split(",")[0].split()[1]) for _, stdout, _ in results)
    assert saved == len(messages)
    assert dovecot.count(folder) == 0
    assert dovecot.count(target) == len(messages)  # each exactly once
    assert len(archived(out)) == len(messages)


def test_message_expunged_by_another_client_is_done_not_an_error(
    dovecot: Dovecot,
    dns_server: DnsServer,
    keys: dict[str, DkimKey],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another client (a mail program: the lock does not cover it) takes a message
    between this run's SEARCH and its FETCH: that message is done, not an error."""
    folder = "Expunged"
    taken = signed(keys["reporter"], "expunged-elsewhere", 5)
    kept = signed(keys["reporter"], "kept", 6)
    for raw in (taken, kept):
        dovecot.append(folder, raw)
    real_fetch_body = imap_module._fetch_body
    calls: list[bytes] = []

    def expunge_elsewhere_first(connection: Any, uid: bytes) -> Any:
        if not calls:
            with dovecot.connect() as other:
                other.select(folder)
                _, found = other.search(None, "HEADER", "Message-ID", message_id(taken))
                for number in found[0].split():
                    other.store(number, "+FLAGS", r"(\Deleted)")
                other.expunge()
        calls.append(uid)
        return real_fetch_body(connection, uid)

    monkeypatch.setattr(imap_module, "_fetch_body", expunge_elsewhere_first)
    config = ImapConfig(
        host="127.0.0.1",
        port=dovecot.imaps_port,
        user=dovecot.user,
        password=dovecot.password,
        folder=folder,
        move_to="ExpungedDone",
        ca_file=str(dovecot.ca.ca_file),
        timeout=20,
    )
    options = IngestOptions(dnsfunc=make_dnsfunc(dns_server.address), via="imap")
    out = tmp_path / "reports"
    verbose = io.StringIO()
    totals = fetch_imap(config, ReportStore(out), options, verbose=verbose)
    assert (totals.saved, totals.errors) == (1, 0), totals.error_messages
    assert len(calls) == 2
    assert "expunged by another client before it was read" in verbose.getvalue()
    assert dovecot.count(folder) == 0
    assert list(dovecot.flags("ExpungedDone")) == [message_id(kept)]


def test_run_killed_between_seen_and_move_is_finished_by_the_next(
    dovecot: Dovecot, dns_server: DnsServer, keys: dict[str, DkimKey], tmp_path: Path
) -> None:
    folder, target = "KilledMove", "KilledMoveDone"
    raw = signed(keys["reporter"], "killed-before-move", 7)
    dovecot.append(folder, raw)
    out = tmp_path / "reports"
    args = fetch_command(dovecot, dns_server, out, folder, "--move-to", target)
    status, _, _ = finish(start_fetch(args, "tlsrpt_tui.ingest.imap:_move_message"))
    assert status == -9  # killed at that point
    assert len(archived(out)) == 1  # the report is safe
    assert r"\Seen" in dovecot.flags(folder)[message_id(raw)]
    assert dovecot.count(target) in (-1, 0)
    status, stdout, stderr = finish(start_fetch(args))
    assert status == 0, stderr
    assert summary_line(stdout).startswith("saved 0, duplicates 1,")
    assert dovecot.count(folder) == 0
    assert dovecot.count(target) == 1
    assert len(archived(out)) == 1


def test_run_killed_while_a_signed_copy_replaces_a_quarantined_one(
    dovecot: Dovecot, dns_server: DnsServer, keys: dict[str, DkimKey], tmp_path: Path
) -> None:
    folder = "KilledReplace"
    report = make_report(
        organization="Reporter Example",
        report_id="replace-me",
        start=dt.datetime(2024, 7, 8, tzinfo=dt.UTC),
        contact="tlsrpt@reporter.example",
    )
    unsigned = build_report_mail(report, submitter="reporter.example")
    dovecot.append(folder, unsigned)
    out = tmp_path / "reports"
    args = fetch_command(dovecot, dns_server, out, folder)
    status, _, stderr = finish(start_fetch(args))
    assert status == 0, stderr
    assert len(quarantined(out)) == 1 and archived(out) == []
    resigned = keys["reporter"].sign(build_report_mail(report, submitter="reporter.example"))
    dovecot.append(folder, resigned)
    crash_at = "tlsrpt_tui.ingest.report_dir:ReportStore._remove_quarantined"
    status, _, _ = finish(start_fetch(args, crash_at))
    assert status == -9
    assert len(archived(out)) == 1 and len(quarantined(out)) == 1  # in both places
    status, stdout, stderr = finish(start_fetch(args))
    assert status == 0, stderr
    assert summary_line(stdout).startswith("saved 0, duplicates 1, quarantined 0")
    assert len(archived(out)) == 1
    assert quarantined(out) == []  # the replacement was finished
    assert not [p for p in (out / "quarantine").rglob(".*.json") if p.is_file()]
    assert r"\Seen" in dovecot.flags(folder)[message_id(resigned)]


# --------------------------------------------------------------------------- without report


def pdf_mail() -> bytes:
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    outer = MIMEMultipart()
    outer["From"] = "billing@vendor.example"
    outer["Subject"] = "Your invoice"
    outer["Message-ID"] = "<invoice-1@vendor.example>"
    outer.attach(MIMEText("Please find the invoice attached.\n"))
    part = MIMEApplication(b"%PDF-1.4 not a report", "pdf")
    part.add_header("Content-Disposition", "attachment", filename="invoice.pdf")
    outer.attach(part)
    return outer.as_bytes().replace(b"\n", b"\r\n")


def smime_mail() -> bytes:
    return (
        b"From: noreply-smtp-tls-reporting@reporter.example\r\n"
        b"Subject: Report Domain: example.com Submitter: reporter.example\r\n"
        b"Message-ID: <smime-1@reporter.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
        b"MIAGCSqGSIb3DQEHA6CAMIACAQAxggFAMIIBPAIBADAkMBcxFTATBgNVBAMTDHRscnB0LXRl\r\n"
    )


def test_messages_without_report_say_why(
    dovecot: Dovecot, dns_server: DnsServer, tmp_path: Path
) -> None:
    folder = "NoReport"
    for raw in (pdf_mail(), smime_mail(), unrelated_mail("Coffee?")):
        dovecot.append(folder, raw)
    out = tmp_path / "reports"
    status, stdout, stderr = finish(
        start_fetch(fetch_command(dovecot, dns_server, out, folder, "-v"))
    )
    assert status == 0, stderr
    assert summary_line(stdout) == (
        "saved 0, duplicates 0, quarantined 0, messages without report 3 "
        "(1 with an attachment not named or typed as a report, 1 opaque S/MIME), errors 0"
    )
    lines = [line for line in stdout.splitlines() if line.startswith("without report: ")]
    assert len(lines) == 3
    assert any(
        "attachment 'invoice.pdf' (application/pdf) is neither named nor typed as a report" in line
        for line in lines
    )
    assert any(
        "opaque S/MIME (application/pkcs7-mime; smime-type=enveloped-data)" in line
        for line in lines
    )
    assert any(line.endswith(": no attachment") for line in lines)
    # still left alone
    assert all(r"\Seen" not in flags for flags in dovecot.flags(folder).values())


# --------------------------------------------------------------------------- STARTTLS on a TLS port


def test_starttls_against_an_implicit_tls_port_fails_at_once(
    dovecot: Dovecot, dns_server: DnsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = fetch_command(dovecot, dns_server, tmp_path / "reports", "INBOX", "--starttls")
    started = time.monotonic()
    assert main(args) == 1  # (--port is the imaps port, --timeout 60)
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert "answers like a TLS port" in err and "leave out --starttls" in err
    assert took < 10, took


def test_implicit_tls_against_a_plain_imap_port_says_so(
    dovecot: Dovecot, dns_server: DnsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same mistake the other way round: no --starttls, the plain port."""
    args = fetch_command(dovecot, dns_server, tmp_path / "reports", "INBOX")
    args[args.index("--port") + 1] = str(dovecot.imap_port)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "does not speak TLS at once" in err and "give --starttls" in err


def test_a_slow_plain_imap_greeting_is_still_waited_for() -> None:
    """The TLS probe must not break a plain IMAP server that greets late."""
    from tlsrpt_tui.ingest.imap import GREETING_WAIT, _PlainIMAP4

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections: list[int] = []

    def serve() -> None:
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(1)
            with conn:
                time.sleep(GREETING_WAIT + 0.5)
                conn.sendall(b"* OK IMAP4rev1 slow server ready\r\n")
                conn.settimeout(5)
                buffer = b""
                try:
                    while True:
                        data = conn.recv(4096)
                        if not data:
                            break
                        buffer += data
                        while b"\r\n" in buffer:
                            line, buffer = buffer.split(b"\r\n", 1)
                            tag, _, command = line.partition(b" ")
                            if command.upper().startswith(b"CAPABILITY"):
                                conn.sendall(
                                    b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + b" OK done\r\n"
                                )
                            elif command.upper().startswith(b"LOGOUT"):
                                conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                                raise ConnectionError
                            else:
                                conn.sendall(tag + b" BAD what\r\n")
                except (OSError, ConnectionError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        connection = _PlainIMAP4("127.0.0.1", port, timeout=10)
        assert "STARTTLS" in connection.capabilities
        connection.logout()
    finally:
        listener.close()
        thread.join(timeout=10)
