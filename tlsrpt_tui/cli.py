"""Command line: ``tlsrpt-tui [PATH...]`` opens the explorer; subcommands run headless."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from tlsrpt_tui import __version__

#: Subcommand name -> module under ``tlsrpt_tui.commands``; each provides ``register``.
#: Only the module of the command being run is imported (probe and ingest pull in
#: aiohttp and dnspython, which a `summary` from cron should not pay for).
COMMANDS: dict[str, str] = {
    "summary": "summary",
    "index": "index",
    "check": "check",
    "explain": "explain",
    "probe": "probe",
    "fetch": "fetch",
    "import": "import_",
    "receive": "receive",
}
COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS.values())


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` works it out."""
    try:
        columns = int(os.environ["COLUMNS"])
        if columns > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _Formatter(argparse.HelpFormatter):
    """argparse's help, told the terminal's width: argparse asks ``shutil``, whose import
    is a few milliseconds of every command (a formatter is made for each argument)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def build_command_parser(
    only: str | None = None,
) -> tuple[argparse.ArgumentParser, set[str]]:
    parser = _Parser(
        prog="tlsrpt-tui",
        description="Headless commands of tlsrpt-tui.",
    )
    parser.add_argument("--version", action="version", version=f"tlsrpt-tui {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [only] if only is not None else list(COMMANDS)
    for name in names:
        module = importlib.import_module(f"tlsrpt_tui.commands.{COMMANDS[name]}")
        module.register(subparsers)
    return parser, set(subparsers.choices)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    commands = set(COMMANDS)
    try:
        if args_list and args_list[0] in commands:
            parser, _ = build_command_parser(args_list[0])
            args = parser.parse_args(args_list)
            status: int = args.func(args)
            return status
        from tlsrpt_tui.explore import main as explore_main

        return explore_main(args_list, commands=sorted(commands))
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The program's entry point: :func:`main`, then exit.

    When nothing needs the interpreter's orderly shutdown (no other thread, no
    multiprocessing helper processes to stop), the process ends at once after
    flushing its output: tearing down every module and object takes about 10 ms, a
    noticeable part of a quick command (a warm ``summary`` takes about 0.1 s).
    """
    status = main()
    import threading

    if "multiprocessing" in sys.modules or threading.active_count() > 1:
        raise SystemExit(status)
    if "logging" in sys.modules:  # (what its handlers hold is written at exit)
        import logging

        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # (as in main: the reader went away)
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError):
            pass
    os._exit(status)
