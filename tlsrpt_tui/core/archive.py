"""Scan a report directory and keep one copy of every distinct report.

Reports are often filed in dated sub-folders, arrive twice (an email and its saved
attachment, several rua destinations, a re-send), and sit next to files that are
not reports at all. The scan survives all of it and remembers every path a report
was seen at.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tlsrpt_tui.core.model import LoadError, LoadResult, Report, Source
from tlsrpt_tui.core.reading.loader import DEFAULT_LIMITS, Limits, load_file
from tlsrpt_tui.core.text import printable_path

Identity = tuple[str, str, object, frozenset[str]]

TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".swp", ".crdownload", "~")


def is_candidate_name(name: str) -> bool:
    """False for hidden files and the names editors and downloaders use while writing."""
    if not name or name.startswith(".") or name.startswith("#"):
        return False
    lowered = name.lower()
    return not lowered.endswith(TEMPORARY_SUFFIXES)


#: A folder holding this file keeps reports apart (failed DKIM, unsigned): never scanned.
QUARANTINE_MARKER = ".tlsrpt-quarantine"


def is_quarantine(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, QUARANTINE_MARKER))


def in_quarantine(root: Path, parts: Sequence[str]) -> bool:
    """``root``/``parts`` is a quarantine folder or lies under one (below ``root``): a
    changed path the watcher reports there is not part of the archive, as the scan
    (which never enters such a folder) has it."""
    return any(is_quarantine(os.path.join(root, *parts[:end])) for end in range(1, len(parts) + 1))


def iter_report_files(root: Path) -> Iterator[Path]:
    """Every candidate file under ``root`` (or ``root`` itself), sorted, loops avoided.

    Symlinked directories are followed once each; a Maildir's ``tmp/`` holds messages
    still being delivered and is skipped, and so is a quarantine folder. Nothing else is
    dropped without a word: a folder that cannot be listed, and an entry that is not a
    regular file (a FIFO, a device, a socket, a broken link, a link loop), are yielded
    too, for the loader to name as errors (it never opens them).
    """
    if not root.is_dir():
        if root.exists() or root.is_symlink():
            yield root
        return
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = directory.stat()
        except OSError:
            continue  # (gone since it was listed)
        key = (info.st_dev, info.st_ino)
        if key in seen:
            continue  # a link to a folder already walked: its files are there
        seen.add(key)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            yield directory  # cannot be listed: the loader says why
            continue
        is_maildir = {e.name for e in entries} >= {"cur", "new", "tmp"}
        subdirs: list[Path] = []
        for entry in entries:
            if not is_candidate_name(entry.name):
                continue
            try:
                if entry.is_dir():
                    if not (is_maildir and entry.name == "tmp") and not is_quarantine(entry.path):
                        subdirs.append(Path(entry.path))
                    continue
            except OSError:
                pass  # (a link loop: the loader says so)
            yield Path(entry.path)  # a file, or anything else the loader names
        stack.extend(reversed(subdirs))


def display_name(path: Path, root: Path) -> str:
    """The path as shown to users: relative to the root given, or the file name."""
    try:
        relative = path.relative_to(root) if root.is_dir() else Path(path.name)
    except ValueError:
        relative = path
    if relative == Path("."):  # (the folder given, when it cannot be listed)
        relative = root
    return printable_path(str(relative))


@dataclass
class Archive:
    """Distinct reports, their copies, and the files that could not be read."""

    files: int = 0
    reports: dict[Identity, Report] = field(default_factory=dict)
    copies: dict[Identity, list[Source]] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    results: dict[str, LoadResult] = field(default_factory=dict)
    #: display path -> the file on disk (display paths are relative to the roots given)
    locations: dict[str, Path] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        return sum(len(sources) - 1 for sources in self.copies.values())

    @property
    def bad_files(self) -> int:
        return len({error.source.path for error in self.errors})

    def add(self, result: LoadResult, location: Path | None = None) -> list[Report]:
        """Add one file's result; returns the reports that were new to the archive."""
        known: set[Identity] = set()
        if result.path in self.results:
            # A re-read file (rewritten, touched) does not make its reports new again.
            known = {report.identity for report in self.results[result.path].reports}
            self.remove(result.path)
        self.files += 1
        self.results[result.path] = result
        self.locations[result.path] = location if location is not None else Path(result.path)
        self.errors.extend(result.errors)
        new: list[Report] = []
        for report in result.reports:
            identity = report.identity
            if identity in self.reports:
                self.copies[identity].append(report.source)
            else:
                self.reports[identity] = report
                self.copies[identity] = [report.source]
                if identity not in known:
                    new.append(report)
        return new

    def remove(self, path: str) -> None:
        """Forget a file that was deleted or is about to be re-read."""
        result = self.results.pop(path, None)
        if result is None:
            return
        self.locations.pop(path, None)
        self.files -= 1
        self.errors = [e for e in self.errors if e.source.path != path]
        for report in result.reports:
            identity = report.identity
            sources = [s for s in self.copies.get(identity, []) if s.path != path]
            if sources:
                self.copies[identity] = sources
                if self.reports[identity].source.path == path:
                    self.reports[identity] = self._report_at(identity, sources[0])
            else:
                self.copies.pop(identity, None)
                self.reports.pop(identity, None)

    def _report_at(self, identity: Identity, source: Source) -> Report:
        for report in self.results[source.path].reports:
            if report.identity == identity:
                return report
        raise KeyError(source)  # pragma: no cover - copies and results agree

    def sorted_reports(self) -> list[Report]:
        return sorted(self.reports.values(), key=lambda r: (r.start, r.organization_name))


ProgressCallback = Callable[[int, int], None]


def _load_one(job: tuple[str, str, Limits]) -> LoadResult:
    path, shown, limits = job
    return load_file(path, display_path=shown, limits=limits)


def collect_files(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, display name) for every candidate file under the given paths."""
    jobs: list[tuple[Path, str]] = []
    seen: set[str] = set()
    shown_names: set[str] = set()
    for root in paths:
        for file in iter_report_files(root):
            absolute = os.path.abspath(file)
            if absolute in seen:
                continue  # the same file under two of the paths given (a, a/sub)
            seen.add(absolute)
            shown = display_name(file, root)
            if shown in shown_names:
                # Two roots holding the same relative name: the archive is keyed by
                # display name, so keep them apart with the path as given.
                shown = printable_path(str(file))
            shown_names.add(shown)
            jobs.append((file, shown))
    return jobs


#: A file to load: (path, display name, limits).
LoadJob = tuple[str, str, Limits]
#: Maps the loading of one file over the jobs, results in the jobs' order: ``map``
#: in-process, or a process pool's (:func:`tlsrpt_tui.store.parallel.pool.load_archive`).
Mapper = Callable[[Callable[[LoadJob], LoadResult], list[LoadJob]], Iterable[LoadResult]]


def load_archive(
    paths: Iterable[Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress: ProgressCallback | None = None,
    mapper: Mapper | None = None,
) -> Archive:
    """Scan and load every file under ``paths`` into an :class:`Archive`.

    ``mapper`` loads the files (in-process by default; results keep scan order either
    way, so de-duplication picks the same first copy).
    """
    files = collect_files(paths)
    archive = Archive()
    total = len(files)
    work: list[LoadJob] = [(str(path), shown, limits) for path, shown in files]
    if progress:
        progress(0, total)
    results = (mapper or map)(_load_one, work)
    for done, result in enumerate(results, start=1):
        archive.add(result, files[done - 1][0])
        if progress and (done == total or done % 256 == 0):
            progress(done, total)
    return archive
