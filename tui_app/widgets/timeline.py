"""A session's timeline: tokens per request over time, stacked by bucket, with its running cost.

Why a chart at all: a session's totals say *how much*, not *when* or *why*;
a cache-read wall after a model switch, or a tool-call spree that doubled the
cost, is visible at a glance on a time axis and invisible in a table.

The data is prepared by :func:`agent_session.charts.timeline_points` (pure,
unit-tested) and drawn here with textual-plotext. The plot is binned to its
own width (one column per time slice), so a ten-thousand-request session
draws as fast as a ten-request one. :class:`TimelineScreen` computes the
timeline in a thread worker (pricing every request is not UI-thread work)
and shows it full screen; Escape closes it.

Space rule: the header numbers (requests, tokens, cost) always show; the plot
is dropped (replaced by nothing) when the widget is smaller than
:data:`MIN_PLOT_SIZE`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from agent_session.charts import BUCKETS, Timeline, TimelineBin, bin_timeline, timeline_points
from agent_session.model import AgentSession
from agent_session.text import one_line

from ..formatting import fmt_cost, fmt_tokens
from .sparkline import no_color

__all__ = [
    "MAX_BINS",
    "MIN_PLOT_SIZE",
    "SessionTimeline",
    "TimelineScreen",
    "draw_timeline",
    "timeline_header",
]

#: (width, height) under which the plot says nothing readable and is not drawn.
MIN_PLOT_SIZE = (30, 8)
#: Theme variables giving the four buckets their colours, bottom of the stack first.
_BUCKET_VARS = ("primary", "secondary", "warning", "accent")
#: Without colour each bucket is told apart by its character.
_PLAIN_MARKERS = ("█", "▓", "▒", "░")
_Y_LABEL_CELLS = 8  # room plotext takes for the left and right tick labels (each side)
#: Most time slices drawn: plotext's build time grows with the bars (~2.5 ms each).
MAX_BINS = 60


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%H:%M")


def timeline_header(timeline: Timeline, *, plain: bool, colors: tuple[str, ...] = ()) -> Text:
    """The numbers above the plot, and its legend (which plotext would draw over the bars)."""
    pts = timeline.points
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    total = sum(sum(p.buckets) for p in pts)
    cost = pts[-1].cumulative_cost_usd if pts else None
    text.append(f"{len(pts)} requests  {fmt_tokens(total)} tokens  {fmt_cost(cost)}")
    if timeline.untimed:
        text.append(f"  ({timeline.untimed} without a time, not drawn)", style="dim")
    if timeline.unpriced_models:
        text.append(f"  unpriced: {one_line(', '.join(timeline.unpriced_models), 60)}", style="dim")
    text.append("\n")
    for i, name in enumerate(BUCKETS):
        mark = _PLAIN_MARKERS[i] if plain else "█"
        style = "" if plain or i >= len(colors) else colors[i]
        text.append(mark, style=style)
        text.append(f" {name}  ")
    text.append("⣀ cost  │ switch")
    if timeline.tool_bursts:
        text.append("  │ tools")
    return text


def draw_timeline(
    plt: Any, tl: Timeline, bins: list[TimelineBin], width: int, *, plain: bool, colors: tuple[str, ...]
) -> None:
    """Put the timeline on a plotext figure: stacked buckets, cost line, switches and bursts.

    ``plt`` is untyped on purpose: textual-plotext's stubs are narrower than
    plotext itself (per-series marker and colour lists, integer ticks,
    ``yside="right"`` on ``yticks``).
    """
    xs = list(range(len(bins)))
    series = [
        [b.input_tokens for b in bins],
        [b.output_tokens for b in bins],
        [b.cache_write_tokens for b in bins],
        [b.cache_read_tokens for b in bins],
    ]
    if plain:
        color_list: list[Any] = ["default"] * 4
        markers: list[str] = list(_PLAIN_MARKERS)
    else:
        color_list = [Color.parse(c).rgb if c else "default" for c in colors[:4]]
        color_list += ["default"] * (4 - len(color_list))
        markers = ["█"] * 4
    plt.stacked_bar(xs, series, color=color_list, marker=markers, width=1, minimum=0)
    costs = [b.cumulative_cost_usd for b in bins]
    if any(costs):
        plt.plot(xs, costs, yside="right", marker="braille", color="default")
    start = bins[0].start_ms
    step = bins[1].start_ms - start if len(bins) > 1 else 1
    for ts, model in tl.model_switches:
        x = min(len(bins) - 1, (ts - start) // step)
        plt.vertical_line(x, color="default" if plain else "red")
        plt.text(one_line(model, 24) or "?", x, 0, alignment="left", color="default")
    top = max((sum(col) for col in zip(*series, strict=True)), default=0) or 1
    for burst in tl.tool_bursts:
        if burst.start_ms < start or burst.start_ms > (tl.end_ms or start):
            continue  # calls outside the requests' span: no place on this axis
        x = min(len(bins) - 1, (burst.start_ms - start) // step)
        plt.vertical_line(x, color="default" if plain else "green")
        plt.text(f"{burst.calls} tools", x, top, alignment="left", color="default")
    ticks = [0, top / 2, top]
    plt.yticks(ticks, [fmt_tokens(round(t)) for t in ticks])
    if any(costs):
        cmax = max(costs)
        plt.yticks([0, cmax / 2, cmax], ["$0", fmt_cost(cmax / 2), fmt_cost(cmax)], yside="right")
    n_ticks = max(2, min(len(bins), width // 12))
    idx = sorted({round(i * (len(bins) - 1) / (n_ticks - 1)) for i in range(n_ticks)})
    plt.xticks(idx, [_clock(bins[i].start_ms) for i in idx])


class SessionTimeline(PlotextPlot):
    """The plot: stacked token buckets per time slice, cost line on the right axis, switches marked.

    plotext's ``build()`` takes ~1 s for a hundred stacked bars on a busy
    machine, far too long for the UI thread at every repaint. So the figure is
    drawn and built in a thread worker, once per (timeline, size, theme), and
    :meth:`render` returns the last built picture (nothing until the first is
    ready, and nothing when the widget is under :data:`MIN_PLOT_SIZE`).
    """

    DEFAULT_CSS = """
    SessionTimeline {
        width: 1fr;
        height: 1fr;
        min-height: 0;
    }
    """

    def __init__(self, timeline: Timeline | None = None, *, plain: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeline = timeline
        self._built: Text | None = None
        self._built_key: tuple[object, ...] | None = None
        self._pending_key: tuple[object, ...] | None = None
        self._generation = 0
        self.plain = no_color() if plain is None else plain
        if self.plain:
            self.theme = "clear"  # plotext's colourless theme: the markers carry the buckets

    @property
    def timeline(self) -> Timeline | None:
        return self._timeline

    @property
    def is_drawn(self) -> bool:
        """True when the picture on screen is the one for the current timeline, size and theme."""
        return self._built_key is not None and self._built_key == self._key()

    def show(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self._generation += 1  # not id(timeline): a freed timeline's id can come back
        self.refresh()

    def bucket_colors(self) -> tuple[str, ...]:
        """The buckets' colours from the current theme (``#rrggbb``), bottom of the stack first."""
        variables = self.app.theme_variables
        return tuple(variables.get(v, "") for v in _BUCKET_VARS)

    def _key(self) -> tuple[object, ...]:
        return (self._generation, self.size.width, self.size.height, self.app.theme, self.theme)

    def render(self) -> RenderResult:
        width, height = self.size.width, self.size.height
        tl = self._timeline
        if tl is None or not tl.points or width < MIN_PLOT_SIZE[0] or height < MIN_PLOT_SIZE[1]:
            return Text("")
        key = self._key()
        if key != self._built_key and key != self._pending_key:
            self._pending_key = key
            plot_w = max(1, width - 2 * _Y_LABEL_CELLS - 2)
            self._build(
                key,
                tl,
                width,
                height,
                min(len(tl.points), plot_w, MAX_BINS),
                self._get_plotext_theme_name(self.app.theme),
                self.bucket_colors(),
            )
        return self._built if self._built is not None and key == self._built_key else Text("")

    @work(thread=True, exclusive=True, exit_on_error=False, group="timeline-build")
    def _build(
        self,
        key: tuple[object, ...],
        tl: Timeline,
        width: int,
        height: int,
        n_bins: int,
        theme_name: str,
        colors: tuple[str, ...],
    ) -> None:
        figure: Any = Plot()
        figure.plotsize(width, height)
        draw_timeline(figure, tl, bin_timeline(tl, n_bins), width, plain=self.plain, colors=colors)
        figure.theme(theme_name)
        picture = Text.from_ansi(figure.build(), no_wrap=True, end="")
        self.app.call_from_thread(self._built_ready, key, picture)

    def _built_ready(self, key: tuple[object, ...], picture: Text) -> None:
        self._built, self._built_key = picture, key
        if self._pending_key == key:
            self._pending_key = None
        self.refresh()


class TimelineScreen(ModalScreen[None]):
    """Full-screen timeline of one session; Escape (or q) closes it."""

    DEFAULT_CSS = """
    TimelineScreen {
        align: center middle;
    }
    TimelineScreen > Vertical {
        width: 100%;
        height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    TimelineScreen #timeline-header {
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Back to the sessions", id="timeline.close"),
        Binding("q", "close", "Close", show=False, id="timeline.close_q"),
    ]

    def __init__(self, session: AgentSession, *, plain: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.plain = no_color() if plain is None else plain

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"timeline · {one_line(self.session.display_id, 80)}"
            yield Static(Text("computing…", style="dim"), id="timeline-header")
            yield SessionTimeline(plain=self.plain)

    def on_mount(self) -> None:
        self._compute()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _compute(self) -> None:
        """Price every request off the UI thread, then hand the result to :meth:`show`."""
        timeline = timeline_points(self.session)
        self.app.call_from_thread(self.show, timeline)

    def show(self, timeline: Timeline) -> None:
        plot = self.query_one(SessionTimeline)
        header = self.query_one("#timeline-header", Static)
        if not timeline.points:
            header.update(Text("no timed requests in this session", style="dim"))
            return
        header.update(timeline_header(timeline, plain=self.plain, colors=plot.bucket_colors()))
        plot.show(timeline)

    def action_close(self) -> None:
        self.dismiss(None)
