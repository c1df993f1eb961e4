"""The monitor's formatting: a re-export of :mod:`agent_session.formatting`.

The CLI and the monitor share one formatting module so costs, token counts
and ages read the same in both; this module keeps the monitor's old import
path (``from tui_app.formatting import fmt_cost``) working.
"""

from __future__ import annotations

from agent_session.formatting import (
    UNKNOWN_COST,
    fmt_age,
    fmt_bytes,
    fmt_clock,
    fmt_cost,
    fmt_count,
    fmt_duration_ms,
    fmt_pct,
    fmt_time,
    fmt_tokens,
    plural,
    shorten_path,
)

__all__ = [
    "UNKNOWN_COST",
    "fmt_age",
    "fmt_bytes",
    "fmt_clock",
    "fmt_cost",
    "fmt_count",
    "fmt_duration_ms",
    "fmt_pct",
    "fmt_time",
    "fmt_tokens",
    "plural",
    "shorten_path",
]
