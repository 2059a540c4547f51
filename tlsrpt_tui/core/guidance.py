"""What each TLS-RPT value means and what an operator does about it.

The catalogue covers every result-type of RFC 8460 section 4.3, the three
policy-types of section 4.4, the MTA-STS modes of RFC 8461 section 5, a generic
entry for result-types the RFC does not define, and a getting-started page.

Pure Python on purpose (no textual, no rich): the explorer, the ``explain``
subcommand and anything else can share it.

Safety: values used with :func:`fill` come from reports, i.e. from strangers.
Only strict host names and IP addresses are substituted; anything else keeps a
readable placeholder (``<mx-host>``, ``<domain>``, ``<ip>``), so a copied command
can never carry shell syntax from a report. Text built from untrusted input (the
title of the generic entry) is already escaped with :func:`printable`; the UI
still has to treat every string as plain text, not markup.

JSON (:func:`to_dict`) uses hyphenated keys, like RFC 8460's own report format.
"""

from __future__ import annotations

import ipaddress
import re
import textwrap
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Final

__all__ = [
    "ALL_ENTRIES",
    "GETTING_STARTED",
    "KINDS",
    "PLACEHOLDERS",
    "SEVERITIES",
    "UNKNOWN",
    "Command",
    "GuidanceEntry",
    "entry_for",
    "fill",
    "find",
    "groups",
    "printable",
    "render_text",
    "safe_hostname",
    "safe_ip",
    "to_dict",
]

#: ``kind`` values.
KINDS: Final = ("result-type", "policy-type", "sts-mode", "unknown", "page")
#: ``severity`` values: "high" = under an enforced policy (DANE, MTA-STS enforce) mail
#: to that MX is not delivered; "medium" = policy discovery failed, senders fall back
#: to a cached policy or to no policy (mail flows, protection is lost); "info" =
#: descriptive entry; "unknown" = value not defined by the RFC.
SEVERITIES: Final = ("high", "medium", "info", "unknown")
#: What a missing (or refused) value is shown as in a filled command.
PLACEHOLDERS: Final[dict[str, str]] = {"domain": "<domain>", "mx": "<mx-host>", "ip": "<ip>"}

TEXT_WIDTH: Final = 78


@dataclass(frozen=True, slots=True)
class Command:
    """A command to run; ``template`` may hold ``{domain}``, ``{mx}`` and ``{ip}``."""

    description: str
    template: str
    #: False for text that is not a shell command (e.g. a zone file line).
    shell: bool = True


@dataclass(frozen=True, slots=True)
class GuidanceEntry:
    key: str
    title: str
    kind: str  # one of KINDS
    group: str
    rfc_section: str
    summary: str  # one line
    meaning: str
    causes: tuple[str, ...]
    confirm: tuple[Command, ...]
    fix: tuple[str, ...]
    related: tuple[tuple[str, str], ...] = ()  # (key, how it relates)
    severity: str = "info"  # one of SEVERITIES
    #: Headings for causes / confirm / fix (pages and policy entries use other words).
    labels: tuple[str, str, str] = ("Likely causes", "How to confirm", "How to fix")

    @property
    def heading(self) -> str:
        """``key — title`` for catalogue entries; just the title for generic/page entries."""
        if self.kind in ("unknown", "page"):
            return self.title
        return f"{self.key} — {self.title}"


# --------------------------------------------------------------------------- commands

_SMTP_TLS = "openssl s_client -connect {mx}:25 -starttls smtp -servername {mx}"
_SMTP_TLS_IP = 'openssl s_client -connect "[{ip}]:25" -starttls smtp -servername {mx}'
_X509 = "openssl x509 -noout"
_POLICY_URL = "https://mta-sts.{domain}/.well-known/mta-sts.txt"
_WEB_TLS = "openssl s_client -connect mta-sts.{domain}:443 -servername mta-sts.{domain}"

CMD_MX = Command("MX hosts the domain publishes", "dig +short MX {domain}")
CMD_CERT_NAMES = Command(
    "Names and dates of the MX certificate (SAN is what counts)",
    f"{_SMTP_TLS} </dev/null 2>/dev/null | {_X509} -subject -dates -ext subjectAltName",
)
CMD_CERT_AT_IP = Command(
    "The certificate served on the IP from the report (each node may differ)",
    f"{_SMTP_TLS_IP} </dev/null 2>/dev/null | {_X509} -subject -dates -ext subjectAltName",
)
CMD_VERIFY_NAME = Command(
    "Full check incl. name; expect 'Verify return code: 0 (ok)'",
    f"{_SMTP_TLS} -verify_hostname {{mx}} -verify_return_error </dev/null",
)
CMD_SHOWCERTS = Command(
    "The chain as served (s: subject, i: issuer of each certificate)",
    f"{_SMTP_TLS} -showcerts </dev/null",
)
CMD_SWAKS_TLS = Command(
    "SMTP session that insists on STARTTLS (fails if it is not offered)",
    "swaks --server {mx} --to postmaster@{domain} --tls --quit-after TLS",
)
CMD_TLSA = Command("TLSA records of the MX host", "dig +short TLSA _25._tcp.{mx}")
CMD_TLSA_DELV = Command(
    "Validate the TLSA lookup locally; expect '; fully validated'",
    "delv TLSA _25._tcp.{mx}",
)
CMD_SPKI_HASH = Command(
    "SHA-256 of the served public key (the data of a '3 1 1' record)",
    f"{_SMTP_TLS} </dev/null 2>/dev/null | {_X509} -pubkey"
    " | openssl pkey -pubin -outform DER | openssl dgst -sha256",
)
CMD_POSTTLS_DANE = Command(
    "Check as a DANE sender would (needs a DNSSEC-validating resolver)",
    'posttls-finger -c -l dane "[{mx}]"',
)
CMD_STS_TXT = Command(
    "The _mta-sts TXT record (one, 'v=STSv1; id=...')", "dig +short TXT _mta-sts.{domain}"
)
CMD_STS_FETCH = Command(
    "Fetch the policy; expect HTTP 200, no redirect",
    f"curl -sv {_POLICY_URL}",
)
CMD_TLSRPT_TXT = Command("The TLS-RPT record", "dig +short TXT _smtp._tls.{domain}")


# --------------------------------------------------------------------------- entries

NEGOTIATION = "Negotiation failures"
DANE = "DANE policy failures"
STS = "MTA-STS policy failures"
POLICY_TYPES = "Policy types"
STS_MODES = "STS modes"

_POLICY_LABELS = ("Good to know", "Inspect", "Next steps")

STARTTLS_NOT_SUPPORTED = GuidanceEntry(
    key="starttls-not-supported",
    title="MX does not offer STARTTLS",
    kind="result-type",
    group=NEGOTIATION,
    rfc_section="RFC 8460 §4.3.1",
    severity="high",
    summary="The MX did not offer STARTTLS, so no TLS session was possible.",
    meaning=(
        "The sender connected to the MX but STARTTLS was not advertised in the EHLO reply "
        "(or was refused). Under MTA-STS enforce or DANE the sender defers the mail; "
        "without a policy it was sent unencrypted."
    ),
    causes=(
        "TLS not enabled, or no certificate configured, on this MX or one node behind it",
        "A firewall 'ESMTP inspection' (e.g. Cisco ASA) strips STARTTLS from EHLO",
        "STARTTLS offered on some listeners/addresses only (IPv4 vs IPv6)",
        "An on-path attacker removing STARTTLS (downgrade)",
    ),
    confirm=(
        CMD_SWAKS_TLS,
        Command(
            "Try STARTTLS directly ('Didn't find STARTTLS' = not offered)",
            f"{_SMTP_TLS} -brief </dev/null",
        ),
        Command(
            "Same on the IP from the report",
            f"{_SMTP_TLS_IP} -brief </dev/null",
        ),
    ),
    fix=(
        "Enable STARTTLS with a certificate for the MX name on every MX host and address",
        "Turn off SMTP/ESMTP inspection that rewrites the EHLO reply",
        "Test from outside your network: internal tests may bypass the middlebox",
        "Correct setup but still reported? Test from several networks for a downgrade",
    ),
    related=(
        ("no-policy-found", "without a policy this mail went out in plaintext"),
        ("enforce", "under enforce the mail was deferred, not sent in plaintext"),
        ("validation-failure", "used when STARTTLS is offered but the handshake fails"),
    ),
)

CERTIFICATE_HOST_MISMATCH = GuidanceEntry(
    key="certificate-host-mismatch",
    title="Certificate does not name the MX host",
    kind="result-type",
    group=NEGOTIATION,
    rfc_section="RFC 8460 §4.3.1",
    severity="high",
    summary="The MX certificate does not match the MX host name the sender used.",
    meaning=(
        "TLS started, but the certificate broke the policy's constraints: typically no "
        "subjectAltName DNS entry matches the MX host name (MTA-STS ignores the CN; a "
        "wildcard covers exactly one label). The chain itself may be fine."
    ),
    causes=(
        "Certificate issued for another name (internal host name, or only the bare domain)",
        "New MX host added to DNS without adding it to the certificate",
        "Vanity MX name pointing at a provider that serves its own certificate",
        "Some nodes or SNI defaults serve a different certificate",
        "MTA-STS: MX host matches no mx: line of the policy (reporters differ here)",
    ),
    confirm=(CMD_CERT_NAMES, CMD_VERIFY_NAME, CMD_MX, CMD_CERT_AT_IP),
    fix=(
        "Issue a certificate whose SAN lists every MX host name",
        "Serve the same certificate on every node and address of the MX",
        "Hosted mail: set MX to the provider's host names, or have them serve your name",
        "MTA-STS: list each MX (or a one-label wildcard) in the policy's mx: lines",
    ),
    related=(
        (
            "certificate-not-trusted",
            "not-trusted is about who signed the certificate; mismatch is about its names",
        ),
        ("tlsa-invalid", "DANE-EE (3 x x) ignores names; there a wrong key fails as TLSA"),
        ("sts", "MTA-STS checks the MX name against mx: patterns and the certificate"),
    ),
)

CERTIFICATE_EXPIRED = GuidanceEntry(
    key="certificate-expired",
    title="MX certificate has expired",
    kind="result-type",
    group=NEGOTIATION,
    rfc_section="RFC 8460 §4.3.1",
    severity="high",
    summary="The MX presented a certificate past its notAfter date.",
    meaning=(
        "TLS started, but the certificate had expired at the time of the session. "
        "MTA-STS and DANE-TA senders reject it; DANE-EE (3 x x) matching ignores "
        "certificate dates (RFC 7672 §3.1.1)."
    ),
    causes=(
        "Automated renewal failed, or renewed but the MTA was not reloaded",
        "Renewed on one node, load balancer or address but not all",
        "Renewed file written to a path the MTA does not read",
        "Expired intermediate certificate in the served chain",
    ),
    confirm=(
        Command(
            "Validity dates of the served certificate",
            f"{_SMTP_TLS} </dev/null 2>/dev/null | {_X509} -dates -subject",
        ),
        CMD_CERT_AT_IP,
        CMD_SHOWCERTS,
    ),
    fix=(
        "Renew, install and reload the MTA (e.g. postfix reload, systemctl reload exim4)",
        "Check every MX host and address, IPv4 and IPv6",
        "Add a renewal deploy hook that reloads the MTA, and monitor expiry",
    ),
    related=(
        ("certificate-not-trusted", "some senders file expiry there, with a failure-reason-code"),
        ("sts-webpki-invalid", "the same problem on the policy web server, not the MX"),
    ),
)

CERTIFICATE_NOT_TRUSTED = GuidanceEntry(
    key="certificate-not-trusted",
    title="Certificate chain not trusted",
    kind="result-type",
    group=NEGOTIATION,
    rfc_section="RFC 8460 §4.3.1",
    severity="high",
    summary="The certificate does not chain to a CA the sender trusts.",
    meaning=(
        "Covers several certificate failures: unknown or untrusted CA, broken chain, "
        "name constraints and similar. Reporters SHOULD add a failure-reason-code with "
        "the exact reason; read it first."
    ),
    causes=(
        "Self-signed or private-CA certificate (fine for plain STARTTLS, not for MTA-STS)",
        "Intermediate certificate missing from the served chain",
        "Chain needs a root or cross-sign the sender does not have",
        "Certificate revoked, or violating name constraints",
    ),
    confirm=(
        Command(
            "Verify the chain; expect 'Verify return code: 0 (ok)'",
            f"{_SMTP_TLS} -verify_return_error </dev/null",
        ),
        CMD_SHOWCERTS,
        CMD_CERT_AT_IP,
    ),
    fix=(
        "Use a public-CA certificate (e.g. ACME/Let's Encrypt) on every MX",
        "Serve the full chain (leaf + intermediates), e.g. fullchain.pem",
        "Read failure-reason-code in the failure details for the reporter's reason",
        "Keeping a private CA? Only DANE (TLSA 2 or 3) can authenticate it",
    ),
    related=(
        ("certificate-host-mismatch", "the chain may be trusted, but its names are wrong"),
        ("validation-failure", "the other type that SHOULD carry a failure-reason-code"),
        ("tlsa-invalid", "DANE pins keys in DNS, so it does not need a public CA"),
    ),
)

VALIDATION_FAILURE = GuidanceEntry(
    key="validation-failure",
    title="Other negotiation or validation failure",
    kind="result-type",
    group=NEGOTIATION,
    rfc_section="RFC 8460 §4.3.1",
    severity="high",
    summary="A TLS failure that matches none of the other result-types.",
    meaning=(
        "The RFC's catch-all. Reporters SHOULD put the actual reason in "
        "failure-reason-code (free text, reporter specific), so the details carry "
        "the diagnosis; the type alone says little."
    ),
    causes=(
        "Handshake failure: no common TLS version or cipher (e.g. TLS 1.0-only server)",
        "Connection reset or timeout during or just after STARTTLS",
        "Weak key or signature the sender refuses (small DH/RSA, SHA-1)",
        "Reporter-specific checks, e.g. MX host not listed in the MTA-STS policy",
    ),
    confirm=(
        Command(
            "Handshake summary: protocol, cipher, peer certificate",
            f"{_SMTP_TLS} -brief </dev/null",
        ),
        Command(
            "Force TLS 1.2 (repeat with -tls1_3) to see which versions work",
            f"{_SMTP_TLS} -tls1_2 -brief </dev/null",
        ),
        Command(
            "Postfix's probe with PKIX validation",
            'posttls-finger -c -l secure -P /etc/ssl/certs "[{mx}]"',
        ),
    ),
    fix=(
        "Read failure-reason-code and additional-information in the failure details",
        "Offer TLS 1.2 and 1.3 with current ciphers and a 2048+ bit RSA or ECDSA key",
        "Check the MTA log at the session time for the sending-mta-ip",
    ),
    related=(
        ("certificate-not-trusted", "the other type that SHOULD carry a failure-reason-code"),
        ("starttls-not-supported", "used instead when STARTTLS is not offered at all"),
        ("unknown", "non-RFC types are read the same way: look at the details"),
    ),
)

TLSA_INVALID = GuidanceEntry(
    key="tlsa-invalid",
    title="No TLSA record matches the MX",
    kind="result-type",
    group=DANE,
    rfc_section="RFC 8460 §4.3.2.1",
    severity="high",
    summary="TLSA records exist, but none matched the certificate the MX served.",
    meaning=(
        "The MX host has DNSSEC-validated TLSA records at _25._tcp.<mx>, but no record "
        "in the set was valid for the presented chain. DANE senders will not deliver "
        "to this MX until one matches."
    ),
    causes=(
        "Certificate key rotated before the new TLSA record was published",
        "Wrong fields: e.g. '3 1 1' data hashed over the whole certificate (selector 0)",
        "'2 x x' record, but the server does not send that CA certificate in its chain",
        "Some MX nodes or addresses serve a different key",
        "Only PKIX-TA/EE (0/1) records, which SMTP senders may treat as unusable",
    ),
    confirm=(CMD_TLSA, CMD_SPKI_HASH, CMD_POSTTLS_DANE),
    fix=(
        "Before rolling a key, publish TLSA for the current AND the next key",
        "Prefer '3 1 1'; keep the key across renewals (e.g. certbot --reuse-key)",
        "With '2 x x', serve the full chain including that CA certificate",
        "TLSA is per MX host: check every MX name, node and address",
    ),
    related=(
        ("dane-required", "no TLSA at all, where tlsa-invalid means TLSA that does not match"),
        ("dnssec-invalid", "a DNSSEC failure stops the lookup before TLSA is compared"),
        ("tlsa", "the policy-type these failures are reported under"),
    ),
)

DNSSEC_INVALID = GuidanceEntry(
    key="dnssec-invalid",
    title="DNSSEC validation failed",
    kind="result-type",
    group=DANE,
    rfc_section="RFC 8460 §4.3.2.1",
    severity="high",
    summary="The sender's resolver returned no DNSSEC-valid records.",
    meaning=(
        "The validating resolver could not return valid answers (bogus signatures, "
        "SERVFAIL) for the MX or TLSA lookups. A DANE sender cannot tell a broken zone "
        "from an attack, so it defers the mail."
    ),
    causes=(
        "Expired RRSIGs: the zone signer stopped re-signing",
        "Parent DS does not match DNSKEY after a key rollover or DNS provider move",
        "Name servers answer TLSA queries wrongly or with broken NSEC/NSEC3 denial",
        "Some of the zone's name servers serve stale or unsigned data",
    ),
    confirm=(
        CMD_TLSA_DELV,
        Command("MX lookup with DNSSEC data; 'ad' flag = validated", "dig +dnssec MX {domain}"),
        Command("DS at the parent (compare with DNSKEY)", "dig +short DS {domain}"),
        Command("DNSKEY of the zone", "dig +short DNSKEY {domain}"),
    ),
    fix=(
        "Fix signing (restart/re-run the signer) and monitor RRSIG expiry",
        "Update the DS at the registrar to match the current KSK",
        "Analyse the domain and the MX host's zone at https://dnsviz.net",
        "The MX host's zone may be a provider's: the fault can be on their side",
    ),
    related=(
        ("dane-required", "an unsigned zone shows there (if DANE is mandated); a broken one here"),
        ("tlsa-invalid", "once DNSSEC validates, TLSA records are compared to the certificate"),
    ),
)

DANE_REQUIRED = GuidanceEntry(
    key="dane-required",
    title="Sender requires DANE, MX has none",
    kind="result-type",
    group=DANE,
    rfc_section="RFC 8460 §4.3.2.1",
    severity="high",
    summary="The sender requires DANE here, but this MX has no validated TLSA records.",
    meaning=(
        "The sender is configured (usually by agreement; mandatory DANE, RFC 7672 §6) "
        "to require DANE for every MX of this domain, but found no DNSSEC-validated "
        "TLSA records for this MX host. Mail is not delivered to it."
    ),
    causes=(
        "New or backup MX host added without TLSA records",
        "The MX host's zone is not DNSSEC-signed (e.g. a provider's host name)",
        "TLSA records removed during a migration",
        "A partner enforces DANE for your domain that you never deployed",
    ),
    confirm=(
        CMD_MX,
        Command(
            "TLSA with DNSSEC data; needs answers and the 'ad' flag",
            "dig +dnssec TLSA _25._tcp.{mx}",
        ),
        CMD_TLSA_DELV,
    ),
    fix=(
        "Publish TLSA at _25._tcp.<mx> for every MX host, in a signed zone",
        "Or point MX at hosts that already publish TLSA",
        "Or ask the sender to drop the DANE requirement for your domain",
    ),
    related=(
        ("tlsa-invalid", "records exist but do not match the certificate"),
        ("dnssec-invalid", "signed but broken zones show up there instead"),
        ("tlsa", "what a working DANE setup is reported as"),
    ),
)

STS_POLICY_FETCH_ERROR = GuidanceEntry(
    key="sts-policy-fetch-error",
    title="MTA-STS policy could not be fetched",
    kind="result-type",
    group=STS,
    rfc_section="RFC 8460 §4.3.2.2",
    severity="medium",
    summary="The sender could not retrieve the MTA-STS policy over HTTPS.",
    meaning=(
        "The _mta-sts TXT record announced a policy, but fetching "
        "https://mta-sts.<domain>/.well-known/mta-sts.txt failed (DNS, connect, timeout, "
        "non-200, or a redirect, which senders must not follow). Senders use a cached "
        "policy if they have one, else deliver without MTA-STS."
    ),
    causes=(
        "No DNS record for mta-sts.<domain>, or nothing listening on port 443",
        "Redirect (e.g. to www), 404 or 5xx instead of 200",
        "Published IPv6 (or IPv4) address that does not serve the site",
        "WAF/bot protection or CDN challenge blocking non-browser clients",
    ),
    confirm=(
        CMD_STS_FETCH,
        Command(
            "Same over IPv6; expect 200",
            f"curl -6 -sS -o /dev/null -w '%{{http_code}}\\n' {_POLICY_URL}",
        ),
        Command("Addresses of the policy host", "dig +short A mta-sts.{domain}"),
        CMD_STS_TXT,
    ),
    fix=(
        "Serve the file at exactly that URL with status 200, no redirect",
        "Make mta-sts.<domain> answer on 443 at every published address",
        "Exempt /.well-known/mta-sts.txt from bot protection",
    ),
    related=(
        ("sts-webpki-invalid", "if HTTPS connects but the certificate fails, that type is used"),
        ("sts-policy-invalid", "fetched fine, but the content is wrong"),
        ("none", "deleting a policy early makes cached senders report fetch errors"),
    ),
)

STS_POLICY_INVALID = GuidanceEntry(
    key="sts-policy-invalid",
    title="MTA-STS policy is invalid",
    kind="result-type",
    group=STS,
    rfc_section="RFC 8460 §4.3.2.2",
    severity="medium",
    summary="The MTA-STS policy was fetched but failed validation.",
    meaning=(
        "The sender retrieved the policy, but the policy as a whole was not valid: "
        "syntax errors, missing or bad fields, or not a policy at all. Senders then "
        "use a cached policy if they have one, else deliver without MTA-STS."
    ),
    causes=(
        "Missing or misspelt field: version: STSv1, mode, mx and max_age are required",
        "Bad value: mode not enforce/testing/none, max_age not a number (max 31557600)",
        "An HTML page, byte-order mark or other text instead of the policy",
        "Malformed mx: pattern (a URL, a port, or * anywhere but a whole first label)",
    ),
    confirm=(
        Command(
            "Policy with hidden characters shown (^M = CR, M-oM-;M-? = BOM)",
            f"curl -s {_POLICY_URL} | cat -A",
        ),
        Command("Headers: status and Content-Type (text/plain)", f"curl -sI {_POLICY_URL}"),
        CMD_STS_TXT,
    ),
    fix=(
        "One 'key: value' per line: version: STSv1, mode: testing, mx: <mx>, max_age: 604800",
        "One mx: line per MX host or one-label wildcard (*.example.com)",
        "After any change, publish a new id= in the _mta-sts TXT record",
    ),
    related=(
        ("sts-policy-fetch-error", "the policy never arrived; here it arrived but is wrong"),
        ("sts", "a valid policy is reported under policy-type sts"),
    ),
)

STS_WEBPKI_INVALID = GuidanceEntry(
    key="sts-webpki-invalid",
    title="Policy web server certificate invalid",
    kind="result-type",
    group=STS,
    rfc_section="RFC 8460 §4.3.2.2",
    severity="medium",
    summary="The HTTPS certificate of mta-sts.<domain> failed PKIX validation.",
    meaning=(
        "The sender reached the policy host but could not authenticate it: "
        "certificate untrusted, expired, or not naming mta-sts.<domain>. The policy "
        "counts as unavailable. This is the web server's certificate, not the MX's."
    ),
    causes=(
        "Certificate lacks mta-sts.<domain> (covers only www or the bare domain)",
        "Expired certificate, or intermediate missing on the web server",
        "Shared hosting or CDN serving a default certificate for that name",
        "Self-signed certificate",
    ),
    confirm=(
        Command(
            "Verify the policy host; expect 'Verify return code: 0 (ok)'",
            f"{_WEB_TLS} -verify_hostname mta-sts.{{domain}} -verify_return_error </dev/null",
        ),
        Command(
            "Names and dates of its certificate",
            f"{_WEB_TLS} </dev/null 2>/dev/null | {_X509} -subject -dates -ext subjectAltName",
        ),
        Command("curl fails on any certificate problem", f"curl -sS -o /dev/null {_POLICY_URL}"),
    ),
    fix=(
        "Get a public-CA certificate covering mta-sts.<domain>; automate renewal",
        "Serve the full chain",
        "Check the CDN/hosting custom-domain setup for that host name",
    ),
    related=(
        ("sts-policy-fetch-error", "fetch errors are about reaching the server at all"),
        ("certificate-not-trusted", "the same kind of check, on the MX's SMTP certificate"),
    ),
)

POLICY_STS = GuidanceEntry(
    key="sts",
    title="MTA-STS policy applied",
    kind="policy-type",
    group=POLICY_TYPES,
    rfc_section="RFC 8460 §4.4; RFC 8461",
    summary="The sender applied the domain's MTA-STS policy (RFC 8461).",
    meaning=(
        "policy-string holds the policy lines the sender used (version, mode, mx, "
        "max_age); mx-host lists its mx patterns. In enforce mode, failures mean mail "
        "was not delivered to that MX; in testing mode it was delivered anyway."
    ),
    causes=(
        "The mode is in policy-string; see the enforce/testing/none entries",
        "mx: *.example.com matches exactly one label (a.example.com, not a.b.example.com)",
        "Senders cache the policy up to max_age; they re-fetch when the TXT id= changes",
    ),
    confirm=(CMD_STS_TXT, CMD_STS_FETCH, CMD_MX),
    fix=(
        "Compare the reported policy-string with the file you serve now",
        "Check that every MX host matches an mx: pattern",
    ),
    related=(
        ("enforce", "what failures mean when the policy is enforced"),
        ("testing", "what failures mean in testing mode"),
        ("tlsa", "MTA-STS must not override a failing DANE check (RFC 8461 §2)"),
    ),
    labels=_POLICY_LABELS,
)

POLICY_TLSA = GuidanceEntry(
    key="tlsa",
    title="DANE (TLSA) policy applied",
    kind="policy-type",
    group=POLICY_TYPES,
    rfc_section="RFC 8460 §4.4; RFC 7672",
    summary="The sender applied DANE: DNSSEC-validated TLSA records of the MX.",
    meaning=(
        "policy-string holds the TLSA records (usage selector matching-type data) found "
        "at _25._tcp.<mx>. DANE needs DNSSEC for the MX lookup and the MX host's TLSA "
        "records; failures under it mean the mail was not delivered to that MX."
    ),
    causes=(
        "SMTP uses usages 3 (DANE-EE) and 2 (DANE-TA); 0 and 1 should not be published",
        "TLSA is per MX host: every MX needs its own _25._tcp record",
        "With '3 x x', certificate names and dates are not checked, only the key",
    ),
    confirm=(CMD_TLSA, CMD_TLSA_DELV, CMD_POSTTLS_DANE),
    fix=(
        "Roll keys safely: publish the next TLSA, wait out the TTL, then switch",
        "Monitor RRSIG expiry and that TLSA matches the served key",
    ),
    related=(
        ("tlsa-invalid", "TLSA present but not matching"),
        ("dnssec-invalid", "DNSSEC broken for the lookups"),
        ("sts", "the other authenticated policy type"),
    ),
    labels=_POLICY_LABELS,
)

POLICY_NONE_FOUND = GuidanceEntry(
    key="no-policy-found",
    title="No policy found",
    kind="policy-type",
    group=POLICY_TYPES,
    rfc_section="RFC 8460 §4.4",
    summary="The sender found neither an MTA-STS nor a DANE policy.",
    meaning=(
        "Sessions were opportunistic: the sender may use STARTTLS but does not "
        "authenticate the MX. Failures here (e.g. starttls-not-supported) usually mean "
        "mail went out unencrypted rather than being deferred."
    ),
    causes=(
        "Normal for a domain that publishes only a TLS-RPT record",
        "Also seen when the _mta-sts TXT record is missing or invalid, or mode is none",
        "No DANE: MX zone unsigned or no TLSA at _25._tcp.<mx>",
    ),
    confirm=(CMD_STS_TXT, CMD_TLSA, CMD_TLSRPT_TXT),
    fix=(
        "For authenticated TLS deploy MTA-STS (start with mode: testing) and/or DANE",
        "Keep TLS-RPT: reports show what a policy would catch",
    ),
    related=(
        ("sts", "what reports look like once MTA-STS is live"),
        ("tlsa", "what reports look like once DANE is live"),
        ("starttls-not-supported", "the failure most often seen under no-policy-found"),
    ),
    labels=_POLICY_LABELS,
)

MODE_ENFORCE = GuidanceEntry(
    key="enforce",
    title="STS mode: enforce",
    kind="sts-mode",
    group=STS_MODES,
    rfc_section="RFC 8461 §5",
    summary="Senders deliver only to MX hosts that pass the policy.",
    meaning=(
        "MTA-STS senders must not deliver to an MX that matches no mx: pattern, lacks "
        "STARTTLS or has no valid PKIX certificate for its name. Failing MX hosts are "
        "skipped; if none pass, mail is deferred and may eventually bounce."
    ),
    causes=(
        "Run testing first, for at least one max_age, until reports are clean",
        "Every MX: listed in mx:, offers STARTTLS, public-CA certificate naming it",
        "An expired MX certificate now means deferred mail, not just a report",
    ),
    confirm=(CMD_STS_FETCH, CMD_STS_TXT, CMD_VERIFY_NAME),
    fix=(
        "To switch: set mode: enforce in the file, then publish a new id=",
        "To roll back: mode: testing plus a new id=; senders re-fetch on the new id",
    ),
    related=(
        ("testing", "the safe mode to start with"),
        ("none", "how to withdraw a policy"),
    ),
    labels=("Before enforcing", "Inspect", "Change it"),
)

MODE_TESTING = GuidanceEntry(
    key="testing",
    title="STS mode: testing",
    kind="sts-mode",
    group=STS_MODES,
    rfc_section="RFC 8461 §5",
    summary="Senders check the policy and report failures, but still deliver.",
    meaning=(
        "Policy failures do not stop delivery (the sender may even go without TLS), "
        "but TLS-RPT senders report them. Reports in testing show what enforce would "
        "have blocked."
    ),
    causes=(
        "Useless without a TLS-RPT record: nobody hears about the failures",
        "sts-* and certificate-* failures here would be lost mail under enforce",
    ),
    confirm=(CMD_TLSRPT_TXT, CMD_STS_FETCH, CMD_STS_TXT),
    fix=("Clean reports for a full max_age? Switch to enforce and publish a new id=",),
    related=(
        ("enforce", "where testing should lead"),
        ("none", "how to withdraw a policy"),
    ),
    labels=_POLICY_LABELS,
)

MODE_NONE = GuidanceEntry(
    key="none",
    title="STS mode: none",
    kind="sts-mode",
    group=STS_MODES,
    rfc_section="RFC 8461 §5, §8.3",
    summary="The policy is withdrawn: senders treat the domain as having no policy.",
    meaning=(
        "Used to remove MTA-STS safely: senders that cached an enforce or testing "
        "policy replace it with this one, instead of enforcing a stale cache until "
        "max_age runs out."
    ),
    causes=(
        "To remove MTA-STS: publish mode: none with a new id=, wait the old max_age",
        "Only then delete the TXT record and the policy file",
        "Deleting them at once leaves senders using the cached policy until max_age",
    ),
    confirm=(CMD_STS_FETCH, CMD_STS_TXT),
    fix=("To re-enable: publish testing or enforce with a new id=",),
    related=(
        ("enforce", "the mode being withdrawn, usually"),
        ("no-policy-found", "how senders report the domain afterwards"),
    ),
    labels=_POLICY_LABELS,
)

_UNKNOWN_MEANING = (
    "RFC 8460 §4.3 defines eleven result-types; this is not one of them. Reporters "
    "sometimes send their own values; the failure details (failure-reason-code, "
    "additional-information) usually say more."
)

UNKNOWN = GuidanceEntry(
    key="unknown",
    title="Unknown result-type",
    kind="unknown",
    group="Other",
    rfc_section="not defined in RFC 8460",
    severity="unknown",
    summary="A result-type that RFC 8460 does not define.",
    meaning=_UNKNOWN_MEANING,
    causes=(
        "Reporter-specific or vendor value (e.g. from a draft or a typo)",
        "A type registered with IANA after RFC 8460",
    ),
    confirm=(CMD_MX, CMD_VERIFY_NAME, CMD_STS_TXT, CMD_TLSA),
    fix=(
        "Read failure-reason-code and additional-information in the failure details",
        "Check IANA's 'STARTTLS Validation Result Types' registry",
        "Ask the reporter, via the report's contact-info",
    ),
    related=(("validation-failure", "the RFC's own catch-all type, read the same way"),),
)

GETTING_STARTED = GuidanceEntry(
    key="getting-started",
    title="Getting started: receive TLS-RPT reports",
    kind="page",
    group="Getting started",
    rfc_section="RFC 8460 §3, §5",
    summary="Publish a _smtp._tls TXT record; senders then report daily.",
    meaning=(
        "Senders that support TLS-RPT look up _smtp._tls.<domain> and send one report "
        "per UTC day to each rua address: by mail (gzip attachment) or HTTPS POST. "
        "Files are named <submitter>!<policy-domain>!<begin>!<end>!<id>.json.gz."
    ),
    causes=(
        "Owner name is _smtp._tls.<domain> on the policy (recipient) domain, not the MX",
        "Value starts with exactly v=TLSRPTv1; then rua= mailto: and/or https: URIs",
        "Exactly one TXT record there may start with v=TLSRPTv1",
        "rua works: the mailbox takes mail from outside; the HTTPS URL accepts POST",
    ),
    confirm=(
        Command(
            "Zone file line: reports by mail",
            '_smtp._tls.{domain}. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{domain}"',
            shell=False,
        ),
        Command(
            "Or by HTTPS POST (application/tlsrpt+gzip)",
            '_smtp._tls.{domain}. IN TXT "v=TLSRPTv1; rua=https://tlsrpt.{domain}/v1"',
            shell=False,
        ),
        CMD_TLSRPT_TXT,
    ),
    fix=(
        "Open saved reports, mail or mbox files or folders: tlsrpt-tui PATH",
        "Headless overview: tlsrpt-tui summary PATH",
        "Pull from a mailbox: tlsrpt-tui fetch imap ... (see --help)",
        "Accept reports yourself: tlsrpt-tui receive ... (see --help)",
        "First reports arrive a day or two after publishing",
    ),
    related=(
        ("no-policy-found", "what reports show before MTA-STS or DANE is deployed"),
        ("testing", "the usual next step: MTA-STS in testing mode"),
    ),
    labels=("Check the record", "Publish and check", "Then"),
)

#: Every catalogue entry, ordered as the RFCs group them (not UNKNOWN, not GETTING_STARTED).
ALL_ENTRIES: Final[tuple[GuidanceEntry, ...]] = (
    STARTTLS_NOT_SUPPORTED,
    CERTIFICATE_HOST_MISMATCH,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_NOT_TRUSTED,
    VALIDATION_FAILURE,
    TLSA_INVALID,
    DNSSEC_INVALID,
    DANE_REQUIRED,
    STS_POLICY_FETCH_ERROR,
    STS_POLICY_INVALID,
    STS_WEBPKI_INVALID,
    POLICY_STS,
    POLICY_TLSA,
    POLICY_NONE_FOUND,
    MODE_ENFORCE,
    MODE_TESTING,
    MODE_NONE,
)

_BY_KEY: Final[dict[str, GuidanceEntry]] = {
    e.key: e for e in (*ALL_ENTRIES, UNKNOWN, GETTING_STARTED)
}


def groups() -> tuple[tuple[str, tuple[GuidanceEntry, ...]], ...]:
    """``(group name, entries)`` pairs of :data:`ALL_ENTRIES`, in catalogue order."""
    order: dict[str, list[GuidanceEntry]] = {}
    for entry in ALL_ENTRIES:
        order.setdefault(entry.group, []).append(entry)
    return tuple((name, tuple(entries)) for name, entries in order.items())


def find(value: str) -> GuidanceEntry | None:
    """The entry for a key (case and surrounding space ignored), or None."""
    return _BY_KEY.get(value.strip().lower())


MAX_SHOWN_VALUE = 64


def entry_for(result_type: str) -> GuidanceEntry:
    """The entry for a result-type (or any catalogue key); unknown values get a generic
    entry whose title and meaning name the value (escaped, shortened if very long)."""
    found = find(result_type)
    if found is not None and found.kind != "unknown":
        return found
    shown = printable(result_type.strip())
    if len(shown) > MAX_SHOWN_VALUE:
        shown = shown[: MAX_SHOWN_VALUE - 1] + "…"
    return replace(
        UNKNOWN,
        title=f'Unknown result-type "{shown}"',
        summary=f'"{shown}" is not a result-type defined in RFC 8460.',
    )


# --------------------------------------------------------------------------- safety


def printable(value: str) -> str:
    """``value`` with control, format and unassigned characters (and backslashes)
    escaped in Python's ``\\x1b`` / ``\\u202e`` notation, safe to print anywhere."""
    out: list[str] = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char)[0] == "C":
            code = ord(char)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)


def safe_hostname(value: str | None) -> str | None:
    """``value`` if it is a plain ASCII host name (letters, digits, ``-``, ``_``; no label
    starting or ending with ``-``; at most 253 characters), without a trailing dot;
    otherwise None."""
    if value is None:
        return None
    candidate = value.strip()
    if candidate.endswith("."):
        candidate = candidate[:-1]
    if len(candidate) > 253 or not _HOSTNAME_RE.fullmatch(candidate):
        return None
    return candidate


def safe_ip(value: str | None) -> str | None:
    """The canonical text of an IPv4/IPv6 address (no zone id), or None."""
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return str(address)


_PLACEHOLDER_RE = re.compile(r"\{(domain|mx|ip)\}")


def fill(
    template: str,
    *,
    domain: str | None = None,
    mx: str | None = None,
    ip: str | None = None,
) -> str:
    """Put values into ``{domain}``, ``{mx}`` and ``{ip}``. A value that is missing, or
    is not a strict host name (domain, mx) / IP address (ip), is not used: the
    placeholder (``<domain>``, ``<mx-host>``, ``<ip>``) stays. Other braces are kept."""
    values = {"domain": safe_hostname(domain), "mx": safe_hostname(mx), "ip": safe_ip(ip)}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] or PLACEHOLDERS[name]

    return _PLACEHOLDER_RE.sub(substitute, template)


# --------------------------------------------------------------------------- output


def to_dict(
    entry: GuidanceEntry,
    domain: str | None = None,
    mx: str | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """A JSON-ready dict, hyphenated keys. Each confirm item has the filled ``command``
    and the raw ``template``; ``labels`` gives the headings for causes/confirm/fix."""
    causes_label, confirm_label, fix_label = entry.labels
    return {
        "key": entry.key,
        "title": entry.title,
        "kind": entry.kind,
        "group": entry.group,
        "rfc-section": entry.rfc_section,
        "severity": entry.severity,
        "summary": entry.summary,
        "meaning": entry.meaning,
        "causes": list(entry.causes),
        "confirm": [
            {
                "description": c.description,
                "command": fill(c.template, domain=domain, mx=mx, ip=ip),
                "template": c.template,
                "shell": c.shell,
            }
            for c in entry.confirm
        ],
        "fix": list(entry.fix),
        "related": [{"key": key, "note": note} for key, note in entry.related],
        "labels": {"causes": causes_label, "confirm": confirm_label, "fix": fix_label},
    }


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    # No breaks at hyphens: "failure-reason-code" must stay in one piece.
    return textwrap.wrap(
        text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )


def _bullets(items: tuple[str, ...], width: int) -> list[str]:
    return [line for item in items for line in _wrap(item, width, "  - ", "    ")]


def render_text(
    entry: GuidanceEntry,
    domain: str | None = None,
    mx: str | None = None,
    ip: str | None = None,
    *,
    width: int = TEXT_WIDTH,
) -> str:
    """Plain text for a terminal. Prose is wrapped to ``width``; commands are never
    wrapped (they must stay copyable); shell commands start with ``$ ``."""
    causes_label, confirm_label, fix_label = entry.labels
    meta = [entry.group, entry.rfc_section]
    if entry.severity not in ("info", ""):
        meta.append(f"severity: {entry.severity}")
    lines = [entry.heading, " · ".join(meta), ""]
    lines.extend(_wrap(entry.summary, width))
    lines.append("")
    lines.extend(_wrap(entry.meaning, width))
    lines.extend(["", f"{causes_label}:"])
    lines.extend(_bullets(entry.causes, width))
    lines.extend(["", f"{confirm_label}:"])
    for command in entry.confirm:
        lines.extend(_wrap(command.description, width, "  - ", "    "))
        prompt = "    $ " if command.shell else "      "
        lines.append(prompt + fill(command.template, domain=domain, mx=mx, ip=ip))
    lines.extend(["", f"{fix_label}:"])
    lines.extend(_bullets(entry.fix, width))
    if entry.related:
        lines.extend(["", "Related:"])
        lines.extend(_bullets(tuple(f"{key}: {note}" for key, note in entry.related), width))
    return "\n".join(lines) + "\n"
