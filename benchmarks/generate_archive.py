"""Write a large, realistic TLS-RPT archive for benchmarks.

    python benchmarks/generate_archive.py DEST --reports 100000 [--seed S] [--jobs J]
        [--shape compact|mixed]

Files go to DEST/YYYY/MM/DD/<submitter>!<domain>!<begin>!<end>!<id>.json.gz. The same
arguments always produce the same files, whatever ``--jobs`` is. ``--shape mixed`` writes
the reports in four shapes in turn: compact JSON, Postfix's sys4 tlsrpt-reporter
(spaces after separators, ``report-id`` last, ``failure-details: []``, ``tlsa`` and ``sts``
blocks), pretty-printed JSON, and Microsoft's (see ``tlsrpt_tui/demo/world.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tlsrpt_tui.demo.world import SHAPES, generate_archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="directory to write into (created if needed)")
    parser.add_argument("--reports", type=int, required=True, help="exact number of files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (0: all CPUs)")
    parser.add_argument("--domains", type=int, default=50, help="policy domains (default 50)")
    parser.add_argument("--reporters", type=int, default=20, help="reporters (default 20)")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 1, 1),
        help="first day, YYYY-MM-DD (default 2026-01-01)",
    )
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="compact",
        help="compact: every report compact JSON (default); mixed: four report shapes in turn",
    )
    args = parser.parse_args(argv)
    if args.reports < 0:
        parser.error("--reports must be >= 0")
    if args.dest.exists() and any(args.dest.iterdir()):
        parser.error(f"{args.dest} is not empty")
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)

    began = time.perf_counter()
    stats = generate_archive(
        args.dest,
        reports=args.reports,
        domains=args.domains,
        reporters=args.reporters,
        days=1,
        start=args.start,
        seed=args.seed,
        jobs=jobs,
        shape=args.shape,
    )
    elapsed = time.perf_counter() - began
    rate = stats.files / elapsed if elapsed > 0 else 0.0
    print(
        f"wrote {stats.files:,} {args.shape} files, {stats.bytes:,} bytes, {stats.days} days "
        f"in {elapsed:.2f} s ({rate:,.0f} files/s, {jobs} job{'s' if jobs != 1 else ''})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
