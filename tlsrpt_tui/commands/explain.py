"""``tlsrpt-tui explain [RESULT-TYPE]``: what a TLS-RPT value means and what to do.

Without RESULT-TYPE every catalogue entry is printed; ``getting-started`` prints the
set-up page; any other value (policy-types and STS modes work too) prints its entry,
or the generic entry for values RFC 8460 does not define (exit status 0: asking is
valid). ``--domain``/``--mx``/``--ip`` are put into the suggested commands when they
are plain host names / IP addresses; other values are refused with a warning on
stderr and the placeholder stays.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tlsrpt_tui.core import guidance
from tlsrpt_tui.core.text import printable

_HELP_EPILOG = (
    "Examples:\n"
    "  tlsrpt-tui explain certificate-expired --mx mx1.example.com\n"
    "  tlsrpt-tui explain sts-policy-fetch-error --domain example.com --format json\n"
    "  tlsrpt-tui explain getting-started --domain example.com\n"
    "  tlsrpt-tui explain            (the whole catalogue)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="explain a result-type, policy-type or STS mode, and how to fix it",
        description=(
            "Explain a TLS-RPT result-type (RFC 8460), policy-type or MTA-STS mode: "
            "what it means, likely causes, commands to confirm it, and fixes."
        ),
        epilog=_HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "topic",
        nargs="?",
        metavar="RESULT-TYPE",
        help="e.g. certificate-expired, sts, enforce, getting-started (default: all entries)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.add_argument("--domain", help="policy domain to put into the commands")
    parser.add_argument("--mx", help="MX host name to put into the commands")
    parser.add_argument("--ip", help="receiving IP address to put into the commands")
    parser.set_defaults(func=run)


def _checked_values(args: argparse.Namespace) -> tuple[str | None, str | None, str | None]:
    """The usable --domain/--mx/--ip values; warn (escaped) about refused ones."""
    checks = (
        ("--domain", args.domain, guidance.safe_hostname),
        ("--mx", args.mx, guidance.safe_hostname),
        ("--ip", args.ip, guidance.safe_ip),
    )
    usable: list[str | None] = []
    for option, value, check in checks:
        good = check(value)
        if value is not None and good is None:
            kind = "an IP address" if option == "--ip" else "a plain host name"
            print(
                f"tlsrpt-tui explain: ignoring {option} {printable(value)!s}: not {kind}",
                file=sys.stderr,
            )
        usable.append(good)
    return usable[0], usable[1], usable[2]


def run(args: argparse.Namespace) -> int:
    domain, mx, ip = _checked_values(args)
    topic: str | None = args.topic
    if topic is None:
        entries = guidance.ALL_ENTRIES
    elif topic.strip().lower() == guidance.GETTING_STARTED.key:
        entries = (guidance.GETTING_STARTED,)
    else:
        entries = (guidance.entry_for(topic),)

    if args.format == "json":
        dicts = [guidance.to_dict(e, domain=domain, mx=mx, ip=ip) for e in entries]
        document: Any = {"entries": dicts} if topic is None else dicts[0]
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        rule = "\n" + "=" * guidance.TEXT_WIDTH + "\n\n"
        text = rule.join(guidance.render_text(e, domain=domain, mx=mx, ip=ip) for e in entries)
    sys.stdout.write(text)
    return 0
