"""A fresh clone passes its own test command: ../shared (others' data lent to this
checkout) missing is a skip with a reason, never a failure, also when CI is set."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_only_conftest_knows_where_shared_is() -> None:
    """Every test that reads ../shared goes through conftest.shared_corpus (which skips);
    a path built anywhere else would be read without the skip."""
    offenders = []
    for path in sorted(TESTS.glob("*.py")):
        if path.name in ("conftest.py", "test_checkout.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in ("shared", "corpus", "real"):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Name) and node.id in ("CORPUS", "CORPUS_DIR", "SHARED_DIR"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_tests_reading_shared_skip_without_it_also_under_ci(tmp_path: Path) -> None:
    """The tests that read the corpus, run with ../shared missing and CI set: skips only."""
    env = {
        **os.environ,
        "CI": "true",
        "TLSRPT_TEST_SHARED_DIR": str(tmp_path / "no-shared-here"),
    }
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    selection = [
        "tests/test_corpus.py",
        "tests/test_ingest_store.py::test_gzip_payload_is_stored_byte_for_byte",
        "tests/test_ingest_store.py::test_report_without_policy_domain_keeps_its_identity",
        "tests/test_app.py::test_real_corpus_journey",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-rs", *selection],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert " skipped" in out and "passed" not in out and "failed" not in out, out
    assert f"real report corpus not found at {tmp_path / 'no-shared-here'}" in out, out
