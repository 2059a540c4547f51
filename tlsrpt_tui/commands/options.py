"""What the commands share: for the archive commands (``summary``, ``index``, ``check``)
their PATH and ``--demo`` arguments, the loading options, and turning those into paths,
limits and a number of worker processes; for the network ones (``fetch``, ``receive``)
``--timeout``.

(The mail commands share their mail and store options in
:mod:`tlsrpt_tui.ingest.cli_options`.)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tlsrpt_tui.core.model import Limits
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.locations import demo_archive

if TYPE_CHECKING:
    from tlsrpt_tui.core.archive import Archive


def add_archive_arguments(parser: argparse.ArgumentParser) -> None:
    """``PATH...`` and ``--demo``: the archive a command reads."""
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="report files or folders"
    )
    parser.add_argument("--demo", action="store_true", help="use the bundled demo archive")


def positive_int(text: str) -> int:
    """argparse type: a whole number above zero (a zero or negative cap refuses every gzip)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def seconds(text: str) -> float:
    """argparse type: a time limit, a finite number of seconds above zero (a socket given
    a negative one, NaN or infinity raises, or waits forever)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def add_timeout_option(parser: argparse.ArgumentParser, *, default: float, help: str) -> None:
    """``--timeout SECONDS``: ``help`` says what it limits (the default is added)."""
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=default,
        metavar="SECONDS",
        help=f"{help} (default {default:g})",
    )


def add_loading_options(parser: argparse.ArgumentParser, *, cache: bool = False) -> None:
    if cache:
        parser.add_argument(
            "--no-cache",
            action="store_true",
            help="read every file and leave the index in the cache folder alone",
        )
        add_full_check_option(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="parallel parser processes (default: one per core)",
    )
    parser.add_argument(
        "--max-decompressed-mb",
        type=positive_int,
        default=64,
        help="refuse reports that decompress to more than this (default 64)",
    )


def add_full_check_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full-check",
        action="store_true",
        help=(
            "compare every file with the index, not only the files of folders that "
            "changed since the last run (finds reports rewritten in place)"
        ),
    )


def resolve_paths(args: argparse.Namespace) -> list[Path] | None:
    """The PATHs (and the demo's with ``--demo``), or None after saying what is missing."""
    paths: list[Path] = list(args.paths)
    if args.demo:
        paths.append(demo_archive())
    if not paths:
        print("tlsrpt-tui: give at least one PATH (or --demo)", file=sys.stderr)
        return None
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"tlsrpt-tui: {plain(str(path))}: no such file or directory", file=sys.stderr)
    return None if missing else paths


def limits_of(args: argparse.Namespace) -> Limits:
    """The reading limits that ``--max-decompressed-mb`` sets."""
    return Limits(max_decompressed_bytes=args.max_decompressed_mb * 1024 * 1024)


def jobs_for(args: argparse.Namespace) -> int:
    if args.jobs > 0:
        return int(args.jobs)
    # The cores this process may run on (a container or taskset may allow fewer than
    # the machine has).
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def load_for_cli(args: argparse.Namespace, paths: list[Path]) -> Archive:
    """The whole archive read into memory, with a progress line on a terminal."""
    from tlsrpt_tui.store.parallel.pool import load_archive  # (see commands/summary.py)

    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and total:
            print(f"\rreading reports: {done:,}/{total:,}", end="", file=sys.stderr)

    archive = load_archive(paths, limits=limits_of(args), jobs=jobs_for(args), progress=progress)
    if show:
        print("\r\033[K", end="", file=sys.stderr)
    return archive
