"""Stand-in for ``tlsrpt-tui summary PATH --format json`` through the index.

Used by ``benchmarks/run.py`` until the summary command calls
:func:`tlsrpt_tui.store.sqlite.summarize_with_index` itself; prints the same JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tlsrpt_tui.store.sqlite import summarize_with_index, terminal_progress


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    progress, finish = terminal_progress("reading reports")
    document = summarize_with_index(
        args.paths,
        jobs=args.jobs or os.cpu_count() or 1,
        progress=progress,
        use_cache=not args.no_cache,
    )
    finish()
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
