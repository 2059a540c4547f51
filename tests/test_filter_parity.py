"""The text filter finds the same through the index as in memory, for every field it matches.

The two stores build their filter text from one definition
(:func:`tlsrpt_tui.core.facts.unit_haystack`); these tests make reports whose every
matched field holds a word of its own, and check that each word finds exactly the
reports that carry it, in both stores, with the same answers in every pane.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import build_detail, build_policy, build_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.facts import FILTER_FIELDS
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS
from tlsrpt_tui.locations import demo_archive
from tlsrpt_tui.store.index import SqliteStore, open_index
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import ArchiveQueries, Filter

#: Words of each field (none is a part of another, nor of the fixed text of a report).
POOLS: dict[str, list[str]] = {
    "policy-domain": ["dom-aq.example", "dom-bq.example", "dom-cq.example"],
    "reporter": ["Rep Alfa", "Rep Bravo", "Rep Charlie"],
    "policy-type": ["sts", "tlsa", "no-policy-found"],
    "sts-mode": ["enforce", "testing", "none"],
    "mx-host": ["mxw-one.example", "mxw-two.example"],
    "result-type": ["rt-expired", "rt-starttls", "rt-validation"],
    "receiving-mx-hostname": ["rmx-one.example", "rmx-two.example"],
    "receiving-ip": ["198.51.100.11", "198.51.100.22"],
    "sending-mta-ip": ["203.0.113.31", "203.0.113.42"],
    "receiving-mx-helo": ["helo-uno", "helo-dos"],
    "additional-information": ["info-uno", "info-dos"],
    "failure-reason-code": ["reason-uno", "reason-dos"],
}
DETAIL_FIELDS = {
    "receiving-mx-hostname": "receiving_mx_hostname",
    "receiving-ip": "receiving_ip",
    "sending-mta-ip": "sending_mta_ip",
    "receiving-mx-helo": "receiving_mx_helo",
    "additional-information": "additional_information",
    "failure-reason-code": "failure_reason_code",
}


def test_the_pools_cover_every_field_the_filter_matches() -> None:
    assert set(POOLS) == set(FILTER_FIELDS)


def pick(field: str) -> st.SearchStrategy[str]:
    return st.sampled_from(POOLS[field])


@st.composite
def details(draw: st.DrawFn) -> dict[str, Any]:
    extra = {
        name: draw(pick(field)) for field, name in DETAIL_FIELDS.items() if draw(st.booleans())
    }
    return build_detail(draw(pick("result-type")), draw(st.integers(0, 5)), **extra)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    ptype = draw(pick("policy-type"))
    overrides: dict[str, Any] = {}
    if ptype == "sts":
        overrides["policy_string"] = ["version: STSv1", f"mode: {draw(pick('sts-mode'))}"]
    elif ptype == "tlsa":
        overrides["policy_string"] = ["3 1 1 AB"]
    if ptype != "no-policy-found" or draw(st.booleans()):
        overrides["mx_host"] = draw(st.lists(pick("mx-host"), max_size=2, unique=True))
    return build_policy(
        draw(pick("policy-domain")),
        ptype,
        draw(st.integers(0, 9)),
        draw(st.integers(0, 9)),
        draw(st.lists(details(), max_size=3)) or None,
        **overrides,
    )


@st.composite
def archives(draw: st.DrawFn) -> list[dict[str, Any]]:
    reports = []
    for number in range(draw(st.integers(1, 6))):
        day = draw(st.integers(1, 3))
        reports.append(
            build_report(
                organization_name=draw(pick("reporter")),
                report_id=f"id-{number}",
                start=f"2024-03-0{day}T00:00:00Z",
                end=f"2024-03-0{day}T23:59:59Z",
                policies=draw(st.lists(policies(), min_size=1, max_size=3)),
            )
        )
    return reports


def words_of(report: dict[str, Any]) -> set[str]:
    """Every pool word a report carries, in any field the filter matches."""
    text = json.dumps(report).lower()
    return {w.lower() for pool in POOLS.values() for w in pool if w.lower() in text}


@contextmanager
def stores(reports: list[dict[str, Any]]) -> Iterator[tuple[MemoryStore, ArchiveQueries]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "reports"
        root.mkdir()
        for number, report in enumerate(reports):
            (root / f"r{number}.json").write_text(json.dumps(report))
        old = os.environ.get("TLSRPT_TUI_CACHE_DIR")
        os.environ["TLSRPT_TUI_CACHE_DIR"] = str(Path(folder) / "cache")
        try:
            index = open_index([root], limits=DEFAULT_LIMITS, jobs=1)
            try:
                yield MemoryStore(load_archive([root])), index
            finally:
                index.close()
        finally:
            if old is None:
                del os.environ["TLSRPT_TUI_CACHE_DIR"]
            else:
                os.environ["TLSRPT_TUI_CACHE_DIR"] = old


def unordered(rows: list[Any]) -> list[str]:
    return sorted(repr(r) for r in rows)


def assert_same(memory: MemoryStore, index: ArchiveQueries, flt: Filter) -> None:
    assert index.overview(flt) == memory.overview(flt), flt
    for pivot in ("domain", "reporter"):
        assert index.nav_rows(pivot, flt) == memory.nav_rows(pivot, flt), (pivot, flt)
        trend = index.nav_rows(pivot, flt, trend_days=14)
        assert trend == memory.nav_rows(pivot, flt, trend_days=14), (pivot, flt)
    assert unordered(index.policy_rows(flt)) == unordered(memory.policy_rows(flt)), flt
    assert unordered(index.failure_rows(flt)) == unordered(memory.failure_rows(flt)), flt
    assert index.result_types(flt) == memory.result_types(flt), flt
    assert index.daily(flt) == memory.daily(flt), flt
    assert index.result_type_daily(flt) == memory.result_type_daily(flt), flt
    assert unordered(index.report_rows(flt)) == unordered(memory.report_rows(flt)), flt


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(archives())
def test_every_filter_word_finds_the_same_reports(reports: list[dict[str, Any]]) -> None:
    with stores(reports) as (memory, index):
        # Both ways the index answers a text filter: in SQL, and from what it keeps in
        # memory once the explorer has had a pause to load it.
        for prepared in (False, True):
            if prepared:
                assert isinstance(index, SqliteStore)
                index.prepare_text_filter(14)
            for pool in POOLS.values():
                for word in pool:
                    needle = word.lower()
                    expected = sum(1 for r in reports if needle in words_of(r))
                    flt = Filter(text=word)
                    assert memory.overview(flt).reports == expected, word
                    assert_same(memory, index, flt)
                    # (narrowed further, as the explorer does on a selected row)
                    for row in memory.nav_rows("domain", Filter())[:1]:
                        assert_same(memory, index, Filter(text=word, domain=row.key))


@pytest.mark.parametrize("word", ["enforce", "testing", "none", "sts", "tlsa", "no-policy"])
def test_demo_policy_words_find_the_same_through_the_index(
    word: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo: ``enforce`` found 0 reports through the index and 256 in memory."""
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    memory = MemoryStore(load_archive([demo_archive()]))
    index = open_index([demo_archive()], limits=DEFAULT_LIMITS, jobs=1)
    try:
        flt = Filter(text=word)
        if word in ("enforce", "testing", "sts"):
            assert memory.overview(flt).reports > 0, word
        assert_same(memory, index, flt)
    finally:
        index.close()
