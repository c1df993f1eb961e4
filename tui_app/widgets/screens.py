"""Drill-down screens (tool-call list, one call) and the help screen.

The tool-call list follows the live session: the app hands every new detail
of the drilled session to :meth:`ToolCallsScreen.show`, which appends new
calls and updates changed ones in place (a pending call turning ``ok``).

It runs on the UI thread once per snapshot, for sessions with hundreds of
thousands of calls, so its cost must not depend on the number of calls: a
version key (calls seen, calls dropped, the parser's ``tools_version``) says
in O(1) whether anything changed, and a change touches only the new rows and
the rows still pending. Rows are keyed by the call's position in the whole
session, which stays put when the detail drops its oldest calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from agent_session import ToolEvent, ToolStatus
from agent_session.text import clean_text, one_line

from ..formatting import fmt_clock, fmt_duration_ms, fmt_time, shorten_path
from ..monitor import DetailView
from .style import STATUS_STYLE

__all__ = ["SUBAGENT_TOOLS", "HelpScreen", "ToolCallScreen", "ToolCallsScreen", "tool_cells"]

# Short, fixed-size columns first: on a narrow terminal the command and paths
# are cut at the right edge, never a status or a duration.
_COLUMNS = (
    ("time", "Time"),
    ("tool", "Tool"),
    ("status", "Status"),
    ("duration", "Duration"),
    ("command", "Command"),
    ("paths", "Paths"),
)


#: Claude's tools that start a subagent (``Task`` before 2.1, ``Agent`` after).
SUBAGENT_TOOLS = frozenset({"Task", "Agent"})

#: Dropping more old rows than this at once rebuilds the table (each removal is O(rows)).
_MAX_ROW_REMOVALS = 200


def tool_cells(t: ToolEvent, home: str | None) -> tuple[str, ...]:
    """The list columns of one call, as plain strings (compared to skip unchanged rows)."""
    status = t.status.value + (f" ({t.exit_code})" if t.exit_code not in (None, 0) else "")
    paths = ", ".join(shorten_path(p.path, home) for p in t.paths[:3])
    if len(t.paths) > 3:
        paths += f" +{len(t.paths) - 3}"
    return (
        fmt_clock(t.ts_ms),
        one_line(t.tool_name, 30) or "?",
        status,
        fmt_duration_ms(t.duration_ms),
        one_line(shorten_path(t.command, home) if t.command else None, 80) or "",
        one_line(paths, 80) or "",
    )


def _cell(col: str, value: str, t: ToolEvent) -> Text:
    if col == "status":
        return Text(value, style=STATUS_STYLE.get(t.status.value, ""), no_wrap=True, end="")
    if col == "duration":
        return Text(value, justify="right", no_wrap=True, end="")
    return Text(value, no_wrap=True, end="")


class CallsTable(DataTable[Text]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open call", tooltip="Show the call's input and output"),
    ]


class ToolCallsScreen(Screen[None]):
    """Every tool call of one session; ``Enter`` opens a call, ``Esc`` goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the sessions", id="calls.back"),
    ]

    def __init__(self, key: str, view: DetailView | None, *, home: str | None = None) -> None:
        super().__init__()
        self.session_key = key
        self.home = home
        self._view = view
        #: What the table shows: None until the first detail arrives.
        self._version: tuple[object, ...] | None = None
        #: Cells of every row in the table, by the call's position in the session.
        self._cells: dict[int, tuple[str, ...]] = {}
        #: Positions of the rows whose call may still change (no result yet).
        self._open: set[int] = set()
        #: Rows in the table are the calls at positions ``[_first, _next)``.
        self._first = 0
        self._next = 0
        self._tools: list[ToolEvent] = []
        self._dropped = 0
        self._title: Text | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="calls-pane"):
            yield Static(Text(self.session_key, style="bold"), id="calls-title")
            yield CallsTable(id="calls", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.table
        for key, label in _COLUMNS:
            table.add_column(Text(label), key=key)
        self.show(self._view)
        table.focus()

    @property
    def table(self) -> CallsTable:
        return self.query_one("#calls", CallsTable)

    def show(self, view: DetailView | None) -> None:
        """Bring the list up to date with a (possibly newer) detail of the same session.

        Does nothing at all (not even the title) when the calls are the ones
        already shown; otherwise costs the new rows plus the pending ones.
        """
        if view is None or view.key != self.session_key:
            return
        self._view = view
        s = view.session
        if s is None:
            self._set_title(Text(f"{self.session_key}  {view.error or 'loading…'}", style="bold"))
            return
        ev = s.events
        tools = ev.tools if ev is not None else []
        dropped = ev.tools_dropped if ev is not None else 0
        total = dropped + len(tools)
        version = (s.path, s.diagnostics.reparses, dropped, total, ev.tools_version if ev is not None else 0)
        if version == self._version:
            return
        rebuild = self._version is None or version[:2] != self._version[:2] or total < self._next
        self._version = version
        self._tools, self._dropped = tools, dropped
        shown = f"  {total:,} tool calls" + (f" (newest {len(tools):,} shown)" if dropped else "") + "  "
        self._set_title(
            Text.assemble(
                (s.display_id, "bold"), shown, (one_line(shorten_path(s.cwd, self.home), 80) or "", "dim")
            )
        )
        table = self.table
        with self.app.batch_update():
            if rebuild or dropped - self._first > _MAX_ROW_REMOVALS:
                # First fill, the file re-parsed from zero, or the window slid far: start over.
                table.clear()
                self._cells.clear()
                self._open.clear()
                self._first = self._next = dropped
            for pos in range(self._first, min(dropped, self._next)):
                table.remove_row(str(pos))
                self._cells.pop(pos, None)
                self._open.discard(pos)
            self._first = max(self._first, dropped)
            self._next = max(self._next, dropped)
            for pos in sorted(self._open):
                self._update_row(table, pos, tools[pos - dropped])
            for pos in range(self._next, total):
                self._add_row(table, pos, tools[pos - dropped])
            self._next = total

    def _set_title(self, title: Text) -> None:
        if title != self._title:
            self._title = title
            self.query_one("#calls-title", Static).update(title)

    def _add_row(self, table: CallsTable, pos: int, t: ToolEvent) -> None:
        cells = tool_cells(t, self.home)
        table.add_row(*(_cell(c, v, t) for (c, _), v in zip(_COLUMNS, cells, strict=True)), key=str(pos))
        self._cells[pos] = cells
        if t.status is ToolStatus.PENDING:
            self._open.add(pos)

    def _update_row(self, table: CallsTable, pos: int, t: ToolEvent) -> None:
        cells = tool_cells(t, self.home)
        old = self._cells.get(pos)
        if cells != old:
            for (c, _), a, b in zip(_COLUMNS, old or ("",) * len(cells), cells, strict=True):
                if a != b:
                    table.update_cell(str(pos), c, _cell(c, b, t), update_width=True)
            self._cells[pos] = cells
        if t.status is not ToolStatus.PENDING:
            self._open.discard(pos)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        pos = int(event.row_key.value or 0)
        i = pos - self._dropped
        if not 0 <= i < len(self._tools):
            return
        tool = self._tools[i]
        if tool.tool_name in SUBAGENT_TOOLS:
            # An Agent/Task call: open the subagent's own session when the app can find it.
            opener = getattr(self.app, "open_subagent", None)
            if callable(opener) and opener(self.session_key, tool, self._tools):
                return
        self.app.push_screen(ToolCallScreen(tool, pos, home=self.home))

    def action_back(self) -> None:
        self.dismiss()


class ToolCallScreen(Screen[None]):
    """One call: its full (capped) input and output preview, as plain text."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the tool calls", id="call.back"),
    ]

    def __init__(self, tool: ToolEvent, index: int, *, home: str | None = None) -> None:
        super().__init__()
        self.tool = tool
        self.index = index
        self.home = home

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="call-pane"):
            yield Static(self._body_text(), id="call-body")
        yield Footer()

    def _body_text(self) -> Text:
        t = self.tool
        text = Text(end="")

        def field(label: str, value: str | None) -> None:
            text.append(f"{label:<10}", style="bold")
            text.append(clean_text(value) if value else "-")
            text.append("\n")

        text.append(f"#{self.index + 1}  ", style="dim")
        text.append(clean_text(t.tool_name), style="bold")
        text.append(f"  {t.category.value}\n", style="dim")
        field("call id", t.call_id)
        text.append(f"{'status':<10}", style="bold")
        text.append(t.status.value, style=STATUS_STYLE.get(t.status.value, ""))
        text.append(f"  exit {t.exit_code}\n" if t.exit_code is not None else "\n")
        field("started", fmt_time(t.ts_ms))
        field("ended", fmt_time(t.end_ts_ms))
        field("duration", fmt_duration_ms(t.duration_ms))
        field("command", t.command)
        for p in t.paths:
            prev = f" (from {shorten_path(p.previous_path, self.home)})" if p.previous_path else ""
            field(p.access.value, shorten_path(p.path, self.home) + prev)
        text.append("\nInput\n", style="bold underline")
        text.append(clean_text(t.input) if t.input else "(none)")
        text.append("\n\nOutput preview\n", style="bold underline")
        text.append(clean_text(t.output_preview) if t.output_preview else "(none)")
        text.append("\n")
        return text

    def action_back(self) -> None:
        self.dismiss()


class HelpScreen(ModalScreen[None]):
    """Every key, with what it does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", tooltip="Close the help", id="help.close"),
    ]

    def __init__(self, rows: Sequence[tuple[str, str]], footer: str = "") -> None:
        super().__init__()
        self.rows = list(rows)
        self.footer_text = footer

    def compose(self) -> ComposeResult:
        text = Text(end="")
        text.append("agentsession-top keys\n\n", style="bold")
        width = max(len(k) for k, _ in self.rows) if self.rows else 4
        for key, desc in self.rows:
            text.append(f"  {key:<{width}}  ", style="bold cyan")
            text.append(desc + "\n")
        if self.footer_text:
            text.append("\n" + self.footer_text, style="dim")
        with VerticalScroll(id="help-pane"):
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss()
