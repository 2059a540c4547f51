"""The pure core never imports Textual (it runs in scripts, cron jobs and worker processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PURE_MODULES = [
    "tlsrpt_tui.core.model",
    "tlsrpt_tui.core.reading.loader",
    "tlsrpt_tui.core.reading.fast",
    "tlsrpt_tui.core.reading.walk",
    "tlsrpt_tui.core.progress",
    "tlsrpt_tui.core.archive",
    "tlsrpt_tui.core.facts",
    "tlsrpt_tui.core.text",
    "tlsrpt_tui.store.memory",
    "tlsrpt_tui.store.queries",
    "tlsrpt_tui.settings",
    "tlsrpt_tui.locations",
    "tlsrpt_tui.commands.summary",
]

SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))))
"""


def test_core_never_imports_textual() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *PURE_MODULES],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
