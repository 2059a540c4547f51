"""The model and the loader: every form, every tolerated quirk, every rejection."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import threading
import tracemalloc
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Attachment, build_detail, build_email, build_policy, build_report, gz_report

from tlsrpt_tui.core.model import (
    UNKNOWN_DOMAIN,
    FailureDetail,
    LoadResult,
    Policy,
    PolicyType,
    Report,
    Source,
    sts_mode_of,
)
from tlsrpt_tui.core.reading.loader import (
    Limits,
    ReportError,
    gunzip_capped,
    load_bytes,
    load_file,
    load_message,
    parse_message,
    sniff,
)
from tlsrpt_tui.core.reading.raw import read_raw


def load(obj: Any, name: str = "report.json", **kwargs: Any) -> LoadResult:
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return load_bytes(data, Source(name), file_name=name, **kwargs)


def one_report(result: LoadResult) -> Report:
    assert result.errors == [], result.errors
    assert len(result.reports) == 1, result.reports
    return result.reports[0]


def only_error(result: LoadResult) -> str:
    assert result.reports == []
    assert len(result.errors) == 1, result.errors
    return result.errors[0].error


# --------------------------------------------------------------------------- model


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_model_has_every_rfc8460_field() -> None:
    assert {
        "organization_name",
        "start",
        "end",
        "contact_info",
        "report_id",
        "policies",
    } <= field_names(Report)
    assert {
        "policy_type",
        "policy_string",
        "policy_domain",
        "mx_host",
        "total_successful_session_count",
        "total_failure_session_count",
        "failure_details",
    } <= field_names(Policy)
    assert {
        "result_type",
        "sending_mta_ip",
        "receiving_mx_hostname",
        "receiving_mx_helo",
        "receiving_ip",
        "failed_session_count",
        "additional_information",
        "failure_reason_code",
    } <= field_names(FailureDetail)
    assert {p.value for p in PolicyType} == {"sts", "tlsa", "no-policy-found"}


def test_records_are_immutable(make_report: Any) -> None:
    report = one_report(load(make_report()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.organization_name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.policies[0].policy_domain = "x"  # type: ignore[misc]
    assert isinstance(report.policies, tuple)
    assert isinstance(report.policies[0].policy_string, tuple)
    assert isinstance(report.policies[0].mx_host, tuple)
    assert isinstance(report.policies[0].failure_details, tuple)
    hash(report.source)


def test_every_field_is_read() -> None:
    detail = build_detail(
        "certificate-expired",
        7,
        sending_mta_ip="2001:db8::1",
        receiving_mx_hostname="MX1.Example.COM.",
        receiving_mx_helo="mx1.example.com",
        receiving_ip="192.0.2.25",
        additional_information="https://reporter.example/why",
        failure_reason_code="X509_V_ERR_CERT_HAS_EXPIRED",
    )
    obj = build_report(
        policies=[build_policy("example.com", "sts", 90, 7, [detail], mx_host=["mx1.example.com"])]
    )
    report = one_report(load(obj))
    assert report.organization_name == "Example Reporter"
    assert report.report_id == "2024-03-01T00:00:00Z_example.com"
    assert report.contact_info == "tlsrpt@reporter.example"
    assert report.start == datetime(2024, 3, 1, tzinfo=UTC)
    assert report.end == datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)
    (policy,) = report.policies
    assert policy.policy_type == "sts"
    assert policy.policy_domain == "example.com"
    assert policy.policy_string == ("version: STSv1", "mode: enforce", "mx: mx.example.com")
    assert policy.sts_mode == "enforce"
    assert policy.mx_host == ("mx1.example.com",)
    assert (policy.total_successful_session_count, policy.total_failure_session_count) == (90, 7)
    assert policy.sessions == 97
    assert policy.failure_details == (
        FailureDetail(
            result_type="certificate-expired",
            failed_session_count=7,
            sending_mta_ip="2001:db8::1",
            receiving_mx_hostname="mx1.example.com",
            receiving_mx_helo="mx1.example.com",
            receiving_ip="192.0.2.25",
            additional_information="https://reporter.example/why",
            failure_reason_code="X509_V_ERR_CERT_HAS_EXPIRED",
        ),
    )
    assert report.source == Source("report.json")
    assert report.warnings == ()


@pytest.mark.parametrize(
    ("lines", "mode"),
    [
        (["version: STSv1", "mode: enforce", "mx: a"], "enforce"),
        (["version: STSv1", "MODE:Testing"], "testing"),
        (["mode:  none  "], "none"),
        (["version: STSv1", "mx: mode: enforce"], None),
        (["mode:"], None),
        ([], None),
    ],
)
def test_sts_mode_parsed_from_policy_string(lines: list[str], mode: str | None) -> None:
    assert sts_mode_of(lines) == mode
    policy = build_policy(policy_string=lines)
    assert one_report(load(build_report(policies=[policy]))).policies[0].sts_mode == mode


def test_source_describes_file_and_part() -> None:
    assert Source("a/b.json").describe() == "a/b.json"
    assert Source("box.mbox", "message 3, part 2 (r.json.gz)").describe() == (
        "box.mbox [message 3, part 2 (r.json.gz)]"
    )


# --------------------------------------------------------------------------- forms


@pytest.mark.parametrize("name", ["r.json", "r.json.gz", "r.gz", "r.jsongz", "noext"])
@pytest.mark.parametrize("gzipped", [False, True])
def test_gzip_detected_by_magic_bytes_not_name(write: Any, name: str, gzipped: bool) -> None:
    """A gzip named .json and JSON named .gz both load."""
    obj = build_report()
    path = write.gz(name, obj) if gzipped else write.json(name, obj)
    result = load_file(path)
    report = one_report(result)
    assert report.organization_name == "Example Reporter"
    assert report.source == Source(str(path))
    assert result.path == str(path)


def test_display_path_is_used_for_sources(write: Any) -> None:
    path = write.json("2024/03/01/r.json", build_report())
    report = one_report(load_file(path, display_path="2024/03/01/r.json"))
    assert report.source.path == "2024/03/01/r.json"


def test_multi_member_gzip(write: Any) -> None:
    data = json.dumps(build_report()).encode()
    path = write.raw("r.json.gz", gzip.compress(data[:20]) + gzip.compress(data[20:]))
    one_report(load_file(path))


def test_json_array_of_reports() -> None:
    result = load([build_report(report_id="a"), build_report(report_id="b")])
    assert [r.report_id for r in result.reports] == ["a", "b"]
    assert [r.source.part for r in result.reports] == ["item 0", "item 1"]


def test_empty_json_array_is_an_error_not_nothing() -> None:
    assert "empty JSON array" in only_error(load([]))


GZ = gz_report()
JSON = json.dumps(build_report(report_id="json-report")).encode()


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment(GZ, "application/tlsrpt+gzip", "g.json.gz", "base64"),
        Attachment(GZ, "application/tlsrpt+gzip", None, "base64"),
        Attachment(JSON, "application/tlsrpt+json", "r.json", "base64"),
        Attachment(JSON, "application/tlsrpt+json", "r.json", "quoted-printable"),
        Attachment(JSON, "application/tlsrpt+json", None, "7bit"),
        Attachment(GZ, "application/gzip", "g.json.gz", "base64"),
        Attachment(GZ, "application/x-gzip", "g.gz", "base64"),
        Attachment(JSON, "application/json", "r.json", "base64"),
        Attachment(JSON, "application/json", "r.json", "quoted-printable"),
        Attachment(GZ, "application/octet-stream", "g.json.gz", "base64"),
        Attachment(JSON, "application/octet-stream", "r.json", "base64"),
    ],
    ids=lambda a: f"{a.content_type}-{a.filename}-{a.encoding}",
)
def test_email_report_part(write: Any, attachment: Attachment) -> None:
    path = write.eml("r.eml", [attachment])
    report = one_report(load_file(path))
    expected = "part 2" + (f" ({attachment.filename})" if attachment.filename else "")
    assert report.source == Source(str(path), expected)
    assert report.policies[0].total_successful_session_count == 10


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment(GZ, "application/octet-stream", "invoice.pdf", "base64"),
        Attachment(GZ, "application/octet-stream", None, "base64"),
        Attachment(JSON, "application/json", None, "base64"),
        Attachment(GZ, "image/png", "g.json.gz", "base64"),
    ],
    ids=lambda a: f"{a.content_type}-{a.filename}",
)
def test_email_without_report_part_is_an_error(write: Any, attachment: Attachment) -> None:
    error = only_error(load_file(write.eml("r.eml", [attachment])))
    assert "carries no TLS-RPT report" in error


def test_email_with_non_ascii_8bit_json(write: Any) -> None:
    data = json.dumps(build_report(organization_name="Почта Мэйл"), ensure_ascii=False).encode()
    message = (
        b"From: a@b.example\nTo: c@d.example\nSubject: r\nMIME-Version: 1.0\n"
        b"Content-Type: application/tlsrpt+json\nContent-Transfer-Encoding: 8bit\n\n" + data
    )
    report = one_report(load_file(write.raw("r.eml", message)))
    assert report.organization_name == "Почта Мэйл"
    assert report.source.part == "part 0"


def test_several_reports_in_one_message(write: Any) -> None:
    path = write.eml(
        "r.eml",
        [
            Attachment(gz_report(report_id="one"), filename="one.json.gz"),
            Attachment(b"not json at all", "application/tlsrpt+json", "bad.json"),
            Attachment(
                json.dumps(build_report(report_id="two")).encode(), "application/json", "t.json"
            ),
        ],
    )
    result = load_file(path)
    assert [r.report_id for r in result.reports] == ["one", "two"]
    assert [r.source.part for r in result.reports] == ["part 2 (one.json.gz)", "part 4 (t.json)"]
    assert len(result.errors) == 1
    assert result.errors[0].source == Source(str(path), "part 3 (bad.json)")
    assert "not JSON" in result.errors[0].error


def test_email_whose_first_header_is_folded_over_many_lines(write: Any) -> None:
    """A message saved starting with a long DKIM-Signature is still an email."""
    message = build_email([Attachment(GZ)])
    dkim = b"DKIM-Signature: v=1; a=rsa-sha256;\n" + b"".join(
        b"\tb=%s;\n" % (b"A" * 60) for _ in range(12)
    )
    one_report(load_file(write.raw("r.eml", dkim + message)))


def test_email_with_crlf_line_endings(write: Any) -> None:
    message = build_email([Attachment(GZ)]).replace(b"\n", b"\r\n")
    one_report(load_file(write.raw("r.eml", message)))


def test_mbox_with_many_messages(write: Any) -> None:
    messages = [
        build_email([Attachment(gz_report(report_id=f"r{i}"), filename=f"r{i}.json.gz")])
        for i in range(5)
    ]
    messages.insert(2, b"From: friend@example.org\nSubject: lunch?\n\nFrom here we go.\n")
    path = write.mbox("reports.mbox", messages)
    result = load_file(path)
    assert result.errors == []
    assert [r.report_id for r in result.reports] == [f"r{i}" for i in range(5)]
    assert result.reports[0].source == Source(str(path), "message 1, part 2 (r0.json.gz)")
    assert result.reports[2].source == Source(str(path), "message 4, part 2 (r2.json.gz)")


def test_mbox_without_reports_is_an_error(write: Any) -> None:
    path = write.mbox("x.mbox", [b"From: a@b.example\nSubject: hi\n\nhello\n"] * 2)
    assert "carry no TLS-RPT report" in only_error(load_file(path))


def test_mbox_bad_message_does_not_hide_good_ones(write: Any) -> None:
    good = build_email([Attachment(gz_report(report_id="good"), filename="g.json.gz")])
    bad = build_email([Attachment(b"\x1f\x8b\x08\x00trunc", filename="b.json.gz")])
    result = load_file(write.mbox("x.mbox", [bad, good]))
    assert [r.report_id for r in result.reports] == ["good"]
    assert [e.source.part for e in result.errors] == ["message 1, part 2 (b.json.gz)"]


def test_load_message_for_importers() -> None:
    message = parse_message(build_email([Attachment(GZ)]))
    result = load_message(message, Source("imap:INBOX/42", "uid 42"))
    report = one_report(result)
    assert report.source.part is not None
    assert report.source.part.startswith("uid 42, part 2")


def test_read_raw_returns_the_json_as_sent(write: Any) -> None:
    obj = build_report(report_id="raw")
    path = write.eml("m.eml", [Attachment(gzip.compress(json.dumps(obj).encode()))])
    report = one_report(load_file(path))
    assert read_raw(report.source) == obj
    arr = write.json("a.json", [build_report(), obj])
    second = load_file(arr).reports[1]
    assert read_raw(second.source) == obj


# --------------------------------------------------------------------------- tolerated


def test_utf8_bom_tolerated_with_warning(write: Any) -> None:
    for path in (write.json("bom.json", build_report(), bom=True),):
        report = one_report(load_file(path))
        assert any("byte order mark" in w for w in report.warnings)
    data = b"\xef\xbb\xbf" + json.dumps(build_report()).encode()
    report = one_report(load_file(write.raw("bom.json.gz", gzip.compress(data))))
    assert any("byte order mark" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("text", "expected", "warned"),
    [
        ("2024-03-01T00:00:00Z", datetime(2024, 3, 1, tzinfo=UTC), False),
        ("2024-03-01t00:00:00z", datetime(2024, 3, 1, tzinfo=UTC), False),
        ("2024-03-01T02:00:00+02:00", datetime(2024, 3, 1, tzinfo=UTC), False),
        ("2024-02-29T19:00:00-05:00", datetime(2024, 3, 1, tzinfo=UTC), False),
        ("2024-03-01T05:30:00+0530", datetime(2024, 3, 1, tzinfo=UTC), False),
        ("2024-03-01T00:00:00.123Z", datetime(2024, 3, 1, 0, 0, 0, 123000, tzinfo=UTC), False),
        (
            "2024-03-01T00:00:00.123456789Z",
            datetime(2024, 3, 1, 0, 0, 0, 123456, tzinfo=UTC),
            False,
        ),
        ("2024-03-01T00:00:00", datetime(2024, 3, 1, tzinfo=UTC), True),
        ("2024-03-01 00:00:00", datetime(2024, 3, 1, tzinfo=UTC), True),
        ("2024-03-01T00:00:00.5", datetime(2024, 3, 1, 0, 0, 0, 500000, tzinfo=UTC), True),
    ],
)
def test_date_times_any_offset_fraction_or_none(
    text: str, expected: datetime, warned: bool
) -> None:
    report = one_report(load(build_report(start=text)))
    assert report.start == expected
    assert report.start.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert any("no UTC offset" in w for w in report.warnings) == warned


@pytest.mark.parametrize("end", ["2024-03-01T23:59:59Z", "2024-03-02T00:00:00Z"])
def test_day_ending_at_last_second_or_next_midnight(end: str) -> None:
    report = one_report(load(build_report(end=end)))
    assert report.start.date().isoformat() == "2024-03-01"
    assert report.end.isoformat().startswith(end[:10])


@pytest.mark.parametrize("domain", ["EXAMPLE.com", "example.com.", "Example.COM.", " example.com"])
def test_domains_normalised_with_warning(domain: str) -> None:
    report = one_report(load(build_report(policies=[build_policy(domain)])))
    assert report.policies[0].policy_domain == "example.com"
    assert any("normalised" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("mx_host", "expected"),
    [
        ("mx.example.com", ("mx.example.com",)),
        ("mx: mx.example.com", ("mx.example.com",)),
        (["mx: mx1.example.com", "MX2.example.com."], ("mx1.example.com", "mx2.example.com")),
        ("*.Example.com", ("*.example.com",)),
    ],
)
def test_mx_host_as_string_or_list_with_or_without_prefix(
    mx_host: Any, expected: tuple[str, ...]
) -> None:
    report = one_report(load(build_report(policies=[build_policy(mx_host=mx_host)])))
    assert report.policies[0].mx_host == expected
    if isinstance(mx_host, str):
        assert any("mx-host was a string" in w for w in report.warnings)


def test_contact_info_null_or_missing() -> None:
    assert one_report(load(build_report(contact_info=None))).contact_info is None
    assert one_report(load(build_report(contact_info=...))).contact_info is None
    wrong = one_report(load(build_report(contact_info=["a@b"])))
    assert wrong.contact_info is None
    assert any("contact-info" in w for w in wrong.warnings)


def test_additional_info_uri_read_as_additional_information() -> None:
    detail = {
        "result-type": "validation-failure",
        "failed-session-count": 2,
        "additional-info-uri": "https://reporter.example/info",
    }
    report = one_report(
        load(build_report(policies=[build_policy(failed=2, failure_details=[detail])]))
    )
    assert report.policies[0].failure_details[0].additional_information == (
        "https://reporter.example/info"
    )
    assert any("additional-info-uri" in w for w in report.warnings)


def test_failure_details_with_only_result_type_and_count() -> None:
    policy = build_policy(failed=3, failure_details=[build_detail("sts-policy-fetch-error", 3)])
    detail = one_report(load(build_report(policies=[policy]))).policies[0].failure_details[0]
    assert detail == FailureDetail("sts-policy-fetch-error", 3)


@pytest.mark.parametrize("details", [None, []])
def test_failure_details_absent_or_empty(details: list | None) -> None:
    report = one_report(load(build_report(policies=[build_policy(failure_details=details)])))
    assert report.policies[0].failure_details == ()


TLSA_RECORDS = ["3 1 1 " + "AB" * 32, "2 1 1 " + "CD" * 32, "2 1 1 " + "EF" * 32]


@pytest.mark.parametrize(
    "policy_string",
    [json.dumps(TLSA_RECORDS), [json.dumps(TLSA_RECORDS)], " " + json.dumps(TLSA_RECORDS)],
    ids=["string", "array-of-one-string", "padded-string"],
)
def test_microsoft_tlsa_policy_string_unwrapped(policy_string: Any) -> None:
    policy = build_policy(policy_type="tlsa", policy_string=policy_string)
    report = one_report(load(build_report(policies=[policy])))
    assert report.policies[0].policy_string == tuple(TLSA_RECORDS)
    assert any("JSON array in a string" in w for w in report.warnings)


def test_policy_string_as_plain_string_kept() -> None:
    policy = build_policy(policy_string="version: STSv1")
    report = one_report(load(build_report(policies=[policy])))
    assert report.policies[0].policy_string == ("version: STSv1",)


def test_detail_counts_over_summary_keep_both() -> None:
    details = [build_detail("sts-policy-fetch-error", 1), build_detail("sts-policy-fetch-error", 1)]
    policy = build_policy(successful=0, failed=1, failure_details=details)
    (p,) = one_report(load(build_report(policies=[policy]))).policies
    assert p.total_failure_session_count == 1
    assert p.detail_failure_count == 2
    assert len(p.failure_details) == 2


def no_domain_policy() -> dict[str, Any]:
    return {
        "policy": {"policy-type": "no-policy-found"},
        "summary": {"total-successful-session-count": 1, "total-failure-session-count": 0},
        "failure-details": [],
    }


def test_missing_policy_domain_from_email_header(write: Any) -> None:
    data = json.dumps(build_report(policies=[no_domain_policy()])).encode()
    path = write.eml(
        "m.eml",
        [Attachment(data, "application/tlsrpt+json", "google.com!other.example!1!2!x.json")],
        TLS_Report_Domain="Header.Example.",
    )
    report = one_report(load_file(path))
    assert report.policies[0].policy_domain == "header.example"
    assert any("policy-domain missing" in w for w in report.warnings)


def test_missing_policy_domain_from_attachment_file_name(write: Any) -> None:
    data = json.dumps(build_report(policies=[no_domain_policy()])).encode()
    path = write.eml(
        "m.eml", [Attachment(data, "application/tlsrpt+json", "google.com!Named.Example!1!2.json")]
    )
    assert one_report(load_file(path)).policies[0].policy_domain == "named.example"


def test_missing_policy_domain_from_file_name(write: Any) -> None:
    obj = build_report(policies=[no_domain_policy()])
    path = write.gz("google.com!file.example!1725321600!1725407999!001.json.gz", obj)
    assert one_report(load_file(path)).policies[0].policy_domain == "file.example"


def test_missing_policy_domain_unknown(write: Any) -> None:
    for policy in (no_domain_policy(), build_policy(domain="")):
        report = one_report(load_file(write.json("report.json", build_report(policies=[policy]))))
        assert report.policies[0].policy_domain == UNKNOWN_DOMAIN
        assert any(UNKNOWN_DOMAIN in w for w in report.warnings)


def test_report_with_no_policies_kept_with_warning() -> None:
    report = one_report(load(build_report(policies=[])))
    assert report.policies == ()
    assert "report lists no policies" in report.warnings


# --------------------------------------------------------------------------- rejected


def test_not_json(write: Any) -> None:
    path = write.raw("r.json", b'{"organization-name": "x",')
    result = load_file(path)
    error = only_error(result)
    assert result.errors[0].source == Source(str(path))
    assert error.startswith("not JSON")
    assert "line 1" in error


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty"),
        (b"   \n", "file is empty"),
        (b"# notes\nnothing here", "not a TLS-RPT report"),
        (b"\x00\x01\x02binary", "not a TLS-RPT report"),
        (b'"just a string"', "not a TLS-RPT report"),
        (b"[1, 2]", "must be a JSON object, got an integer"),
        (b"\xff\xfe{}", "not a TLS-RPT report"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_not_a_report(data: bytes, message: str) -> None:
    result = load_bytes(data, Source("x"))
    assert result.reports == []
    assert result.errors
    assert message in result.errors[0].error


def test_truncated_gzip(write: Any) -> None:
    path = write.raw("r.json.gz", gz_report()[:-12])
    result = load_file(path)
    assert only_error(result) == "truncated gzip stream"
    assert result.errors[0].source.path == str(path)


def test_corrupt_gzip() -> None:
    data = bytearray(gz_report())
    data[20:30] = b"\xff" * 10
    assert "gzip" in only_error(load_bytes(bytes(data), Source("x")))


REQUIRED = [
    ("organization-name", lambda r: r.pop("organization-name")),
    ("report-id", lambda r: r.pop("report-id")),
    ("date-range", lambda r: r.pop("date-range")),
    ("date-range.start-datetime", lambda r: r["date-range"].pop("start-datetime")),
    ("date-range.end-datetime", lambda r: r["date-range"].pop("end-datetime")),
    ("policies", lambda r: r.pop("policies")),
]
POLICY_REQUIRED = [
    ("policies[0].policy", lambda p: p.pop("policy")),
    ("policies[0].policy.policy-type", lambda p: p["policy"].pop("policy-type")),
    ("policies[0].summary", lambda p: p.pop("summary")),
    (
        "policies[0].summary.total-successful-session-count",
        lambda p: p["summary"].pop("total-successful-session-count"),
    ),
    (
        "policies[0].summary.total-failure-session-count",
        lambda p: p["summary"].pop("total-failure-session-count"),
    ),
]


@pytest.mark.parametrize(("field", "drop"), REQUIRED, ids=[f for f, _ in REQUIRED])
def test_required_report_field_missing(write: Any, field: str, drop: Any) -> None:
    obj = build_report()
    drop(obj)
    path = write.json("r.json", obj)
    result = load_file(path)
    error = only_error(result)
    assert result.errors[0].source.path == str(path)
    assert error.startswith(field)
    assert "missing" in error


@pytest.mark.parametrize(("field", "drop"), POLICY_REQUIRED, ids=[f for f, _ in POLICY_REQUIRED])
def test_required_policy_field_missing(field: str, drop: Any) -> None:
    policy = build_policy()
    drop(policy)
    error = only_error(load(build_report(policies=[policy])))
    assert error.startswith(field)
    assert "missing" in error


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"failed-session-count": 1}, "result-type"),
        ({"result-type": "validation-failure"}, "failed-session-count"),
    ],
)
def test_required_detail_field_missing(detail: dict, field: str) -> None:
    policy = build_policy(failed=1, failure_details=[detail, build_detail()])
    result = load(build_report(policies=[policy]))
    # The bad row is reported, the report and its good rows are kept.
    assert len(result.reports) == 1
    assert len(result.reports[0].policies[0].failure_details) == 1
    assert [e.error for e in result.errors] == [
        f"policies[0].failure-details[0].{field}: required field missing"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "must not be negative, got -1"),
        (1.5, "must be an integer, got 1.5"),
        ("12", "must be an integer, got a string"),
        (True, "must be an integer, got a boolean"),
        ([1], "must be an integer, got an array"),
        (10**400, "implausibly large"),
    ],
    ids=["negative", "fraction", "string", "boolean", "array", "huge"],
)
def test_bad_counts(value: Any, message: str) -> None:
    policy = build_policy()
    policy["summary"]["total-failure-session-count"] = value
    error = only_error(load(build_report(policies=[policy])))
    assert error.startswith(f"policies[0].summary.total-failure-session-count: {message}")


def test_bad_detail_count() -> None:
    policy = build_policy(failed=1, failure_details=[build_detail(count=-3)])
    result = load(build_report(policies=[policy]))
    assert [e.error for e in result.errors] == [
        "policies[0].failure-details[0].failed-session-count: must not be negative, got -3"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organization_name": 42}, "organization-name: must be a string, got an integer"),
        ({"report_id": ["x"]}, "report-id: must be a string, got an array"),
        ({"date_range": "2024-03-01"}, "date-range: must be an object, got a string"),
        ({"start": 1709251200}, "date-range.start-datetime: must be a date-time string"),
        ({"end": "yesterday"}, "date-range.end-datetime: not an RFC 3339 date-time"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "date-range.start-datetime: out of range"),
        ({"policies": {"policy": {}}}, "policies: must be an array, got an object"),
        ({"policies": ["sts"]}, "policies[0]: must be an object, got a string"),
    ],
)
def test_wrong_types(change: dict[str, Any], message: str) -> None:
    error = only_error(load(build_report(**change)))
    assert error.startswith(message), error


def test_wrong_type_policy_fields() -> None:
    policy = build_policy()
    policy["policy"]["policy-domain"] = 7
    assert only_error(load(build_report(policies=[policy]))).startswith(
        "policies[0].policy.policy-domain: must be a string, got an integer"
    )
    policy = build_policy()
    policy["summary"] = [1, 2]
    assert only_error(load(build_report(policies=[policy]))) == (
        "policies[0].summary: got an array"
    )


def test_one_bad_policy_never_hides_the_good_ones() -> None:
    bad = build_policy("bad.example")
    bad["summary"]["total-successful-session-count"] = -5
    obj = build_report(policies=[build_policy("good.example"), bad, build_policy("also.example")])
    result = load(obj, "r.json")
    (report,) = result.reports
    assert [p.policy_domain for p in report.policies] == ["good.example", "also.example"]
    assert len(result.errors) == 1
    assert result.errors[0].source == Source("r.json")
    assert result.errors[0].error.startswith("policies[1].summary")


def test_one_bad_report_never_hides_the_others() -> None:
    huge = build_report(report_id="huge")
    huge["policies"][0]["summary"]["total-successful-session-count"] = 10**400
    result = load([build_report(report_id="a"), huge, "junk", build_report(report_id="b")])
    assert [r.report_id for r in result.reports] == ["a", "b"]
    assert [e.source.part for e in result.errors] == ["item 1", "item 2"]


def test_all_policies_bad_gives_errors_and_no_report() -> None:
    bad = build_policy()
    bad.pop("summary")
    result = load(build_report(policies=[bad, bad]))
    assert result.reports == []
    assert len(result.errors) == 2


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    result = load_file(tmp_path / "gone.json")
    assert result.reports == []
    assert result.errors[0].error.startswith("cannot read file")
    result = load_file(tmp_path)
    assert "directory" in only_error(result)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    results: list[LoadResult] = []
    reader = threading.Thread(target=lambda: results.append(load_file(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # let the blocked reader go
        reader.join(10)
        pytest.fail("load_file blocked reading a FIFO")
    assert "not a regular file" in only_error(results[0])


# --------------------------------------------------------------------------- caps


def gzip_bomb(megabytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    return b"".join(compressor.compress(zeros) for _ in range(megabytes)) + compressor.flush()


def test_gzip_bomb_capped_while_decompressing() -> None:
    bomb = gzip_bomb(200)
    cap = 1024 * 1024
    tracemalloc.start()
    try:
        result = load_bytes(bomb, Source("bomb.json.gz"), limits=Limits(max_decompressed_bytes=cap))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "more than the 1,048,576 byte limit" in only_error(result)
    assert peak < 2 * cap, f"peak {peak:,} bytes for a {cap:,} byte cap"


def test_gunzip_cap_is_exact() -> None:
    data = b"x" * 100_000
    assert gunzip_capped(gzip.compress(data), 100_000) == data
    with pytest.raises(ReportError, match="limit"):
        gunzip_capped(gzip.compress(data), 99_999)


def test_bomb_in_an_email_part(write: Any) -> None:
    path = write.eml("bomb.eml", [Attachment(gzip_bomb(8)), Attachment(GZ, filename="ok.json.gz")])
    result = load_file(path, limits=Limits(max_decompressed_bytes=1024 * 1024))
    assert len(result.reports) == 1
    assert "limit" in result.errors[0].error


def test_plain_json_over_decompressed_cap() -> None:
    data = json.dumps(build_report(organization_name="x" * 5000)).encode()
    result = load_bytes(data, Source("big.json"), limits=Limits(max_decompressed_bytes=1000))
    assert "over the 1,000 byte limit" in only_error(result)


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_json_nesting_depth(depth: int) -> None:
    for data in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        assert only_error(load_bytes(data, Source("deep.json"))) == "JSON nested too deeply"
        result = load_bytes(gzip.compress(data), Source("deep.json.gz"))
        assert only_error(result) == "JSON nested too deeply"


def test_deep_nesting_inside_a_field() -> None:
    obj = build_report()
    deep: Any = "x"
    for _ in range(500):
        deep = [deep]
    obj["policies"][0]["failure-details"] = [build_detail(additional_information=deep)]
    result = load(obj)
    assert len(result.reports) == 1


def test_file_size_cap(write: Any) -> None:
    path = write.json("r.json", build_report())
    result = load_file(path, limits=Limits(max_file_bytes=100))
    assert "over the 100 byte limit" in only_error(result)
    assert result.errors[0].source.path == str(path)


def test_long_strings_are_cut_with_warning() -> None:
    report = one_report(load(build_report(organization_name="A" * 100_000)))
    assert len(report.organization_name) < 100_000
    assert any("organization-name" in w and "cut" in w for w in report.warnings)


def test_sniff() -> None:
    assert sniff(GZ) == "gzip"
    assert sniff(b"\xef\xbb\xbf  {") == "json"
    assert sniff(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2024\nFrom: a\n") == "mbox"
    assert sniff(b"Received: x\nFrom: a\nTo: b\n\nbody") == "email"
    assert sniff(b"") == "empty"
    assert sniff(b"hello") == "other"


def test_unpaired_surrogates_replaced() -> None:
    """JSON can spell "\\ud800"; such a string could never be printed or saved as UTF-8."""
    policy = build_policy("ex\ud800ample.com", mx_host=["mx\udfff.example.com"])
    policy["policy"]["policy-type"] = "sts\udc00"
    obj = build_report(organization_name="Evil\ud800Corp", policies=[policy])
    report = one_report(load(json.dumps(obj).encode()))
    (p,) = report.policies
    # Compared as ascii(): a failure report holding a lone surrogate would break xdist.
    got = (report.organization_name, p.policy_domain, p.mx_host, p.policy_type)
    expected = ("Evil\ufffdCorp", "ex\ufffdample.com", ("mx\ufffd.example.com",), "sts\ufffd")
    assert ascii(got) == ascii(expected)
    assert any("surrogates" in w for w in report.warnings)


def test_overlong_integer_is_an_error_that_hides_nothing(write: Any) -> None:
    data = b'{"organization-name": "x", "n": ' + b"1" * 5000 + b"}"
    path = write.eml(
        "m.eml",
        [
            Attachment(data, "application/tlsrpt+json", "long.json"),
            Attachment(GZ, filename="ok.json.gz"),
        ],
    )
    result = load_file(path)
    assert len(result.reports) == 1
    assert [e.source.part for e in result.errors] == ["part 2 (long.json)"]
    assert result.errors[0].error.startswith("not JSON")


def test_empty_receiving_mx_hostname_is_none() -> None:
    policy = build_policy(failed=1, failure_details=[build_detail(receiving_mx_hostname=".")])
    detail = one_report(load(build_report(policies=[policy]))).policies[0].failure_details[0]
    assert detail.receiving_mx_hostname is None
