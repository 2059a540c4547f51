"""Write reports into the report directory so that none is ever lost or stored twice.

Layout under the report directory ``ROOT`` (the folder the explorer watches)::

    ROOT/YYYY/MM/DD/<submitter>!<policy-domain>!<begin>!<end>!<key>.json.gz
    ROOT/YYYY/MM/DD/.<same name>.dkim.json     how the report came (DKIM verdict, ...)
    ROOT/quarantine/YYYY/MM/DD/...             reports whose mail failed DKIM
    ROOT/.incoming/                            temporary files while writing
    ROOT/.tlsrpt-ingest.lock                   serialises the duplicate check

The date folders come from the report's date-range start. ``<key>`` is a hash of the
report's identity (organization-name, report-id, start, policy domains; see
:attr:`Report.identity`), so the report file itself is the record that the report
was received: no separate index can disagree with the files after a crash.

Writing is durable before anything is acknowledged: the bytes go to a temporary file
that is fsynced, then renamed into place, then the directory is fsynced. Only after
:meth:`ReportStore.save` returns may a caller mark a mail seen or answer an HTTP POST.

Hidden names (leading dot) are skipped by the archive scanner, which is why the
sidecars and the working files start with a dot.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from tlsrpt_tui.core.model import UNKNOWN_DOMAIN, LoadResult, Report
from tlsrpt_tui.core.reading.loader import (
    DEFAULT_LIMITS,
    GZIP_MAGIC,
    Limits,
    ReportError,
    decode_json,
    gunzip_capped,
)

REPORT_SUFFIX = ".json.gz"
SIDECAR_SUFFIX = ".json"
INCOMING_DIR = ".incoming"
LOCK_NAME = ".tlsrpt-ingest.lock"
QUARANTINE_DIR = "quarantine"
#: Written into the quarantine folder so that scanners can recognise (and skip) it.
QUARANTINE_MARKER = ".tlsrpt-quarantine"
#: Longest a single file-name component derived from report data may be.
MAX_COMPONENT = 64
#: Temporary files older than this are left-overs of a crash and are removed.
STALE_TEMP_SECONDS = 3600.0

_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]+")
#: How the loader labels the reports of a JSON array ("item 3", "part 2 (x.json), item 3").
_ITEM = re.compile(r"(?:^|, )item (\d+)$")

SaveStatus = Literal["saved", "duplicate"]


def sanitize_component(value: str, *, limit: int = MAX_COMPONENT, empty: str = "unknown") -> str:
    """``value`` made safe as (part of) one file name.

    Only letters, digits and ``. _ + @ -`` survive; runs of anything else (``/``,
    ``!``, spaces, control characters, non-ASCII) become one ``_``. Leading dots and
    dashes go (no hidden or option-like names, no ``..``) and the result is cut to
    ``limit`` characters.
    """
    text = _UNSAFE.sub("_", value)
    text = re.sub(r"\.{2,}", ".", text)
    text = text.lstrip(".-")
    text = text[:limit].rstrip(".")
    return text or empty


def report_key(report: Report) -> str:
    """A short, stable hash of the report's identity: equal for two copies of a report."""
    organization, report_id, start, domains = report.identity
    canonical = json.dumps(
        [organization, report_id, start.isoformat(), sorted(domains)],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:20]


def _timestamp(moment: datetime) -> int:
    return max(0, int(moment.timestamp()))


def report_file_name(report: Report, submitter: str) -> str:
    """``<submitter>!<policy-domain>!<begin>!<end>!<key>.json.gz`` (RFC 8460 section 5.1).

    A report about no known policy domain gets an empty domain field, so that reading
    the file back does not mistake a placeholder for the policy domain.
    """
    domains = sorted(d for d in report.policy_domains if d != UNKNOWN_DOMAIN)
    domain = sanitize_component(domains[0], empty="") if domains else ""
    return (
        f"{sanitize_component(submitter)}!{domain}!{_timestamp(report.start)}"
        f"!{_timestamp(report.end)}!{report_key(report)}{REPORT_SUFFIX}"
    )


def date_folder(report: Report) -> Path:
    start = report.start
    return Path(f"{start.year:04d}", f"{start.month:02d}", f"{start.day:02d}")


def sidecar_path(report_path: Path, kind: str) -> Path:
    """Where the ``kind`` sidecar (``dkim``, ``https``) of a saved report lives."""
    return report_path.with_name(f".{report_path.name}.{kind}{SIDECAR_SUFFIX}")


def read_sidecars(report_path: Path) -> dict[str, Any]:
    """All sidecars of a saved report, by kind (``{"dkim": {...}}``); {} when none.

    Meant for the explorer: shows how a report arrived and its DKIM verdict.
    """
    found: dict[str, Any] = {}
    prefix = f".{report_path.name}."
    try:
        names = os.listdir(report_path.parent)
    except OSError:
        return found
    for name in names:
        if name.startswith(prefix) and name.endswith(SIDECAR_SUFFIX):
            kind = name[len(prefix) : -len(SIDECAR_SUFFIX)]
            try:
                found[kind] = json.loads((report_path.parent / name).read_text("utf-8"))
            except (OSError, ValueError):
                continue
    return found


def provenance(report_path: Path) -> str:
    """How a saved report arrived, from the sidecars `fetch`/`import`/`receive` write
    beside it ("  · DKIM pass (d=example.com); received by HTTPS POST"); "" when none.

    Sidecar text is report-adjacent input: the caller shows it as plain text.
    """
    sidecars = read_sidecars(report_path)
    notes = []
    dkim = sidecars.get("dkim")
    if isinstance(dkim, dict):
        verdict = str(dkim.get("verdict", "?"))
        signer = dkim.get("domain")
        note = f"DKIM {verdict}" + (f" (d={signer})" if signer else "")
        if verdict != "pass" and dkim.get("reason"):
            note += f": {dkim.get('reason')}"
        notes.append(note)
    if "https" in sidecars:
        notes.append("received by HTTPS POST")
    return f"  · {'; '.join(notes)}" if notes else ""


def gzip_payload(payload: bytes) -> bytes:
    """The report bytes as stored: gzip input unchanged, anything else gzipped."""
    if payload.startswith(GZIP_MAGIC):
        return payload
    return gzip.compress(payload, compresslevel=6, mtime=0)


def split_payload(
    payload: bytes, result: LoadResult, limits: Limits = DEFAULT_LIMITS
) -> list[tuple[bytes, Report]]:
    """(bytes to store, report) for every report ``load_bytes`` found in ``payload``.

    A payload holding one report is stored as sent (gzipped if it was plain JSON). The
    rare JSON array of reports is stored one file per report.
    """
    if len(result.reports) == 1 and not _ITEM.search(result.reports[0].source.part or ""):
        return [(gzip_payload(payload), result.reports[0])]
    if not result.reports:
        return []
    try:
        data = (
            gunzip_capped(payload, limits.max_decompressed_bytes)
            if (payload.startswith(GZIP_MAGIC))
            else payload
        )
        obj, _ = decode_json(data)
    except ReportError:
        return []
    pieces: list[tuple[bytes, Report]] = []
    for report in result.reports:
        match = _ITEM.search(report.source.part or "")
        if not isinstance(obj, list) or match is None or int(match[1]) >= len(obj):
            pieces.append((gzip_payload(payload), report))
            continue
        item = json.dumps(obj[int(match[1])], ensure_ascii=False).encode("utf-8")
        pieces.append((gzip_payload(item), report))
    return pieces


@dataclass(frozen=True, slots=True)
class SaveResult:
    status: SaveStatus
    path: Path  # where the report is (the existing copy for a duplicate)
    quarantined: bool


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """``mkdir -p`` that fsyncs the parent of every folder it creates."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        fsync_dir(folder.parent)


def _write_temp(directory: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


class ReportStore:
    """The report directory, written durably and without duplicates.

    Safe to use from several threads and from several processes at once (a fetch
    from cron while the receiver runs): the duplicate check and the final rename
    happen under an exclusive lock on ``ROOT/.tlsrpt-ingest.lock``.
    """

    def __init__(self, root: Path, quarantine: Path | None = None) -> None:
        self.root = Path(root)
        self.quarantine = Path(quarantine) if quarantine is not None else self.root / QUARANTINE_DIR
        self._lock = threading.Lock()
        self._prepared: set[Path] = set()

    # ------------------------------------------------------------------ setup

    def prepare(self) -> None:
        """Create the directory if needed and remove temporary files of old crashes.

        Raises OSError when the directory cannot be created or written.
        """
        make_dirs(self.root)
        self._incoming(self.root)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root}: not writable")
        for base in (self.root, self.quarantine):
            self.remove_stale_temporaries(base / INCOMING_DIR)

    @staticmethod
    def remove_stale_temporaries(folder: Path, max_age: float = STALE_TEMP_SECONDS) -> int:
        removed = 0
        now = time.time()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return 0
        for entry in entries:
            if not entry.name.startswith(".tmp-"):
                continue
            try:
                if now - entry.stat().st_mtime > max_age:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed

    def _incoming(self, base: Path) -> Path:
        folder = base / INCOMING_DIR
        if folder not in self._prepared:
            make_dirs(folder)
            if base == self.quarantine:
                marker = base / QUARANTINE_MARKER
                if not marker.exists():
                    marker.write_text(
                        "Reports whose mail failed DKIM or was unsigned (RFC 8460 section 3).\n",
                        "utf-8",
                    )
            self._prepared.add(folder)
        return folder

    # ------------------------------------------------------------------ lookups

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    @staticmethod
    def _find(folder: Path, key: str) -> Path | None:
        suffix = f"!{key}{REPORT_SUFFIX}"
        try:
            names = os.listdir(folder)
        except OSError:
            return None
        for name in names:
            if name.endswith(suffix) and not name.startswith("."):
                return folder / name
        return None

    def find(self, report: Report) -> tuple[Path, bool] | None:
        """(path, quarantined) of the stored copy of ``report``, if there is one."""
        key = report_key(report)
        dated = date_folder(report)
        found = self._find(self.root / dated, key)
        if found is not None:
            return found, False
        found = self._find(self.quarantine / dated, key)
        return (found, True) if found is not None else None

    # ------------------------------------------------------------------ saving

    def save(
        self,
        payload: bytes,
        report: Report,
        *,
        submitter: str,
        quarantine: bool = False,
        sidecars: dict[str, dict[str, Any]] | None = None,
    ) -> SaveResult:
        """Store one report durably unless a copy is already stored.

        ``payload`` is the report as sent (gzip or JSON bytes: JSON is gzipped).
        ``sidecars`` maps a kind (``"dkim"``, ``"https"``) to a JSON object written
        next to the report. A report stored in quarantine is moved into the archive
        when a copy arrives that is not to be quarantined. When this returns with
        ``"saved"`` the file and its directory entry are on disk.
        """
        base = self.quarantine if quarantine else self.root
        incoming = self._incoming(base)
        folder = base / date_folder(report)
        name = report_file_name(report, submitter)
        target = folder / name
        existing = self.find(report)
        if existing is not None and (not existing[1] or quarantine):
            if not existing[1] and not quarantine:
                self._finish_replacement(report)
            return SaveResult("duplicate", existing[0], existing[1])

        data = gzip_payload(payload)
        temp_report = _write_temp(incoming, data)
        temp_sidecars: list[tuple[Path, Path]] = []
        try:
            for kind, content in (sidecars or {}).items():
                text = json.dumps(content, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
                temp = _write_temp(incoming, text.encode("utf-8"))
                temp_sidecars.append((temp, sidecar_path(target, kind)))
            make_dirs(folder)
            with self._locked():
                existing = self.find(report)
                if existing is not None and (not existing[1] or quarantine):
                    return SaveResult("duplicate", existing[0], existing[1])
                for temp, final in temp_sidecars:
                    os.replace(temp, final)
                # link() never replaces: a racing writer outside the lock cannot be clobbered.
                try:
                    os.link(temp_report, target)
                except FileExistsError:
                    return SaveResult("duplicate", target, quarantine)
                fsync_dir(folder)
                if existing is not None and existing[1] and not quarantine:
                    self._remove_quarantined(existing[0])
            return SaveResult("saved", target, quarantine)
        finally:
            for path in [temp_report, *(temp for temp, _ in temp_sidecars)]:
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _finish_replacement(self, report: Report) -> None:
        """A copy of ``report`` is in the archive: drop a quarantined copy still there
        (a run that stored the signed copy was killed before removing it)."""
        left = self._find(self.quarantine / date_folder(report), report_key(report))
        if left is not None:
            with self._locked():
                self._remove_quarantined(left)

    def _remove_quarantined(self, path: Path) -> None:
        """Drop the quarantined copy of a report now stored in the archive (and its
        sidecars, each on its own: one already gone does not keep the others)."""
        prefix = f".{path.name}."
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            for name in os.listdir(path.parent):
                if name.startswith(prefix):
                    with contextlib.suppress(OSError):
                        (path.parent / name).unlink()
            fsync_dir(path.parent)
