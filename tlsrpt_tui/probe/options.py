"""What a probe needs to know before it runs: its options and checked host names.

Kept apart from the runner so that the explorer (which looks up cached probes on
every cursor move) does not import the network stack until a probe really runs.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

import dns.exception
import dns.name

DEFAULT_TIMEOUT = 8.0


class ProbeUsageError(ValueError):
    """A probe asked with arguments that cannot work (exit status 2 on the command line)."""


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """Where and how to probe. Every field has a production default."""

    #: ``ADDR`` or ``ADDR:PORT`` of a recursive (ideally DNSSEC-validating) resolver;
    #: None uses the system's resolvers.
    resolver: str | None = None
    smtp_port: int = 25
    https_port: int = 443
    #: PEM bundle to trust instead of the system store (SMTP and the policy fetch).
    ca_file: str | None = None
    #: Seconds allowed for each network step (one DNS query, connect, one SMTP reply...).
    timeout: float = DEFAULT_TIMEOUT
    ehlo_name: str = "localhost"
    #: At most this many MX hosts from DNS are probed (lowest preference first).
    max_mx: int = 10
    #: MX hosts probed at the same time.
    concurrency: int = 4
    #: At most this many addresses of each MX are probed (IPv4 first, then IPv6).
    max_addresses: int = 6
    #: DANE is expected (e.g. the domain's reports carry ``tlsa`` policies): a missing
    #: TLSA record is then a warning, not information.
    dane_expected: bool = False

    def validate(self) -> None:
        if self.resolver is not None:
            from tlsrpt_tui.probe.dns import ResolverSpecError, parse_resolver

            try:
                parse_resolver(self.resolver)
            except ResolverSpecError as exc:
                raise ProbeUsageError(str(exc)) from None
        for name, port in (("smtp port", self.smtp_port), ("https port", self.https_port)):
            if not 0 < port < 65536:
                raise ProbeUsageError(f"{name} {port} is not between 1 and 65535")
        if not self.timeout > 0:
            raise ProbeUsageError(f"timeout {self.timeout} must be positive")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,252}|\[[0-9A-Fa-f.:]+\]", self.ehlo_name):
            raise ProbeUsageError(f"EHLO name {self.ehlo_name!r} is not a host name")
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise ProbeUsageError(f"CA file {self.ca_file!r} does not exist")


def normalise_host(value: str, what: str = "domain") -> str:
    """A lower-case A-label host name without trailing dot, or ProbeUsageError."""
    text = value.strip().rstrip(".")
    if not text:
        raise ProbeUsageError(f"empty {what}")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        if what == "domain":
            raise ProbeUsageError(f"{what} {value!r} is an IP address, not a domain")
        return text
    if any(c.isspace() or c in "/\\@:;,\"'<>()[]{}" for c in text) or not text.isprintable():
        raise ProbeUsageError(f"{what} {value!r} is not a host name")
    try:
        name = dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ProbeUsageError(f"{what} {value!r} is not a valid DNS name: {exc}") from None
    if len([label for label in name.labels if label]) < 2:
        raise ProbeUsageError(f"{what} {value!r} is not a host name")
    return name.to_text(omit_final_dot=True).lower()
