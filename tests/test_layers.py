"""The package's layers, as import-linter contracts in pyproject.toml (issue 15).

Each contract is one test, so a broken one names itself and every chain of imports that
breaks it. ``lint-imports`` in the repository runs the same contracts. A contract that
the redesign has not made true yet is marked ``xfail(strict=True)`` below with the part
that makes it true: when that part is merged the test starts passing, the strict xfail
fails, and the mark is removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter not installed (pip install -e '.[test]')"
)

#: Contract id -> why it does not hold yet, and which part of issue 15 makes it hold.
NOT_YET: dict[str, str] = {
}


def _contracts() -> list[dict[str, Any]]:
    with PYPROJECT.open("rb") as f:
        config = tomllib.load(f)
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


CONTRACTS = _contracts()


@pytest.fixture(scope="module")
def lint_imports() -> tuple[dict[str, str], str]:
    """``lint-imports`` run once over every contract: (name -> KEPT or BROKEN, its output)."""
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "1000", "NO_COLOR": "1"},
        timeout=300,
        check=False,
    )
    verdicts: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        name, _, verdict = line.rstrip().rpartition(" ")
        if verdict in ("KEPT", "BROKEN") and name:
            verdicts[name] = verdict
    assert verdicts, f"lint-imports said nothing of its contracts:\n{proc.stdout}{proc.stderr}"
    return verdicts, proc.stdout


def _broken_section(output: str, name: str) -> str:
    """The chains of imports that break the contract called ``name``, as lint-imports says."""
    _, _, broken = output.partition("Broken contracts")
    start = broken.find(f"\n{name}\n")
    if start < 0:
        return output
    rest = broken[start + len(name) + 2 :]
    following = [rest.find(f"\n{c['name']}\n") for c in CONTRACTS if c["name"] != name]
    end = min((i for i in following if i >= 0), default=len(rest))
    return rest[:end].strip()


def test_every_layer_of_the_issue_has_a_contract() -> None:
    ids = {contract["id"] for contract in CONTRACTS}
    assert ids == {
        "core-inside",
        "core-pure",
        "ui-no-sql",
        "ui-no-parsing",
        "engines-no-ui",
        "probe-ingest-apart",
    }
    assert set(NOT_YET) <= ids
    assert len({contract["name"] for contract in CONTRACTS}) == len(CONTRACTS)


@pytest.mark.parametrize(
    "contract",
    [
        pytest.param(
            contract,
            id=contract["id"],
            marks=[pytest.mark.xfail(strict=True, reason=NOT_YET[contract["id"]])]
            if contract["id"] in NOT_YET
            else [],
        )
        for contract in CONTRACTS
    ],
)
def test_contract_kept(contract: dict[str, Any], lint_imports: tuple[dict[str, str], str]) -> None:
    verdicts, output = lint_imports
    assert verdicts.get(contract["name"]) == "KEPT", (
        f"{contract['name']}: {verdicts.get(contract['name'])}\n"
        + _broken_section(output, contract["name"])
    )
