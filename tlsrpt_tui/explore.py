"""``tlsrpt-tui [PATH...]``: open the explorer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tlsrpt_tui import __version__
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.crash import write_crash_log
from tlsrpt_tui.locations import cache_dir, config_file, default_reports_dir, demo_archive
from tlsrpt_tui.settings import load_settings


def build_parser(commands: Sequence[str]) -> argparse.ArgumentParser:
    epilog = (
        f"commands: {', '.join(commands)} (see `tlsrpt-tui COMMAND --help`)\n\n"
        f"settings file: {config_file()}\n"
        f"cache folder:  {cache_dir()}\n"
        f"default report folder: {default_reports_dir()}"
    )
    parser = argparse.ArgumentParser(
        prog="tlsrpt-tui",
        description="Explore SMTP TLS Reporting (RFC 8460) reports in the terminal.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="report folders or files (default: the configured report folder)",
    )
    parser.add_argument("--demo", action="store_true", help="open the bundled demo archive")
    parser.add_argument("--no-watch", action="store_true", help="do not watch for new reports")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="read every file into memory; do not use or update the index in the cache folder",
    )
    parser.add_argument("--version", action="version", version=f"tlsrpt-tui {__version__}")
    return parser


def main(argv: Sequence[str], *, commands: Sequence[str] = ()) -> int:
    args = build_parser(commands).parse_args(list(argv))
    settings = load_settings()
    notice = "; ".join(settings.warnings) or None
    paths: list[Path] = list(args.paths)
    if args.demo:
        paths.append(demo_archive())
    if not paths:
        folder = (
            Path(settings.report_dir).expanduser() if settings.report_dir else default_reports_dir()
        )
        if not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                print(f"tlsrpt-tui: cannot create {folder}: {exc}", file=sys.stderr)
                return 2
            created = f"Created the report folder {folder}."
            notice = f"{notice}; {created}" if notice else created
        paths = [folder]
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"tlsrpt-tui: {plain(str(path))}: no such file or directory", file=sys.stderr)
    if missing:
        return 2

    from tlsrpt_tui.ui.app import ExplorerApp

    app = ExplorerApp(
        paths,
        settings=settings,
        watch=not args.no_watch and not args.demo,
        notice=notice,
        save_settings_on_exit=True,
        label="demo archive" if args.demo and not args.paths else None,
        use_index=not args.no_cache,
    )
    try:
        app.run()
    except Exception as exc:  # (raised outside Textual's own handling: start-up, tear-down)
        app.crash_log = app.crash_log or write_crash_log(exc)
    if app.crash_log is not None or app.return_code:
        where = app.crash_log or "no crash log could be written"
        print(f"tlsrpt-tui: the explorer crashed; the traceback is in {where}", file=sys.stderr)
        return 1
    return 0
