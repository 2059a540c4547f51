"""The command line ends as a Python program does, and its help follows the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

EXIT_SCRIPT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
sys.argv = ["tlsrpt-tui", *sys.argv[1:]]
from tlsrpt_tui.cli import run
run()
"""


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path), **env},
        timeout=120,
        check=False,
    )


def test_a_warm_summary_exits_through_atexit(tmp_path: Path) -> None:
    # (os._exit used to skip atexit handlers, and with them coverage and profilers.)
    args = ["summary", "--demo", "--format", "json", "--jobs", "1"]
    assert _run(args, tmp_path).returncode == 0  # builds the index
    warm = _run(args, tmp_path)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.lstrip().startswith("{")
    assert "atexit ran" in warm.stderr


def test_the_exit_status_is_the_commands(tmp_path: Path) -> None:
    missing = _run(["summary", str(tmp_path / "nothing-here")], tmp_path)
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr
    assert "atexit ran" in missing.stderr


def test_help_is_wrapped_to_the_terminal_width(tmp_path: Path) -> None:
    for columns in (60, 120):
        proc = _run(["summary", "--help"], tmp_path, COLUMNS=str(columns))
        assert proc.returncode == 0
        # (past the usage, whose bracketed options argparse never breaks)
        lines = proc.stdout.partition("\n\n")[2].splitlines()
        assert max(len(line) for line in lines) <= columns - 2
        assert any(len(line) > columns - 20 for line in lines)  # (it uses the width)
