"""``tlsrpt-tui index``: build or refresh an archive's index headless (for cron)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from tlsrpt_tui.commands.options import (
    add_archive_arguments,
    add_full_check_option,
    add_loading_options,
    jobs_for,
    limits_of,
    resolve_paths,
)
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.store.index import (
    delete_index,
    index_path,
    open_index,
    terminal_progress,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "index",
        help="build or refresh the index of an archive (run from cron to keep it warm)",
        description=(
            "Read the reports that are new or changed since the last run into the "
            "archive's index in the cache folder, and forget deleted files. Only folders "
            "whose modification time changed are listed again; --full-check also looks at "
            "every file (a report rewritten in place leaves its folder's time alone). The explorer "
            "and `summary` use the index, so they open large archives at once. The index "
            "is only a cache: deleting it loses nothing."
        ),
    )
    add_archive_arguments(parser)
    parser.add_argument(
        "--rebuild", action="store_true", help="throw the index away and read every file again"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="what to print when done (default: one line of text)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing when done")
    add_full_check_option(parser)
    add_loading_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = resolve_paths(args)
    if paths is None:
        return 2
    limits = limits_of(args)
    location = index_path(paths)
    if args.rebuild:
        delete_index(location)
    progress, finish = terminal_progress("indexing")
    try:
        store = open_index(
            paths,
            limits=limits,
            jobs=jobs_for(args),
            progress=progress,
            full=args.full_check,
        )
    except KeyboardInterrupt:
        finish()
        print(
            "tlsrpt-tui: interrupted; what was read is kept and the next run goes on from there",
            file=sys.stderr,
        )
        return 130
    except (OSError, sqlite3.Error) as exc:
        finish()
        print(f"tlsrpt-tui: cannot write the index at {location}: {exc}", file=sys.stderr)
        return 1
    finish()
    stats = store.last_refresh
    overview_reports = store.summary()["reports"]
    store.close()
    if args.quiet:
        return 0
    if args.format == "json":
        document = {
            "index": str(location),
            "files": stats.files,
            "added": stats.added,
            "changed": stats.changed,
            "removed": stats.removed,
            "reports": overview_reports,
            "new-reports": stats.new_reports,
            "rebuilt": stats.rebuilt or args.rebuild,
            # Every file looked at (a first build, --full-check), or only the folders
            # whose times changed, and how many of those there were.
            "full-check": stats.full,
            "folders-listed": stats.folders_listed,
            "seconds": round(stats.seconds, 3),
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(
            f"{stats.files:,} files ({stats.added:,} new, {stats.changed:,} changed, "
            f"{stats.removed:,} removed), {overview_reports:,} reports, "
            f"in {stats.seconds:.1f} s; index: {plain(str(location))}"
        )
    return 0
