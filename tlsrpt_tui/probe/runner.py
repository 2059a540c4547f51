"""Running a probe: DNS, MTA-STS, every MX's STARTTLS and certificate, DANE.

``await run_probe(domain)`` from async code (a Textual worker), or
``run_probe_sync(domain)`` from a thread or a script. Both return a
:class:`ProbeResult`; network trouble becomes ``error`` checks, never exceptions.
Usage errors (a malformed domain, resolver or CA file) raise :class:`ProbeUsageError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from tlsrpt_tui.probe.certs import (
    CertInfo,
    expiry_finding,
    name_matches,
    names_for_matching,
)
from tlsrpt_tui.probe.dane import DANE_TYPES, dane_check, dane_ee_matches, tlsa_name
from tlsrpt_tui.probe.dns import (
    DnsAnswer,
    DnsClient,
    DnsUnreachable,
    parse_resolver,
    system_nameservers,
)
from tlsrpt_tui.probe.model import (
    CHECK_CERT_EXPIRY,
    CHECK_CERT_NAMES,
    CHECK_CERT_TRUST,
    CHECK_DANE,
    CHECK_MX_RECORDS,
    CHECK_STARTTLS,
    CHECK_STS_MX,
    Check,
    ProbeResult,
    Verdict,
)
from tlsrpt_tui.probe.options import (
    ProbeOptions,
    ProbeUsageError,
    normalise_host,
)
from tlsrpt_tui.probe.smtp import SmtpSession, make_verify_context, probe_mx_tls
from tlsrpt_tui.probe.sts import (
    StsPolicy,
    fetch_policy,
    mx_matches,
    policy_check,
    sts_mx_check,
    sts_record_check,
)
from tlsrpt_tui.probe.tlsrpt_record import tlsrpt_check

DANE_TRUST_NOTE = (
    "DANE senders authenticate this server by its TLSA records and do not need WebPKI trust; "
    "MTA-STS senders do"
)


async def _safe_query(
    client: DnsClient, name: str, rdtype: str, cd: bool = False
) -> DnsAnswer | DnsUnreachable:
    try:
        return await client.query(name, rdtype, cd=cd)
    except DnsUnreachable as exc:
        return exc


# --------------------------------------------------------------------------- MX records


@dataclass(slots=True)
class MxLookup:
    check: Check
    hosts: list[str] = field(default_factory=list)


def mx_records_check(domain: str, answer: DnsAnswer | DnsUnreachable) -> MxLookup:
    if isinstance(answer, DnsUnreachable):
        return MxLookup(
            Check(
                CHECK_MX_RECORDS, domain, "error", f"could not look up MX: {answer}", [str(answer)]
            )
        )
    evidence = [answer.describe()]
    if answer.nxdomain:
        return MxLookup(
            Check(CHECK_MX_RECORDS, domain, "fail", f"{domain} does not exist (NXDOMAIN)", evidence)
        )
    if not answer.noerror:
        return MxLookup(
            Check(
                CHECK_MX_RECORDS,
                domain,
                "fail",
                f"MX lookup failed: {answer.rcode}",
                evidence,
                ("dnssec-invalid",) if answer.servfail else (),
            )
        )
    records = sorted(
        (
            (int(r.preference), r.exchange.to_text(omit_final_dot=True).lower())
            for r in answer.records
        ),
    )
    evidence.extend(f"MX {pref} {host or '.'}" for pref, host in records)
    if not records:
        return MxLookup(
            Check(
                CHECK_MX_RECORDS,
                domain,
                "warn",
                f"no MX records: senders use the address of {domain} itself (implicit MX)",
                evidence,
            ),
            [domain],
        )
    if len(records) == 1 and records[0][1] in ("", "."):
        return MxLookup(
            Check(
                CHECK_MX_RECORDS,
                domain,
                "warn",
                f"null MX: {domain} accepts no mail (RFC 7505)",
                evidence,
            ),
            [],
        )
    hosts: list[str] = []
    for _, host in records:
        if host and host not in hosts:
            hosts.append(host)
    return MxLookup(
        Check(
            CHECK_MX_RECORDS,
            domain,
            "pass",
            f"{len(hosts)} MX host(s): {', '.join(hosts)}"
            + (" (DNSSEC-authenticated)" if answer.ad else ""),
            evidence,
        ),
        hosts,
    )


# --------------------------------------------------------------------------- one MX


@dataclass(slots=True)
class AddressSessions:
    """The sessions with one address of an MX: the verifying one, and the collecting
    one when verification failed."""

    address: str
    first: SmtpSession
    second: SmtpSession | None = None

    @property
    def tls_session(self) -> SmtpSession | None:
        for session in (self.first, self.second):
            if session is not None and session.tls_established:
                return session
        return None

    @property
    def chain(self) -> list[CertInfo]:
        session = self.tls_session
        return session.chain if session else []


@dataclass(slots=True)
class MxData:
    host: str
    addresses: list[str] = field(default_factory=list)
    address_evidence: list[str] = field(default_factory=list)
    address_error: str | None = None
    address_ad: bool | None = None
    #: The name the MX's CNAME chain ends at, when the MX target is an alias.
    expanded: str | None = None
    #: Addresses found but not probed (over ``max_addresses``).
    skipped: list[str] = field(default_factory=list)
    sessions: list[AddressSessions] = field(default_factory=list)
    tlsa: DnsAnswer | DnsUnreachable | None = None
    tlsa_cd: DnsAnswer | DnsUnreachable | None = None
    tlsa_owner: str | None = None
    tlsa_evidence: list[str] = field(default_factory=list)


async def _lookup_tlsa(data: MxData, client: DnsClient) -> None:
    """TLSA as a DANE sender looks it up (RFC 7672 §2.2.2): at the CNAME-expanded MX
    name first, then at the MX name itself when the expanded name has none."""
    owners = [tlsa_name(data.expanded)] if data.expanded else []
    owners.append(tlsa_name(data.host))
    for index, owner in enumerate(owners):
        answer = await _safe_query(client, owner, "TLSA")
        data.tlsa, data.tlsa_owner = answer, owner
        if isinstance(answer, DnsAnswer) and answer.servfail:
            data.tlsa_cd = await _safe_query(client, owner, "TLSA", cd=True)
        last = index == len(owners) - 1
        if last or not (isinstance(answer, DnsAnswer) and not answer.records and answer.ad):
            # Only a secure "no TLSA here" at the expanded name moves on to the MX name.
            break
        data.tlsa_evidence.append(
            f"no TLSA at the CNAME-expanded name {owner}: looking at {owners[-1]}"
        )


async def gather_mx(
    host: str,
    client: DnsClient,
    options: ProbeOptions,
    verify_context: ssl.SSLContext,
) -> MxData:
    data = MxData(host=host)
    if _is_ip(host):
        data.addresses = [host]
        data.address_evidence = [f"{host} is an IP address"]
    else:
        try:
            addresses, data.address_evidence = await client.addresses(host)
        except DnsUnreachable as exc:
            data.address_error = str(exc)
            addresses = []
        limit = max(1, options.max_addresses)
        data.addresses, data.skipped = addresses[:limit], addresses[limit:]
        a_answer = await _safe_query(client, host, "A")
        if isinstance(a_answer, DnsAnswer):
            data.address_ad = a_answer.ad
            if a_answer.cnames:
                data.expanded = a_answer.cnames[-1].rstrip(".").lower()

    async def one_address(address: str) -> AddressSessions:
        first, second = await probe_mx_tls(
            host,
            [address],
            options.smtp_port,
            ca_file=options.ca_file,
            timeout=options.timeout,
            ehlo_name=options.ehlo_name,
            verify_context=verify_context,
        )
        return AddressSessions(address, first, second)

    async def sessions() -> None:
        data.sessions = list(await asyncio.gather(*(one_address(a) for a in data.addresses)))

    if _is_ip(host):
        await sessions()
    else:
        await asyncio.gather(sessions(), _lookup_tlsa(data, client))
    return data


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _trust_store_text(options: ProbeOptions) -> str:
    if options.ca_file:
        return f"CA file {options.ca_file}"
    paths = ssl.get_default_verify_paths()
    return f"system trust store ({paths.cafile or paths.capath or 'OpenSSL default'})"


def _not_checked(host: str, reason: str, address: str | None) -> list[Check]:
    text = f"could not check: {reason}"
    return [
        Check(CHECK_CERT_EXPIRY, host, "error", text, [], ("certificate-expired",), address),
        Check(CHECK_CERT_TRUST, host, "error", text, [], ("certificate-not-trusted",), address),
        Check(CHECK_CERT_NAMES, host, "error", text, [], ("certificate-host-mismatch",), address),
    ]


def mx_checks(data: MxData, options: ProbeOptions, policy: StsPolicy | None) -> list[Check]:
    """The checks of one MX: one set (STARTTLS, certificate, DANE) per address."""
    host = data.host
    evidence = list(data.address_evidence)
    if data.skipped:
        evidence.append(
            f"probing the first {len(data.addresses)} of "
            f"{len(data.addresses) + len(data.skipped)} addresses; not probed: "
            + ", ".join(data.skipped)
        )
    if data.address_error is not None or not data.addresses:
        if data.address_error is not None:
            problem = f"could not resolve {host}"
            first = Check(
                CHECK_STARTTLS,
                host,
                "error",
                f"could not check: could not resolve {host}: {data.address_error}",
                [*evidence, data.address_error],
                ("starttls-not-supported",),
            )
        else:
            problem = f"{host} has no address"
            first = Check(
                CHECK_STARTTLS,
                host,
                "fail",
                f"{host} has no A or AAAA records: senders cannot connect",
                evidence,
            )
        checks = [first, *_not_checked(host, problem, None)]
        checks.extend(_dane_checks(data, options, None, None, problem))
        return checks
    checks = []
    for sessions in data.sessions:
        checks.extend(_address_checks(data, sessions, evidence, options, policy))
    return checks


def _dane_checks(
    data: MxData,
    options: ProbeOptions,
    address: str | None,
    chain: list[CertInfo] | None,
    problem: str | None,
) -> list[Check]:
    host = data.host
    if data.tlsa is None:
        if _is_ip(host):
            return []
        return [
            Check(
                CHECK_DANE,
                host,
                "error",
                "could not check: TLSA not looked up",
                [],
                DANE_TYPES,
                address,
            )
        ]
    names = [host, *([data.expanded] if data.expanded else [])]
    dane = dane_check(
        host,
        data.tlsa,
        data.tlsa_cd,
        chain,
        problem,
        data.address_ad,
        dane_expected=options.dane_expected,
        owner=data.tlsa_owner,
        address=address,
        names=names,
    )
    if data.tlsa_evidence:
        dane = replace(dane, evidence=[*data.tlsa_evidence, *dane.evidence])
    return [dane]


def _address_checks(
    data: MxData,
    sessions: AddressSessions,
    address_evidence: list[str],
    options: ProbeOptions,
    policy: StsPolicy | None,
) -> list[Check]:
    host, address = data.host, sessions.address
    now = datetime.now(UTC)
    checks: list[Check] = []
    session_problem: str | None = None
    first = sessions.first
    evidence = [*address_evidence, *first.log]
    tls = sessions.tls_session
    if sessions.second is not None:
        evidence.append(
            "verification failed; connected again without verification to read the certificate"
        )
        evidence.extend(sessions.second.log)
    at = f" at {address}" if address != host else ""
    if tls is not None:
        checks.append(
            Check(
                CHECK_STARTTLS,
                host,
                "pass",
                f"STARTTLS offered{at}; {tls.tls_version} established ({tls.cipher})",
                evidence,
                ("starttls-not-supported",),
                address,
            )
        )
    else:
        failed = sessions.second if sessions.second is not None else first
        session_problem = failed.failure or "no TLS session"
        kind = failed.failure_kind
        step = failed.failed_step or "?"
        evidence.append(f"failed at step: {step}")
        verdict: Verdict = "fail"
        explains: tuple[str, ...] = ("starttls-not-supported",)
        if kind == "unreachable":
            verdict = "error"
            summary = f"could not check: could not reach {host}{at} ({step}): {failed.failure}"
        elif kind == "no-starttls":
            summary = f"{host}{at} does not offer STARTTLS: {failed.failure}"
        elif kind in ("tls", "verify"):
            summary = f"STARTTLS offered{at} but {failed.failure}"
            explains = ("starttls-not-supported", "validation-failure")
        else:
            summary = f"SMTP session{at} failed ({step}): {failed.failure}"
            explains = ()
        checks.append(Check(CHECK_STARTTLS, host, verdict, summary, evidence, explains, address))

    chain = sessions.chain
    if tls is None or not chain:
        checks.extend(
            _not_checked(host, session_problem or "no certificate was presented", address)
        )
        checks.extend(_dane_checks(data, options, address, None, session_problem))
        return checks
    cert_lines = [
        f"{'leaf' if i == 0 else f'chain[{i}]'}: {info.describe()}" for i, info in enumerate(chain)
    ]
    # -- expiry
    finding = expiry_finding(chain, now)
    checks.append(
        Check(
            CHECK_CERT_EXPIRY,
            host,
            finding.verdict,
            finding.summary,
            finding.evidence,
            ("certificate-expired",),
            address,
        )
    )
    # -- trust
    store = _trust_store_text(options)
    if first.trusted:
        verified = first.verified_chain or chain
        trust_evidence = [f"verified against {store} (validity dates checked separately)"]
        trust_evidence.extend(f"path[{i}]: {info.subject}" for i, info in enumerate(verified))
        checks.append(
            Check(
                CHECK_CERT_TRUST,
                host,
                "pass",
                "the chain verifies against the "
                + ("CA file" if options.ca_file else "system trust store"),
                trust_evidence + cert_lines,
                ("certificate-not-trusted",),
                address,
            )
        )
    else:
        trust_evidence = [f"verification against {store} failed: {first.verify_error}", *cert_lines]
        if chain[0].self_signed:
            trust_evidence.append("the server certificate is self-signed")
        if len(chain) == 1 and not chain[0].self_signed:
            trust_evidence.append(
                "the server sent only its own certificate: is the intermediate missing?"
            )
        checks.append(
            Check(
                CHECK_CERT_TRUST,
                host,
                "fail",
                f"certificate not trusted: {first.verify_error}",
                trust_evidence,
                ("certificate-not-trusted",),
                address,
            )
        )
    # -- names
    checks.append(replace(names_check(host, chain[0], policy), address=address))
    # -- DANE
    dane = _dane_checks(data, options, address, chain, session_problem)
    checks.extend(dane)
    if dane and dane[0].verdict == "pass":
        ee = dane_ee_matches(data.tlsa, chain)
        checks = [_dane_note(c, ee, policy) for c in checks]
    return checks


def _dane_note(check: Check, ee: bool, policy: StsPolicy | None) -> Check:
    """What a DANE match changes for the certificate checks: DANE senders need no
    WebPKI trust; with DANE-EE (3 x x) they ignore names and dates too (RFC 7672
    §3.1.1), so a failure there affects MTA-STS senders (and others that verify)."""
    if check.verdict not in ("fail", "warn"):
        return check
    if check.name == CHECK_CERT_TRUST:
        return replace(check, evidence=[*check.evidence, DANE_TRUST_NOTE])
    if not ee or check.name not in (CHECK_CERT_EXPIRY, CHECK_CERT_NAMES):
        return check
    sts = policy is not None and policy.mode in ("enforce", "testing")
    who = (
        f"MTA-STS senders (mode {policy.mode}) are affected"
        if sts and policy is not None
        else "senders that verify the certificate without DANE are affected (none are "
        "required to: no MTA-STS policy applies)"
    )
    note = (
        f"a DANE-EE (3 x x) TLSA record matches, so DANE senders ignore this "
        f"(RFC 7672 §3.1.1); {who}"
    )
    verdict: Verdict = check.verdict if sts else "warn"
    return replace(
        check,
        verdict=verdict,
        summary=f"{check.summary}; {note}",
        evidence=[*check.evidence, note],
    )


def names_check(host: str, leaf: CertInfo, policy: StsPolicy | None) -> Check:
    names, from_cn = names_for_matching(leaf)
    evidence = [
        ("certificate CN (no DNS names in subjectAltName): " if from_cn else "certificate names: ")
        + (", ".join(names) or "(none)")
    ]
    matching = [n for n in names if name_matches(n, host)]
    if policy is not None and policy.mode in ("enforce", "testing"):
        patterns = [p for p in policy.mx if mx_matches(p, host)]
        if patterns:
            evidence.append(f"MX {host} matches MTA-STS pattern(s) {', '.join(patterns)}")
        else:
            evidence.append(
                f"MX {host} matches none of the MTA-STS patterns {', '.join(policy.mx)}"
            )
        covered = [
            p
            for p in policy.mx
            if any(name_matches(n, p.replace("*", "x", 1)) or n.lower() == p for n in names)
        ]
        if covered:
            evidence.append(f"certificate names cover policy pattern(s) {', '.join(covered)}")
    if not matching:
        return Check(
            CHECK_CERT_NAMES,
            host,
            "fail",
            f"certificate names ({', '.join(names) or 'none'}) do not cover {host}",
            evidence,
            ("certificate-host-mismatch",),
        )
    evidence.append(f"{host} matches certificate name {matching[0]}")
    if from_cn:
        return Check(
            CHECK_CERT_NAMES,
            host,
            "warn",
            f"{host} is only in the certificate's CN; senders that follow RFC 6125 need it "
            "in subjectAltName",
            evidence,
            ("certificate-host-mismatch",),
        )
    return Check(
        CHECK_CERT_NAMES,
        host,
        "pass",
        f"the certificate covers {host}",
        evidence,
        ("certificate-host-mismatch",),
    )


def mx_policy_check(domain: str, policy: StsPolicy, lookup: MxLookup, given: list[str]) -> Check:
    """``mta-sts-mx``; when the MX lookup got no answer (and no --mx was given) there is
    nothing to compare: "could not check", not a warning about no MX hosts."""
    if lookup.check.verdict == "error" and not given and policy.mode != "none":
        return Check(
            CHECK_STS_MX,
            domain,
            "error",
            f"could not check the MX hosts against the policy: {lookup.check.summary}",
            [f"policy mx patterns: {', '.join(policy.mx) or '(none)'}"],
            ("validation-failure",),
        )
    return sts_mx_check(domain, policy, lookup.hosts, given)


def cname_warning(check: Check, aliases: list[tuple[str, str]]) -> Check:
    """An MX target that is a CNAME: RFC 2181 §10.3 and RFC 5321 §5.1 say the MX names
    a host with address records, not an alias; many senders cope, some do not."""
    shown = ", ".join(f"{host} -> {target}" for host, target in aliases)
    note = (
        f"MX target is a CNAME ({shown}): an MX must name a host with A/AAAA records, "
        "not an alias (RFC 2181 §10.3, RFC 5321 §5.1); DANE senders look for TLSA at "
        "the expanded name first (RFC 7672 §2.2.2)"
    )
    verdict: Verdict = "warn" if check.verdict in ("pass", "info") else check.verdict
    summary = f"{check.summary}; {note}"
    return replace(check, verdict=verdict, summary=summary, evidence=[*check.evidence, note])


# --------------------------------------------------------------------------- the run


async def run_probe(
    domain: str,
    mx_hosts: Iterable[str] = (),
    options: ProbeOptions | None = None,
) -> ProbeResult:
    """Probe ``domain`` (and its MX hosts, or only ``mx_hosts`` when given)."""
    options = options or ProbeOptions()
    options.validate()
    domain = normalise_host(domain, "domain")
    given = []
    for host in mx_hosts:
        normal = normalise_host(host, "MX host")
        if normal not in given:
            given.append(normal)
    started = datetime.now(UTC)
    nameservers = (
        [parse_resolver(options.resolver)] if options.resolver is not None else system_nameservers()
    )
    client = DnsClient(nameservers, options.timeout)
    try:
        verify_context = make_verify_context(options.ca_file)
        https_context = (
            ssl.create_default_context(cafile=options.ca_file)
            if options.ca_file
            else ssl.create_default_context()
        )
    except (ssl.SSLError, OSError) as exc:
        raise ProbeUsageError(f"cannot load CA file {options.ca_file!r}: {exc}") from None

    semaphore = asyncio.Semaphore(max(1, options.concurrency))

    async def limited(host: str) -> MxData:
        async with semaphore:
            return await gather_mx(host, client, options, verify_context)

    async def mx_phase() -> tuple[MxLookup, list[str], list[MxData]]:
        lookup = mx_records_check(domain, await _safe_query(client, domain, "MX"))
        hosts = given or lookup.hosts[: max(0, options.max_mx)]
        data = await asyncio.gather(*(limited(h) for h in hosts))
        return lookup, hosts, list(data)

    tlsrpt_answer, sts_answer, fetch, (lookup, hosts, mx_data) = await asyncio.gather(
        _safe_query(client, f"_smtp._tls.{domain}", "TXT"),
        _safe_query(client, f"_mta-sts.{domain}", "TXT"),
        fetch_policy(domain, client, https_context, options.https_port, options.timeout),
        mx_phase(),
    )
    checks: list[Check] = [tlsrpt_check(domain, tlsrpt_answer)]
    mx_check = lookup.check
    if given:
        extra = [h for h in given if h not in lookup.hosts]
        notes = [f"probing the given host(s): {', '.join(given)}"]
        if extra:
            notes.append(f"not an MX of {domain} in DNS: {', '.join(extra)}")
        mx_check = Check(
            mx_check.name,
            mx_check.target,
            mx_check.verdict,
            mx_check.summary,
            [*mx_check.evidence, *notes],
            mx_check.explains,
        )
    elif len(lookup.hosts) > len(hosts):
        mx_check.evidence.append(f"probing the first {len(hosts)} of {len(lookup.hosts)} MX hosts")
    checks.append(mx_check)
    aliases = [(d.host, d.expanded) for d in mx_data if d.expanded]
    if aliases:
        mx_check = cname_warning(mx_check, aliases)
        checks[-1] = mx_check
    sts_check, record = sts_record_check(domain, sts_answer)
    checks.append(sts_check)
    policy_result, policy = policy_check(domain, fetch, record)
    checks.append(policy_result)
    if policy is not None:
        checks.append(mx_policy_check(domain, policy, lookup, given))
    applied_policy = policy if record != "absent" else None
    for data in mx_data:
        checks.extend(mx_checks(data, options, applied_policy))
    return ProbeResult(
        domain=domain,
        started=started,
        finished=datetime.now(UTC),
        checks=tuple(checks),
        mx_hosts=tuple(hosts),
    )


def run_probe_sync(
    domain: str,
    mx_hosts: Iterable[str] = (),
    options: ProbeOptions | None = None,
) -> ProbeResult:
    """Blocking :func:`run_probe`: for threads and scripts.

    Called from a thread that already runs an event loop, it runs the probe on a
    helper thread rather than failing.
    """
    hosts = tuple(mx_hosts)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run_probe(domain, hosts, options))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run_probe(domain, hosts, options)).result()
