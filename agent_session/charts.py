"""Data for the pictures: per-minute rate series, session timelines, report bar charts.

Why a module of its own, with no Textual import: the monitor's sparklines and
timeline, and the ``report --chart`` output of the CLI, all start from the
same :class:`~agent_session.requests.RequestLog` numbers. Computing them here,
as pure functions of a log (and an injected ``now``), lets the tests check
every bucket with exact numbers and keeps the widgets down to drawing.

Conventions shared with :meth:`RequestLog.tokens_per_minute`:

* "tokens" of a request are ``input + output + cache_creation + cache_read``
  (reasoning is part of output, never added twice);
* a window ``(start, end]`` includes its end, so the newest minute of a
  series ending at ``now_ms`` holds the requests of ``(now - 60 s, now]``;
* records without a time (``ts_ms == 0``) are in no window and no timeline.

:func:`bar_chart` draws its own stacked bars rather than calling plotext:
plotext 5.3's horizontal stacked bars mis-place rows at small heights and its
vertical ones lay the legend over the bars and let 30 date labels collide,
which is exactly the report's shape. Drawing one row per period is also what
makes "width and height are respected" an exact, testable promise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple

from .formatting import fmt_tokens
from .pricing import request_cost
from .requests import RequestLog
from .text import display_width, one_line

if TYPE_CHECKING:
    from .model import AgentSession, AgentType
    from .reports import ReportRow

__all__ = [
    "BLOCKS",
    "BUCKETS",
    "PLAIN_MARKS",
    "SERIES_COLORS",
    "Timeline",
    "TimelineBin",
    "TimelinePoint",
    "ToolBurst",
    "bar_chart",
    "bin_timeline",
    "chart_rows",
    "per_minute_series",
    "per_minute_series_many",
    "recent_rate",
    "sparkline_chars",
    "timeline_points",
    "tool_bursts",
]

_MINUTE_MS = 60_000

#: The four token buckets a timeline stacks, bottom first (labels as the monitor shows them).
BUCKETS: tuple[str, ...] = ("input", "output", "cache write", "cache read")


# --------------------------------------------------------------------------- rate series

#: Eight levels, lowest first; ``BLOCKS[0]`` is reserved for "no tokens".
BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline_chars(values: Sequence[int | float], width: int) -> str:
    """The newest ``width`` values as block characters, left-padded with spaces when fewer.

    Levels: 0 (or less) → ``▁``; otherwise ``ceil(7 * v / max)`` of
    ``▂▃▄▅▆▇█``, so the line's maximum is ``█`` and any non-zero value is at
    least ``▂``.
    """
    if width <= 0:
        return ""
    vals = list(values)[-width:]
    top = max(vals, default=0)
    out = []
    for v in vals:
        if v <= 0 or top <= 0:
            out.append(BLOCKS[0])
        else:
            level = -(-v * 7 // top)  # ceil without floats for ints
            out.append(BLOCKS[max(1, min(7, int(level)))])
    return " " * (width - len(vals)) + "".join(out)


def _add_series(acc: list[int], log: RequestLog, now_ms: int, minutes: int) -> None:
    start = now_ms - minutes * _MINUTE_MS  # exclusive
    last = log.last_ts_ms()  # a C-speed max: most logs are idle and skipped whole
    if last is None or last <= start:
        return
    for i in range(len(log)):
        t = log.ts_at(i)
        if t <= start or t > now_ms or t <= 0:
            continue
        # Minute k (0 = oldest) is (start + k*60s, start + (k+1)*60s].
        k = (t - start - 1) // _MINUTE_MS
        c = log.counts_at(i)
        acc[k] += c[0] + c[1] + c[2] + c[3]


def per_minute_series(log: RequestLog, now_ms: int, minutes: int = 30) -> list[int]:
    """Tokens per one-minute bucket over the ``minutes`` before ``now_ms``, oldest first.

    Bucket ``k`` holds the requests with ``now - (minutes-k)*60s < ts <= now -
    (minutes-k-1)*60s``; so ``sum(series[-5:]) / 5`` equals
    ``log.tokens_per_minute(now_ms, 5)``. Requests without a time or after
    ``now_ms`` (a clock running behind the files) are left out.
    """
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    acc = [0] * minutes
    _add_series(acc, log, now_ms, minutes)
    return acc


def per_minute_series_many(logs: Iterable[RequestLog], now_ms: int, minutes: int = 30) -> list[int]:
    """:func:`per_minute_series` summed over many logs (all sessions of one agent type)."""
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    acc = [0] * minutes
    for log in logs:
        _add_series(acc, log, now_ms, minutes)
    return acc


def recent_rate(series: Sequence[int], minutes: int = 5) -> float:
    """Tokens per minute over the newest ``minutes`` of a per-minute series.

    Over a :func:`per_minute_series` this is exactly
    ``RequestLog.tokens_per_minute(now_ms, minutes)``, so the number beside a
    sparkline and the monitor's rate column never disagree.
    """
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    return sum(series[-minutes:]) / minutes


# --------------------------------------------------------------------------- timeline


class TimelinePoint(NamedTuple):
    """One timed request of a session, with the session's running cost after it."""

    ts_ms: int
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    #: Cost of this request in USD (None when its model has no known price).
    cost_usd: float | None
    #: Cost of this and every earlier timed request (unpriced ones count as 0).
    cumulative_cost_usd: float

    @property
    def buckets(self) -> tuple[int, int, int, int]:
        """Token counts in :data:`BUCKETS` order."""
        return (self.input_tokens, self.output_tokens, self.cache_write_tokens, self.cache_read_tokens)


class ToolBurst(NamedTuple):
    """Tool calls close together in time: ``calls`` calls from ``start_ms`` to ``end_ms``."""

    start_ms: int
    end_ms: int
    calls: int


@dataclass(frozen=True)
class Timeline:
    """Everything the session timeline draws, in time order."""

    points: tuple[TimelinePoint, ...]
    #: ``(ts_ms, model)`` at each request whose model differs from the request before it.
    model_switches: tuple[tuple[int, str], ...]
    tool_bursts: tuple[ToolBurst, ...] = ()
    #: Requests without a time: in the session's totals, on no timeline.
    untimed: int = 0
    unpriced_models: tuple[str, ...] = field(default=())

    @property
    def start_ms(self) -> int | None:
        return self.points[0].ts_ms if self.points else None

    @property
    def end_ms(self) -> int | None:
        return self.points[-1].ts_ms if self.points else None


class TimelineBin(NamedTuple):
    """Requests of one time slice of a :class:`Timeline`, summed (for a plot narrower than the points)."""

    start_ms: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    requests: int
    #: The session's running cost at the end of this slice.
    cumulative_cost_usd: float


def tool_bursts(times_ms: Iterable[int | None], gap_ms: int = 10_000, min_calls: int = 3) -> list[ToolBurst]:
    """Runs of at least ``min_calls`` tool calls each at most ``gap_ms`` after the previous one.

    Why: a timeline marking every call is noise; what a reader looks for is
    where the agent went on a spree (a loop of edits, a test-fix cycle).
    Calls without a time are ignored.
    """
    times = sorted(t for t in times_ms if t)
    out: list[ToolBurst] = []
    run_start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > gap_ms:
            n = i - run_start
            if n >= min_calls:
                out.append(ToolBurst(times[run_start], times[i - 1], n))
            run_start = i
    return out


def timeline_points(
    session: AgentSession, *, burst_gap_ms: int = 10_000, burst_min_calls: int = 3
) -> Timeline:
    """The session's timed requests in time order, with running cost, model switches and tool bursts.

    The cost is priced by the same (model, tier) buckets as
    :func:`~agent_session.pricing.price_requests`, so the last point's
    cumulative cost equals the session's cost over its timed requests. Tool
    bursts come from the kept tool events (``session.events``), when loaded.
    """
    log = session.requests
    order = sorted((i for i in range(len(log)) if log.ts_at(i) > 0), key=log.ts_at)
    untimed = len(log) - len(order)
    agent: AgentType | None = session.agent_type
    points: list[TimelinePoint] = []
    switches: list[tuple[int, str]] = []
    running = Decimal(0)  # summed exactly, as price_requests does, then shown as floats
    previous_model: str | None = None
    unpriced: list[str] = []
    for i in order:
        ts, model, counts = log.ts_at(i), log.model_at(i), log.counts_at(i)
        cost = request_cost(model, counts, agent)
        if cost is None:
            if model not in unpriced:
                unpriced.append(model)
        else:
            running += cost
        if previous_model is not None and model != previous_model:
            switches.append((ts, model))
        previous_model = model
        points.append(
            TimelinePoint(
                ts,
                model,
                counts[0],
                counts[1],
                counts[2],
                counts[3],
                None if cost is None else float(cost),
                float(running),
            )
        )
    bursts: list[ToolBurst] = []
    if session.events is not None:
        bursts = tool_bursts((t.ts_ms for t in session.events.tools), burst_gap_ms, burst_min_calls)
    return Timeline(tuple(points), tuple(switches), tuple(bursts), untimed, tuple(unpriced))


def bin_timeline(timeline: Timeline, bins: int) -> list[TimelineBin]:
    """The timeline's points summed into ``bins`` equal slices of its time span.

    Slice ``k`` covers ``[start + k*w, start + (k+1)*w)`` with ``w =
    ceil(span / bins)`` (at least 1 ms), the last one including the end.
    Empty slices are kept (zero tokens, the running cost carried over) so
    the x axis stays linear in time.
    """
    if bins <= 0:
        raise ValueError("bins must be positive")
    pts = timeline.points
    if not pts:
        return []
    start, end = pts[0].ts_ms, pts[-1].ts_ms
    w = max(1, -(-(end - start + 1) // bins))
    n = min(bins, (end - start) // w + 1)
    sums = [[0, 0, 0, 0, 0] for _ in range(n)]
    cum = [0.0] * n
    for p in pts:
        k = min(n - 1, (p.ts_ms - start) // w)
        row = sums[k]
        row[0] += p.input_tokens
        row[1] += p.output_tokens
        row[2] += p.cache_write_tokens
        row[3] += p.cache_read_tokens
        row[4] += 1
        cum[k] = p.cumulative_cost_usd
    out: list[TimelineBin] = []
    running = 0.0
    for k in range(n):
        r = sums[k]
        if r[4]:
            running = cum[k]
        out.append(TimelineBin(start + k * w, r[0], r[1], r[2], r[3], r[4], running))
    return out


# --------------------------------------------------------------------------- report bar chart


def chart_rows(
    rows: Iterable[ReportRow], by: Literal["agent", "model"] = "agent"
) -> list[tuple[str, dict[str, int]]]:
    """A period report's rows as :func:`bar_chart` input: tokens per period, split by agent or model.

    Give it ``--breakdown`` rows (one per period, agent and model); rows
    without an agent/model (a report built without breakdown) count under
    ``"tokens"``. Periods keep the report's order.
    """
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if by == "agent":
            name = r.agent_type.value if r.agent_type is not None else "tokens"
        else:
            name = r.model or "tokens"
        series = out.setdefault(r.period, {})
        series[name] = series.get(name, 0) + r.usage.total_tokens
    return list(out.items())


#: Characters told apart without colour, one per stacked series in order.
PLAIN_MARKS = "█▓▒░#=+:*o"

#: Truecolor RGB per known series name (the agents' brand colours, as the monitor's);
#: other series take :data:`_PALETTE` colours in order.
SERIES_COLORS: dict[str, tuple[int, int, int]] = {
    "claude": (0xD9, 0x77, 0x57),
    "codex": (0x10, 0xA3, 0x7F),
    "gemini": (0x4F, 0x8E, 0xF7),
}
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0xE5, 0xC0, 0x7B),
    (0xC6, 0x78, 0xDD),
    (0x56, 0xB6, 0xC2),
    (0xE0, 0x6C, 0x75),
    (0x98, 0xC3, 0x79),
    (0x61, 0xAF, 0xEF),
    (0xD1, 0x9A, 0x66),
    (0xAB, 0xB2, 0xBF),
)
_RESET = "\x1b[0m"
#: Narrowest bar area worth drawing; below it the chart is dropped, never squeezed.
MIN_BAR_WIDTH = 10
_MAX_LABEL = 24


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (with an ellipsis when cut)."""
    if display_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if display_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _sgr(rgb: tuple[int, int, int]) -> str:
    return f"\x1b[38;2;{rgb[0]};{rgb[1]};{rgb[2]}m"


def bar_chart(rows: Sequence[tuple[str, Mapping[str, int]]], width: int, height: int, *, plain: bool) -> str:
    """A stacked horizontal bar per period, at most ``width`` cells wide and ``height`` lines high.

    ``rows`` are ``(period label, {series: tokens})`` oldest first, series
    being agents or models. The first line is a legend; each further line is
    ``label │bars total``, bars scaled to the largest period total and split
    by series (biggest series first, at the left). When there are more
    periods than lines the newest are kept and the legend says how many
    earlier ones are left out. ``plain`` (NO_COLOR, a pipe) draws each series
    with its own character instead of colour and writes no escape codes.

    Returns ``""`` when the chart does not fit (under 2 lines, or too narrow
    for :data:`MIN_BAR_WIDTH` cells of bars): a report prints its numbers
    and drops the picture, never the reverse.
    """
    if height < 2 or not rows:
        return ""
    totals: dict[str, int] = {}
    clean_rows: list[tuple[str, dict[str, int]]] = []
    for label, values in rows:
        clean: dict[str, int] = {}
        for name, n in values.items():
            key = one_line(str(name), _MAX_LABEL) or "?"
            clean[key] = clean.get(key, 0) + max(0, int(n))
            totals[key] = totals.get(key, 0) + max(0, int(n))
        clean_rows.append((one_line(str(label), _MAX_LABEL) or "", clean))
    series = sorted((s for s in totals if totals[s] > 0), key=lambda s: (-totals[s], s))
    shown = clean_rows[-(height - 1) :]
    hidden = len(clean_rows) - len(shown)

    row_totals = [sum(v.values()) for _, v in shown]
    label_w = max(display_width(label) for label, _ in shown)
    total_w = max(len(fmt_tokens(t)) for t in row_totals)
    bar_w = width - label_w - 2 - 1 - total_w  # "label │" + bars + " " + total
    if bar_w < MIN_BAR_WIDTH:
        return ""
    biggest = max(row_totals)

    colors: dict[str, tuple[int, int, int]] = {}
    marks: dict[str, str] = {}
    spare = iter(_PALETTE * (len(series) // len(_PALETTE) + 1))
    for i, s in enumerate(series):
        colors[s] = SERIES_COLORS.get(s.lower()) or next(spare)
        marks[s] = "█" if not plain else PLAIN_MARKS[i % len(PLAIN_MARKS)]

    def paint(s: str, text: str) -> str:
        return text if plain else f"{_sgr(colors[s])}{text}{_RESET}"

    # Legend: as many series as fit, then the "earlier periods" note if it fits too.
    legend_parts: list[str] = []
    used = 0
    for s in series:
        sep = 2 if legend_parts else 0
        part_w = 2 + display_width(s)
        if used + sep + part_w > width:
            break
        legend_parts.append(paint(s, marks[s]) + " " + s)
        used += sep + part_w
    legend = "  ".join(legend_parts)
    if hidden:
        note = f"  (+{hidden} earlier)"
        if used + len(note) <= width:
            legend += note
    lines = [legend]

    for (label, values), total in zip(shown, row_totals, strict=True):
        length = 0 if biggest == 0 else round(total * bar_w / biggest)
        if total > 0 and length == 0:
            length = 1  # a period with any use shows at least one cell
        bar = ""
        drawn = 0
        running = 0
        for s in series:
            n = values.get(s, 0)
            if n <= 0:
                continue
            running += n
            end = round(running * length / total)
            if end > drawn:
                bar += paint(s, marks[s] * (end - drawn))
                drawn = end
        pad_cells = " " * (bar_w - drawn)
        lines.append(
            f"{label}{' ' * (label_w - display_width(label))} │{bar}{pad_cells} {fmt_tokens(total):>{total_w}}"
        )
    return "\n".join(lines)
