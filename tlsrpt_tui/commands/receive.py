"""``tlsrpt-tui receive``: the HTTPS endpoint for ``rua=https://...`` (RFC 8460 5.4)."""

from __future__ import annotations

import argparse
import ssl
import sys

from tlsrpt_tui.commands.options import add_timeout_option
from tlsrpt_tui.ingest.cli_options import (
    UsageError,
    add_store_options,
    error,
    limits_of,
    open_store,
)
from tlsrpt_tui.ingest.receiver import (
    ReceiverConfig,
    configure_logging,
    parse_listen,
    server_tls_context,
)
from tlsrpt_tui.ingest.receiver import (
    run as run_receiver,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "receive",
        help="receive reports by HTTPS POST (rua=https://...)",
        description=(
            "Accept TLS-RPT reports POSTed as application/tlsrpt+gzip or "
            "application/tlsrpt+json, validate them and store them durably before "
            "answering 201 (200 for a report already stored)."
        ),
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8460",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:8460; [::1]:8460 for IPv6)",
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="certificate chain (PEM) for HTTPS")
    parser.add_argument("--tls-key", metavar="FILE", help="private key (PEM) for HTTPS")
    parser.add_argument(
        "--path",
        metavar="PATH",
        help="serve only this URL path, e.g. /tlsrpt (default: any path)",
    )
    parser.add_argument(
        "--domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="accept reports only for this policy domain (repeatable; *.example.com for "
        "a domain and its subdomains; default: all)",
    )
    parser.add_argument(
        "--max-body-kb",
        type=int,
        default=4096,
        metavar="KB",
        help="largest request body accepted (default 4096)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        metavar="N",
        help="reports stored at once (bodies are read and checked before); more wait, "
        "then get 503 (default 16)",
    )
    add_timeout_option(
        parser,
        default=30.0,
        help="time limit of one request: receiving its body, then waiting its turn to be "
        "checked and stored",
    )
    add_store_options(parser)
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> ReceiverConfig:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        raise UsageError(f"--listen {exc}") from None
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("give both --tls-cert and --tls-key, or neither")
    context: ssl.SSLContext | None = None
    if args.tls_cert is not None:
        try:
            context = server_tls_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load the TLS certificate or key: {exc}") from None
    if args.path is not None and not args.path.startswith("/"):
        raise UsageError("--path must start with /")
    if args.max_body_kb <= 0 or args.concurrency <= 0 or args.timeout <= 0:
        raise UsageError("--max-body-kb, --concurrency and --timeout must be positive")
    domains = tuple(d.strip().lower().rstrip(".") for d in args.domain if d.strip())
    return ReceiverConfig(
        host=host,
        port=port,
        path=args.path,
        domains=domains,
        max_body_bytes=args.max_body_kb * 1024,
        concurrency=args.concurrency,
        request_timeout=args.timeout,
        limits=limits_of(args),
        ssl_context=context,
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
        store = open_store(args)
    except UsageError as exc:
        error("receive", str(exc))
        return 2
    configure_logging()
    try:
        run_receiver(
            store,
            config,
            announce=lambda text: print(f"tlsrpt-tui receive: {text}", file=sys.stderr, flush=True),
        )
    except OSError as exc:
        error("receive", f"cannot listen on {args.listen}: {exc.strerror or exc}")
        return 1
    return 0
