"""The sessions table: rows keyed by session, updated cell by cell, cursor kept by key.

Columns are laid out for the table's width (:func:`layout_columns`): numbers
always get their full width, Cwd and Model shrink first (eliding the middle
of the text), then the least useful columns go, so at 80 columns Session,
Rate, Tokens and Cost are always there. Subagents hang directly under their
parent, collapsed until ``space`` opens them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from ..monitor import CONTEXT_WARN_PCT, SESSION_COLUMNS, SessionRow
from ..rates import elide_middle
from .style import agent_style

__all__ = ["SORT_KEYS", "ColumnLayout", "SessionsTable", "layout_columns", "order_rows"]

#: Sort keys in the order ``s`` cycles through them, each with its natural order
#: (what a user wants first: fastest burn, most tokens, most cost, most recent; agents A→Z).
SORT_KEYS: tuple[str, ...] = ("rate", "tokens", "cost", "activity", "agent")

_SORTERS: dict[str, Callable[[SessionRow], Any]] = {
    # Sessions with requests in the rate window first, fastest first; then the window's tokens.
    "rate": lambda r: (not r.recent, -r.rate_tpm, -r.win_tokens, r.key),
    "tokens": lambda r: (-r.win_tokens, r.key),
    "cost": lambda r: (-(r.win_cost if r.win_cost is not None else -1.0), -r.win_tokens, r.key),
    "activity": lambda r: (-r.last_activity_ms, r.key),
    "agent": lambda r: (r.agent, -r.win_tokens, r.key),
}

#: Clicking a column header sorts by the matching key.
COLUMN_SORT: dict[str, str] = {
    "rate": "rate",
    "tokens": "tokens",
    "cost": "cost",
    "active": "activity",
    "agent": "agent",
}

_RIGHT = frozenset({"rate", "tokens", "cost", "ctx"})
#: Columns whose text may be elided (in the middle), with the narrowest width they keep.
_FLEX_MIN: dict[str, int] = {"id": 10, "model": 8, "cwd": 10}
#: The widest a flexible column grows to, however much room there is.
_FLEX_MAX: dict[str, int] = {"id": 40, "model": 28, "cwd": 80}
#: Columns dropped, in this order, when even the shrunk columns do not fit.
_DROP_ORDER: tuple[str, ...] = ("trend", "agent", "cwd", "model", "active", "ctx", "live")
#: Leftover width goes to these, in this order, up to their natural width.
_GROW_ORDER: tuple[str, ...] = ("id", "model", "cwd")
#: Each DataTable cell has one column of padding either side.
_PAD = 2


def order_rows(
    rows: Sequence[SessionRow],
    sort: str,
    reverse: bool,
    query: str = "",
    live_only: bool = False,
    expanded: Collection[str] = (),
) -> list[SessionRow]:
    """Filter, sort, and hang each subagent directly under its parent; pure, so tests can call it.

    Subagents show only under an ``expanded`` parent; a filter shows every
    match (a matching subagent under its parent if that is shown, else alone).
    """
    q = query.strip().lower()

    def keep(r: SessionRow) -> bool:
        return (not live_only or r.live) and (not q or all(w in r.haystack for w in q.split()))

    present = {r.key for r in rows}
    kids: dict[str, list[SessionRow]] = {}
    top: list[SessionRow] = []
    for r in rows:
        if r.parent_key is not None and r.parent_key in present:
            kids.setdefault(r.parent_key, []).append(r)
        elif keep(r):
            top.append(r)
    sorter = _SORTERS[sort]
    top.sort(key=sorter, reverse=False)
    if reverse:
        top.reverse()
    out: list[SessionRow] = []
    shown = {r.key for r in top}
    for r in top:
        out.append(r)
        children = kids.get(r.key, ())
        if r.key in expanded:
            picked = [c for c in children if not q or keep(c)]
        elif q:
            picked = [c for c in children if keep(c)]
        else:
            picked = []
        picked.sort(key=sorter)
        if reverse:
            picked.reverse()
        out.extend(picked)
    if q:
        # A matching subagent whose parent is filtered out still shows, on its own.
        orphans = [c for p, cs in kids.items() if p not in shown for c in cs if keep(c)]
        orphans.sort(key=sorter)
        out.extend(orphans)
    return out


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    """Visible columns, in table order, with the width of each (cell text, without padding)."""

    columns: tuple[tuple[str, int], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.columns)

    def width(self, key: str) -> int | None:
        for k, w in self.columns:
            if k == key:
                return w
        return None


def _label(key: str) -> str:
    return dict(SESSION_COLUMNS)[key]


def layout_columns(rows: Sequence[SessionRow], available: int | None) -> ColumnLayout:
    """Which columns fit in ``available`` cells and how wide each is (``None``: every column, natural).

    Numbers are never cut: a kept numeric column is always as wide as its
    widest value. Cwd and Model shrink first, then columns go in
    ``_DROP_ORDER``; Session, Rate, Tokens and Cost always stay (Session
    shrinks to its minimum last).
    """
    cols = [k for k, _ in SESSION_COLUMNS]
    natural: dict[str, int] = {}
    for i, key in enumerate(cols):
        width = max([len(_label(key)), *(len(r.cells[i]) for r in rows)])
        if key in _FLEX_MAX:
            width = min(width, _FLEX_MAX[key])
        natural[key] = max(width, 1)
    if available is None or available <= 0:
        return ColumnLayout(tuple((k, natural[k]) for k in cols))
    widths = dict(natural)
    visible = list(cols)

    def total() -> int:
        return sum(widths[k] + _PAD for k in visible)

    for key in ("cwd", "model"):
        if total() > available:
            widths[key] = min(natural[key], max(_FLEX_MIN[key], widths[key] - (total() - available)))
    for key in _DROP_ORDER:
        if total() <= available:
            break
        visible.remove(key)
    if total() > available:
        widths["id"] = max(_FLEX_MIN["id"], widths["id"] - (total() - available))
    for key in _GROW_ORDER:
        if key in visible and total() < available:
            widths[key] = min(natural[key], widths[key] + available - total())
    return ColumnLayout(tuple((k, widths[k]) for k in cols if k in visible))


class _KeyedText(Text):
    """A cell that knows its row key, so ``DataTable.sort`` can apply our own order."""

    __slots__ = ("row_key",)

    def __init__(self, text: str, row_key: str, style: str = "") -> None:
        super().__init__(text, style=style, no_wrap=True, end="")
        self.row_key = row_key


def _cell(col: str, value: str, row: SessionRow, width: int, expanded: bool) -> Text:
    if col == "id":
        if row.children:
            value = f"{'▾' if expanded else '▸'}{row.children} {value}"
        return _KeyedText(elide_middle(value, width), row.key, style="bold" if row.live else "")
    if col == "live":
        return Text(value, style="bold green", no_wrap=True, end="")
    if col == "ctx":
        warn = row.ctx_pct is not None and row.ctx_pct >= CONTEXT_WARN_PCT
        return Text(value, style="bold red" if warn else "", justify="right", no_wrap=True, end="")
    if col == "rate":
        return Text(value, style="bold" if row.recent else "dim", justify="right", no_wrap=True, end="")
    if col == "trend":  # block characters only, drawn in the agent's colour
        return Text(value, style=agent_style(row.agent), no_wrap=True, end="")
    if col in _RIGHT:
        return Text(value, justify="right", no_wrap=True, end="")
    if col == "agent":
        return Text(value, style=agent_style(value), no_wrap=True, end="")
    # Plain text always: session data is never parsed as markup.
    return Text(elide_middle(value, width), no_wrap=True, end="")


class SessionsTable(DataTable[Text]):
    """Sessions, burning fastest first by default. ``Enter`` drills into the tool calls."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "select_cursor", "Tool calls", tooltip="Drill into the selected session's tool calls"
        ),
        Binding(
            "space",
            "toggle_children",
            "Subagents",
            tooltip="Show or hide the selected session's subagents",
            id="subagents",
        ),
        Binding("home", "first_row", "First", show=False, tooltip="Cursor to the first session"),
        Binding("end", "last_row", "Last", show=False, tooltip="Cursor to the last session"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._rows: dict[str, SessionRow] = {}
        self._order: list[str] = []
        self._layout: ColumnLayout | None = None
        self._shown: list[SessionRow] = []
        self._selected: str | None = None
        #: Parents whose subagents are shown (the app owns the set; the table draws the marker).
        self.expanded: set[str] = set()
        #: True once the user moved the cursor (keys or mouse): from then on the table never
        #: moves it to the top by itself.
        self.user_moved = False

    @property
    def column_layout(self) -> ColumnLayout | None:
        return self._layout

    @property
    def row_keys_in_order(self) -> list[str]:
        return list(self._order)

    @property
    def cursor_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def _available(self) -> int | None:
        width = self.size.width
        # One column for the vertical scrollbar (see app.tcss), whether it shows or not.
        return width - 1 if width > 0 else None

    def apply(self, rows: Sequence[SessionRow], selected: str | None, *, force: bool = False) -> None:
        """Make the table show ``rows`` in this order, touching only what changed."""
        self._shown = list(rows)
        self._selected = selected
        layout = layout_columns(rows, self._available())
        order = [r.key for r in rows]
        if layout != self._layout:
            self._rebuild(rows, layout, selected)
            return
        if not force and order == self._order and all(self._rows[r.key] == r for r in rows):
            return
        with self.app.batch_update():
            wanted = set(order)
            for key in [k for k in self._rows if k not in wanted]:
                self.remove_row(key)
                del self._rows[key]
            index = {k: i for i, (k, _) in enumerate(SESSION_COLUMNS)}
            for r in rows:
                old = self._rows.get(r.key)
                if old is None:
                    self.add_row(*self._cells(r, layout), key=r.key)
                elif old != r or force:
                    for c, w in layout.columns:
                        i = index[c]
                        if force or old.cells[i] != r.cells[i] or (c == "id" and old != r):
                            self.update_cell(r.key, c, _cell(c, r.cells[i], r, w, r.key in self.expanded))
                self._rows[r.key] = r
            if order != self._order:
                rank = {k: i for i, k in enumerate(order)}
                self.sort("id", key=lambda cell: rank[cell.row_key])
                self._order = order
            self.restore_cursor(selected)

    def _cells(self, r: SessionRow, layout: ColumnLayout) -> list[Text]:
        index = {k: i for i, (k, _) in enumerate(SESSION_COLUMNS)}
        return [_cell(c, r.cells[index[c]], r, w, r.key in self.expanded) for c, w in layout.columns]

    def _rebuild(self, rows: Sequence[SessionRow], layout: ColumnLayout, selected: str | None) -> None:
        """Start over with new columns (a resize, or a number that no longer fits its column)."""
        with self.app.batch_update():
            self.clear(columns=True)
            for key, width in layout.columns:
                label = Text(_label(key), justify="right" if key in _RIGHT else "left")
                self.add_column(label, width=width, key=key)
            self._rows = {}
            for r in rows:
                self.add_row(*self._cells(r, layout), key=r.key)
                self._rows[r.key] = r
            self._order = [r.key for r in rows]
            self._layout = layout
            self.restore_cursor(selected)

    def on_resize(self, event: events.Resize) -> None:
        if self._layout is not None and layout_columns(self._shown, self._available()) != self._layout:
            self.apply(self._shown, self.cursor_key or self._selected)

    def restore_cursor(self, key: str | None) -> None:
        """Keep the cursor on the same session whatever moved around it."""
        if key is None or key not in self._rows:
            return
        index = self._order.index(key)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    # ------------------------------------------------------------ user moves
    def _moved(self) -> None:
        self.user_moved = True

    def action_cursor_up(self) -> None:
        self._moved()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._moved()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self._moved()
        super().action_page_up()

    def action_page_down(self) -> None:
        self._moved()
        super().action_page_down()

    def action_first_row(self) -> None:
        self._moved()
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last_row(self) -> None:
        self._moved()
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def action_scroll_top(self) -> None:
        self.action_first_row()

    def action_scroll_bottom(self) -> None:
        self.action_last_row()

    async def _on_click(self, event: events.Click) -> None:
        self._moved()
        await super()._on_click(event)

    def action_toggle_children(self) -> None:
        key = self.cursor_key
        toggle = getattr(self.app, "toggle_children", None)
        if key is not None and callable(toggle):
            toggle(key)
