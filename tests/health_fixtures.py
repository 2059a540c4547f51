"""Builders of crafted TLS-RPT reports for the health-rule tests.

Reports are built as the JSON reporters send and read back through the loader's
``parse_report``, so the tests exercise the same path as real files. Days are
relative to :data:`LAST_DAY`, the last day of reports; :data:`NOW` is the end of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.model import Report, Source
from tlsrpt_tui.core.reading.loader import parse_report

LAST_DAY = date(2026, 6, 30)
#: The latest date-range end of an archive with a Mail.ru-style report on LAST_DAY.
NOW = datetime(2026, 7, 1, tzinfo=UTC)

GOOGLE = "Google Inc."
MAILRU = "Mail.ru"
MICROSOFT = "Microsoft Corporation"
SMALL = "mx.small-reporter.example"

#: How each reporter writes the end of its day: "google" 23:59:59Z, "mailru" next 00:00Z.
STYLES = {GOOGLE: "google", MAILRU: "mailru", MICROSOFT: "google", SMALL: "mailru"}

#: Published MTA-STS policies of the crafted domains: (mode, mx patterns).
POLICIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "example.com": ("enforce", ("mx1.example.com", "mx2.example.com")),
    "example.net": ("testing", ("*.example.net",)),
    "example.org": ("none", ("mail.example.org",)),
}
DOMAINS = tuple(POLICIES)
REPORTERS = (GOOGLE, MAILRU)


def offset_of_yesterday() -> int:
    """The offset from :data:`LAST_DAY` of yesterday (UTC) by the wall clock: a
    :func:`baseline_json` with ``last=offset_of_yesterday()`` is an archive as fresh as
    a real one when ``check`` runs (its last reports cover the day that just ended)."""
    return (datetime.now(UTC).date() - timedelta(days=1) - LAST_DAY).days


def day(offset: int) -> date:
    """``LAST_DAY`` plus ``offset`` days (``day(0)`` is the last day, ``day(-1)`` before)."""
    return LAST_DAY + timedelta(days=offset)


def fail(
    result_type: str,
    count: int,
    mx: str | None = None,
    *,
    sending_ip: str = "203.0.113.5",
) -> dict[str, Any]:
    """One failure-details row."""
    row: dict[str, Any] = {
        "result-type": result_type,
        "sending-mta-ip": sending_ip,
        "failed-session-count": count,
    }
    if mx is not None:
        row["receiving-mx-hostname"] = mx
        row["receiving-ip"] = "192.0.2.25"
    return row


def sts_policy_string(mode: str, mx: Sequence[str], max_age: int = 604800) -> list[str]:
    return ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]


def policy_block(
    domain: str,
    *,
    ok: int,
    failed: int = 0,
    failures: Sequence[dict[str, Any]] = (),
    policy_type: str = "sts",
    mode: str | None = None,
    mx: Sequence[str] | None = None,
    policy_string: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A ``policies[]`` entry; STS mode and mx default to :data:`POLICIES`."""
    default_mode, default_mx = POLICIES.get(domain, ("enforce", (f"mx.{domain}",)))
    mode = mode or default_mode
    mx = tuple(mx if mx is not None else default_mx)
    policy: dict[str, Any] = {"policy-type": policy_type, "policy-domain": domain}
    if policy_type == "sts":
        policy["policy-string"] = list(
            policy_string if policy_string is not None else sts_policy_string(mode, mx)
        )
        policy["mx-host"] = list(mx)
    elif policy_type == "tlsa":
        policy["policy-string"] = ["3 1 1 " + "AB" * 32]
    if failures and not failed:
        failed = sum(int(f["failed-session-count"]) for f in failures)
    block: dict[str, Any] = {
        "policy": policy,
        "summary": {
            "total-successful-session-count": ok,
            "total-failure-session-count": failed,
        },
    }
    if failures:
        block["failure-details"] = list(failures)
    return block


def report_json(
    reporter: str,
    on: date,
    blocks: Sequence[dict[str, Any]],
    *,
    style: str | None = None,
    report_id: str | None = None,
) -> dict[str, Any]:
    """A whole report of ``reporter`` for the day ``on``."""
    style = style or STYLES.get(reporter, "google")
    start = f"{on.isoformat()}T00:00:00Z"
    if style == "mailru":
        end = f"{(on + timedelta(days=1)).isoformat()}T00:00:00Z"
    else:
        end = f"{on.isoformat()}T23:59:59Z"
    domains = "+".join(sorted({b["policy"]["policy-domain"] for b in blocks}))
    return {
        "organization-name": reporter,
        "date-range": {"start-datetime": start, "end-datetime": end},
        "contact-info": "tlsrpt@reporter.example",
        "report-id": report_id or f"{on.isoformat()}_{domains}_{reporter}",
        "policies": list(blocks),
    }


def to_report(obj: dict[str, Any]) -> Report:
    report, errors = parse_report(obj, Source(f"{obj['report-id']}.json"))
    assert report is not None and not errors, errors
    return report


def simple(
    reporter: str,
    on: date,
    domain: str = "example.com",
    *,
    ok: int = 1000,
    failed: int = 0,
    failures: Sequence[dict[str, Any]] = (),
    **policy: Any,
) -> Report:
    """One report with one STS block (keyword arguments go to :func:`policy_block`)."""
    block = policy_block(domain, ok=ok, failed=failed, failures=failures, **policy)
    return to_report(report_json(reporter, on, [block]))


def volume(reporter: str, domain: str, on: date) -> int:
    """A deterministic, slightly varying daily session count (weekends quieter)."""
    base = {GOOGLE: 1000, MAILRU: 400, MICROSOFT: 600, SMALL: 40}.get(reporter, 100)
    base //= {"example.com": 1, "example.net": 2, "example.org": 10}.get(domain, 1)
    wobble = (on.toordinal() * 7 + len(reporter) * 13 + len(domain)) % 11
    weekend = on.weekday() >= 5
    return max(1, (base * (6 if weekend else 10)) // 10 + wobble)


def baseline(
    days: int = 30,
    *,
    last: int = 0,
    domains: Iterable[str] = DOMAINS,
    reporters: Iterable[str] = REPORTERS,
    skip: Iterable[tuple[str, str, int]] = (),
) -> list[Report]:
    """A clean archive: every reporter reports every domain on each of ``days`` days
    ending ``day(last)``, all sessions successful. ``skip`` lists (reporter, domain,
    day offset) reports to leave out."""
    skipped = set(skip)
    out: list[Report] = []
    domains, reporters = tuple(domains), tuple(reporters)
    for offset in range(last - days + 1, last + 1):
        on = day(offset)
        for reporter in reporters:
            for domain in domains:
                if (reporter, domain, offset) in skipped:
                    continue
                out.append(simple(reporter, on, domain, ok=volume(reporter, domain, on)))
    return out


def replace_report(reports: list[Report], new: Report) -> list[Report]:
    """``reports`` with the report of the same reporter, day and domains swapped for ``new``."""
    key = (new.organization_name, new.start, new.policy_domains)
    kept = [r for r in reports if (r.organization_name, r.start, r.policy_domains) != key]
    return [*kept, new]


def write_archive(root: Path, objs: Iterable[dict[str, Any]]) -> Path:
    """Write report objects as ``<root>/<report-id>.json`` files; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for index, obj in enumerate(objs):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in obj["report-id"])
        (root / f"{index:05d}-{safe}.json").write_text(json.dumps(obj), encoding="utf-8")
    return root


def baseline_json(days: int = 30, *, last: int = 0) -> list[dict[str, Any]]:
    """:func:`baseline` as report objects, for writing files."""
    objs = []
    for offset in range(last - days + 1, last + 1):
        on = day(offset)
        for reporter in REPORTERS:
            for domain in DOMAINS:
                block = policy_block(domain, ok=volume(reporter, domain, on))
                objs.append(report_json(reporter, on, [block]))
    return objs
