"""A report's identity and keys: pinned, and one definition everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import build_policy, build_report

from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.core.facts import report_key
from tlsrpt_tui.core.model import Report, Source
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, load_bytes
from tlsrpt_tui.ingest import report_dir
from tlsrpt_tui.store.index import open_index
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import Filter

# (report, the stored-name hash ingest gives it, its key within an archive). The hashes
# are what every existing archive's file names hold: they must never change, or ingest
# would store a second copy of every report it already has.
PINNED: list[tuple[dict[str, Any], str, str]] = [
    (
        build_report(),
        "2ab5db997ba90c5d71fc",
        "Example Reporter\x1f2024-03-01T00:00:00Z_example.com\x1f2024-03-01T00:00:00+00:00"
        "\x1fexample.com",
    ),
    (
        build_report(
            organization_name="Google Inc.",
            policies=[
                build_policy(domain="example.com"),
                build_policy(domain="mail.example.org", policy_type="tlsa"),
            ],
        ),
        "a8be1dd05649ac43b6e1",
        "Google Inc.\x1f2024-03-01T00:00:00Z_example.com\x1f2024-03-01T00:00:00+00:00"
        "\x1fexample.com,mail.example.org",
    ),
    (
        build_report(
            organization_name="Bücher GmbH",
            report_id="idn-1",
            policies=[build_policy(domain="bücher.example")],
        ),
        "358de8f4b1547dd3b42b",
        "Bücher GmbH\x1fidn-1\x1f2024-03-01T00:00:00+00:00\x1fxn--bcher-kva.example",
    ),
    (
        build_report(
            organization_name="Microsoft Corporation",
            report_id="133549344000000000+example.net",
            start="2024-03-02T00:00:00+01:00",
            end="2024-03-02T23:59:59+01:00",
            policies=[build_policy(domain="example.net", policy_type="no-policy-found")],
        ),
        "425b1bc9b8e18def65b7",
        "Microsoft Corporation\x1f133549344000000000+example.net"
        "\x1f2024-03-01T23:00:00+00:00\x1fexample.net",
    ),
]


def _read(obj: dict[str, Any]) -> Report:
    result = load_bytes(json.dumps(obj).encode(), Source(path="x.json"), limits=DEFAULT_LIMITS)
    [report] = result.reports
    return report


@pytest.mark.parametrize(("obj", "stored", "key"), PINNED)
def test_the_stored_name_hash_and_the_archive_key_are_pinned(
    obj: dict[str, Any], stored: str, key: str
) -> None:
    report = _read(obj)
    assert report_dir.report_key(report) == stored
    assert report_dir.report_file_name(report, "reporter.example").endswith(f"!{stored}.json.gz")
    assert report_key(report) == key


def test_the_index_and_the_memory_store_key_reports_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSRPT_TUI_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "archive"
    root.mkdir()
    for n, (obj, _stored, _key) in enumerate(PINNED):
        (root / f"r{n}.json").write_text(json.dumps(obj))
    store = open_index([root], limits=DEFAULT_LIMITS)
    indexed = sorted(row.key for row in store.report_rows(Filter()))
    memory = sorted(row.key for row in MemoryStore(load_archive([root])).report_rows(Filter()))
    assert indexed == memory == sorted(key for _obj, _stored, key in PINNED)
    store.close()
