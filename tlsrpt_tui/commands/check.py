"""``tlsrpt-tui check``: the health rules for cron, systemd timers and monitors.

Exit status: 0 when no alert at or above ``--fail-on`` is active, 1 when one is,
2 on usage errors (bad option, missing path). Thresholds come from the settings file.
Through the archive's index, as ``summary`` (``--no-cache``: every file, in memory).

The rules over report contents measure from the newest report; the silence rules from
the wall clock (UTC) less ``delivery_lag_hours``, so a folder whose reports stopped
arriving raises ``no-reports``; ``--now`` sets both. The bundled demo keeps its own
"now" (:data:`~tlsrpt_tui.demo.DEMO_NOW`).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tlsrpt_tui.commands.options import add_loading_options, jobs_for, load_for_cli, resolve_paths
from tlsrpt_tui.core.health.alerts import Alert, HealthResult, Thresholds, isoformat
from tlsrpt_tui.core.health.evaluate import evaluate
from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.settings import load_settings
from tlsrpt_tui.store.health_job import documented_now, health_of


def parse_now(value: str) -> datetime:
    """``--now``: an ISO 8601 date or date-time; without an offset it is UTC."""
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or date-time: {value!r} (e.g. 2026-11-28T00:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="print active health alerts; exit 1 when any is at or above --fail-on",
        description=(
            "Evaluate the health rules (new result-types, failure rates, spikes, silent "
            "reporters, MX mismatches, missing reports) over an archive. Exit status: 0 "
            "clean, 1 alerts at or above --fail-on, 2 usage error."
        ),
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="report files or folders"
    )
    parser.add_argument("--demo", action="store_true", help="use the bundled demo archive")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default text)"
    )
    parser.add_argument(
        "--now",
        type=parse_now,
        default=None,
        metavar="ISO",
        help=(
            "evaluate every rule as of this time (default: the content rules as of the "
            "latest report end, the silence rules as of the clock less the delivery lag)"
        ),
    )
    parser.add_argument(
        "--fail-on",
        choices=("warning", "critical"),
        default="warning",
        help="lowest severity that makes the exit status 1 (default warning)",
    )
    add_loading_options(parser, cache=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = resolve_paths(args)
    if paths is None:
        return 2
    settings = load_settings()
    for warning in settings.warnings:
        print(f"tlsrpt-tui: settings: {plain(warning)}", file=sys.stderr)
    now = args.now if args.now is not None else documented_now(paths)
    clock = datetime.now(UTC).replace(microsecond=0)
    checked = checked_archive(args, paths, now=now, clock=clock, thresholds=settings.thresholds)
    if checked.bad_files:
        print(
            f"tlsrpt-tui: {checked.bad_files:,} files could not be read as reports",
            file=sys.stderr,
        )
    result = checked.result
    if not checked.reports:
        result = nothing_to_check(paths, checked.files, checked.bad_files, now or clock)
    if args.format == "json":
        json.dump(check_document(result), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        write_text(result, sys.stdout)
    return 1 if result.at_or_above(args.fail_on) else 0


@dataclass(frozen=True)
class Checked:
    """The rules' answer over an archive, and what was read to give it."""

    result: HealthResult
    files: int
    reports: int
    bad_files: int


def checked_archive(
    args: argparse.Namespace,
    paths: list[Path],
    *,
    now: datetime | None,
    clock: datetime,
    thresholds: Thresholds,
) -> Checked:
    """The rules through the archive's index (only new or changed files are read, and
    a warm index keeps the rules' input: no report file is read), as ``summary`` does;
    with ``--no-cache``, or when the index cannot be used, over every file in memory.
    Either way the same rows and the same alerts."""
    if not args.no_cache:
        try:
            return _through_index(args, paths, now=now, clock=clock, thresholds=thresholds)
        except (OSError, sqlite3.Error) as exc:
            # The index is only a cache: without it the answer is the same, just slower.
            print(f"tlsrpt-tui: index not used ({plain(str(exc))})", file=sys.stderr)
    archive = load_for_cli(args, paths)
    result = evaluate(archive.reports.values(), now=now, clock=clock, thresholds=thresholds)
    return Checked(result, archive.files, len(archive.reports), archive.bad_files)


def _through_index(
    args: argparse.Namespace,
    paths: list[Path],
    *,
    now: datetime | None,
    clock: datetime,
    thresholds: Thresholds,
) -> Checked:
    from tlsrpt_tui.store.health_input import archive_counts
    from tlsrpt_tui.store.index import open_index, terminal_progress

    limits = Limits(max_decompressed_bytes=args.max_decompressed_mb * 1024 * 1024)
    progress, finish = terminal_progress("reading reports")
    try:
        store = open_index(
            paths,
            limits=limits,
            jobs=jobs_for(args),
            progress=progress,
            query_indexes=False,
            full=args.full_check,
        )
    finally:
        finish()
    try:
        with store.lock:
            files, reports, bad = archive_counts(store.conn)
        result = health_of(store, thresholds=thresholds, now=now, clock=clock)
    finally:
        store.close()
    return Checked(result, files, reports, bad)


def nothing_to_check(paths: list[Path], files: int, bad: int, now: datetime) -> HealthResult:
    """An archive without a single report: no rule can speak, and "no alerts" from cron
    would say all is well over an empty or unmounted folder. One ``no-reports`` alert
    without a policy domain says so instead."""
    places = ", ".join(str(p) for p in paths)
    read = f"{files:,} file{'s' if files != 1 else ''}"
    if bad:
        read += f", {bad:,} of which could not be read as reports"
    alert = Alert(
        rule="no-reports",
        severity="critical",
        policy_domain=None,
        reporter=None,
        result_type=None,
        detail=f"no reports at all in {places} ({read})",
        since=now,
        numbers={"files": files, "bad-files": bad},
    )
    return HealthResult(now=None, alerts=(alert,))


def check_document(result: HealthResult) -> dict[str, Any]:
    """``{"now": ISO, "alerts": [...]}``, the contract of ``check --format json``.

    ``silence-now`` (an addition) is where the silence rules measured from: the clock
    less the delivery lag, or ``now`` when they measured from it.
    """
    silence = result.silence_now or result.now
    return {
        "now": isoformat(result.now) if result.now is not None else None,
        "silence-now": isoformat(silence) if silence is not None else None,
        "alerts": [alert.to_dict() for alert in result.alerts],
    }


def alert_line(alert: Alert) -> str:
    """One readable line, untrusted text escaped."""
    parts = [f"{alert.severity.upper():<8}", f"{alert.rule:<15}", plain(alert.policy_domain or "-")]
    if alert.reporter:
        parts.append(f"reporter={plain(alert.reporter)}")
    if alert.result_type:
        parts.append(f"result-type={plain(alert.result_type)}")
    if alert.mx_host:
        parts.append(f"mx={plain(alert.mx_host)}")
    return f"{' '.join(parts)}: {plain(alert.detail)} (since {isoformat(alert.since)})"


def summary_line(result: HealthResult) -> str:
    total = len(result.alerts)
    if not total:
        return "no alerts"
    counts = [
        f"{n} {name}"
        for n, name in ((result.critical, "critical"), (result.warning, "warning"))
        if n
    ]
    return f"{total} alert{'s' if total != 1 else ''}: {', '.join(counts)}"


def write_text(result: HealthResult, out: TextIO) -> None:
    lines = [alert_line(alert) for alert in result.alerts]
    lines.append(summary_line(result))
    out.write("\n".join(lines) + "\n")
