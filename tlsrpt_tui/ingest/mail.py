"""Report mail into the report directory: shared by ``import`` and ``fetch imap``.

One message at a time: find the MIME parts that carry a report, check DKIM once,
validate every report with the loader and store it (archive or quarantine). The
caller learns whether every report of the message is on disk, and only then may
mark the mail seen or move it.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from tlsrpt_tui.core.model import Report, Source, normalise_domain
from tlsrpt_tui.core.reading.loader import (
    DEFAULT_LIMITS,
    Limits,
    ReportError,
    load_bytes,
    message_hint_domain,
    not_a_file_reason,
    parse_message,
    report_parts,
    sniff,
    unreadable_reason,
)
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.ingest.dkim_check import (
    NONE,
    TEMPERROR,
    DkimVerdict,
    DnsFunc,
    verify_report_mail,
)
from tlsrpt_tui.ingest.report_dir import ReportStore, split_payload

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class IngestOptions:
    accept_unsigned: bool = False
    dnsfunc: DnsFunc | None = None
    dns_timeout: float = 5.0
    limits: Limits = DEFAULT_LIMITS
    max_message_bytes: int = 64 * MiB
    via: str = "import"  # recorded in the sidecar: import | imap


@dataclass(slots=True)
class MessageOutcome:
    """What became of one message."""

    label: str
    report_parts: int = 0
    saved: list[Path] = field(default_factory=list)
    duplicates: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    verdict: DkimVerdict | None = None
    #: For a message without a report part: (kind, why), kind one of NO_REPORT_KINDS.
    no_report: tuple[str, str] | None = None

    @property
    def has_report(self) -> bool:
        return self.report_parts > 0

    @property
    def complete(self) -> bool:
        """Every report of the message is stored (or was already): safe to mark seen."""
        return self.has_report and not self.errors


#: Why a message carried no report, as the totals line words it (plain mail, with no
#: attachment at all, is not worded: it is what most of a mailbox is).
NO_REPORT_KINDS = {
    "attachment": "with an attachment not named or typed as a report",
    "smime": "opaque S/MIME",
    "encrypted": "encrypted",
}
_SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


def why_no_report(message: Message) -> tuple[str, str]:
    """(kind, why) for a message in which no part carries a report."""
    media = message.get_content_type().lower()
    if media in _SMIME_TYPES:
        smime_type = str(message.get_param("smime-type", "") or "")
        what = f"{media}; smime-type={smime_type}" if smime_type else media
        return (
            "smime",
            f"opaque S/MIME ({what}): its content is inside a PKCS #7 structure, not opened",
        )
    if media == "multipart/encrypted":
        return "encrypted", "encrypted (multipart/encrypted): its content cannot be read"
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        part_type = part.get_content_type().lower()
        try:
            name = part.get_filename()
        except Exception:
            name = None
        if part_type in _SMIME_TYPES:
            return (
                "smime",
                f"opaque S/MIME part ({part_type}): "
                "its content is inside a PKCS #7 structure, not opened",
            )
        if name is None and part_type in ("text/plain", "text/html"):
            continue  # the message text
        if part_type in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
            continue  # a clear signature: the signed parts are read as they are
        attachments.append(f"{name!r} ({part_type})" if name else f"({part_type})")
    if attachments:
        shown = ", ".join(attachments[:3]) + (
            f" and {len(attachments) - 3} more" if len(attachments) > 3 else ""
        )
        return "attachment", f"attachment {shown} is neither named nor typed as a report"
    return "plain", "no attachment"


@dataclass(slots=True)
class IngestTotals:
    messages: int = 0
    saved: int = 0
    duplicates: int = 0
    quarantined: int = 0
    without_report: int = 0
    #: messages without report by kind (NO_REPORT_KINDS; "plain" too)
    without_report_kinds: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    #: Not errors, but never silent: why each message's reports went to quarantine.
    notices: list[str] = field(default_factory=list)

    def add(self, outcome: MessageOutcome) -> None:
        self.messages += 1
        self.saved += len(outcome.saved) - outcome.quarantined
        self.quarantined += outcome.quarantined
        self.duplicates += outcome.duplicates
        if outcome.quarantined:
            self.notices.append(f"{outcome.label}: {quarantine_note(outcome)}")
        if not outcome.has_report and not outcome.errors:
            self.without_report += 1
            kind = outcome.no_report[0] if outcome.no_report else "plain"
            self.without_report_kinds[kind] = self.without_report_kinds.get(kind, 0) + 1
        if outcome.errors:
            self.errors += 1
            self.error_messages.extend(f"{outcome.label}: {e}" for e in outcome.errors)

    def error(self, label: str, message: str) -> None:
        self.errors += 1
        self.error_messages.append(f"{label}: {message}")

    def summary(self) -> str:
        worded = [
            f"{self.without_report_kinds[kind]} {text}"
            for kind, text in NO_REPORT_KINDS.items()
            if self.without_report_kinds.get(kind)
        ]
        detail = f" ({', '.join(worded)})" if worded else ""
        return (
            f"saved {self.saved}, duplicates {self.duplicates}, "
            f"quarantined {self.quarantined}, messages without report {self.without_report}"
            f"{detail}, errors {self.errors}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "saved": self.saved,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "without-report": self.without_report,
            "without-report-kinds": dict(self.without_report_kinds),
            "errors": self.errors,
        }

    def print_summary(self) -> None:
        """Quarantined messages and problems on stderr, then the one-line summary on stdout."""
        for line in self.notices:
            print(f"tlsrpt-tui: {plain(line)}", file=sys.stderr)
        for line in self.error_messages:
            print(f"tlsrpt-tui: {plain(line)}", file=sys.stderr)
        print(self.summary(), file=sys.stdout)


def quarantine_note(outcome: MessageOutcome) -> str:
    """``quarantined 1 report: DKIM fail: <why> (checked as of <time>, Received)``."""
    count = outcome.quarantined
    verdict = outcome.verdict
    head = f"quarantined {count} report{'s' if count != 1 else ''}"
    if verdict is None:
        return head
    text = f"{head}: DKIM {verdict.verdict}: {verdict.reason or 'no reason given'}"
    if verdict.as_of:
        text += f" (checked as of {verdict.as_of}, from {verdict.as_of_from})"
    return text + "; --accept-unsigned stores such reports in the archive"


# --------------------------------------------------------------------------- submitter


def _domain_of(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if "://" in text:
        text = urlsplit(text).hostname or ""
    elif text.lower().startswith("mailto:"):
        text = text[7:]
    if "@" in text:
        text = text.rpartition("@")[2]
    text = normalise_domain(text.strip("<>"))
    if re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", text):
        return text
    return None


def message_submitter(message: Message, report: Report) -> str:
    """The sending organisation's domain for the file name.

    TLS-Report-Submitter, else the domain of contact-info, else the From domain,
    else the organization-name (sanitised when the file name is made).
    """
    header = message.get("TLS-Report-Submitter")
    if header:
        domain = _domain_of(str(header))
        if domain:
            return domain
    if report.contact_info:
        domain = _domain_of(report.contact_info)
        if domain:
            return domain
    try:
        senders = getaddresses([str(v) for v in message.get_all("From", [])])
    except Exception:
        senders = []
    for _, address in senders:
        domain = _domain_of(address)
        if domain:
            return domain
    return report.organization_name


def report_submitter(report: Report) -> str:
    """Submitter for a report without a mail around it (HTTPS, bare files)."""
    if report.contact_info:
        domain = _domain_of(report.contact_info)
        if domain:
            return domain
    return report.organization_name


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    text = re.sub(r"\r?\n[ \t]+", " ", str(value))  # unfold
    return text[:998]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- messages


def ingest_message(
    raw: bytes,
    store: ReportStore,
    options: IngestOptions,
    *,
    label: str,
) -> MessageOutcome:
    """Store every report carried by one message; never raises on bad input."""
    outcome = MessageOutcome(label=label)
    try:
        _ingest_message(raw, store, options, outcome)
    except OSError as exc:
        outcome.errors.append(f"cannot store report: {exc}")
    except ReportError as exc:  # (a message nested too deeply: said plainly)
        outcome.errors.append(str(exc))
    except Exception as exc:  # a stranger's mail must not stop a batch
        outcome.errors.append(f"unexpected error: {type(exc).__name__}: {exc}")
    return outcome


def _ingest_message(
    raw: bytes, store: ReportStore, options: IngestOptions, outcome: MessageOutcome
) -> None:
    message = parse_message(raw)
    parts = list(report_parts(message))
    outcome.report_parts = len(parts)
    if not parts:
        outcome.no_report = why_no_report(message)
        return
    verdict = verify_report_mail(raw, message, dnsfunc=options.dnsfunc, timeout=options.dns_timeout)
    outcome.verdict = verdict
    if verdict.verdict == TEMPERROR and not options.accept_unsigned:
        outcome.errors.append(f"DKIM key look-up failed, will try again: {verdict.reason}")
        return
    quarantine = not verdict.passed and not options.accept_unsigned
    hint = message_hint_domain(message)
    sidecar: dict[str, Any] = {
        **verdict.as_json(),
        "via": options.via,
        "source": outcome.label,
        "received-at": now_iso(),
        "message-id": _header(message, "Message-ID"),
        "from": _header(message, "From"),
        "subject": _header(message, "Subject"),
        "tls-report-submitter": _header(message, "TLS-Report-Submitter"),
        "tls-report-domain": _header(message, "TLS-Report-Domain"),
    }
    for number, part, filename in parts:
        part_label = f"part {number}" + (f" ({filename})" if filename else "")
        try:
            payload = part.get_payload(decode=True)
        except Exception as exc:
            outcome.errors.append(f"{part_label}: cannot decode MIME part: {exc}")
            continue
        if not isinstance(payload, bytes) or not payload:
            outcome.errors.append(f"{part_label}: MIME part is empty")
            continue
        if sniff(payload) not in ("gzip", "json"):
            outcome.errors.append(f"{part_label}: not a gzip or JSON report")
            continue
        _store_payload(
            payload,
            store,
            options,
            outcome,
            source=Source(outcome.label, part_label),
            file_name=filename,
            hint=hint,
            submitter_of=lambda report: message_submitter(message, report),
            quarantine=quarantine,
            sidecar=sidecar,
        )


def _store_payload(
    payload: bytes,
    store: ReportStore,
    options: IngestOptions,
    outcome: MessageOutcome,
    *,
    source: Source,
    file_name: str | None,
    hint: str | None,
    submitter_of: Callable[[Report], str],
    quarantine: bool,
    sidecar: dict[str, Any],
) -> None:
    result = load_bytes(
        payload, source, limits=options.limits, file_name=file_name, hint_domain=hint
    )
    pieces = split_payload(payload, result, options.limits)
    if not pieces:
        reasons = "; ".join(e.error for e in result.errors) or "no report found"
        outcome.errors.append(f"{source.part or source.path}: invalid report: {reasons}")
        return
    for data, report in pieces:
        saved = store.save(
            data,
            report,
            submitter=submitter_of(report),
            quarantine=quarantine,
            sidecars={"dkim": sidecar},
        )
        if saved.status == "saved":
            outcome.saved.append(saved.path)
            if saved.quarantined:
                outcome.quarantined += 1
        else:
            outcome.duplicates += 1


def ingest_bare_report(
    raw: bytes,
    store: ReportStore,
    options: IngestOptions,
    *,
    label: str,
    file_name: str | None,
) -> MessageOutcome:
    """A report file without a mail around it: nothing vouches for it (verdict none)."""
    outcome = MessageOutcome(label=label, report_parts=1)
    verdict = DkimVerdict(NONE, reason="a bare report file, not a mail: no DKIM signature")
    outcome.verdict = verdict
    sidecar = {**verdict.as_json(), "via": options.via, "source": label, "received-at": now_iso()}
    try:
        _store_payload(
            raw,
            store,
            options,
            outcome,
            source=Source(label),
            file_name=file_name,
            hint=None,
            submitter_of=report_submitter,
            quarantine=not options.accept_unsigned,
            sidecar=sidecar,
        )
    except OSError as exc:
        outcome.errors.append(f"cannot store report: {exc}")
    except Exception as exc:
        outcome.errors.append(f"unexpected error: {type(exc).__name__}: {exc}")
    return outcome


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One message (or bare report, or a problem) found in an import source."""

    label: str
    data: bytes | None = None
    kind: str = "message"  # message | report | error
    error: str = ""
    file_name: str | None = None


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _read_limited(path: Path, limit: int) -> bytes:
    # Opened read-only: an import never changes the user's files (not even atime
    # beyond what the system does on any read).
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than the {limit:,} byte limit")
    return data


def _iter_mbox(path: Path, limit: int) -> Iterator[SourceItem]:
    """Messages of an mbox file, read line by line (mboxo/mboxrd, like the loader)."""
    count = 0
    current: list[bytes] | None = None
    size = 0
    too_big = False

    def finish() -> SourceItem:
        label = f"{path} message {count}"
        if too_big:
            return SourceItem(label, kind="error", error=f"message over the {limit:,} byte limit")
        body = b"".join(current or [])
        return SourceItem(label, re.sub(rb"^>(>*From )", rb"\1", body, flags=re.MULTILINE))

    with open(path, "rb") as handle:
        for line in handle:
            if line.startswith(b"From "):
                if current is not None:
                    yield finish()
                count += 1
                current, size, too_big = [], 0, False
                continue
            if current is None:
                continue  # text before the first separator is not a message
            size += len(line)
            if size > limit:
                too_big = True
                current = []
            elif not too_big:
                current.append(line)
    if current is not None:
        yield finish()


def _not_regular(path: Path) -> str | None:
    """Why ``path`` is not read (a FIFO would block the import forever, a broken link
    leads nowhere), in the loader's words; None for a regular file."""
    try:
        info = path.stat()
    except OSError as exc:
        return unreadable_reason(path, exc)
    return None if stat.S_ISREG(info.st_mode) else not_a_file_reason(path, info.st_mode)


def _iter_file(path: Path, limit: int) -> Iterator[SourceItem]:
    label = str(path)
    reason = _not_regular(path)
    if reason is not None:
        yield SourceItem(label, kind="error", error=reason)
        return
    try:
        with open(path, "rb") as handle:
            head = handle.read(8192)
    except OSError as exc:
        yield SourceItem(label, kind="error", error=f"cannot read: {exc.strerror or exc}")
        return
    kind = sniff(head)
    if kind == "mbox":
        try:
            yield from _iter_mbox(path, limit)
        except OSError as exc:
            yield SourceItem(label, kind="error", error=f"cannot read: {exc.strerror or exc}")
        return
    try:
        data = _read_limited(path, limit)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        yield SourceItem(label, kind="error", error=f"cannot read: {reason}")
        return
    if kind == "email":
        yield SourceItem(label, data)
    elif kind in ("gzip", "json"):
        yield SourceItem(label, data, kind="report", file_name=path.name)
    elif kind == "empty":
        yield SourceItem(label, kind="error", error="file is empty")
    else:
        yield SourceItem(label, kind="error", error="neither a mail, an mbox nor a report")


def iter_source(path: Path, limit: int, skip: tuple[Path, ...] = ()) -> Iterator[SourceItem]:
    """Messages in an ``.eml`` file, an mbox file, a Maildir (with Maildir++ sub-folders)
    or a folder of such files. Hidden files and a Maildir's ``tmp/`` are skipped, and so
    is anything under ``skip`` (the report directory itself)."""
    resolved_skip = tuple(p.resolve() for p in skip)
    seen: set[tuple[int, int]] = set()

    def walk(folder: Path) -> Iterator[SourceItem]:
        try:
            info = folder.stat()
        except OSError as exc:
            yield SourceItem(str(folder), kind="error", error=f"cannot read: {exc.strerror}")
            return
        if (info.st_dev, info.st_ino) in seen or folder.resolve() in resolved_skip:
            return
        seen.add((info.st_dev, info.st_ino))
        if _is_maildir(folder):
            for sub in ("new", "cur"):
                yield from files_in(folder / sub)
            try:
                children = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                children = []
            for entry in children:  # Maildir++ folders: .Sent, .Archive.2024, ...
                child = Path(entry.path)
                if entry.name.startswith(".") and entry.is_dir() and _is_maildir(child):
                    yield from walk(child)
            return
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield SourceItem(str(folder), kind="error", error=f"cannot read: {exc.strerror}")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = Path(entry.path)
            try:
                is_dir = entry.is_dir()
            except OSError:  # (a link loop: named as an error)
                is_dir = False
            if is_dir:
                yield from walk(child)
            else:  # a file, or anything else (FIFO, device, broken link): named, never read
                yield from _iter_file(child, limit)

    def files_in(folder: Path) -> Iterator[SourceItem]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if not entry.name.startswith("."):
                label = entry.path
                try:
                    if entry.is_dir():
                        continue  # (a folder in new/ or cur/ is no message)
                except OSError:
                    pass  # (a link loop: named below)
                reason = _not_regular(Path(entry.path))
                if reason is not None:
                    yield SourceItem(label, kind="error", error=reason)
                    continue
                try:
                    yield SourceItem(label, _read_limited(Path(entry.path), limit))
                except (OSError, ValueError) as exc:
                    yield SourceItem(label, kind="error", error=f"cannot read: {exc}")

    if path.is_dir():
        yield from walk(path)
    else:
        yield from _iter_file(path, limit)


def import_sources(
    sources: list[Path],
    store: ReportStore,
    options: IngestOptions,
    *,
    progress: TextIO | None = None,
) -> IngestTotals:
    """Import every message of every source; the sources are only ever read."""
    totals = IngestTotals()
    for source in sources:
        for item in iter_source(
            source, options.max_message_bytes, skip=(store.root, store.quarantine)
        ):
            if item.kind == "error" or item.data is None:
                totals.messages += 1
                totals.error(item.label, item.error or "cannot read")
                continue
            if item.kind == "report":
                outcome = ingest_bare_report(
                    item.data, store, options, label=item.label, file_name=item.file_name
                )
            else:
                outcome = ingest_message(item.data, store, options, label=item.label)
            totals.add(outcome)
            if progress is not None:
                print_outcome(outcome, progress)
    return totals


def print_outcome(outcome: MessageOutcome, out: TextIO) -> None:
    """What ``-v`` prints for one message: every report saved, or why it had none."""
    if not outcome.has_report:
        if outcome.no_report is not None and not outcome.errors:
            print(
                f"without report: {plain(outcome.label)}: {plain(outcome.no_report[1])}", file=out
            )
        return
    verdict = outcome.verdict.verdict if outcome.verdict else "-"
    for path in outcome.saved:
        print(f"saved {plain(str(path))} (dkim {verdict})", file=out)
