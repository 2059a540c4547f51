"""Command-line options shared by ``fetch``, ``import`` and ``receive``."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from tlsrpt_tui.core.reading.loader import Limits
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.ingest.dkim_check import make_dnsfunc, parse_resolver
from tlsrpt_tui.ingest.mail import IngestOptions, MiB
from tlsrpt_tui.ingest.report_dir import ReportStore


class UsageError(Exception):
    """Bad options: the command exits with status 2."""


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        required=True,
        type=Path,
        metavar="PATH",
        help="report directory to write into (the folder the explorer watches)",
    )
    parser.add_argument(
        "--max-decompressed-mb",
        type=int,
        default=64,
        metavar="MB",
        help="refuse reports that decompress to more than this (default 64)",
    )


def add_mail_options(parser: argparse.ArgumentParser) -> None:
    add_store_options(parser)
    parser.add_argument(
        "--quarantine-dir",
        type=Path,
        metavar="PATH",
        help="where reports from mail without a valid DKIM signature go (default: PATH/quarantine)",
    )
    parser.add_argument(
        "--accept-unsigned",
        action="store_true",
        help="store reports whose mail fails DKIM or is unsigned in the archive too "
        "(RFC 8460 says to ignore them; the verdict is still recorded)",
    )
    parser.add_argument(
        "--dns-resolver",
        metavar="HOST[:PORT]",
        help="ask this DNS resolver for DKIM keys (default: the system's resolvers)",
    )
    parser.add_argument(
        "--dns-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="time limit of one DKIM key look-up (default 5)",
    )
    parser.add_argument(
        "--max-message-mb",
        type=int,
        default=64,
        metavar="MB",
        help="leave larger messages alone (default 64)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every report saved")


def error(command: str, message: str) -> None:
    print(f"tlsrpt-tui {command}: {plain(message)}", file=sys.stderr)


def open_store(args: argparse.Namespace) -> ReportStore:
    """The report store of ``--dir``, created if needed; UsageError when unusable."""
    root: Path = args.dir
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    quarantine = getattr(args, "quarantine_dir", None)
    if quarantine is not None and quarantine.exists() and not quarantine.is_dir():
        raise UsageError(f"{quarantine}: not a directory")
    store = ReportStore(root, quarantine)
    try:
        store.prepare()
    except OSError as exc:
        raise UsageError(f"{root}: cannot write reports there: {exc.strerror or exc}") from None
    return store


def limits_of(args: argparse.Namespace) -> Limits:
    if args.max_decompressed_mb <= 0:
        raise UsageError("--max-decompressed-mb must be positive")
    return Limits(max_decompressed_bytes=args.max_decompressed_mb * MiB)


def ingest_options(args: argparse.Namespace, via: str) -> IngestOptions:
    dnsfunc = None
    if args.dns_resolver:
        try:
            parse_resolver(args.dns_resolver)
        except ValueError as exc:
            raise UsageError(f"--dns-resolver: {exc}") from None
        dnsfunc = make_dnsfunc(args.dns_resolver)
    if args.max_message_mb <= 0:
        raise UsageError("--max-message-mb must be positive")
    # (NaN passes a "> 0" test the wrong way; infinity would let one look-up hang.)
    if not (math.isfinite(args.dns_timeout) and args.dns_timeout > 0):
        raise UsageError("--dns-timeout must be a positive number of seconds")
    return IngestOptions(
        accept_unsigned=args.accept_unsigned,
        dnsfunc=dnsfunc,
        dns_timeout=args.dns_timeout,
        limits=limits_of(args),
        max_message_bytes=args.max_message_mb * MiB,
        via=via,
    )
