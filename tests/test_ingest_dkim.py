"""DKIM verification of report mail, with keys made here and a real DNS server on loopback."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_helpers import (
    DkimKey,
    DnsServer,
    build_report_mail,
    corpus_emails,
    make_report,
    serving_keys,
    to_crlf,
    with_received,
)

from tlsrpt_tui.core.reading.loader import parse_message
from tlsrpt_tui.ingest.dkim_check import (
    DkimVerdict,
    aligned,
    make_dnsfunc,
    parse_resolver,
    reporting_domains,
    verify_report_mail,
)


@pytest.fixture(scope="module")
def keys() -> dict[str, DkimKey]:
    return {
        "reporter": DkimKey("reporter.example", "sel1"),
        "sub": DkimKey("mail.reporter.example", "sub1"),
        "other": DkimKey("elsewhere.example", "x"),
        "google": DkimKey("google.com", "tlsrpt-test"),
    }


@pytest.fixture(scope="module")
def dns_server(keys: dict[str, DkimKey]) -> Iterator[DnsServer]:
    with serving_keys(keys.values()) as server:
        yield server


def verify(raw: bytes, dns_server: DnsServer, timeout: float = 2.0) -> DkimVerdict:
    raw = to_crlf(raw)
    return verify_report_mail(
        raw, parse_message(raw), dnsfunc=make_dnsfunc(dns_server.address), timeout=timeout
    )


def mail(**kwargs: object) -> bytes:
    return build_report_mail(make_report(), submitter="reporter.example", **kwargs)  # type: ignore[arg-type]


def test_valid_signature_by_the_reporting_domain_passes(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    verdict = verify(keys["reporter"].sign(mail()), dns_server)
    assert verdict.verdict == "pass", verdict
    assert verdict.domain == "reporter.example"
    assert verdict.selector == "sel1"
    assert "sel1._domainkey.reporter.example." in dns_server.queries


@pytest.mark.parametrize("style", ["google", "microsoft", "mailru"])
def test_every_mail_style_verifies(
    keys: dict[str, DkimKey], dns_server: DnsServer, style: str
) -> None:
    verdict = verify(keys["reporter"].sign(mail(style=style)), dns_server)
    assert verdict.verdict == "pass", verdict


def test_unsigned_mail_is_none(dns_server: DnsServer) -> None:
    verdict = verify(mail(), dns_server)
    assert verdict.verdict == "none"


def test_changed_body_fails(keys: dict[str, DkimKey], dns_server: DnsServer) -> None:
    signed = keys["reporter"].sign(mail())
    tampered = signed.replace(b"This is an aggregate", b"This is a forged")
    assert tampered != signed
    verdict = verify(tampered, dns_server)
    assert verdict.verdict == "fail"
    assert "body hash" in verdict.reason


def test_changed_header_fails(keys: dict[str, DkimKey], dns_server: DnsServer) -> None:
    signed = keys["reporter"].sign(mail())
    tampered = signed.replace(b"TLS-Report-Domain: example.com", b"TLS-Report-Domain: victim.com")
    assert tampered != signed
    assert verify(tampered, dns_server).verdict == "fail"


def test_l_tag_is_refused_even_when_the_signature_is_valid(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    signed = keys["reporter"].sign(mail(), length=True)
    assert b" l=" in signed or b";l=" in signed or b"; l=" in signed
    verdict = verify(signed, dns_server)
    assert verdict.verdict == "fail"
    assert "l= tag" in verdict.reason


def test_signature_by_an_unrelated_domain_fails(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    verdict = verify(keys["other"].sign(mail()), dns_server)
    assert verdict.verdict == "fail"
    assert "not by the reporting domain" in verdict.reason


def test_subdomain_signature_aligns(keys: dict[str, DkimKey], dns_server: DnsServer) -> None:
    # Like Mail.ru: TLS-Report-Submitter mail.ru, signed (and sent) by corp.mail.ru.
    raw = mail(sender="noreply@mail.reporter.example")
    assert verify(keys["sub"].sign(raw), dns_server).verdict == "pass"


def test_unknown_key_fails(dns_server: DnsServer) -> None:
    stranger = DkimKey("reporter.example", "not-published")
    verdict = verify(stranger.sign(mail()), dns_server)
    assert verdict.verdict == "fail"


def test_a_good_second_signature_is_enough(keys: dict[str, DkimKey], dns_server: DnsServer) -> None:
    # A forwarder's (unaligned) signature on top of the reporter's.
    raw = keys["other"].sign(keys["reporter"].sign(mail()))
    verdict = verify(raw, dns_server)
    assert verdict.verdict == "pass"
    assert [s.ok for s in verdict.signatures] == [False, True]


def test_servfail_is_a_temporary_error(dns_server: DnsServer) -> None:
    key = DkimKey("flaky.example", "s1")
    dns_server.servfail.add(key.record_name + ".")
    raw = build_report_mail(make_report(), submitter="flaky.example")
    verdict = verify(key.sign(raw), dns_server)
    assert verdict.verdict == "temperror"


def test_dns_timeout_is_a_temporary_error(dns_server: DnsServer) -> None:
    key = DkimKey("slow.example", "s1")
    dns_server.silent.add(key.record_name + ".")
    raw = build_report_mail(make_report(), submitter="slow.example")
    verdict = verify(key.sign(raw), dns_server, timeout=0.5)
    assert verdict.verdict == "temperror"


def test_key_with_tlsrpt_service_type_is_accepted(dns_server: DnsServer) -> None:
    key = DkimKey("svc.example", "s1")
    dns_server.add_key(key, service="tlsrpt")
    raw = build_report_mail(make_report(), submitter="svc.example")
    assert verify(key.sign(raw), dns_server).verdict == "pass"


def test_real_report_mail_signed_again_with_a_test_key_passes(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    google = [p for p in corpus_emails() if "google" in p.name.lower()]
    assert google
    for path in google:
        raw = path.read_bytes()
        # Google's own keys are not in our DNS (and their mail is anonymised): fails.
        assert verify(raw, dns_server).verdict == "fail", path
        resigned = keys["google"].sign(raw)
        verdict = verify(resigned, dns_server)
        assert verdict.verdict == "pass", (path, verdict)


def test_reporting_domains_and_alignment() -> None:
    raw = Path(corpus_emails()[0]).read_bytes()
    message = parse_message(raw)
    assert "google.com" in reporting_domains(message) or "microsoft.com" in reporting_domains(
        message
    )
    assert aligned("corp.mail.ru", ("mail.ru",))
    assert aligned("mail.ru", ("corp.mail.ru",))
    assert aligned("Google.COM.", ("google.com",))
    assert not aligned("evilgoogle.com", ("google.com",))
    assert not aligned("", ("google.com",))


def test_parse_resolver() -> None:
    assert parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_resolver("127.0.0.1") == ("127.0.0.1", 53)
    assert parse_resolver("[::1]:53") == ("::1", 53)
    assert parse_resolver("::1") == ("::1", 53)
    with pytest.raises(ValueError):
        parse_resolver("host:99999")


# --------------------------------------------------------------------------- x= expiry

DAY = 86400


def test_expired_signature_verifies_as_of_arrival(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    """Google signs with x= a week after t=: mail imported later was valid when it came."""
    signed = int(time.time()) - 30 * DAY
    raw = keys["google"].sign(
        build_report_mail(make_report(), submitter="google.com"),
        signed_at=signed,
        expires=signed + 7 * DAY,
    )
    arrived = dt.datetime.fromtimestamp(signed + 60, dt.UTC)
    verdict = verify(with_received(raw, arrived), dns_server)
    assert verdict.verdict == "pass", verdict
    assert verdict.as_of == arrived.isoformat(timespec="seconds").replace("+00:00", "Z")
    assert verdict.as_of_from == "Received"
    assert verdict.as_json()["verified-as-of"] == verdict.as_of


def test_signature_expired_when_the_mail_arrived_fails_with_the_reason(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    signed = int(time.time()) - 30 * DAY
    raw = keys["google"].sign(
        build_report_mail(make_report(), submitter="google.com"),
        signed_at=signed,
        expires=signed + 7 * DAY,
    )
    late = dt.datetime.fromtimestamp(signed + 9 * DAY, dt.UTC)
    verdict = verify(with_received(raw, late), dns_server)
    assert verdict.verdict == "fail"
    assert "signature expired" in verdict.reason and "before the message arrived" in verdict.reason
    # Without any date to go by, today's clock decides (also expired).
    undated = to_crlf(build_report_mail(make_report(), submitter="google.com"))
    undated = re_sub_date(undated)
    raw = keys["google"].sign(undated, signed_at=signed, expires=signed + 7 * DAY)
    verdict = verify(raw, dns_server)
    assert verdict.verdict == "fail" and "signature expired" in verdict.reason, verdict
    assert verdict.as_of_from == "now"


def re_sub_date(raw: bytes) -> bytes:
    import re

    stripped = re.sub(rb"\r\nDate: [^\r]*", b"", raw, count=1)
    assert stripped != raw
    return stripped


def test_arrival_falls_back_to_date_and_never_passes_now(
    keys: dict[str, DkimKey], dns_server: DnsServer
) -> None:
    from tlsrpt_tui.ingest.dkim_check import arrival_time

    signed = int(time.time()) - 30 * DAY
    mail_bytes = build_report_mail(make_report(), submitter="google.com")
    dated = dt.datetime.fromtimestamp(signed + 3600, dt.UTC)
    mail_bytes = mail_bytes.replace(
        b"Date: Thu, 02 May 2024 03:04:05 +0000",
        dt.datetime.strftime(dated, "Date: %a, %d %b %Y %H:%M:%S +0000").encode(),
    )
    raw = keys["google"].sign(mail_bytes, signed_at=signed, expires=signed + 7 * DAY)
    verdict = verify(raw, dns_server)
    assert verdict.verdict == "pass", verdict
    assert verdict.as_of_from == "Date"
    future = with_received(b"Subject: x\r\n\r\nbody\r\n", dt.datetime(2999, 1, 1, tzinfo=dt.UTC))
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert arrival_time(parse_message(future), now) == (now, "Received")
    assert arrival_time(parse_message(b"Subject: x\r\n\r\nbody\r\n"), now) == (now, "now")
