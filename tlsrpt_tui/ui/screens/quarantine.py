"""`u`: reports kept in quarantine (their mail failed DKIM or was unsigned), and why.

``import``, ``fetch`` and ``receive`` keep such reports apart in a folder holding the
quarantine marker (``quarantine/`` under the report folder by default). The explorer
never counts them (RFC 8460 section 3: anyone can send a report about any domain); it
shows how many there are in the overview line and lists them here, each with the
DKIM verdict and reason recorded when it came in.
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
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tlsrpt_tui.core.archive import QUARANTINE_MARKER, is_quarantine
from tlsrpt_tui.core.text import printable_path
from tlsrpt_tui.ui.safe import safe

#: The folder ``import``/``fetch``/``receive`` quarantine into by default.
QUARANTINE_DIR = "quarantine"
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


class QuarantineScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,u", "close", "Close")]
    DEFAULT_CSS = """
    QuarantineScreen { align: center middle; }
    #quarantine-box {
        width: 95%;
        height: 80%;
        border: round $warning;
        padding: 0 1;
        background: $surface;
    }
    #quarantine-box DataTable { height: 1fr; }
    #quarantine-detail { height: auto; max-height: 8; border-top: solid $warning; }
    """

    def __init__(self, found: QuarantineList) -> None:
        super().__init__()
        self.found = found

    def compose(self) -> ComposeResult:
        with Vertical(id="quarantine-box") as box:
            box.border_title = f"Quarantine ({self.found.label})"
            if self.found.reports:
                note = (
                    "Reports whose mail failed DKIM or was unsigned (RFC 8460 section 3: "
                    "anyone can send a report about any domain). None of them is counted "
                    "anywhere. Import again with --accept-unsigned to count them."
                )
                if not self.found.complete:
                    note += f" Only the first {len(self.found.reports):,} are listed."
            else:
                note = f"Nothing in quarantine (no folder holding {QUARANTINE_MARKER})."
            yield Static(note, markup=False)
            table: DataTable[object] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_column("Begins", width=10)
            table.add_column("Submitter", width=16)
            table.add_column("Domain", width=16)
            table.add_column("DKIM", width=9)
            table.add_column("Why", width=200)
            for item in self.found.reports:
                table.add_row(
                    safe(item.day),
                    safe(item.submitter, limit=64),
                    safe(item.domain, limit=64),
                    safe(item.verdict, "bold yellow"),
                    safe(item.reason, "yellow", limit=200),
                )
            yield table
            # The selected report in full (the table cuts long reasons), wrapped.
            yield Static("", id="quarantine-detail", markup=False)

    def on_mount(self) -> None:
        self.show_detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.cursor_row)

    def show_detail(self, row: int) -> None:
        detail = self.query_one("#quarantine-detail", Static)
        if not 0 <= row < len(self.found.reports):
            detail.update("")
            return
        item = self.found.reports[row]
        detail.update(
            Text.assemble(
                ("File  ", "bold"),
                safe(item.path),
                ("\nDKIM  ", "bold"),
                safe(f"{item.verdict}: {item.reason}", "yellow"),
            )
        )

    def action_close(self) -> None:
        self.dismiss(None)
