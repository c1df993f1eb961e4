"""Time windows, burn rates and their compact formats for the monitor.

Why a module of its own: "who burns tokens right now" needs the same window
arithmetic in the worker (sums per session), in the app (the status line
names the window) and in tests (exact expected numbers). Everything takes an
explicit ``now`` so an injected clock makes every number reproducible.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from agent_session.errors import InvalidArgument
from agent_session.requests import block_starts

__all__ = [
    "BLOCK_HOURS",
    "WINDOWS",
    "TimeWindow",
    "elide_middle",
    "fmt_ago_short",
    "fmt_cost_rate",
    "fmt_ctx",
    "fmt_rate",
    "parse_duration",
    "resolve_window",
    "window_label",
]

#: What ``w`` cycles through, in order: the rate window, the current 5-hour
#: usage block, since local midnight, the last 7 days, everything.
WINDOWS: tuple[str, ...] = ("now", "block", "today", "week", "all")

BLOCK_HOURS = 5
_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``[start_ms, end_ms)`` over request times; ``start_ms`` None means "all time"."""

    name: str
    start_ms: int | None
    end_ms: int | None
    label: str

    @property
    def is_all(self) -> bool:
        return self.start_ms is None


def parse_duration(text: str) -> float:
    """``"5m"``, ``"90s"``, ``"1h"``, ``"300"`` (seconds) → seconds; anything else raises
    :class:`~agent_session.errors.InvalidArgument` (a ``ValueError``).

    Bounded to 10 s … 24 h: a shorter window is noise, a longer one is not "now".
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text.lower())
    if m is None:
        raise InvalidArgument(f"not a duration: {text!r} (try 5m, 90s or 1h)")
    value = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    if not math.isfinite(value) or not 10 <= value <= _DAY_S:
        raise InvalidArgument(f"rate window must be between 10s and 24h, not {text!r}")
    return value


def _fmt_span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def window_label(name: str, rate_window_s: float) -> str:
    return {
        "now": f"last {_fmt_span(rate_window_s)}",
        "block": "5-hour block",
        "today": "today",
        "week": "7 days",
        "all": "all time",
    }[name]


def resolve_window(name: str, now: float, rate_window_s: float, timestamps: Iterable[int] = ()) -> TimeWindow:
    """The window ``name`` at ``now`` (epoch seconds).

    ``timestamps`` are request times (ms) of all sessions, used only for the
    5-hour block: the block that contains ``now`` by the rule of
    :func:`agent_session.requests.block_starts`; when no block is running the
    window is empty (``start == end``), so every sum in it is zero.
    """
    now_ms = int(now * 1000)
    end = now_ms + 1  # requests at "now" count
    label = window_label(name, rate_window_s)
    if name == "now":
        return TimeWindow(name, now_ms - int(rate_window_s * 1000) + 1, end, label)
    if name == "block":
        starts = block_starts(t for t in timestamps if t <= now_ms)
        if starts and starts[-1] + BLOCK_HOURS * 3_600_000 > now_ms:
            start = starts[-1]
            return TimeWindow(
                name, start, end, f"{label} since {time.strftime('%H:%M', time.localtime(start / 1000))}"
            )
        return TimeWindow(name, end, end, f"{label} (none running)")
    if name == "today":
        lt = time.localtime(now)
        midnight = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))
        return TimeWindow(name, int(midnight * 1000), end, label)
    if name == "week":
        # Whole minutes: the start moves once a minute, so sums can be reused in between.
        start = (now_ms - 7 * _DAY_S * 1000) // 60_000 * 60_000
        return TimeWindow(name, start, end, label)
    if name == "all":
        return TimeWindow(name, None, None, label)
    raise ValueError(f"unknown window {name!r}")


def _compact(n: float) -> str:
    """``950``, ``12.3k``, ``4.56M``: three significant digits, never more than 5 characters."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div * 0.9995:
            v = n / div
            if v >= 99.95:
                return f"{v:.0f}{suffix}"
            if v >= 9.995:
                return f"{v:.1f}{suffix}"
            return f"{v:.2f}{suffix}"
    if n >= 99.5 or n == int(n):
        return f"{n:.0f}"
    return f"{n:.1f}"


def fmt_rate(tokens_per_min: float) -> str:
    """``12.3k/min``; ``-`` when nothing ran in the window (zero is not a rate worth reading)."""
    if tokens_per_min <= 0:
        return "-"
    return f"{_compact(tokens_per_min)}/min"


def fmt_cost_rate(usd_per_hour: float | None) -> str:
    """``$1.02/h``; ``-`` for none or nothing priced."""
    if usd_per_hour is None or usd_per_hour <= 0:
        return "-"
    if usd_per_hour < 0.01:
        return "<$0.01/h"
    return f"${usd_per_hour:,.2f}/h"


def fmt_ctx(pct: float | None) -> str:
    """Context fill as a whole percent, ``?`` when the model's window is unknown."""
    if pct is None:
        return "?"
    return f"{pct:.0f}%"


def fmt_ago_short(ms: int | None, now: float) -> str:
    """``45s``, ``12m``, ``3h``, ``5d``: an age that fits a narrow column."""
    if ms is None or ms <= 0:
        return "-"
    delta = max(0.0, now - ms / 1000)
    if delta < 60:
        return f"{int(delta)}s"
    if delta < 3600:
        return f"{int(delta // 60)}m"
    if delta < _DAY_S:
        return f"{int(delta // 3600)}h"
    return f"{int(delta // _DAY_S)}d"


def elide_middle(text: str, width: int) -> str:
    """``~/src/…/proj`` style: keep both ends, drop the middle, never exceed ``width``."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return "…"
    head = (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")
