"""Number, money, time, path and plural formatting: one module for the CLI and the monitor.

Why one module: a cost shown as ``$0.00`` in one view and ``<$0.01`` in the
other, or ``-`` here and ``?`` there, makes users doubt both. Every view
imports its marks from here, so they agree by construction:

- a cost that is not known (a model without a price) is ``?``;
- a nonzero cost under a cent is ``<$0.01``, never ``$0.00``;
- token counts are compact (``950``, ``12k``, ``1.2M``, ``3.4B``) in tables and
  exact with thousands separators (``12,345``) where there is room.

Functions that depend on the time take an explicit ``now`` (epoch seconds)
instead of reading the clock, so the monitor can inject a frozen clock and
snapshot tests never drift. Nothing here imports a UI toolkit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import humanize

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

#: The mark for a cost that cannot be computed (no price known for a model).
UNKNOWN_COST = "?"


def fmt_tokens(n: int) -> str:
    """``950``, ``12k``, ``1.2M``: compact enough for a table column."""
    if n < 1000:
        return str(n)
    text = humanize.metric(n, precision=2).replace(" ", "")
    # Tokens are counted, not measured: say "B" for billions, as the vendors do.
    return text.replace("G", "B")


def fmt_count(n: int) -> str:
    """An exact count with thousands separators: ``12,345``."""
    return f"{n:,}"


def fmt_cost(cost: float | None) -> str:
    """``$1.23``; ``<$0.01`` for a nonzero cost under a cent; ``?`` when unknown."""
    if cost is None or cost != cost:  # None or NaN: no price known
        return UNKNOWN_COST
    if 0 < cost < 0.01:  # under a cent (and never a rounded "$0.00"): say it is not nothing
        return "<$0.01"
    return f"${cost:,.2f}"


def fmt_age(ms: int | None, now: float) -> str:
    """``3 minutes ago`` relative to ``now`` (epoch seconds)."""
    if ms is None:
        return "-"
    return str(humanize.naturaltime(timedelta(seconds=now - ms / 1000)))


def fmt_time(ms: int | None) -> str:
    """Local wall-clock time with date, for detail views."""
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
    """``850 ms``, ``4.2 s``, then ``3 minutes and 5 seconds``."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return str(humanize.precisedelta(timedelta(milliseconds=ms), minimum_unit="seconds", format="%0.0f"))


def fmt_bytes(n: int) -> str:
    """``512B``, ``12K``, ``3M`` (binary units, no decimals)."""
    return str(humanize.naturalsize(n, binary=True, format="%.0f")).replace("i", "").replace(" ", "")


def fmt_pct(p: float) -> str:
    return f"{p:.1f}%"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``1 tool call``, ``2 tool calls``, ``1,204 files``: the count and the right noun form."""
    word = singular if n == 1 else (plural_form if plural_form is not None else singular + "s")
    return f"{n:,} {word}"


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
