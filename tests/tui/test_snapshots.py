"""Snapshots of the main screen and the tool-call drill-down on deterministic data.

Generated sessions, a frozen clock, UTC, a fixed process tree: the SVGs only
change when the UI does. Update with ``pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import Corpus, FakeProbe, settled, wait_for

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

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


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
