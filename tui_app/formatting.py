"""Number, time and path formatting shared by the monitor's worker and widgets.

Everything takes an explicit ``now`` (epoch seconds) instead of reading the
clock, so the app can inject a frozen clock and snapshot tests never drift.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import humanize

__all__ = [
    "fmt_age",
    "fmt_bytes",
    "fmt_clock",
    "fmt_cost",
    "fmt_duration_ms",
    "fmt_pct",
    "fmt_time",
    "fmt_tokens",
    "shorten_path",
]


def fmt_tokens(n: int) -> str:
    """``950``, ``12k``, ``1.2M``: compact enough for a table column."""
    if n < 1000:
        return str(n)
    text = humanize.metric(n, precision=2).replace(" ", "")
    # Tokens are counted, not measured: say "B" for billions, as the vendors do.
    return text.replace("G", "B")


def fmt_cost(cost: float | None) -> str:
    if cost is None:
        return "-"
    if 0 < cost < 0.01:
        return "<$0.01"
    return f"${cost:,.2f}"


def fmt_age(ms: int | None, now: float) -> str:
    """``3 minutes ago`` relative to ``now`` (epoch seconds)."""
    if ms is None:
        return "-"
    return str(humanize.naturaltime(timedelta(seconds=now - ms / 1000)))


def fmt_time(ms: int | None) -> str:
    """Local wall-clock time with date, for the detail pane."""
    if ms is None:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "-"


def fmt_clock(ms: int | None) -> str:
    """Local time of day only, for dense lists (tool calls, prompts)."""
    if ms is None:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "-"


def fmt_duration_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return str(humanize.precisedelta(timedelta(milliseconds=ms), minimum_unit="seconds", format="%0.0f"))


def fmt_bytes(n: int) -> str:
    return str(humanize.naturalsize(n, binary=True, format="%.0f")).replace("i", "").replace(" ", "")


def fmt_pct(p: float) -> str:
    return f"{p:.1f}%"


def shorten_path(path: str | None, home: str | None) -> str:
    """``~/…`` for paths under the user's home, so paths stay short and stable."""
    if not path:
        return "-"
    if home:
        home = home.rstrip(os.sep)
        if path == home:
            return "~"
        if path.startswith(home + os.sep):
            return "~" + path[len(home) :]
    return path
