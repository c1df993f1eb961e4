"""Claude subagents: folded under their parent, counted in it, reachable from its Task call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tui_helpers import NOW_S, Corpus, FakeProbe, settled, wait_for

from agent_session import AgentHomes
from agent_session.synthetic import claude as synth_claude
from tui_app.app import MonitorApp
from tui_app.monitor import Monitor
from tui_app.rates import resolve_window
from tui_app.widgets import ToolCallsScreen

MakeApp = Callable[..., MonitorApp]


def usage_total(t: tuple[int, int, int, int, int]) -> int:
    return t[0] + t[1] + t[2] + t[3]


@pytest.mark.parametrize("window", ["all", "today", "week"])
def test_parent_row_is_own_plus_subagents_in_every_window(corpus: Corpus, window: str) -> None:
    monitor = Monitor(
        AgentHomes.resolve(corpus.home),
        user_home=corpus.home,
        clock=lambda: NOW_S,
        probe=FakeProbe(),
        window=window,
    )
    snap = monitor.collect()
    parent_spec = corpus.spec("claude", 0)
    (agent_id,) = synth_claude.expected_subagents(parent_spec.spec)
    parent = snap.row(corpus.key(parent_spec))
    child = snap.row(f"claude:{agent_id}")
    assert parent is not None and child is not None
    assert parent.children == 1 and child.parent_key == parent.key and child.children == 0
    raw = {f"{s.agent_type.value}:{s.session_id}": s for s in snap.raw_sessions}
    own, sub = raw[parent.key], raw[child.key]
    w = resolve_window(window, NOW_S, 300)
    if w.is_all:
        own_tokens, sub_tokens = own.usage.total_tokens, sub.usage.total_tokens
    else:
        own_tokens = usage_total(own.requests.totals(w.start_ms, w.end_ms))
        sub_tokens = usage_total(sub.requests.totals(w.start_ms, w.end_ms))
    assert sub_tokens > 0
    assert parent.win_tokens == own_tokens + sub_tokens and child.win_tokens == sub_tokens
    assert own.cost_usd is not None and sub.cost_usd is not None
    # All-time cost: own plus the subagent's, in the row and the Cost column of "all".
    assert parent.cost_usd == pytest.approx(own.cost_usd + sub.cost_usd, abs=1e-12)
    (claude,) = [t for t in snap.totals if t.agent == "claude"]
    top = [r for r in snap.sessions if r.agent == "claude" and r.parent_key is None]
    assert claude.tokens == sum(r.win_tokens for r in top)  # the subagent is not counted twice


@pytest.mark.slow
async def test_enter_on_a_task_call_opens_the_subagent(make_app: MakeApp, corpus: Corpus) -> None:
    parent_spec = corpus.spec("claude", 0)
    (agent_id,) = synth_claude.expected_subagents(parent_spec.spec)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        assert app.selected_key == corpus.key(parent_spec)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ToolCallsScreen)
                and app.screen.table.row_count == synth_claude.expected_tool_count(parent_spec.spec)
            ),
            "the parent's tool calls",
        )
        calls = app.screen
        assert isinstance(calls, ToolCallsScreen)
        names = [str(calls.table.get_row_at(i)[1]) for i in range(calls.table.row_count)]
        task_row = names.index("Task")
        calls.table.move_cursor(row=task_row)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ToolCallsScreen) and app.screen is not calls,
            "the subagent's tool calls",
        )
        assert isinstance(app.screen, ToolCallsScreen) and app.screen.session_key == f"claude:{agent_id}"
        assert app.selected_key == f"claude:{agent_id}"
        # The parent folded open in the table so the subagent row is there behind the drill-down.
        assert corpus.key(parent_spec) in app.expanded
        await pilot.press("escape")
        assert app.screen is calls
