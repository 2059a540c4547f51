"""A small DNS stub client on dnspython that keeps what a probe needs to see.

A recursive resolver's answer is kept whole: the response code (SERVFAIL is a
finding, not an exception), the DNSSEC authenticated-data flag, and the records
after following CNAMEs. Every query has a deadline; :class:`DnsUnreachable` says
that no server answered in time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dns.asyncbackend
import dns.asyncquery
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

DEFAULT_DNS_PORT = 53


class DnsUnreachable(Exception):
    """No configured server answered a query before its deadline."""


class ResolverSpecError(ValueError):
    """A ``--resolver`` value that is not ``ADDR`` or ``ADDR:PORT``."""


def parse_resolver(spec: str) -> tuple[str, int]:
    """``"127.0.0.1"``, ``"127.0.0.1:5353"``, ``"::1"`` or ``"[::1]:5353"`` to (address, port)."""
    text = spec.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ResolverSpecError(f"unbalanced '[' in resolver {spec!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ResolverSpecError(f"expected ':PORT' after ']' in resolver {spec!r}")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ResolverSpecError(
            f"resolver {spec!r}: {host!r} is not an IP address (give ADDR or ADDR:PORT)"
        ) from None
    port = DEFAULT_DNS_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ResolverSpecError(f"resolver {spec!r}: bad port {port_text!r}")
        port = int(port_text)
    return str(address), port


def system_nameservers() -> list[tuple[str, int]]:
    """The nameservers of /etc/resolv.conf (or the platform's equivalent)."""
    try:
        resolver = dns.resolver.Resolver()
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []
    servers: list[tuple[str, int]] = []
    for server in resolver.nameservers:
        address = str(server)
        try:
            ipaddress.ip_address(address)
        except ValueError:  # DoH/DoT nameserver objects: not for this client
            continue
        servers.append((address, resolver.port))
    return servers


def describe_servers(servers: Sequence[tuple[str, int]]) -> str:
    if not servers:
        return "(no resolver)"
    return ", ".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in servers)


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """What a resolver said about one (name, type)."""

    qname: str
    rdtype: str
    rcode: str
    ad: bool
    records: tuple[Any, ...]
    server: str
    cnames: tuple[str, ...] = ()
    cd: bool = False
    #: Extended DNS Errors (RFC 8914) the resolver attached, as text.
    extended_errors: tuple[str, ...] = ()

    @property
    def nxdomain(self) -> bool:
        return self.rcode == "NXDOMAIN"

    @property
    def noerror(self) -> bool:
        return self.rcode == "NOERROR"

    @property
    def servfail(self) -> bool:
        return self.rcode == "SERVFAIL"

    def describe(self) -> str:
        """One line of evidence: ``TXT _smtp._tls.example.com: NOERROR, 1 record, AD=0``."""
        if self.rcode == "NOERROR":
            n = len(self.records)
            status = f"NOERROR, {n} record{'s' if n != 1 else ''}" if n else "NOERROR, no data"
        else:
            status = self.rcode
        via = f" via CNAME {' -> '.join(self.cnames)}" if self.cnames else ""
        cd = ", CD=1" if self.cd else ""
        ede = "".join(f"; {e}" for e in self.extended_errors)
        return (
            f"{self.rdtype} {self.qname}: {status}{via}, AD={int(self.ad)}{cd} "
            f"(resolver {self.server}){ede}"
        )


def txt_strings(answer: DnsAnswer) -> list[str]:
    """Each TXT record's character-strings joined (RFC 8460/8461: one record, many strings)."""
    texts = []
    for rdata in answer.records:
        joined = b"".join(rdata.strings)
        texts.append(joined.decode("utf-8", errors="backslashreplace"))
    return texts


async def _ask(
    message: dns.message.Message, host: str, port: int, timeout: float
) -> dns.message.Message:
    """One query over UDP (TCP on truncation) from a *connected* UDP socket: only a
    connected socket hears the ICMP "port unreachable" that makes a refused resolver
    an immediate ``ConnectionRefusedError`` instead of a timeout."""
    backend = dns.asyncbackend.get_default_backend()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = await backend.make_socket(  # type: ignore[no-untyped-call]
        family, socket.SOCK_DGRAM, 0, None, (host, port)
    )
    async with sock:
        response, _ = await dns.asyncquery.udp_with_fallback(
            message, host, timeout=timeout, port=port, udp_sock=sock
        )
    return response


class DnsClient:
    """Queries one list of recursive resolvers with a per-query deadline.

    Identical queries in one client are asked once (answers are shared), which is
    why one client is made per probe run.
    """

    def __init__(self, nameservers: Sequence[tuple[str, int]], timeout: float) -> None:
        self.nameservers = list(nameservers)
        self.timeout = timeout
        self._answers: dict[tuple[str, str, bool], asyncio.Future[DnsAnswer]] = {}

    @property
    def servers_text(self) -> str:
        return describe_servers(self.nameservers)

    async def query(self, name: str, rdtype: str, *, cd: bool = False) -> DnsAnswer:
        key = (name.lower().rstrip("."), rdtype.upper(), cd)
        future = self._answers.get(key)
        if future is None:
            future = asyncio.ensure_future(self._query(key[0], key[1], cd))
            self._answers[key] = future
        return await asyncio.shield(future)

    async def _query(self, name: str, rdtype: str, cd: bool) -> DnsAnswer:
        if not self.nameservers:
            raise DnsUnreachable("no DNS resolver configured (give --resolver ADDR[:PORT])")
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise DnsUnreachable(f"{name!r} is not a valid DNS name: {exc}") from None
        message = dns.message.make_query(qname, rdtype, want_dnssec=True, payload=1232)
        message.flags |= dns.flags.AD  # RFC 6840 5.7: ask for the AD bit
        if cd:
            message.flags |= dns.flags.CD
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        per_try = max(self.timeout / 3, 0.25)
        problems: list[str] = []
        while True:
            refused = 0  # servers that answered this round with an error, not silence
            for host, port in self.nameservers:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    response = await _ask(message, host, port, min(remaining, per_try))
                except dns.exception.Timeout:
                    continue
                except (OSError, dns.exception.DNSException, ValueError) as exc:
                    reason = (
                        os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else exc
                    )
                    problems.append(f"{describe_servers([(host, port)])}: {reason}")
                    refused += 1
                    continue
                return self._answer(name, rdtype, cd, response, describe_servers([(host, port)]))
            if refused == len(self.nameservers):
                # Every server refused at once (ECONNREFUSED, unreachable network):
                # waiting out the timeout would only make the operator wait.
                raise DnsUnreachable(
                    f"no answer for {rdtype} {name}: {'; '.join(problems[-refused:])}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if problems:  # some refused, some silent: wait a little before retrying
                await asyncio.sleep(min(0.2, remaining))
        detail = f" ({problems[-1]})" if problems else ""
        raise DnsUnreachable(
            f"no answer for {rdtype} {name} from {self.servers_text} "
            f"within {self.timeout:g}s{detail}"
        )

    @staticmethod
    def _answer(
        name: str, rdtype: str, cd: bool, response: dns.message.Message, server: str
    ) -> DnsAnswer:
        rcode = dns.rcode.to_text(response.rcode())
        ad = bool(response.flags & dns.flags.AD)
        records: tuple[Any, ...] = ()
        cnames: tuple[str, ...] = ()
        if response.rcode() == dns.rcode.NOERROR and isinstance(response, dns.message.QueryMessage):
            try:
                chain = response.resolve_chaining()
            except dns.exception.DNSException:
                chain = None
            if chain is not None:
                if chain.answer is not None:
                    records = tuple(chain.answer)
                cnames = tuple(c[0].target.to_text(omit_final_dot=True) for c in chain.cnames)
        extended: list[str] = []
        for option in response.options:
            if isinstance(option, dns.edns.EDEOption):
                try:
                    label = dns.edns.EDECode(option.code).name.replace("_", " ")
                except ValueError:
                    label = "unknown"
                text = f": {option.text}" if option.text else ""
                extended.append(f"extended DNS error {int(option.code)} ({label}){text}")
        return DnsAnswer(
            qname=name,
            rdtype=rdtype,
            rcode=rcode,
            ad=ad,
            records=records,
            server=server,
            cnames=cnames,
            cd=cd,
            extended_errors=tuple(extended),
        )

    async def addresses(self, host: str) -> tuple[list[str], list[str]]:
        """IPv4 then IPv6 addresses of ``host``, and evidence lines.

        Raises :class:`DnsUnreachable` only when neither lookup got an answer.
        """
        results = await asyncio.gather(
            self.query(host, "A"), self.query(host, "AAAA"), return_exceptions=True
        )
        found: list[str] = []
        evidence: list[str] = []
        errors: list[str] = []
        for result in results:
            if isinstance(result, DnsUnreachable):
                errors.append(str(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                evidence.append(result.describe())
                found.extend(rdata.address for rdata in result.records)
        if errors and len(errors) == len(results):
            raise DnsUnreachable(errors[0])
        evidence.extend(errors)
        return found, evidence
