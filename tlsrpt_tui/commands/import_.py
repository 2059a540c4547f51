"""``tlsrpt-tui import SOURCE... --dir PATH``: report mail from files into the archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tlsrpt_tui.ingest.cli_options import (
    UsageError,
    add_mail_options,
    error,
    ingest_options,
    open_store,
)
from tlsrpt_tui.ingest.mail import import_sources


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="save the TLS-RPT reports in .eml files, mbox files and Maildirs",
        description=(
            "Save every TLS-RPT report carried by the given messages into the report "
            "directory, named <submitter>!<policy-domain>!<begin>!<end>!<id>.json.gz in "
            "dated folders. DKIM is checked; reports whose mail fails it go to quarantine/ "
            "unless --accept-unsigned. Sources are only read, never changed; running the "
            "import again saves no duplicates."
        ),
    )
    parser.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SOURCE",
        help=".eml file, mbox file, Maildir, or a folder of these",
    )
    add_mail_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        missing = [p for p in args.sources if not p.exists()]
        if missing:
            raise UsageError(f"{missing[0]}: no such file or directory")
        options = ingest_options(args, via="import")
        store = open_store(args)
    except UsageError as exc:
        error("import", str(exc))
        return 2
    totals = import_sources(
        list(args.sources), store, options, progress=sys.stdout if args.verbose else None
    )
    totals.print_summary()
    return 1 if totals.errors else 0
