"""Deterministic generator of realistic SMTP TLS Reporting (RFC 8460) archives.

Pure standard library (no Textual): used by the bundled demo archive, by the
benchmarks and by tests.

Reports imitate what real reporters send (see the real-report corpus notes):

* Google: ``Google Inc.``, day ending ``23:59:59Z``, report-id
  ``2026-11-01T00:00:00Z_example.com``, ``mx-host`` as a list, one report per domain,
  no ``failure-details`` key when nothing failed.
* Microsoft: ``Microsoft Corporation``, the SAME sessions under an ``sts`` and a
  ``tlsa`` policy block when the domain has both, the TLSA ``policy-string`` is ONE
  string holding a JSON array of records, the unique-id is an 18-digit Windows
  FILETIME, ``sts-policy-fetch-error`` details carry only result-type and count.
* Yahoo: ``Yahoo``, contact ``tlsrpt@yahooinc.com`` (no real sample seen: modelled
  on the RFC with a ``receiving-mx-helo``).
* Mail.ru: ends at the next midnight, Go error texts in ``failure-reason-code``, no
  ``policy-string`` when the policy could not be fetched.
* Small reporters: Postfix sites running sys4 ``tlsrpt-reporter`` (organization-name
  is the host name, ``summary`` before ``policy``, ``failure-details: []``, report-id
  ``<day>T00:00:00Z_idx1_<domain>``) and a small ISP (ends at the next midnight,
  ``policy-string: []`` for no-policy-found, ``additional-information`` URIs).

Everything is deterministic: randomness comes from seeded :class:`random.Random`
instances and keyed hashes, dates are arguments, and gzip members are written with
``mtime=0`` and a fixed header, so the same arguments give byte-identical files (with
the same zlib build).

Only reserved names and addresses are used for the receiving side: example.com/.net/
.org, ``*.example``, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TypedDict

from tlsrpt_tui.demo.parts import (
    FILETIME_OFFSET,
    GOOGLE,
    KESTREL,
    MAILRU,
    MICROSOFT,
    NORDWIND,
    YAHOO,
    MxHost,
    PolicyDomain,
    Reporter,
    Traffic,
    build_report,
    clock,
    day_start_unix,
    encode_report,
    failure_reason,
    mbox_bytes,
    poisson,
    report_relpath,
    spread_failures,
    tlsrpt_message,
)

# Re-exported, as before the split: tests, benchmarks and scripts import these from here.
from tlsrpt_tui.demo.parts import RFC8460_FILENAME_PATTERN as RFC8460_FILENAME_PATTERN
from tlsrpt_tui.demo.world import ArchiveStats as ArchiveStats
from tlsrpt_tui.demo.world import generate_archive as generate_archive

DEMO_END = date(2026, 11, 27)
DEMO_DAYS = 30
DEMO_START = DEMO_END - timedelta(days=DEMO_DAYS - 1)
#: The demo's documented "now": the end of its last day (its latest date-range end).
#: ``check`` and the explorer's alerts measure every rule from it on the demo archive
#: (not from the wall clock, by which the demo would only ever say "no reports"), so
#: the demo stays deterministic and shows its incidents on any date.
DEMO_NOW = datetime.combine(DEMO_END + timedelta(days=1), time(0, 0), tzinfo=UTC)
DEMO_SALT = "tlsrpt-tui-demo"

DEMO_REPORTERS: tuple[Reporter, ...] = (GOOGLE, MICROSOFT, YAHOO, MAILRU, NORDWIND, KESTREL)


def _tlsa_record(label: str) -> str:
    return f"2 1 1 {hashlib.sha256(label.encode()).hexdigest().upper()}"


EXAMPLE_COM = PolicyDomain(
    name="example.com",
    mx=(
        MxHost("mx1.example.com", "192.0.2.11", "2001:db8:25::11", 0.5),
        MxHost("mx2.example.com", "192.0.2.12", "2001:db8:25::12", 0.5),
    ),
    sts_mode="enforce",
    sts_mx=("mx1.example.com", "mx2.example.com"),
    sts_max_age=604800,
    tlsa=(_tlsa_record("demo issuing CA R10"), _tlsa_record("demo issuing CA R11")),
)
EXAMPLE_NET = PolicyDomain(
    name="example.net",
    mx=(
        MxHost("mx.example.net", "192.0.2.21", None, 0.97),
        MxHost("backup-mx.example.net", "192.0.2.22", None, 0.03, helo="bkp01.example.net"),
    ),
    sts_mode="testing",
    sts_mx=("*.example.net",),
    sts_max_age=86400,
)
EXAMPLE_ORG = PolicyDomain(name="example.org", mx=(MxHost("mail.example.org", "192.0.2.31"),))
SHOP_EXAMPLE = PolicyDomain(
    name="shop.example",
    mx=(MxHost("mx.shop.example", "192.0.2.41", "2001:db8:5e::41"),),
    sts_mode="enforce",
    sts_mx=("mx.shop.example",),
    sts_max_age=604800,
)
DEMO_DOMAINS: tuple[PolicyDomain, ...] = (EXAMPLE_COM, EXAMPLE_NET, EXAMPLE_ORG, SHOP_EXAMPLE)

#: Weekday mean sessions per (reporter key, policy domain); absent pairs never report.
DEMO_VOLUMES: dict[tuple[str, str], float] = {
    ("google", "example.com"): 3200,
    ("microsoft", "example.com"): 1200,
    ("yahoo", "example.com"): 380,
    ("mailru", "example.com"): 35,
    ("nordwind", "example.com"): 22,
    ("kestrel", "example.com"): 12,
    ("google", "example.net"): 450,
    ("microsoft", "example.net"): 160,
    ("yahoo", "example.net"): 55,
    ("nordwind", "example.net"): 9,
    ("google", "example.org"): 40,
    ("microsoft", "example.org"): 12,
    ("google", "shop.example"): 260,
    ("microsoft", "shop.example"): 90,
    ("yahoo", "shop.example"): 30,
    ("mailru", "shop.example"): 3,
}

CERT_EXPIRED_DAYS = (date(2026, 11, 26), date(2026, 11, 27))
STS_OUTAGE_DAYS = (date(2026, 11, 11), date(2026, 11, 13))
KESTREL_LAST_DAY = date(2026, 11, 23)
DUPLICATE_DAY = date(2026, 11, 20)
MBOX_DAYS = (date(2026, 11, 3), date(2026, 11, 4))
TRUNCATED_DAY = date(2026, 11, 18)
HTML_ERROR_DAY = date(2026, 11, 5)
QUIRK_DAY = date(2026, 11, 15)

DEMO_EML = "mail/microsoft.com-example.com-2026-11-20.eml"
DEMO_MBOX = "mail/tlsrpt-inbox.mbox"


def _demo_relpath(reporter: Reporter, domain: str, day: date, *, ext: str = ".json.gz") -> str:
    path = report_relpath(reporter, domain, day, DEMO_SALT)
    return path.removesuffix(".json.gz") + ext


DemoIncident = TypedDict(
    "DemoIncident",
    {
        "id": str,
        "kind": str,  # failure | silence | duplicate | container | bad-file | quirk
        "what": str,
        "policy-domain": str,
        "mx": str | None,
        "result-type": str | None,
        "reporters": tuple[str, ...],  # organization-names
        "first-day": date,
        "last-day": date,
        "files": tuple[str, ...],  # archive-relative paths involved, if specific files
    },
)

#: Everything unusual in the bundled demo archive, on purpose. Every failure-details row
#: in the archive belongs to one of the "failure" incidents; nothing else fails.
DEMO_INCIDENTS: tuple[DemoIncident, ...] = (
    {
        "id": "mx2-certificate-expired",
        "kind": "failure",
        "what": "The TLS certificate of mx2.example.com expired at 2026-11-26T00:00:00Z; "
        "senders fail on mx2 and retry on mx1 (about a third of all sessions fail).",
        "policy-domain": "example.com",
        "mx": "mx2.example.com",
        "result-type": "certificate-expired",
        "reporters": (
            "Google Inc.",
            "Microsoft Corporation",
            "Yahoo",
            "Mail.ru",
            "Nordwind Telecom",
        ),
        "first-day": CERT_EXPIRED_DAYS[0],
        "last-day": CERT_EXPIRED_DAYS[1],
        "files": (),
    },
    {
        "id": "backup-mx-no-starttls",
        "kind": "failure",
        "what": "backup-mx.example.net does not offer STARTTLS; example.net's MTA-STS policy is "
        "in testing mode so mail is delivered in clear text. Low volume (about 3% of sessions), "
        "all month; Google reports it every day, the others on most days.",
        "policy-domain": "example.net",
        "mx": "backup-mx.example.net",
        "result-type": "starttls-not-supported",
        "reporters": ("Google Inc.", "Microsoft Corporation", "Yahoo", "Nordwind Telecom"),
        "first-day": DEMO_START,
        "last-day": DEMO_END,
        "files": (),
    },
    {
        "id": "shop-sts-policy-fetch-outage",
        "kind": "failure",
        "what": "https://mta-sts.shop.example/.well-known/mta-sts.txt answered 404 for three "
        "days: every session of Google, Microsoft and Mail.ru fails with "
        "sts-policy-fetch-error (no policy-string in their reports); Yahoo kept its cached "
        "policy and reports successes.",
        "policy-domain": "shop.example",
        "mx": None,
        "result-type": "sts-policy-fetch-error",
        "reporters": ("Google Inc.", "Microsoft Corporation", "Mail.ru"),
        "first-day": STS_OUTAGE_DAYS[0],
        "last-day": STS_OUTAGE_DAYS[1],
        "files": (),
    },
    {
        "id": "kestrel-stops-reporting",
        "kind": "silence",
        "what": "mail.kestrel-consulting.example reported example.com every day until "
        "2026-11-23, then stopped sending reports.",
        "policy-domain": "example.com",
        "mx": None,
        "result-type": None,
        "reporters": (KESTREL.organization_name,),
        "first-day": KESTREL_LAST_DAY + timedelta(days=1),
        "last-day": DEMO_END,
        "files": (),
    },
    {
        "id": "microsoft-duplicate",
        "kind": "duplicate",
        "what": "The same Microsoft report is present twice: as its .json.gz and inside the "
        "report e-mail (application/tlsrpt+gzip part).",
        "policy-domain": "example.com",
        "mx": None,
        "result-type": None,
        "reporters": ("Microsoft Corporation",),
        "first-day": DUPLICATE_DAY,
        "last-day": DUPLICATE_DAY,
        "files": (_demo_relpath(MICROSOFT, "example.com", DUPLICATE_DAY), DEMO_EML),
    },
    {
        "id": "google-mbox",
        "kind": "container",
        "what": "Two Google reports for example.org exist only as messages in an mbox file.",
        "policy-domain": "example.org",
        "mx": None,
        "result-type": None,
        "reporters": ("Google Inc.",),
        "first-day": MBOX_DAYS[0],
        "last-day": MBOX_DAYS[1],
        "files": (DEMO_MBOX,),
    },
    {
        "id": "truncated-gzip",
        "kind": "bad-file",
        "what": "A Yahoo report whose gzip stream is cut in half (interrupted download).",
        "policy-domain": "example.net",
        "mx": None,
        "result-type": None,
        "reporters": ("Yahoo",),
        "first-day": TRUNCATED_DAY,
        "last-day": TRUNCATED_DAY,
        "files": (_demo_relpath(YAHOO, "example.net", TRUNCATED_DAY),),
    },
    {
        "id": "html-error-page",
        "kind": "bad-file",
        "what": "An nginx '502 Bad Gateway' HTML page saved under a report's .json name.",
        "policy-domain": "example.net",
        "mx": None,
        "result-type": None,
        "reporters": ("Nordwind Telecom",),
        "first-day": HTML_ERROR_DAY,
        "last-day": HTML_ERROR_DAY,
        "files": (_demo_relpath(NORDWIND, "example.net", HTML_ERROR_DAY, ext=".json"),),
    },
    {
        "id": "bom-and-mx-host-string",
        "kind": "quirk",
        "what": "A report starting with a UTF-8 byte order mark whose mx-host is one string "
        "with an 'mx: ' prefix ('mx: *.example.net') instead of a list; readers should "
        "tolerate both.",
        "policy-domain": "example.net",
        "mx": None,
        "result-type": None,
        "reporters": ("Nordwind Telecom",),
        "first-day": QUIRK_DAY,
        "last-day": QUIRK_DAY,
        "files": (_demo_relpath(NORDWIND, "example.net", QUIRK_DAY),),
    },
)

#: Files in the demo archive that are not readable reports.
DEMO_BAD_FILES: tuple[str, ...] = tuple(
    path for inc in DEMO_INCIDENTS if inc["kind"] == "bad-file" for path in inc["files"]
)

_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _demo_traffic(
    rng: random.Random, reporter: Reporter, domain: PolicyDomain, day: date
) -> Traffic | None:
    """Sessions ``reporter`` saw for ``domain`` on ``day``, or None when it sends no report."""
    base = DEMO_VOLUMES.get((reporter.key, domain.name))
    if base is None:
        return None
    if reporter is KESTREL and day > KESTREL_LAST_DAY:
        return None
    mean = base * (0.55 if day.weekday() >= 5 else 1.0)
    n = poisson(rng, mean * rng.uniform(0.88, 1.12))
    name = domain.name
    outage = STS_OUTAGE_DAYS[0] <= day <= STS_OUTAGE_DAYS[1]
    if name == "shop.example" and outage and reporter in (GOOGLE, MICROSOFT, MAILRU):
        n = max(1, n)
        reason = failure_reason(reporter, "sts-policy-fetch-error", name, None)
        rows = spread_failures(rng, reporter, "sts-policy-fetch-error", n, None, reason)
        return Traffic(successes=0, failures=rows, policy_fetched=False)
    if n == 0:
        return None  # nothing delivered, nothing to report
    traffic = Traffic(successes=n)
    if name == "example.com" and CERT_EXPIRED_DAYS[0] <= day <= CERT_EXPIRED_DAYS[1]:
        mx2 = domain.mx[1]
        failed = max(1, round(n * rng.uniform(0.45, 0.55)))
        reason = failure_reason(reporter, "certificate-expired", name, mx2)
        if reporter is MAILRU and reason:
            now = day_start_unix(day) + rng.randrange(86400)
            reason += (
                f": current time {day.isoformat()}T{clock(now)}Z is after 2026-11-25T23:59:59Z"
            )
        traffic.failures = spread_failures(
            rng, reporter, "certificate-expired", failed, mx2, reason
        )
    elif name == "example.net":
        backup = domain.mx[1]
        failed = poisson(rng, n * backup.weight)
        if reporter is GOOGLE:
            failed = max(1, failed)
        failed = min(failed, n)
        traffic.successes -= failed
        reason = failure_reason(reporter, "starttls-not-supported", name, backup)
        traffic.failures = spread_failures(
            rng, reporter, "starttls-not-supported", failed, backup, reason, max_rows=2
        )
    return traffic


def build_demo_archive(dest: Path) -> list[str]:
    """Write the bundled demo archive into ``dest``; return the relative paths, sorted.

    About 30 days of reports ending 2026-11-27 from Google, Microsoft, Yahoo, Mail.ru
    and two small reporters for example.com, example.net, example.org and shop.example,
    with the incidents listed in :data:`DEMO_INCIDENTS`.
    """
    rng = random.Random(f"{DEMO_SALT}/traffic")
    files: dict[str, bytes] = {}
    mbox_messages: list[tuple[str, int, bytes]] = []
    day = DEMO_START
    while day <= DEMO_END:
        for reporter in DEMO_REPORTERS:
            for domain in DEMO_DOMAINS:
                traffic = _demo_traffic(rng, reporter, domain, day)
                if traffic is None:
                    continue
                generated = build_report(reporter, domain, day, traffic, salt=DEMO_SALT)
                relpath = generated.relpath
                name, key = domain.name, (reporter.key, domain.name, day)
                if key == ("nordwind", "example.net", HTML_ERROR_DAY):
                    files[relpath.removesuffix(".gz")] = _HTML_502.encode()
                    continue
                quirk = key == ("nordwind", "example.net", QUIRK_DAY)
                if quirk:
                    generated.report["policies"][0]["policy"]["mx-host"] = "mx: *.example.net"
                data = encode_report(generated.report, reporter, bom=quirk)
                sent = day_start_unix(day) + 86400 + 3600 + rng.randrange(6 * 3600)
                if key == ("yahoo", "example.net", TRUNCATED_DAY):
                    data = data[: len(data) // 2]
                elif reporter is GOOGLE and name == "example.org" and day in MBOX_DAYS:
                    message = tlsrpt_message(
                        report_gz=data,
                        filename=generated.filename,
                        reporter=reporter,
                        policy_domain=name,
                        report_id=generated.report["report-id"],
                        to_addr="tlsrpt@example.org",
                        sent_unix=sent,
                        salt=DEMO_SALT,
                    )
                    sender = "noreply-smtp-tls-reporting@google.com"
                    mbox_messages.append((sender, sent + 5, message))
                    continue
                elif key == ("microsoft", "example.com", DUPLICATE_DAY):
                    uid = generated.filename.split("!")[4].removesuffix(".json.gz")
                    sent = int(uid) // 10_000_000 - FILETIME_OFFSET
                    files[DEMO_EML] = tlsrpt_message(
                        report_gz=data,
                        filename=generated.filename,
                        reporter=reporter,
                        policy_domain=name,
                        report_id=generated.report["report-id"],
                        to_addr="tlsrpt@example.com",
                        sent_unix=sent,
                        salt=DEMO_SALT,
                        newline="\r\n",
                    )
                files[relpath] = data
        day += timedelta(days=1)
    files[DEMO_MBOX] = mbox_bytes(mbox_messages)
    for relpath in sorted(files):
        target = dest / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[relpath])
    return sorted(files)
