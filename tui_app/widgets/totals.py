"""Per-agent totals: sessions, live processes, tokens, cost and CPU at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ..formatting import fmt_cost, fmt_tokens
from ..monitor import AgentTotal
from .style import agent_style

__all__ = ["TotalsBar", "render_totals"]


def render_totals(totals: Sequence[AgentTotal]) -> Text:
    """One aligned line per agent: tokens, cost, sessions, live processes and their CPU."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, t in enumerate(totals):
        if i:
            text.append("\n")
        text.append(f"{t.agent:<7}", style=f"bold {agent_style(t.agent)}")
        text.append(f"{fmt_tokens(t.tokens):>7} tokens {fmt_cost(t.cost_usd):>9}  {t.sessions:>4} sessions  ")
        live = f"{t.live} live"
        if t.live:
            text.append(f"{live:<7}", style="bold green")
            text.append(f" {t.cpu_percent:5.1f}% cpu")
        else:
            text.append(f"{live:<7}", style="dim")
    return text


class TotalsBar(Static):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Text("…", style="dim"), **kwargs)
        self._last: tuple[AgentTotal, ...] | None = None

    def show(self, totals: Sequence[AgentTotal]) -> None:
        t = tuple(totals)
        if t != self._last:
            self._last = t
            self.update(render_totals(t))
