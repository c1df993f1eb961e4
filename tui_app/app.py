"""``agentsession-top``: which agent burns tokens right now, and what it is doing.

The UI thread never touches files or /proc. One thread worker loops: wait for
the interval, a file change (the store's watcher), ``r`` or a new selection; collect a
frozen :class:`~tui_app.monitor.MonitorSnapshot`; post it. The handler diffs
it against what is shown and updates widgets in place, so cursor, scroll and
tree expansion survive every refresh, and an unchanged snapshot costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import operator
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import ClassVar, TextIO

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree
from textual.worker import get_current_worker

from agent_session import AgentHomes, ToolEvent, __version__
from agent_session.errors import InvalidArgument
from agent_session.text import argument_type, dump_json

from .formatting import fmt_cost, fmt_tokens
from .monitor import (
    PROCESS_HEADER,
    WINDOWS,
    DetailView,
    MatchView,
    Monitor,
    MonitorSnapshot,
    ProcNode,
    SessionRow,
    Wakeup,
    default_probe,
    flatten,
    session_key,
)
from .rates import fmt_rate, parse_duration, window_label
from .widgets import (
    SORT_KEYS,
    DetailPane,
    HelpScreen,
    ProcessTree,
    SessionsTable,
    ToolCallsScreen,
    TotalsBar,
    order_rows,
)
from .widgets.screens import SUBAGENT_TOOLS
from .widgets.sessions import COLUMN_SORT, SORTERS

__all__ = [
    "AlertLimits",
    "MonitorApp",
    "SnapshotReady",
    "alert_crossings",
    "build_parser",
    "choose_home",
    "has_sessions",
    "main",
]

INTERVAL_STEPS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

DEMO_BANNER = (
    "DEMO: no Claude Code, Codex or Gemini session found on this machine, so this shows generated "
    "sessions and harmless stand-in processes in a temporary home (removed on exit). "
    "Press q to leave; use --home DIR to read real data."
)

#: Terminals narrower than this get the detail pane below the lists instead of beside them.
NARROW_WIDTH = 140
#: … and, when also lower than this, no detail pane until ``d`` asks for it.
SHORT_HEIGHT = 30


#: Actions that only make sense on the main screen.
_MAIN_ONLY = frozenset(
    {
        "filter",
        "cycle_sort",
        "reverse_sort",
        "toggle_tree",
        "toggle_live",
        "escape",
        "help",
        "cycle_window",
        "toggle_detail",
        "timeline",
    }
)


class SnapshotReady(Message):
    """A new snapshot from the worker; a newer one queued behind it replaces it."""

    def __init__(self, snapshot: MonitorSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


@dataclass(frozen=True, slots=True)
class AlertLimits:
    """Thresholds of ``--alert-rate``, ``--alert-cost`` and ``--alert-context`` (None: off)."""

    rate_tpm: float | None = None
    cost_usd: float | None = None
    context_pct: float | None = None


def alert_crossings(
    rows: Sequence[SessionRow], limits: AlertLimits, above: set[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """Alerts due now: ``(row key, kind, message)`` for each limit a session has just crossed.

    ``above`` holds the (key, kind) pairs over their limit at the last look and
    is updated in place: a session alerts once per crossing, and again only
    after it went back under the limit and crossed it anew.
    """
    out: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in rows:
        checks: list[tuple[str, bool, str]] = []
        if limits.rate_tpm is not None:
            checks.append(
                (
                    "rate",
                    r.rate_tpm >= limits.rate_tpm,
                    f"burns {fmt_rate(r.rate_tpm)} (limit {fmt_rate(limits.rate_tpm)})",
                )
            )
        if limits.cost_usd is not None:
            cost = r.cost_usd or 0.0
            checks.append(
                (
                    "cost",
                    cost >= limits.cost_usd,
                    f"cost {fmt_cost(cost)} (limit {fmt_cost(limits.cost_usd)})",
                )
            )
        if limits.context_pct is not None and r.ctx_pct is not None:
            checks.append(
                (
                    "context",
                    r.ctx_pct >= limits.context_pct,
                    f"context {r.ctx_pct:.0f}% full (limit {limits.context_pct:g}%)",
                )
            )
        for kind, over, text in checks:
            if not over:
                continue
            seen.add((r.key, kind))
            if (r.key, kind) not in above:
                out.append((r.key, kind, f"{r.display_id}: {text}"))
    above.clear()
    above.update(seen)
    return out


def _same_place(old: SessionRow, new: SessionRow, sorter: Callable[[SessionRow], object]) -> bool:
    """True when ``new`` sorts, filters and nests exactly as ``old`` did."""
    return (
        old.key == new.key
        and old.parent_key == new.parent_key
        and old.live == new.live
        and old.haystack == new.haystack
        and sorter(old) == sorter(new)
    )


class RefreshFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class MonitorApp(App[None]):
    """The monitor. Build it with a :class:`Monitor`; tests inject clock and probe there."""

    CSS_PATH = "app.tcss"
    TITLE = "agentsession-top"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="Quit agentsession-top", id="quit"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Show every key", id="help"),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            tooltip="Filter by agent, model, cwd or id",
            id="filter",
        ),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit", id="ctrl-c"),
        Binding(
            "s", "cycle_sort", "Sort", tooltip="Sort by rate → tokens → cost → activity → agent", id="sort"
        ),
        Binding(
            "w",
            "cycle_window",
            "Window",
            tooltip="Tokens, cost and totals over: rate window → 5-hour block → today → 7 days → all",
            id="window",
        ),
        Binding("d", "toggle_detail", "Detail", tooltip="Hide or show the detail pane", id="detail"),
        Binding(
            "g",
            "timeline",
            "Timeline",
            tooltip="The selected session's requests over time, stacked by bucket, with its running cost",
            id="timeline",
        ),
        Binding("S", "reverse_sort", "Reverse", tooltip="Reverse the sort order", id="reverse"),
        Binding("t", "toggle_tree", "Tree/flat", tooltip="Process tree or flat process list", id="tree"),
        Binding("a", "toggle_live", "Live/all", tooltip="Only live sessions, or all sessions", id="live"),
        Binding("p", "toggle_pause", "Pause", tooltip="Pause or resume refreshing", id="pause"),
        Binding("r", "refresh_now", "Refresh", tooltip="Refresh now", id="refresh"),
        Binding(
            "plus,equals_sign",
            "faster",
            "Faster",
            key_display="+",
            show=False,
            tooltip="Shorter refresh interval",
            id="faster",
        ),
        Binding(
            "minus",
            "slower",
            "Slower",
            key_display="-",
            show=False,
            tooltip="Longer refresh interval",
            id="slower",
        ),
        Binding("escape", "escape", "Clear filter", show=False, tooltip="Clear the filter", id="escape"),
        Binding(
            "tab",
            "focus_next",
            "Next pane",
            show=False,
            tooltip="Move focus to the next pane",
            id="next-pane",
        ),
    ]

    def __init__(
        self,
        monitor: Monitor,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] | None = None,
        banner: str | None = None,
        watch: bool = True,
        handle_signals: bool = False,
        alerts: AlertLimits | None = None,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.interval = interval
        self.clock = clock or monitor.clock
        self.banner = banner
        self.use_watcher = watch
        self.handle_signals = handle_signals
        #: A collection slower than this is named in the status line (tests with pinned
        #: screenshots raise it: a loaded machine must not change the picture).
        self.slow_refresh_seconds = 1.0
        #: Help's footer shows the last refresh's timings (off for snapshots: they vary run to run).
        self.help_timings = True
        self.sort_key = "rate"
        self.sort_reverse = False
        self.alerts = alerts or AlertLimits()
        self._above: set[tuple[str, str]] = set()
        #: Alerts raised so far (row key, kind, message), oldest first; tests read it.
        self.alert_log: list[tuple[str, str, str]] = []
        #: Parents whose subagent rows are shown.
        self.expanded: set[str] = set()
        #: None: the detail pane follows the terminal size; True/False: ``d`` decided.
        self.detail_wanted: bool | None = None
        self.filter_text = ""
        self.live_only = False
        self.tree_mode = True
        self.paused = False
        self.selected_key: str | None = None
        self.snapshot: MonitorSnapshot | None = None
        #: How many snapshots the UI has applied, and how many were full collections (tests wait on them).
        self.applied = 0
        self.collections = 0
        self.last_error: str | None = None
        self._wake = Wakeup()
        self._stop_watch = threading.Event()
        #: (rows, order parameters, ordered rows, key → place) of the last ``_ordered_rows``.
        self._order_cache: (
            tuple[tuple[SessionRow, ...], tuple[object, ...], list[SessionRow], dict[str, int]] | None
        ) = None
        self._status = ""

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        banner = Static(Text(self.banner or "", style="bold"), id="banner")
        banner.display = bool(self.banner)
        yield banner
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield TotalsBar(id="totals")
                tree = ProcessTree(id="procs")
                tree.border_title = "Processes"
                yield tree
                table = SessionsTable(id="sessions")
                table.border_title = "Sessions"
                yield table
            pane = DetailPane(id="detail")
            pane.border_title = "Detail"
            yield pane
        filt = Input(placeholder="filter: agent, model, cwd or id (Enter keeps, Esc clears)", id="filter")
        filt.display = False
        yield filt
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        if self.handle_signals:
            # A closed terminal (SIGHUP) or `kill` (SIGTERM) exits cleanly: the terminal is
            # restored and --demo ends its stand-in processes and removes its temp home.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.exit)
        self.query_one(SessionsTable).focus()
        self._apply_layout()
        self._update_status()
        self._refresh_loop()
        if self.use_watcher:
            self._watch_files()
        self._wake.request_refresh()

    def on_unmount(self) -> None:
        self._stop_workers()

    def exit(self, result: None = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        # Wake the worker threads first, so shutdown never waits for an interval to pass.
        self._stop_workers()
        super().exit(result, return_code, message)

    def on_resize(self) -> None:
        self._apply_layout()

    def _apply_layout(self) -> None:
        """Detail beside the lists on wide terminals, below them on narrow ones, hidden if asked."""
        width, height = self.size
        narrow = width < NARROW_WIDTH
        main = self.query_one("#main")
        main.set_class(narrow, "narrow")
        wanted = self.detail_wanted
        show = wanted if wanted is not None else not (narrow and height < SHORT_HEIGHT)
        self.query_one(DetailPane).display = show

    def _stop_workers(self) -> None:
        self._wake.stop()
        self._stop_watch.set()

    # ------------------------------------------------------------------ workers
    @work(thread=True, exclusive=True, exit_on_error=False, group="refresh", name="refresh")
    def _refresh_loop(self) -> None:
        """All file and /proc I/O happens here, one collection at a time."""
        worker = get_current_worker()
        again = False
        while not worker.is_cancelled:
            last = self.monitor.last
            # While the history is still being read (or its rows built) behind the first
            # paint, look again soon.
            loading = (
                last is not None and (last.history_pending > 0 or last.rows_pending > 0) and not self.paused
            )
            if again:
                reason = "refresh" if not self._wake.stopped else "stop"
                again = False
            else:
                reason = self._wake.wait(min(self.interval, 0.3) if loading else self.interval, self.paused)
            if reason == "stop" or worker.is_cancelled:
                return
            if self.paused and reason == "tick":
                continue
            try:
                if reason == "detail":
                    snap = self.monitor.with_detail(self.selected_key)
                else:
                    # A first collection without processes (``defer_first_probe``) is followed at once.
                    again = last is None and self.monitor.defer_first_probe
                    snap = self.monitor.collect(self.selected_key)
            except Exception as exc:  # keep the monitor alive; show what went wrong
                self.post_message(RefreshFailed(f"{type(exc).__name__}: {exc}"))
                continue
            self.post_message(SnapshotReady(snap))

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch", name="watch")
    def _watch_files(self) -> None:
        """Wake the refresh loop early when a session file changes.

        The store's file watcher is the only one (one inotify set, not two):
        this thread only relays what it saw. A store made without a watcher
        just waits, and the interval refreshes.
        """
        while not self._stop_watch.is_set():
            if self.monitor.store.wait_for_change(0.5):
                self._wake.request_change()

    # ------------------------------------------------------------------ snapshots
    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        previous = self.snapshot
        self.snapshot = snap
        self.last_error = None
        with self.batch_update():
            if previous is None or previous.totals != snap.totals:
                self.query_one(TotalsBar).show(snap.totals)
            if previous is None or previous.roots != snap.roots:
                self._show_tree()
            # The monitor says which rows it replaced since the snapshot shown; else compare.
            hint = snap.changed_rows if previous is not None and snap.changed_from == previous.seq else None
            if hint and (
                previous is None or self._order_cache is None or self._order_cache[0] is not previous.sessions
            ):
                hint = None  # the places are relative to rows this app did not order last
            if hint is not None:
                if hint:
                    self._show_sessions(changed=hint)
            elif previous is None or (
                previous.sessions is not snap.sessions and previous.sessions != snap.sessions
            ):
                self._show_sessions()
            self._show_detail()
            self._update_status()
        if not snap.detail_only:
            self._check_alerts(snap)
        self.applied += 1
        if not snap.detail_only:
            self.collections += 1

    def _check_alerts(self, snap: MonitorSnapshot) -> None:
        """A notification and a bell for each limit a session has just crossed (once per crossing)."""
        a = self.alerts
        if a.rate_tpm is None and a.cost_usd is None and a.context_pct is None:
            return
        for key, kind, text in alert_crossings(snap.sessions, a, self._above):
            self.alert_log.append((key, kind, text))
            self.notify(text, title=f"{kind} alert", severity="warning", timeout=10)
            self.bell()

    def on_refresh_failed(self, message: RefreshFailed) -> None:
        self.last_error = message.error
        self._update_status()

    def _show_tree(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        tree = self.query_one(ProcessTree)
        roots = snap.roots if self.tree_mode else flatten(snap.roots)
        tree.apply(roots)
        agents = len(snap.roots)
        procs = sum(1 for _ in flatten(snap.roots))
        tree.border_title = (
            f"Processes ({agents} live agent{'' if agents == 1 else 's'}, {procs} process{'' if procs == 1 else 'es'})"
            + ("" if self.tree_mode else " flat")
        )

    def _show_sessions(self, force: bool = False, changed: Sequence[int] | None = None) -> None:
        """Show the snapshot's rows in the chosen order; ``changed``: the only places that differ."""
        snap = self.snapshot
        if snap is None:
            return
        table = self.query_one(SessionsTable)
        table.expanded = self.expanded
        rows, moved = self._ordered_rows(snap.sessions, changed)
        on_main = len(self.screen_stack) == 1
        follow_top = on_main and rows and not table.user_moved and not isinstance(self.focused, ProcessTree)
        if follow_top:
            # Until the user moves the cursor, the top row (the fastest burner) is the selection.
            self._select(rows[0].key)
        table.apply(rows, self.selected_key, force=force, changed=moved)
        if follow_top:
            table.scroll_to(y=0, animate=False)
        elif (
            on_main
            and (self.selected_key is None or table.row_index(self.selected_key) is None)
            and rows
            and not isinstance(self.focused, ProcessTree)
        ):
            # The selection was filtered out (or nothing was selected yet): follow the cursor.
            self._select(table.cursor_key)
        live = sum(t.live_sessions for t in snap.totals)
        known = max(len(snap.sessions), sum(t.sessions for t in snap.totals))
        table.border_title = f"Sessions ({len(rows)} shown of {known}, {live} written by live agents)"

    def _ordered_rows(
        self, sessions: tuple[SessionRow, ...], changed: Sequence[int] | None = None
    ) -> tuple[list[SessionRow], list[int] | None]:
        """``order_rows`` of ``sessions``, reusing the last order when no changed row can move.

        Most refreshes change a few rows (an age ticks over, one session grows):
        when none of them changed what the order, the filter or the nesting
        looks at, the rows are put in their old places instead of sorting
        50,000 again. Returns the rows and, in that case, the places (in the
        returned order) that changed; None when the order was computed anew.
        ``changed``: the places in ``sessions`` that differ from the last call's
        (None: find them).
        """
        params = (
            self.sort_key,
            self.sort_reverse,
            self.filter_text,
            self.live_only,
            frozenset(self.expanded),
        )
        cache = self._order_cache
        if cache is not None and cache[1] == params:
            before, _, shown, where = cache
            if before is sessions:
                return shown, []
            if len(before) == len(sessions):
                if changed is None:
                    changed = list(compress(range(len(sessions)), map(operator.is_not, before, sessions)))
                sorter = SORTERS[self.sort_key]
                if len(changed) <= 1024 and all(_same_place(before[i], sessions[i], sorter) for i in changed):
                    shown = list(shown)
                    moved: list[int] = []
                    for i in changed:
                        r = sessions[i]
                        j = where.get(r.key)
                        if j is not None:
                            shown[j] = r
                            moved.append(j)
                    self._order_cache = (sessions, params, shown, where)
                    return shown, moved
        shown = order_rows(
            sessions, self.sort_key, self.sort_reverse, self.filter_text, self.live_only, self.expanded
        )
        self._order_cache = (sessions, params, shown, {r.key: i for i, r in enumerate(shown)})
        return shown, None

    def _show_detail(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        view = snap.detail if snap.detail is not None and snap.detail.key == self.selected_key else None
        if view is None and self.selected_key is not None:
            view = DetailView(key=self.selected_key, session=None, fingerprint=(self.selected_key, "loading"))
        row = snap.row(self.selected_key)
        self.query_one(DetailPane).show(
            view,
            snap.taken_at,
            home=self.monitor.user_home,
            match=self._match_for(self.selected_key),
            total_cost=row.cost_usd if row is not None else None,
            row=row,
            rate_window=window_label("now", snap.rate_window_s),
        )
        for screen in self.screen_stack:
            if isinstance(screen, ToolCallsScreen) and snap.detail is not None:
                screen.show(snap.detail)

    def _match_for(self, key: str | None) -> MatchView | None:
        if key is None or self.snapshot is None:
            return None
        for m in self.snapshot.matches:
            if m.session_key == key:
                return m
        return None

    def _update_status(self) -> None:
        arrow = "↑" if self.sort_reverse else "↓"
        snap = self.snapshot
        window = (
            snap.window.label
            if snap is not None and snap.window is not None and snap.window.name == self.monitor.window
            else window_label(self.monitor.window, self.monitor.rate_window)
        )
        parts = [
            f"window {window}",
            f"rates per {window_label('now', self.monitor.rate_window)[5:]}",
            f"sort {self.sort_key} {arrow}",
        ]
        if self.live_only:
            parts.append("live only")
        if self.filter_text:
            parts.append(f"filter {self.filter_text!r}")
        parts.append("⏸ paused" if self.paused else f"every {self.interval:g}s")
        if snap is None:
            parts.append("loading sessions…")
        else:
            if snap.history_pending:
                done = snap.history_files - snap.history_pending
                parts.append(f"reading history {done:,}/{snap.history_files:,} files")
            if snap.rows_pending:
                parts.append(f"listing {snap.rows_pending:,} more sessions")
            if snap.collect_seconds > self.slow_refresh_seconds:
                parts.append(f"slow refresh {snap.collect_seconds:.1f}s")
            if snap.errors:
                parts.append(f"{len(snap.errors)} unreadable file(s)")
            if snap.process_error:
                parts.append(f"processes: {snap.process_error}")
        if self.last_error:
            parts.append(f"refresh failed: {self.last_error}")
        status = "  ·  ".join(parts)
        if status != self._status:
            self._status = status
            self.query_one("#status", Static).update(Text(status, no_wrap=True, overflow="ellipsis"))

    # ------------------------------------------------------------------ selection
    def _select(self, key: str | None) -> None:
        if key is None or key == self.selected_key:
            return
        self.selected_key = key
        self._show_detail()
        self._wake.request_detail()

    @on(SessionsTable.RowHighlighted, "#sessions")
    def _row_highlighted(self, event: SessionsTable.RowHighlighted) -> None:
        self._select(event.key)

    @on(SessionsTable.RowSelected, "#sessions")
    def _row_selected(self, event: SessionsTable.RowSelected) -> None:
        self.drill(event.key)

    @on(SessionsTable.HeaderSelected, "#sessions")
    def _header_selected(self, event: SessionsTable.HeaderSelected) -> None:
        key = COLUMN_SORT.get(event.column)
        if key is None:
            return
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        self._resort()

    @on(Tree.NodeHighlighted, "#procs")
    def _node_highlighted(self, event: Tree.NodeHighlighted[ProcNode]) -> None:
        node = event.node.data
        if node is None or node.session_key is None:
            return
        self._select(node.session_key)
        self.query_one(SessionsTable).restore_cursor(node.session_key)

    @on(Tree.NodeSelected, "#procs")
    def _node_selected(self, event: Tree.NodeSelected[ProcNode]) -> None:
        node = event.node.data
        if node is not None and node.session_key is not None:
            self.drill(node.session_key)

    def drill(self, key: str) -> None:
        """Open the tool-call list of a session (its detail arrives from the worker)."""
        self._select(key)
        snap = self.snapshot
        view = (
            snap.detail if snap is not None and snap.detail is not None and snap.detail.key == key else None
        )
        self.push_screen(ToolCallsScreen(key, view, home=self.monitor.user_home))

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Keys about the main screen's lists are hidden (and off) on drill-downs and help.
        return not (action in _MAIN_ONLY and len(self.screen_stack) > 1)

    def action_help(self) -> None:
        rows = [(b.key_display or b.key, b.tooltip or b.description) for b in self._all_bindings()]
        rows += [
            (
                "enter",
                "Sessions: tool calls of the session · Tool calls: the call's input and output "
                "(an Agent/Task call: its subagent's session)",
            ),
            ("esc", "Back from a drill-down; clear the filter"),
            ("tab", "Next pane (processes, sessions, detail); shift+tab goes back"),
            ("space", "Sessions: show or hide subagents · Processes: expand or collapse a process"),
            ("home/end", "First or last row"),
            ("k", "Processes: SIGTERM the selected agent tree (asks first)"),
            ("K", "Processes: SIGKILL the selected agent tree (asks first)"),
            ("ctrl+c", "Quit"),
            ("ctrl+p", "Command palette (every action)"),
            ("mouse", "Click rows and processes; click a column header to sort by it"),
        ]
        snap = self.snapshot
        footer = ""
        if snap is not None and self.help_timings:
            footer = f"last refresh: store {snap.refresh_seconds * 1000:.0f} ms, total {snap.collect_seconds * 1000:.0f} ms"
        self.push_screen(HelpScreen(rows, footer))

    def _all_bindings(self) -> Iterable[Binding]:
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.id not in ("escape", "next-pane", "ctrl-c"):
                yield b

    def action_filter(self) -> None:
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.value = self.filter_text
        filt.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._show_sessions()
        self._update_status()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.query_one(SessionsTable).focus()

    def action_escape(self) -> None:
        filt = self.query_one("#filter", Input)
        if filt.display or self.filter_text:
            filt.value = ""
            filt.display = False
            self.filter_text = ""
            self._show_sessions()
            self._update_status()
            self.query_one(SessionsTable).focus()

    def action_cycle_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.sort_reverse = False
        self._resort()

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._resort()

    def _resort(self) -> None:
        self._show_sessions()
        self._update_status()

    def action_cycle_window(self) -> None:
        """Next window for the Tokens/Cost columns and the totals; the worker recomputes them."""
        current = self.monitor.window
        i = WINDOWS.index(current) if current in WINDOWS else len(WINDOWS) - 1
        self.monitor.window = WINDOWS[(i + 1) % len(WINDOWS)]
        self._update_status()
        self._wake.request_refresh()

    def action_timeline(self) -> None:
        """Full-screen timeline of the session the detail pane shows (its data was loaded by the worker)."""
        snap = self.snapshot
        detail = snap.detail if snap is not None else None
        if detail is None or detail.session is None:
            self.notify("No session selected yet", severity="warning")
            return
        from .widgets.timeline import TimelineScreen  # plotext is loaded on first use only

        self.push_screen(TimelineScreen(detail.session))

    def action_toggle_detail(self) -> None:
        pane = self.query_one(DetailPane)
        self.detail_wanted = not pane.display
        self._apply_layout()

    def toggle_children(self, key: str) -> None:
        """Show or hide the subagent rows under session ``key`` (nothing for a session without any)."""
        snap = self.snapshot
        row = snap.row(key) if snap is not None else None
        if row is None or not row.children:
            return
        if key in self.expanded:
            self.expanded.discard(key)
        else:
            self.expanded.add(key)
        self._show_sessions(force=True)

    def open_session(self, key: str) -> None:
        """Drill into another session (a subagent from its parent's Agent/Task call)."""
        snap = self.snapshot
        row = snap.row(key) if snap is not None else None
        if row is not None and row.parent_key is not None:
            self.expanded.add(row.parent_key)
            self._show_sessions(force=True)
        table = self.query_one(SessionsTable)
        table.user_moved = True
        table.restore_cursor(key)
        self.drill(key)

    def open_subagent(self, parent_key: str, call: ToolEvent, calls: Sequence[ToolEvent]) -> bool:
        """Drill into the subagent an Agent/Task ``call`` of ``parent_key`` started; False if unknown.

        The call names its subagent when the agent wrote the id into the
        call's input or result; otherwise calls and subagents are paired in
        time order (each call with the first subagent that started after it).
        """
        snap = self.snapshot
        if snap is None:
            return False
        kids = [
            s
            for s in snap.raw_sessions
            if s.parent_session_id is not None
            and session_key(s.agent_type.value, s.parent_session_id) == parent_key
        ]
        if not kids:
            return False
        text = f"{call.input or ''}\n{call.output_preview or ''}"
        for s in kids:
            if s.session_id in text:
                self.open_session(session_key(s.agent_type.value, s.session_id))
                return True
        kids.sort(key=lambda s: (s.start_timestamp_ms or 0, s.session_id))
        starters = [c for c in calls if c.tool_name in SUBAGENT_TOOLS]
        free = list(kids)
        for c in starters:
            after = [s for s in free if (s.start_timestamp_ms or 0) >= (c.ts_ms or 0) - 1000]
            if not after:
                break
            chosen = after[0]
            free.remove(chosen)
            if c is call:
                self.open_session(session_key(chosen.agent_type.value, chosen.session_id))
                return True
        return False

    def action_toggle_tree(self) -> None:
        self.tree_mode = not self.tree_mode
        self._show_tree()

    def action_toggle_live(self) -> None:
        self.live_only = not self.live_only
        self._show_sessions()
        self._update_status()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._update_status()

    def action_refresh_now(self) -> None:
        self._wake.request_refresh()

    def action_faster(self) -> None:
        self._set_interval(max((s for s in INTERVAL_STEPS if s < self.interval), default=INTERVAL_STEPS[0]))

    def action_slower(self) -> None:
        self._set_interval(min((s for s in INTERVAL_STEPS if s > self.interval), default=INTERVAL_STEPS[-1]))

    def _set_interval(self, seconds: float) -> None:
        self.interval = seconds
        self._update_status()

    #: Alert limits the command palette can set: kind -> (AlertLimits field, question).
    _ALERT_PROMPTS: ClassVar[dict[str, tuple[str, str]]] = {
        "rate": ("rate_tpm", "Alert when a session burns this many tokens per minute"),
        "cost": ("cost_usd", "Alert when a session has cost this many dollars"),
        "context": ("context_pct", "Alert when a session's context is this full (percent)"),
    }

    def action_set_alert(self, kind: str) -> None:
        """Ask for a new limit (empty: off); the same once-per-crossing rule as the options."""
        from .widgets.prompt import ValuePrompt

        name, question = self._ALERT_PROMPTS[kind]
        current = getattr(self.alerts, name)

        def done(result: tuple[str, float | None] | None) -> None:
            if result is None or result[0] == "cancel":
                return
            self.alerts = dataclasses.replace(self.alerts, **{name: result[1]})
            self._above = {k for k in self._above if k[1] != kind}  # a new limit: cross it afresh
            shown = "off" if result[1] is None else f"{result[1]:g}"
            self.notify(f"{kind} alert: {shown}", timeout=4)

        self.push_screen(ValuePrompt(question, "" if current is None else f"{current:g}", _positive), done)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for kind, (name, question) in self._ALERT_PROMPTS.items():
            current = getattr(self.alerts, name)
            yield SystemCommand(
                f"Set the {kind} alert ({'off' if current is None else f'{current:g}'})",
                question + "; empty turns it off",
                lambda kind=kind: self.action_set_alert(kind),
            )
        for b in self._all_bindings():
            if b.id == "quit":
                continue
            action = b.action
            yield SystemCommand(
                f"{b.description} ({b.key_display or b.key})",
                b.tooltip or b.description,
                lambda action=action: self.run_action(action),
            )


# ---------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``agentsession-top``; a bad ``--interval`` (0, negative, nan, inf, absurd) exits 2.

    An interval of ``inf`` used to reach the refresh worker's ``sleep`` and kill
    it silently; ``nan`` or ``1e-9`` made it spin: all are refused here.
    """
    from agent_session.cli import interval_arg
    from agent_session.text import MAX_INTERVAL, MIN_INTERVAL

    p = argparse.ArgumentParser(
        prog="agentsession-top",
        description="Live monitor of coding-agent processes and the sessions they write.",
    )
    p.add_argument(
        "--home", metavar="DIR", help="read DIR/.claude, DIR/.codex and DIR/.gemini instead of yours"
    )
    p.add_argument(
        "--interval",
        type=interval_arg,
        default=1.0,
        metavar="SECONDS",
        help=f"refresh interval, {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds (default 1)",
    )
    p.add_argument("--demo", action="store_true", help="show generated sessions and stand-in agent processes")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="ignore the summary cache in ~/.cache/agentsession (only a speed-up; never trusted for data)",
    )
    p.add_argument(
        "--rate-window",
        type=_duration_arg,
        default=300.0,
        metavar="DURATION",
        help="window of the burn rates, e.g. 5m, 90s, 1h (default 5m)",
    )
    p.add_argument(
        "--alert-rate",
        type=_positive_arg,
        metavar="TOKENS_PER_MIN",
        help="notify (and ring the bell) when a session burns this many tokens per minute",
    )
    p.add_argument(
        "--alert-cost", type=_positive_arg, metavar="USD", help="notify when a session has cost this much"
    )
    p.add_argument(
        "--alert-context",
        type=_positive_arg,
        metavar="PCT",
        help="notify when a session's context is this full (percent of the model's window)",
    )
    p.add_argument("--once", action="store_true", help="collect one snapshot, print it and exit")
    p.add_argument("--json", action="store_true", help="with --once: print the snapshot as JSON")
    p.add_argument("--version", action="version", version=f"agentsession-top {__version__}")
    return p


def _positive(text: str) -> float:
    """A positive, finite number (alert limits); InvalidArgument (a ValueError) with a one-line reason otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgument(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise InvalidArgument(f"must be a positive number, not {text!r}")
    return value


#: argparse types: a bad value is a one-line usage error (exit 2), like the library CLI's.
_duration_arg = argument_type(parse_duration, "duration")
_positive_arg = argument_type(_positive, "number")


def _print_once(monitor: Monitor, as_json: bool, out: object) -> int:
    """The ``--once`` output; write errors (a closed pipe, a full disk) are the caller's to handle."""
    from agent_session.text import pad

    monitor.probe(monitor.store.sessions())  # a first sample, so CPU % has a baseline
    time.sleep(0.2)
    snap = monitor.collect()
    write = out.write  # type: ignore[attr-defined]
    if as_json:
        write(dump_json(snap.to_json()).decode())
        return 0
    if snap.roots:
        write(PROCESS_HEADER + "\n")
    for node in flatten(snap.roots):
        write(node.label + "\n")
    for r in snap.sessions:
        write(
            f"{'*' if r.live else ' '} {pad(r.display_id, 24)} {fmt_tokens(r.total_tokens):>7}  {r.model}\n"
        )
    return 0


def has_sessions(homes: AgentHomes) -> bool:
    """True when at least one session file exists under the homes (an installed agent may have none)."""
    from agent_session.discovery import find_session_files

    if not homes.existing():
        return False
    return bool(find_session_files(homes))


def choose_home(
    args: argparse.Namespace, homes: AgentHomes, any_sessions: Callable[[AgentHomes], bool] = has_sessions
) -> tuple[Path | None, bool, bool]:
    """``(home, demo, automatic)``: the demo runs when asked, or when no session exists at all.

    Only a plain interactive start falls back to the demo (an agent installed
    but with ``~/.claude/projects`` still empty included); ``--home`` and
    ``--once`` always read the homes they are given, empty or not.
    """
    home = Path(args.home).expanduser() if args.home else None
    auto = home is None and not args.once and not args.demo and not any_sessions(homes)
    return home, bool(args.demo) or auto, auto


#: Seconds the first refresh may parse before the newest sessions are shown (DESIGN §8: < 0.5 s).
FIRST_PAINT_BUDGET = 0.1
#: Seconds a refresh may spend formatting rows never shown before: a first screen over
#: 50,000 sessions shows the top rows at once, the rest follow a batch a refresh.
ROW_BUDGET = 0.15


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``agentsession-top``; exit statuses as for ``agentsession`` (see its module).

    ``--once`` into a closed pipe exits 141 without a traceback, onto a full
    disk exits 1 with one line on stderr; output the locale cannot encode is
    written with ``?``.
    """
    from agent_session.cli import run_guarded

    from .demo import DemoEnvironment

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json and not args.once:
        parser.error("--json needs --once (the live monitor is a terminal UI)")

    def body(out: TextIO, err: TextIO) -> int:
        home, use_demo, auto = choose_home(args, AgentHomes.resolve(args.home))
        demo: DemoEnvironment | None = None
        banner: str | None = None
        monitor: Monitor | None = None
        try:
            if use_demo:
                demo = DemoEnvironment().start()
                home = demo.home
                banner = (
                    DEMO_BANNER
                    if auto
                    else f"DEMO: generated sessions and stand-in agent processes in {home}. Press q to leave."
                )
            # The demo's generated home is thrown away on exit: caching it would only leave litter.
            # Its process pane shows the stand-ins only, not whatever else runs here.
            homes = AgentHomes.resolve(home)
            monitor = Monitor(
                homes,
                user_home=home,
                probe=default_probe(homes, only_trees_of=demo.pids) if demo is not None else None,
                cache=not (args.no_cache or use_demo),
                parse_budget=None if args.once else FIRST_PAINT_BUDGET,
                watch=not args.once,
                rate_window=args.rate_window,
                row_budget=None if args.once else ROW_BUDGET,
            )
            monitor.defer_first_probe = not args.once
            if args.once:
                return _print_once(monitor, args.json, out)
            alerts = AlertLimits(args.alert_rate, args.alert_cost, args.alert_context)
            MonitorApp(
                monitor, interval=args.interval, banner=banner, handle_signals=True, alerts=alerts
            ).run()
            return 0
        finally:
            if monitor is not None:
                monitor.store.close()  # stops parse workers and the watcher, writes the cache
            if demo is not None:
                demo.close()

    return run_guarded("agentsession-top", body)


if __name__ == "__main__":
    sys.exit(main())
