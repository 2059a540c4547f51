"""`g`: the guide. Every RFC 8460 result-type, policy type and STS mode, explained,
with what the open archive holds for each one.

The left list follows the catalogue (:func:`tlsrpt_tui.core.guidance.groups`), in RFC
order, after a getting-started page; result-types the archive holds but the RFC does
not define follow under "Other result-types in this archive". The right pane shows
the full entry (:func:`render_entry`) and an "In this archive" section computed from
:class:`ArchiveQueries` (so it works the same over any store, and with no reports).

Return value: ``dismiss(key)`` when the user asks to see the rows of entry ``key`` in
the explorer (only offered when the archive has rows for it), ``dismiss(None)``
otherwise. ``key`` is a catalogue key (a result-type, a policy type or an STS mode) or,
for a result-type the RFC does not define, the value exactly as reports spell it.

Everything taken from reports (result-types, domains, MX hosts, reporters) is shown
through :func:`safe`, never as markup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from tlsrpt_tui.core import guidance
from tlsrpt_tui.core.guidance import GuidanceEntry
from tlsrpt_tui.store.queries import ArchiveQueries, FailureRow, Filter, PolicyRow
from tlsrpt_tui.ui.safe import compact, safe
from tlsrpt_tui.ui.widgets.guidance_pane import render_entry

#: Names listed in the archive section before "+N more".
MAX_NAMES = 8
#: Width of the key column in the list (the longest catalogue key is 25 characters).
KEY_WIDTH = 26
OTHER_GROUP = "Other result-types in this archive"
NOTHING = "Nothing in this archive yet."
#: Entries sit indented under their group heading.
INDENT = "  "


@dataclass(frozen=True, slots=True)
class GuideItem:
    """One selectable line of the list."""

    #: Catalogue key, or the literal value of a result-type the RFC does not define.
    key: str
    entry: GuidanceEntry
    #: "page", "result-type", "policy-type", "sts-mode" or "other" (undefined result-type).
    kind: str

    @property
    def is_result_type(self) -> bool:
        return self.kind in ("result-type", "other")


@dataclass(frozen=True, slots=True)
class ArchiveFacts:
    """What the archive holds for one item."""

    text: Text
    #: Rows exist: the user can jump to them.
    has_rows: bool = False
    domain: str | None = None
    mx: str | None = None
    ip: str | None = None


class GuideList(OptionList):
    """The guide's table of contents; j/k move like everywhere else."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class GuideScreen(Screen[str | None]):
    """Every result-type, policy type and STS mode, and what this archive holds for each."""

    CSS_PATH = "../guide.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "show_rows", "Show in explorer", priority=True),
        Binding("escape,q", "close", "Back"),
        Binding("g", "close", "Back", show=False),
        Binding("tab", "switch_pane", "Read/List", show=False),
    ]

    def __init__(self, queries: ArchiveQueries, *, selected: str | None = None) -> None:
        super().__init__(classes="guide-screen")
        self.queries = queries
        self.selected = selected
        #: Option id -> item, in list order.
        self.items: dict[str, GuideItem] = {}
        self._facts: dict[str, ArchiveFacts] = {}
        #: The item on show.
        self.current: GuideItem | None = None
        #: What the right pane shows, as plain text (for copying and tests).
        self.entry_plain = ""
        self.archive_plain = ""
        self.sub_title = "Guide"

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="guide-main"):
            self.toc = GuideList(id="guide-list", markup=False)
            yield self.toc
            with VerticalScroll(id="guide-body") as body:
                self.body = body
                yield Static("", id="guide-entry", markup=False)
                yield Static("", id="guide-archive", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.toc.border_title = "Guide"
        self.toc.border_subtitle = Text("▲ failed sessions · sessions")
        self.build_list()
        self.toc.focus()
        self.select(self.selected)

    # -- the list ----------------------------------------------------------------

    def build_list(self) -> None:
        """(Re)build the list from the catalogue and the archive's counts."""
        failures = self.queries.result_types(Filter())
        sessions = self._policy_sessions()
        options: list[Option | None] = []
        self.items = {}

        def add(item: GuideItem, badge: Text | None) -> None:
            option_id = f"item-{len(self.items)}"
            self.items[option_id] = item
            label = "Getting started" if item.kind == "page" else item.key
            prompt = Text(INDENT)
            prompt.append_text(safe(label, limit=KEY_WIDTH + 20))
            if badge is not None:
                prompt.pad_right(max(1, KEY_WIDTH + 2 - len(prompt.plain)))
                prompt.append_text(badge)
            options.append(Option(prompt, id=option_id))

        def heading(name: str) -> None:
            options.append(None)
            options.append(Option(Text(name, style="bold"), disabled=True))

        add(GuideItem("getting-started", guidance.GETTING_STARTED, "page"), None)
        for group, entries in guidance.groups():
            heading(group)
            for entry in entries:
                badge: Text | None = None
                if entry.kind == "result-type" and failures.get(entry.key):
                    badge = Text(f"▲ {compact(failures[entry.key])}", style="bold red")
                elif sessions.get((entry.kind, entry.key)):
                    badge = Text(f"· {compact(sessions[(entry.kind, entry.key)])}", style="dim")
                add(GuideItem(entry.key, entry, entry.kind), badge)
        others = [(value, n) for value, n in failures.items() if self._is_other(value)]
        if others:
            heading(OTHER_GROUP)
            for value, count in others:
                badge = Text(f"▲ {compact(count)}", style="bold red")
                add(GuideItem(value, guidance.entry_for(value), "other"), badge)
        self.toc.set_options(options)

    @staticmethod
    def _is_other(value: str) -> bool:
        """A result-type in the archive that has no catalogue item of its own, and that
        cannot be confused with a policy type or mode when jumping to it."""
        found = guidance.find(value)
        if found is not None and found.key == value and found.kind == "result-type":
            return False  # listed in its RFC group
        return found is None or found.kind in ("result-type", "unknown")

    def _policy_sessions(self) -> dict[tuple[str, str], int]:
        totals: Counter[tuple[str, str]] = Counter()
        for row in self.queries.policy_rows(Filter()):
            total = row.successful + row.failed
            totals[("policy-type", row.policy_type)] += total
            if row.sts_mode:
                totals[("sts-mode", row.sts_mode)] += total
        return dict(totals)

    def select(self, key: str | None) -> None:
        """Highlight the item for ``key`` (exact value first, then the catalogue's
        lookup); the getting-started page when there is none."""
        target = self._find_option(key)
        index = self.toc.get_option_index(target) if target else 0
        if self.toc.highlighted == index and self.current is not None:
            return
        self.toc.highlighted = index
        self.show(self.items[self.toc.options[index].id or ""])

    def _find_option(self, key: str | None) -> str | None:
        if not key:
            return None
        for option_id, item in self.items.items():
            if item.key == key:
                return option_id
        found = guidance.find(key)
        if found is not None:
            for option_id, item in self.items.items():
                if item.kind != "other" and item.key == found.key:
                    return option_id
        return None

    @on(OptionList.OptionHighlighted, "#guide-list")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        item = self.items.get(event.option.id or "")
        if item is not None and item is not self.current:
            self.show(item)

    @on(OptionList.OptionSelected, "#guide-list")
    def chosen(self) -> None:
        # Only reached when there are no rows to show (Enter is bound to
        # "Show in explorer" first): move to the text so it can be scrolled.
        self.body.focus()

    # -- the entry ---------------------------------------------------------------

    def show(self, item: GuideItem) -> None:
        self.current = item
        facts = self.facts(item)
        entry_text = render_entry(
            item.entry, domain=facts.domain, mx=facts.mx, ip=facts.ip, summary=True
        )
        self.entry_plain = entry_text.plain
        self.archive_plain = facts.text.plain
        self.query_one("#guide-entry", Static).update(entry_text)
        self.query_one("#guide-archive", Static).update(facts.text)
        title = item.entry.title if item.kind in ("page", "other") else item.key
        # A Text, not a str: a str border title would be parsed as markup.
        self.body.border_title = safe(title, limit=80)
        self.body.border_subtitle = Text("Enter: show in explorer" if facts.has_rows else "")
        self.body.scroll_home(animate=False)
        self.refresh_bindings()

    def facts(self, item: GuideItem) -> ArchiveFacts:
        """The archive section for ``item`` (cached until :meth:`refresh_archive`)."""
        cache_key = f"{item.kind}\x1f{item.key}"
        facts = self._facts.get(cache_key)
        if facts is None:
            if item.is_result_type:
                facts = failure_facts(self.queries.failure_rows(Filter(result_type=item.key)))
            elif item.kind == "policy-type":
                rows = [r for r in self.queries.policy_rows(Filter()) if r.policy_type == item.key]
                facts = policy_facts(rows)
            elif item.kind == "sts-mode":
                rows = [r for r in self.queries.policy_rows(Filter()) if r.sts_mode == item.key]
                facts = policy_facts(rows)
            else:
                facts = page_facts(self.queries)
            self._facts[cache_key] = facts
        return facts

    def refresh_archive(self) -> None:
        """The archive changed (reports arrived or went): recount everything."""
        self._facts.clear()
        current = self.current
        self.build_list()
        if current is not None:
            self.current = None
            self.select(current.key)

    # -- actions -----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_rows":
            item = self.current
            if item is None or item.kind == "page":
                return False
            return True if self.facts(item).has_rows else None
        return True

    def action_show_rows(self) -> None:
        item = self.current
        if item is not None and item.kind != "page" and self.facts(item).has_rows:
            self.dismiss(item.key)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_switch_pane(self) -> None:
        if self.toc.has_focus:
            self.body.focus()
        else:
            self.toc.focus()


# --------------------------------------------------------------------------- archive section


def _heading() -> Text:
    return Text("In this archive", style="bold underline")


def _line(label: str, value: Text | str) -> Text:
    line = Text(f" {label:<19}", style="dim")
    line.append_text(value if isinstance(value, Text) else Text(value))
    return line


def names(counts: Counter[str]) -> Text:
    """The most affected names first, with their counts; "+N more" past :data:`MAX_NAMES`."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = Text()
    for index, (name, count) in enumerate(ranked[:MAX_NAMES]):
        if index:
            text.append(", ")
        text.append_text(safe(name, "bold", limit=60))
        text.append(f" ({compact(count)})", style="dim")
    if len(ranked) > MAX_NAMES:
        text.append(f", +{len(ranked) - MAX_NAMES} more", style="dim")
    return text


def _dates(first: date, last: date) -> list[Text]:
    return [_line("First seen", first.isoformat()), _line("Last seen", last.isoformat())]


def _nothing() -> ArchiveFacts:
    return ArchiveFacts(Text("\n").join([_heading(), Text(f" {NOTHING}", style="dim")]))


def _top(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def failure_facts(rows: Iterable[FailureRow]) -> ArchiveFacts:
    """Sessions, domains, MX hosts, reporters and dates of a result-type's failure rows;
    commands get the most affected domain, its most affected MX host and IP."""
    rows = list(rows)
    if not rows:
        return _nothing()
    domains: Counter[str] = Counter()
    mx_hosts: Counter[str] = Counter()
    reporters: Counter[str] = Counter()
    for row in rows:
        domains[row.domain] += row.count
        if row.receiving_mx_hostname:
            mx_hosts[row.receiving_mx_hostname] += row.count
        for reporter in row.reporters:
            reporters[reporter] += row.count
    domain = _top(domains)
    in_domain = [r for r in rows if r.domain == domain]
    mx = _top(_weights(in_domain, lambda r: r.receiving_mx_hostname))
    at_mx = [r for r in in_domain if r.receiving_mx_hostname == mx] or in_domain
    ip = _top(_weights(at_mx, lambda r: r.receiving_ip))
    sessions = sum(r.count for r in rows)
    lines = [
        _heading(),
        _line("Sessions affected", Text(f"{sessions:,}", style="bold red")),
        _line("Domains", names(domains)),
        _line("MX hosts", names(mx_hosts) if mx_hosts else Text("not reported", style="dim")),
        _line("Reporters", names(reporters)),
        *_dates(min(r.first_day for r in rows), max(r.last_day for r in rows)),
        Text(""),
        _commands_note(domain, mx),
        Text(" Enter shows these rows in the explorer; g there comes back here.", style="dim"),
    ]
    return ArchiveFacts(Text("\n").join(lines), True, domain, mx, ip)


def _weights(rows: Iterable[FailureRow], field: Callable[[FailureRow], str | None]) -> Counter[str]:
    """Session counts per value of ``field`` (rows without a value are left out)."""
    weights: Counter[str] = Counter()
    for row in rows:
        value = field(row)
        if value:
            weights[value] += row.count
    return weights


def policy_facts(rows: Iterable[PolicyRow]) -> ArchiveFacts:
    """Sessions, domains, reporters, MX hosts and dates of policy rows (one type or mode);
    commands get the domain with the most failures (then sessions) and its first MX."""
    rows = list(rows)
    if not rows:
        return _nothing()
    ok = sum(r.successful for r in rows)
    failed = sum(r.failed for r in rows)
    domains: Counter[str] = Counter()
    failed_by_domain: Counter[str] = Counter()
    reporters: Counter[str] = Counter()
    mx_hosts: Counter[str] = Counter()
    for row in rows:
        total = row.successful + row.failed
        domains[row.domain] += total
        failed_by_domain[row.domain] += row.failed
        reporters[row.reporter] += total
        for host in row.mx_hosts:
            mx_hosts[host] += total
    domain = min(domains, key=lambda d: (-failed_by_domain[d], -domains[d], d))
    mx = next(
        (h for r in rows if r.domain == domain for h in r.mx_hosts if guidance.safe_hostname(h)),
        None,
    )
    total = ok + failed
    sessions = Text(f"{total:,}", style="bold")
    sessions.append(f" ({ok:,} ok, ")
    sessions.append(f"{failed:,} failed", style="bold red" if failed else "green")
    sessions.append(f", {failed / total:.2%})" if total else ")")
    lines = [
        _heading(),
        _line("Sessions", sessions),
        _line("Domains", names(domains)),
        _line("Reporters", names(reporters)),
    ]
    if mx_hosts:
        lines.append(_line("MX hosts", names(mx_hosts)))
    lines.extend(_dates(min(r.first_day for r in rows), max(r.last_day for r in rows)))
    lines.extend(
        [
            Text(""),
            _commands_note(domain, mx),
            Text(" Enter shows these policies in the explorer (text filter).", style="dim"),
        ]
    )
    return ArchiveFacts(Text("\n").join(lines), True, domain, mx, None)


def _commands_note(domain: str | None, mx: str | None) -> Text:
    used = [v for v in (guidance.safe_hostname(domain), guidance.safe_hostname(mx)) if v]
    if not used:
        return Text(" Commands above keep their placeholders: fill them in.", style="dim")
    note = Text(" Commands above use ", style="dim")
    note.append_text(Text(" and ", style="dim").join(safe(v, "bold") for v in used))
    note.append(", the most affected in this archive.", style="dim")
    return note


def page_facts(queries: ArchiveQueries) -> ArchiveFacts:
    """For the getting-started page: what has arrived so far, if anything."""
    ov = queries.overview(Filter())
    if not ov.reports:
        return _nothing()
    domains = Counter({r.key: r.sessions for r in queries.nav_rows("domain", Filter())})
    lines = [
        _heading(),
        _line("Reports", f"{ov.reports:,} from {ov.reporters:,} reporters"),
        _line("Domains", names(domains)),
    ]
    if ov.first_day and ov.last_day:
        lines.extend(_dates(ov.first_day, ov.last_day))
    lines.append(_line("Sessions", f"{ov.sessions:,} ({ov.failed:,} failed)"))
    return ArchiveFacts(Text("\n").join(lines))
