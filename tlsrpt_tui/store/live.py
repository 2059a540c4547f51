"""The live archive: the explorer's archive without the screen.

:class:`LiveArchive` is everything the explorer does to its reports that is not
drawing them: which store answers (the SQLite index, or the in-memory store when
there is none or it cannot be used), loading (with progress, handed to
:class:`LiveEvents`), following the folders' changes (the watchfiles loop, its
restart with back-off, and the "not watching: reason" state), the alerts, and a
report's raw JSON with where it was seen (files and ingest sidecars). It imports
nothing of Textual: tests drive it directly, and the app (``ui/app.py``) keeps only
composing, bindings and routing, each of its workers being one call in here.

Threads. Loading, checking and the alerts block, and run in the app's thread
workers; :meth:`LiveArchive.watch` is a coroutine for its event loop. The
in-memory store is changed only by :meth:`LiveArchive.take` and
:meth:`LiveArchive.take_changes`, which the caller runs on the thread that reads
the store (the app's event loop): the events hand over what was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tlsrpt_tui.core.archive import (
    Archive,
    collect_files,
    display_name,
    in_quarantine,
    is_candidate_name,
    iter_report_files,
)
from tlsrpt_tui.core.health.alerts import Thresholds
from tlsrpt_tui.core.model import LoadResult, Report, Source
from tlsrpt_tui.core.reading.loader import Limits, load_file
from tlsrpt_tui.core.reading.raw import read_raw_text
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.store.memory import MemoryStore
from tlsrpt_tui.store.queries import ArchiveQueries, Filter

if TYPE_CHECKING:
    from tlsrpt_tui.core.health import Alert
    from tlsrpt_tui.ingest.quarantine_list import QuarantineList

    # The index, through its face only (when store/sqlite.py becomes store/index/,
    # this line and the one in _index() are the ones to change).
    from tlsrpt_tui.store.index import RefreshStats, SqliteStore

#: How often the initial scan hands a batch of parsed files over.
BATCH_SECONDS = 0.25
#: Seconds before the watcher, stopped, starts again (the last one repeats).
WATCH_BACKOFF = (1, 2, 4, 8, 16, 30, 60)
#: The watcher wakes at least this often (ms) to check its folders are still there.
WATCH_TICK_MS = 2_000
#: Full garbage collections come after this many middle-generation ones (Python's
#: default is 10): rarely during typing; collect_when_idle does them meanwhile.
FULL_COLLECTION_EVERY = 100

Batch = list[tuple[LoadResult, str]]


class WatchStopped(Exception):
    """The watch ended without an error of its own (its folder went away)."""


class RawCopy(NamedTuple):
    """A report as its file holds it: decoded (None: no copy holds it any more), its
    JSON text as received, and every file it was seen in with how it arrived."""

    obj: object
    text: str
    sources: list[str]


class LiveEvents:
    """What a :class:`LiveArchive` tells its owner; each does nothing unless overridden.

    The loading ones come from the loading thread, the watching ones from the
    event loop that runs :meth:`LiveArchive.watch`.
    """

    def progress(self, done: int, total: int, rate: float) -> None:
        """Files read (or checked, with the index) so far; ``rate`` per second."""

    def status(self, text: str) -> None:
        """What the index is doing now, in words ("Checking folders…")."""

    def results(self, batch: Batch, final: bool) -> None:
        """Files parsed (without the index): hand them to :meth:`LiveArchive.take`."""

    def index_ready(self, final: bool) -> None:
        """The index answers: as it was left (``final`` False), then up to date."""

    def index_failed(self, reason: str) -> None:
        """The index could not be used; every file is read into memory instead."""

    def files_changed(self, loaded: Batch, removed: list[str]) -> None:
        """The watcher re-read these files (without the index): hand them to
        :meth:`LiveArchive.take_changes`."""

    def index_changed(self, new_reports: list[Report]) -> None:
        """The index took in what the watcher saw; ``new_reports`` are new to it."""

    def watching(self, problem: str | None) -> None:
        """Why the watcher is down (None again once it watches)."""


class LiveArchive:
    """The watched archive behind the explorer (see the module's docstring)."""

    def __init__(
        self,
        paths: Iterable[Path],
        *,
        limits: Limits | None = None,
        thresholds: Thresholds | None = None,
        use_index: bool = False,
        trend_days: int = 14,
    ) -> None:
        from tlsrpt_tui.store.health_job import documented_now

        # Absolute: the watcher reports absolute paths, matched against these roots.
        self.paths = [Path(os.path.abspath(p)) for p in paths]
        self.limits = limits or Limits()
        self.thresholds = thresholds or Thresholds()
        #: With the index, files are parsed in a process pool and cached between runs.
        self.use_index = use_index
        #: The days of the trend column (the text-filter cache is prepared for them).
        self.trend_days = trend_days
        self.archive = Archive()
        self.memory = MemoryStore(self.archive)
        self.index: SqliteStore | None = None
        #: Set to stop loading and checking (the app sets it when it closes).
        self.cancel = threading.Event()
        #: Why the index could not be used (every file was read instead), else None.
        self.load_error: str | None = None
        #: Why the watcher is down, None while it watches (or before it starts).
        self.watch_problem: str | None = None
        #: The alerts' fixed "now" (the demo's documented one), else None: the content
        #: rules from the newest report, the silence rules from the wall clock (health).
        self.health_now = documented_now(self.paths)
        self.backoff = WATCH_BACKOFF

    @property
    def store(self) -> ArchiveQueries:
        """What answers the panes' questions: the index once it is open, else memory."""
        return self.index if self.index is not None else self.memory

    def close(self) -> None:
        self.cancel.set()

    # -- loading -----------------------------------------------------------------

    def load(self, events: LiveEvents, *, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Read the archive: through the index (falling back to memory when it cannot
        be used: a broken cache must never cost the user the archive), or file by file."""
        if self.use_index:
            try:
                self.load_through_index(events)
                return
            except Exception as exc:
                self.load_error = f"{type(exc).__name__}: {exc}"
                events.index_failed(self.load_error)
        self.load_into_memory(events, cancelled=cancelled)

    def load_into_memory(
        self, events: LiveEvents, *, cancelled: Callable[[], bool] = lambda: False
    ) -> None:
        """Parse every file, handing batches over as they come (every BATCH_SECONDS)."""
        files = collect_files(self.paths)
        total = len(files)
        started = time.perf_counter()
        events.progress(0, total, 0.0)
        batch: Batch = []
        last_post = started
        for done, (path, shown) in enumerate(files, start=1):
            if cancelled() or self.cancel.is_set():
                return
            batch.append((load_file(path, display_path=shown, limits=self.limits), str(path)))
            now = time.perf_counter()
            if now - last_post >= BATCH_SECONDS:
                events.results(batch, False)
                events.progress(done, total, done / max(now - started, 1e-6))
                batch = []
                last_post = now
        elapsed = time.perf_counter() - started
        events.results(batch, True)
        events.progress(total, total, total / max(elapsed, 1e-6))

    def load_through_index(self, events: LiveEvents) -> None:
        """Open the cached index at once (what it knew last time), then bring it up to
        date. Cancelled (:attr:`cancel`): returns with the index as far as it got."""
        from tlsrpt_tui.store.index import IndexCancelled, open_index

        started = time.perf_counter()
        last_post = [0.0]

        def progress(done: int, total: int) -> None:
            # At most ~10 events a second: one per file would flood the UI.
            now = time.perf_counter()
            if done != total and now - last_post[0] < 0.1:
                return
            last_post[0] = now
            events.progress(done, total, done / max(now - started, 1e-6))

        try:
            index = open_index(
                self.paths,
                limits=self.limits,
                jobs=os.cpu_count() or 1,
                progress=progress,
                cancel=self.cancel,
                refresh=False,
            )
            self.index = index
            events.index_ready(False)
            index.refresh(progress=progress, cancel=self.cancel, status=events.status)
        except IndexCancelled:
            return
        events.index_ready(True)
        self.prepare_text_filter()

    def prepare_text_filter(self) -> None:
        """Only to make later text filters quicker: a failure here is met again (and
        reported) by the query that needs the answer."""
        if self.index is not None:
            with contextlib.suppress(Exception):
                self.index.prepare_text_filter(self.trend_days)

    def prefetch(self, filters: Iterable[Filter], wanted: Callable[[], bool]) -> None:
        """Ask the detail panes' questions for ``filters`` (one per navigation row) ahead
        of the cursor, while ``wanted()``: moving the cursor over them then costs only a
        repaint, even on a huge archive. Only with the index (memory answers at once)."""
        index = self.index
        if index is None:
            return
        with contextlib.suppress(Exception):  # (as prepare_text_filter)
            for flt in filters:
                if self.cancel.is_set() or not wanted():
                    return
                index.policy_rows(flt)
                index.failure_rows(flt)

    def check_every_file(
        self, progress: Callable[[int, int, float], None] | None = None
    ) -> RefreshStats | None:
        """Compare every file with the index, not only those in folders that changed
        (a report rewritten in place leaves its folder's times as they were). None
        when cancelled; ValueError without the index. (Then prepare_text_filter: after
        the panes show the result.)"""
        from tlsrpt_tui.store.index import IndexCancelled

        index = self.index
        if index is None:
            raise ValueError("there is no index: every file is read at start anyway")
        started = time.perf_counter()

        def counted(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total, done / max(time.perf_counter() - started, 1e-6))

        try:
            stats = index.refresh(progress=counted, cancel=self.cancel, full=True)
        except IndexCancelled:
            return None
        return stats

    def take(self, batch: Batch) -> list[Report]:
        """Add parsed files to the in-memory store; returns the reports new to it."""
        new: list[Report] = []
        for result, location in batch:
            new.extend(self.archive.add(result, Path(location)))
        self.memory.resync()
        return new

    def take_changes(self, loaded: Batch, removed: list[str]) -> list[Report]:
        """What the watcher saw, into the in-memory store: files gone (by their shown
        name), files new or changed; returns the reports new to the archive."""
        for shown in removed:
            self.archive.remove(shown)
        return self.take(loaded)

    # -- watching ----------------------------------------------------------------

    async def watch(self, events: LiveEvents) -> None:
        """Follow the folders' changes for as long as it is not cancelled, whatever happens.

        watchfiles gives up on a path that is not UTF-8 (at set-up when a folder has
        such a name, at the event when a file has), and on a folder that vanishes.
        Such folders are not handed to it (each good folder is watched on its own,
        see :func:`watchable_folders`), and when it stops anyway ``events.watching``
        hears why ("not watching: <reason>") and it starts again after a back-off
        (1 s, 2 s, … 60 s), first catching up with what changed meanwhile (files of any
        name included). Returns at once when no path is a folder.
        """
        roots = [p for p in self.paths if p.is_dir()]
        if not roots:
            return
        failures = 0
        #: Since when nothing watched (None at the first start: the scan reads it all).
        stopped_at: float | None = None
        while True:
            try:
                folders = await asyncio.to_thread(watchable_folders, roots)
                await self.follow(events, roots, folders, stopped_at)
                # A new folder to watch: the watches are set up again, and what
                # happened in between is caught up with.
                stopped_at = time.time()
                failures = 0
            except Exception as exc:
                stopped_at = stopped_at or time.time()
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                reason = (
                    str(exc) if isinstance(exc, WatchStopped) else f"{type(exc).__name__}: {exc}"
                )
                self.set_watching(events, f"{reason} (trying again in {delay} s)")
                await asyncio.sleep(delay)

    def set_watching(self, events: LiveEvents, problem: str | None) -> None:
        problem = None if problem is None else plain(problem)
        if problem != self.watch_problem:
            self.watch_problem = problem
            events.watching(problem)

    async def follow(
        self, events: LiveEvents, roots: list[Path], folders: list[Path], since: float | None
    ) -> None:
        """Watch ``folders`` (each on its own) until a new folder needs a watch of its own.

        Once the watches are up (at the first batch), what changed after ``since`` and
        before is caught up with: nothing falls between two watchers.
        """
        from watchfiles import Change, awatch

        async for changes in awatch(
            *folders,
            debounce=300,
            step=50,
            recursive=False,
            yield_on_timeout=True,
            rust_timeout=WATCH_TICK_MS,
        ):
            # A watched folder that vanished (an unmounted disk) raises nothing: the
            # watch is gone all the same.
            for root in roots:
                if not root.is_dir():
                    raise WatchStopped(f"{plain(str(root))} is no longer a folder")
            if since is not None:
                await self.catch_up(events, roots, since)
                since = None
            self.set_watching(events, None)  # (alive: it yields at least every tick)
            touched: set[Path] = set()
            new_folder = False
            for kind, name in changes:
                path = Path(name)
                if kind == Change.added and path.is_dir():
                    # Files written into a new folder before its watch was set up
                    # raise no event of their own: scan the folder.
                    touched.update(await asyncio.to_thread(list_files, path))
                    new_folder = True
                touched.add(path)
            if touched:
                await self.apply_watched(events, roots, touched)
            if new_folder:
                return

    async def catch_up(self, events: LiveEvents, roots: list[Path], since: float) -> None:
        """What changed while nobody watched: the index's own quick refresh, or (in
        memory) the files that are new, gone, or modified since ``since``."""
        if self.index is not None:
            await asyncio.to_thread(self.index.refresh, cancel=self.cancel)
            events.index_changed([])
            return

        def changed() -> set[Path]:
            known = {str(location) for location in self.archive.locations.values()}
            touched: set[Path] = set()
            on_disk: set[str] = set()
            for path, _shown in collect_files(roots):
                on_disk.add(str(path))
                with contextlib.suppress(OSError):
                    if str(path) not in known or path.stat().st_mtime >= since - 2:
                        touched.add(path)
            touched.update(Path(p) for p in known - on_disk)
            return touched

        touched = await asyncio.to_thread(changed)
        if touched:
            await self.apply_watched(events, roots, touched)

    async def apply_watched(
        self, events: LiveEvents, roots: list[Path], touched: set[Path]
    ) -> None:
        """Read (or index) the files the watcher or a catch-up found changed."""
        if self.index is not None:
            new = await asyncio.to_thread(self.index.apply_changes, sorted(touched))
            events.index_changed(new)
            await asyncio.to_thread(self.prepare_text_filter)
            return
        loaded: Batch = []
        removed: list[str] = []
        # Files already known keep the name the scan gave them (names can collide
        # across roots, and the scan then used the path as given).
        known = {str(location): shown for shown, location in self.archive.locations.items()}
        quarantine_changed = False
        for path in sorted(touched):
            root = next((r for r in roots if path.is_relative_to(r)), roots[0])
            shown = known.get(str(path)) or display_name(path, root)
            if in_quarantine(root, path.relative_to(root).parts):
                quarantine_changed = True  # never counted; only its count changes
                continue
            if path.is_dir():
                continue
            # (a FIFO or a broken link is an error entry, as the scan makes it)
            if not (path.exists() or path.is_symlink()):
                removed.append(shown)
            elif all(is_candidate_name(part) for part in path.relative_to(root).parts):
                result = await asyncio.to_thread(
                    load_file, path, display_path=shown, limits=self.limits
                )
                loaded.append((result, str(path)))
        if loaded or removed or quarantine_changed:
            events.files_changed(loaded, removed)

    # -- alerts --------------------------------------------------------------------

    def alerts(self) -> list[Alert]:
        """The alerts, the one place the explorer computes them: from memory directly;
        over the index in a child process (it re-reads the recent reports' files, which
        must not slow the UI down). Blocks: run it off the event loop."""
        if self.index is None:
            from tlsrpt_tui.store.health_job import alerts_of

            clock = datetime.now(UTC)
            return alerts_of(
                self.store, thresholds=self.thresholds, now=self.health_now, clock=clock
            )
        return self.alerts_in_child()

    def alerts_in_child(self) -> list[Alert]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from tlsrpt_tui.store.health_job import recent_alerts
        from tlsrpt_tui.store.index import prepare_workers

        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        prepare_workers()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
            future = pool.submit(
                recent_alerts, self.paths, self.limits, self.thresholds, self.health_now
            )
            return future.result()

    # -- the raw report ------------------------------------------------------------

    def raw_report(self, key: str) -> RawCopy:
        """The raw JSON of a report (its first readable copy) and every file it was seen
        in, each with how it arrived (the ingest sidecars beside it)."""
        from tlsrpt_tui.ingest.report_dir import provenance

        copies = self.store.locate(key)
        shown = [source.describe() + provenance(location) for location, source in copies]
        for location, source in copies:
            try:
                obj, text = read_raw_text(Source(str(location), source.part), limits=self.limits)
            except Exception:  # the file changed or vanished since it was read
                continue
            return RawCopy(obj, text, shown)
        return RawCopy(None, "", shown)

    # -- the quarantine ------------------------------------------------------------

    def quarantine_label(self) -> str | None:
        """How many reports are kept in quarantine under the roots ("3", "10,000+"), for
        the overview line; None when none (they are never counted as reports)."""
        from tlsrpt_tui.ingest.quarantine_list import quarantine_label

        return quarantine_label(self.paths)

    def quarantined(self) -> QuarantineList:
        """The reports in quarantine, each with its DKIM verdict and reason."""
        from tlsrpt_tui.ingest.quarantine_list import find_quarantined

        return find_quarantined(self.paths)

    # -- the garbage collector -----------------------------------------------------

    def settle(self) -> None:
        """Move what start-up and loading built out of the garbage collector's way.

        A full collection walks every object the process has made (for the explorer:
        Textual's DOM, styles, caches), ~50 ms at 100,000 reports, landing on some key
        press. Frozen objects are skipped; what is freed later is still freed by
        reference counting. Full collections of what came since become rarer
        (FULL_COLLECTION_EVERY), for :func:`collect_when_idle` to do meanwhile: the
        caller calls it about once a second."""
        gc.freeze()
        young, middle, _full = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def collect_when_idle(last_key: float) -> None:
    """A full garbage collection (~20 ms with a large archive) once nobody has typed
    for a second (``last_key``: time.monotonic() of the last key), rather than in the
    middle of a key press (see LiveArchive.settle)."""
    if time.monotonic() - last_key > 1.0 and gc.get_count()[2] >= 5:
        gc.collect()


def list_files(folder: Path) -> list[Path]:
    return list(iter_report_files(folder))


def watchable_folders(roots: list[Path]) -> list[Path]:
    """``roots`` and every folder under them that the scan reads and watchfiles can
    watch: one whose path is UTF-8 (watchfiles stops on any other). Reports under a
    folder it cannot watch are found by the catch-ups (and at the next start).
    Quarantine folders are watched too: their reports are never counted, but the
    header's quarantine count follows them."""
    folders: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = list(reversed(roots))
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            if folder in roots:
                raise  # (a root that vanished: the watcher says so and tries again)
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        folders.append(folder)
        maildir = {e.name for e in entries} >= {"cur", "new", "tmp"}
        for entry in entries:
            if not is_candidate_name(entry.name) or not utf8(entry.name):
                continue
            if maildir and entry.name == "tmp":
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir():
                    stack.append(Path(entry.path))
    return folders


def utf8(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (decoded as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
