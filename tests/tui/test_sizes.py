"""Any terminal size: column priorities, whole numbers, the detail pane's place and ``d``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tui_helpers import NOW_S, Corpus, FakeProbe, settled, wait_for

from agent_session import AgentHomes
from tui_app.app import MonitorApp
from tui_app.monitor import SESSION_COLUMNS, Monitor
from tui_app.widgets import DetailPane, SessionsTable
from tui_app.widgets.sessions import layout_columns

MakeApp = Callable[..., MonitorApp]
INDEX = {k: i for i, (k, _) in enumerate(SESSION_COLUMNS)}
NUMBERS = ("rate", "tokens", "cost", "ctx")


def test_layout_shrinks_cwd_and_model_first_then_drops_columns(corpus: Corpus) -> None:
    rows = (
        Monitor(
            AgentHomes.resolve(corpus.home), user_home=corpus.home, clock=lambda: NOW_S, probe=FakeProbe()
        )
        .collect()
        .sessions
    )
    natural = {
        k: max([1, len(label), *(len(r.cells[INDEX[k]]) for r in rows)]) for k, label in SESSION_COLUMNS
    }
    wide = layout_columns(rows, 400)
    assert wide.columns == tuple((k, natural[k]) for k, _ in SESSION_COLUMNS)
    # Ten cells short: the cwd gives them up, nothing else moves.
    fit = sum(w + 2 for w in natural.values())
    short = layout_columns(rows, fit - 10)
    assert short.width("cwd") == natural["cwd"] - 10
    assert all(short.width(k) == natural[k] for k in natural if k != "cwd")
    narrow = layout_columns(rows, 60)
    assert {"id", "rate", "tokens", "cost"} <= set(narrow.keys)
    assert "cwd" not in narrow.keys and "agent" not in narrow.keys
    assert sum(w + 2 for _, w in narrow.columns) <= 60
    for layout in (wide, short, narrow):
        for key in NUMBERS:
            if key in layout.keys:
                assert layout.width(key) == natural[key]  # numbers never shrink


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
async def test_every_size_keeps_the_key_columns_and_whole_numbers(
    make_app: MakeApp, corpus: Corpus, size: tuple[int, int]
) -> None:
    app = make_app(FakeProbe({4242: ("claude", corpus.spec("claude", 0).spec.session_id)}))
    async with app.run_test(size=size) as pilot:
        await settled(pilot, app)
        table = app.query_one(SessionsTable)
        layout = table.column_layout
        assert layout is not None and {"id", "rate", "tokens", "cost"} <= set(layout.keys)
        # The table never needs a horizontal scroll: every column fits.
        assert sum(w + 2 for _, w in layout.columns) <= table.size.width
        snap = app.snapshot
        assert snap is not None
        for key in NUMBERS:
            width = layout.width(key)
            if width is not None:
                for r in snap.sessions:
                    if r.key in table.row_keys_in_order:
                        assert table.get_cell(r.key, key).plain == r.cells[INDEX[key]]
                        assert len(r.cells[INDEX[key]]) <= width
        pane = app.query_one(DetailPane)
        narrow = app.query_one("#main").has_class("narrow")
        assert narrow == (size[0] < 140)
        assert pane.display == (size != (80, 24))


@pytest.mark.slow
async def test_d_hides_and_shows_the_detail_and_home_end_move(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(pilot, app)
        pane = app.query_one(DetailPane)
        assert pane.display
        await pilot.press("d")
        assert not pane.display
        await pilot.press("d")
        assert pane.display
        table = app.query_one(SessionsTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        assert app.selected_key == table.row_keys_in_order[-1]
        await pilot.press("home")
        assert table.cursor_row == 0 and app.selected_key == table.row_keys_in_order[0]
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app._exit, "ctrl+c to quit")
