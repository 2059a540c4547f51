"""The counting rule, everywhere a total appears.

Per report and policy domain: add up the blocks of each policy-type, then take the larger
of the per-type sums, for successful, failed, each result-type and each failure-details
row. The shapes are the real ones: Google splits a day at a policy change into two
``sts`` blocks (plus a ``no-policy-found`` block), SocketLabs sends one day as an ``sts``
block of successes and another of failures, Microsoft reports the same sessions under
``tlsa`` and ``sts``. Every expected figure below is worked out by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import build_detail, build_policy, build_report

from tlsrpt_tui.cli import main
from tlsrpt_tui.commands.summary import summary_document
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.facts import domain_counts, facts_of, result_type_counts
from tlsrpt_tui.core.health import domain_counts as health_domain_counts
from tlsrpt_tui.core.model import Report, Source
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, load_bytes
from tlsrpt_tui.store.index import open_index, summarize_with_index, summarize_without_index
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.parallel import pool
from tlsrpt_tui.store.queries import ArchiveQueries, DailyPoint, Filter

DAY = date(2024, 3, 1)
ENFORCE = ["version: STSv1", "mode: enforce", "mx: mx1.google.example", "max_age: 86400"]
TESTING = ["version: STSv1", "mode: testing", "mx: mx1.google.example", "max_age: 86400"]


def google() -> dict[str, Any]:
    """One day split at a policy change: sts 0/3 and sts 0/10, no-policy-found 1/0."""
    vf = {"receiving_mx_hostname": "mx1.google.example", "receiving_ip": "192.0.2.1"}
    return build_report(
        organization_name="Google LLC",
        report_id="google-split",
        policies=[
            build_policy(
                "google.example", "sts", 0, 3,
                [build_detail("validation-failure", 3, **vf)], policy_string=TESTING,
            ),
            build_policy(
                "google.example", "sts", 0, 10,
                [build_detail("validation-failure", 10, **vf)], policy_string=ENFORCE,
            ),
            build_policy("google.example", "no-policy-found", 1, 0),
        ],
    )  # fmt: skip


def socketlabs() -> dict[str, Any]:
    """One day as an sts block of 12 successes and another of 2 failures."""
    return build_report(
        organization_name="SocketLabs",
        report_id="socketlabs-split",
        policies=[
            build_policy("socket.example", "sts", 12, 0),
            build_policy(
                "socket.example", "sts", 0, 2,
                [build_detail("starttls-not-supported", 2, receiving_ip="192.0.2.9")],
            ),
        ],
    )  # fmt: skip


def microsoft() -> dict[str, Any]:
    """The same 5 + 2 sessions under tlsa and under sts: counted once."""
    detail = [build_detail("validation-failure", 2, receiving_mx_hostname="mx.ms.example")]
    return build_report(
        organization_name="Microsoft Corporation",
        report_id="ms-both",
        policies=[
            build_policy("ms.example", "tlsa", 5, 2, detail, policy_string=["3 1 1 AB"]),
            build_policy("ms.example", "sts", 5, 2, detail),
        ],
    )


#: domain -> (reporter, successful, failed, {result-type: count}), by hand.
EXPECTED = {
    "google.example": ("Google LLC", 1, 13, {"validation-failure": 13}),
    "ms.example": ("Microsoft Corporation", 5, 2, {"validation-failure": 2}),
    "socket.example": ("SocketLabs", 12, 2, {"starttls-not-supported": 2}),
}
POLICY_TYPES = {
    "google.example": {"no-policy-found": (1, 0), "sts": (0, 13)},
    "ms.example": {"sts": (5, 2), "tlsa": (5, 2)},
    "socket.example": {"sts": (12, 2)},
}


def parse(obj: dict[str, Any]) -> Report:
    result = load_bytes(json.dumps(obj).encode(), Source("r.json"))
    assert result.errors == []
    (report,) = result.reports
    return report


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    root = tmp_path / "shapes"
    root.mkdir()
    for name, obj in (("google", google()), ("socketlabs", socketlabs()), ("ms", microsoft())):
        (root / f"{name}.json").write_text(json.dumps(obj))
    return root


# --------------------------------------------------------------------------- core


@pytest.mark.parametrize("make", [google, socketlabs, microsoft])
def test_core_counts(make: Any) -> None:
    report = parse(make())
    ((domain, (ok, failed)),) = domain_counts(report).items()
    reporter, want_ok, want_failed, types = EXPECTED[domain]
    assert (ok, failed) == (want_ok, want_failed)
    assert health_domain_counts(report) == {domain: (want_ok, want_failed)}
    assert result_type_counts(report) == {(domain, rt): n for rt, n in types.items()}
    facts = facts_of(report)
    assert [(f.domain, f.reporter, f.successful, f.failed) for f in facts.domains] == [
        (domain, reporter, want_ok, want_failed)
    ]
    # Failure-details rows follow the same rule: one row per key, its count by the rule.
    assert {f.result_type: f.count for f in facts.failures} == types
    assert len(facts.failures) == len(types)


def test_google_details_of_both_sts_blocks_add_up() -> None:
    (row,) = facts_of(parse(google())).failures
    assert row.count == 13  # 3 + 10 (the largest block alone would say 10)
    assert row.policy_types == ("sts",)


def test_socketlabs_failures_in_both_blocks_add_up() -> None:
    obj = socketlabs()
    obj["policies"][0]["summary"]["total-failure-session-count"] = 1
    assert domain_counts(parse(obj)) == {"socket.example": (12, 3)}


def test_largest_per_type_sum_of_each_field_independently() -> None:
    """sts 7/1 + sts 0/1 = 7/2 against tlsa 3/5: the larger of each is 7 and 5."""
    obj = build_report(
        policies=[
            build_policy("x.example", "sts", 7, 1, [build_detail("a", 1), build_detail("b", 1)]),
            build_policy("x.example", "sts", 0, 1, [build_detail("a", 1)]),
            build_policy(
                "x.example", "tlsa", 3, 5, [build_detail("a", 1), build_detail("b", 4)],
                policy_string=["3 1 1 AB"],
            ),
        ]
    )  # fmt: skip
    report = parse(obj)
    assert domain_counts(report) == {"x.example": (7, 5)}
    assert result_type_counts(report) == {("x.example", "a"): 2, ("x.example", "b"): 4}


# --------------------------------------------------------------------------- stores


def _stores(paths: list[Path], jobs: int) -> Iterator[tuple[str, ArchiveQueries]]:
    yield "memory", MemoryStore(load_archive(paths))
    store = open_index(paths, limits=DEFAULT_LIMITS, jobs=jobs)
    try:
        yield "index", store
    finally:
        store.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_pane_counts_by_the_rule(
    shapes: Path, jobs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "POOL_MIN_FILES", 1)  # jobs=2: the cold build's pool path
    for name, store in _stores([shapes], jobs):
        overview = store.overview(Filter())
        assert (overview.successful, overview.failed) == (18, 17), name
        nav = {r.key: (r.successful, r.failed) for r in store.nav_rows("domain", Filter())}
        assert nav == {d: (e[1], e[2]) for d, e in EXPECTED.items()}, name
        by_reporter = {
            r.key: (r.successful, r.failed) for r in store.nav_rows("reporter", Filter())
        }
        assert by_reporter == {e[0]: (e[1], e[2]) for e in EXPECTED.values()}, name
        for domain, (_reporter, ok, failed, types) in EXPECTED.items():
            flt = Filter(domain=domain)
            assert store.daily(flt) == [DailyPoint(DAY, ok, failed)], (name, domain)
            assert store.result_types(flt) == types, (name, domain)
            rows = store.failure_rows(flt)
            assert {r.result_type: r.count for r in rows} == types, (name, domain)
            assert store.result_type_daily(flt) == {rt: {DAY: n} for rt, n in types.items()}
            (report,) = store.report_rows(flt)
            assert (report.successful, report.failed) == (ok, failed), (name, domain)
            # Per policy-type every block counts (the policy pane).
            per_type: dict[str, list[int]] = {}
            for p in store.policy_rows(flt):
                pair = per_type.setdefault(p.policy_type, [0, 0])
                pair[0] += p.successful
                pair[1] += p.failed
            assert {k: tuple(v) for k, v in per_type.items()} == POLICY_TYPES[domain], name
        assert store.daily(Filter()) == [DailyPoint(DAY, 18, 17)], name


def _check_document(document: dict[str, Any]) -> None:
    for domain, (reporter, ok, failed, types) in EXPECTED.items():
        entry = document["domains"][domain]
        assert (entry["successful"], entry["failed"]) == (ok, failed), domain
        assert entry["reporters"] == {reporter: {"successful": ok, "failed": failed}}
        assert entry["result-types"] == types, domain
        assert entry["policy-types"] == {
            t: {"successful": s, "failed": f} for t, (s, f) in POLICY_TYPES[domain].items()
        }


def test_summary_documents(shapes: Path) -> None:
    document = summary_document(load_archive([shapes]))
    _check_document(document)
    assert summarize_without_index([shapes]) == document
    assert summarize_with_index([shapes]) == document  # cold
    assert summarize_with_index([shapes]) == document  # warm


@pytest.mark.parametrize("no_cache", [False, True])
def test_summary_command(shapes: Path, capsys: pytest.CaptureFixture[str], no_cache: bool) -> None:
    args = ["summary", "--jobs", "1", "--format", "json", str(shapes)]
    assert main([*args, "--no-cache"] if no_cache else args) == 0
    _check_document(json.loads(capsys.readouterr().out))


def test_health_rate_uses_the_rule(shapes: Path) -> None:
    """The failure-rate rule sees 13 of 14 sessions failed for the Google day."""
    from tlsrpt_tui.core.health import evaluate

    reports = list(load_archive([shapes]).reports.values())
    alerts = [a for a in evaluate(reports).alerts if a.rule == "failure-rate"]
    google_alert = next(a for a in alerts if a.policy_domain == "google.example")
    assert (google_alert.numbers["successful"], google_alert.numbers["failed"]) == (1, 13)


def test_an_index_of_the_previous_format_is_rebuilt(shapes: Path) -> None:
    """An index written by the old counting rule is not read as it is."""
    store = open_index([shapes], limits=DEFAULT_LIMITS, jobs=1)
    store.conn.execute("UPDATE meta SET value = replace(value, 'extract=', 'extract=old')")
    store.close()
    store = open_index([shapes], limits=DEFAULT_LIMITS, jobs=1)
    try:
        assert store.last_refresh.cold
        assert store.overview(Filter()).failed == 17
    finally:
        store.close()


# --------------------------------------------------------------------------- real reports


def test_real_microsoft_reports_count_once(corpus_dir: Path) -> None:
    archive = load_archive([corpus_dir])
    both = [
        r
        for r in archive.reports.values()
        if {p.policy_type for p in r.policies} >= {"sts", "tlsa"}
    ]
    assert both, "the corpus has Microsoft's tlsa + sts reports"
    for report in both:
        for domain, (ok, failed) in domain_counts(report).items():
            blocks = [p for p in report.policies if p.policy_domain == domain]
            sts = [p for p in blocks if p.policy_type == "sts"]
            # Same sessions twice: the domain gets one block's worth, not both.
            assert ok == sum(p.total_successful_session_count for p in sts)
            assert failed == sum(p.total_failure_session_count for p in sts)
    document = summary_document(archive)
    assert summarize_without_index([corpus_dir]) == document
