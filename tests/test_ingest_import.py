"""``tlsrpt-tui import``: .eml files, mbox files and Maildirs into the report directory."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import corpus_glob
from ingest_helpers import (
    DkimKey,
    DnsServer,
    build_report_mail,
    corpus_emails,
    make_report,
    serving_keys,
    snapshot_tree,
    to_crlf,
    unrelated_mail,
    with_received,
)

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.reading.loader import load_file
from tlsrpt_tui.ingest.report_dir import read_sidecars


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


def run_import(sources: list[Path], out: Path, dns: DnsServer, *extra: str) -> int:
    return main(
        [
            "import",
            *map(str, sources),
            "--dir",
            str(out),
            "--dns-resolver",
            dns.address,
            "--dns-timeout",
            "1",
            *extra,
        ]
    )


def archived(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.json.gz")
        if not p.name.startswith(".") and "quarantine" not in p.relative_to(root).parts
    )


def quarantined(root: Path) -> list[Path]:
    return sorted(p for p in (root / "quarantine").rglob("*.json.gz") if not p.name.startswith("."))


def summary_line(output: str) -> str:
    return [line for line in output.splitlines() if line.startswith("saved ")][-1]


def signed_report(key: DkimKey, index: int, **kwargs: object) -> bytes:
    report = make_report(
        organization=f"{key.domain} reporter",
        report_id=f"{key.domain}-{index}",
        start=dt.datetime(2024, 3, 1 + index, tzinfo=dt.UTC),
        contact=f"tlsrpt@{key.domain}",
    )
    return key.sign(build_report_mail(report, submitter=key.domain, **kwargs))  # type: ignore[arg-type]


def write_mbox(path: Path, messages: list[bytes]) -> None:
    chunks: list[bytes] = []
    for message in messages:
        body = message.replace(b"\r\n", b"\n")
        escaped = b"\n".join(
            b">" + line if line.lstrip(b">").startswith(b"From ") else line
            for line in body.split(b"\n")
        )
        chunks.append(b"From MAILER-DAEMON Thu May  2 03:04:05 2024\n" + escaped + b"\n")
    path.write_bytes(b"".join(chunks))


def test_import_eml_mbox_and_maildir(
    tmp_path: Path,
    keys: dict[str, DkimKey],
    dns_server: DnsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    reporter = keys["reporter"]
    # .eml files as three reporters send them
    (src / "google-style.eml").write_bytes(signed_report(reporter, 0, style="google"))
    (src / "microsoft-style.eml").write_bytes(signed_report(reporter, 1, style="microsoft"))
    (src / "mailru-style-json.eml").write_bytes(
        signed_report(reporter, 2, style="mailru", gz=False)
    )
    # an mbox (LF line ends, as mbox files are): signed, unrelated, unsigned
    unsigned = build_report_mail(
        make_report(report_id="unsigned-1", start=dt.datetime(2024, 4, 1, tzinfo=dt.UTC)),
        submitter="reporter.example",
    )
    write_mbox(
        src / "reports.mbox",
        [signed_report(reporter, 3), unrelated_mail("From the boss"), unsigned],
    )
    # a Maildir: a signed report in new/, unrelated mail in cur/, a message still
    # being delivered in tmp/ (skipped)
    maildir = src / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1714600000.M1P1.host").write_bytes(signed_report(reporter, 4))
    (maildir / "cur" / "1714600001.M2P1.host:2,S").write_bytes(unrelated_mail())
    (maildir / "tmp" / "1714600002.M3P1.host").write_bytes(signed_report(reporter, 5))
    # a Maildir++ sub-folder
    sub_folder = maildir / ".Reports"
    for sub in ("cur", "new", "tmp"):
        (sub_folder / sub).mkdir(parents=True)
    (sub_folder / "cur" / "1714600003.M4P1.host:2,").write_bytes(signed_report(reporter, 6))

    corpus = corpus_emails()
    before_src = snapshot_tree(src)
    before_corpus = {p.name: p.read_bytes() for p in corpus}
    out = tmp_path / "reports"

    status = run_import([src, *corpus], out, dns_server)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    # 6 signed reports (not the one in tmp/), the unsigned one and the 9 real mails
    # (their reporters' keys are not in our DNS) quarantined, 2 unrelated mails.
    assert summary_line(captured.out) == (
        f"saved 6, duplicates 0, quarantined {1 + len(corpus)}, messages without report 2, errors 0"
    )
    assert len(archived(out)) == 6
    assert len(quarantined(out)) == 1 + len(corpus)

    # every stored file loads, with the identity it was named after
    archive = load_archive([out])
    assert archive.errors == []
    ids = {r.report_id for r in archive.reports.values()}
    assert {f"reporter.example-{i}" for i in (0, 1, 2, 3, 4, 6)} <= ids
    for path in archived(out):
        sidecar = read_sidecars(path)["dkim"]
        assert sidecar["verdict"] == "pass"
        assert sidecar["domain"] == "reporter.example"
        assert sidecar["selector"] == "sel1"
        assert sidecar["via"] == "import"
        assert path.name.startswith("reporter.example!example.com!")
        assert path.parent.relative_to(out).parts[0] == "2024"
    for path in quarantined(out):
        assert read_sidecars(path)["dkim"]["verdict"] in ("fail", "none")

    # the sources were only read
    assert snapshot_tree(src) == before_src
    assert {p.name: p.read_bytes() for p in corpus} == before_corpus

    # again: nothing new
    status = run_import([src, *corpus], out, dns_server)
    captured = capsys.readouterr()
    assert status == 0
    assert summary_line(captured.out) == (
        f"saved 0, duplicates {7 + len(corpus)}, quarantined 0, messages without report 2, errors 0"
    )
    assert len(archived(out)) == 6
    assert len(quarantined(out)) == 1 + len(corpus)


def test_real_report_mail_signed_by_its_reporter_goes_to_the_archive(
    tmp_path: Path,
    keys: dict[str, DkimKey],
    dns_server: DnsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "reports"
    src = tmp_path / "resigned"
    src.mkdir()
    corpus = corpus_emails()
    # As received (quarantined), then the same mails signed with keys our DNS knows.
    assert run_import(corpus, out, dns_server) == 0
    assert len(quarantined(out)) == len(corpus)
    for path in corpus:
        name = path.name.lower()
        key = (
            keys["google"]
            if "google" in name
            else (keys["microsoft"] if "microsoft" in name else keys["mailru"])
        )
        (src / path.name).write_bytes(key.sign(path.read_bytes()))
    capsys.readouterr()
    assert run_import([src], out, dns_server) == 0
    assert summary_line(capsys.readouterr().out).startswith(f"saved {len(corpus)}, duplicates 0")
    assert len(archived(out)) == len(corpus)
    assert quarantined(out) == []  # promoted out of quarantine
    # the archive and the extracted attachments in the corpus are the same reports
    extracted = corpus_glob("*!*.json.gz")
    ours = {r.identity for p in archived(out) for r in load_file(p).reports}
    theirs = {r.identity for p in extracted for r in load_file(p).reports}
    assert theirs <= ours
    for path in archived(out):
        sidecar = read_sidecars(path)["dkim"]
        assert sidecar["verdict"] == "pass"
        assert sidecar["tls-report-submitter"]


def test_accept_unsigned_archives_with_the_verdict(
    tmp_path: Path, dns_server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    corpus = corpus_emails()
    assert run_import(corpus, out, dns_server, "--accept-unsigned") == 0
    assert summary_line(capsys.readouterr().out).startswith(f"saved {len(corpus)}, ")
    assert len(archived(out)) == len(corpus)
    assert not (out / "quarantine").exists() or quarantined(out) == []
    verdicts = {read_sidecars(p)["dkim"]["verdict"] for p in archived(out)}
    assert verdicts == {"fail"}


def test_quarantine_dir_option(tmp_path: Path, dns_server: DnsServer) -> None:
    out, held = tmp_path / "reports", tmp_path / "held"
    corpus = corpus_emails()[:2]
    assert run_import(corpus, out, dns_server, "--quarantine-dir", str(held)) == 0
    assert len([p for p in held.rglob("*.json.gz") if not p.name.startswith(".")]) == 2
    assert archived(out) == []


def test_several_reports_in_one_mail_and_loose_media_types(
    tmp_path: Path,
    keys: dict[str, DkimKey],
    dns_server: DnsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reporter = keys["reporter"]
    reports = [make_report(report_id=f"multi-{i}", domain=f"d{i}.example") for i in range(2)]
    two = reporter.sign(build_report_mail(reports, submitter="reporter.example"))
    loose = reporter.sign(
        build_report_mail(
            make_report(report_id="loose"),
            submitter="reporter.example",
            media_type="application/octet-stream",
        )
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "two.eml").write_bytes(two)
    (src / "loose.eml").write_bytes(loose)
    out = tmp_path / "reports"
    assert run_import([src], out, dns_server) == 0
    assert summary_line(capsys.readouterr().out).startswith("saved 3, duplicates 0, quarantined 0")
    domains = sorted(p.name.split("!")[1] for p in archived(out))
    assert domains == ["d0.example", "d1.example", "example.com"]


def test_json_report_part_is_stored_gzipped(
    tmp_path: Path, keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    src = tmp_path / "json.eml"
    src.write_bytes(signed_report(keys["reporter"], 9, gz=False))
    out = tmp_path / "reports"
    assert run_import([src], out, dns_server) == 0
    (path,) = archived(out)
    assert path.read_bytes().startswith(b"\x1f\x8b")
    assert load_file(path).reports[0].report_id == "reporter.example-9"


def test_broken_report_is_an_error_and_nothing_else_stops(
    tmp_path: Path,
    keys: dict[str, DkimKey],
    dns_server: DnsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reporter = keys["reporter"]
    good = signed_report(reporter, 0)
    broken = build_report_mail(make_report(report_id="broken"), submitter="reporter.example")
    # cut the base64 attachment short: a truncated gzip stream
    head, _, tail = broken.rpartition(b"\r\n\r\n--")
    broken = reporter.sign(head[: len(head) - 40] + b"\r\n\r\n--" + tail)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-broken.eml").write_bytes(broken)
    (src / "b-good.eml").write_bytes(good)
    (src / "c-empty.eml").write_bytes(b"")
    out = tmp_path / "reports"
    status = run_import([src], out, dns_server)
    captured = capsys.readouterr()
    assert status == 1
    assert summary_line(captured.out) == (
        "saved 1, duplicates 0, quarantined 0, messages without report 0, errors 2"
    )
    assert "a-broken.eml" in captured.err and "invalid report" in captured.err
    assert "c-empty.eml" in captured.err
    assert len(archived(out)) == 1


def test_dns_failure_stores_nothing_so_a_later_run_can(
    tmp_path: Path, dns_server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    key = DkimKey("flaky.example", "s1")
    dns_server.servfail.add(key.record_name + ".")
    src = tmp_path / "flaky.eml"
    src.write_bytes(key.sign(build_report_mail(make_report(), submitter="flaky.example")))
    out = tmp_path / "reports"
    assert run_import([src], out, dns_server) == 1
    assert "try again" in capsys.readouterr().err
    assert (archived(out) == [] and not (out / "quarantine").exists()) or quarantined(out) == []
    dns_server.servfail.discard(key.record_name + ".")
    dns_server.add_key(key)
    assert run_import([src], out, dns_server) == 0
    assert len(archived(out)) == 1


def test_bare_report_files_are_unsigned(
    tmp_path: Path, dns_server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = corpus_glob("*!*.json.gz")[:3]
    out = tmp_path / "reports"
    assert run_import(bare, out, dns_server) == 0
    assert summary_line(capsys.readouterr().out).startswith("saved 0, duplicates 0, quarantined 3")
    assert run_import(bare, out, dns_server, "--accept-unsigned") == 0
    assert len(archived(out)) == 3
    assert quarantined(out) == []
    sidecar = read_sidecars(archived(out)[0])["dkim"]
    assert sidecar["verdict"] == "none"


def test_usage_errors_exit_2(tmp_path: Path, dns_server: DnsServer) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    eml = corpus_emails()[0]
    assert run_import([tmp_path / "missing.eml"], tmp_path / "out", dns_server) == 2
    assert run_import([eml], a_file, dns_server) == 2
    assert main(["import", str(eml), "--dir", str(tmp_path / "o"), "--dns-resolver", "h:0"]) == 2
    assert main(["import", str(eml), "--dir", str(tmp_path / "o"), "--max-message-mb", "0"]) == 2


def test_oversized_message_is_refused(
    tmp_path: Path,
    keys: dict[str, DkimKey],
    dns_server: DnsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    big = signed_report(keys["reporter"], 0) + b"x" * (1024 * 1024 + 10)
    src = tmp_path / "big.eml"
    src.write_bytes(big)
    assert run_import([src], tmp_path / "out", dns_server, "--max-message-mb", "1") == 1
    assert "limit" in capsys.readouterr().err


def test_summary_counts_are_json_serialisable() -> None:
    from tlsrpt_tui.ingest.mail import IngestTotals

    totals = IngestTotals(saved=1)
    assert json.loads(json.dumps(totals.as_json()))["saved"] == 1
    assert to_crlf(b"a\nb\r\n") == b"a\r\nb\r\n"


def test_old_report_mail_is_verified_as_of_its_arrival_and_each_quarantine_says_why(
    tmp_path: Path,
    keys: dict[str, DkimKey],
    dns_server: DnsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Google's x= is about a week after t=: importing a month-old mailbox must not
    quarantine every message, and a message that is quarantined says why."""
    google = keys["google"]
    signed = int(dt.datetime.now(dt.UTC).timestamp()) - 30 * 86400

    def google_mail(index: int, arrived_after: int) -> bytes:
        report = make_report(
            organization="Google Inc.",
            report_id=f"google-{index}",
            start=dt.datetime(2024, 3, 1 + index, tzinfo=dt.UTC),
            contact="smtp-tls-reporting@google.com",
        )
        raw = google.sign(
            build_report_mail(report, submitter="google.com"),
            signed_at=signed,
            expires=signed + 7 * 86400,
        )
        return with_received(raw, dt.datetime.fromtimestamp(signed + arrived_after, dt.UTC))

    src = tmp_path / "src"
    src.mkdir()
    (src / "on-time.eml").write_bytes(google_mail(0, 60))
    (src / "arrived-late.eml").write_bytes(google_mail(1, 9 * 86400))
    forged = build_report_mail(
        make_report(report_id="forged", start=dt.datetime(2024, 3, 9, tzinfo=dt.UTC)),
        submitter="google.com",
    )
    (src / "forged.eml").write_bytes(forged)
    out = tmp_path / "reports"
    assert run_import([src], out, dns_server) == 0
    captured = capsys.readouterr()
    assert summary_line(captured.out) == (
        "saved 1, duplicates 0, quarantined 2, messages without report 0, errors 0"
    )
    [saved] = archived(out)
    sidecar = read_sidecars(saved)["dkim"]
    assert sidecar["verdict"] == "pass"
    arrived = dt.datetime.fromtimestamp(signed + 60, dt.UTC)
    assert sidecar["verified-as-of"] == arrived.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert sidecar["as-of-from"] == "Received"
    # One line per quarantined message, naming it and the reason.
    lines = [line for line in captured.err.splitlines() if "quarantined" in line]
    assert len(lines) == 2, captured.err
    late = next(line for line in lines if "arrived-late.eml" in line)
    assert "quarantined 1 report: DKIM fail:" in late
    assert "signature expired" in late and "before the message arrived" in late
    unsigned = next(line for line in lines if "forged.eml" in line)
    assert "quarantined 1 report: DKIM none: no DKIM signature" in unsigned
    # --accept-unsigned releases them as before.
    assert run_import([src], out, dns_server, "--accept-unsigned") == 0
    assert len(archived(out)) == 3
    assert quarantined(out) == []


def test_import_says_why_a_message_had_no_report(
    tmp_path: Path, dns_server: DnsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart

    src = tmp_path / "src"
    src.mkdir()
    # An unnamed octet-stream attachment: neither named nor typed as a report.
    outer = MIMEMultipart()
    outer["From"] = "noreply@reporter.example"
    outer["Subject"] = "Report"
    outer.attach(MIMEApplication(b"\x00\x01binary", "octet-stream"))
    (src / "unnamed.eml").write_bytes(outer.as_bytes())
    (src / "encrypted.eml").write_bytes(
        b"From: a@reporter.example\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=b\n\n'
        b"--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
        b"--b\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n--b--\n"
    )
    (src / "smime.eml").write_bytes(
        b"From: a@reporter.example\nSubject: x\nMIME-Version: 1.0\n"
        b"Content-Type: application/x-pkcs7-mime; smime-type=signed-data; name=smime.p7m\n"
        b"Content-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n"
    )
    (src / "lunch.eml").write_bytes(unrelated_mail())
    out = tmp_path / "reports"
    assert run_import([src], out, dns_server, "-v") == 0
    captured = capsys.readouterr()
    assert summary_line(captured.out) == (
        "saved 0, duplicates 0, quarantined 0, messages without report 4 (1 with an attachment "
        "not named or typed as a report, 1 opaque S/MIME, 1 encrypted), errors 0"
    )
    why = {
        line.split(": ", 2)[1].rpartition("/")[2]: line.split(": ", 2)[2]
        for line in captured.out.splitlines()
        if line.startswith("without report: ")
    }
    assert why == {
        "encrypted.eml": "encrypted (multipart/encrypted): its content cannot be read",
        "lunch.eml": "no attachment",
        "smime.eml": "opaque S/MIME (application/x-pkcs7-mime; smime-type=signed-data): "
        "its content is inside a PKCS #7 structure, not opened",
        "unnamed.eml": "attachment (application/octet-stream) is neither named nor typed "
        "as a report",
    }
