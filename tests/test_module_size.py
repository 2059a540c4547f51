"""No module of tlsrpt_tui is over 1,000 lines (issue 15), so that one change has one room.

Data is not code: the guidance catalogue is a JSON file beside ``core/guidance.py`` and is
not counted (only ``*.py`` files are).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tlsrpt_tui"
LIMIT = 1000


def lines_of(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def modules() -> list[str]:
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py"))


def test_the_bound_is_kept_by_every_module() -> None:
    assert len(modules()) > 50  # (the walk found the package)
    over = {
        name: lines_of(PACKAGE / name) for name in modules() if lines_of(PACKAGE / name) > LIMIT
    }
    assert over == {}, f"modules over {LIMIT:,} lines: {over}"


def test_the_counter_counts_lines(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("a = 1\n" * (LIMIT + 1))
    assert lines_of(sample) == LIMIT + 1
