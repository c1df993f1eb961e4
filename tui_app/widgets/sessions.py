"""The sessions table: rows keyed by session, drawn line by line, cursor kept by key.

It is a Line-API widget of its own rather than a ``DataTable``: a DataTable
measures every cell it is given and walks all its rows on each paint, which
with 50,000 sessions made the first screen wait half a minute and every
update cost a second. This table keeps the ordered rows in a list and draws
only the lines on screen, so a paint costs the same for 50 rows or 50,000,
and an update that changed a few rows costs a few comparisons.

Columns are laid out for the table's width (:func:`layout_columns`): numbers
always get their full width, Cwd and Model shrink first (eliding the middle
of the text), then the least useful columns go, so at 80 columns Session,
Rate, Tokens and Cost are always there. Subagents hang directly under their
parent, collapsed until ``space`` opens them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..monitor import CONTEXT_WARN_PCT, SESSION_COLUMNS, SessionRow
from ..rates import elide_middle
from .style import agent_style

__all__ = ["SORTERS", "SORT_KEYS", "ColumnLayout", "SessionsTable", "layout_columns", "order_rows"]

#: Sort keys in the order ``s`` cycles through them, each with its natural order
#: (what a user wants first: fastest burn, most tokens, most cost, most recent; agents A→Z).
SORT_KEYS: tuple[str, ...] = ("rate", "tokens", "cost", "activity", "agent")

SORTERS: dict[str, Callable[[SessionRow], Any]] = {
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
#: Each cell has one column of padding either side.
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
    sorter = SORTERS[sort]
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
    return _fit(cols, natural_widths(rows), available)


def natural_widths(rows: Sequence[SessionRow]) -> dict[str, int]:
    """Each column's width with nothing cut: its widest value or label (flexible ones capped)."""
    natural: dict[str, int] = {}
    columns = list(zip(*(r.cells for r in rows), strict=True)) if rows else [() for _ in SESSION_COLUMNS]
    for (key, label), values in zip(SESSION_COLUMNS, columns, strict=True):
        width = max(len(label), max(map(len, values), default=0))
        if key in _FLEX_MAX:
            width = min(width, _FLEX_MAX[key])
        natural[key] = max(width, 1)
    return natural


def _fit(cols: list[str], natural: dict[str, int], available: int | None) -> ColumnLayout:
    """``layout_columns`` once the natural widths are known."""
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


_INDEX: dict[str, int] = {k: i for i, (k, _) in enumerate(SESSION_COLUMNS)}


def _cell(col: str, value: str, row: SessionRow, width: int, expanded: bool) -> Text:
    if col == "id":
        if row.children:
            value = f"{'▾' if expanded else '▸'}{row.children} {value}"
        return Text(elide_middle(value, width), style="bold" if row.live else "", no_wrap=True, end="")
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


class SessionsTable(ScrollView, can_focus=True):
    """Sessions, burning fastest first by default. ``Enter`` drills into the tool calls.

    One header line, then one line per row; only the lines on screen are
    drawn (and cached per row object), so the cost of a paint does not grow
    with the number of sessions.
    """

    DEFAULT_CSS = """
    SessionsTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        &:focus {
            background-tint: $foreground 5%;
            & > .sessions-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .sessions-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .sessions-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .sessions-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .sessions-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .sessions-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .sessions-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "sessions-table--header",
        "sessions-table--even-row",
        "sessions-table--odd-row",
        "sessions-table--cursor",
    }

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
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first_row", "First", show=False, tooltip="Cursor to the first session"),
        Binding("end,ctrl+end", "last_row", "Last", show=False, tooltip="Cursor to the last session"),
    ]

    class _RowMessage(Message):
        """Something happened on the row of session ``key`` (the table is the message's control)."""

        def __init__(self, table: SessionsTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> SessionsTable:
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved onto the row of session ``key``."""

    class RowSelected(_RowMessage):
        """``Enter`` or a click on the row of session ``key``."""

    class HeaderSelected(Message):
        """A click on the header of ``column`` (a ``SESSION_COLUMNS`` key)."""

        def __init__(self, table: SessionsTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> SessionsTable:
            return self.table

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, SessionRow] = {}
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._layout: ColumnLayout | None = None
        self._natural: dict[str, int] | None = None
        self._shown: list[SessionRow] = []
        self._selected: str | None = None
        self._lines: LRUCache[tuple[Any, ...], tuple[SessionRow, Strip]] = LRUCache(1024)
        self._header: tuple[tuple[Any, ...], Strip] | None = None
        self.cursor_row = 0
        #: Parents whose subagents are shown (the app owns the set; the table draws the marker).
        self.expanded: set[str] = set()
        #: True once the user moved the cursor (keys or mouse): from then on the table never
        #: moves it to the top by itself.
        self.user_moved = False

    # ------------------------------------------------------------ what it shows
    @property
    def column_layout(self) -> ColumnLayout | None:
        return self._layout

    @property
    def row_keys_in_order(self) -> list[str]:
        return list(self._order)

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_key(self) -> str | None:
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def row_index(self, key: str) -> int | None:
        """Where session ``key`` is in the table (None: not shown)."""
        return self._index.get(key)

    def get_row(self, key: str) -> list[Text]:
        """The cells of session ``key`` as drawn, one per visible column (KeyError: not shown)."""
        r = self._rows[key]
        layout = self._layout or ColumnLayout(())
        return [_cell(c, r.cells[_INDEX[c]], r, w, key in self.expanded) for c, w in layout.columns]

    def get_cell(self, key: str, column: str) -> Text:
        """One drawn cell (KeyError: the row or column is not shown)."""
        layout = self._layout or ColumnLayout(())
        for i, c in enumerate(layout.keys):
            if c == column:
                return self.get_row(key)[i]
        raise KeyError(column)

    def column_x(self, column: str) -> int | None:
        """Cells from the table's left edge to where ``column`` starts (None: not shown)."""
        x = 0
        for c, w in (self._layout or ColumnLayout(())).columns:
            if c == column:
                return x
            x += w + _PAD
        return None

    def _available(self) -> int | None:
        width = self.size.width
        # One column for the vertical scrollbar (see app.tcss), whether it shows or not.
        return width - 1 if width > 0 else None

    def apply(
        self,
        rows: Sequence[SessionRow],
        selected: str | None,
        *,
        force: bool = False,
        changed: Sequence[int] | None = None,
    ) -> None:
        """Make the table show ``rows`` in this order; only what changed costs anything.

        ``changed``: the caller knows that ``rows`` differs from what is shown
        only at these places (same keys, same order); None: find out.
        """
        self._selected = selected
        old = self._shown
        order = [r.key for r in rows] if len(rows) != len(old) or force else None
        same_keys = False
        if order is None:
            if changed is None:
                changed = list(compress(range(len(rows)), map(operator.is_not, rows, old)))
            same_keys = all(rows[i].key == old[i].key for i in changed)
            if same_keys and not changed:
                self.restore_cursor(selected)
                return
        if same_keys and self._natural is not None:
            assert changed is not None
            natural = self._natural
            for i in changed:
                cells = rows[i].cells
                if any(len(v) > natural[k] for (k, _), v in zip(SESSION_COLUMNS, cells, strict=True)):
                    natural = natural_widths(rows)
                    break
            shown = self._shown  # the table's own list (a copy made when rows came or went)
            for i in changed:
                shown[i] = rows[i]
                self._rows[rows[i].key] = rows[i]
            self._shown = shown
        else:
            natural = natural_widths(rows)
            if order is None:
                order = [r.key for r in rows]
            self._order = order
            self._index = {k: i for i, k in enumerate(order)}
            self._shown = list(rows)
            self._rows = {r.key: r for r in rows}
            changed = None
        self._natural = natural
        layout = _fit([k for k, _ in SESSION_COLUMNS], natural, self._available())
        if layout != self._layout or force:
            self._layout = layout
            self._lines.clear()
            self._header = None
            changed = None
        self.virtual_size = Size(self._line_width(), len(rows) + 1)
        self.restore_cursor(selected, post=False)
        if changed is None:
            self.refresh()
        else:
            for i in changed:
                self.refresh_line(i + 1)  # row i is line i + 1; a line off screen refreshes nothing

    def _line_width(self) -> int:
        return sum(w + _PAD for _, w in (self._layout or ColumnLayout(())).columns)

    def on_resize(self, event: events.Resize) -> None:
        if self._natural is not None:
            layout = _fit([k for k, _ in SESSION_COLUMNS], self._natural, self._available())
            if layout != self._layout:
                self._layout = layout
                self._lines.clear()
                self._header = None
                self.virtual_size = Size(self._line_width(), len(self._order) + 1)
                self.refresh()

    def on_focus(self) -> None:
        self._forget_lines()

    def on_blur(self) -> None:
        self._forget_lines()

    def _forget_lines(self) -> None:
        """Drop every drawn line: the focus (or the theme) changes the cursor's and header's colours."""
        self._lines.clear()
        self._header = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_lines()

    # ------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header_strip(width)
        index = self.scroll_offset.y + y - 1
        if not 0 <= index < len(self._order):
            return Strip.blank(width, self.rich_style)
        r = self._rows[self._order[index]]
        cursor = index == self.cursor_row
        key = (r.key, index % 2, cursor, r.key in self.expanded, width)
        hit = self._lines.get(key)
        if hit is not None and hit[0] is r:
            return hit[1]
        strip = self._row_strip(r, index, cursor, width)
        self._lines[key] = (r, strip)
        return strip

    def _header_strip(self, width: int) -> Strip:
        sig = (width, self._layout)
        if self._header is not None and self._header[0] == sig:
            return self._header[1]
        style = self.rich_style + self.get_component_rich_style("sessions-table--header")
        line = Text(no_wrap=True, end="")
        for c, w in (self._layout or ColumnLayout(())).columns:
            label = Text(_label(c), no_wrap=True, end="")
            label.align("right" if c in _RIGHT else "left", w)
            line.append(" ")
            line.append_text(label)
            line.append(" ")
        strip = self._strip(line, width, style, None)
        self._header = (sig, strip)
        return strip

    def _row_strip(self, r: SessionRow, index: int, cursor: bool, width: int) -> Strip:
        zebra = "sessions-table--even-row" if index % 2 == 0 else "sessions-table--odd-row"
        base = self.rich_style + self.get_component_rich_style(zebra)
        over = self.get_component_rich_style("sessions-table--cursor") if cursor else None
        line = Text(no_wrap=True, end="")
        expanded = r.key in self.expanded
        for c, w in (self._layout or ColumnLayout(())).columns:
            cell = _cell(c, r.cells[_INDEX[c]], r, w, expanded)
            cell.align("right" if c in _RIGHT else "left", w)
            line.append(" ")
            line.append_text(cell)
            line.append(" ")
        return self._strip(line, width, base, over)

    def _strip(self, line: Text, width: int, base: Style, over: Style | None) -> Strip:
        segments = list(line.render(self.app.console))
        segments = list(Segment.apply_style(segments, base, over))
        return Strip(segments).crop_extend(0, width, base + over if over is not None else base)

    # ------------------------------------------------------------ cursor
    def restore_cursor(self, key: str | None, *, post: bool = True) -> None:
        """Keep the cursor on the same session whatever moved around it."""
        if key is not None and key in self._index:
            self.move_cursor(row=self._index[key], post=post)
        elif self._order and self.cursor_row >= len(self._order):
            self.move_cursor(row=len(self._order) - 1, post=False)

    def move_cursor(self, *, row: int, animate: bool = False, post: bool = True) -> None:
        """Put the cursor on ``row`` (clamped), scroll it into view, tell the app which session it is."""
        if not self._order:
            self.cursor_row = 0
            return
        row = max(0, min(row, len(self._order) - 1))
        old = self.cursor_row
        self.cursor_row = row
        if old != row:
            # ``refresh_line`` takes a line of the whole (virtual) table: row i is line i + 1.
            self.refresh_line(old + 1)
            self.refresh_line(row + 1)
        self._scroll_to_cursor()
        if post and old != row:
            self.post_message(self.RowHighlighted(self, self._order[row]))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    # ------------------------------------------------------------ user moves
    def _moved(self) -> None:
        self.user_moved = True

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def action_cursor_up(self) -> None:
        self._moved()
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._moved()
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._moved()
        self.move_cursor(row=self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self._moved()
        self.move_cursor(row=self.cursor_row + self._page())

    def action_first_row(self) -> None:
        self._moved()
        if self._order:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self._moved()
        if self._order:
            self.move_cursor(row=len(self._order) - 1)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = offset.x + int(self.scroll_offset.x)
            for c, w in (self._layout or ColumnLayout(())).columns:
                if x < w + _PAD:
                    self.post_message(self.HeaderSelected(self, c))
                    return
                x -= w + _PAD
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self._order):
            self._moved()
            self.move_cursor(row=index)
            self.post_message(self.RowSelected(self, self._order[index]))

    def action_toggle_children(self) -> None:
        key = self.cursor_key
        toggle = getattr(self.app, "toggle_children", None)
        if key is not None and callable(toggle):
            toggle(key)
