"""Offline parts of the probe: record and policy parsers, name matching, TLSA, rendering."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlsrpt_tui.probe import Check, ProbeResult, to_json, to_text
from tlsrpt_tui.probe.certs import CertInfo, expiry_finding, name_matches
from tlsrpt_tui.probe.dane import TlsaRecord, match_tlsa
from tlsrpt_tui.probe.dns import ResolverSpecError, parse_resolver
from tlsrpt_tui.probe.runner import ProbeUsageError, normalise_host
from tlsrpt_tui.probe.sts import mx_matches, parse_sts_policy, parse_sts_record
from tlsrpt_tui.probe.tlsrpt_record import parse_tlsrpt_record

# --------------------------------------------------------------------------- TLS-RPT


@pytest.mark.parametrize(
    "text",
    [
        "v=TLSRPTv1; rua=mailto:reports@example.com",
        "v=TLSRPTv1;rua=mailto:reports@example.com;",
        "v=TLSRPTv1 ; rua=mailto:a@example.com, https://reports.example.com/tlsrpt",
        "v=TLSRPTv1; rua=mailto:a@example.com,mailto:b@example.net",
        "v=TLSRPTv1; rua=https://r.example/x?a=1%2C2%3B3",
        "v=TLSRPTv1; rua=mailto:a@example.com; ext_1=value",
    ],
)
def test_valid_tlsrpt_records(text: str) -> None:
    parsed = parse_tlsrpt_record(text)
    assert parsed.valid, parsed.errors
    assert parsed.rua


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("v=TLSRPTv1;", "rua is required"),
        ("v=TLSRPTv1; ruf=mailto:a@example.com", "no rua field"),
        ("v=TLSRPTv1; RUA=mailto:a@example.com", "case-sensitive"),
        ("v=TLSRPTv1; rua=mailto:a@example.com,b@example.com", "%2C"),
        ("v=TLSRPTv1; rua=http://r.example/x", "scheme 'http' is not allowed"),
        ("v=TLSRPTv1; rua=mailto:nobody", "needs an address"),
        ("v=TLSRPTv1; rua=https:///nohost", "without a host"),
        ("v=TLSRPTv1; rua=mailto:a@example.com;; x=y", "empty field"),
        ("v=TLSRPTv1; rua=mailto:a b@example.com", "percent-encoded"),
        ("v=TLSRPTv1; rua=https://r.example/%zz", "not a %XX escape"),
        ("v=TLSRPTv1; rua=mailto:a@example.com; bad name=1", "not a valid extension name"),
        ("v=tlsrptv1; rua=mailto:a@example.com", "does not begin"),
        ("v=TLSRPTv1 rua=mailto:a@example.com", "does not begin"),
    ],
)
def test_invalid_tlsrpt_records(text: str, error: str) -> None:
    parsed = parse_tlsrpt_record(text)
    assert not parsed.valid
    assert any(error in e for e in parsed.errors), parsed.errors


# --------------------------------------------------------------------------- MTA-STS


def test_sts_record() -> None:
    assert parse_sts_record("v=STSv1; id=20240101T000000").id == "20240101T000000"
    assert parse_sts_record("v=STSv1;id=abc;").id == "abc"
    assert parse_sts_record("v=STSv1; id=" + "a" * 33).errors
    assert parse_sts_record("v=STSv1; id=2024-01-01").errors
    assert "no id field" in parse_sts_record("v=STSv1;").errors
    assert parse_sts_record("v=STSv1; id=1; ext=ok").extensions == {"ext": "ok"}


def policy(*lines: str, eol: str = "\r\n") -> bytes:
    return (eol.join(lines) + eol).encode()


GOOD = (
    "version: STSv1",
    "mode: enforce",
    "mx: mail.example.com",
    "mx: *.example.net",
    "max_age: 86400",
)


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_valid_policy(eol: str) -> None:
    parsed = parse_sts_policy(policy(*GOOD, eol=eol))
    assert parsed.valid, parsed.errors
    assert parsed.mode == "enforce"
    assert parsed.max_age == 86400
    assert parsed.mx == ["mail.example.com", "*.example.net"]
    assert not parsed.warnings


def test_policy_without_final_newline_and_with_unknown_key() -> None:
    parsed = parse_sts_policy(b"version: STSv1\nmode: none\nmax_age: 86400\nfuture: yes")
    assert parsed.valid, parsed.errors
    assert any("unknown key 'future'" in n for n in parsed.notes)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xef\xbb\xbf" + policy(*GOOD), "byte-order mark"),
        (policy(*GOOD, eol="\r"), "bare CR"),
        (policy("version: STSv2", *GOOD[1:]), "must be 'STSv1'"),
        (policy(*GOOD[:1], "mode: enforcing", *GOOD[2:]), "not enforce, testing or none"),
        (policy(*GOOD[:4]), "no max_age"),
        (policy(*GOOD[1:]), "no version"),
        (policy(*GOOD[:4], "max_age: 31557601"), "above the maximum"),
        (policy(*GOOD[:4], "max_age: -1"), "not a number"),
        (policy("version: STSv1", "mode: enforce", "max_age: 86400"), "needs at least one mx"),
        (policy(*GOOD, "mx: bad_pattern!"), "not a host name"),
        (policy(*GOOD, "mx: *.com"), "not a host name"),
        (policy("Version: STSv1", *GOOD[1:]), "case-sensitive"),
        (policy("version : STSv1", *GOOD[1:]), "malformed"),
        (policy(*GOOD, "garbage"), "has no ':'"),
        (b"", "empty"),
        (b"version: STSv1\nmode: enforce\nmx: \xff\nmax_age: 1\n", "not UTF-8"),
    ],
)
def test_invalid_policies(body: bytes, error: str) -> None:
    parsed = parse_sts_policy(body)
    assert not parsed.valid
    assert any(error in e for e in parsed.errors), parsed.errors


def test_policy_warnings() -> None:
    mixed = parse_sts_policy(b"version: STSv1\r\nmode: testing\nmx: a.example\r\nmax_age: 600\n")
    assert mixed.valid
    assert any("mixed line endings" in w for w in mixed.warnings)
    assert any("under a day" in w for w in mixed.warnings)
    repeated = parse_sts_policy(policy(*GOOD, "mode: none"))
    assert repeated.valid and repeated.mode == "enforce"
    assert any("senders use the first" in w for w in repeated.warnings)


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mail.example.com", "mail.example.com", True),
        ("mail.example.com", "MAIL.example.com.", True),
        ("mail.example.com", "mail2.example.com", False),
        ("*.example.com", "mx1.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "mx1.example.net", False),
    ],
)
def test_mx_patterns(pattern: str, host: str, expected: bool) -> None:
    assert mx_matches(pattern, host) is expected


@pytest.mark.parametrize(
    ("name", "host", "expected"),
    [
        ("mx.example.com", "MX.example.com", True),
        ("*.example.com", "mx.example.com", True),
        ("*.example.com", "a.mx.example.com", False),
        ("*.com", "example.com", False),
        ("mx.example.com", "mx.example.net", False),
    ],
)
def test_certificate_name_matching(name: str, host: str, expected: bool) -> None:
    assert name_matches(name, host) is expected


# --------------------------------------------------------------------------- resolver, hosts


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::1]", ("2001:db8::1", 53)),
    ],
)
def test_parse_resolver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(spec) == expected


@pytest.mark.parametrize("spec", ["dns.example", "127.0.0.1:0", "127.0.0.1:x", "[::1", "[::1]x"])
def test_parse_resolver_rejects(spec: str) -> None:
    with pytest.raises(ResolverSpecError):
        parse_resolver(spec)


def test_normalise_host() -> None:
    assert normalise_host("Example.COM.") == "example.com"
    assert normalise_host("bücher.example") == "xn--bcher-kva.example"
    assert normalise_host("192.0.2.1", "MX host") == "192.0.2.1"
    for bad in ("", "a b.example", "example.com/x", "com", "\x1b.example"):
        with pytest.raises(ProbeUsageError):
            normalise_host(bad)


# --------------------------------------------------------------------------- certificates, TLSA


def make_cert(
    name: str,
    *,
    days: float = 90,
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None = None,
) -> tuple[CertInfo, ec.EllipticCurvePrivateKey, x509.Name]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer, issuer_name = issuer if issuer else (key, subject)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return CertInfo.from_der(cert.public_bytes(serialization.Encoding.DER)), key, subject


def test_expiry_finding() -> None:
    now = dt.datetime.now(dt.UTC)
    fresh, _, _ = make_cert("mx.example.com")
    soon, _, _ = make_cert("mx.example.com", days=3)
    gone, _, _ = make_cert("mx.example.com", days=-0.5)
    assert expiry_finding([fresh], now).verdict == "pass"
    assert expiry_finding([soon], now).verdict == "warn"
    assert expiry_finding([gone], now).verdict == "fail"
    assert expiry_finding([fresh, gone], now).summary.startswith("chain[1] certificate expired")


def test_tlsa_matching() -> None:
    ca, ca_key, ca_name = make_cert("Test CA", days=365)
    leaf, _, _ = make_cert("mx.example.com", issuer=(ca_key, ca_name))
    spki = leaf.spki_der()
    assert spki is not None
    ee = TlsaRecord(3, 1, 1, hashlib.sha256(spki).digest())
    ee_full = TlsaRecord(3, 0, 0, leaf.der)
    ee_512 = TlsaRecord(3, 0, 2, hashlib.sha512(leaf.der).digest())
    ta = TlsaRecord(2, 0, 1, hashlib.sha256(ca.der).digest())
    wrong = TlsaRecord(3, 1, 1, b"\x00" * 32)
    pkix = TlsaRecord(1, 1, 1, hashlib.sha256(spki).digest())
    short = TlsaRecord(3, 1, 1, b"\x00" * 31)
    for record in (ee, ee_full, ee_512):
        assert match_tlsa([record], [leaf], ["mx.example.com"])[0]
    assert match_tlsa([ta], [leaf, ca], ["mx.example.com"])[0]
    # DANE-TA needs the name to match too, and the TA in the chain
    assert not match_tlsa([ta], [leaf, ca], ["other.example.com"])[0]
    assert not match_tlsa([ta], [leaf], ["mx.example.com"])[0]
    matched, evidence, usable = match_tlsa([wrong, pkix, short], [leaf, ca], ["mx.example.com"])
    assert not matched and usable == 1
    assert any("PKIX-EE" in e for e in evidence)
    assert any("must be 32" in e for e in evidence)
    # a TA that did not sign the leaf
    other_ca, _, _ = make_cert("Other CA")
    other_ta = TlsaRecord(2, 0, 1, hashlib.sha256(other_ca.der).digest())
    matched, evidence, _ = match_tlsa([other_ta], [leaf, other_ca], ["mx.example.com"])
    assert not matched
    assert any("chain[0]" in e for e in evidence)


# --------------------------------------------------------------------------- model, rendering


def test_check_sanitises_and_renders() -> None:
    now = dt.datetime.now(dt.UTC)
    evil = Check(
        "smtp-starttls",
        "mx.example.com",
        "fail",
        "banner \x1b[31mred\x07",
        ["line\r\nwith \u202e bidi", "\x9b2J"],
        ("starttls-not-supported",),
    )
    assert "\x1b" not in evil.summary and "\\x1b" in evil.summary
    assert all("\r" not in e and "\u202e" not in e and "\x9b" not in e for e in evil.evidence)
    result = ProbeResult("example.com", now, now, (evil,), ("mx.example.com",))
    assert not result.ok
    assert result.explaining("starttls-not-supported") == [evil]
    assert result.counts()["fail"] == 1
    data = json.loads(to_json(result))
    assert data["ok"] is False
    assert data["checks"][0]["explains"] == ["starttls-not-supported"]
    text = to_text(result)
    assert "FAIL   smtp-starttls" in text
    assert "\x1b" not in text and "\x07" not in text
    with pytest.raises(ValueError):
        Check("x", "y", "maybe", "z")  # type: ignore[arg-type]


def test_mx_policy_check_could_not_check_without_an_mx_answer() -> None:
    from tlsrpt_tui.probe.dns import DnsUnreachable
    from tlsrpt_tui.probe.runner import mx_policy_check, mx_records_check

    policy = parse_sts_policy(
        b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
    )
    lookup = mx_records_check("example.com", DnsUnreachable("no answer for MX example.com"))
    check = mx_policy_check("example.com", policy, lookup, [])
    assert check.verdict == "error"
    assert check.summary.startswith("could not check")
    # with --mx given there is something to compare
    given = mx_policy_check("example.com", policy, lookup, ["mx.example.com"])
    assert given.verdict == "pass"
