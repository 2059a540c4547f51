"""``tlsrpt-tui summary``: the headless view for scripts and cron."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tlsrpt_tui.commands.options import (
    add_archive_arguments,
    add_loading_options,
    jobs_for,
    limits_of,
    resolve_paths,
)
from tlsrpt_tui.core.facts import failure_rate
from tlsrpt_tui.core.reading.loader import MAX_DETAILS
from tlsrpt_tui.core.text import plain

if TYPE_CHECKING:
    from tlsrpt_tui.core.archive import Archive
    from tlsrpt_tui.core.model import LoadError

# A warm summary only reads the document the index keeps (0.06 s at any size): the
# in-memory path (store.memory, the archive, the process pool) is imported where it is
# used, as is the index itself; at the top they doubled a warm summary's time.

# (store.index is imported where it is used: importing it costs about 65 ms, which
# `summary --help` and a mistyped command line need not pay.)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "summary",
        help="print per-domain totals of an archive (table, JSON or CSV)",
        description="Summarise TLS-RPT reports: sessions and failures per policy domain.",
    )
    add_archive_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default=None,
        help="output format (default: table on a terminal, json otherwise)",
    )
    add_loading_options(parser, cache=True)
    parser.set_defaults(func=run)


def summary_via_index(args: argparse.Namespace, paths: list[Path]) -> dict[str, Any]:
    """The summary through the persistent index (only new or changed files are read)."""
    from tlsrpt_tui.store.index import summarize_with_index, terminal_progress

    limits = limits_of(args)
    progress, finish = terminal_progress("reading reports")
    use_cache = not args.no_cache
    try:
        try:
            return summarize_with_index(
                paths,
                limits=limits,
                jobs=jobs_for(args),
                progress=progress,
                use_cache=use_cache,
                full=args.full_check,
            )
        except (OSError, sqlite3.Error) as exc:
            if not use_cache:
                raise
            # The index is only a cache: without it the answer is the same, just slower.
            print(f"tlsrpt-tui: index not used ({plain(str(exc))})", file=sys.stderr)
            return summarize_with_index(
                paths, limits=limits, jobs=jobs_for(args), progress=progress, use_cache=False
            )
    finally:
        finish()


def summary_document(archive: Archive) -> dict[str, Any]:
    from tlsrpt_tui.core.facts import summarize_domains
    from tlsrpt_tui.store.index import folded_entry
    from tlsrpt_tui.store.memory import folded_reports

    return {
        "files": archive.files,
        "reports": len(archive.reports),
        "duplicates": archive.duplicates,
        "errors": [error_entry(e) for e in archive.errors],
        # Reports with failure-details folded into one row (over 1,000 rows per policy):
        # not errors, their totals are whole.
        "folded": [
            folded_entry((f.source.path, f.source.part, f.reporter, f.report_id, f.rows))
            for f in folded_reports(archive.reports.values())
        ],
        "domains": summarize_domains(archive.sorted_reports()),
    }


def error_entry(error: LoadError) -> dict[str, str]:
    """``path`` stays a path (relative to the PATH given); the part goes with the message."""
    source = error.source
    text = error.error if source.part is None else f"{source.part}: {error.error}"
    return {"path": source.path, "error": text}


def run(args: argparse.Namespace) -> int:
    paths = resolve_paths(args)
    if paths is None:
        return 2
    document = summary_via_index(args, paths)
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "json":
        # One write (json.dump writes piece by piece: thousands of system calls when
        # Python runs unbuffered).
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        write_csv(document, sys.stdout)
    else:
        write_table(document, sys.stdout)
    return 0


def write_csv(document: dict[str, Any], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(["policy-domain", "reporter", "successful", "failed", "failure-rate"])
    for domain, entry in document["domains"].items():
        for reporter, pair in entry["reporters"].items():
            rate = failure_rate(pair["successful"], pair["failed"])
            writer.writerow([domain, reporter, pair["successful"], pair["failed"], f"{rate:.6f}"])


def write_table(document: dict[str, Any], out: TextIO) -> None:
    buf = io.StringIO()
    domains = document["domains"]
    buf.write(
        f"{document['files']:,} files, {document['reports']:,} reports, "
        f"{document['duplicates']:,} duplicates, {len(document['errors']):,} errors\n\n"
    )
    rows = [("POLICY DOMAIN / REPORTER", "SUCCESSFUL", "FAILED", "RATE")]
    for domain, entry in domains.items():
        rate = failure_rate(entry["successful"], entry["failed"])
        rows.append(
            (plain(domain), f"{entry['successful']:,}", f"{entry['failed']:,}", f"{rate:.2%}")
        )
        for reporter, pair in entry["reporters"].items():
            r = failure_rate(pair["successful"], pair["failed"])
            rows.append(
                (
                    f"  {plain(reporter)}",
                    f"{pair['successful']:,}",
                    f"{pair['failed']:,}",
                    f"{r:.2%}",
                )
            )
        for result_type, count in entry["result-types"].items():
            rows.append((f"  ! {plain(result_type)}", "", f"{count:,}", ""))
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(4)]
    for row in rows:
        first = row[0][: widths[0]]
        numbers = "  ".join(f"{row[i]:>{widths[i]}}" for i in (1, 2, 3))
        buf.write(f"{first:<{widths[0]}}  {numbers}\n")
    if document["errors"]:
        buf.write("\nFiles that could not be read:\n")
        for error in document["errors"]:
            buf.write(f"  {plain(error['path'])}: {plain(error['error'])}\n")
    if document.get("folded"):
        buf.write(
            f"\nReports with failure-details folded (not errors: over {MAX_DETAILS:,} rows per"
            " policy, the rest counted in one row, totals whole):\n"
        )
        for item in document["folded"]:
            where = item["path"] if item["part"] is None else f"{item['path']} [{item['part']}]"
            buf.write(f"  {plain(where)}: {item['count']:,} rows folded\n")
    out.write(buf.getvalue())
