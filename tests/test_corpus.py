"""Every real report loads, and the totals match numbers read from the files directly.

The expected numbers are computed here with json/gzip/email alone (independently of the
loader), applying the documented counting rules; the corpus is read in place.
"""

from __future__ import annotations

import email
import email.policy
import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.archive import Archive, load_archive
from tlsrpt_tui.core.model import UNKNOWN_DOMAIN, Report
from tlsrpt_tui.core.reading.loader import load_file

MICROSOFT1 = "microsoft.com!krvtz.net!1726185600!1726271999!133708152202987951.json.gz"


def report_files(corpus: Path) -> list[Path]:
    """The distinct reports: bare JSON and gzip files (each .eml duplicates one of them)."""
    return sorted(p for p in corpus.iterdir() if p.name.endswith((".json", ".json.gz")))


def eml_files(corpus: Path) -> list[Path]:
    return sorted(corpus.glob("*.eml"))


def read_json(path: Path) -> Any:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return json.loads(data)


def attachments(path: Path) -> list[tuple[str, bytes]]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return [
        (part.get_filename() or "", part.get_payload(decode=True))
        for part in message.walk()
        if part.get_content_type() == "application/tlsrpt+gzip"
    ]


def expected_domains(corpus: Path) -> dict[str, dict[str, Any]]:
    """Reference implementation of the counting rules over the raw JSON."""
    domains: dict[str, Any] = defaultdict(
        lambda: {
            "successful": 0,
            "failed": 0,
            "result-types": defaultdict(int),
            "reporters": defaultdict(lambda: {"successful": 0, "failed": 0}),
            "policy-types": defaultdict(lambda: {"successful": 0, "failed": 0}),
        }
    )
    for path in report_files(corpus):
        report = read_json(path)
        org = report["organization-name"]
        best: dict[str, list[int]] = {}
        types: dict[tuple[str, str], int] = {}
        for block in report["policies"]:
            policy, summary = block["policy"], block["summary"]
            domain = policy.get("policy-domain", UNKNOWN_DOMAIN).lower().rstrip(".")
            ok = summary["total-successful-session-count"]
            failed = summary["total-failure-session-count"]
            pair = best.setdefault(domain, [0, 0])
            pair[0], pair[1] = max(pair[0], ok), max(pair[1], failed)
            by_type = domains[domain]["policy-types"][policy["policy-type"]]
            by_type["successful"] += ok
            by_type["failed"] += failed
            block_types: dict[str, int] = defaultdict(int)
            for detail in block.get("failure-details") or []:
                block_types[detail["result-type"]] += detail["failed-session-count"]
            for result_type, count in block_types.items():
                key = (domain, result_type)
                types[key] = max(types.get(key, 0), count)
        for domain, (ok, failed) in best.items():
            entry = domains[domain]
            entry["successful"] += ok
            entry["failed"] += failed
            entry["reporters"][org]["successful"] += ok
            entry["reporters"][org]["failed"] += failed
        for (domain, result_type), count in types.items():
            domains[domain]["result-types"][result_type] += count
    return json.loads(json.dumps(domains, sort_keys=True))


@pytest.fixture(scope="module")
def archive(corpus_dir: Path) -> Archive:
    return load_archive([corpus_dir])


@pytest.fixture(scope="module")
def document(corpus_dir: Path) -> dict[str, Any]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["summary", str(corpus_dir), "--format", "json", "--jobs", "1"]) == 0
    return json.loads(out.getvalue())


def by_file(archive: Archive, name: str) -> Report:
    (report,) = archive.results[name].reports
    return report


def test_every_report_file_loads(corpus_dir: Path) -> None:
    files = sorted(p for p in corpus_dir.iterdir() if p.is_file())
    assert len(files) >= 28
    for path in files:
        result = load_file(path)
        if path.name == "SOURCES.md":
            assert result.reports == []
            assert [e.error.split(":")[0] for e in result.errors] == ["not a TLS-RPT report"]
        else:
            assert result.errors == [], path.name
            assert len(result.reports) == 1, path.name


def test_only_sources_md_is_reported_bad(document: dict[str, Any], corpus_dir: Path) -> None:
    assert [e["path"] for e in document["errors"]] == ["SOURCES.md"]
    assert document["errors"][0]["error"].startswith("not a TLS-RPT report")
    assert document["files"] == len([p for p in corpus_dir.iterdir() if p.is_file()])
    assert document["reports"] == len(report_files(corpus_dir))
    assert document["duplicates"] == len(eml_files(corpus_dir))


def test_totals_match_the_files(document: dict[str, Any], corpus_dir: Path) -> None:
    expected = expected_domains(corpus_dir)
    assert json.loads(json.dumps(document["domains"], sort_keys=True)) == expected


@pytest.mark.parametrize("domain", ["krvtz.net", "example.com", "karlsen.fr"])
def test_named_domain_totals(document: dict[str, Any], corpus_dir: Path, domain: str) -> None:
    expected = expected_domains(corpus_dir)[domain]
    got = document["domains"][domain]
    assert (got["successful"], got["failed"]) == (expected["successful"], expected["failed"])
    assert got["reporters"] == expected["reporters"]
    assert got["result-types"] == expected["result-types"]


def test_karlsen_microsoft_sessions_not_double_counted(corpus_dir: Path, archive: Archive) -> None:
    raw = read_json(corpus_dir / "sebastka_microsoft-tlsa-sts.json")
    counts = {b["summary"]["total-successful-session-count"] for b in raw["policies"]}
    assert len(raw["policies"]) == 2 and counts == {4}
    from tlsrpt_tui.core.facts import summarize_domains

    report = by_file(archive, "sebastka_microsoft-tlsa-sts.json")
    entry = summarize_domains([report])["karlsen.fr"]
    assert entry["successful"] == 4
    assert entry["policy-types"]["tlsa"]["successful"] == 4
    assert entry["policy-types"]["sts"]["successful"] == 4


def test_eml_and_extracted_file_are_one_report(corpus_dir: Path, archive: Archive) -> None:
    pairs = 0
    for eml in eml_files(corpus_dir):
        ((filename, payload),) = attachments(eml)
        extracted = corpus_dir / filename
        assert extracted.read_bytes() == payload, "SOURCES.md: byte-identical attachment"
        report = by_file(archive, eml.name)
        sources = archive.copies[report.identity]
        assert sorted(s.path for s in sources) == sorted([eml.name, filename])
        part = next(s.part for s in sources if s.path == eml.name)
        assert part is not None and filename in part
        pairs += 1
    assert pairs == 9


def test_microsoft_tlsa_policy_string_unwrapped(corpus_dir: Path, archive: Archive) -> None:
    raw = read_json(corpus_dir / MICROSOFT1)
    (raw_tlsa,) = [b for b in raw["policies"] if b["policy"]["policy-type"] == "tlsa"]
    (wrapped,) = raw_tlsa["policy"]["policy-string"]  # one string holding a JSON array
    records = json.loads(wrapped)
    assert len(records) >= 12
    for name in ("kravietz_microsoft1.eml", MICROSOFT1):
        report = load_file(corpus_dir / name).reports[0]
        (tlsa,) = [p for p in report.policies if p.policy_type == "tlsa"]
        assert list(tlsa.policy_string) == records
        assert all(line.startswith("2 1 1 ") for line in tlsa.policy_string)
    cry = by_file(archive, "cry-inc_microsoft.json")
    assert [len(p.policy_string) for p in cry.policies] == [4, 2]


def test_mail_ru_detail_sum_differs_from_summary(corpus_dir: Path, archive: Archive) -> None:
    report = by_file(archive, "parsedmarc_mail.ru_sts-policy-fetch-error.json")
    (policy,) = report.policies
    assert policy.total_failure_session_count == 1
    assert policy.detail_failure_count == 2
    assert {d.failure_reason_code for d in policy.failure_details} == {
        "bad https response code: 404",
        "bad https response code: 500",
    }
    assert report.end.isoformat() == "2024-02-23T00:00:00+00:00"


def test_sys4_no_policy_found_without_domain(document: dict[str, Any], archive: Archive) -> None:
    name = "issue-sys4-tlsrpt-reporter-51_postfix-no-policy-found-without-policy-domain.json"
    report = by_file(archive, name)
    assert report.policies[0].policy_domain == UNKNOWN_DOMAIN
    assert report.policies[0].policy_type == "no-policy-found"
    assert document["domains"][UNKNOWN_DOMAIN]["reporters"] == {
        "sonne.floppy.org": {"successful": 1, "failed": 0}
    }


def test_no_contact_quirks(archive: Archive) -> None:
    report = by_file(archive, "cry-inc_no-contact.json")
    assert report.contact_info is None
    assert report.policies[0].mx_host == ("mx.server.com",)
    assert report.policies[0].failure_details == ()
    assert (report.end - report.start).total_seconds() == 86400


def test_failure_details_with_only_type_and_count(archive: Archive) -> None:
    (policy,) = by_file(archive, "cry-inc_no_ip_and_mx.json").policies
    (detail,) = policy.failure_details
    assert (detail.result_type, detail.failed_session_count) == ("sts-policy-fetch-error", 3)
    assert detail.sending_mta_ip is None and detail.receiving_ip is None


def test_next_midnight_end_from_email(archive: Archive) -> None:
    report = by_file(archive, "kravietz_mail.ru.eml")
    assert (report.end - report.start).total_seconds() == 86400
    assert report.policies[0].policy_domain == "krvtz.net"


def test_sts_modes(archive: Archive) -> None:
    modes = {
        name: by_file(archive, name).policies[0].sts_mode
        for name in (
            "cry-inc_google.json",
            "parsedmarc_google-derived_sts_validation-failure.json",
            "sebastka_google-sts-testing.json",
            "cry-inc_no-policy.json",
        )
    }
    assert modes == {
        "cry-inc_google.json": "enforce",
        "parsedmarc_google-derived_sts_validation-failure.json": "testing",
        "sebastka_google-sts-testing.json": "testing",
        "cry-inc_no-policy.json": None,
    }
