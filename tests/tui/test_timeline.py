"""The session timeline: its header numbers, the full-screen view, dropping the plot when cramped."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static
from tui_helpers import wait_for

from agent_session.charts import Timeline, timeline_points
from agent_session.model import AgentSession, AgentType, SessionEvents, ToolEvent
from agent_session.requests import RequestLog
from tui_app.widgets.timeline import SessionTimeline, TimelineScreen, timeline_header

T0 = 1_795_551_600_000  # 20:20 UTC
SONNET = "claude-sonnet-4-5"
OPUS = "claude-opus-4-1"


def session(*, requests: int = 40, tools: bool = True) -> AgentSession:
    """A deterministic session: a model switch at request 25, a burst of six tool calls at +10 min."""
    log = RequestLog()
    for i in range(requests):
        model = SONNET if i < 25 else OPUS
        log.append(
            T0 + i * 45_000,
            model,
            (400 + i * 20, 300 + (i % 5) * 100, 600 if i % 7 == 0 else 0, 900 + i * 30, 0),
        )
    log.append(None, SONNET, (1, 1, 0, 0, 0))
    events = SessionEvents(
        tools=[ToolEvent(tool_name="Bash", ts_ms=T0 + 600_000 + k * 2000) for k in range(6)]
    )
    return AgentSession(
        agent_type=AgentType.CLAUDE,
        session_id="abc123",
        path="/x.jsonl",
        requests=log,
        events=events if tools else None,
    )


def test_header_numbers_and_legend() -> None:
    tl = timeline_points(session())
    text = timeline_header(tl, plain=True)
    total = sum(sum(p.buckets) for p in tl.points)
    # Σ input 31,600 + output 20,000 + cache write 3,600 + cache read 59,400.
    assert total == 114_600
    # Sonnet (25 requests) $0.25395 + Opus (15) $0.86085, per-MTok list prices.
    assert tl.points[-1].cumulative_cost_usd == pytest.approx(1.1148, abs=1e-9)
    assert text.plain.split("\n") == [
        "40 requests  115k tokens  $1.11  (1 without a time, not drawn)",
        "█ input  ▓ output  ▒ cache write  ░ cache read  ⣀ cost  │ switch  │ tools",
    ]
    assert timeline_header(timeline_points(session(tools=False)), plain=True).plain.endswith("│ switch")


class TimelineApp(App[None]):
    def __init__(self, s: AgentSession, *, plain: bool = False) -> None:
        super().__init__()
        self.s = s
        self.plain = plain

    def on_mount(self) -> None:
        self.push_screen(TimelineScreen(self.s, plain=self.plain))


def header_of(app: App[None]) -> str:
    content = app.screen.query_one("#timeline-header", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def shown(pilot: Pilot[None], *, drawn: bool = True) -> None:
    """Wait for the screen's worker to price the requests, then (``drawn``) for the plot's picture."""
    app = pilot.app

    def ready() -> bool:
        if not isinstance(app.screen, TimelineScreen):
            return False
        plot = app.screen.query_one(SessionTimeline)
        return plot.timeline is not None and (plot.is_drawn or not drawn)

    await wait_for(pilot, ready, "the timeline")
    await pilot.pause()


def test_snapshot_timeline_screen(snap_compare: Any) -> None:
    assert snap_compare(TimelineApp(session()), terminal_size=(80, 24), run_before=shown)


async def test_escape_closes_and_numbers_survive_a_small_terminal() -> None:
    app = TimelineApp(session(), plain=True)
    async with app.run_test(size=(40, 10)) as pilot:
        await shown(pilot, drawn=False)
        assert header_of(app).startswith("40 requests  115k tokens  $1.11")
        plot = app.screen.query_one(SessionTimeline)
        tl = plot.timeline
        assert isinstance(tl, Timeline) and len(tl.points) == 40
        # 40×10 leaves the plot under MIN_PLOT_SIZE: it draws nothing, the numbers above stay.
        assert plot.size.height < 8
        rendered = plot.render()
        assert isinstance(rendered, Text) and rendered.plain == ""
        assert not plot.is_drawn
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TimelineScreen)


async def test_plain_plot_tells_buckets_apart_by_character() -> None:
    app = TimelineApp(session(), plain=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot)
        plot = app.screen.query_one(SessionTimeline)
        rendered = plot.render()
        assert isinstance(rendered, Text)
        drawn = rendered.plain
        for mark in "█▓▒░":
            assert mark in drawn
        assert "claude-opus-4-1" in drawn and "6 tools" in drawn
        assert "$1.11" in drawn  # the cost axis ends at the session's cost
        assert plot.theme == "clear"  # plotext's colourless theme


async def test_session_without_timed_requests_says_so() -> None:
    log = RequestLog()
    log.append(None, SONNET, (5, 5, 0, 0, 0))
    s = AgentSession(agent_type=AgentType.CLAUDE, session_id="x", path="/x.jsonl", requests=log)
    app = TimelineApp(s)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: header_of(app) == "no timed requests in this session", "the header")
        assert app.screen.query_one(SessionTimeline).timeline is None


def test_no_color_env_makes_the_plot_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    plot = SessionTimeline()
    assert plot.plain and plot.theme == "clear"
    assert TimelineScreen(session()).plain
    monkeypatch.delenv("NO_COLOR")
    plot = SessionTimeline()
    assert not plot.plain and plot.theme == "auto"
