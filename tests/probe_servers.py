"""Real servers on 127.0.0.1 for the probe tests: DNS, a validating resolver, SMTP, HTTPS.

* :class:`ZoneServer`: an authoritative DNS server (UDP and TCP) written on dnspython.
  It serves zones signed with ``dns.dnssec.sign_zone`` and gives NSEC denial proofs,
  so a validating resolver can check positive and negative answers.
* :class:`Unbound`: Debian's ``unbound`` as a DNSSEC-validating resolver with a
  trust anchor for the test zone and stub zones pointing at the :class:`ZoneServer`.
* :class:`TestPKI`: a test CA and certificates made with ``cryptography``.
* SMTP servers are aiosmtpd with STARTTLS (or without), HTTPS is an aiohttp web server.

Everything runs on one background event loop thread, so fixtures can be
session-scoped and the probe under test runs in the test's own loop. Every server
listens on 127.0.0.1 on a port the kernel picks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dns.dnssec
import dns.dnssectypes
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.dnskeybase
import dns.rrset
import dns.zone
from aiohttp import web
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

T = TypeVar("T")
LOCALHOST = "127.0.0.1"
LOCALHOST6 = "::1"


# --------------------------------------------------------------------------- plumbing


class BackgroundLoop:
    """An asyncio loop on a daemon thread; ``call`` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="probe-test-servers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def free_port_udp_tcp() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (for servers that need both)."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((LOCALHOST, 0))
        port = int(udp.getsockname()[1])
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((LOCALHOST, port))
        except OSError:
            continue
        finally:
            tcp.close()
            udp.close()
        return port
    raise RuntimeError("no free port for UDP and TCP")


# --------------------------------------------------------------------------- PKI


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_file: Path  # leaf (+ chain) PEM
    key_file: Path

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def spki(self) -> bytes:
        return self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class TestPKI:
    """A CA made for the test run, and leaf certificates issued by it (or self-signed)."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.now = dt.datetime.now(dt.UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsrpt-tui probe test CA")])
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(days=30))
            .not_valid_after(self.now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = self.dir / "ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))

    @property
    def ca_der(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.DER)

    def issue(
        self,
        label: str,
        names: Iterable[str],
        *,
        valid_from_days: float = -1,
        valid_to_days: float = 90,
        self_signed: bool = False,
        with_ca_in_chain: bool = True,
    ) -> Issued:
        names = list(names)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        issuer = subject if self_signed else self.ca_cert.subject
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + dt.timedelta(days=valid_from_days))
            .not_valid_after(self.now + dt.timedelta(days=valid_to_days))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
        cert = builder.sign(key if self_signed else self.ca_key, hashes.SHA256())
        pem = cert.public_bytes(serialization.Encoding.PEM)
        if with_ca_in_chain and not self_signed:
            pem += self.ca_cert.public_bytes(serialization.Encoding.PEM)
        cert_file = self.dir / f"{label}.pem"
        key_file = self.dir / f"{label}.key"
        cert_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert, key, cert_file, key_file)


def server_context(issued: Issued) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(issued.cert_file), str(issued.key_file))
    return context


def tlsa_data(usage: int, selector: int, mtype: int, der_or_spki: bytes) -> str:
    if mtype == 0:
        digest = der_or_spki
    elif mtype == 1:
        digest = hashlib.sha256(der_or_spki).digest()
    else:
        digest = hashlib.sha512(der_or_spki).digest()
    return f"{usage} {selector} {mtype} {digest.hex()}"


# --------------------------------------------------------------------------- zones


@dataclass
class SignedZone:
    zone: dns.zone.Zone
    trust_anchor: str | None  # unbound trust-anchor line, None for an unsigned zone


def make_zone(
    origin: str,
    records: Iterable[str],
    *,
    sign: bool,
    tamper: Iterable[tuple[str, str]] = (),
) -> SignedZone:
    """A zone from ``records`` ("owner TTL IN TYPE data" lines, owners absolute).

    With ``sign``, the zone is signed (ECDSA P-256, NSEC); then each (owner, type) in
    ``tamper`` gets its RRSIG corrupted, which a validating resolver calls bogus.
    """
    header = [
        f"$ORIGIN {origin}",
        f"{origin} 300 IN SOA ns.{origin} hostmaster.{origin} 1 3600 600 86400 60",
        f"{origin} 300 IN NS ns.{origin}",
        f"ns.{origin} 300 IN A {LOCALHOST}",
    ]
    text = "\n".join([*header, *records]) + "\n"
    zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
    if not sign:
        return SignedZone(zone, None)
    key = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(
        key.public_key(),
        dns.dnssectypes.Algorithm.ECDSAP256SHA256,
        flags=dns.rdtypes.dnskeybase.Flag.ZONE | dns.rdtypes.dnskeybase.Flag.SEP,
    )
    now = time.time()
    dns.dnssec.sign_zone(
        zone,
        keys=[(key, dnskey)],
        inception=now - 3600,
        expiration=now + 14 * 86400,
        dnskey_ttl=300,
    )
    with zone.writer() as txn:
        for owner, rdtype in tamper:
            name = dns.name.from_text(owner)
            covered = dns.rdatatype.from_text(rdtype)
            sigs = txn.get(name, dns.rdatatype.RRSIG, covered)
            assert sigs is not None, f"nothing to tamper at {owner} {rdtype}"
            broken = [
                r.replace(signature=bytes(b ^ 0x5A for b in r.signature[:16]) + r.signature[16:])
                for r in sigs
            ]
            txn.replace(name, dns.rdataset.from_rdata_list(sigs.ttl, broken))
    anchor = f"{origin} DNSKEY {dnskey.to_text()}"
    return SignedZone(zone, anchor)


class ZoneServer:
    """Authoritative answers for a few zones, with RRSIGs and NSEC proofs when asked (DO)."""

    def __init__(self, zones: Iterable[dns.zone.Zone]) -> None:
        self.zones = sorted(zones, key=lambda z: len(z.origin or dns.name.root), reverse=True)
        self._names: dict[dns.name.Name, list[dns.name.Name]] = {}
        self._nsec: dict[dns.name.Name, list[dns.name.Name]] = {}
        for zone in self.zones:
            assert zone.origin is not None
            names = sorted(zone.nodes.keys())
            self._names[zone.origin] = names
            self._nsec[zone.origin] = [
                n
                for n in names
                if zone.nodes[n].get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC) is not None
            ]
        self.port = 0
        self.queries = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    # -- answering

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        for zone in self.zones:
            assert zone.origin is not None
            if name.is_subdomain(zone.origin):
                return zone
        return None

    @staticmethod
    def _append(
        section: list[dns.rrset.RRset],
        owner: dns.name.Name,
        node: dns.node.Node,
        rdtype: dns.rdatatype.RdataType,
        dnssec: bool,
    ) -> bool:
        rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rdataset is None:
            return False
        rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
        rrset.update(rdataset)  # type: ignore[no-untyped-call]
        section.append(rrset)
        if dnssec:
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
            if sigs is not None:
                sig_rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
                sig_rrset.update(sigs)  # type: ignore[no-untyped-call]
                section.append(sig_rrset)
        return True

    def _covering_nsec(self, zone: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name | None:
        assert zone.origin is not None
        owners = self._nsec[zone.origin]
        if not owners:
            return None
        before = [n for n in owners if n < name]
        return before[-1] if before else owners[-1]

    def _authority_nsec(
        self, response: dns.message.Message, zone: dns.zone.Zone, owners: Iterable[dns.name.Name]
    ) -> None:
        done: set[dns.name.Name] = set()
        for owner in owners:
            if owner in done:
                continue
            done.add(owner)
            self._append(response.authority, owner, zone.nodes[owner], dns.rdatatype.NSEC, True)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        zone = self._zone_for(qname)
        if zone is None or question.rdclass != dns.rdataclass.IN:
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response
        assert zone.origin is not None
        dnssec = bool(query.ednsflags & dns.flags.DO)
        apex = zone.nodes[zone.origin]
        node = zone.nodes.get(qname)
        for _ in range(8):  # follow CNAMEs inside the zone, as authoritative servers do
            if node is None or qtype == dns.rdatatype.CNAME:
                break
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None:
                break
            self._append(response.answer, qname, node, dns.rdatatype.CNAME, dnssec)
            target = cname[0].target
            if self._zone_for(target) is not zone:
                return response
            qname, node = target, zone.nodes.get(target)
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                return response
        if node is not None:
            if self._append(response.answer, qname, node, qtype, dnssec):
                return response
            self._append(response.authority, zone.origin, apex, dns.rdatatype.SOA, dnssec)
            if dnssec:
                self._authority_nsec(response, zone, [qname])
            return response
        names = self._names[zone.origin]
        empty_non_terminal = any(n.is_subdomain(qname) for n in names)
        self._append(response.authority, zone.origin, apex, dns.rdatatype.SOA, dnssec)
        if empty_non_terminal:
            if dnssec:
                cover = self._covering_nsec(zone, qname)
                self._authority_nsec(response, zone, [cover] if cover else [])
            return response
        response.set_rcode(dns.rcode.NXDOMAIN)
        if dnssec:
            encloser = qname.parent()
            while encloser != zone.origin and not any(n.is_subdomain(encloser) for n in names):
                encloser = encloser.parent()
            wildcard = dns.name.Name((b"*", *encloser.labels))
            covers = [self._covering_nsec(zone, qname), self._covering_nsec(zone, wildcard)]
            self._authority_nsec(response, zone, [c for c in covers if c is not None])
        return response

    def handle_wire(self, wire: bytes, max_size: int | None) -> bytes | None:
        self.queries += 1
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = self.answer(query)
        if max_size is None:
            return response.to_wire()
        limit = max(512, query.payload if query.edns >= 0 else 512)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC | dns.flags.AA
            return truncated.to_wire()

    # -- serving

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                reply = server.handle_wire(data, 65535)
                if reply is not None:
                    self.transport.sendto(reply, addr)  # type: ignore[attr-defined]

        async def tcp_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    header = await reader.readexactly(2)
                    data = await reader.readexactly(struct.unpack("!H", header)[0])
                    reply = server.handle_wire(data, None)
                    if reply is None:
                        break
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        for _ in range(20):
            port = free_port_udp_tcp()
            try:
                self._tcp = await asyncio.start_server(tcp_client, LOCALHOST, port)
            except OSError:
                continue
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    Udp, local_addr=(LOCALHOST, port)
                )
            except OSError:
                self._tcp.close()
                continue
            self._udp = transport
            self.port = port
            return
        raise RuntimeError("could not bind the test DNS server")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()


# --------------------------------------------------------------------------- unbound


def find_unbound() -> str | None:
    for candidate in (shutil.which("unbound"), "/usr/sbin/unbound"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies (Linux), so no resolver lingers."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Unbound:
    """Debian's unbound as a validating resolver on 127.0.0.1, for the test zones only."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        auth_port: int,
        stub_zones: Iterable[str],
        trust_anchors: Iterable[str],
        insecure_zones: Iterable[str] = (),
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.auth_port = auth_port
        self.stub_zones = list(stub_zones)
        self.trust_anchors = list(trust_anchors)
        self.insecure_zones = list(insecure_zones)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_file = self.workdir / "unbound.log"

    def config(self) -> str:
        lines = [
            "server:",
            "    verbosity: 1",
            f'    interface: "{LOCALHOST}"',
            f"    port: {self.port}",
            f'    outgoing-interface: "{LOCALHOST}"',
            "    do-ip4: yes",
            "    do-ip6: no",
            "    do-udp: yes",
            "    do-tcp: yes",
            "    access-control: 127.0.0.0/8 allow",
            '    chroot: ""',
            '    username: ""',
            f'    directory: "{self.workdir}"',
            f'    pidfile: "{self.workdir}/unbound.pid"',
            "    use-syslog: no",
            f'    logfile: "{self.log_file}"',
            "    log-servfail: yes",
            "    val-log-level: 2",
            "    ede: yes",
            "    do-daemonize: no",
            "    num-threads: 1",
            "    so-reuseport: no",
            "    do-not-query-localhost: no",
            "    qname-minimisation: no",
            "    prefetch: no",
            "    harden-dnssec-stripped: yes",
            "    val-permissive-mode: no",
            '    module-config: "validator iterator"',
            "    cache-max-negative-ttl: 5",
            "    infra-host-ttl: 5",
            "    outgoing-range: 64",
            "    num-queries-per-thread: 32",
            "    msg-cache-size: 1m",
            "    rrset-cache-size: 1m",
            "    key-cache-size: 1m",
            "    neg-cache-size: 1m",
            "    infra-cache-numhosts: 100",
        ]
        lines.extend(f'    trust-anchor: "{anchor}"' for anchor in self.trust_anchors)
        lines.extend(f'    domain-insecure: "{zone}"' for zone in self.insecure_zones)
        for zone in self.stub_zones:
            lines.extend(
                [
                    "stub-zone:",
                    f'    name: "{zone}"',
                    f"    stub-addr: {LOCALHOST}@{self.auth_port}",
                ]
            )
        lines.append("remote-control:")
        lines.append("    control-enable: no")
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> None:
        last_error = ""
        for _ in range(5):
            self.port = free_port_udp_tcp()
            conf = self.workdir / "unbound.conf"
            conf.write_text(self.config())
            self.log_file.write_text("")
            self.process = subprocess.Popen(
                [self.binary, "-d", "-c", str(conf)],
                preexec_fn=_die_with_parent,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(self.workdir / "unbound.stderr", "wb"),  # noqa: SIM115
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                query = dns.message.make_query(self.stub_zones[0], "SOA")
                try:
                    dns.query.udp(query, LOCALHOST, timeout=0.3, port=self.port)
                except (dns.exception.Timeout, OSError):
                    time.sleep(0.05)
                    continue
                return
            last_error = self.diagnostics()
            self.stop()
        raise RuntimeError(f"unbound did not start:\n{last_error}")

    def diagnostics(self) -> str:
        parts = []
        for name in ("unbound.stderr", "unbound.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


# --------------------------------------------------------------------------- SMTP


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


class SilentProtocol(asyncio.Protocol):
    """Accepts a connection and never says anything (for timeout tests)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport


async def start_smtp(context: Any | None, hostname: str = "mx.lab.example") -> asyncio.Server:
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(_Sink(), hostname=hostname, tls_context=context, timeout=30)

    return await loop.create_server(factory, LOCALHOST, 0)


def free_port_v4_v6() -> int:
    """A TCP port free on both 127.0.0.1 and ::1 (one MX, two address families)."""
    for _ in range(50):
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind((LOCALHOST, 0))
        port = int(v4.getsockname()[1])
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            v6.bind((LOCALHOST6, port))
        except OSError:
            continue
        finally:
            v6.close()
            v4.close()
        return port
    raise RuntimeError("no TCP port free on both 127.0.0.1 and ::1")


async def start_dual(context: Any) -> tuple[int, list[asyncio.Server]]:
    """STARTTLS on 127.0.0.1 and, on the same port, no STARTTLS on ::1: an MX whose
    IPv6 listener lacks TLS, which senders that prefer IPv6 report."""
    loop = asyncio.get_running_loop()
    hostname = "mx.dual.lab.example"
    for _ in range(10):
        port = free_port_v4_v6()
        try:
            v4 = await loop.create_server(
                lambda: SMTP(_Sink(), hostname=hostname, tls_context=context, timeout=30),
                LOCALHOST,
                port,
            )
        except OSError:
            continue
        try:
            v6 = await loop.create_server(
                lambda: SMTP(_Sink(), hostname=hostname, tls_context=None, timeout=30),
                LOCALHOST6,
                port,
            )
        except OSError:
            v4.close()
            continue
        return port, [v4, v6]
    raise RuntimeError("could not start the dual-stack SMTP servers")


async def start_silent() -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(SilentProtocol, LOCALHOST, 0)


def server_port(server: asyncio.Server) -> int:
    port = int(server.sockets[0].getsockname()[1])
    return port


# --------------------------------------------------------------------------- HTTPS


@dataclass
class PolicySite:
    """An HTTPS server answering ``/.well-known/mta-sts.txt`` per Host header."""

    policies: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    port: int = 0
    hits: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0].lower() if request.host else ""
        self.hits.append(host)
        entry = self.policies.get(host)
        if entry is None:
            return web.Response(status=404, text="not found")
        status, body, content_type = entry
        if status in (301, 302):
            return web.Response(status=status, headers={"Location": body.decode()})
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})

    async def start(self, context: Any) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/mta-sts.txt", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, LOCALHOST, 0, ssl_context=context)
        await site.start()
        server: Any = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def stop_servers(servers: Iterable[asyncio.Server]) -> None:
    for server in servers:
        server.close()
    for server in servers:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
