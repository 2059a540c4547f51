"""Turn files into reports or clear errors, whatever the files hold.

One entry point, :func:`load_file`, handles every form reports arrive in: bare JSON,
gzip (detected by magic bytes, not by name), RFC 5322 messages with the report as a
MIME part, and mbox files. Maildir folders are directories of messages; the archive
scan walks them. Nothing here raises on bad input: every problem becomes a
:class:`LoadError` naming the file, the field and what was wrong.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlsrpt_tui.core.model import (
    UNKNOWN_DOMAIN,
    FailureDetail,
    LoadError,
    LoadResult,
    Policy,
    Report,
    Source,
    normalise_domain,
)
from tlsrpt_tui.core.model import (
    Limits as Limits,  # (defined in model: the UI sets it, never reads)
)

if TYPE_CHECKING:
    from email.message import Message

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
MiB = 1024 * 1024

#: Media types that carry a report whatever the attachment is called (RFC 8460 section 5.3).
REPORT_MEDIA_TYPES = frozenset({"application/tlsrpt+gzip", "application/tlsrpt+json"})
#: Media types reporters mislabel reports with; accepted only with a report-like file name.
LOOSE_MEDIA_TYPES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/json",
        "application/octet-stream",
        "text/json",
        "text/plain",
    }
)
REPORT_FILENAME_SUFFIXES = (".json.gz", ".json", ".gz", ".jsongz")

# A count larger than this is not a session count but an attack or a bug. (A trillion
# sessions a day, for one policy: no reporter comes near. It is small enough that the
# sums of a whole file's counts -- a policy's failure-details, folded or not, a report's
# blocks -- and of millions of such reports stay within SQLite's 64-bit integers: with
# 2**53 a thousand rows overflowed them and the index build died with a traceback.)
MAX_COUNT = 2**40
# Strings longer than this are cut (with a warning): nobody reads 10 MB of additional-info.
MAX_STRING = 8192
# Failure-details rows kept per policy: the rest are folded into one counted row (totals
# unchanged), so that one report of 100,000 rows costs the explorer and the index no
# more than a bounded amount (see :func:`fold_details`).
MAX_DETAILS = 1000
# Errors of dropped failure-details rows named per policy, and warnings kept per report;
# the rest are counted in one more message.
MAX_DETAIL_ERRORS = 20
# Lines of a policy-string and hosts of an mx-host kept per policy (a real policy has a
# handful; the rest of a hostile list is dropped with a warning).
MAX_POLICY_ITEMS = 1000
#: The result-type of a folded row whose rows had several.
FOLDED_RESULT_TYPE = "(folded)"
MAX_WARNINGS = 100

# submitter!policy-domain!begin!end[!unique-id].json[.gz] (RFC 8460 section 5.1)
_FILENAME_RE = re.compile(r"^(?P<submitter>[^!]+)!(?P<domain>[^!]+)!(?P<begin>\d+)!(?P<end>\d+)")


DEFAULT_LIMITS = Limits()


class ReportError(ValueError):
    """A report that cannot be used, with the field path that was wrong."""


# --------------------------------------------------------------------------- files


def load_file(
    path: Path | str,
    *,
    display_path: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Read one file (JSON, gzip, email message or mbox) into reports and errors.

    ``display_path`` is the name used in sources and messages (for example the path
    relative to the archive root); it defaults to ``str(path)``.
    """
    path = Path(path)
    shown = display_path if display_path is not None else str(path)
    result = LoadResult(path=shown)
    try:
        try:
            info = path.stat()
        except OSError as exc:
            result.errors.append(LoadError(Source(shown), unreadable_reason(path, exc)))
            return result
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or device would block or never end: never read one.
            result.errors.append(LoadError(Source(shown), not_a_file_reason(path, info.st_mode)))
            return result
        size = info.st_size
        if size > limits.max_file_bytes:
            result.errors.append(
                LoadError(
                    Source(shown),
                    f"file is {size:,} bytes, over the {limits.max_file_bytes:,} byte limit",
                )
            )
            return result
        with path.open("rb") as handle:
            # The file may grow between stat and read: never read past the cap.
            data = handle.read(limits.max_file_bytes + 1)
        if len(data) > limits.max_file_bytes:
            result.errors.append(
                LoadError(Source(shown), f"file is over the {limits.max_file_bytes:,} byte limit")
            )
            return result
    except OSError as exc:
        result.errors.append(LoadError(Source(shown), f"cannot read file: {exc.strerror or exc}"))
        return result
    load_bytes_into(result, data, Source(shown), limits=limits, file_name=path.name)
    return result


#: What each kind of file system entry that is not a regular file is called.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_a_file_reason(path: Path, mode: int) -> str:
    """Why an entry that is not a regular file is not read (it is never opened)."""
    if stat.S_ISDIR(mode):
        # (the archive walk gives the loader a folder only when it could not list it)
        try:
            os.scandir(path).close()
        except OSError as exc:
            return f"cannot list folder: {exc.strerror or exc}"
        return "cannot read file: a directory"
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file: {kind}, never read"


def unreadable_reason(path: Path, exc: OSError) -> str:
    """Why ``path`` could not even be looked at, in plain words."""
    if exc.errno == errno.ELOOP:
        return "cannot read file: symbolic link loop"
    if exc.errno == errno.ENOENT:
        try:
            is_link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            is_link = False
        if is_link:
            return "cannot read file: broken symbolic link"
        return "cannot read file: it disappeared before it could be read"
    return f"cannot read file: {exc.strerror or exc}"


def load_bytes(
    data: bytes,
    source: Source,
    *,
    limits: Limits = DEFAULT_LIMITS,
    file_name: str | None = None,
    hint_domain: str | None = None,
) -> LoadResult:
    """Like :func:`load_file` for bytes already in memory (an upload, an attachment)."""
    result = LoadResult(path=source.path)
    load_bytes_into(
        result, data, source, limits=limits, file_name=file_name, hint_domain=hint_domain
    )
    return result


def load_bytes_into(
    result: LoadResult,
    data: bytes,
    source: Source,
    *,
    limits: Limits,
    file_name: str | None = None,
    hint_domain: str | None = None,
) -> None:
    try:
        kind = sniff(data)
        if kind == "gzip" or kind == "json":
            _load_report_bytes(result, data, source, limits, file_name, hint_domain)
        elif kind == "mbox":
            _load_mbox(result, data, source, limits)
        elif kind == "email":
            _load_message(result, parse_message(data), source, limits, label=None)
        elif kind == "empty":
            result.errors.append(LoadError(source, "file is empty"))
        else:
            result.errors.append(
                LoadError(source, f"not a TLS-RPT report: {_describe_start(data)}")
            )
    except ReportError as exc:  # (a message nested too deeply)
        result.errors.append(LoadError(source, str(exc)))
    except Exception as exc:  # the loader must never raise on bad input
        result.errors.append(LoadError(source, f"unexpected error: {type(exc).__name__}: {exc}"))


def sniff(data: bytes) -> str:
    """Guess the form of a file from its first bytes: gzip, json, mbox, email, empty, other."""
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    head = data[:4096]
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    stripped = head.lstrip()
    if not stripped:
        return "empty"
    if stripped[:1] in (b"{", b"["):
        return "json"
    if head.startswith(b"From "):
        return "mbox"
    if _looks_like_headers(head):
        return "email"
    return "other"


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?")


def _looks_like_headers(head: bytes) -> bool:
    # Folded continuation lines (a long DKIM-Signature or ARC-Seal first) are not
    # separate header lines: look at the first 8 logical lines.
    lines = [ln for ln in head.split(b"\n", 64)[:64] if ln[:1] not in (b" ", b"\t")][:8]
    header_lines = [ln for ln in lines if _HEADER_LINE.match(ln)]
    return len(header_lines) >= 2 and bool(_HEADER_LINE.match(lines[0]))


def _describe_start(data: bytes) -> str:
    start = data[:40].decode("utf-8", "replace")
    start = "".join(ch if ch.isprintable() else "." for ch in start)
    return f"starts with {start!r}"


# --------------------------------------------------------------------------- gzip/json


GUNZIP_STEP = 64 * 1024


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """Decompress gzip (all members) without ever holding more than ``cap`` bytes.

    Raises :class:`ReportError` for truncated or corrupt streams and for output over
    the cap, which is checked while decompressing so a bomb costs at most ``cap``
    (plus one small step: output is taken in steps, never in one cap-sized piece).
    """
    chunks: list[bytes] = []
    size = 0
    remaining = data
    while True:
        decomp = zlib.decompressobj(wbits=31)
        pending = remaining
        try:
            while True:
                before = len(pending)
                chunk = decomp.decompress(pending, min(GUNZIP_STEP, cap + 1 - size))
                chunks.append(chunk)
                size += len(chunk)
                pending = decomp.unconsumed_tail
                if size > cap or decomp.eof:
                    break
                if not chunk and len(pending) >= before:
                    break  # no progress: the input ended before the stream did
        except zlib.error as exc:
            raise ReportError(f"corrupt gzip data ({exc})") from None
        if size > cap:
            raise ReportError(f"decompresses to more than the {cap:,} byte limit")
        if not decomp.eof:
            raise ReportError("truncated gzip stream")
        remaining = decomp.unused_data.lstrip(b"\x00")
        if not remaining or not remaining.startswith(GZIP_MAGIC):
            # (trailing garbage after a complete member is ignored)
            return b"".join(chunks)


def decode_json(data: bytes) -> tuple[Any, list[str]]:
    """Parse JSON bytes, tolerating a UTF-8 BOM. Raises :class:`ReportError`."""
    warnings: list[str] = []
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
        warnings.append("file starts with a UTF-8 byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text), warnings
    except RecursionError:
        raise ReportError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ReportError(f"not JSON: {exc}") from None


def _load_report_bytes(
    result: LoadResult,
    data: bytes,
    source: Source,
    limits: Limits,
    file_name: str | None,
    hint_domain: str | None,
) -> None:
    try:
        if data.startswith(GZIP_MAGIC):
            data = gunzip_capped(data, limits.max_decompressed_bytes)
        elif len(data) > limits.max_decompressed_bytes:
            raise ReportError(
                f"report is {len(data):,} bytes, over the "
                f"{limits.max_decompressed_bytes:,} byte limit"
            )
        obj, warnings = decode_json(data)
    except ReportError as exc:
        result.errors.append(LoadError(source, str(exc)))
        return
    if hint_domain is None and file_name:
        hint_domain = domain_from_filename(file_name)
    if isinstance(obj, list):
        # Some tools export several reports as one JSON array.
        if not obj:
            result.errors.append(LoadError(source, "not a TLS-RPT report: an empty JSON array"))
            return
        for index, item in enumerate(obj):
            part = f"item {index}" if source.part is None else f"{source.part}, item {index}"
            _add_report(result, item, Source(source.path, part), hint_domain, warnings)
    else:
        _add_report(result, obj, source, hint_domain, warnings)


def _add_report(
    result: LoadResult,
    obj: Any,
    source: Source,
    hint_domain: str | None,
    warnings: list[str],
) -> None:
    try:
        report, errors = parse_report(obj, source, hint_domain=hint_domain, warnings=warnings)
    except ReportError as exc:
        result.errors.append(LoadError(source, str(exc)))
        return
    except Exception as exc:  # one broken report never hides the others in its file
        result.errors.append(LoadError(source, f"unexpected error: {type(exc).__name__}: {exc}"))
        return
    result.errors.extend(LoadError(source, message) for message in errors)
    if report is not None:
        result.reports.append(report)


def domain_from_filename(name: str) -> str | None:
    match = _FILENAME_RE.match(name)
    if match is None:
        return None
    domain = normalise_domain(match["domain"])
    return domain or None


# --------------------------------------------------------------------------- email


#: MIME parts nested deeper than this are refused. Report mail nests two or three
#: levels; the email parser recurses once per level and a hostile message of thousands
#: would exhaust the stack (it used to show as "unexpected error: RecursionError").
MAX_MIME_DEPTH = 50
TOO_DEEP = f"MIME parts nested too deeply (more than {MAX_MIME_DEPTH} levels)"


def parse_message(data: bytes) -> Message:
    """The parsed message; raises :class:`ReportError` when its parts nest too deeply."""
    # (imported here: most archives hold no email, and a cold build starts sooner)
    import email.parser
    import email.policy

    # compat32 is the most forgiving policy for the malformed headers strangers send.
    try:
        message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    except RecursionError:
        raise ReportError(TOO_DEEP) from None
    # (walk() and the rest recurse too: measure without recursing, and refuse early)
    stack: list[tuple[Any, int]] = [(message, 1)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_MIME_DEPTH:
            raise ReportError(TOO_DEEP)
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((sub, depth + 1) for sub in payload if hasattr(sub, "is_multipart"))
    return message


def report_parts(message: Message) -> Iterator[tuple[int, Message, str | None]]:
    """Yield (part number, part, filename) for every MIME part that carries a report."""
    for number, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        media_type = part.get_content_type().lower()
        filename = _safe_filename(part)
        if media_type in REPORT_MEDIA_TYPES or (
            media_type in LOOSE_MEDIA_TYPES
            and filename is not None
            and filename.lower().endswith(REPORT_FILENAME_SUFFIXES)
        ):
            yield number, part, filename


def _safe_filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return str(name) if name else None


def message_hint_domain(message: Message) -> str | None:
    value = message.get("TLS-Report-Domain")
    if value:
        domain = normalise_domain(str(value))
        if domain:
            return domain
    return None


def load_message(
    message: Message,
    source: Source,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Reports carried by one parsed email message (for importers and fetchers)."""
    result = LoadResult(path=source.path)
    try:
        _load_message(result, message, source, limits, label=source.part)
    except Exception as exc:
        result.errors.append(LoadError(source, f"unexpected error: {type(exc).__name__}: {exc}"))
    return result


def _load_message(
    result: LoadResult,
    message: Message,
    source: Source,
    limits: Limits,
    label: str | None,
) -> int:
    """Add the reports of ``message``; returns how many report parts it had."""
    hint = message_hint_domain(message)
    found = 0
    for number, part, filename in report_parts(message):
        found += 1
        name = f"part {number}" + (f" ({filename})" if filename else "")
        part_label = name if label is None else f"{label}, {name}"
        part_source = Source(source.path, part_label)
        try:
            payload = part.get_payload(decode=True)
        except Exception as exc:
            result.errors.append(LoadError(part_source, f"cannot decode MIME part: {exc}"))
            continue
        if not isinstance(payload, bytes) or not payload:
            result.errors.append(LoadError(part_source, "MIME part is empty"))
            continue
        _load_report_bytes(result, payload, part_source, limits, filename, hint)
    if found == 0 and label is None:
        result.errors.append(
            LoadError(source, "email message carries no TLS-RPT report attachment")
        )
    return found


def _load_mbox(result: LoadResult, data: bytes, source: Source, limits: Limits) -> None:
    count = found = 0
    for count, chunk in enumerate(split_mbox(data), start=1):
        label = f"message {count}"
        try:
            found += _load_message(result, parse_message(chunk), source, limits, label=label)
        except ReportError as exc:  # (a message nested too deeply)
            result.errors.append(LoadError(Source(source.path, label), str(exc)))
        except Exception as exc:  # one broken message never hides the others
            error = f"unexpected error: {type(exc).__name__}: {exc}"
            result.errors.append(LoadError(Source(source.path, label), error))
    if count == 0:
        result.errors.append(LoadError(source, "mbox file holds no messages"))
    elif found == 0:
        # Otherwise the file would be neither a report nor an error.
        result.errors.append(
            LoadError(source, f"mbox file's {count:,} messages carry no TLS-RPT report attachment")
        )


_MBOX_SEPARATOR = re.compile(rb"^From .*\r?\n", re.MULTILINE)


def split_mbox(data: bytes) -> Iterator[bytes]:
    """Split mbox bytes on ``From `` lines (mboxo/mboxrd), un-escaping ``>From ``."""
    starts = [m.start() for m in _MBOX_SEPARATOR.finditer(data)]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(data)
        chunk = data[start:end]
        body = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
        yield re.sub(rb"^>(>*From )", rb"\1", body, flags=re.MULTILINE)


# --------------------------------------------------------------------------- report


def parse_report(
    obj: Any,
    source: Source,
    *,
    hint_domain: str | None = None,
    warnings: list[str] | None = None,
) -> tuple[Report | None, list[str]]:
    """Validate a decoded report object.

    Returns the report (or ``None`` when no policy survived) and the errors of
    policies or failure-details that had to be dropped. Raises :class:`ReportError`
    when the report as a whole is unusable.
    """
    notes = list(warnings or ())
    errors: list[str] = []
    if not isinstance(obj, dict):
        raise ReportError(f"report must be a JSON object, got {_type_name(obj)}")
    organization = _required_str(obj, "organization-name", "")
    report_id = _required_str(obj, "report-id", "")
    date_range = obj.get("date-range")
    if date_range is None:
        raise ReportError("date-range: required field missing")
    if not isinstance(date_range, dict):
        raise ReportError(f"date-range: must be an object, got {_type_name(date_range)}")
    start = parse_datetime(date_range, "start-datetime", "date-range.", notes)
    end = parse_datetime(date_range, "end-datetime", "date-range.", notes)
    if end < start:
        notes.append("date-range ends before it starts")
    contact = obj.get("contact-info")
    if contact is not None and not isinstance(contact, str):
        notes.append(f"contact-info is {_type_name(contact)}, not a string: ignored")
        contact = None
    raw_policies = obj.get("policies")
    if raw_policies is None:
        raise ReportError("policies: required field missing")
    if not isinstance(raw_policies, list):
        raise ReportError(f"policies: must be an array, got {_type_name(raw_policies)}")
    policies: list[Policy] = []
    for index, raw in enumerate(raw_policies):
        try:
            policies.append(_parse_policy(raw, f"policies[{index}]", hint_domain, notes, errors))
        except ReportError as exc:
            errors.append(str(exc))
    if not policies:
        if raw_policies:
            return None, errors
        notes.append("report lists no policies")
    report = Report(
        organization_name=cut_long(organization, "organization-name", notes),
        start=start,
        end=end,
        report_id=cut_long(report_id, "report-id", notes),
        contact_info=None if contact is None else cut_long(contact, "contact-info", notes),
        policies=tuple(policies),
        source=source,
        warnings=_capped_warnings(notes),
    )
    return report, errors


def _capped_warnings(notes: list[str]) -> tuple[str, ...]:
    if len(notes) <= MAX_WARNINGS:
        return tuple(notes)
    return (*notes[:MAX_WARNINGS], f"{len(notes) - MAX_WARNINGS:,} more warnings")


def _parse_policy(
    raw: Any,
    where: str,
    hint_domain: str | None,
    notes: list[str],
    errors: list[str],
) -> Policy:
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: must be an object, got {_type_name(raw)}")
    policy = raw.get("policy")
    if not isinstance(policy, dict):
        missing = "required field missing" if policy is None else f"got {_type_name(policy)}"
        raise ReportError(f"{where}.policy: {missing}")
    policy_type = policy.get("policy-type")
    if not isinstance(policy_type, str) or not policy_type.strip():
        raise ReportError(f"{where}.policy.policy-type: required string missing")
    policy_type = cut_long(policy_type.strip().lower(), f"{where}.policy.policy-type", notes)
    domain = parse_policy_domain(policy.get("policy-domain"), where, hint_domain, notes)
    policy_string = parse_policy_string(policy.get("policy-string"), where, notes)
    mx_host = parse_mx_hosts(policy.get("mx-host"), where, notes)

    summary = raw.get("summary")
    if not isinstance(summary, dict):
        missing = "required field missing" if summary is None else f"got {_type_name(summary)}"
        raise ReportError(f"{where}.summary: {missing}")
    successful = _count(summary, "total-successful-session-count", f"{where}.summary")
    failed = _count(summary, "total-failure-session-count", f"{where}.summary")

    details: list[FailureDetail] = []
    raw_details = raw.get("failure-details")
    if raw_details is not None and not isinstance(raw_details, list):
        errors.append(f"{where}.failure-details: must be an array, got {_type_name(raw_details)}")
        raw_details = None
    dropped = 0
    rest = _Rest()
    for index, item in enumerate(raw_details or ()):
        try:
            details.append(parse_detail(item, f"{where}.failure-details[{index}]", notes))
        except ReportError as exc:
            dropped += 1
            if dropped <= MAX_DETAIL_ERRORS:
                errors.append(str(exc))
            continue
        if len(details) >= 2 * MAX_DETAILS:  # (folded as they come: bounded while parsing)
            details = rest.fold(details, MAX_DETAILS)
    if dropped > MAX_DETAIL_ERRORS:
        errors.append(
            f"{where}.failure-details: {dropped - MAX_DETAIL_ERRORS:,} more rows dropped"
            " for errors like the above"
        )
    details = rest.fold(details, MAX_DETAILS)
    kept, folded = rest.finish(details, MAX_DETAILS)
    return Policy(
        policy_type=policy_type,
        policy_domain=domain,
        policy_string=policy_string,
        mx_host=mx_host,
        total_successful_session_count=successful,
        total_failure_session_count=failed,
        failure_details=kept,
        folded_details=folded,
    )


def fold_details(
    details: Sequence[FailureDetail], cap: int = MAX_DETAILS
) -> tuple[tuple[FailureDetail, ...], int]:
    """At most ``cap`` rows of a policy's failure-details and one more holding the rest.

    The ``cap`` rows with the most failed sessions stay as sent, in their order (the
    earlier of equal rows first); the others are folded into one row counting their
    sessions (so every total stays as it was), with their result-type when they share
    one. Returns the rows and how many were folded (0: all kept).
    """
    rest = _Rest()
    return rest.finish(rest.fold(list(details), cap), cap)


class _Rest:
    """The failure-details rows folded so far: how many, their sessions, result-types."""

    __slots__ = ("count", "sessions", "types")

    def __init__(self) -> None:
        self.count = 0
        self.sessions = 0
        self.types: set[str] = set()

    def fold(self, details: list[FailureDetail], cap: int) -> list[FailureDetail]:
        """The ``cap`` largest of ``details`` in their order; the others are added here.
        (Applied to the rows kept so far plus more, it keeps what one pass would.)"""
        if len(details) <= cap:
            return details
        order = sorted(range(len(details)), key=lambda i: -details[i].failed_session_count)
        keep = set(order[:cap])
        kept: list[FailureDetail] = []
        types = self.types
        for i, d in enumerate(details):
            if i in keep:
                kept.append(d)
            else:
                self.count += 1
                self.sessions += d.failed_session_count
                if len(types) < 2:
                    types.add(d.result_type)
        return kept

    def finish(self, kept: list[FailureDetail], cap: int) -> tuple[tuple[FailureDetail, ...], int]:
        if not self.count:
            return tuple(kept), 0
        result_type = next(iter(self.types)) if len(self.types) == 1 else FOLDED_RESULT_TYPE
        kept.append(
            FailureDetail(
                result_type=result_type,
                failed_session_count=self.sessions,
                additional_information=(
                    f"{self.count:,} more failure-details rows folded into this one"
                    f" (the {cap:,} with the most failed sessions are kept as sent)"
                ),
            )
        )
        return tuple(kept), self.count


def parse_policy_domain(value: Any, where: str, hint: str | None, notes: list[str]) -> str:
    if isinstance(value, str) and normalise_domain(value):
        domain = normalise_domain(value)
        if domain != value:
            notes.append(f"{where}.policy.policy-domain {value!r} normalised to {domain!r}")
        return cut_long(domain, f"{where}.policy.policy-domain", notes)
    if value is not None and not isinstance(value, str):
        raise ReportError(
            f"{where}.policy.policy-domain: must be a string, got {_type_name(value)}"
        )
    if hint:
        notes.append(f"{where}.policy.policy-domain missing: taken as {hint!r}")
        return hint
    notes.append(f"{where}.policy.policy-domain missing: filed under {UNKNOWN_DOMAIN}")
    return UNKNOWN_DOMAIN


def parse_policy_string(value: Any, where: str, notes: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # Microsoft sends TLSA records as one string holding a JSON array.
        unwrapped = _json_string_array(value)
        if unwrapped is not None:
            notes.append(f"{where}.policy.policy-string was a JSON array in a string")
            return _capped_items(
                [cut_long(v, f"{where}.policy.policy-string", notes) for v in unwrapped],
                f"{where}.policy.policy-string",
                notes,
            )
        notes.append(f"{where}.policy.policy-string was a string, not an array")
        return (cut_long(value, f"{where}.policy.policy-string", notes),)
    if isinstance(value, list):
        lines: list[str] = []
        for item in value:
            if isinstance(item, str):
                # ...or as an array whose one item is that string (as seen in real reports).
                unwrapped = _json_string_array(item)
                if unwrapped is not None:
                    notes.append(f"{where}.policy.policy-string item was a JSON array in a string")
                    lines.extend(
                        cut_long(v, f"{where}.policy.policy-string", notes) for v in unwrapped
                    )
                else:
                    lines.append(cut_long(item, f"{where}.policy.policy-string", notes))
            else:
                notes.append(f"{where}.policy.policy-string item {_type_name(item)} ignored")
        return _capped_items(lines, f"{where}.policy.policy-string", notes)
    notes.append(f"{where}.policy.policy-string is {_type_name(value)}: ignored")
    return ()


def _json_string_array(value: str) -> list[str] | None:
    """The strings of ``value`` when it is a JSON array of strings, else ``None``."""
    stripped = value.strip()
    if not stripped.startswith("["):
        return None
    try:
        unwrapped = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(unwrapped, list) and all(isinstance(v, str) for v in unwrapped):
        return unwrapped
    return None


def parse_mx_hosts(value: Any, where: str, notes: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    items: list[Any]
    if isinstance(value, str):
        notes.append(f"{where}.policy.mx-host was a string, not an array")
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        notes.append(f"{where}.policy.mx-host is {_type_name(value)}: ignored")
        return ()
    hosts: list[str] = []
    for item in items:
        if not isinstance(item, str):
            notes.append(f"{where}.policy.mx-host item {_type_name(item)} ignored")
            continue
        host = item.strip()
        if host.lower().startswith("mx:"):
            host = host[3:].strip()
        host = normalise_domain(host)
        if host:
            hosts.append(cut_long(host, f"{where}.policy.mx-host", notes))
    return _capped_items(hosts, f"{where}.policy.mx-host", notes)


def _capped_items(items: list[str], where: str, notes: list[str]) -> tuple[str, ...]:
    """The first :data:`MAX_POLICY_ITEMS` of a policy's list (one hostile report must
    not cost the explorer more than a bounded amount)."""
    if len(items) <= MAX_POLICY_ITEMS:
        return tuple(items)
    notes.append(
        f"{where}: {len(items) - MAX_POLICY_ITEMS:,} more items ignored"
        f" (the first {MAX_POLICY_ITEMS:,} are kept)"
    )
    return tuple(items[:MAX_POLICY_ITEMS])


def parse_detail(raw: Any, where: str, notes: list[str]) -> FailureDetail:
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: must be an object, got {_type_name(raw)}")
    result_type = raw.get("result-type")
    if not isinstance(result_type, str) or not result_type.strip():
        missing = "required field missing" if result_type is None else "must be a string"
        raise ReportError(f"{where}.result-type: {missing}")
    count = _count(raw, "failed-session-count", where)
    info = raw.get("additional-information")
    if info is None and "additional-info-uri" in raw:
        info = raw.get("additional-info-uri")
        notes.append(f"{where}: additional-info-uri read as additional-information")
    mx_hostname = _optional_str(raw, "receiving-mx-hostname", where, notes)
    return FailureDetail(
        result_type=cut_long(result_type.strip(), f"{where}.result-type", notes),
        failed_session_count=count,
        sending_mta_ip=_optional_str(raw, "sending-mta-ip", where, notes),
        receiving_mx_hostname=(normalise_domain(mx_hostname) or None) if mx_hostname else None,
        receiving_mx_helo=_optional_str(raw, "receiving-mx-helo", where, notes),
        receiving_ip=_optional_str(raw, "receiving-ip", where, notes),
        additional_information=_as_text(info, f"{where}.additional-information", notes),
        failure_reason_code=_optional_str(raw, "failure-reason-code", where, notes),
    )


# --------------------------------------------------------------------------- fields


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _required_str(obj: dict[str, Any], key: str, prefix: str) -> str:
    value = obj.get(key)
    if value is None:
        raise ReportError(f"{prefix}{key}: required field missing")
    if not isinstance(value, str):
        raise ReportError(f"{prefix}{key}: must be a string, got {_type_name(value)}")
    return value


def _optional_str(obj: dict[str, Any], key: str, where: str, notes: list[str]) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return cut_long(value, f"{where}.{key}", notes) if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    notes.append(f"{where}.{key} is {_type_name(value)}, not a string: ignored")
    return None


def _as_text(value: Any, where: str, notes: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return cut_long(value, where, notes) if value else None
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None
    notes.append(f"{where} is {_type_name(value)}: shown as JSON")
    return cut_long(text, where, notes)


def _count(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if value is None:
        raise ReportError(f"{where}.{key}: required field missing")
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value):
            raise ReportError(f"{where}.{key}: must be an integer, got {value!r}")
        raise ReportError(f"{where}.{key}: must be an integer, got {_type_name(value)}")
    if value < 0:
        raise ReportError(f"{where}.{key}: must not be negative, got {value}")
    if value > MAX_COUNT:
        raise ReportError(f"{where}.{key}: implausibly large ({len(str(value))} digits)")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def cut_long(value: str, where: str, notes: list[str]) -> str:
    if _SURROGATE.search(value):
        # JSON may spell unpaired surrogates ("\\ud800"); no UTF-8 output can hold them.
        notes.append(f"{where} held unpaired surrogates: replaced by U+FFFD")
        value = _SURROGATE.sub("\ufffd", value)
    if len(value) <= MAX_STRING:
        return value
    notes.append(f"{where} was {len(value):,} characters: cut to {MAX_STRING:,}")
    return value[:MAX_STRING]


def parse_datetime(obj: dict[str, Any], key: str, prefix: str, notes: list[str]) -> datetime:
    value = obj.get(key)
    where = f"{prefix}{key}"
    if value is None:
        raise ReportError(f"{where}: required field missing")
    if not isinstance(value, str):
        raise ReportError(f"{where}: must be a date-time string, got {_type_name(value)}")
    text = value.strip()
    if len(text) > 64:
        raise ReportError(f"{where}: not a date-time ({len(text)} characters)")
    parsed = _fromisoformat(text)
    if parsed is None:
        raise ReportError(f"{where}: not an RFC 3339 date-time: {text!r}")
    if parsed.tzinfo is None:
        notes.append(f"{where} {text!r} has no UTC offset: read as UTC")
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ReportError(f"{where}: out of range in UTC: {text!r}") from None


def _fromisoformat(text: str) -> datetime | None:
    candidate = text
    if candidate[-1:] in ("z", "Z"):
        candidate = candidate[:-1] + "+00:00"
    if len(candidate) >= 11 and candidate[10] in ("t", " ", "_"):
        candidate = candidate[:10] + "T" + candidate[11:]
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    # Fractional seconds longer than microseconds (e.g. .123456789): trim them.
    match = re.match(r"^(.*\.\d{6})\d+(.*)$", candidate)
    if match:
        try:
            return datetime.fromisoformat(match[1] + match[2])
        except ValueError:
            return None
    return None
