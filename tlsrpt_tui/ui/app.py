"""The explorer: drill-down panes over a watched report directory."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from tlsrpt_tui.core import guidance
from tlsrpt_tui.core.model import Limits, Report
from tlsrpt_tui.core.progress import Totals
from tlsrpt_tui.core.text import plain
from tlsrpt_tui.probe import CachedProbe, ProbeCache, ProbeOptions, ProbeUsageError
from tlsrpt_tui.settings import Settings, save_settings
from tlsrpt_tui.store.live import Batch, LiveArchive, LiveEvents, collect_when_idle
from tlsrpt_tui.store.queries import ArchiveQueries, FailureRow, Filter, Overview, Pivot
from tlsrpt_tui.ui.messages import FilesChanged, IndexChanged, LoadProgress, ResultsLoaded
from tlsrpt_tui.ui.safe import safe
from tlsrpt_tui.ui.widgets.filter_input import FilterInput
from tlsrpt_tui.ui.widgets.guidance_pane import GuidancePane
from tlsrpt_tui.ui.widgets.line_table import LineTable
from tlsrpt_tui.ui.widgets.overview import OverviewBar
from tlsrpt_tui.ui.widgets.probe_view import probe_text, toast_text
from tlsrpt_tui.ui.widgets.tables import TREND_DAYS, FailureTable, NavTable, PolicyTable

if TYPE_CHECKING:
    from tlsrpt_tui.core.health import Alert
    from tlsrpt_tui.store.index import SqliteStore
    from tlsrpt_tui.ui.screens.date_range import DateRange
    from tlsrpt_tui.ui.screens.report import RawReport

#: Below this width the panes stack and the guidance opens full screen.
NARROW_WIDTH = 100


class AppEvents(LiveEvents):
    """What the live archive says, turned into the app's messages and calls (the
    loading ones arrive on a worker thread, the watching ones on the event loop)."""

    def __init__(self, app: ExplorerApp) -> None:
        self.app = app

    def progress(self, done: int, total: int, rate: float) -> None:
        self.app.post_message(LoadProgress(done, total, rate))

    def status(self, text: str) -> None:
        self.app.call_from_thread(self.app.show_load_status, text)

    def results(self, batch: Batch, final: bool) -> None:
        self.app.post_message(ResultsLoaded(batch, final=final))

    def index_ready(self, final: bool) -> None:
        self.app.call_from_thread(self.app.use_store, final)

    def index_failed(self, reason: str) -> None:
        self.app.call_from_thread(
            self.app.notify,
            f"The index could not be used ({reason}); reading every file.",
            severity="warning",
            markup=False,
        )

    def files_changed(self, loaded: Batch, removed: list[str]) -> None:
        self.app.post_message(FilesChanged(loaded, removed))

    def index_changed(self, new_reports: list[Report]) -> None:
        self.app.post_message(IndexChanged(new_reports))

    def watching(self, problem: str | None) -> None:
        self.app.show_watching(problem)


class ExplorerApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tlsrpt-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "toggle_pivot", "Pivot"),
        Binding("d", "date_range", "Dates"),
        Binding("r", "raw", "Raw"),
        Binding("b", "bad_files", "Bad files"),
        Binding("u", "quarantine", "Quarantine", show=False),
        Binding("a", "alerts", "Alerts"),
        Binding("t", "trends", "Trends"),
        Binding("x", "probe", "Probe"),
        Binding("escape", "go_back", "Back", show=False),
        Binding("c", "copy_row", "Copy", show=False),
        Binding("g", "guide", "Guide"),
    ]

    pivot: var[Pivot] = var("domain")
    base_filter: var[Filter] = var(Filter())
    loading: var[bool] = var(True)

    def __init__(
        self,
        paths: list[Path],
        *,
        settings: Settings | None = None,
        watch: bool = True,
        notice: str | None = None,
        save_settings_on_exit: bool = False,
        label: str | None = None,
        probe_options: ProbeOptions | None = None,
        use_index: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.watch_enabled = watch
        self.notice = notice
        self.save_on_exit = save_settings_on_exit
        #: The archive itself: which store answers, loading, watching, alerts, raw reports.
        self.live = LiveArchive(
            paths,
            limits=Limits(max_decompressed_bytes=self.settings.max_decompressed_mb * 1024 * 1024),
            thresholds=self.settings.thresholds,
            use_index=use_index,
            trend_days=TREND_DAYS,
        )
        self.events = AppEvents(self)
        # Absolute: the watcher reports absolute paths, matched against these roots.
        self.paths = self.live.paths
        self.use_index = use_index
        #: The totals of the progress messages (one still growing gives no time left)
        self.progress_totals = Totals()
        #: Policy the user drilled into (Enter on a policy row): narrows the failures.
        self.drilled: tuple[str, str] | None = None
        #: The entry last shown in the guide: `g` reopens it ("and back").
        self.guide_key: str | None = None
        self.timings: dict[str, float] = {"started": time.perf_counter()}
        #: Set once the user presses a key: until then the first row follows the data.
        self.user_active = False
        self.last_key = 0.0
        self.idle_collector: Timer | None = None
        #: True once the panes exist (App.is_mounted is not a property).
        self.started = False
        self.alerts: list[Alert] = []
        #: Seconds between evaluations of the alerts while nothing changes.
        self.health_every = 3600.0
        #: How often the panes were rebuilt (bursts of files must not rebuild per file).
        self.refreshes = 0
        if self.settings.theme:
            self.theme = self.settings.theme
        if self.settings.pivot in ("domain", "reporter"):
            self.set_reactive(ExplorerApp.pivot, self.settings.pivot)  # type: ignore[misc]
        #: Where the traceback of an unexpected exception was written (see _handle_exception).
        self.crash_log: Path | None = None
        self.probe_options = probe_options or ProbeOptions()
        self.probe_cache = ProbeCache()
        self.sub_title = label or ", ".join(plain(str(p)) for p in paths)

    @property
    def store(self) -> ArchiveQueries:
        """What the panes ask: the in-memory store, or the SQLite index once it is open."""
        return self.live.store

    @property
    def index(self) -> SqliteStore | None:
        return self.live.index

    @property
    def load_error(self) -> str | None:
        """Why the index could not be used (every file was read instead)."""
        return self.live.load_error

    @property
    def watch_problem(self) -> str | None:
        """Why the watcher is down (the header shows it), None while it watches."""
        return self.live.watch_problem

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield OverviewBar(id="overview")
        yield FilterInput(placeholder="filter: domain, reporter, result-type, MX, IP…", id="filter")
        with Horizontal(id="progress-row"):
            first_words = "Opening the index…" if self.use_index else "Reading reports…"
            yield Static(first_words, id="progress-label", markup=False)
            yield ProgressBar(id="progress", show_eta=True)
        yield Static("", id="notice", markup=False)
        # Held directly: messages may still arrive while the screen is torn down.
        self.nav = NavTable(id="nav")
        self.nav.on_cursor = self.nav_moved
        self.policies = PolicyTable(id="policies")
        self.failures = FailureTable(id="failures")
        self.failures.on_cursor = self.failure_moved
        self.guidance = GuidancePane(id="guidance")
        with Horizontal(id="main"):
            yield self.nav
            with Vertical(id="detail"):
                yield self.policies
                yield self.failures
                yield self.guidance
        yield Footer()

    def on_mount(self) -> None:
        self.started = True
        self.nav.set_pivot(self.pivot)
        filter_input = self.query_one("#filter", Input)
        filter_input.display = False
        self.watch(filter_input, "value", self.filter_changed, init=False)
        self.show_notice()
        self.nav.focus()
        self.refresh_all()
        self.load_archive()
        if self.watch_enabled:
            self.watch_directories()
        if self.live.health_now is None:
            # The silence rules measure from the clock: no new file must not mean no
            # news (health; an open explorer notices reports that stopped coming).
            self.set_interval(self.health_every, self.reevaluate_health)

    def reevaluate_health(self) -> None:
        busy = any(w.group == "health" and not w.is_finished for w in self.workers)
        if not self.loading and not busy:  # (a new one would cancel the one running)
            self.evaluate_health()

    def on_resize(self) -> None:
        self.screen.set_class(self.size.width < NARROW_WIDTH, "-narrow")

    # -- loading -----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False, description="scan")
    def load_archive(self) -> None:
        """Read the archive off the event loop (LiveArchive.load), then ask the detail
        panes' questions ahead of the cursor (with the index: see LiveArchive.prefetch)."""
        worker = get_current_worker()
        self.live.load(self.events, cancelled=lambda: worker.is_cancelled)
        if self.live.index is None or worker.is_cancelled:
            return
        pivot, base = self.pivot, self.base_filter
        keys = self.call_from_thread(lambda: [row.key for row in self.nav.rows_data])

        def wanted() -> bool:
            if worker.is_cancelled:
                return False
            return self.pivot == pivot and self.base_filter == base and self.drilled is None

        by = "domain" if pivot == "domain" else "reporter"
        self.live.prefetch((base.narrowed(**{by: key}) for key in keys), wanted)
        self.live.settle()  # (what was just prepared, out of the collector's way too)

    def show_load_status(self, text: str) -> None:
        self.query_one("#progress-label", Static).update(text)

    def action_full_check(self) -> None:
        """Compare every file with the index, not only those in folders that changed
        (a report rewritten in place leaves its folder's times as they were)."""
        if self.index is None:
            self.notify("Without the index (--no-cache) every file is read at start anyway.")
            return
        if self.loading:
            self.notify("Still loading: try again once the archive is up to date.")
            return
        self.loading = True
        self.query_one("#progress-label", Static).update("Checking every file…")
        self.query_one("#progress", ProgressBar).update(total=None)  # (how many: unknown yet)
        self.check_every_file()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False, description="check")
    def check_every_file(self) -> None:
        stats = self.live.check_every_file(self.events.progress)
        if stats is None:
            return
        self.call_from_thread(self.use_store, True)
        changes = (
            f"{stats.added:,} new, {stats.changed:,} changed, {stats.removed:,} removed"
            if stats.changes
            else "nothing changed"
        )
        self.call_from_thread(
            self.notify, f"Checked {stats.files:,} files: {changes}.", markup=False
        )
        self.live.prepare_text_filter()

    def use_store(self, final: bool) -> None:
        """Show the index: first as it was (at once), then again once it is up to date."""
        if final:
            self.loading = False
            self.timings["loaded"] = time.perf_counter()
            self.evaluate_health()
        self.refresh_all()
        if "first_screen" not in self.timings:
            self.call_after_refresh(self.panes_drawn)

    def panes_drawn(self) -> None:
        """The panes show the archive's data (first from the index as it was left, then
        once loading is done): notes when that first happened (benchmarks read it), and
        moves what start-up built out of the garbage collector's way (LiveArchive.settle),
        full collections then waiting for a pause in typing."""
        self.timings.setdefault("first_screen", time.perf_counter())
        self.live.settle()
        if self.idle_collector is None:
            self.idle_collector = self.set_interval(1.0, self.collect_when_idle)

    def collect_when_idle(self) -> None:
        collect_when_idle(self.last_key)

    def on_load_progress(self, message: LoadProgress) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)
        verb = "Reading reports" if self.index is None else "Checking for changes"
        count, left = self.progress_totals.count(message.done, message.total, message.rate)
        label = f"{verb} {count}"
        if message.rate:
            label += f" · {message.rate:,.0f} files/s"
            if left is not None:
                label += f" · {left} left"
        self.query_one("#progress-label", Static).update(label)

    def on_results_loaded(self, message: ResultsLoaded) -> None:
        self.live.take(message.batch)
        if message.final:
            self.loading = False
            self.timings["loaded"] = time.perf_counter()
            self.evaluate_health()
        self.refresh_all()
        if not self.user_active and self.nav.rows_data and self.nav.cursor_row != 0:
            self.nav.move_cursor(row=0, animate=False)

    def on_key(self) -> None:
        self.user_active = True

    async def on_event(self, event: events.Event) -> None:
        # Every key passes here first (a focused Input stops the ones it types, so
        # on_key would not see them).
        if isinstance(event, events.Key):
            self.last_key = time.monotonic()
        await super().on_event(event)

    def watch_loading(self, loading: bool) -> None:
        self.query_one("#progress-row").display = loading
        if not loading:
            self.call_after_refresh(self.panes_drawn)
        if not loading:
            self.show_notice()

    def show_notice(self) -> None:
        """The notice line: the start-up notice (settings warnings, a folder created), and,
        once loading is done, "No TLS-RPT reports … yet" for exactly as long as it is true
        (reports that land take it away; deleting every report brings it back)."""
        notice = self.query_one("#notice", Static)
        parts = [self.notice] if self.notice else []
        if not self.loading and not self.store.overview(Filter()).reports:
            places = ", ".join(str(p) for p in self.paths)
            parts.append(
                f"No TLS-RPT reports in {places} yet. Save reports there (.json, .json.gz, "
                ".eml, mbox or Maildir) or run `tlsrpt-tui fetch imap … --dir` / `tlsrpt-tui "
                "receive --dir` into it: they appear here as they land."
            )
        if parts:
            notice.update(Text("\n").join(safe(part, "yellow") for part in parts))
        notice.display = bool(parts)

    # -- watching ----------------------------------------------------------------

    @work(exclusive=True, group="watch", exit_on_error=False, description="watch")
    async def watch_directories(self) -> None:
        """Follow the folders' changes for as long as the app runs (LiveArchive.watch)."""
        await self.live.watch(self.events)

    def show_watching(self, problem: str | None) -> None:
        """The header says "not watching: <problem>" while the watcher is down."""
        self.refresh_title()
        if problem is not None:
            self.notify(f"Not watching: {problem}", severity="warning", markup=False)

    def refresh_title(self) -> None:
        """Draw the header's title again (it watches sub_title, and calls format_title)."""
        self.mutate_reactive(ExplorerApp.sub_title)

    def format_title(self, title: str, sub_title: str) -> Content:
        """The title, then (first, so a long path cannot push it out) why the watcher
        is down, then the archive."""
        content = super().format_title(title, sub_title)
        if self.watch_problem is None:
            return content
        return Content.assemble(
            Content(title),
            (" · not watching: ", "bold red"),
            (self.watch_problem, "bold red"),
            (" — ", "dim"),
            Content(sub_title).stylize("dim"),
        )

    def on_files_changed(self, message: FilesChanged) -> None:
        new = self.live.take_changes(message.loaded, message.removed)
        self.refresh_all()
        self.evaluate_health()
        if new:
            self.notify_new(new)
        self.show_notice()

    def on_index_changed(self, message: IndexChanged) -> None:
        self.refresh_all()
        self.evaluate_health()
        if message.new_reports:
            self.notify_new(message.new_reports)
        self.show_notice()

    def notify_new(self, reports: list[Report]) -> None:
        names = sorted({r.organization_name for r in reports})
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        noun = "report" if len(reports) == 1 else "reports"
        self.notify(f"{len(reports)} new {noun}: {shown}", title="New reports", markup=False)

    # -- health ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="health", exit_on_error=False, description="health")
    def evaluate_health(self) -> None:
        """Alerts, off the event loop (LiveArchive.alerts)."""
        alerts = self.live.alerts()
        self.call_from_thread(self.show_alerts_count, alerts)

    def show_alerts_count(self, alerts: list[Alert]) -> None:
        self.alerts = alerts
        self.refresh_overview()

    def action_alerts(self) -> None:
        from tlsrpt_tui.ui.screens.alerts import AlertsScreen

        def drill(alert: Alert | None) -> None:
            if alert is None:
                return
            self.base_filter = Filter(result_type=alert.result_type)
            if self.pivot != "domain":
                self.pivot = "domain"
            for index, row in enumerate(self.nav.rows_data):
                if row.key == alert.policy_domain:
                    self.nav.move_cursor(row=index, animate=False)
                    break
            self.refresh_detail()
            self.failures.focus()

        self.push_screen(AlertsScreen(self.alerts), drill)

    def nav_filter(self) -> Filter:
        return self.base_filter

    def selection_filter(self) -> Filter:
        row = self.nav.current
        flt = self.base_filter
        if row is None:
            return flt
        if self.pivot == "domain":
            return flt.narrowed(domain=row.key)
        return flt.narrowed(reporter=row.key)

    def failure_filter(self) -> Filter:
        flt = self.selection_filter()
        if self.drilled is not None:
            domain, reporter = self.drilled
            flt = flt.narrowed(domain=domain, reporter=reporter)
        return flt

    def refresh_overview(self) -> Overview:
        overview = self.store.overview(self.base_filter)
        self.query_one("#overview", OverviewBar).show(
            overview, self.base_filter, len(self.alerts), self.live.quarantine_label()
        )
        return overview

    def refresh_all(self) -> None:
        self.refreshes += 1
        if self.screen.has_class("guide-screen"):
            self.screen.refresh_archive()  # type: ignore[attr-defined]
        overview = self.refresh_overview()
        self.nav.last_day = overview.last_day
        self.nav.show(self.store.nav_rows(self.pivot, self.nav_filter(), trend_days=TREND_DAYS))
        self.refresh_detail()

    def refresh_detail(self) -> None:
        # Nothing in the navigation pane: nothing matches, so there is nothing to ask
        # (asked without a domain or reporter, the store would scan every policy).
        empty = self.nav.current is None
        self.policies.show([] if empty else self.store.policy_rows(self.selection_filter()))
        self.refresh_failures()

    def refresh_failures(self) -> None:
        empty = self.nav.current is None
        self.failures.show([] if empty else self.store.failure_rows(self.failure_filter()))
        title = Text("Failure details")
        if self.drilled is not None:
            # A Text, not a str: a str border title is parsed as markup, and a
            # reporter's name is report text.
            title.append(" · ")
            title.append_text(safe(self.drilled[1], limit=40))
            title.append(" only (Esc: all)")
        self.failures.border_title = title
        self.refresh_guidance()

    def refresh_guidance(self) -> None:
        row = self.failures.current
        if row is None:
            self.guidance.show_empty()
            return
        self.guidance.show_row(row)
        if self.guidance.probe_text is None:
            refusal = self.probe_refusal(row)
            if refusal is not None:
                self.guidance.set_probe(refusal)
                return
            cached = self.probe_cache.get(row.domain, self.probe_targets(row), self.probe_options)
            if cached is not None:
                self.guidance.set_probe(probe_text(cached, row.result_type))

    # -- probing -----------------------------------------------------------------

    @staticmethod
    def probe_targets(row: FailureRow) -> tuple[str, ...]:
        mx = row.receiving_mx_hostname
        return (mx,) if mx and not mx.startswith("(") else ()

    def probe_refusal(self, row: FailureRow) -> Text | None:
        """Why the probe cannot take this row's domain or MX (a single label, a `;`, a
        control character, a report without policy-domain...), as the pane says it; None
        when it can. Report data decides this: it is never an exception."""
        try:
            ProbeCache.key(row.domain, self.probe_targets(row), self.probe_options)
        except ProbeUsageError as exc:
            return Text.assemble(
                ("This row cannot be probed: ", "bold yellow"), safe(str(exc), "yellow")
            )
        return None

    def action_probe(self) -> None:
        row = self.failures.current
        if row is None:
            self.notify("Select a failure first: the probe checks its domain and MX.", timeout=3)
            return
        refusal = self.probe_refusal(row)
        if refusal is not None:
            self.guidance.set_probe(refusal)
            self.notify(refusal.plain, severity="warning", markup=False, timeout=4)
            return
        self.guidance.set_probe(
            Text.assemble(
                ("Live probe ", "bold underline"),
                safe(row.domain, "bold"),
                ("  running: DNS, MTA-STS, STARTTLS, certificates, DANE…", "dim"),
            )
        )
        self.run_probe(row)

    @work(exclusive=True, group="probe", exit_on_error=False, description="probe")
    async def run_probe(self, row: FailureRow) -> None:
        try:
            cached = await self.probe_cache.probe(
                row.domain, self.probe_targets(row), self.probe_options, refresh=True
            )
        except Exception as exc:  # a usage problem (e.g. a domain that is not a name)
            self.guidance.set_probe(safe(f"Probe not run: {exc}", "yellow"))
            return
        self.show_probe(row, cached)

    def show_probe(self, row: FailureRow, cached: CachedProbe) -> None:
        current = self.failures.current
        if current is not None and current.domain == row.domain:
            self.guidance.set_probe(probe_text(cached, current.result_type))
        # "failed" and "could not check" told apart, in the words `probe` prints
        self.notify(
            toast_text(row.domain, cached),
            severity="warning" if cached.result.exit_status else "information",
            markup=False,
            timeout=4,
        )

    def nav_moved(self, _row: int) -> None:
        """The navigation cursor moved: the detail panes follow (in the same frame)."""
        self.drilled = None
        self.refresh_detail()

    def failure_moved(self, _row: int) -> None:
        self.refresh_guidance()

    # -- drilling ----------------------------------------------------------------

    @on(LineTable.RowSelected, "#nav")
    def nav_selected(self) -> None:
        self.policies.focus()

    @on(LineTable.RowSelected, "#policies")
    def policy_selected(self) -> None:
        row = self.policies.current
        if row is not None:
            self.drilled = (row.domain, row.reporter)
            self.refresh_failures()
        self.failures.focus()

    @on(LineTable.RowSelected, "#failures")
    def failure_selected(self) -> None:
        row = self.failures.current
        if row is None:
            return
        if self.screen.has_class("-narrow"):
            from tlsrpt_tui.ui.screens.guidance import GuidanceScreen

            self.push_screen(GuidanceScreen(row))
        else:
            self.guidance.focus()

    def action_go_back(self) -> None:
        focused = self.focused
        filter_input = self.query_one("#filter", Input)
        if focused is filter_input:
            self.close_filter(keep=True)
        elif focused is self.guidance:
            self.failures.focus()
        elif focused is self.failures:
            if self.drilled is not None:
                self.drilled = None
                self.refresh_failures()
            self.policies.focus()
        elif focused is self.policies:
            self.nav.focus()
        elif self.base_filter != Filter():
            self.base_filter = Filter()
            self.notify("Filter and date range cleared.", timeout=2)

    # -- actions -----------------------------------------------------------------

    def watch_base_filter(self) -> None:
        if self.started:
            self.refresh_all()

    def watch_pivot(self, pivot: Pivot) -> None:
        if self.started:
            self.nav.set_pivot(pivot)
            self.drilled = None
            self.refresh_all()
        self.settings.pivot = pivot

    def action_toggle_pivot(self) -> None:
        self.pivot = "reporter" if self.pivot == "domain" else "domain"

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.display = True
        filter_input.value = self.base_filter.text
        filter_input.focus()

    def filter_changed(self, value: str) -> None:
        """Watches the filter's value (called at once, not via Input.Changed): the
        typed character and the narrowed panes are drawn in the same frame."""
        self.base_filter = self.base_filter.narrowed(text=value)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.close_filter(keep=True)

    def close_filter(self, *, keep: bool) -> None:
        filter_input = self.query_one("#filter", Input)
        if not keep:
            filter_input.value = ""
        # The overview line keeps showing the active filter; `/` edits it again.
        filter_input.display = False
        self.nav.focus()

    def action_date_range(self) -> None:
        from tlsrpt_tui.ui.screens.date_range import DateRangeScreen

        current: DateRange = (self.base_filter.since, self.base_filter.until)
        last_day = self.store.overview(Filter()).last_day

        def apply(result: DateRange | None) -> None:
            if result is not None:
                self.base_filter = self.base_filter.narrowed(since=result[0], until=result[1])

        self.push_screen(DateRangeScreen(current, last_day), apply)

    def action_trends(self) -> None:
        from tlsrpt_tui.ui.screens.trends import TrendsScreen

        flt = self.selection_filter()
        title = flt.domain or flt.reporter or "everything"
        self.push_screen(TrendsScreen(self.store, flt, title))

    def action_help(self) -> None:
        from tlsrpt_tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_guide(self) -> None:
        """The guide, on the failure being looked at (else the last entry shown); picking
        "Show in explorer" there narrows the explorer to that entry's rows."""
        from tlsrpt_tui.ui.screens.guide import GuideScreen

        if any(isinstance(screen, GuideScreen) for screen in self.screen_stack):
            return
        row = self.failures.current
        on_failure = row is not None and self.focused in (self.failures, self.guidance)
        selected = row.result_type if row is not None and on_failure else self.guide_key
        if selected is None and row is not None:
            selected = row.result_type
        screen = GuideScreen(self.store, selected=selected)

        def jump(key: str | None) -> None:
            if screen.current is not None:
                self.guide_key = screen.current.key
            if key is None:
                return
            self.guide_key = key
            self.drilled = None
            shown = safe(key, limit=60).plain
            entry = guidance.find(key)
            if entry is not None and entry.kind in ("policy-type", "sts-mode"):
                self.base_filter = self.base_filter.narrowed(text=key)
                # The overview line shows the filter; `/` edits it.
                self.query_one("#filter", Input).value = key
                self.policies.focus()
                what = "policies"
            else:
                self.base_filter = self.base_filter.narrowed(result_type=key)
                self.failures.focus()
                what = "rows"
            self.notify(f"Showing {shown} {what}: press g to go back to the guide", markup=False)

        self.push_screen(screen, jump)

    def action_bad_files(self) -> None:
        from tlsrpt_tui.ui.screens.bad_files import BadFilesScreen

        self.push_screen(BadFilesScreen(self.store.errors(), self.store.folded()))

    def action_quarantine(self) -> None:
        from tlsrpt_tui.ui.screens.quarantine import QuarantineScreen

        self.push_screen(QuarantineScreen(self.live.quarantined()))

    def action_raw(self) -> None:
        """The reports behind the selection: on a failure row (or its guidance), the
        reports holding that failure; elsewhere, those of the domain or reporter."""
        from tlsrpt_tui.ui.screens.report import ReportScreen

        row = self.failures.current
        if row is not None and self.focused in (self.failures, self.guidance):
            flt = self.failure_filter()
            rows = self.store.failure_reports(flt, row, grouped=self.failures.grouped)
            label = Text.assemble(safe(row.domain), " · ", safe(row.result_type))
            if row.receiving_mx_hostname:
                label.append(" via ")
                label.append_text(safe(row.receiving_mx_hostname))
            shown = label.plain
        else:
            flt = self.selection_filter()
            rows = self.store.report_rows(flt)
            shown = flt.domain or flt.reporter or "all reports"
        title = f"Reports: {shown}" + (" (first 500)" if len(rows) >= 500 else "")
        self.push_screen(ReportScreen(rows, self.raw_report, title, protected=self.paths))

    def raw_report(self, key: str) -> RawReport:
        """The raw JSON of a report (first readable copy) and every file it was seen in."""
        from tlsrpt_tui.ui.screens.report import RawReport

        obj, text, sources = self.live.raw_report(key)
        return RawReport(obj, text, sources)

    def action_copy_row(self) -> None:
        focused = self.focused
        if isinstance(focused, (NavTable, PolicyTable, FailureTable)) and focused.current:
            values = [cell.plain for cell in focused.render_row(focused.current)]  # type: ignore[arg-type]
            text = "\t".join(values)
            self.copy_to_clipboard(text)
            self.notify(text, title="Copied (OSC 52)", markup=False, timeout=4)

    #: Actions that act on the explorer's panes: only while no other screen is on top.
    EXPLORER_ACTIONS = frozenset(
        {
            "filter",
            "toggle_pivot",
            "date_range",
            "raw",
            "bad_files",
            "quarantine",
            "alerts",
            "trends",
            "guide",
            "copy_row",
            "go_back",
            "probe",
        }
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.EXPLORER_ACTIONS and len(self.screen_stack) > 1)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Filter", "Narrow every pane by text", self.action_filter)
        yield SystemCommand("Date range", "Narrow every pane by date", self.action_date_range)
        yield SystemCommand(
            "Toggle pivot", "Policy domains ⇄ reporters in the left pane", self.action_toggle_pivot
        )
        yield SystemCommand("Raw report", "Show the raw JSON of the selection", self.action_raw)
        yield SystemCommand(
            "Bad files", "Files that could not be read, and why", self.action_bad_files
        )
        yield SystemCommand(
            "Quarantine", "Reports whose mail failed DKIM, and why", self.action_quarantine
        )
        yield SystemCommand("Help", "All key bindings", self.action_help)
        yield SystemCommand(
            "Guide", "Every result-type, policy type and STS mode explained", self.action_guide
        )
        yield SystemCommand("Alerts", "What changed and needs attention", self.action_alerts)
        yield SystemCommand("Probe", "Check the selected domain and MX live", self.action_probe)
        yield SystemCommand(
            "Trends", "Daily sessions, failures and result-types", self.action_trends
        )
        yield SystemCommand(
            "Copy row", "Copy the selected row to the clipboard", self.action_copy_row
        )
        if self.index is not None:
            yield SystemCommand(
                "Check every file",
                "Compare every file with the index, not only folders that changed",
                self.action_full_check,
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A background job that failed (they do not end the app) says so, instead of
        leaving a pane empty or a progress bar standing without a word."""
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.error is None:
            return
        error = worker.error
        what = {"scan": "Reading the archive", "check": "Checking every file"}.get(
            worker.description, f"The {worker.description or worker.name} job"
        )
        message = f"{what} failed: {type(error).__name__}: {error}"
        if worker.group == "load":
            with contextlib.suppress(Exception):
                self.query_one("#progress-label", Static).update(safe(message, "bold red"))
        self.notify(message, severity="error", markup=False, timeout=15)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected exception ends the app (Textual's way, return code 1) with its
        traceback in a crash log that ``explore.main`` names in one line, instead of a
        screenful of locals (report text among them) on the terminal."""
        from tlsrpt_tui.crash import write_crash_log

        if self.crash_log is None:
            self.crash_log = write_crash_log(error)
        super()._handle_exception(error)
        if self.crash_log is not None:
            self._exit_renderables.clear()  # (what Textual would print on exit)

    def watch_theme(self, theme: str) -> None:
        self.settings.theme = theme

    def on_unmount(self) -> None:
        self.live.close()
        if self.save_on_exit:
            with contextlib.suppress(OSError):
                save_settings(self.settings)
