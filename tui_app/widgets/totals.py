"""Per-agent totals: burn rate, tokens and cost of the window, sessions, live processes, CPU.

One aligned line per agent. The line is built from whole segments and a
segment that does not fit the bar's width is left out entirely (rightmost
first), so a number is never cut in half.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static

from agent_session.charts import sparkline_chars

from ..formatting import fmt_cost, fmt_tokens
from ..monitor import SPARK_MINUTES, AgentTotal
from ..rates import fmt_cost_rate, fmt_rate
from .style import agent_style

__all__ = ["TotalsBar", "render_totals"]


def _segments(t: AgentTotal) -> list[tuple[str, str]]:
    """(text, style) pieces of one agent's line, most important first."""
    live_sessions = f"{t.live_sessions} live"
    procs = f"{t.live} proc" + ("" if t.live == 1 else "s")
    return [
        (t.agent, f"bold {agent_style(t.agent)}"),
        (sparkline_chars(t.spark, SPARK_MINUTES) if t.spark else "", agent_style(t.agent)),
        (fmt_rate(t.rate_tpm), "bold" if t.rate_tpm > 0 else "dim"),
        (fmt_cost_rate(t.rate_usd_h if t.rate_tpm > 0 else None), "bold" if t.rate_tpm > 0 else "dim"),
        (f"{fmt_tokens(t.tokens)} tok", ""),
        (fmt_cost(t.cost_usd), ""),
        (f"{t.sessions} sessions", ""),
        (live_sessions, "bold green" if t.live_sessions else "dim"),
        (procs, "bold green" if t.live else "dim"),
        (f"{t.cpu_percent:.1f}% cpu" if t.live else "", ""),
    ]


#: Right-aligned segments (numbers line up across agents).
_RIGHT = frozenset({2, 3, 4, 5, 6})


def render_totals(totals: Sequence[AgentTotal], width: int | None = None) -> Text:
    """One aligned line per agent; segments that do not fit ``width`` are dropped whole."""
    lines = [_segments(t) for t in totals]
    text = Text(no_wrap=True, end="")
    if not lines:
        return text
    n = len(lines[0])
    widths = [max(len(line[i][0]) for line in lines) for i in range(n)]
    keep = n
    if width is not None and width > 0:
        used = 0
        for i, w in enumerate(widths):
            need = w + (2 if i and w else 0)
            if used + need > width:
                keep = max(i, 1)
                break
            used += need
    for j, line in enumerate(lines):
        if j:
            text.append("\n")
        for i in range(keep):
            value, style = line[i]
            if i and not widths[i]:
                continue  # a segment no agent has (no sparkline yet): no gap for it
            if i:
                text.append("  ")
            cell = value.rjust(widths[i]) if i in _RIGHT else value.ljust(widths[i])
            text.append(cell, style=style or None)
    return text


class TotalsBar(Static):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("…", style="dim"), **kwargs)
        self._last: tuple[tuple[AgentTotal, ...], int] | None = None
        self._totals: tuple[AgentTotal, ...] = ()

    def show(self, totals: Sequence[AgentTotal]) -> None:
        self._totals = tuple(totals)
        self._paint()

    def _paint(self) -> None:
        width = self.content_size.width
        state = (self._totals, width)
        if state != self._last and self._totals:
            self._last = state
            self.update(render_totals(self._totals, width or None))

    def on_resize(self) -> None:
        self._paint()
