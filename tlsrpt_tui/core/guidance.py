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
import json
import re
import textwrap
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Final

from tlsrpt_tui.core.text import printable

__all__ = [
    "ALL_ENTRIES",
    "GETTING_STARTED",
    "KINDS",
    "PLACEHOLDERS",
    "REPORTER_CODES",
    "SEVERITIES",
    "UNKNOWN",
    "Command",
    "GuidanceEntry",
    "ReporterCode",
    "codes_for",
    "entry_for",
    "fill",
    "find",
    "groups",
    "printable",
    "render_text",
    "reporter_code_for",
    "safe_hostname",
    "safe_ip",
    "start_for",
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
    #: "Start here": the first thing to do for a row of this type (may hold placeholders).
    start: str = ""
    #: The first command to run, shown with ``start``.
    first: Command | None = None
    #: ``start`` and ``first`` for a row without a usable receiving IP (when those use it).
    start_no_ip: str = ""
    first_no_ip: Command | None = None

    @property
    def heading(self) -> str:
        """``key — title`` for catalogue entries; just the title for generic/page entries."""
        if self.kind in ("unknown", "page"):
            return self.title
        return f"{self.key} — {self.title}"


@dataclass(frozen=True, slots=True)
class ReporterCode:
    """A ``failure-reason-code`` / ``additional-information`` text real reporters send."""

    #: The text as reporters write it (matched case-insensitively).
    text: str
    #: "exact", "prefix" or "contains".
    match: str
    reporters: tuple[str, ...]
    #: The result-types it is seen with (empty: any).
    result_types: tuple[str, ...]
    meaning: str
    #: What to look at first (may hold placeholders).
    check: str
    #: Where the text was seen (a real report, or a public source).
    source: str

    def matches(self, value: str) -> bool:
        wanted, given = self.text.lower(), value.strip().lower()
        if self.match == "exact":
            return given == wanted
        if self.match == "prefix":
            return given.startswith(wanted)
        return wanted in given


# --------------------------------------------------------------------------- the catalogue

#: The catalogue's data file, shipped as package data beside this module.
CATALOGUE_FILE: Final = "guidance_catalogue.json"

_DEFAULT_LABELS: Final = ("Likely causes", "How to confirm", "How to fix")


def _command(data: dict[str, Any]) -> Command:
    return Command(str(data["description"]), str(data["template"]), bool(data.get("shell", True)))


def _entry(data: dict[str, Any]) -> GuidanceEntry:
    labels = tuple(str(x) for x in data.get("labels", _DEFAULT_LABELS))
    if len(labels) != 3:
        raise ValueError(f"{data.get('key')}: labels needs three headings")
    first = data.get("first")
    first_no_ip = data.get("first-no-ip")
    return GuidanceEntry(
        key=str(data["key"]),
        title=str(data["title"]),
        kind=str(data["kind"]),
        group=str(data["group"]),
        rfc_section=str(data["rfc-section"]),
        severity=str(data.get("severity", "info")),
        summary=str(data["summary"]),
        meaning=str(data["meaning"]),
        causes=tuple(str(x) for x in data["causes"]),
        confirm=tuple(_command(c) for c in data["confirm"]),
        fix=tuple(str(x) for x in data["fix"]),
        related=tuple((str(k), str(n)) for k, n in data.get("related", ())),
        labels=(labels[0], labels[1], labels[2]),
        start=str(data.get("start", "")),
        first=_command(first) if first else None,
        start_no_ip=str(data.get("start-no-ip", "")),
        first_no_ip=_command(first_no_ip) if first_no_ip else None,
    )


def _reporter_code(data: dict[str, Any]) -> ReporterCode:
    return ReporterCode(
        text=str(data["text"]),
        match=str(data.get("match", "contains")),
        reporters=tuple(str(x) for x in data.get("reporters", ())),
        result_types=tuple(str(x) for x in data.get("result-types", ())),
        meaning=str(data["meaning"]),
        check=str(data.get("check", "")),
        source=str(data["source"]),
    )


def _load() -> dict[str, Any]:
    raw = resources.files("tlsrpt_tui.core").joinpath(CATALOGUE_FILE).read_text("utf-8")
    document: dict[str, Any] = json.loads(raw)
    return document


_DOCUMENT: Final = _load()

#: Every catalogue entry, ordered as the RFCs group them (not UNKNOWN, not GETTING_STARTED).
ALL_ENTRIES: Final[tuple[GuidanceEntry, ...]] = tuple(_entry(e) for e in _DOCUMENT["entries"])
UNKNOWN: Final = _entry(_DOCUMENT["unknown"])
GETTING_STARTED: Final = _entry(_DOCUMENT["getting-started"])
#: What reporters write in failure-reason-code / additional-information, explained.
REPORTER_CODES: Final[tuple[ReporterCode, ...]] = tuple(
    _reporter_code(c) for c in _DOCUMENT.get("reporter-codes", ())
)
del _DOCUMENT

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


def start_for(entry: GuidanceEntry, ip: str | None) -> tuple[str, Command | None]:
    """ "Start here" for a row: the text and the first command, the IP-free variants
    when the row has no usable receiving IP (no ``<ip>`` placeholder in a first step)."""
    if safe_ip(ip) is None and entry.start_no_ip:
        return entry.start_no_ip, entry.first_no_ip or entry.first
    return entry.start, entry.first


def reporter_code_for(
    *values: str | None, result_type: str | None = None
) -> tuple[ReporterCode, str] | None:
    """The catalogue's explanation of the first of ``values`` (failure-reason-code,
    then additional-information) that it knows, with the value it matched; codes
    recorded for other result-types are tried after those for ``result_type``."""
    for value in values:
        if not value or not value.strip():
            continue
        candidates = [c for c in REPORTER_CODES if c.matches(value)]
        if not candidates:
            continue
        # codes seen with this result-type first, then the most specific (longest) text
        best = min(
            candidates,
            key=lambda c: (not (result_type and result_type in c.result_types), -len(c.text)),
        )
        return best, value
    return None


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
    start: dict[str, Any] | None = None
    if entry.start:
        text, first = start_for(entry, ip)
        start = {"text": fill(text, domain=domain, mx=mx, ip=ip), "command": None}
        if first is not None:
            start["command"] = _command_dict(first, domain, mx, ip)
    return {
        "key": entry.key,
        "title": entry.title,
        "kind": entry.kind,
        "group": entry.group,
        "rfc-section": entry.rfc_section,
        "severity": entry.severity,
        "summary": entry.summary,
        "start": start,
        "meaning": entry.meaning,
        "causes": list(entry.causes),
        "confirm": [_command_dict(c, domain, mx, ip) for c in entry.confirm],
        "fix": list(entry.fix),
        "related": [{"key": key, "note": note} for key, note in entry.related],
        "labels": {"causes": causes_label, "confirm": confirm_label, "fix": fix_label},
        "reporter-codes": [code_dict(c) for c in codes_for(entry.key)],
    }


def _command_dict(
    command: Command, domain: str | None, mx: str | None, ip: str | None
) -> dict[str, Any]:
    return {
        "description": command.description,
        "command": fill(command.template, domain=domain, mx=mx, ip=ip),
        "template": command.template,
        "shell": command.shell,
    }


def codes_for(key: str) -> tuple[ReporterCode, ...]:
    """The reporter codes seen with result-type ``key``."""
    return tuple(c for c in REPORTER_CODES if key in c.result_types)


def code_dict(code: ReporterCode) -> dict[str, Any]:
    return {
        "text": code.text,
        "match": code.match,
        "reporters": list(code.reporters),
        "result-types": list(code.result_types),
        "meaning": code.meaning,
        "check": code.check,
        "source": code.source,
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
    if entry.start:
        lines.append("")
        text, first = start_for(entry, ip)
        lines.extend(_wrap(f"Start here: {fill(text, domain=domain, mx=mx, ip=ip)}", width))
        if first is not None:
            prompt = "    $ " if first.shell else "      "
            lines.append(prompt + fill(first.template, domain=domain, mx=mx, ip=ip))
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
    codes = codes_for(entry.key)
    if codes:
        lines.extend(["", "What reporters write:"])
        for code in codes:
            who = f" ({', '.join(code.reporters)})" if code.reporters else ""
            lines.extend(_wrap(f'"{code.text}"{who}: {code.meaning}', width, "  - ", "    "))
    if entry.related:
        lines.extend(["", "Related:"])
        lines.extend(_bullets(tuple(f"{key}: {note}" for key, note in entry.related), width))
    return "\n".join(lines) + "\n"
