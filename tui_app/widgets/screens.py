"""Drill-down screens (tool-call list, one call) and the help screen.

The tool-call list follows the live session: the app hands every new detail
of the drilled session to :meth:`ToolCallsScreen.show`, which appends new
calls and updates changed ones in place (a pending call turning ``ok``).
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

from agent_session import ToolEvent
from agent_session.text import clean_text, one_line

from ..formatting import fmt_clock, fmt_duration_ms, fmt_time, shorten_path
from ..monitor import DetailView
from .style import STATUS_STYLE

__all__ = ["HelpScreen", "ToolCallScreen", "ToolCallsScreen", "tool_cells"]

_COLUMNS = (
    ("time", "Time"),
    ("tool", "Tool"),
    ("command", "Command"),
    ("status", "Status"),
    ("duration", "Duration"),
    ("paths", "Paths"),
)


def tool_cells(t: ToolEvent, home: str | None) -> tuple[str, ...]:
    """The list columns of one call, as plain strings (compared to skip unchanged rows)."""
    status = t.status.value + (f" ({t.exit_code})" if t.exit_code not in (None, 0) else "")
    paths = ", ".join(shorten_path(p.path, home) for p in t.paths[:3])
    if len(t.paths) > 3:
        paths += f" +{len(t.paths) - 3}"
    return (
        fmt_clock(t.ts_ms),
        one_line(t.tool_name, 30) or "?",
        one_line(shorten_path(t.command, home) if t.command else None, 80) or "",
        status,
        fmt_duration_ms(t.duration_ms),
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
        self._cells: list[tuple[str, ...]] = []
        self._tools: list[ToolEvent] = []

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
        """Bring the list up to date with a (possibly newer) detail of the same session."""
        if view is None or view.key != self.session_key:
            return
        self._view = view
        title = self.query_one("#calls-title", Static)
        s = view.session
        if s is None:
            title.update(Text(f"{self.session_key}  {view.error or 'loading…'}", style="bold"))
            return
        tools = list(s.events.tools) if s.events is not None else []
        title.update(
            Text.assemble(
                (s.display_id, "bold"),
                f"  {len(tools)} tool calls  ",
                (one_line(shorten_path(s.cwd, self.home), 80) or "", "dim"),
            )
        )
        table = self.table
        cols = [c for c, _ in _COLUMNS]
        with self.app.batch_update():
            if len(tools) < len(self._cells):
                # The file was re-parsed from zero with fewer calls: start the list over.
                table.clear()
                self._cells = []
            for i, t in enumerate(tools):
                cells = tool_cells(t, self.home)
                if i < len(self._cells):
                    if cells != self._cells[i]:
                        for c, a, b in zip(cols, self._cells[i], cells, strict=True):
                            if a != b:
                                table.update_cell(str(i), c, _cell(c, b, t), update_width=True)
                        self._cells[i] = cells
                else:
                    table.add_row(*(_cell(c, v, t) for c, v in zip(cols, cells, strict=True)), key=str(i))
                    self._cells.append(cells)
        self._tools = tools

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        index = int(event.row_key.value or 0)
        if 0 <= index < len(self._tools):
            self.app.push_screen(ToolCallScreen(self._tools[index], index, home=self.home))

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
