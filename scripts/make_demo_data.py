"""Regenerate the bundled demo archive ``tlsrpt_tui/demo/archive/``.

    python scripts/make_demo_data.py [--dest DIR]

Deletes that one directory and rebuilds it from
:func:`tlsrpt_tui.demo.generator.build_demo_archive`. ``tests/test_demo_data.py``
checks that the committed archive equals what this script writes. ``--dest`` writes
somewhere else instead (used by the tests); an existing directory is only replaced if
it holds nothing but report-like files, so a wrong path cannot wipe anything else.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tlsrpt_tui.demo.generator import DEMO_INCIDENTS, build_demo_archive  # noqa: E402

DEFAULT_DEST = ROOT / "tlsrpt_tui" / "demo" / "archive"
_REPORT_SUFFIXES = (".json.gz", ".json", ".eml", ".mbox")


def _safe_to_replace(dest: Path) -> bool:
    """True if ``dest`` is absent, or a directory of report-like files only."""
    if not dest.exists():
        return True
    if not dest.is_dir() or dest.is_symlink():
        return False
    for path in dest.rglob("*"):
        if path.is_symlink():
            return False
        if path.is_file() and not path.name.endswith(_REPORT_SUFFIXES):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the bundled demo archive.")
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help=f"default: {DEFAULT_DEST.relative_to(ROOT)}"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    dest: Path = args.dest
    if not _safe_to_replace(dest):
        parser.error(f"refusing to delete {dest}: it holds files that are not reports")
    if dest.exists():
        shutil.rmtree(dest)
    written = build_demo_archive(dest)
    total = 0
    for relpath in written:
        size = (dest / relpath).stat().st_size
        total += size
        if not args.quiet:
            print(f"{size:8,d}  {relpath}")
    print(f"wrote {len(written)} files, {total:,} bytes, to {dest}")
    if not args.quiet:
        print("incidents:")
        for incident in DEMO_INCIDENTS:
            print(
                f"  {incident['id']:<30} {incident['policy-domain']:<13} "
                f"{incident['first-day']}..{incident['last-day']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
