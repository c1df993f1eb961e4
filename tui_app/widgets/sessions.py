"""The sessions table: rows keyed by session, updated cell by cell, cursor kept by key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from ..monitor import SESSION_COLUMNS, SessionRow
from .style import agent_style

__all__ = ["SORT_KEYS", "SessionsTable", "order_rows"]

#: Sort keys in the order ``s`` cycles through them, each with its natural order
#: (what a user wants first: most tokens, most cost, most recent; agents A→Z).
SORT_KEYS: tuple[str, ...] = ("tokens", "cost", "activity", "agent")

_SORTERS: dict[str, Callable[[SessionRow], Any]] = {
    "tokens": lambda r: (-r.total_tokens, r.key),
    "cost": lambda r: (-(r.cost_usd if r.cost_usd is not None else -1.0), -r.total_tokens, r.key),
    "activity": lambda r: (-r.last_activity_ms, r.key),
    "agent": lambda r: (r.agent, -r.total_tokens, r.key),
}

#: Clicking a column header sorts by the matching key.
COLUMN_SORT: dict[str, str] = {"tokens": "tokens", "cost": "cost", "active": "activity", "agent": "agent"}


def order_rows(
    rows: Sequence[SessionRow], sort: str, reverse: bool, query: str = "", live_only: bool = False
) -> list[SessionRow]:
    """Filter (substring of agent, model, cwd, ids) and sort; pure, so tests can call it."""
    q = query.strip().lower()
    picked = [
        r for r in rows if (not live_only or r.live) and (not q or all(w in r.haystack for w in q.split()))
    ]
    picked.sort(key=_SORTERS[sort])
    if reverse:
        picked.reverse()
    return picked


class _KeyedText(Text):
    """A cell that knows its row key, so ``DataTable.sort`` can apply our own order."""

    __slots__ = ("row_key",)

    def __init__(self, text: str, row_key: str, style: str = "") -> None:
        super().__init__(text, style=style, no_wrap=True, end="")
        self.row_key = row_key


def _cell(col: str, value: str, row: SessionRow) -> Text:
    if col == "id":
        return _KeyedText(value, row.key, style="bold" if row.live else "")
    if col == "live":
        return Text(value, style="bold green", no_wrap=True, end="")
    if col in ("tokens", "cost"):
        return Text(value, justify="right", no_wrap=True, end="")
    if col == "agent":
        return Text(value, style=agent_style(value), no_wrap=True, end="")
    # Plain text always: session data is never parsed as markup.
    return Text(value, no_wrap=True, end="")


class SessionsTable(DataTable[Text]):
    """Sessions, hungriest first by default. ``Enter`` drills into the tool calls."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "select_cursor", "Tool calls", tooltip="Drill into the selected session's tool calls"
        ),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._rows: dict[str, SessionRow] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for key, label in SESSION_COLUMNS:
            self.add_column(Text(label, justify="right" if key in ("tokens", "cost") else "left"), key=key)

    @property
    def row_keys_in_order(self) -> list[str]:
        return list(self._order)

    @property
    def cursor_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def apply(self, rows: Sequence[SessionRow], selected: str | None) -> None:
        """Make the table show ``rows`` in this order, touching only what changed."""
        order = [r.key for r in rows]
        if order == self._order and all(self._rows[r.key] == r for r in rows):
            return
        with self.app.batch_update():
            wanted = set(order)
            for key in [k for k in self._rows if k not in wanted]:
                self.remove_row(key)
                del self._rows[key]
            cols = [c for c, _ in SESSION_COLUMNS]
            for r in rows:
                old = self._rows.get(r.key)
                if old is None:
                    self.add_row(*(_cell(c, v, r) for c, v in zip(cols, r.cells, strict=True)), key=r.key)
                elif old != r:
                    for c, a, b in zip(cols, old.cells, r.cells, strict=True):
                        if a != b or (c == "id" and old.live != r.live):
                            self.update_cell(r.key, c, _cell(c, b, r), update_width=True)
                self._rows[r.key] = r
            if order != self._order:
                rank = {k: i for i, k in enumerate(order)}
                self.sort("id", key=lambda cell: rank[cell.row_key])
                self._order = order
            self.restore_cursor(selected)

    def restore_cursor(self, key: str | None) -> None:
        """Keep the cursor on the same session whatever moved around it."""
        if key is None or key not in self._rows:
            return
        index = self._order.index(key)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)
