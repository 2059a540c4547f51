"""The guidance catalogue (tlsrpt_tui.core.guidance) and ``tlsrpt-tui explain``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlsrpt_tui.cli import main
from tlsrpt_tui.core import guidance
from tlsrpt_tui.core.guidance import PLACEHOLDERS, entry_for, fill, find
from tlsrpt_tui.core.model import (
    DANE_RESULT_TYPES,
    NEGOTIATION_RESULT_TYPES,
    RFC_RESULT_TYPES,
    STS_RESULT_TYPES,
    PolicyType,
)
from tlsrpt_tui.core.text import printable

MX_TYPES = NEGOTIATION_RESULT_TYPES + DANE_RESULT_TYPES
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def templates(entry: guidance.GuidanceEntry) -> list[str]:
    return [c.template for c in entry.confirm]


# --------------------------------------------------------------------------- catalogue


@pytest.mark.parametrize("result_type", RFC_RESULT_TYPES)
def test_every_rfc_result_type_has_a_complete_entry(result_type: str) -> None:
    entry = entry_for(result_type)
    assert entry.key == result_type
    assert entry.kind == "result-type"
    assert "8460" in entry.rfc_section
    assert entry.title and entry.summary and entry.meaning
    assert 2 <= len(entry.causes) <= 6
    assert 2 <= len(entry.confirm) <= 6
    assert 2 <= len(entry.fix) <= 5
    assert entry.related
    assert entry.severity in ("high", "medium")
    assert all(c.description and c.template for c in entry.confirm)


@pytest.mark.parametrize(
    ("types", "group", "section"),
    [
        (NEGOTIATION_RESULT_TYPES, "Negotiation failures", "§4.3.1"),
        (DANE_RESULT_TYPES, "DANE policy failures", "§4.3.2.1"),
        (STS_RESULT_TYPES, "MTA-STS policy failures", "§4.3.2.2"),
    ],
)
def test_result_types_are_grouped_as_the_rfc_groups_them(
    types: tuple[str, ...], group: str, section: str
) -> None:
    for result_type in types:
        entry = entry_for(result_type)
        assert entry.group == group
        assert entry.rfc_section.endswith(section)


@pytest.mark.parametrize("result_type", MX_TYPES)
def test_mx_related_types_have_commands_aimed_at_the_mx(result_type: str) -> None:
    assert any("{mx}" in t for t in templates(entry_for(result_type)))


@pytest.mark.parametrize("result_type", DANE_RESULT_TYPES)
def test_dane_types_look_at_the_tlsa_record_of_the_mx(result_type: str) -> None:
    assert any("_25._tcp.{mx}" in t for t in templates(entry_for(result_type)))


@pytest.mark.parametrize("result_type", STS_RESULT_TYPES)
def test_sts_types_look_at_the_policy_host_of_the_domain(result_type: str) -> None:
    found = templates(entry_for(result_type))
    assert all("{domain}" in t for t in found)
    assert any("mta-sts.{domain}" in t for t in found)


def test_sts_policy_is_fetched_from_the_rfc_8461_url() -> None:
    url = "https://mta-sts.{domain}/.well-known/mta-sts.txt"
    assert any(url in t for t in templates(entry_for("sts-policy-fetch-error")))
    assert any("_mta-sts.{domain}" in t for t in templates(entry_for("sts")))


def test_catalogue_order_follows_the_rfcs() -> None:
    keys = [e.key for e in guidance.ALL_ENTRIES]
    assert keys == [
        *RFC_RESULT_TYPES,
        *(p.value for p in PolicyType),
        "enforce",
        "testing",
        "none",
    ]
    assert [name for name, _ in guidance.groups()] == [
        "Negotiation failures",
        "DANE policy failures",
        "MTA-STS policy failures",
        "Policy types",
        "STS modes",
    ]
    flattened = [e for _, entries in guidance.groups() for e in entries]
    assert flattened == list(guidance.ALL_ENTRIES)


@pytest.mark.parametrize("key", [p.value for p in PolicyType])
def test_policy_types_have_entries(key: str) -> None:
    entry = entry_for(key)
    assert (entry.key, entry.kind, entry.group) == (key, "policy-type", "Policy types")
    assert "8460" in entry.rfc_section


@pytest.mark.parametrize("mode", ["enforce", "testing", "none"])
def test_sts_modes_have_entries(mode: str) -> None:
    entry = entry_for(mode)
    assert (entry.key, entry.kind) == (mode, "sts-mode")
    assert "8461" in entry.rfc_section
    assert entry.confirm and entry.fix and entry.causes


def test_every_related_key_exists_and_is_not_the_entry_itself() -> None:
    for entry in (*guidance.ALL_ENTRIES, guidance.UNKNOWN, guidance.GETTING_STARTED):
        for key, note in entry.related:
            assert find(key) is not None, (entry.key, key)
            assert key != entry.key
            assert note


def test_entries_are_short_enough_for_a_small_terminal() -> None:
    for entry in (*guidance.ALL_ENTRIES, guidance.UNKNOWN, guidance.GETTING_STARTED):
        assert len(entry.summary) <= 78, entry.key
        assert len(entry.meaning) <= 460, entry.key
        for text in (*entry.causes, *entry.fix, *(c.description for c in entry.confirm)):
            assert len(text) <= 140, (entry.key, text)
        for items in (entry.causes, entry.confirm, entry.fix):
            assert 1 <= len(items) <= 6, entry.key
        lines = guidance.render_text(entry).splitlines()
        assert len(lines) <= 72, entry.key
        prose = [line for line in lines if not line.lstrip().startswith("$")]
        assert max(len(line) for line in prose) <= 78, entry.key


def test_templates_use_only_the_three_placeholders() -> None:
    for entry in (*guidance.ALL_ENTRIES, guidance.UNKNOWN, guidance.GETTING_STARTED):
        for template in templates(entry):
            names = set(re.findall(r"(?<!%)\{([^}]*)\}", template))
            assert names <= {"domain", "mx", "ip"}, (entry.key, template)


def test_failure_reason_code_is_explained_where_the_rfc_asks_for_it() -> None:
    for key in ("certificate-not-trusted", "validation-failure"):
        assert "failure-reason-code" in entry_for(key).meaning


# --------------------------------------------------------------------------- lookup


def test_lookup_ignores_case_and_surrounding_space() -> None:
    assert entry_for("  Certificate-EXPIRED \n") is entry_for("certificate-expired")
    assert find("STS") is not None and find("sts").key == "sts"  # type: ignore[union-attr]
    assert find("no-such-thing") is None


def test_unknown_result_type_gets_a_generic_entry_naming_it() -> None:
    entry = entry_for("tls-handshake-timeout")
    assert entry.kind == "unknown"
    assert "tls-handshake-timeout" in entry.title
    assert "not" in entry.summary and "RFC 8460" in entry.summary
    assert "RFC 8460" in entry.meaning and "not one of them" in entry.meaning
    assert "8460" not in entry.rfc_section.replace("not defined in RFC 8460", "")
    assert entry.confirm and entry.fix and entry.causes
    assert any("{mx}" in t for t in templates(entry))


def test_the_literal_value_unknown_is_also_named() -> None:
    assert '"unknown"' in entry_for("unknown").title


def test_unknown_value_is_escaped_and_shortened_in_the_entry() -> None:
    entry = entry_for("evil\x1b]0;owned\x07\u202e" + "x" * 500)
    for text in (entry.title, entry.summary):
        assert not CONTROL.search(text)
        assert "\u202e" not in text
        assert "\\x1b" in text
    assert len(entry.title) < 100
    assert entry.title.endswith('…"')


def test_printable_escapes_controls_format_chars_and_backslashes() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("\u202egnp.exe") == "\\u202egnp.exe"
    assert printable("back\\slash") == "back\\\\slash"
    assert printable("plain-text.example") == "plain-text.example"


# --------------------------------------------------------------------------- fill


def test_fill_substitutes_plain_host_names_and_addresses() -> None:
    template = "openssl s_client -connect {mx}:25 # {domain} {ip}"
    assert (
        fill(template, domain="Example.ORG.", mx="mx1.example.org", ip="192.0.2.25")
        == "openssl s_client -connect mx1.example.org:25 # Example.ORG 192.0.2.25"
    )
    assert fill("{ip}", ip="2001:DB8:0::25") == "2001:db8::25"
    assert fill("{mx}", mx="xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert fill("{mx}", mx=" mx.example.com ") == "mx.example.com"


def test_fill_keeps_readable_placeholders_for_missing_values() -> None:
    assert fill("dig TLSA _25._tcp.{mx} {domain} {ip}") == (
        "dig TLSA _25._tcp.<mx-host> <domain> <ip>"
    )
    assert PLACEHOLDERS == {"domain": "<domain>", "mx": "<mx-host>", "ip": "<ip>"}


def test_fill_leaves_other_braces_alone() -> None:
    template = "curl -w '%{http_code}\\n' https://mta-sts.{domain}/"
    assert fill(template, domain="example.com") == (
        "curl -w '%{http_code}\\n' https://mta-sts.example.com/"
    )


HOSTILE_HOSTS = [
    "mx.example.com; rm -rf ~",
    "$(id)",
    "mx.$(id).example",
    "`id`.example.com",
    "mx.example.com && id",
    "mx.example.com|id",
    "mx example.com",
    "mx.example.com\nid",
    "mx.example\x1b[2J.com",
    "'mx.example.com'",
    '"mx.example.com"',
    "-oProxyCommand=id",
    "mx.-bad.example",
    "*.example.com",
    "mx.example.com>out",
    "mx..example.com",
    "",
    "   ",
    "bücher.example",
    "a" * 64 + ".example",
    ".".join(["a" * 60] * 5),
    "mx.example.com:25",
    "mx/example",
    "mx\\example",
]

HOSTILE_IPS = [
    "fe80::1%$(id)",
    "fe80::1%eth0",
    "192.0.2.1; id",
    "192.0.2.1 192.0.2.2",
    "256.0.0.1",
    "192.0.2.1/24",
    "mx.example.com",
    "$(id)",
    "",
]


@pytest.mark.parametrize("value", HOSTILE_HOSTS)
def test_fill_refuses_hostile_host_values(value: str) -> None:
    template = "openssl s_client -connect {mx}:25 -servername {mx} # {domain}"
    assert fill(template, mx=value, domain=value) == fill(template)
    assert guidance.safe_hostname(value) is None


@pytest.mark.parametrize("value", HOSTILE_IPS)
def test_fill_refuses_hostile_ip_values(value: str) -> None:
    assert fill('-connect "[{ip}]:25"', ip=value) == '-connect "[<ip>]:25"'
    assert guidance.safe_ip(value) is None


SAFE_OUTPUT = re.compile(r"[A-Za-z0-9_.:-]+")


@given(st.text(max_size=80))
def test_fill_never_emits_shell_syntax(value: str) -> None:
    for name in ("domain", "mx", "ip"):
        out = fill("{" + name + "}", **{name: value})
        assert out == PLACEHOLDERS[name] or (
            SAFE_OUTPUT.fullmatch(out) is not None and not out.startswith("-")
        )


# --------------------------------------------------------------------------- output


def test_to_dict_is_json_with_filled_commands() -> None:
    data = guidance.to_dict(entry_for("certificate-expired"), mx="mx.example.net")
    decoded = json.loads(json.dumps(data))
    assert {
        "key",
        "title",
        "kind",
        "group",
        "rfc-section",
        "summary",
        "meaning",
        "causes",
        "confirm",
        "fix",
        "related",
    } <= set(decoded)
    assert decoded["key"] == "certificate-expired"
    assert decoded["rfc-section"] == "RFC 8460 §4.3.1"
    first = decoded["confirm"][0]
    assert set(first) >= {"description", "command"}
    assert "mx.example.net:25" in first["command"]
    assert "{mx}" in first["template"]
    assert all(set(r) == {"key", "note"} for r in decoded["related"])


def test_render_text_fills_commands_and_shows_every_section() -> None:
    entry = entry_for("tlsa-invalid")
    text = guidance.render_text(entry, domain="example.com", mx="mx1.example.com")
    assert text.startswith("tlsa-invalid — ")
    assert "RFC 8460 §4.3.2.1" in text
    assert "$ dig +short TLSA _25._tcp.mx1.example.com" in text
    for heading in entry.labels:
        assert heading + ":" in text
    for cause in entry.causes:
        assert cause.split()[0] in text
    assert "Related:" in text


def test_getting_started_page() -> None:
    page = guidance.GETTING_STARTED
    assert page.kind == "page"
    text = guidance.render_text(page, domain="example.com")
    assert '_smtp._tls.example.com. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"' in text
    assert "rua=https://" in text
    assert "v=TLSRPTv1" in " ".join(page.causes)
    assert "<submitter>!<policy-domain>!<begin>!<end>[!<unique-id>].json.gz" in page.meaning
    assert "unique-id is optional (RFC 8460 §5.1)" in page.meaning
    assert "dig +short TXT _smtp._tls.example.com" in text
    for needle in ("tlsrpt-tui PATH", "tlsrpt-tui summary PATH", "fetch imap", "receive"):
        assert needle in text
    # A zone file line is not a shell command.
    zone_lines = [c for c in page.confirm if "IN TXT" in c.template]
    assert zone_lines and not any(c.shell for c in zone_lines)
    assert "$ _smtp._tls" not in text


# --------------------------------------------------------------------------- CLI


def test_cli_explains_one_result_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "certificate-expired", "--mx", "mx.example.org"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("certificate-expired — ")
    assert "-connect mx.example.org:25" in out


def test_cli_json_for_one_entry(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explain", "sts-webpki-invalid", "--format", "json", "--domain", "example.org"])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key"] == "sts-webpki-invalid"
    assert any("mta-sts.example.org:443" in c["command"] for c in data["confirm"])


def test_cli_without_topic_prints_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["key"] for e in data["entries"]] == [e.key for e in guidance.ALL_ENTRIES]

    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    for entry in guidance.ALL_ENTRIES:
        assert entry.heading in out


def test_cli_unknown_result_type_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "weird-new-type", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "unknown"
    assert "weird-new-type" in data["title"]


def test_cli_getting_started(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "getting-started", "--domain", "example.net"]) == 0
    out = capsys.readouterr().out
    assert "_smtp._tls.example.net. IN TXT" in out


def test_cli_never_prints_hostile_values(capsys: pytest.CaptureFixture[str]) -> None:
    hostile = ["--mx", "mx.example.com;$(id)", "--ip", "fe80::1%`id`", "--domain", "a\x1b[2J"]
    assert main(["explain", "certificate-expired", *hostile]) == 0
    captured = capsys.readouterr()
    assert not CONTROL.search(captured.out) and not CONTROL.search(captured.err)
    assert "$(id)" not in captured.out and "`id`" not in captured.out
    assert "-connect <mx-host>:25" in captured.out
    assert '-connect "[<ip>]:25"' in captured.out
    for option in ("--mx", "--ip", "--domain"):
        assert f"ignoring {option}" in captured.err
    assert "a\\x1b[2J" in captured.err

    assert main(["explain", "bad\x1b[2Jtype", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out
    assert json.loads(captured.out)["title"] == 'Unknown result-type "bad\\x1b[2Jtype"'


def test_python_dash_m_explain_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tlsrpt_tui", "explain", "certificate-expired", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["key"] == "certificate-expired"
    assert data["rfc-section"] == "RFC 8460 §4.3.1"
    assert "<mx-host>" in data["confirm"][0]["command"]


def test_core_module_does_not_import_textual() -> None:
    code = (
        "import sys, tlsrpt_tui.core.guidance as g; g.render_text(g.entry_for('x'));"
        " assert 'textual' not in sys.modules and 'rich' not in sys.modules, 'ui imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- issue 18


def all_text(key: str) -> str:
    entry = entry_for(key)
    return " ".join(
        [
            entry.summary,
            entry.meaning,
            entry.start,
            *entry.causes,
            *entry.fix,
            *(c.description for c in entry.confirm),
            *(c.template for c in entry.confirm),
        ]
    )


def test_tlsa_invalid_is_right_about_pkix_usages() -> None:
    entry = entry_for("tlsa-invalid")
    # usages 0/1 are not a cause of tlsa-invalid: with only those, mail is delivered
    assert not any("0/1" in cause or "PKIX" in cause for cause in entry.causes)
    assert "RFC 7672 §3.1.3" in entry.meaning
    assert "mail is delivered" in entry.meaning
    assert "does not authenticate" in entry.meaning
    assert "'encrypt'" in entry.meaning  # Postfix's dane level falls back to encrypt
    causes = " ".join(entry.causes)
    assert "'2 1 1'" in causes and "Let's Encrypt" in causes and "intermediate" in causes
    assert "RSA and ECDSA" in causes
    assert "RSA and ECDSA" in " ".join(entry.fix)


def test_sts_fetch_and_parse_causes_and_per_family_commands() -> None:
    fetch = all_text("sts-policy-fetch-error")
    assert "Content-Type other than text/plain (RFC 8461 §3.2)" in fetch
    templates_ = " ".join(templates(entry_for("sts-policy-fetch-error")))
    assert "dig +short AAAA mta-sts.{domain}" in templates_
    assert "curl -4 " in templates_ and "curl -6 " in templates_
    invalid = " ".join(entry_for("sts-policy-invalid").causes)
    assert "Blank lines" in invalid and "'key :'" in invalid and "ABNF (RFC 8461 §3.2)" in invalid
    assert "Content-Type" in invalid


def test_mode_none_follows_rfc_8461_section_8_3() -> None:
    text = all_text("none")
    assert "RFC 8461 §8.3" in text
    assert "small max_age" in text and "86400" in text
    assert "largest max_age ever served" in text


def test_dnssec_invalid_tells_bogus_from_missing() -> None:
    entry = entry_for("dnssec-invalid")
    assert any(c.template.startswith("dig +cd ") for c in entry.confirm)
    assert any("dnssec-dsfromkey" in c.template for c in entry.confirm)
    assert "MX host's zone" in " ".join(entry.fix)


def test_smaller_corrections() -> None:
    assert "-checkend 0" in " ".join(templates(entry_for("certificate-expired")))
    for key in ("tlsa-invalid", "tlsa"):
        dane = [c for c in entry_for(key).confirm if c.template.startswith("posttls-finger")]
        assert dane and "trust-ad" in dane[0].description
    required = entry_for("dane-required").meaning
    assert required.startswith("Rare:") and "mandatory DANE per destination" in required
    assert "Advice (not RFC text): stay in testing for at least one max_age" in all_text("enforce")
    assert "Advice (not RFC text)" in all_text("testing")


@pytest.mark.parametrize("result_type", RFC_RESULT_TYPES)
def test_every_result_type_starts_with_the_first_thing_to_do(result_type: str) -> None:
    entry = entry_for(result_type)
    assert entry.start and entry.first is not None
    text = guidance.render_text(entry, domain="example.org", mx="mx.example.org", ip="192.0.2.7")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Start here: "))
    meaning = next(i for i, line in enumerate(lines) if entry.meaning[:30] in line)
    assert start < meaning  # it opens the entry
    command = lines[start + 1 : meaning]
    assert any("$ " in line for line in command)
    filled = " ".join(lines[start:meaning])
    assert "mx.example.org" in filled or "example.org" in filled
    if "{ip}" in entry.start:
        assert "192.0.2.7" in filled
    data = guidance.to_dict(entry, domain="example.org", mx="mx.example.org", ip="192.0.2.7")
    assert data["start"]["command"]["command"] == guidance.fill(
        entry.first.template, domain="example.org", mx="mx.example.org", ip="192.0.2.7"
    )


def test_reporter_codes_are_explained_and_cited() -> None:
    assert guidance.REPORTER_CODES
    for code in guidance.REPORTER_CODES:
        assert "RFC" in code.meaning, code.text
        assert code.source and code.result_types
        for key in code.result_types:
            assert find(key) is not None
        assert code in guidance.codes_for(code.result_types[0])
    cases = {
        ("bad https response code: 404", "sts-policy-fetch-error"): "bad https response code",
        (
            'unable to do http request: Get "https://mta-sts.krvtz.net/.well-known/mta-sts.txt"'
            ": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
            "sts-policy-fetch-error",
        ): "unable to do http request",
        ("MX_HOSTS_MISMATCH", "validation-failure"): "MX_HOSTS_MISMATCH",
        ("VALIDATION_FAILURE", "validation-failure"): "VALIDATION_FAILURE",
        (
            "4.7.5 [internal] SSL certificate subject does not match host",
            "certificate-host-mismatch",
        ): "SSL certificate subject does not match host",
    }
    for (value, result_type), text in cases.items():
        found = guidance.reporter_code_for(value, None, result_type=result_type)
        assert found is not None and found[0].text == text, value
    assert guidance.reporter_code_for("something else entirely", None) is None
    assert guidance.reporter_code_for(None, "  ") is None
    # additional-information is read when failure-reason-code says nothing known
    found = guidance.reporter_code_for("x", "MX_HOSTS_MISMATCH", result_type="validation-failure")
    assert found is not None and found[1] == "MX_HOSTS_MISMATCH"


def test_every_code_in_the_real_corpus_is_in_the_catalogue() -> None:
    import gzip

    from conftest import shared_corpus

    corpus = shared_corpus()
    seen = 0
    for path in sorted(corpus.iterdir()):
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        try:
            report = json.loads(raw)
        except ValueError:
            continue  # .eml files and SOURCES.md: their attachments are here as .json.gz
        for policy in report.get("policies") or ():
            for detail in policy.get("failure-details") or ():
                code = detail.get("failure-reason-code")
                info = detail.get("additional-information")
                if code or info:
                    seen += 1
                    found = guidance.reporter_code_for(
                        code, info, result_type=detail.get("result-type")
                    )
                    assert found is not None, (path.name, code, info)
    assert seen >= 3


def test_cli_explain_shows_the_corrected_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "tlsa-invalid", "--mx", "mx.example.org", "--ip", "192.0.2.7"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Start here: Look at mx.example.org as served on 192.0.2.7 first" in out
    assert "the mail is delivered" in out
    assert main(["explain", "sts-policy-fetch-error", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["text"] for c in data["reporter-codes"]] == [
        "bad https response code",
        "unable to do http request",
    ]
    assert data["start"]["command"]["command"].startswith("curl -sv https://mta-sts.<domain>/")
    assert main(["explain", "sts-policy-fetch-error"]) == 0
    out = capsys.readouterr().out
    assert "What reporters write:" in out and '"bad https response code" (Mail.ru)' in out


def test_catalogue_is_package_data_and_module_is_small() -> None:
    from importlib import resources
    from pathlib import Path

    assert resources.files("tlsrpt_tui.core").joinpath(guidance.CATALOGUE_FILE).is_file()
    source = Path(guidance.__file__).read_text(encoding="utf-8")
    assert len(source.splitlines()) < 1000
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert "core/guidance_catalogue.json" in pyproject


@pytest.mark.parametrize("result_type", RFC_RESULT_TYPES)
def test_start_here_without_an_ip_names_no_ip_placeholder(result_type: str) -> None:
    # Many reports carry no receiving-ip: the first step must still be runnable.
    entry = entry_for(result_type)
    text = guidance.render_text(entry, domain="example.org", mx="mx.example.org")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Start here: "))
    block = " ".join(lines[start : start + 4])
    assert "<ip>" not in block, block
    data = guidance.to_dict(entry, domain="example.org", mx="mx.example.org", ip="not-an-ip")
    assert "<ip>" not in data["start"]["text"]
    assert "<ip>" not in data["start"]["command"]["command"]
