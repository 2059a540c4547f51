"""``tlsrpt-tui probe DOMAIN``: check live what a TLS-RPT result-type can point at."""

from __future__ import annotations

import argparse
import sys

from tlsrpt_tui.probe import ProbeOptions, ProbeUsageError, run_probe_sync, to_json, to_text
from tlsrpt_tui.probe.model import EXIT_USAGE
from tlsrpt_tui.probe.options import DEFAULT_TIMEOUT


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError("timeout must be between 0 and 300 seconds")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="check a domain's TLS-RPT/MTA-STS records, MX STARTTLS, certificates and DANE live",
        description=(
            "Probe DOMAIN live: the TLS-RPT record, MTA-STS record and policy, each MX "
            "host's STARTTLS (on every A and AAAA address), certificate (expiry, trust, "
            "names) and DANE TLSA. Each check says pass, info, warn, fail or error (could "
            "not check: a step or what it needs could not be looked up), its evidence, and "
            "which TLS-RPT result-types it explains."
        ),
        epilog=(
            "Exit status: 0 no check failed and none could not be checked (warn and info "
            "allowed); 1 at least one check failed; 2 usage error; 3 no check failed but at "
            "least one could not be checked."
        ),
    )
    parser.add_argument("domain", metavar="DOMAIN", help="the policy domain")
    parser.add_argument(
        "--mx",
        action="append",
        default=[],
        metavar="HOST",
        help="probe this MX host instead of the domain's MX records (repeatable)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--resolver",
        metavar="ADDR[:PORT]",
        help="recursive DNS resolver to ask (a DNSSEC-validating one for DANE); "
        "default: the system's",
    )
    parser.add_argument(
        "--smtp-port", type=_port, default=25, metavar="PORT", help="SMTP port (default 25)"
    )
    parser.add_argument(
        "--https-port",
        type=_port,
        default=443,
        metavar="PORT",
        help="port of the MTA-STS policy host (default 443)",
    )
    parser.add_argument(
        "--ca-file", metavar="PEM", help="trust these CA certificates instead of the system's"
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds for each network step (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--ehlo-name", default="localhost", metavar="NAME", help="name to send in EHLO"
    )
    parser.add_argument(
        "--expect-dane",
        action="store_true",
        help="DANE is expected (e.g. the domain's reports carry tlsa policies): no TLSA "
        "records is a warning, not info",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="text: show evidence of passing checks too"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = ProbeOptions(
        resolver=args.resolver,
        smtp_port=args.smtp_port,
        https_port=args.https_port,
        ca_file=args.ca_file,
        timeout=args.timeout,
        ehlo_name=args.ehlo_name,
        dane_expected=args.expect_dane,
    )
    try:
        result = run_probe_sync(args.domain, args.mx, options)
    except ProbeUsageError as exc:
        print(f"tlsrpt-tui probe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tlsrpt-tui probe: interrupted", file=sys.stderr)
        return 130
    if args.format == "json":
        sys.stdout.write(to_json(result) + "\n")
    else:
        sys.stdout.write(to_text(result, verbose=args.verbose))
    return result.exit_status
