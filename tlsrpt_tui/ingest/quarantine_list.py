"""The quarantine as the explorer lists and counts it: the report files kept apart in
folders holding the quarantine marker under the report directory, each with the DKIM
verdict and reason its sidecar recorded (see :mod:`tlsrpt_tui.ingest.report_dir`).

Apart from report_dir.py because the overview line counts these at every refresh from
the first screen on: this module imports no hashing or gzip (~8 ms at start-up).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tlsrpt_tui.core.archive import is_quarantine
from tlsrpt_tui.core.text import printable_path

#: Most quarantined reports listed (and counted exactly): a flood is shown as "N+".
LIMIT = 10_000
REPORT_SUFFIXES = (".json.gz", ".json", ".gz")


@dataclass(frozen=True, slots=True)
class Quarantined:
    """One report file in quarantine."""

    path: str  # as shown: relative to the explorer's root
    submitter: str
    domain: str
    day: str  # the report's first day (from the name), or "?"
    verdict: str
    reason: str


@dataclass(frozen=True, slots=True)
class QuarantineList:
    reports: list[Quarantined]
    complete: bool  # False: more than LIMIT files, only the first LIMIT are listed

    @property
    def label(self) -> str:
        return f"{len(self.reports):,}" + ("" if self.complete else "+")


#: root -> ((device, inode, mtime) of the root, when listed, its quarantine folders):
#: the overview asks on every refresh (each keystroke of a filter). A root's entries
#: change only with its mtime; a marker written into an existing folder does not
#: change it, hence the list is also made again after FOLDERS_TTL seconds.
_FOLDERS: dict[str, tuple[tuple[int, int, int], float, list[Path]]] = {}
FOLDERS_TTL = 5.0


def quarantine_folders(roots: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(root, quarantine folder) for each quarantine directly under a root folder given
    (``quarantine/`` or any other folder holding the marker). A root that is itself a
    quarantine was opened on purpose: its reports are shown, not kept apart."""
    found: list[tuple[Path, Path]] = []
    for root in roots:
        try:
            info = os.stat(root)
        except OSError:
            continue
        stamp = (info.st_dev, info.st_ino, info.st_mtime_ns)
        cached = _FOLDERS.get(str(root))
        now = time.monotonic()
        if cached is not None and cached[0] == stamp and now - cached[1] < FOLDERS_TTL:
            folders = [f for f in cached[2] if is_quarantine(str(f))]
        else:
            folders = _list_quarantines(root)
            _FOLDERS[str(root)] = (stamp, now, folders)
        found.extend((root, folder) for folder in folders)
    return found


def _list_quarantines(root: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    folders: list[Path] = []
    for entry in entries:
        try:
            if entry.is_dir() and is_quarantine(entry.path):
                folders.append(Path(entry.path))
        except OSError:
            continue
    return folders


def _report_files(folder: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(REPORT_SUFFIXES):
                yield Path(directory, name)


def _sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.with_name(f".{path.name}.dkim.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(root: Path, path: Path) -> Quarantined:
    # Names as the store writes them: <submitter>!<policy-domain>!<begin>!<end>!<key>.json.gz
    fields = path.name.split("!")
    submitter, domain = (fields[0], fields[1]) if len(fields) >= 5 else ("?", "?")
    day = "?"
    if len(fields) >= 5 and fields[2].isdigit():
        with contextlib.suppress(OverflowError, OSError, ValueError):
            day = datetime.fromtimestamp(int(fields[2]), UTC).date().isoformat()
    dkim = _sidecar(path)
    reason = str(dkim.get("reason") or "")
    if dkim.get("verified-as-of"):
        reason += f" (checked as of {dkim['verified-as-of']})"
    try:
        shown = str(path.relative_to(root))
    except ValueError:
        shown = str(path)
    return Quarantined(
        path=printable_path(shown),
        submitter=submitter,
        domain=domain or "?",
        day=day,
        verdict=str(dkim.get("verdict") or "unknown"),
        reason=reason or "no verdict recorded",
    )


def find_quarantined(roots: Sequence[Path], limit: int = LIMIT) -> QuarantineList:
    """Every report file in the quarantines under ``roots`` (at most ``limit``)."""
    reports: list[Quarantined] = []
    for root, folder in quarantine_folders(roots):
        for path in _report_files(folder):
            if len(reports) >= limit:
                return QuarantineList(reports, complete=False)
            reports.append(_describe(root, path))
    return QuarantineList(reports, complete=True)


def count_quarantined(roots: Sequence[Path], limit: int = LIMIT) -> tuple[int, bool]:
    """(how many report files are in quarantine, whether that is all of them)."""
    count = 0
    for _, folder in quarantine_folders(roots):
        for _ in _report_files(folder):
            if count >= limit:
                return count, False
            count += 1
    return count, True


def quarantine_label(roots: Sequence[Path]) -> str | None:
    """What the overview line shows ("3", "10,000+"), None when nothing is quarantined."""
    count, complete = count_quarantined(roots)
    if not count:
        return None
    return f"{count:,}" + ("" if complete else "+")
