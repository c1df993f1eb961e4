"""The monitor's per-refresh work is incremental, and gives what a fresh collection gives.

Why these tests: with 50,000 sessions the monitor used to rebuild every row,
every second (a whole core), and the sessions table was a DataTable that
measured every cell. Rows are now kept between collections and rebuilt only
when their session object, their numbers or their age text changed; the
table draws only the lines on screen. Each test here pins one of those
promises with exact numbers, and the first one checks the incremental rows
against a collection made from scratch at the same moment.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from claude_writer import ClaudeWriter
from rich.text import Text
from textual.app import App, ComposeResult
from tui_helpers import NOW_MS, NOW_S, Corpus, FakeProbe, refreshed, settled, wait_for

from agent_session import AgentHomes
from tui_app.app import MonitorApp
from tui_app.monitor import SESSION_COLUMNS, WINDOWS, Monitor, MonitorSnapshot, SessionRow
from tui_app.widgets import SessionsTable, order_rows

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def _sid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def _key(n: int) -> str:
    return f"claude:{_sid(n)}"


def _home(tmp_path: Path) -> tuple[Path, dict[int, ClaudeWriter]]:
    """Sessions whose last requests lie in every kind of window: now, 12 minutes, hours, days."""
    home = tmp_path / "home"
    ages = {
        1: [4 * MIN, 2 * MIN, 30_000],  # burning now
        2: [11 * MIN],  # only in the sparkline's 12 minutes
        3: [3 * HOUR - 500],  # "2h", turning "3h" half a second from now
        4: [26 * HOUR, 25 * HOUR],  # yesterday
        5: [6 * DAY, 5 * DAY],  # this week
        6: [40 * DAY],  # long ago
    }
    writers: dict[int, ClaudeWriter] = {}
    for n, times in ages.items():
        w = ClaudeWriter(home, _sid(n), f"/home/dev/src/p{n}", started_ms=NOW_MS - max(times) - 1000)
        for i, age in enumerate(times):
            w.request(NOW_MS - age, 1_000 * n + i, 100 * n)
        writers[n] = w
    return home, writers


def _monitor(home: Path, clock: list[float], **kw: object) -> Monitor:
    return Monitor(
        AgentHomes.resolve(home),
        user_home=home,
        clock=lambda: clock[0],
        probe=FakeProbe({4242: ("claude", _sid(1))}),
        **kw,  # type: ignore[arg-type]
    )


def _fresh(home: Path, now: float, window: str) -> MonitorSnapshot:
    return _monitor(home, [now], window=window).collect()


def test_incremental_rows_equal_a_fresh_collection_at_every_step(tmp_path: Path) -> None:
    """One monitor per window lives through the steps; each step is checked against a fresh one.

    The steps push requests out of the rate window and the sparkline, move the
    week's start, cross midnight (the "today" window) and wake an old session.
    """
    home, writers = _home(tmp_path)
    clock = [NOW_S]
    kept = {window: _monitor(home, clock, window=window) for window in WINDOWS}
    steps = [0.0, 0.4, 1.0, 31.0, 61.0, 200.0, 400.0, 800.0, 3600.0, 86_400.0, 86_460.0]
    for i, step in enumerate(steps):
        clock[0] = NOW_S + step
        if i == 5:
            writers[6].request(int(clock[0] * 1000) - 1000, 7_777, 77)  # an old session wakes up
        for window, mon in kept.items():
            got = mon.collect()
            want = _fresh(home, clock[0], window)
            assert got.sessions == want.sessions, (step, window)
            assert got.totals == want.totals, (step, window)
            assert got.rows_pending == 0


def test_an_idle_collection_reuses_every_row_and_an_age_tick_rebuilds_one(tmp_path: Path) -> None:
    home, _ = _home(tmp_path)
    clock = [NOW_S]
    mon = _monitor(home, clock)
    first = mon.collect()
    assert len(first.sessions) == 6
    # A quarter second later nothing any row shows has changed: the very same rows.
    clock[0] = NOW_S + 0.25
    again = mon.collect()
    assert again.sessions is first.sessions and again.totals == first.totals
    # Half a second from the start session 3 turns from "2h" to "3h": that row alone is new.
    clock[0] = NOW_S + 0.6
    later = mon.collect()
    new = [r.key for r, old in zip(later.sessions, first.sessions, strict=True) if r is not old]
    assert new == [_key(3)]
    active = {r.key: r for r in later.sessions}[_key(3)]
    assert active.cells[[k for k, _ in SESSION_COLUMNS].index("active")] == "3h"


def test_a_grown_session_rebuilds_its_row_only(tmp_path: Path) -> None:
    home, writers = _home(tmp_path)
    clock = [NOW_S]
    mon = _monitor(home, clock)
    first = {r.key: r for r in mon.collect().sessions}
    writers[5].request(NOW_MS - 5 * DAY + 1000, 50_000, 500)
    second = {r.key: r for r in mon.collect().sessions}
    assert [k for k, r in second.items() if r is not first[k]] == [_key(5)]
    assert second[_key(5)].total_tokens == first[_key(5)].total_tokens + 50_500


def test_a_row_budget_shows_the_top_rows_first_and_the_rest_after(tmp_path: Path) -> None:
    """A zero budget builds one batch (32 rows) a collection, most burning first; totals are whole."""
    home = tmp_path / "home"
    for n in range(1, 101):
        w = ClaudeWriter(home, _sid(n), f"/home/dev/src/p{n}", started_ms=NOW_MS - 2 * DAY)
        # Sessions 91-100 burn now; the others are old, with n thousand tokens each.
        w.request(NOW_MS - (MIN if n > 90 else DAY + n * MIN), 1_000 * n)
    clock = [NOW_S]
    budgeted = _monitor(home, clock, row_budget=0.0)
    full = _monitor(home, clock).collect()
    want_top = [r.key for r in order_rows(full.sessions, "rate", False)][:32]

    first = budgeted.collect()
    assert len(first.sessions) == 32 and first.rows_pending == 68
    assert {r.key for r in first.sessions} == set(want_top)
    assert first.totals == full.totals  # every session counted, built or not
    sizes = [len(budgeted.collect().sessions) for _ in range(3)]
    assert sizes == [64, 96, 100]
    done = budgeted.collect()
    assert done.rows_pending == 0 and done.sessions == full.sessions


def test_a_row_budget_prices_a_huge_history_in_batches(tmp_path: Path) -> None:
    """Sessions first seen are priced 256 at a time on a zero budget; totals grow as they are."""
    home = tmp_path / "home"
    for n in range(1, 301):
        w = ClaudeWriter(home, _sid(n), "/home/dev/src/many", started_ms=NOW_MS - 2 * DAY)
        w.request(NOW_MS - DAY - n * MIN, 1_000)
    mon = _monitor(home, [NOW_S], row_budget=0.0)
    first = mon.collect()
    (claude, *_) = first.totals
    assert (len(first.sessions), first.rows_pending, claude.sessions, claude.tokens) == (
        32,
        268,
        256,
        256_000,
    )
    second = mon.collect()
    (claude, *_) = second.totals
    assert (len(second.sessions), second.rows_pending, claude.sessions, claude.tokens) == (
        64,
        236,
        300,
        300_000,
    )


def test_a_deferred_first_probe_leaves_processes_to_the_next_collection(tmp_path: Path) -> None:
    home, _ = _home(tmp_path)
    mon = _monitor(home, [NOW_S])
    mon.defer_first_probe = True
    first = mon.collect()
    assert first.roots == () and len(first.sessions) == 6
    assert not any(r.live for r in first.sessions)
    second = mon.collect()
    assert [n.pid for n in second.roots] == [4242]
    assert [r.key for r in second.sessions if r.live] == [_key(1)]


async def test_the_app_paints_rows_before_processes_and_then_both(tmp_path: Path) -> None:
    home, _ = _home(tmp_path)
    mon = _monitor(home, [NOW_S])
    mon.defer_first_probe = True
    app = MonitorApp(mon, interval=3600.0, watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot, app)
        # The second collection follows the first at once, without waiting for the interval.
        await wait_for(pilot, lambda: app.collections >= 2, "the collection with processes")
        snap = app.snapshot
        assert snap is not None and [n.pid for n in snap.roots] == [4242]
        assert app.query_one(SessionsTable).row_count == 6


# --------------------------------------------------------------------------- the table
def _rows(n: int) -> list[SessionRow]:
    out = []
    for i in range(n):
        cells = ("", f"claude:{i:06x}", "-", "", f"{i}", "$0.00", "-", "1d", "claude", "m", "/home/dev")
        out.append(
            SessionRow(
                key=f"k{i}",
                agent="claude",
                session_id=f"{i}",
                display_id=f"claude:{i:06x}",
                model="m",
                total_tokens=i,
                cost_usd=0.0,
                last_activity_ms=i,
                cwd="/home/dev",
                live=False,
                is_subagent=False,
                cells=cells,
                haystack=f"claude {i}",
            )
        )
    return out


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SessionsTable(id="sessions")


async def test_the_table_draws_only_the_lines_on_screen_of_20000_rows() -> None:
    app = _TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(SessionsTable)
        drawn: list[str] = []
        original = table._row_strip
        table._row_strip = lambda r, *a: (drawn.append(r.key), original(r, *a))[1]  # type: ignore[method-assign]
        rows = _rows(20_000)
        table.apply(rows, "k0")
        await pilot.pause()
        visible = table.scrollable_content_region.height - 1  # one line is the header
        assert table.row_count == 20_000 and table.cursor_row == 0
        assert sorted(set(drawn)) == sorted(f"k{i}" for i in range(visible))

        # One changed row off screen: nothing is drawn again; one on screen: that line only.
        drawn.clear()
        rows[5000] = dataclasses.replace(rows[5000], cells=("",) * 4 + ("9",) + rows[5000].cells[5:])
        table.apply(list(rows), "k0")
        await pilot.pause()
        assert drawn == []
        rows[3] = dataclasses.replace(rows[3], cells=("",) * 4 + ("12345",) + rows[3].cells[5:])
        table.apply(list(rows), "k0")
        await pilot.pause()
        assert drawn == ["k3"]
        assert table.get_cell("k3", "tokens") == Text("12345")

        # The last row is one key away and scrolled into view.
        table.focus()
        await pilot.press("end")
        assert table.cursor_key == "k19999" and table.cursor_row == 19_999
        assert int(table.scroll_offset.y) == 20_000 - visible


def test_live_changes_and_a_vanished_subagent_reach_the_rows(corpus: Corpus) -> None:
    """Which session a live agent writes, and a parent's subagents, are not part of its session object."""
    probe = FakeProbe({4242: ("codex", corpus.spec("codex", 0).spec.session_id)})
    mon = Monitor(AgentHomes.resolve(corpus.home), user_home=corpus.home, clock=lambda: NOW_S, probe=probe)
    first = mon.collect()
    assert [r.key for r in first.sessions if r.live] == [corpus.key(corpus.spec("codex", 0))]
    probe.live = {4243: ("gemini", corpus.spec("gemini", 1).spec.session_id)}
    second = mon.collect()
    assert [r.key for r in second.sessions if r.live] == [corpus.key(corpus.spec("gemini", 1))]
    assert [t.live_sessions for t in second.totals] == [0, 0, 1]

    (child,) = [s for s in second.raw_sessions if s.parent_session_id]
    parent_key = f"claude:{child.parent_session_id}"
    parent = second.row(parent_key)
    assert parent is not None and parent.children == 1
    Path(child.path).unlink()
    third = mon.collect()
    alone = third.row(parent_key)
    assert alone is not None and alone.children == 0
    assert third.sessions == _fresh_rows(corpus.home, probe)
    assert alone.cost_usd == pytest.approx(parent.cost_usd - (child.cost_usd or 0.0), abs=1e-12)


def _fresh_rows(home: Path, probe: FakeProbe) -> tuple[SessionRow, ...]:
    return (
        Monitor(AgentHomes.resolve(home), user_home=home, clock=lambda: NOW_S, probe=probe).collect().sessions
    )


async def test_the_app_applies_the_rows_the_monitor_says_changed(tmp_path: Path) -> None:
    """An age ticking over reaches the table through the monitor's list of replaced places."""
    home, _ = _home(tmp_path)
    clock = [NOW_S]
    mon = _monitor(home, clock)
    app = MonitorApp(mon, interval=3600.0, watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot, app)
        table = app.query_one(SessionsTable)
        assert table.get_cell(_key(3), "active").plain == "2h"
        before = app.snapshot
        assert before is not None
        clock[0] = NOW_S + 0.6
        await refreshed(pilot, app)
        snap = app.snapshot
        assert snap is not None and snap.changed_from == before.seq
        assert snap.places is not None and snap.changed_rows == (snap.places[_key(3)],)
        assert table.get_cell(_key(3), "active").plain == "3h"
        assert table.row_keys_in_order == [r.key for r in order_rows(snap.sessions, "rate", False)]
