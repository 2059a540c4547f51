"""Property tests: the loader never raises, whatever it is fed; the store never raises either."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from datetime import date
from typing import Any

from conftest import Attachment, build_detail, build_email, build_policy, build_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsrpt_tui.core.archive import Archive
from tlsrpt_tui.core.facts import summarize_domains
from tlsrpt_tui.core.model import Source
from tlsrpt_tui.core.reading.loader import Limits, LoadResult, load_bytes
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import Filter

FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For the tests that build whole archives per example.
SLOWER = settings(FAST, max_examples=80)
LIMITS = Limits(max_file_bytes=1 << 20, max_decompressed_bytes=1 << 20)

RFC_KEYS = [
    "organization-name",
    "date-range",
    "start-datetime",
    "end-datetime",
    "contact-info",
    "report-id",
    "policies",
    "policy",
    "policy-type",
    "policy-string",
    "policy-domain",
    "mx-host",
    "summary",
    "total-successful-session-count",
    "total-failure-session-count",
    "failure-details",
    "result-type",
    "sending-mta-ip",
    "receiving-mx-hostname",
    "receiving-mx-helo",
    "receiving-ip",
    "failed-session-count",
    "additional-information",
    "additional-info-uri",
    "failure-reason-code",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, -1, 2**53 + 1, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            "sts",
            "tlsa",
            "no-policy-found",
            "EXAMPLE.com.",
            "mx: mx.example.com",
            "2024-03-01T00:00:00Z",
            "2024-03-01T00:00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            '["3 1 1 AB"]',
            "mode: enforce",
            "\x1b[31m[bold]x[/]",
            "lone \ud800 surrogate",
            "\udfff",
        ]
    )
)
keys = st.sampled_from(RFC_KEYS) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


def check(result: LoadResult) -> LoadResult:
    """Invariants every load result keeps."""
    assert result.reports or result.errors, "a file is either reports or errors"
    for error in result.errors:
        assert isinstance(error.error, str) and error.error
    for report in result.reports:
        assert report.start.utcoffset() is not None
        printable(report)
        for policy in report.policies:
            assert policy.total_successful_session_count >= 0
            assert policy.total_failure_session_count >= 0
            assert policy.policy_domain == policy.policy_domain.lower()
            assert all(d.failed_session_count >= 0 for d in policy.failure_details)
    return result


def printable(value: Any) -> None:
    """Every string the loader hands out can be written as UTF-8 (no lone surrogates)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, tuple | list):
        for item in value:
            printable(item)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            printable(getattr(value, f.name))


def load(data: bytes, name: str = "r.json") -> LoadResult:
    return check(load_bytes(data, Source(name), limits=LIMITS, file_name=name))


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# --------------------------------------------------------------------------- bytes


PREFIXES = [
    b"",
    b"\x1f\x8b",
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff",
    b"\xef\xbb\xbf",
    b"{",
    b"[",
    b"From MAILER-DAEMON Thu Jan  1 00:00:00 2024\n",
    b"From: a@b\nTo: c@d\nContent-Type: application/tlsrpt+json\n\n",
    b"Subject: x\nContent-Type: multipart/report; boundary=b\n\n--b\n",
]


@FAST
@given(st.sampled_from(PREFIXES), st.binary(max_size=600))
def test_arbitrary_bytes(prefix: bytes, data: bytes) -> None:
    load(prefix + data)


@FAST
@given(st.binary(max_size=600))
def test_arbitrary_gzipped_bytes(data: bytes) -> None:
    packed = gzip.compress(data)
    load(packed)
    load(packed[: len(packed) // 2])


# --------------------------------------------------------------------------- JSON


@FAST
@given(json_values)
def test_arbitrary_json_values(value: Any) -> None:
    load(dumps(value))
    load(gzip.compress(dumps(value)), "r.json.gz")


Path = tuple[Any, ...]


def paths_of(value: Any, prefix: Path = ()) -> list[Path]:
    found: list[Path] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(paths_of(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found.extend(paths_of(child, (*prefix, index)))
    return found


def mutate(obj: Any, path: Path, action: str, replacement: Any) -> None:
    parent = obj
    for step in path[:-1]:
        parent = parent[step]
    if action == "drop":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement


def valid_report(index: int) -> dict[str, Any]:
    details = [
        build_detail("validation-failure", 2, receiving_mx_hostname="mx.example.com"),
        build_detail("sts-policy-fetch-error", 1, additional_info_uri="https://x.example"),
    ]
    return build_report(
        organization_name=["Google Inc.", "Microsoft Corporation", "Mail.ru"][index % 3],
        report_id=f"id-{index}",
        start=f"2024-03-{index % 28 + 1:02d}T00:00:00Z",
        end=f"2024-03-{index % 28 + 1:02d}T23:59:59Z",
        policies=[
            build_policy("example.com", "sts", 10, 3, details),
            build_policy("example.com", "tlsa", 9, 3, details[:1], policy_string=['["3 1 1 AB"]']),
            build_policy("other.example", "no-policy-found", 4, 0),
        ],
    )


@st.composite
def mutated_reports(draw: st.DrawFn) -> dict[str, Any]:
    obj = valid_report(draw(st.integers(0, 50)))
    for _ in range(draw(st.integers(0, 4))):
        paths = paths_of(obj)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["drop", "replace"]))
        mutate(obj, path, action, draw(json_values) if action == "replace" else None)
    return obj


@FAST
@given(mutated_reports())
def test_mutated_valid_reports(obj: dict[str, Any]) -> None:
    load(dumps(obj))


def forms(obj: Any, index: int) -> tuple[bytes, str]:
    data = dumps(obj)
    form = index % 3
    if form == 0:
        return data, f"r{index}.json"
    if form == 1:
        return gzip.compress(data), f"r{index}.json.gz"
    return build_email([Attachment(gzip.compress(data))]), f"r{index}.eml"


queries_filters = st.builds(
    Filter,
    text=st.sampled_from(["", "example", "google", "fetch", "mx.", "\x1b", "ZZZ"]),
    since=st.none() | st.dates(date(2024, 2, 25), date(2024, 3, 31)),
    until=st.none() | st.dates(date(2024, 2, 25), date(2024, 3, 31)),
    domain=st.none() | st.sampled_from(["example.com", "other.example", "(unknown)"]),
    reporter=st.none() | st.sampled_from(["Google Inc.", "Mail.ru"]),
    result_type=st.none() | st.sampled_from(["validation-failure", "sts-policy-fetch-error"]),
)


@SLOWER
@given(st.lists(mutated_reports(), min_size=1, max_size=6), st.lists(queries_filters, max_size=3))
def test_store_queries_never_raise(objs: list[dict[str, Any]], filters: list[Filter]) -> None:
    archive = Archive()
    for index, obj in enumerate(objs):
        data, name = forms(obj, index)
        archive.add(load(data, name))
        if index % 2:  # and a copy elsewhere, to exercise duplicates and removal
            archive.add(load(data, f"copy/{name}"))
    store = MemoryStore(archive)
    archive.remove("copy/r1.json.gz")  # the store follows the archive's changes
    archive.remove("r0.json")
    store.resync()
    for flt in [Filter(), *filters]:
        overview = store.overview(flt)
        assert overview.successful >= 0 and overview.failed >= 0
        assert 0.0 <= overview.failure_rate <= 1.0
        for pivot in ("domain", "reporter"):
            store.nav_rows(pivot, flt)
        store.policy_rows(flt)
        store.failure_rows(flt)
        store.result_types(flt)
        store.daily(flt)
        store.result_type_daily(flt)
        for row in store.report_rows(flt):
            assert store.report(row.key) is not None
    store.errors()
    json.dumps(summarize_domains(archive.sorted_reports()))


@SLOWER
@given(st.lists(mutated_reports(), min_size=1, max_size=4))
def test_domain_totals_between_max_and_sum_of_blocks(objs: list[dict[str, Any]]) -> None:
    reports = [r for obj in objs for r in load(dumps(obj)).reports]
    for domain, entry in summarize_domains(reports).items():
        blocks = [p for r in reports for p in r.policies if p.policy_domain == domain]
        by_type = entry["policy-types"].values()
        assert entry["successful"] <= sum(p["successful"] for p in by_type)
        assert entry["failed"] <= sum(p["failed"] for p in by_type)
        assert entry["successful"] >= max(p.total_successful_session_count for p in blocks)
        assert entry["failed"] >= max(p.total_failure_session_count for p in blocks)
        assert sum(entry["reporters"][r]["failed"] for r in entry["reporters"]) == entry["failed"]


# --------------------------------------------------------------------------- text


@FAST
@given(st.text())
def test_plain_leaves_no_control_characters(value: str) -> None:
    shown = plain(value)
    for char in shown:
        code = ord(char)
        assert code >= 0x20 and not 0x7F <= code <= 0x9F, repr(char)
        assert char not in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    if all(char.isprintable() and char not in "\\" for char in value):
        assert shown == value or any(0x202A <= ord(c) <= 0x2069 for c in value)


def test_nan_and_infinite_counts_rejected() -> None:
    for value in (math.nan, math.inf, -math.inf, 1e300):
        obj = build_report()
        obj["policies"][0]["summary"]["total-failure-session-count"] = value
        result = load(dumps(obj))
        assert result.reports == []
        assert "must be an integer" in result.errors[0].error
