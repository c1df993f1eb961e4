"""The tool-call screen touches the table only for what changed, whatever the number of calls.

A small host app pushes the screen and hands it details by hand, as the
monitor does with every snapshot; the table's mutating methods are counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App
from tui_helpers import Corpus, refreshed, settled, wait_for

from agent_session import AgentSession, AgentType, SessionEvents, ToolEvent, ToolStatus
from agent_session.model import ToolCategory
from agent_session.synthetic import claude as synth_claude
from tui_app.app import MonitorApp
from tui_app.monitor import DetailView
from tui_app.widgets import ToolCallScreen, ToolCallsScreen

KEY = "claude:5e550000-1111"


def _call(pos: int, status: ToolStatus = ToolStatus.OK) -> ToolEvent:
    done = status is not ToolStatus.PENDING
    return ToolEvent(
        call_id=f"c{pos}",
        tool_name="Bash",
        category=ToolCategory.SHELL,
        command=f"echo {pos}",
        status=status,
        ts_ms=1_795_551_000_000 + pos * 1000,
        end_ts_ms=1_795_551_000_500 + pos * 1000 if done else None,
        duration_ms=500 if done else None,
    )


def _view(calls: list[ToolEvent], *, dropped: int = 0, version: int | None = None) -> DetailView:
    events = SessionEvents(
        tools=[c.model_copy() for c in calls],
        tools_dropped=dropped,
        tools_version=version if version is not None else dropped + len(calls),
    )
    s = AgentSession(agent_type=AgentType.CLAUDE, session_id="5e550000-1111", path="/s.jsonl", events=events)
    return DetailView(key=KEY, session=s, fingerprint=(KEY, len(calls), version))


class Host(App[None]):
    def __init__(self, view: DetailView) -> None:
        super().__init__()
        self.view = view

    def on_mount(self) -> None:
        self.push_screen(ToolCallsScreen(KEY, self.view))


def _spy(screen: ToolCallsScreen, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    table = screen.table
    for name in ("add_row", "clear", "update_cell", "remove_row"):
        real = getattr(table, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1
            return _real(*args, **kw)

        monkeypatch.setattr(table, name, counted)
    return calls


def _keys(screen: ToolCallsScreen) -> list[str | None]:
    return [k.value for k in screen.table.rows]


async def test_unchanged_calls_leave_the_table_alone_and_new_ones_add_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = [_call(i) for i in range(4)] + [_call(4, ToolStatus.PENDING)]
    app = Host(_view(calls))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ToolCallsScreen)
        assert screen.table.row_count == 5
        spy = _spy(screen, monkeypatch)

        screen.show(_view(calls))  # a new snapshot object, the same calls
        assert spy == Counter()

        screen.show(_view([*calls, _call(5)], version=6))  # one new call
        assert spy == Counter(add_row=1)
        assert _keys(screen) == ["0", "1", "2", "3", "4", "5"]

        # The pending call got its result: only its changed cells are updated.
        finished = [*calls[:4], _call(4), _call(5)]
        screen.show(_view(finished, version=7))
        assert spy["add_row"] == 1 and spy["clear"] == 0 and spy["remove_row"] == 0
        assert spy["update_cell"] == 2  # status and duration; time, tool, command, paths unchanged
        assert screen.table.get_row("4")[2].plain == "ok"

        # A later change to a finished call's neighbours does not re-read the finished rows.
        spy.clear()
        screen.show(_view([*finished, _call(6, ToolStatus.PENDING)], version=8))
        assert spy == Counter(add_row=1)


async def test_rows_follow_the_window_when_old_calls_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Host(_view([_call(i) for i in range(10, 15)], dropped=10))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ToolCallsScreen)
        assert _keys(screen) == ["10", "11", "12", "13", "14"]
        spy = _spy(screen, monkeypatch)
        # Two newer calls arrive and the detail drops its two oldest.
        screen.show(_view([_call(i) for i in range(12, 17)], dropped=12))
        assert spy == Counter(add_row=2, remove_row=2)
        assert _keys(screen) == ["12", "13", "14", "15", "16"]
        title = screen.query_one("#calls-title").render()
        assert "17 tool calls (newest 5 shown)" in str(title)
        # Enter opens the call at its position in the whole session.
        screen.table.move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause()
        opened = app.screen
        assert isinstance(opened, ToolCallScreen)
        assert opened.index == 13 and opened.tool.call_id == "c13"


async def test_a_reparse_with_fewer_calls_starts_the_list_over(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Host(_view([_call(i) for i in range(6)]))
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ToolCallsScreen)
        spy = _spy(screen, monkeypatch)
        screen.show(_view([_call(i) for i in range(2)], version=2))
        assert spy == Counter(clear=1, add_row=2)
        assert _keys(screen) == ["0", "1"]


@pytest.mark.slow
async def test_detail_loads_off_the_ui_thread_and_refreshes_leave_the_calls_alone(
    make_app: Callable[..., MonitorApp], corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    store = app.monitor.store
    real_detail = store.detail
    threads: list[threading.Thread] = []
    release = threading.Event()
    release.set()

    def detail(session: Any) -> AgentSession:
        threads.append(threading.current_thread())
        release.wait(30)  # a huge session being read
        return real_detail(session)

    monkeypatch.setattr(store, "detail", detail)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await settled(pilot, app)
            top = corpus.spec("claude", 0)
            # While the drilled session's detail is still loading, keys are handled at once.
            release.clear()
            await pilot.press("down")
            await pilot.press("up")
            assert app.selected_key == corpus.key(top)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, ToolCallsScreen) and screen.session_key == corpus.key(top)
            await pilot.press("escape")
            assert not isinstance(app.screen, ToolCallsScreen)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, ToolCallsScreen)
            release.set()
            want = synth_claude.expected_tool_count(top.spec)
            await wait_for(pilot, lambda: screen.table.row_count == want, "the tool calls")
            spy = _spy(screen, monkeypatch)
            await refreshed(pilot, app)  # a full collection: same file, same calls
            assert spy == Counter()
    finally:
        release.set()
    assert threads and all(t is not threading.main_thread() for t in threads)
