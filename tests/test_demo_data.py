"""The demo archive generator, the committed demo archive and the benchmark generator."""

from __future__ import annotations

import email
import email.message
import email.policy
import gzip
import json
import re
import subprocess
import sys
import zlib
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tlsrpt_tui.demo import DEMO_INCIDENTS, demo_archive_path
from tlsrpt_tui.demo.generator import (
    DEMO_BAD_FILES,
    DEMO_EML,
    DEMO_END,
    DEMO_MBOX,
    DEMO_START,
    KESTREL,
    MBOX_DAYS,
    RFC8460_FILENAME_PATTERN,
    build_demo_archive,
    generate_archive,
)

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = demo_archive_path()
FILENAME_RE = re.compile(RFC8460_FILENAME_PATTERN)
CONTAINERS = (DEMO_EML, DEMO_MBOX)
REPORT_MEDIA_TYPE = "application/tlsrpt+gzip"

JSONDict = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def message_chunks(relpath: str, data: bytes) -> list[bytes]:
    """The messages of an .eml (one) or an mbox (split on ``From `` lines)."""
    if not relpath.endswith(".mbox"):
        return [data]
    chunks = re.split(rb"(?m)^From .*\n", data)
    return [c for c in chunks if c.strip()]


def report_parts(data: bytes) -> list[bytes]:
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    parts: list[bytes] = []
    for part in message.walk():
        if part.get_content_type() == REPORT_MEDIA_TYPE:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            parts.append(payload)
    return parts


def canonical(relpath: str, data: bytes) -> object:
    """File content with compressed bytes replaced by what they decompress to.

    Used only when bytes differ, which happens when zlib differs between the machine
    that generated the committed archive and this one (deflate output is not
    standardised); the content must still be the same.
    """
    if relpath.endswith(".gz"):
        try:
            return ("gzip", gzip.decompress(data))
        except (OSError, EOFError, zlib.error):
            return ("broken gzip", data[:10])
    if relpath in CONTAINERS:
        out: list[object] = []
        for chunk in message_chunks(relpath, data):
            message = email.message_from_bytes(chunk, policy=email.policy.compat32)
            out.append(sorted(message.items()))
            out += [gzip.decompress(p) for p in report_parts(chunk)]
        return out
    return data


def decode_report(data: bytes) -> JSONDict:
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    parsed = json.loads(raw.decode("utf-8-sig"))
    assert isinstance(parsed, dict)
    return parsed


def day_of(report: JSONDict) -> date:
    return date.fromisoformat(report["date-range"]["start-datetime"][:10])


@pytest.fixture(scope="module")
def committed() -> dict[str, bytes]:
    files = tree(ARCHIVE)
    assert files, f"no demo archive at {ARCHIVE}; run scripts/make_demo_data.py"
    return files


@pytest.fixture(scope="module")
def reports(committed: dict[str, bytes]) -> list[tuple[str, JSONDict]]:
    """(where, report) for every readable report in the archive, containers included."""
    found: list[tuple[str, JSONDict]] = []
    for relpath, data in committed.items():
        if relpath in DEMO_BAD_FILES:
            continue
        if relpath in CONTAINERS:
            for i, chunk in enumerate(message_chunks(relpath, data)):
                for part in report_parts(chunk):
                    found.append((f"{relpath}#{i}", decode_report(part)))
        else:
            found.append((relpath, decode_report(data)))
    return found


@pytest.fixture(scope="module")
def archive_reports(reports: list[tuple[str, JSONDict]]) -> list[tuple[str, JSONDict]]:
    """Reports without the duplicate copy held in the .eml."""
    return [(where, r) for where, r in reports if not where.startswith(DEMO_EML)]


def incident(incident_id: str) -> Any:
    matches = [i for i in DEMO_INCIDENTS if i["id"] == incident_id]
    assert len(matches) == 1
    return matches[0]


def failure_rows(
    reports: list[tuple[str, JSONDict]], result_type: str
) -> list[tuple[JSONDict, JSONDict, JSONDict]]:
    """(report, policy entry, failure-details row) of every row of ``result_type``."""
    rows = []
    for _where, report in reports:
        for entry in report["policies"]:
            for row in entry.get("failure-details", []):
                if row["result-type"] == result_type:
                    rows.append((report, entry, row))
    return rows


# --------------------------------------------------------------------------- determinism


def test_demo_generator_is_byte_identical_across_runs(tmp_path: Path) -> None:
    first = build_demo_archive(tmp_path / "a")
    second = build_demo_archive(tmp_path / "b")
    assert first == second
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_make_demo_data_script_output_equals_committed_archive(
    tmp_path: Path, committed: dict[str, bytes]
) -> None:
    dest = tmp_path / "archive"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_demo_data.py"), "--dest", str(dest), "-q"],
        check=True,
        capture_output=True,
    )
    fresh = tree(dest)
    assert sorted(fresh) == sorted(committed), "run scripts/make_demo_data.py and commit"
    drifted = [
        path
        for path, data in fresh.items()
        if data != committed[path] and canonical(path, data) != canonical(path, committed[path])
    ]
    assert not drifted, f"committed demo archive differs from the script: {drifted[:5]}"


def test_script_refuses_to_delete_a_directory_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_demo_data.py"), "--dest", str(tmp_path)],
        capture_output=True,
    )
    assert result.returncode != 0
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_demo_archive_is_small(committed: dict[str, bytes]) -> None:
    assert 300 <= len(committed) <= 800
    assert sum(len(d) for d in committed.values()) < 400_000


# --------------------------------------------------------------------------- file shapes


def test_every_report_file_has_an_rfc8460_name_in_its_day_folder(
    committed: dict[str, bytes],
) -> None:
    names = [p for p in committed if p not in CONTAINERS]
    assert names
    for relpath in names:
        folder, _sep, name = relpath.rpartition("/")
        match = FILENAME_RE.match(name)
        assert match, relpath
        begin, end = int(match["begin"]), int(match["end"])
        assert end - begin in (86399, 86400), relpath
        start = datetime.fromtimestamp(begin, UTC)
        assert (start.hour, start.minute, start.second) == (0, 0, 0), relpath
        assert folder == f"{start:%Y/%m/%d}", relpath
        assert DEMO_START <= start.date() <= DEMO_END, relpath
        assert name.endswith(".json.gz") or relpath in DEMO_BAD_FILES, relpath


def test_good_files_are_rfc8460_reports(
    committed: dict[str, bytes], reports: list[tuple[str, JSONDict]]
) -> None:
    assert len(reports) == len(committed) - len(DEMO_BAD_FILES) - len(CONTAINERS) + 1 + 2
    for where, report in reports:
        assert isinstance(report["organization-name"], str) and report["organization-name"]
        assert isinstance(report["contact-info"], str) and "@" in report["contact-info"]
        assert isinstance(report["report-id"], str) and report["report-id"]
        start = datetime.fromisoformat(report["date-range"]["start-datetime"])
        end = datetime.fromisoformat(report["date-range"]["end-datetime"])
        assert timedelta(hours=23) < end - start <= timedelta(days=1), where
        if "#" not in where:
            match = FILENAME_RE.match(where.rpartition("/")[2])
            assert match is not None
            assert int(match["begin"]) == int(start.timestamp()), where
            assert int(match["end"]) == int(end.timestamp()), where
            assert match["domain"] in {e["policy"]["policy-domain"] for e in report["policies"]}
        assert isinstance(report["policies"], list) and report["policies"], where
        for entry in report["policies"]:
            policy, summary = entry["policy"], entry["summary"]
            assert policy["policy-type"] in ("sts", "tlsa", "no-policy-found"), where
            assert isinstance(policy["policy-domain"], str), where
            assert isinstance(policy.get("policy-string", []), list), where
            assert all(isinstance(s, str) for s in policy.get("policy-string", [])), where
            ok = summary["total-successful-session-count"]
            failed = summary["total-failure-session-count"]
            assert isinstance(ok, int) and isinstance(failed, int) and ok >= 0 and failed >= 0
            details = entry.get("failure-details", [])
            assert isinstance(details, list), where
            for row in details:
                assert isinstance(row["result-type"], str), where
                assert isinstance(row["failed-session-count"], int), where
                assert row["failed-session-count"] > 0, where
            assert sum(r["failed-session-count"] for r in details) == failed, where


def test_bad_files_do_not_parse(committed: dict[str, bytes]) -> None:
    assert len(DEMO_BAD_FILES) == 2
    truncated, html = sorted(DEMO_BAD_FILES, key=lambda p: not p.endswith(".gz"))
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress(committed[truncated])
    assert committed[truncated][:2] == b"\x1f\x8b"
    assert committed[html].lstrip().startswith(b"<html>")
    with pytest.raises(json.JSONDecodeError):
        json.loads(committed[html])


def test_quirk_report_has_bom_and_mx_host_string(committed: dict[str, bytes]) -> None:
    (path,) = incident("bom-and-mx-host-string")["files"]
    raw = gzip.decompress(committed[path])
    assert raw.startswith(b"\xef\xbb\xbf")
    report = json.loads(raw.decode("utf-8-sig"))
    assert report["policies"][0]["policy"]["mx-host"] == "mx: *.example.net"


def test_reporter_styles(archive_reports: list[tuple[str, JSONDict]]) -> None:
    by_org: dict[str, list[JSONDict]] = defaultdict(list)
    for _where, report in archive_reports:
        by_org[report["organization-name"]].append(report)
    assert set(by_org) == {
        "Google Inc.",
        "Microsoft Corporation",
        "Yahoo",
        "Mail.ru",
        "Nordwind Telecom",
        KESTREL.organization_name,
    }
    for report in by_org["Google Inc."]:
        assert report["contact-info"] == "smtp-tls-reporting@google.com"
        assert report["date-range"]["end-datetime"].endswith("T23:59:59Z")
        domain = report["policies"][0]["policy"]["policy-domain"]
        assert report["report-id"] == f"{day_of(report).isoformat()}T00:00:00Z_{domain}"
        for entry in report["policies"]:
            if "mx-host" in entry["policy"]:
                assert isinstance(entry["policy"]["mx-host"], list)
    for report in by_org["Microsoft Corporation"]:
        assert re.fullmatch(r"\d{18}\+[a-z.]+", report["report-id"])
        types = [e["policy"]["policy-type"] for e in report["policies"]]
        if report["policies"][0]["policy"]["policy-domain"] == "example.com":
            assert types == ["sts", "tlsa"]
            sts, tlsa = report["policies"]
            assert sts["summary"] == tlsa["summary"]  # the same sessions, twice
            (records,) = tlsa["policy"]["policy-string"]
            assert all(r.startswith("2 1 1 ") for r in json.loads(records))
    for report in by_org["Yahoo"]:
        assert report["contact-info"] == "tlsrpt@yahooinc.com"
    for report in by_org["Mail.ru"]:
        start = datetime.fromisoformat(report["date-range"]["start-datetime"])
        end = datetime.fromisoformat(report["date-range"]["end-datetime"])
        assert end - start == timedelta(days=1)
        assert report["report-id"].endswith("@mail.ru")


def test_volumes_are_realistic(archive_reports: list[tuple[str, JSONDict]]) -> None:
    sessions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for _where, report in archive_reports:
        entry = report["policies"][0]
        total = sum(entry["summary"].values())
        sessions[(report["organization-name"], entry["policy"]["policy-domain"])].append(total)
    google = sessions[("Google Inc.", "example.com")]
    assert len(google) == 30 and min(google) > 1000
    for org in ("Nordwind Telecom", KESTREL.organization_name):
        assert 3 <= sum(sessions[(org, "example.com")]) / len(sessions[(org, "example.com")]) <= 60


# --------------------------------------------------------------------------- incidents


def test_incident_list_is_well_formed() -> None:
    ids = [i["id"] for i in DEMO_INCIDENTS]
    assert len(ids) == len(set(ids))
    for item in DEMO_INCIDENTS:
        assert DEMO_START <= item["first-day"] <= item["last-day"] <= DEMO_END
        assert item["reporters"]
        assert (item["kind"] == "failure") == (item["result-type"] is not None)


def test_every_failure_belongs_to_a_documented_incident(
    reports: list[tuple[str, JSONDict]],
) -> None:
    failures = [i for i in DEMO_INCIDENTS if i["kind"] == "failure"]
    for where, report in reports:
        for entry in report["policies"]:
            for row in entry.get("failure-details", []):
                matching = [
                    i
                    for i in failures
                    if i["result-type"] == row["result-type"]
                    and i["policy-domain"] == entry["policy"]["policy-domain"]
                    and i["first-day"] <= day_of(report) <= i["last-day"]
                    and report["organization-name"] in i["reporters"]
                    and row.get("receiving-mx-hostname", i["mx"]) == i["mx"]
                ]
                assert matching, f"undocumented failure in {where}: {row}"


def test_expired_certificate_on_mx2_in_the_last_two_days_only(
    archive_reports: list[tuple[str, JSONDict]],
) -> None:
    item = incident("mx2-certificate-expired")
    rows = failure_rows(archive_reports, "certificate-expired")
    assert rows
    days = {day_of(report) for report, _e, _r in rows}
    assert days == {DEMO_END - timedelta(days=1), DEMO_END}
    assert (item["first-day"], item["last-day"]) == (min(days), max(days))
    assert {row["receiving-mx-hostname"] for _rep, _e, row in rows} == {"mx2.example.com"}
    for day in days:
        orgs = {r["organization-name"] for r, _e, _row in rows if day_of(r) == day}
        assert orgs == set(item["reporters"])
        # well over a quarter of example.com's sessions fail on those days
        for report, entry, _row in rows:
            if day_of(report) == day:
                summary = entry["summary"]
                total = sum(summary.values())
                assert summary["total-failure-session-count"] / total > 0.25


def test_backup_mx_without_starttls_all_month(
    archive_reports: list[tuple[str, JSONDict]],
) -> None:
    item = incident("backup-mx-no-starttls")
    rows = failure_rows(archive_reports, "starttls-not-supported")
    assert {row["receiving-mx-hostname"] for _rep, _e, row in rows} == {"backup-mx.example.net"}
    google_days = {day_of(r) for r, _e, _row in rows if r["organization-name"] == "Google Inc."}
    assert len(google_days) == 30
    assert {r["organization-name"] for r, _e, _row in rows} == set(item["reporters"])
    net = [e for _w, r in archive_reports for e in r["policies"]]
    net = [e for e in net if e["policy"]["policy-domain"] == "example.net"]
    failed = sum(e["summary"]["total-failure-session-count"] for e in net)
    assert 0 < failed < 0.06 * sum(sum(e["summary"].values()) for e in net)  # low volume


def test_sts_policy_fetch_outage_for_shop_example(
    archive_reports: list[tuple[str, JSONDict]],
) -> None:
    item = incident("shop-sts-policy-fetch-outage")
    rows = failure_rows(archive_reports, "sts-policy-fetch-error")
    outage = {item["first-day"] + timedelta(days=n) for n in range(3)}
    assert item["last-day"] == max(outage)
    seen = {(r["organization-name"], day_of(r)) for r, _e, _row in rows}
    assert seen == {(org, day) for org in item["reporters"] for day in outage}
    for report, entry, row in rows:
        assert entry["policy"]["policy-domain"] == "shop.example"
        assert "policy-string" not in entry["policy"]
        assert not any(k.startswith("receiving-") for k in row)
        org = report["organization-name"]
        if org == "Microsoft Corporation":
            assert set(row) == {"result-type", "failed-session-count"}
        elif org == "Mail.ru":
            assert row["failure-reason-code"] == "bad https response code: 404"
        else:
            assert "sending-mta-ip" in row


def test_small_reporter_stops_sending(archive_reports: list[tuple[str, JSONDict]]) -> None:
    item = incident("kestrel-stops-reporting")
    days = sorted(
        day_of(r)
        for _w, r in archive_reports
        if r["organization-name"] == KESTREL.organization_name
    )
    last = item["first-day"] - timedelta(days=1)
    assert days == [DEMO_START + timedelta(days=n) for n in range((last - DEMO_START).days + 1)]
    assert item["last-day"] == DEMO_END


def test_duplicate_report_in_eml(committed: dict[str, bytes]) -> None:
    gz_path, eml_path = incident("microsoft-duplicate")["files"]
    message = email.message_from_bytes(committed[eml_path], policy=email.policy.default)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "tlsrpt"
    assert message["TLS-Report-Domain"] == "example.com"
    assert message["TLS-Report-Submitter"] == "microsoft.com"
    report = decode_report(committed[gz_path])
    assert message["Subject"] == (
        f"Report Domain: example.com Submitter: microsoft.com Report-ID: <{report['report-id']}>"
    )
    (part,) = report_parts(committed[eml_path])
    assert part == committed[gz_path]


def test_mbox_holds_two_reports_found_nowhere_else(
    committed: dict[str, bytes], reports: list[tuple[str, JSONDict]]
) -> None:
    in_mbox = [r for where, r in reports if where.startswith(DEMO_MBOX)]
    assert len(in_mbox) == 2
    assert {day_of(r) for r in in_mbox} == set(MBOX_DAYS)
    assert all(r["organization-name"] == "Google Inc." for r in in_mbox)
    ids = [r["report-id"] for where, r in reports if not where.startswith(DEMO_MBOX)]
    assert not {r["report-id"] for r in in_mbox} & set(ids)


# --------------------------------------------------------------------------- loader


def test_project_loader_reads_the_demo_archive(committed: dict[str, bytes]) -> None:
    loader = pytest.importorskip(
        "tlsrpt_tui.core.reading.loader", reason="loader not yet available"
    )
    load_file = getattr(loader, "load_file", None)
    if load_file is None:
        pytest.skip("loader not yet available")
    total = 0
    identities: dict[object, list[str]] = defaultdict(list)
    for relpath in committed:
        result = load_file(ARCHIVE / relpath, display_path=relpath)
        if relpath in DEMO_BAD_FILES:
            assert result.errors and not result.reports, relpath
            continue
        assert not result.errors, (relpath, result.errors)
        assert len(result.reports) == (2 if relpath == DEMO_MBOX else 1), relpath
        total += len(result.reports)
        for report in result.reports:
            identities[report.identity].append(relpath)
    assert total == len(committed) - len(DEMO_BAD_FILES) - len(CONTAINERS) + 1 + 2
    duplicates = [paths for paths in identities.values() if len(paths) > 1]
    assert [sorted(p) for p in duplicates] == [sorted(incident("microsoft-duplicate")["files"])]


# --------------------------------------------------------------------------- benchmark generator


def test_generate_archive_writes_exactly_n_files_deterministically(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {
        "reports": 200,
        "domains": 50,
        "reporters": 20,
        "days": 30,
        "start": date(2026, 1, 1),
        "seed": 7,
    }
    stats = generate_archive(tmp_path / "a", **kwargs)
    first = tree(tmp_path / "a")
    assert stats.files == len(first) == 200
    assert stats.bytes == sum(len(d) for d in first.values())
    generate_archive(tmp_path / "b", **kwargs)
    assert tree(tmp_path / "b") == first
    for relpath, data in first.items():
        assert FILENAME_RE.match(relpath.rpartition("/")[2]), relpath
        report = decode_report(data)
        assert report["policies"]
        assert relpath.startswith(f"{day_of(report):%Y/%m/%d}/")
    generate_archive(tmp_path / "c", **{**kwargs, "seed": 8})
    assert tree(tmp_path / "c") != first


def test_generate_archive_output_does_not_depend_on_jobs(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {
        "reports": 1500,
        "domains": 20,
        "reporters": 12,
        "days": 5,
        "start": date(2026, 3, 1),
        "seed": 3,
    }
    one = generate_archive(tmp_path / "one", jobs=1, **kwargs)
    two = generate_archive(tmp_path / "two", jobs=2, **kwargs)
    assert one == two
    assert one.files == 1500 and one.days > 5  # went on past the window to reach the count
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_generate_archive_without_a_count_writes_the_window(tmp_path: Path) -> None:
    stats = generate_archive(
        tmp_path, domains=10, reporters=8, days=3, start=date(2026, 2, 1), seed=1
    )
    folders = {p.parent.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json.gz")}
    assert folders == {"2026/02/01", "2026/02/02", "2026/02/03"}
    assert stats.days == 3 and stats.files == len(list(tmp_path.rglob("*.json.gz")))
