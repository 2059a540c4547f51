"""``tlsrpt-tui fetch imap``: report mail from an IMAP mailbox into the archive."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

from tlsrpt_tui.commands.options import add_timeout_option
from tlsrpt_tui.ingest.cli_options import (
    UsageError,
    add_mail_options,
    error,
    ingest_options,
    open_store,
)
from tlsrpt_tui.ingest.imap import IMPLICIT_TLS, STARTTLS, FetchError, ImapConfig, fetch_imap

DEFAULT_PASSWORD_ENV = "TLSRPT_IMAP_PASSWORD"
DEFAULT_USER_ENV = "TLSRPT_IMAP_USER"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="fetch TLS-RPT report mail from a mailbox (IMAP)",
        description="Fetch report mail and save its reports into the report directory.",
    )
    protocols = parser.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    imap = protocols.add_parser(
        "imap",
        help="IMAP over TLS (implicit TLS or STARTTLS)",
        description=(
            "Save the TLS-RPT reports of unseen messages in an IMAP folder. A message is "
            "marked seen (or moved with --move-to) only after its reports are on disk; "
            "messages without a report are left alone. The password comes from an "
            f"environment variable (--password-env, default {DEFAULT_PASSWORD_ENV}) or a "
            "file (--password-file), never from the command line."
        ),
    )
    imap.add_argument("--host", required=True, help="IMAP server name")
    imap.add_argument("--port", type=int, help="port (default 993, or 143 with --starttls)")
    imap.add_argument(
        "--starttls",
        action="store_true",
        help="connect to plain IMAP and upgrade with STARTTLS instead of implicit TLS",
    )
    imap.add_argument(
        "--user",
        default=os.environ.get(DEFAULT_USER_ENV),
        help=f"login name (default: ${DEFAULT_USER_ENV})",
    )
    imap.add_argument(
        "--password-env",
        default=DEFAULT_PASSWORD_ENV,
        metavar="NAME",
        help=f"environment variable holding the password (default {DEFAULT_PASSWORD_ENV})",
    )
    imap.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="file holding the password (first line); overrides --password-env",
    )
    imap.add_argument("--folder", default="INBOX", help="folder to read (default INBOX)")
    imap.add_argument(
        "--move-to",
        metavar="FOLDER",
        help="move messages whose reports were saved to this folder (created if missing)",
    )
    imap.add_argument(
        "--all",
        action="store_true",
        help="look at every message in the folder, not only unseen ones",
    )
    imap.add_argument("--limit", type=int, metavar="N", help="handle at most N messages")
    imap.add_argument(
        "--ca-file",
        metavar="FILE",
        help="trust only the CA certificates in this PEM file (default: the system's)",
    )
    add_timeout_option(imap, default=60.0, help="network time limit")
    add_mail_options(imap)
    imap.set_defaults(func=run)


def read_password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        path: Path = args.password_file
        try:
            info = path.stat()
            with open(path, encoding="utf-8") as handle:
                line = handle.readline()
        except OSError as exc:
            raise UsageError(f"--password-file {path}: {exc.strerror or exc}") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            error("fetch", f"warning: {path} can be read by other users (chmod 600 it)")
        password = line.rstrip("\r\n")
        if not password:
            raise UsageError(f"--password-file {path}: empty")
        return password
    value = os.environ.get(args.password_env)
    if not value:
        raise UsageError(f"no password: set ${args.password_env} or give --password-file")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        if not args.user:
            raise UsageError(f"no user: give --user or set ${DEFAULT_USER_ENV}")
        if args.port is not None and not 0 < args.port < 65536:
            raise UsageError(f"--port {args.port}: not a port")
        if args.limit is not None and args.limit <= 0:
            raise UsageError("--limit must be positive")
        if args.ca_file is not None and not Path(args.ca_file).is_file():
            raise UsageError(f"--ca-file {args.ca_file}: no such file")
        password = read_password(args)
        options = ingest_options(args, via="imap")
        store = open_store(args)
    except UsageError as exc:
        error("fetch", str(exc))
        return 2
    config = ImapConfig(
        host=args.host,
        port=args.port,
        security=STARTTLS if args.starttls else IMPLICIT_TLS,
        user=args.user,
        password=password,
        folder=args.folder,
        move_to=args.move_to,
        ca_file=args.ca_file,
        timeout=args.timeout,
        all_messages=args.all,
        limit=args.limit,
    )
    try:
        totals = fetch_imap(config, store, options, verbose=sys.stdout if args.verbose else None)
    except FetchError as exc:
        error("fetch", str(exc))
        return 1
    totals.print_summary()
    return 1 if totals.errors else 0
