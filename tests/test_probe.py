"""The live probe against real servers on 127.0.0.1 (see tests/probe_servers.py).

A dnspython authoritative server serves a DNSSEC-signed test zone; Debian's unbound
validates it (AD flag, SERVFAIL on a broken signature); aiosmtpd servers present
certificates from a test CA (valid, expired, expiring, wrong name, self-signed) or
no STARTTLS at all; aiohttp serves MTA-STS policies over HTTPS. Nothing leaves
loopback: every probe is given ``--resolver`` on 127.0.0.1 and all test names
resolve to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from probe_lab import INSECURE_ZONE, Lab, fqdn

from tlsrpt_tui.cli import main
from tlsrpt_tui.core.model import RFC_RESULT_TYPES
from tlsrpt_tui.probe import (
    PER_MX_CHECKS,
    Check,
    ProbeCache,
    ProbeOptions,
    ProbeResult,
    ProbeUsageError,
    run_probe,
    run_probe_sync,
    to_json,
    to_text,
)
from tlsrpt_tui.probe.dns import DnsClient, parse_resolver

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # newline allowed between lines
TIMEOUT = 2.0


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("probe-lab"))
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def validating_resolver(lab: Lab) -> str:
    """unbound on loopback, validating the test zone; skip (locally) or fail (CI) without it."""
    try:
        return lab.start_unbound()
    except FileNotFoundError:
        message = (
            "the Debian package 'unbound' is needed for the DNSSEC probe tests "
            "(listed in .ci/apt-packages-probe.txt)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def options(
    lab: Lab,
    *,
    smtp: str = "valid",
    https: str = "valid",
    resolver: str | None = None,
    ca: bool = True,
    timeout: float = TIMEOUT,
) -> ProbeOptions:
    return ProbeOptions(
        resolver=resolver or lab.auth_resolver,
        smtp_port=lab.smtp[smtp],
        https_port=lab.https[https],
        ca_file=str(lab.pki.ca_file) if ca else None,
        timeout=timeout,
    )


async def probe(lab: Lab, label: str, mx: tuple[str, ...] = (), **kwargs: Any) -> ProbeResult:
    domain = label if "." in label else fqdn(label)
    return await run_probe(domain, mx, options(lab, **kwargs))


def check(result: ProbeResult, name: str, target: str | None = None) -> Check:
    found = [c for c in result.checks if c.name == name and (target is None or c.target == target)]
    assert len(found) == 1, f"{name} {target}: {[c.to_dict() for c in result.checks]}"
    return found[0]


def verdicts(result: ProbeResult) -> dict[str, str]:
    return {c.name: c.verdict for c in result.checks}


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


# --------------------------------------------------------------------------- clean setups


async def test_clean_domain_passes(lab: Lab) -> None:
    result = await probe(lab, "plain")
    assert verdicts(result) == {
        "tlsrpt-record": "pass",
        "mx-records": "pass",
        "mta-sts-record": "pass",
        "mta-sts-policy": "pass",
        "mta-sts-mx": "pass",
        "smtp-starttls": "pass",
        "certificate-expiry": "pass",
        "certificate-trust": "pass",
        "certificate-names": "pass",
        "dane-tlsa": "info",  # no TLSA, unvalidated answer: DANE not in use
    }
    assert result.ok
    assert result.mx_hosts == (f"mx.{fqdn('plain')}",)
    assert check(result, "dane-tlsa").explains == ("dane-required",)
    assert "DANE not in use" in check(result, "dane-tlsa").summary
    assert result.exit_status == 0
    # the policy was really fetched from the HTTPS server under its own name
    assert f"mta-sts.{fqdn('plain')}" in lab.sites["valid"].hits
    starttls = check(result, "smtp-starttls")
    assert any("STARTTLS" in line for line in starttls.evidence)
    assert result.started <= result.finished


async def test_clean_dane_domain_passes_with_validating_resolver(
    lab: Lab, validating_resolver: str
) -> None:
    result = await probe(lab, "good", resolver=validating_resolver)
    assert all(c.verdict == "pass" for c in result.checks), to_text(result, verbose=True)
    dane = check(result, "dane-tlsa")
    assert "AD=1" in dane.evidence[0]
    assert any("DANE-EE" in line and "matches" in line for line in dane.evidence)
    assert set(dane.explains) == {"tlsa-invalid", "dnssec-invalid", "validation-failure"}
    assert "(DNSSEC-authenticated)" in check(result, "mx-records").summary


async def test_dane_match_notes_that_webpki_trust_is_not_needed(
    lab: Lab, validating_resolver: str
) -> None:
    result = await probe(lab, "good", resolver=validating_resolver, ca=False)
    assert check(result, "dane-tlsa").verdict == "pass"
    trust = check(result, "certificate-trust")
    assert trust.verdict == "fail"
    assert any("do not need WebPKI trust" in line for line in trust.evidence)
    mx = f"mx.{fqdn('good')}"
    assert {c.name for c in result.for_target(mx)} == set(PER_MX_CHECKS)
    assert {c.target for c in result.domain_checks()}.isdisjoint({mx})


async def test_dane_ta_record_matches_the_ca_in_the_chain(
    lab: Lab, validating_resolver: str
) -> None:
    result = await probe(lab, "ta", resolver=validating_resolver)
    dane = check(result, "dane-tlsa")
    assert dane.verdict == "pass", dane
    assert any("trust anchor chain[1] matches" in line for line in dane.evidence)


# --------------------------------------------------------------------------- certificates


async def test_certificate_expired(lab: Lab) -> None:
    result = await probe(lab, "expired", smtp="expired")
    expiry = check(result, "certificate-expiry")
    assert expiry.verdict == "fail"
    assert expiry.explains == ("certificate-expired",)
    assert "expired 2.0 days ago" in expiry.summary
    # expiry is told apart from trust: the chain itself is from the trusted CA
    assert check(result, "certificate-trust").verdict == "pass"
    assert result.explaining("certificate-expired") == [expiry]
    assert not result.ok


async def test_certificate_expiring_soon_warns(lab: Lab) -> None:
    result = await probe(lab, "soon", smtp="soon")
    expiry = check(result, "certificate-expiry")
    assert expiry.verdict == "warn"
    assert "expires in" in expiry.summary
    assert result.ok  # a warning is not a failure


async def test_certificate_host_mismatch(lab: Lab) -> None:
    result = await probe(lab, "wronghost", smtp="wronghost")
    names = check(result, "certificate-names")
    assert names.verdict == "fail"
    assert names.explains == ("certificate-host-mismatch",)
    assert fqdn("other") in names.summary
    assert check(result, "certificate-trust").verdict == "pass"


async def test_certificate_self_signed_is_not_trusted(lab: Lab) -> None:
    result = await probe(lab, "selfsigned", smtp="selfsigned")
    trust = check(result, "certificate-trust")
    assert trust.verdict == "fail"
    assert trust.explains == ("certificate-not-trusted",)
    assert "self-signed" in trust.summary
    # a second, non-verifying session still read the certificate for the other checks
    starttls = check(result, "smtp-starttls")
    assert starttls.verdict == "pass"
    assert any("connected again without verification" in line for line in starttls.evidence)
    assert check(result, "certificate-names").verdict == "pass"
    assert check(result, "certificate-expiry").verdict == "pass"


async def test_test_ca_is_not_in_the_system_trust_store(lab: Lab) -> None:
    result = await probe(lab, "plain", ca=False)
    trust = check(result, "certificate-trust")
    assert trust.verdict == "fail"
    assert "self-signed certificate in certificate chain" in trust.summary
    # and the policy host is then not WebPKI-valid either
    assert check(result, "mta-sts-policy").explains == ("sts-webpki-invalid",)


async def test_starttls_not_supported(lab: Lab) -> None:
    result = await probe(lab, "nostarttls", smtp="nostarttls")
    starttls = check(result, "smtp-starttls")
    assert starttls.verdict == "fail"
    assert starttls.explains == ("starttls-not-supported",)
    assert "does not offer STARTTLS" in starttls.summary
    assert any("EHLO keywords" in line for line in starttls.evidence)
    for name in ("certificate-expiry", "certificate-trust", "certificate-names"):
        assert check(result, name).verdict == "error"
        assert "could not check" in check(result, name).summary
    assert result.exit_status == 1  # a fail wins over the errors it causes


async def test_silent_server_times_out_at_the_banner(lab: Lab) -> None:
    started = time.monotonic()
    result = await probe(lab, "silent", smtp="silent", timeout=0.5)
    assert time.monotonic() - started < 5
    starttls = check(result, "smtp-starttls")
    assert starttls.verdict == "error"
    assert "banner" in starttls.summary
    assert "0.5s" in starttls.summary
    assert not result.ok


async def test_closed_smtp_port_says_connect_failed(lab: Lab) -> None:
    result = await run_probe(
        fqdn("plain"),
        options=ProbeOptions(
            resolver=lab.auth_resolver,
            smtp_port=closed_port(),
            https_port=lab.https["valid"],
            ca_file=str(lab.pki.ca_file),
            timeout=TIMEOUT,
        ),
    )
    starttls = check(result, "smtp-starttls")
    assert starttls.verdict == "error"
    assert "connect" in starttls.summary
    assert "refused" in starttls.summary.lower()


# --------------------------------------------------------------------------- MTA-STS


async def test_sts_policy_404_is_a_fetch_error(lab: Lab) -> None:
    result = await probe(lab, "sts404")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-policy-fetch-error",)
    assert "HTTP 404" in policy.summary


async def test_sts_policy_host_without_address_is_a_fetch_error(lab: Lab) -> None:
    result = await probe(lab, "stsnohost")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-policy-fetch-error",)
    assert "cannot resolve" in policy.summary


async def test_sts_policy_redirect_is_not_followed(lab: Lab) -> None:
    result = await probe(lab, "stsredirect")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-policy-fetch-error",)
    assert "redirect" in policy.summary


async def test_sts_policy_host_unreachable(lab: Lab) -> None:
    result = await run_probe(
        fqdn("plain"),
        options=ProbeOptions(
            resolver=lab.auth_resolver,
            smtp_port=lab.smtp["valid"],
            https_port=closed_port(),
            ca_file=str(lab.pki.ca_file),
            timeout=TIMEOUT,
        ),
    )
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-policy-fetch-error",)
    assert "cannot connect" in policy.summary


async def test_sts_webpki_invalid_untrusted_certificate(lab: Lab) -> None:
    result = await probe(lab, "stsuntrusted", https="untrusted")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-webpki-invalid",)
    assert "self-signed" in policy.summary


async def test_sts_webpki_invalid_wrong_name(lab: Lab) -> None:
    result = await probe(lab, "stswronghost")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-webpki-invalid",)
    assert "mismatch" in policy.summary.lower()


async def test_sts_policy_invalid_mode(lab: Lab) -> None:
    result = await probe(lab, "stsinvalid")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-policy-invalid",)
    assert "'enforcing'" in policy.summary
    assert any("line endings: LF" in line for line in policy.evidence)
    assert all(c.name != "mta-sts-mx" for c in result.checks)


async def test_sts_policy_with_bom_is_invalid(lab: Lab) -> None:
    result = await probe(lab, "stsbom")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail"
    assert policy.explains == ("sts-policy-invalid",)
    assert "byte-order mark" in policy.summary


async def test_sts_mx_not_in_policy(lab: Lab) -> None:
    result = await probe(lab, "stsmismatch", smtp="valid")
    sts_mx = check(result, "mta-sts-mx")
    assert sts_mx.verdict == "fail"
    assert "validation-failure" in sts_mx.explains
    assert f"mx.{fqdn('stsmismatch')}" in sts_mx.summary
    names = check(result, "certificate-names")
    assert any("matches none of the MTA-STS patterns" in line for line in names.evidence)


async def test_no_sts_record_is_only_a_warning(lab: Lab) -> None:
    result = await probe(lab, "expired", smtp="valid")
    assert check(result, "mta-sts-record").verdict == "warn"
    assert check(result, "mta-sts-policy").verdict == "pass"


# --------------------------------------------------------------------------- TLS-RPT record


async def test_tlsrpt_record_of_several_strings_is_joined(lab: Lab) -> None:
    record = check(await probe(lab, "tlsrptmulti"), "tlsrpt-record")
    assert record.verdict == "pass", record
    assert any("2 strings, joined" in line for line in record.evidence)
    assert any("discarded TXT 'some-other=record'" in line for line in record.evidence)


async def test_two_tlsrpt_records_fail(lab: Lab) -> None:
    record = check(await probe(lab, "tlsrpttwo"), "tlsrpt-record")
    assert record.verdict == "fail"
    assert "2 TLS-RPT records" in record.summary


async def test_tlsrpt_unencoded_comma_fails(lab: Lab) -> None:
    record = check(await probe(lab, "tlsrptbad"), "tlsrpt-record")
    assert record.verdict == "fail"
    assert "%2C" in record.summary


async def test_missing_tlsrpt_record_fails(lab: Lab) -> None:
    record = check(await probe(lab, "tlsrptnone"), "tlsrpt-record")
    assert record.verdict == "fail"
    assert "no TLS-RPT record" in record.summary


async def test_control_characters_from_the_network_are_escaped(lab: Lab) -> None:
    result = await probe(lab, "ctl")
    record = check(result, "tlsrpt-record")
    assert record.verdict == "fail"
    text = to_text(result, verbose=True)
    assert "\\x1b" in text
    assert not CONTROL.search(text)
    for c in result.checks:
        for value in (c.summary, c.target, *c.evidence):
            assert not CONTROL.search(value), value
    assert not CONTROL.search(to_json(result))


# --------------------------------------------------------------------------- DANE / DNSSEC


async def test_tlsa_mismatch_is_tlsa_invalid(lab: Lab, validating_resolver: str) -> None:
    dane = check(await probe(lab, "tlsabad", resolver=validating_resolver), "dane-tlsa")
    assert dane.verdict == "fail"
    assert dane.explains == ("tlsa-invalid", "validation-failure")
    assert any("does not match the server certificate" in line for line in dane.evidence)


async def test_tlsa_pkix_usage_is_unusable_for_smtp(lab: Lab, validating_resolver: str) -> None:
    dane = check(await probe(lab, "tlsapkix", resolver=validating_resolver), "dane-tlsa")
    assert dane.verdict == "warn"
    assert dane.explains == ("tlsa-invalid",)
    assert any("PKIX-EE" in line and "unusable" in line for line in dane.evidence)


async def test_bogus_signature_is_dnssec_invalid(lab: Lab, validating_resolver: str) -> None:
    result = await probe(lab, "badsig", resolver=validating_resolver)
    dane = check(result, "dane-tlsa")
    assert dane.verdict == "fail"
    assert "dnssec-invalid" in dane.explains
    assert "SERVFAIL" in dane.summary
    assert "bogus" in dane.summary  # the CD=1 retry got the records
    assert any("CD=1" in line for line in dane.evidence)
    assert "extended DNS error 6 (DNSSEC BOGUS)" in dane.evidence[0]  # unbound's RFC 8914 text
    # the rest of the signed zone still validates
    assert check(result, "mx-records").verdict == "pass"
    assert result.explaining("dnssec-invalid") == [dane]


async def test_unsigned_tlsa_is_not_authenticated(lab: Lab, validating_resolver: str) -> None:
    result = await probe(lab, INSECURE_ZONE, resolver=validating_resolver)
    dane = check(result, "dane-tlsa")
    assert dane.verdict == "warn"
    assert "AD=0" in dane.summary
    assert "dnssec-invalid" in dane.explains


async def test_non_validating_resolver_gives_no_ad(lab: Lab) -> None:
    # the authoritative server itself, asked as a resolver, never sets AD
    dane = check(await probe(lab, "good"), "dane-tlsa")
    assert dane.verdict == "warn"
    assert any("validating resolver" in line for line in dane.evidence)


async def test_every_result_type_is_provoked(lab: Lab, validating_resolver: str) -> None:
    """Across the lab's scenarios, every RFC 8460 result-type is explained by some finding."""
    scenarios: list[tuple[str, dict[str, Any]]] = [
        ("expired", {"smtp": "expired"}),
        ("wronghost", {"smtp": "wronghost"}),
        ("selfsigned", {"smtp": "selfsigned"}),
        ("nostarttls", {"smtp": "nostarttls"}),
        ("sts404", {}),
        ("stsinvalid", {}),
        ("stsuntrusted", {"https": "untrusted"}),
        ("stsmismatch", {}),
        ("tlsabad", {"resolver": validating_resolver}),
        ("badsig", {"resolver": validating_resolver}),
        ("plain", {"resolver": validating_resolver}),
    ]
    results = await asyncio.gather(*(probe(lab, label, **kw) for label, kw in scenarios))
    explained = {
        t for r in results for c in r.checks if c.verdict in ("fail", "warn") for t in c.explains
    }
    assert explained == set(RFC_RESULT_TYPES)


async def test_cname_is_followed(lab: Lab, validating_resolver: str) -> None:
    for resolver in (lab.auth_resolver, validating_resolver):
        client = DnsClient([parse_resolver(resolver)], TIMEOUT)
        addresses, evidence = await client.addresses(f"mx.{fqdn('cname')}")
        assert addresses == ["127.0.0.1"]
        assert "via CNAME" in evidence[0]


# --------------------------------------------------------------------------- MX selection


async def test_given_mx_is_probed_instead_of_dns(lab: Lab) -> None:
    extra = f"mx.{fqdn('good')}"
    result = await probe(lab, "plain", mx=(extra,))
    assert result.mx_hosts == (extra,)
    assert {c.target for c in result.checks if c.name == "smtp-starttls"} == {extra}
    mx = check(result, "mx-records")
    assert any(f"not an MX of {fqdn('plain')}" in line for line in mx.evidence)
    sts_mx = check(result, "mta-sts-mx")
    assert sts_mx.verdict == "fail"  # the given host is not in plain's policy


async def test_null_mx_and_implicit_mx(lab: Lab) -> None:
    null = await probe(lab, "nullmx")
    assert check(null, "mx-records").verdict == "warn"
    assert "null MX" in check(null, "mx-records").summary
    assert null.mx_hosts == ()
    implicit = await probe(lab, "nomx", smtp="nostarttls")
    assert "implicit MX" in check(implicit, "mx-records").summary
    assert implicit.mx_hosts == (fqdn("nomx"),)
    assert check(implicit, "smtp-starttls").verdict == "fail"


async def test_unknown_domain(lab: Lab) -> None:
    result = await probe(lab, "nowhere")
    assert check(result, "mx-records").verdict == "fail"
    assert "NXDOMAIN" in check(result, "mx-records").summary
    assert check(result, "tlsrpt-record").verdict == "fail"


async def test_dns_resolver_unreachable(lab: Lab) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        result = await run_probe(
            fqdn("plain"),
            options=ProbeOptions(
                resolver=f"127.0.0.1:{silent.getsockname()[1]}",
                https_port=lab.https["valid"],
                timeout=0.6,
            ),
        )
        assert time.monotonic() - started < 5
    finally:
        silent.close()
    for name in ("tlsrpt-record", "mx-records", "mta-sts-record"):
        assert check(result, name).verdict == "error"
        assert "no answer" in check(result, name).summary
    # The _mta-sts lookup failed: nothing is known about a policy. Not "pass".
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "error", policy
    assert "could not check" in policy.summary
    assert "no MTA-STS policy published" not in to_text(result)
    assert {c.verdict for c in result.checks} == {"error"}
    assert not result.ok
    assert result.exit_status == 3
    assert to_text(result).rstrip().splitlines()[-1] == "COULD NOT CHECK: 4 could not check"


# --------------------------------------------------------------------------- API: sync, cache


async def test_sync_wrapper_inside_a_running_loop(lab: Lab) -> None:
    result = run_probe_sync(fqdn("plain"), (), options(lab))
    assert result.ok


def test_sync_wrapper_and_cache(lab: Lab) -> None:
    now = [1000.0]
    cache = ProbeCache(ttl=300, clock=lambda: now[0])
    opts = options(lab)
    first = cache.probe_sync(fqdn("plain"), (), opts)
    assert not first.from_cache
    assert first.stored_at == first.result.finished
    second = cache.probe_sync(fqdn("PLAIN") + ".", (), opts)
    assert second.from_cache and second.result is first.result
    assert "probed" in second.describe_age()
    now[0] += 301
    third = cache.probe_sync(fqdn("plain"), (), opts)
    assert not third.from_cache and third.result is not first.result
    forced = cache.probe_sync(fqdn("plain"), (), opts, refresh=True)
    assert not forced.from_cache
    cache.invalidate(fqdn("plain"))
    assert len(cache) == 0


async def test_async_cache_keys_on_mx_and_options(lab: Lab) -> None:
    cache = ProbeCache()
    a = await cache.probe(fqdn("plain"), (), options(lab))
    b = await cache.probe(fqdn("plain"), (f"mx.{fqdn('plain')}",), options(lab))
    c = await cache.probe(fqdn("plain"), (), options(lab))
    assert not a.from_cache and not b.from_cache and c.from_cache
    assert len(cache) == 2


async def test_usage_errors_raise(lab: Lab) -> None:
    for bad in ("", "not a domain", "1.2.3.4", "localhost"):
        with pytest.raises(ProbeUsageError):
            await run_probe(bad, options=options(lab))
    with pytest.raises(ProbeUsageError):
        await run_probe(fqdn("plain"), options=ProbeOptions(resolver="dns.example"))
    with pytest.raises(ProbeUsageError):
        await run_probe(fqdn("plain"), options=ProbeOptions(ca_file="/nonexistent/ca.pem"))
    with pytest.raises(ProbeUsageError):  # no SMTP command injection through EHLO
        await run_probe(fqdn("plain"), options=ProbeOptions(ehlo_name="x\r\nQUIT"))


# --------------------------------------------------------------------------- command


def cli_args(lab: Lab, *extra: str, smtp: str = "valid") -> list[str]:
    return [
        "--resolver",
        lab.auth_resolver,
        "--smtp-port",
        str(lab.smtp[smtp]),
        "--https-port",
        str(lab.https["valid"]),
        "--ca-file",
        str(lab.pki.ca_file),
        "--timeout",
        str(TIMEOUT),
        *extra,
    ]


def test_command_json_clean(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["probe", fqdn("plain"), *cli_args(lab, "--format", "json")])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["domain"] == fqdn("plain")
    assert data["ok"] is True
    assert set(data) >= {"domain", "started", "finished", "checks", "ok"}
    first = data["checks"][0]
    assert set(first) == {
        "name",
        "target",
        "verdict",
        "summary",
        "evidence",
        "explains",
        "address",
    }
    assert first["address"] is None  # a domain-wide check
    starttls = [c for c in data["checks"] if c["name"] == "smtp-starttls"]
    assert [c["address"] for c in starttls] == ["127.0.0.1"]
    assert data["exit-status"] == 0
    assert data["counts"] == {"pass": 9, "info": 1, "warn": 0, "fail": 0, "error": 0}
    assert data["started"].endswith("+00:00")


def test_command_text_failure_exit_1(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["probe", fqdn("expired"), *cli_args(lab, "--mx", f"mx.{fqdn('expired')}", smtp="expired")]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL   certificate-expiry" in out
    assert "explains: certificate-expired" in out
    assert f"MX mx.{fqdn('expired')}" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED: 1 failed")


@pytest.mark.parametrize(
    "argv",
    [
        ["probe"],
        ["probe", "example.com", "--format", "xml"],
        ["probe", "example.com", "--smtp-port", "0"],
        ["probe", "example.com", "--timeout", "-1"],
    ],
)
def test_command_argparse_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["probe", "not a domain!"],
        ["probe", "example.com", "--resolver", "resolver.example:53"],
        ["probe", "example.com", "--resolver", "127.0.0.1:99999"],
        ["probe", "example.com", "--ca-file", "/nonexistent.pem", "--resolver", "127.0.0.1"],
    ],
)
def test_command_value_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "tlsrpt-tui probe:" in capsys.readouterr().err


def test_probe_package_does_not_import_textual() -> None:
    code = (
        "import sys, tlsrpt_tui.probe, tlsrpt_tui.commands.probe; print('textual' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- issue 18


def refused_udp_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


async def test_refused_resolver_is_reported_at_once(lab: Lab) -> None:
    # Nothing listens on the resolver's port: the kernel answers ECONNREFUSED at once.
    # Before: every query waited its full timeout (8 s per domain, 16 s with an MX).
    started = time.monotonic()
    result = await run_probe(
        fqdn("plain"),
        (f"mx.{fqdn('plain')}",),
        ProbeOptions(
            resolver=f"127.0.0.1:{refused_udp_port()}",
            https_port=lab.https["valid"],
            smtp_port=lab.smtp["valid"],
            timeout=8,
        ),
    )
    assert time.monotonic() - started < 2
    assert {c.verdict for c in result.checks} == {"error"}, to_text(result)
    assert "Connection refused" in check(result, "mx-records").summary
    # what could not be looked up is "could not check", never "pass"
    assert "could not check" in check(result, "mta-sts-policy").summary
    assert "could not check" in check(result, "smtp-starttls").summary
    assert result.exit_status == 3


def test_command_exit_3_when_nothing_could_be_checked(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "probe",
            fqdn("plain"),
            "--resolver",
            f"127.0.0.1:{refused_udp_port()}",
            "--https-port",
            str(lab.https["valid"]),
        ]
    )
    out = capsys.readouterr().out
    assert status == 3
    assert "PASS" not in out
    assert out.rstrip().splitlines()[-1].startswith("COULD NOT CHECK: 4 could not check")


def test_command_help_states_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["probe", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "0 no check failed and none could not be checked" in out
    assert "1 at least one check failed" in out
    assert "2 usage error" in out
    assert "3 no check failed but at least one could not be checked" in out


async def test_refused_smtp_and_https_ports_are_reported_at_once(lab: Lab) -> None:
    started = time.monotonic()
    result = await run_probe(
        fqdn("plain"),
        options=ProbeOptions(
            resolver=lab.auth_resolver,
            smtp_port=closed_port(),
            https_port=closed_port(),
            ca_file=str(lab.pki.ca_file),
            timeout=8,
        ),
    )
    assert time.monotonic() - started < 2
    starttls = check(result, "smtp-starttls")
    assert starttls.verdict == "error"
    assert "Connection refused" in starttls.summary
    assert check(result, "mta-sts-policy").verdict == "fail"  # published, not reachable


async def test_every_address_of_an_mx_is_tested(lab: Lab) -> None:
    # STARTTLS on 127.0.0.1, none on ::1: senders preferring IPv6 report
    # starttls-not-supported, so the MX fails although its IPv4 address passes.
    result = await probe(lab, "dual", smtp="dual")
    mx = f"mx.{fqdn('dual')}"
    starttls = {c.address: c for c in result.checks if c.name == "smtp-starttls"}
    assert set(starttls) == {"127.0.0.1", "::1"}
    assert starttls["127.0.0.1"].verdict == "pass"
    assert starttls["::1"].verdict == "fail"
    assert "at ::1 does not offer STARTTLS" in starttls["::1"].summary
    assert starttls["::1"].explains == ("starttls-not-supported",)
    for name in ("certificate-expiry", "certificate-trust", "certificate-names"):
        by_address = {c.address: c.verdict for c in result.checks if c.name == name}
        assert by_address == {"127.0.0.1": "pass", "::1": "error"}
    assert result.exit_status == 1
    assert all(c.target == mx for c in result.for_target(mx))
    text = to_text(result)
    assert f"MX {mx} at 127.0.0.1" in text and f"MX {mx} at ::1" in text
    data = json.loads(to_json(result))
    assert {c["address"] for c in data["checks"] if c["name"] == "smtp-starttls"} == {
        "127.0.0.1",
        "::1",
    }


async def test_addresses_are_bounded(lab: Lab) -> None:
    opts = ProbeOptions(
        resolver=lab.auth_resolver,
        smtp_port=lab.smtp["dual"],
        https_port=lab.https["valid"],
        ca_file=str(lab.pki.ca_file),
        timeout=TIMEOUT,
        max_addresses=1,
    )
    result = await run_probe(fqdn("dual"), (), opts)
    starttls = [c for c in result.checks if c.name == "smtp-starttls"]
    assert [c.address for c in starttls] == ["127.0.0.1"]
    assert any("not probed: ::1" in line for line in starttls[0].evidence)


async def test_policy_content_type_other_than_text_plain_fails(lab: Lab) -> None:
    result = await probe(lab, "stshtml")
    policy = check(result, "mta-sts-policy")
    assert policy.verdict == "fail", policy
    assert "text/html" in policy.summary and "not text/plain" in policy.summary
    assert "RFC 8461 §3.2" in policy.summary
    assert set(policy.explains) == {"sts-policy-invalid", "sts-policy-fetch-error"}
    # the policy was still read: its mx patterns are compared
    assert check(result, "mta-sts-mx").verdict == "pass"
    # a charset parameter is fine
    assert check(await probe(lab, "stsbom"), "mta-sts-policy").summary.startswith("invalid")


async def test_cname_mx_warns_and_tlsa_is_looked_up_at_the_expanded_name(
    lab: Lab, validating_resolver: str
) -> None:
    result = await probe(lab, "aliasmx", resolver=validating_resolver)
    mx = check(result, "mx-records")
    assert mx.verdict == "warn"
    assert f"mx.{fqdn('aliasmx')} -> mx.{fqdn('good')}" in mx.summary
    assert "RFC 2181 §10.3" in mx.summary and "RFC 5321 §5.1" in mx.summary
    dane = check(result, "dane-tlsa")
    # the TLSA record exists only at the expanded name _25._tcp.mx.good.lab.example
    assert dane.verdict == "pass", dane
    assert f"TLSA _25._tcp.mx.{fqdn('good')}" in dane.evidence[0]
    assert check(result, "certificate-names").verdict == "pass"


async def test_dane_ee_match_says_who_the_expiry_and_name_failures_affect(
    lab: Lab, validating_resolver: str
) -> None:
    # no MTA-STS: only senders that verify without DANE would mind -> warn, with the reason
    plain = await probe(lab, "eestale", smtp="eestale", resolver=validating_resolver)
    assert check(plain, "dane-tlsa").verdict == "pass"
    for name in ("certificate-expiry", "certificate-names"):
        found = check(plain, name)
        assert found.verdict == "warn", found
        assert "DANE senders ignore this (RFC 7672 §3.1.1)" in found.summary
    # with MTA-STS enforce the failures stay failures, naming the senders affected
    sts = await probe(lab, "eestalests", smtp="eestale", resolver=validating_resolver)
    for name in ("certificate-expiry", "certificate-names"):
        found = check(sts, name)
        assert found.verdict == "fail", found
        assert "MTA-STS senders (mode enforce) are affected" in found.summary
    # without a DANE match, a bare fail as before
    bare = await probe(lab, "eestale", smtp="eestale")
    assert check(bare, "certificate-expiry").verdict == "fail"
    assert "DANE" not in check(bare, "certificate-expiry").summary


async def test_no_tlsa_is_info_unless_the_zone_is_signed_or_dane_is_expected(
    lab: Lab, validating_resolver: str
) -> None:
    unvalidated = check(await probe(lab, "plain"), "dane-tlsa")
    assert unvalidated.verdict == "info"
    signed = check(await probe(lab, "plain", resolver=validating_resolver), "dane-tlsa")
    assert signed.verdict == "warn"
    assert "the zone is signed" in signed.summary
    expected = await run_probe(
        fqdn("plain"),
        (),
        ProbeOptions(
            resolver=lab.auth_resolver,
            smtp_port=lab.smtp["valid"],
            https_port=lab.https["valid"],
            ca_file=str(lab.pki.ca_file),
            timeout=TIMEOUT,
            dane_expected=True,
        ),
    )
    assert check(expected, "dane-tlsa").verdict == "warn"
    assert "tlsa policies" in check(expected, "dane-tlsa").summary


def test_command_expect_dane_turns_no_tlsa_into_a_warning(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", fqdn("plain"), *cli_args(lab, "--format", "json")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["probe", fqdn("plain"), *cli_args(lab, "--format", "json", "--expect-dane")]) == 0
    expected = json.loads(capsys.readouterr().out)
    verdict = {d["name"]: d["verdict"] for d in plain["checks"]}["dane-tlsa"]
    assert verdict == "info"
    assert {d["name"]: d["verdict"] for d in expected["checks"]}["dane-tlsa"] == "warn"
