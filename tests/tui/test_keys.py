"""Every key of agentsession-top, driven through Textual's Pilot on generated sessions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.text import Text
from textual.widgets import Input, Static
from tui_helpers import Corpus, FakeProbe, refreshed, settled, wait_for

from agent_session.synthetic import claude as synth_claude
from tui_app.app import MonitorApp
from tui_app.demo import synth_module
from tui_app.widgets import HelpScreen, ProcessTree, SessionsTable, ToolCallScreen, ToolCallsScreen

MakeApp = Callable[..., MonitorApp]


def expected_totals(corpus: Corpus) -> dict[str, int]:
    """Total tokens per row key straight from the generators (parents include their subagents)."""
    out: dict[str, int] = {}
    for ds in corpus.sessions:
        mod = synth_module(ds.agent)
        total = sum(u.total_tokens for u in mod.expected(ds.spec).values())
        if ds.agent == "claude":
            for agent_id, usage in synth_claude.expected_subagents(ds.spec).items():
                sub = sum(u.total_tokens for u in usage.values())
                out[f"claude:{agent_id}"] = sub
                total += sub
        out[corpus.key(ds)] = total
    return out


def table(app: MonitorApp) -> SessionsTable:
    return app.query_one(SessionsTable)


async def test_default_order_without_recent_requests_is_total_tokens_descending(
    make_app: MakeApp, corpus: Corpus
) -> None:
    """Nothing in the corpus ran in the last 5 minutes: the rate sort falls back to the tokens."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        assert app.sort_key == "rate"
        totals = expected_totals(corpus)
        subagents = {
            f"claude:{agent_id}"
            for ds in corpus.sessions
            if ds.agent == "claude"
            for agent_id in synth_claude.expected_subagents(ds.spec)
        }
        top_level = {k: v for k, v in totals.items() if k not in subagents}
        keys = table(app).row_keys_in_order
        # The one subagent is folded under its parent until space opens it.
        assert len(totals) == 11 and len(keys) == len(top_level) == 10
        assert keys == sorted(top_level, key=lambda k: (-top_level[k], k))
        top = corpus.key(corpus.spec("claude", 0))
        assert keys[0] == top
        # The cursor starts on the hungriest session and the detail shows it.
        assert app.selected_key == top
        row = app.snapshot.row(top) if app.snapshot else None
        assert row is not None and row.total_tokens == totals[top] and row.children == 1
        await pilot.press("space")
        (child,) = subagents
        assert table(app).row_keys_in_order == [top, child, *keys[1:]]
        await pilot.press("space")
        assert table(app).row_keys_in_order == keys


async def test_s_cycles_sort_and_S_reverses(make_app: MakeApp, corpus: Corpus) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        snap = app.snapshot
        assert snap is not None
        rows = {r.key: r for r in snap.sessions}
        by_rate = table(app).row_keys_in_order

        await pilot.press("s")
        assert app.sort_key == "tokens"
        by_tokens = table(app).row_keys_in_order
        # Nothing is recent in the corpus: the rate order is the tokens order.
        assert by_tokens == by_rate

        await pilot.press("s")
        assert app.sort_key == "cost"
        by_cost = table(app).row_keys_in_order
        costs = [rows[k].cost_usd or 0.0 for k in by_cost]
        assert costs == sorted(costs, reverse=True) and by_cost != by_tokens

        await pilot.press("s")
        assert app.sort_key == "activity"
        acts = [rows[k].last_activity_ms for k in table(app).row_keys_in_order]
        assert acts == sorted(acts, reverse=True)

        await pilot.press("s")
        assert app.sort_key == "agent"
        agents = [rows[k].agent for k in table(app).row_keys_in_order]
        assert agents == sorted(agents)

        await pilot.press("s")
        assert app.sort_key == "rate"
        assert table(app).row_keys_in_order == by_tokens

        await pilot.press("S")
        assert app.sort_reverse is True
        assert table(app).row_keys_in_order == list(reversed(by_tokens))
        await pilot.press("S")
        assert table(app).row_keys_in_order == by_tokens


async def test_sort_keeps_cursor_on_the_same_session(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await pilot.press("down", "down", "down")
        chosen = table(app).cursor_key
        assert chosen is not None and app.selected_key == chosen
        await pilot.press("S")
        t = table(app)
        assert t.cursor_key == chosen
        assert t.row_keys_in_order.index(chosen) == len(t.row_keys_in_order) - 4
        assert app.selected_key == chosen


@pytest.mark.slow
async def test_filter_narrows_rows_and_escape_clears(make_app: MakeApp, corpus: Corpus) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await pilot.press("slash")
        assert app.query_one("#filter", Input).has_focus
        await pilot.press(*"gemini")
        gemini = {corpus.key(ds) for ds in corpus.sessions if ds.agent == "gemini"}
        assert set(table(app).row_keys_in_order) == gemini and len(gemini) == 3
        await pilot.press("enter")  # keep the filter, back to the table
        assert table(app).has_focus and app.filter_text == "gemini"
        # By model, cwd and id substrings (set directly: typing was checked above).
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        assert box.value == "gemini"  # the filter box reopens with the current filter
        box.value = "opus"
        await pilot.pause()
        assert app.snapshot is not None
        (opus,) = table(app).row_keys_in_order
        row = app.snapshot.row(opus)
        assert row is not None and row.agent == "claude" and "opus" in row.model
        box.value = "cli-tools"
        await pilot.pause()
        assert len(table(app).row_keys_in_order) == 1
        sid = corpus.spec("codex", 2).spec.session_id
        box.value = sid[:10].upper()  # case does not matter
        await pilot.pause()
        assert table(app).row_keys_in_order == [f"codex:{sid}"]
        await pilot.press("escape")
        assert app.filter_text == "" and not app.query_one("#filter", Input).display
        assert len(table(app).row_keys_in_order) == 10  # the subagent folded under its parent


async def test_a_toggles_live_only(make_app: MakeApp, corpus: Corpus) -> None:
    live = corpus.spec("codex", 0)
    app = make_app(FakeProbe({4242: ("codex", live.spec.session_id)}))
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await pilot.press("a")
        assert app.live_only and table(app).row_keys_in_order == [corpus.key(live)]
        await pilot.press("a")
        assert len(table(app).row_keys_in_order) == 10


async def test_t_switches_tree_and_flat(make_app: MakeApp, corpus: Corpus) -> None:
    app = make_app(
        FakeProbe({4242: ("codex", corpus.spec("codex", 0).spec.session_id), 5000: ("gemini", None)})
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        tree = app.query_one(ProcessTree)
        roots = tree.root.children
        assert [n.data.pid for n in roots if n.data] == [4242, 5000]
        assert [c.data.pid for c in roots[0].children if c.data] == [4243]
        await pilot.press("t")
        assert not app.tree_mode
        flat = tree.root.children
        assert [n.data.pid for n in flat if n.data] == [4242, 4243, 5000, 5001]
        assert all(not n.children for n in flat)
        await pilot.press("t")
        assert [len(n.children) for n in tree.root.children] == [1, 1]


async def test_r_refreshes_now_and_p_pauses(make_app: MakeApp, corpus: Corpus) -> None:
    probe = FakeProbe()
    app = make_app(probe)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        calls = probe.calls
        extra = corpus.spec("gemini", 1)
        # A new session appears on disk; `r` shows it without waiting for the (1 h) interval.
        new_spec = extra.spec.__class__(
            **{**extra.spec.__dict__, "session_id": "0badc0de-0000-4000-8000-000000000001"}
        )
        synth_module("gemini").write_session(corpus.home, new_spec)
        await refreshed(pilot, app)
        assert probe.calls == calls + 1
        assert "gemini:0badc0de-0000-4000-8000-000000000001" in table(app).row_keys_in_order
        await pilot.press("p")
        assert app.paused
        status = app.query_one("#status", Static).content
        assert isinstance(status, Text) and "paused" in status.plain
        # `r` still refreshes once while paused (like top's space).
        await refreshed(pilot, app)
        await pilot.press("p")
        assert not app.paused


async def test_plus_and_minus_change_the_interval(make_app: MakeApp) -> None:
    app = make_app(interval=1.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await pilot.press("minus")
        assert app.interval == 2.0
        await pilot.press("plus", "plus")
        assert app.interval == 0.5


@pytest.mark.slow
async def test_enter_drills_into_calls_and_escape_returns(make_app: MakeApp, corpus: Corpus) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        top = corpus.spec("claude", 0)
        assert app.selected_key == corpus.key(top)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, ToolCallsScreen) and screen.session_key == corpus.key(top)
        want = synth_claude.expected_tool_count(top.spec)
        await wait_for(pilot, lambda: screen.table.row_count == want, "the tool calls")
        assert want == 3 * 12 + 1  # 3 calls per turn and the subagent's Task call
        # The calls are the selected session's, in order.
        detail = app.snapshot.detail.session if app.snapshot and app.snapshot.detail else None
        assert detail is not None and detail.events is not None
        first = detail.events.tools[0]
        assert [c.plain for c in screen.table.get_row_at(0)][1] == first.tool_name
        await pilot.press("enter")
        call = app.screen
        assert isinstance(call, ToolCallScreen) and call.tool == first
        body = call.query_one("#call-body", Static).content
        assert isinstance(body, Text) and (first.input or "")[:20] in body.plain
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert not isinstance(app.screen, ToolCallsScreen | ToolCallScreen)
        assert table(app).has_focus and app.selected_key == corpus.key(top)


@pytest.mark.slow
async def test_enter_on_a_live_process_drills_into_its_session(make_app: MakeApp, corpus: Corpus) -> None:
    live = corpus.spec("codex", 0)
    app = make_app(FakeProbe({4242: ("codex", live.spec.session_id)}))
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        tree = app.query_one(ProcessTree)
        tree.focus()
        await pilot.press("down")  # onto the tool child: same session
        assert app.selected_key == corpus.key(live)
        assert table(app).cursor_key == corpus.key(live)
        await pilot.press("enter")
        assert isinstance(app.screen, ToolCallsScreen) and app.screen.session_key == corpus.key(live)


async def test_help_lists_every_key_and_q_quits(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [k for k, _ in app.screen.rows]
        for key in (
            "q",
            "?",
            "/",
            "s",
            "S",
            "w",
            "d",
            "t",
            "a",
            "p",
            "r",
            "+",
            "-",
            "enter",
            "esc",
            "tab",
            "space",
            "home/end",
            "ctrl+c",
        ):
            assert key in keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the app to exit")


async def test_command_palette_lists_the_actions(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for want in (
            "Sort (s)",
            "Reverse (S)",
            "Filter (/)",
            "Tree/flat (t)",
            "Live/all (a)",
            "Pause (p)",
            "Refresh (r)",
        ):
            assert want in titles


async def test_mouse_click_on_header_sorts(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        t = table(app)
        region = t.region
        # The "Cost" header: one cell of border, then the columns before it.
        start = t.column_x("cost")
        assert start is not None
        x = region.x + 1 + start
        await pilot.click(offset=(x + 1, region.y + 1))
        assert app.sort_key == "cost"
