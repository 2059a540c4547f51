"""The benchmark generator's report shapes (``--shape mixed``): every shape is a valid
report that the loader reads with no error, and the index sums them as the loader does."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tlsrpt_tui.commands.summary import summary_document
from tlsrpt_tui.core.archive import load_archive
from tlsrpt_tui.demo.world import MIXED_SHAPES, generate_archive
from tlsrpt_tui.store.index import summarize_with_index

N = 400


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("mixed")
    stats = generate_archive(dest, reports=N, seed=7, shape="mixed")
    assert stats.files == N
    return dest


def texts(root: Path) -> list[str]:
    return [gzip.decompress(p.read_bytes()).decode() for p in sorted(root.rglob("*.json.gz"))]


def test_the_loader_reads_every_shape_without_an_error(mixed: Path) -> None:
    archive = load_archive([mixed])
    assert archive.errors == []
    assert archive.files == N
    assert len(archive.reports) == N
    assert archive.duplicates == 0


def test_each_shape_is_there_in_turn(mixed: Path) -> None:
    docs = [(text, json.loads(text)) for text in texts(mixed)]
    compact = [d for t, d in docs if ", " not in t and "\n" not in t]
    spaced = [d for t, d in docs if '", "' in t and "\n" not in t]
    indented = [d for t, d in docs if '\n  "' in t]
    assert len(MIXED_SHAPES) == 4
    for share in (compact, spaced, indented):
        assert len(share) > N // 8

    # Postfix's tlsrpt-reporter: report-id last, summary before policy,
    # failure-details [] when nothing failed, a tlsa and an sts block together.
    assert all(list(d)[-1] == "report-id" for d in spaced)
    blocks = [p for d in spaced for p in d["policies"]]
    assert all(next(iter(p)) == "summary" for p in blocks)
    assert any(p["failure-details"] == [] for p in blocks)
    assert any(
        {p["policy"]["policy-type"] for p in d["policies"]} == {"tlsa", "sts"} for d in spaced
    )

    # Microsoft's: the TLSA policy-string is one string holding a JSON array.
    def microsoft_tlsa(policy: dict[str, Any]) -> bool:
        strings = policy["policy"].get("policy-string", [])
        return (
            policy["policy"]["policy-type"] == "tlsa"
            and len(strings) == 1
            and isinstance(json.loads(strings[0]), list)
        )

    assert any(microsoft_tlsa(p) for d in compact for p in d["policies"])


def test_the_index_sums_the_mixed_archive_as_the_loader_does(
    mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    through_index = summarize_with_index([mixed], jobs=1)
    in_memory = summary_document(load_archive([mixed]))
    assert through_index["errors"] == []
    assert through_index["reports"] == N
    assert through_index["domains"] == in_memory["domains"]


def test_the_compact_shape_is_the_default(tmp_path: Path) -> None:
    generate_archive(tmp_path / "default", reports=60, seed=7)
    generate_archive(tmp_path / "compact", reports=60, seed=7, shape="compact")
    default = sorted(
        p.relative_to(tmp_path / "default") for p in (tmp_path / "default").rglob("*.gz")
    )
    assert default == sorted(
        p.relative_to(tmp_path / "compact") for p in (tmp_path / "compact").rglob("*.gz")
    )
    assert all(", " not in text for text in texts(tmp_path / "default"))
    with pytest.raises(ValueError, match="unknown shape"):
        generate_archive(tmp_path / "bad", reports=1, shape="round")
