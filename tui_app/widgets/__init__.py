"""The monitor's widgets and screens; each takes display-ready data from a snapshot."""

from __future__ import annotations

from .detail import DetailPane, render_detail
from .proctree import ProcessTree
from .screens import HelpScreen, ToolCallScreen, ToolCallsScreen
from .sessions import SORT_KEYS, SessionsTable, order_rows
from .totals import TotalsBar, render_totals

__all__ = [
    "SORT_KEYS",
    "DetailPane",
    "HelpScreen",
    "ProcessTree",
    "SessionsTable",
    "ToolCallScreen",
    "ToolCallsScreen",
    "TotalsBar",
    "order_rows",
    "render_detail",
    "render_totals",
]
