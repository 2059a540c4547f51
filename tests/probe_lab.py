"""The probe tests' lab: every loopback server (zones, unbound, SMTP, HTTPS) and the
test domains that provoke each finding. The servers themselves are in probe_servers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from probe_servers import (
    LOCALHOST,
    LOCALHOST6,
    BackgroundLoop,
    Issued,
    PolicySite,
    TestPKI,
    Unbound,
    ZoneServer,
    find_unbound,
    make_zone,
    server_context,
    server_port,
    start_dual,
    start_silent,
    start_smtp,
    stop_servers,
    tlsa_data,
)

# --------------------------------------------------------------------------- the lab


ZONE = "lab.example"
INSECURE_ZONE = "insecure.example"
STS_ID = "20240101T000000"

#: Domains whose MX is the valid SMTP server (one certificate names them all).
VALID_MX_DOMAINS = (
    "good",
    "plain",
    "ta",
    "tlsabad",
    "tlsapkix",
    "badsig",
    "sts404",
    "stsinvalid",
    "stsbom",
    "stsuntrusted",
    "stsnohost",
    "stswronghost",
    "stsredirect",
    "tlsrptmulti",
    "tlsrpttwo",
    "tlsrptbad",
    "tlsrptnone",
    "ctl",
    "stshtml",
    "dual",
    "aliasmx",
)
#: Domains with an MTA-STS record; the policy host of all but stswronghost is in the
#: valid HTTPS certificate.
STS_DOMAINS = (
    "good",
    "plain",
    "ta",
    "tlsabad",
    "tlsapkix",
    "badsig",
    "sts404",
    "stsinvalid",
    "stsbom",
    "stsuntrusted",
    "stsnohost",
    "stsmismatch",
    "stswronghost",
    "stsredirect",
    "stshtml",
    "eestalests",
)


def fqdn(label: str, zone: str = ZONE) -> str:
    return f"{label}.{zone}"


def txt_quote(value: str | bytes) -> str:
    """A zone-file character-string: quotes, backslashes and non-printables escaped."""
    data = value.encode() if isinstance(value, str) else value
    out = []
    for byte in data:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def policy_text(mx: Iterable[str], mode: str = "enforce", max_age: int = 604800) -> bytes:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return ("\r\n".join(lines) + "\r\n").encode()


class Lab:
    """All servers of the probe tests. ``start()`` once; ``options()`` per probe run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pki = TestPKI(workdir / "pki")
        self.loop = BackgroundLoop()
        self.smtp: dict[str, int] = {}
        self.https: dict[str, int] = {}
        self._smtp_servers: list[asyncio.Server] = []
        self.sites: dict[str, PolicySite] = {}
        self.dns: ZoneServer | None = None
        self.unbound: Unbound | None = None
        self.trust_anchors: list[str] = []
        self.certs: dict[str, Issued] = {}

    # -- building

    def _issue_certs(self) -> None:
        pki = self.pki
        valid_names = [f"mx.{fqdn(d)}" for d in VALID_MX_DOMAINS] + [f"mx.{INSECURE_ZONE}"]
        self.certs["valid"] = pki.issue("smtp-valid", valid_names)
        self.certs["expired"] = pki.issue(
            "smtp-expired", [f"mx.{fqdn('expired')}"], valid_from_days=-90, valid_to_days=-2
        )
        self.certs["soon"] = pki.issue("smtp-soon", [f"mx.{fqdn('soon')}"], valid_to_days=5)
        self.certs["wronghost"] = pki.issue("smtp-wronghost", [fqdn("other")])
        self.certs["selfsigned"] = pki.issue(
            "smtp-selfsigned", [f"mx.{fqdn('selfsigned')}"], self_signed=True
        )
        https_names = [f"mta-sts.{fqdn(d)}" for d in STS_DOMAINS if d != "stswronghost"]
        # expired and naming another host: only a DANE-EE record vouches for it
        self.certs["eestale"] = pki.issue(
            "smtp-eestale", [fqdn("other")], valid_from_days=-90, valid_to_days=-2
        )
        self.certs["https-valid"] = pki.issue("https-valid", https_names)
        self.certs["https-untrusted"] = pki.issue(
            "https-untrusted", [f"mta-sts.{fqdn('stsuntrusted')}"], self_signed=True
        )

    def records(self) -> list[str]:
        valid = self.certs["valid"]
        ee = tlsa_data(3, 1, 1, valid.spki)
        records: list[str] = []

        def add(owner: str, rdtype: str, data: str) -> None:
            records.append(f"{owner}. 300 IN {rdtype} {data}")

        def domain(
            label: str,
            *,
            tlsrpt: list[list[str]] | None = None,
            sts: bool | None = None,
            policy_host: bool = True,
            tlsa: list[str] = (),  # type: ignore[assignment]
            mx: bool = True,
        ) -> None:
            name = fqdn(label)
            if mx:
                add(name, "MX", f"10 mx.{name}.")
                add(f"mx.{name}", "A", LOCALHOST)
            if tlsrpt is None:
                tlsrpt = [[f"v=TLSRPTv1; rua=mailto:tlsrpt@{name}"]]
            for strings in tlsrpt:
                add(f"_smtp._tls.{name}", "TXT", " ".join(txt_quote(s) for s in strings))
            if sts if sts is not None else label in STS_DOMAINS:
                add(f"_mta-sts.{name}", "TXT", txt_quote(f"v=STSv1; id={STS_ID}"))
                if policy_host:
                    add(f"mta-sts.{name}", "A", LOCALHOST)
            for data in tlsa:
                add(f"_25._tcp.mx.{name}", "TLSA", data)

        domain("good", tlsa=[ee])
        domain("plain")
        domain("ta", tlsa=[tlsa_data(2, 0, 1, self.pki.ca_der)])
        domain("tlsabad", tlsa=[tlsa_data(3, 1, 1, b"not the key")])
        domain("tlsapkix", tlsa=[tlsa_data(1, 1, 1, valid.spki)])
        domain("badsig", tlsa=[ee])
        for label in ("expired", "soon", "wronghost", "selfsigned", "nostarttls", "silent"):
            domain(label)
        for label in ("sts404", "stsinvalid", "stsbom", "stsuntrusted", "stsmismatch"):
            domain(label)
        domain("stswronghost")
        domain("stsredirect")
        domain("stsnohost", policy_host=False)
        domain("stshtml")
        # one MX, two families: STARTTLS on 127.0.0.1, none on ::1 (same port)
        domain("dual")
        add(f"mx.{fqdn('dual')}", "AAAA", LOCALHOST6)
        # an MX target that is an alias of a host whose TLSA lives at the expanded name
        add(fqdn("aliasmx"), "MX", f"10 mx.{fqdn('aliasmx')}.")
        add(f"mx.{fqdn('aliasmx')}", "CNAME", f"mx.{fqdn('good')}.")
        add(
            f"_smtp._tls.{fqdn('aliasmx')}",
            "TXT",
            txt_quote(f"v=TLSRPTv1; rua=mailto:r@{fqdn('aliasmx')}"),
        )
        stale = tlsa_data(3, 1, 1, self.certs["eestale"].spki)
        domain("eestale", tlsa=[stale])
        domain("eestalests", tlsa=[stale])
        domain(
            "tlsrptmulti",
            tlsrpt=[
                ["v=TLSRPTv1;", f" rua=mailto:tlsrpt@{fqdn('tlsrptmulti')}"],
                ["some-other=record"],
            ],
        )
        domain(
            "tlsrpttwo",
            tlsrpt=[
                [f"v=TLSRPTv1; rua=mailto:a@{fqdn('tlsrpttwo')}"],
                [f"v=TLSRPTv1; rua=mailto:b@{fqdn('tlsrpttwo')}"],
            ],
        )
        domain(
            "tlsrptbad",
            tlsrpt=[[f"v=TLSRPTv1; rua=mailto:a@{fqdn('tlsrptbad')},b@{fqdn('tlsrptbad')}"]],
        )
        domain("tlsrptnone", tlsrpt=[])
        domain(
            "ctl",
            tlsrpt=[[b"v=TLSRPTv1; rua=mailto:x@ctl.lab.example;\x1b[2J\x07evil=\x9b1m"]],  # type: ignore[list-item]
        )
        add(fqdn("nullmx"), "MX", "0 .")
        add(fqdn("nomx"), "A", LOCALHOST)
        add(f"_smtp._tls.{fqdn('nomx')}", "TXT", txt_quote("v=TLSRPTv1; rua=https://r.example/x"))
        add(f"mx.{fqdn('cname')}", "CNAME", f"mx.{fqdn('plain')}.")
        return records

    def insecure_records(self) -> list[str]:
        ee = tlsa_data(3, 1, 1, self.certs["valid"].spki)
        return [
            f"{INSECURE_ZONE}. 300 IN MX 10 mx.{INSECURE_ZONE}.",
            f"mx.{INSECURE_ZONE}. 300 IN A {LOCALHOST}",
            f"_smtp._tls.{INSECURE_ZONE}. 300 IN TXT "
            + txt_quote(f"v=TLSRPTv1; rua=mailto:r@{INSECURE_ZONE}"),
            f"_25._tcp.mx.{INSECURE_ZONE}. 300 IN TLSA {ee}",
        ]

    def policies(self) -> dict[str, tuple[int, bytes, str]]:
        policies: dict[str, tuple[int, bytes, str]] = {}
        for label in STS_DOMAINS:
            name = fqdn(label)
            policies[f"mta-sts.{name}"] = (200, policy_text([f"mx.{name}"]), "text/plain")
        del policies[f"mta-sts.{fqdn('sts404')}"]
        policies[f"mta-sts.{fqdn('stsinvalid')}"] = (
            200,
            b"version: STSv1\nmode: enforcing\nmx: mx.stsinvalid.lab.example\nmax_age: 86400\n",
            "text/plain",
        )
        policies[f"mta-sts.{fqdn('stsbom')}"] = (
            200,
            b"\xef\xbb\xbf" + policy_text([f"mx.{fqdn('stsbom')}"]),
            "text/plain; charset=utf-8",
        )
        policies[f"mta-sts.{fqdn('stsmismatch')}"] = (
            200,
            policy_text(["mx.elsewhere.example", "*.other.example"]),
            "text/plain",
        )
        policies[f"mta-sts.{fqdn('stshtml')}"] = (
            200,
            policy_text([f"mx.{fqdn('stshtml')}"]),
            "text/html; charset=utf-8",
        )
        policies[f"mta-sts.{fqdn('stsredirect')}"] = (
            301,
            f"https://mta-sts.{fqdn('plain')}/.well-known/mta-sts.txt".encode(),
            "text/plain",
        )
        return policies

    def start(self) -> None:
        # aiosmtpd logs every handshake the probe aborts on purpose; keep the output readable
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        self._issue_certs()
        signed = make_zone(
            f"{ZONE}.",
            self.records(),
            sign=True,
            tamper=[(f"_25._tcp.mx.{fqdn('badsig')}.", "TLSA")],
        )
        insecure = make_zone(f"{INSECURE_ZONE}.", self.insecure_records(), sign=False)
        assert signed.trust_anchor is not None
        self.trust_anchors = [signed.trust_anchor]
        self.dns = ZoneServer([signed.zone, insecure.zone])
        self.loop.call(self.dns.start())
        self.loop.call(self._start_servers())

    async def _start_servers(self) -> None:
        smtp_contexts: dict[str, Any] = {
            name: server_context(self.certs[name])
            for name in ("valid", "expired", "soon", "wronghost", "selfsigned", "eestale")
        }
        smtp_contexts["nostarttls"] = None
        for name, context in smtp_contexts.items():
            server = await start_smtp(context)
            self._smtp_servers.append(server)
            self.smtp[name] = server_port(server)
        port, dual = await start_dual(smtp_contexts["valid"])
        self._smtp_servers.extend(dual)
        self.smtp["dual"] = port
        silent = await start_silent()
        self._smtp_servers.append(silent)
        self.smtp["silent"] = server_port(silent)
        for name, cert in (("valid", "https-valid"), ("untrusted", "https-untrusted")):
            site = PolicySite(policies=self.policies())
            await site.start(server_context(self.certs[cert]))
            self.sites[name] = site
            self.https[name] = site.port

    def start_unbound(self) -> str:
        """Start unbound (once) and return its ``ADDR:PORT``; RuntimeError if it can't."""
        if self.unbound is None:
            binary = find_unbound()
            if binary is None:
                raise FileNotFoundError("unbound")
            assert self.dns is not None
            unbound = Unbound(
                binary,
                self.workdir / "unbound",
                self.dns.port,
                stub_zones=[f"{ZONE}.", f"{INSECURE_ZONE}."],
                trust_anchors=self.trust_anchors,
            )
            unbound.start()
            self.unbound = unbound
        return f"{LOCALHOST}:{self.unbound.port}"

    @property
    def auth_resolver(self) -> str:
        assert self.dns is not None
        return f"{LOCALHOST}:{self.dns.port}"

    def stop(self) -> None:
        if self.unbound is not None:
            self.unbound.stop()
        with contextlib.suppress(Exception):
            self.loop.call(stop_servers(self._smtp_servers), timeout=10)
            for site in self.sites.values():
                self.loop.call(site.stop(), timeout=10)
            if self.dns is not None:
                self.loop.call(self.dns.stop(), timeout=10)
        self.loop.stop()
