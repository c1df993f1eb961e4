"""Snapshots of the main screen and the tool-call drill-down on deterministic data.

Generated sessions, a frozen clock, UTC, a fixed process tree: the SVGs only
change when the UI does. Update with ``pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from claude_writer import ClaudeWriter
from textual.pilot import Pilot
from tui_helpers import NOW_MS, Corpus, FakeProbe, settled, wait_for

from agent_session.synthetic import claude as synth_claude
from tui_app.app import MonitorApp
from tui_app.widgets import ToolCallsScreen

SIZE = (150, 46)


def probe(corpus: Corpus) -> FakeProbe:
    return FakeProbe(
        {
            4242: ("claude", corpus.spec("claude", 0).spec.session_id),
            4300: ("codex", corpus.spec("codex", 0).spec.session_id),
            4400: ("gemini", None),
        }
    )


def test_main_screen(snap_compare: Any, make_app: Callable[..., MonitorApp], corpus: Corpus) -> None:
    app = make_app(probe(corpus))
    app.slow_refresh_seconds = float("inf")  # the machine's load is not part of the picture

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def burning(corpus: Corpus) -> None:
    """A session burning right now (ten requests in the last five minutes, context 76 % full)."""
    w = ClaudeWriter(
        corpus.home,
        "dddddddd-0000-4000-8000-000000000004",
        "/home/dev/src/very/long/path/to/a/project/burning-now",
        started_ms=NOW_MS - 600_000,
    )
    for i in range(10):
        w.request(NOW_MS - 280_000 + i * 25_000, 2_000, 300, cache_read=150_000, cache_write=1_000)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])
def test_main_screen_sizes(
    snap_compare: Any, make_app: Callable[..., MonitorApp], corpus: Corpus, size: tuple[int, int]
) -> None:
    """80×24: no detail, Session/Rate/Tokens/Cost whole; 120×40: detail below; 200×50: beside."""
    burning(corpus)
    app = make_app(probe(corpus))
    app.slow_refresh_seconds = float("inf")  # the machine's load is not part of the picture

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
def test_tool_call_drill_down(snap_compare: Any, make_app: Callable[..., MonitorApp], corpus: Corpus) -> None:
    app = make_app(probe(corpus))

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot, app)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ToolCallsScreen)
                and app.screen.table.row_count
                == synth_claude.expected_tool_count(corpus.spec("claude", 0).spec)
            ),
            "the tool calls",
        )
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


VIEW_SIZES = [(80, 24), (120, 40), (200, 50)]


@pytest.mark.slow
@pytest.mark.parametrize("size", VIEW_SIZES, ids=["80x24", "120x40", "200x50"])
@pytest.mark.parametrize("view", ["subagents", "drill-down", "help"])
def test_views_at_every_size(
    snap_compare: Any, make_app: Callable[..., MonitorApp], corpus: Corpus, view: str, size: tuple[int, int]
) -> None:
    """The subagent tree unfolded, the tool-call drill-down and help at 80×24, 120×40 and 200×50."""
    app = make_app(probe(corpus))
    app.slow_refresh_seconds = float("inf")
    app.help_timings = False  # timings vary run to run
    parent = f"claude:{corpus.spec('claude', 0).spec.session_id}"

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot, app)
        if view == "subagents":
            app.toggle_children(parent)
            await wait_for(pilot, lambda: parent in app.expanded, "the subagents unfolded")
        elif view == "drill-down":
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, ToolCallsScreen) and app.screen.table.row_count > 0,
                "the tool calls",
            )
        else:
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: len(app.screen_stack) > 1, "help")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
