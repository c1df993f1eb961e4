"""``agentsession-top``: which agent burns tokens right now, and what it is doing.

The UI thread never touches files or /proc. One thread worker loops: wait for
the interval, a file change (watchfiles), ``r`` or a new selection; collect a
frozen :class:`~tui_app.monitor.MonitorSnapshot`; post it. The handler diffs
it against what is shown and updates widgets in place, so cursor, scroll and
tree expansion survive every refresh, and an unchanged snapshot costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
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
from textual.widgets import DataTable, Footer, Input, Static, Tree
from textual.worker import get_current_worker

from agent_session import AgentHomes, __version__
from agent_session.text import dump_json

from .formatting import fmt_tokens
from .monitor import DetailView, MatchView, Monitor, MonitorSnapshot, ProcNode, Wakeup, default_probe, flatten
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
from .widgets.sessions import COLUMN_SORT

__all__ = ["MonitorApp", "SnapshotReady", "build_parser", "choose_home", "main"]

INTERVAL_STEPS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

DEMO_BANNER = (
    "DEMO: no Claude Code, Codex or Gemini data found on this machine, so this shows generated "
    "sessions and harmless stand-in processes in a temporary home (removed on exit). "
    "Use --home DIR to read real data."
)


#: Actions that only make sense on the main screen.
_MAIN_ONLY = frozenset(
    {"filter", "cycle_sort", "reverse_sort", "toggle_tree", "toggle_live", "escape", "help"}
)


class SnapshotReady(Message):
    """A new snapshot from the worker; a newer one queued behind it replaces it."""

    def __init__(self, snapshot: MonitorSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


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
        Binding("s", "cycle_sort", "Sort", tooltip="Sort by tokens → cost → activity → agent", id="sort"),
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
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.interval = interval
        self.clock = clock or monitor.clock
        self.banner = banner
        self.use_watcher = watch
        self.handle_signals = handle_signals
        self.sort_key = "tokens"
        self.sort_reverse = False
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
        self._visible: list[str] = []
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

    def _stop_workers(self) -> None:
        self._wake.stop()
        self._stop_watch.set()

    # ------------------------------------------------------------------ workers
    @work(thread=True, exclusive=True, exit_on_error=False, group="refresh", name="refresh")
    def _refresh_loop(self) -> None:
        """All file and /proc I/O happens here, one collection at a time."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            last = self.monitor.last
            # While the history is still being read behind the first paint, look again soon.
            loading = last is not None and last.history_pending > 0 and not self.paused
            reason = self._wake.wait(min(self.interval, 0.3) if loading else self.interval, self.paused)
            if reason == "stop" or worker.is_cancelled:
                return
            if self.paused and reason == "tick":
                continue
            try:
                if reason == "detail":
                    snap = self.monitor.with_detail(self.selected_key)
                else:
                    snap = self.monitor.collect(self.selected_key)
            except Exception as exc:  # keep the monitor alive; show what went wrong
                self.post_message(RefreshFailed(f"{type(exc).__name__}: {exc}"))
                continue
            self.post_message(SnapshotReady(snap))

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch", name="watch")
    def _watch_files(self) -> None:
        """Wake the refresh loop early when a session file changes."""
        paths = self.monitor.watch_paths()
        if not paths:
            return
        try:
            import watchfiles
        except ImportError:  # pragma: no cover - a declared dependency
            return

        def wanted(_change: object, path: str) -> bool:
            return path.endswith((".jsonl", ".json", ".zst"))

        try:
            for _changes in watchfiles.watch(
                *paths,
                watch_filter=wanted,
                stop_event=self._stop_watch,
                debounce=200,
                rust_timeout=1000,
                yield_on_timeout=False,
                raise_interrupt=False,
            ):
                self._wake.request_change()
        except (OSError, RuntimeError):
            # Too many watches, a root that vanished…: the interval still refreshes.
            return

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
            if previous is None or previous.sessions != snap.sessions:
                self._show_sessions()
            self._show_detail()
            self._update_status()
        self.applied += 1
        if not snap.detail_only:
            self.collections += 1

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
        tree.border_title = f"Processes ({sum(1 for _ in flatten(snap.roots))})" + (
            "" if self.tree_mode else " flat"
        )

    def _show_sessions(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        table = self.query_one(SessionsTable)
        rows = order_rows(snap.sessions, self.sort_key, self.sort_reverse, self.filter_text, self.live_only)
        self._visible = [r.key for r in rows]
        table.apply(rows, self.selected_key)
        on_main = len(self.screen_stack) == 1
        if (
            on_main
            and self.selected_key not in self._visible
            and rows
            and not isinstance(self.focused, ProcessTree)
        ):
            # The selection was filtered out (or nothing was selected yet): follow the cursor.
            self._select(table.cursor_key)
        live = sum(1 for r in snap.sessions if r.live)
        table.border_title = f"Sessions ({len(rows)}/{len(snap.sessions)}, {live} live)"

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
        parts = [f"sort {self.sort_key} {arrow}", "live only" if self.live_only else "all sessions"]
        if self.filter_text:
            parts.append(f"filter {self.filter_text!r}")
        parts.append("⏸ paused" if self.paused else f"every {self.interval:g}s")
        snap = self.snapshot
        if snap is None:
            parts.append("loading sessions…")
        else:
            if snap.history_pending:
                done = snap.history_files - snap.history_pending
                parts.append(f"reading history {done:,}/{snap.history_files:,} files")
            if snap.collect_seconds > 1.0:
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

    @on(DataTable.RowHighlighted, "#sessions")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._select(str(event.row_key.value))

    @on(DataTable.RowSelected, "#sessions")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.drill(str(event.row_key.value))

    @on(DataTable.HeaderSelected, "#sessions")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = COLUMN_SORT.get(str(event.column_key.value))
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
            ("enter", "Sessions: tool calls of the session · Tool calls: the call's input and output"),
            ("esc", "Back from a drill-down; clear the filter"),
            ("space", "Processes: expand or collapse a process"),
            ("ctrl+p", "Command palette (every action)"),
            ("mouse", "Click rows and processes; click a column header to sort by it"),
        ]
        snap = self.snapshot
        footer = ""
        if snap is not None:
            footer = f"last refresh: store {snap.refresh_seconds * 1000:.0f} ms, total {snap.collect_seconds * 1000:.0f} ms"
        self.push_screen(HelpScreen(rows, footer))

    def _all_bindings(self) -> Iterable[Binding]:
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.id not in ("escape", "next-pane"):
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
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
    p.add_argument("--once", action="store_true", help="collect one snapshot, print it and exit")
    p.add_argument("--json", action="store_true", help="with --once: print the snapshot as JSON")
    p.add_argument("--version", action="version", version=f"agentsession-top {__version__}")
    return p


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
    for node in flatten(snap.roots):
        write(node.label + "\n")
    for r in snap.sessions:
        write(
            f"{'*' if r.live else ' '} {pad(r.display_id, 24)} {fmt_tokens(r.total_tokens):>7}  {r.model}\n"
        )
    return 0


def choose_home(args: argparse.Namespace, homes: AgentHomes) -> tuple[Path | None, bool, bool]:
    """``(home, demo, automatic)``: the demo runs when asked, or when no agent is installed.

    Only a plain interactive start falls back to the demo; ``--home`` and
    ``--once`` always read the homes they are given, empty or not.
    """
    home = Path(args.home).expanduser() if args.home else None
    auto = home is None and not args.once and not args.demo and not homes.existing()
    return home, bool(args.demo) or auto, auto


#: Seconds the first refresh may parse before the newest sessions are shown (DESIGN §8: < 0.5 s).
FIRST_PAINT_BUDGET = 0.1


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
                    else f"DEMO: generated sessions and stand-in agent processes in {home}"
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
            )
            if args.once:
                return _print_once(monitor, args.json, out)
            MonitorApp(monitor, interval=args.interval, banner=banner, handle_signals=True).run()
            return 0
        finally:
            if monitor is not None:
                monitor.store.close()  # stops parse workers and the watcher, writes the cache
            if demo is not None:
                demo.close()

    return run_guarded("agentsession-top", body)


if __name__ == "__main__":
    sys.exit(main())
