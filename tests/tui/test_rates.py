"""Burn rates, windows and context fill: who is burning tokens right now, with exact numbers.

Sessions are written request by request (``claude_writer``) at known times
around the frozen "now" (2026-11-24 20:20:00 UTC); claude-sonnet-4-5 costs
$3 per million input and $15 per million output tokens below 200k input.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from claude_writer import ClaudeWriter
from textual.widgets import Static
from tui_helpers import NOW_MS, NOW_S, FakeProbe, refreshed, settled, wait_for

from agent_session import AgentHomes
from tui_app.app import MonitorApp, build_parser
from tui_app.monitor import Monitor
from tui_app.rates import (
    elide_middle,
    fmt_ago_short,
    fmt_cost_rate,
    fmt_rate,
    parse_duration,
    resolve_window,
)
from tui_app.widgets import SessionsTable

MIN = 60_000
FAST = "aaaaaaaa-0000-4000-8000-000000000001"
SLOW = "bbbbbbbb-0000-4000-8000-000000000002"


def make(home: Path, **kw: object) -> MonitorApp:
    monitor = Monitor(AgentHomes.resolve(home), user_home=home, clock=lambda: NOW_S, probe=FakeProbe())
    kw.setdefault("interval", 3600.0)
    kw.setdefault("watch", False)
    return MonitorApp(monitor, **kw)  # type: ignore[arg-type]


def cell(app: MonitorApp, key: str, column: str) -> str:
    return str(app.query_one(SessionsTable).get_cell(key, column))


def test_formats_never_cut_a_number() -> None:
    assert fmt_rate(2400) == "2.40k/min"
    assert fmt_rate(12_345) == "12.3k/min"
    assert fmt_rate(480) == "480/min"
    assert fmt_rate(1_234_567) == "1.23M/min"
    assert fmt_rate(0) == "-"
    assert fmt_cost_rate(1.02) == "$1.02/h"
    assert fmt_cost_rate(0.004) == "<$0.01/h"
    assert fmt_ago_short(NOW_MS - 90_000, NOW_S) == "1m"
    assert fmt_ago_short(NOW_MS - 3 * 86_400_000, NOW_S) == "3d"
    assert elide_middle("~/src/project/deep/name", 12) == "~/src…p/name"
    assert len(elide_middle("~/src/project/deep/name", 12)) == 12
    assert parse_duration("5m") == 300 and parse_duration("90s") == 90 and parse_duration("1h") == 3600
    for bad in ("0", "5x", "-5m", "2d", "5s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert build_parser().parse_args(["--rate-window", "2m"]).rate_window == 120
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--rate-window", "forever"])


def test_windows_at_a_fixed_now() -> None:
    five = resolve_window("now", NOW_S, 300)
    assert (five.start_ms, five.end_ms, five.label) == (NOW_MS - 300_000 + 1, NOW_MS + 1, "last 5 min")
    today = resolve_window("today", NOW_S, 300)
    assert today.start_ms == NOW_MS - (20 * 60 + 20) * MIN  # local midnight (UTC in tests)
    # 08:20 starts the 08:00 block (over at 13:00); 17:20 starts the running 17:00 block.
    block = resolve_window("block", NOW_S, 300, [NOW_MS - 12 * 60 * MIN, NOW_MS - 3 * 60 * MIN, NOW_MS - MIN])
    assert (block.start_ms, block.label) == (NOW_MS - (3 * 60 + 20) * MIN, "5-hour block since 17:00")
    idle = resolve_window("block", NOW_S, 300, [NOW_MS - 6 * 60 * MIN])
    assert idle.start_ms == idle.end_ms and idle.label == "5-hour block (none running)"


@pytest.mark.slow
async def test_faster_session_comes_first_selected_with_its_rate(tmp_path: Path) -> None:
    """A writer appends to two sessions at different rates; the faster one wins the top row.

    The slow one has far more tokens in all (an old 150k request), so the
    order is the rate's, not the totals'.
    """
    home = tmp_path / "home"
    fast = ClaudeWriter(home, FAST, "/home/dev/src/fast", started_ms=NOW_MS - 60 * MIN)
    slow = ClaudeWriter(home, SLOW, "/home/dev/src/slow", started_ms=NOW_MS - 60 * MIN)
    slow.request(NOW_MS - 50 * MIN, 150_000)
    fast.request(NOW_MS - 40 * MIN, 1_000)
    app = make(home)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot, app)
        table = app.query_one(SessionsTable)
        # Nothing in the rate window yet: the bigger session is on top.
        assert table.row_keys_in_order == [f"claude:{SLOW}", f"claude:{FAST}"]
        assert app.selected_key == f"claude:{SLOW}"

        # Ten requests of 1,000 in + 200 out in the last five minutes vs two.
        for i in range(10):
            fast.request(NOW_MS - 290_000 + i * 29_000, 1_000, 200)
        for i in range(2):
            slow.request(NOW_MS - 200_000 + i * 60_000, 1_000, 200)
        await refreshed(pilot, app)

        assert table.row_keys_in_order == [f"claude:{FAST}", f"claude:{SLOW}"]
        assert app.selected_key == f"claude:{FAST}" and table.cursor_row == 0
        snap = app.snapshot
        assert snap is not None
        row = snap.row(f"claude:{FAST}")
        assert row is not None and row.recent
        assert row.rate_tpm == 12_000 / 5  # 2,400 tokens per minute
        # $0.006 a request, ten in five minutes: $0.72 an hour.
        assert row.rate_usd_h == pytest.approx(0.72, abs=1e-9)
        assert cell(app, f"claude:{FAST}", "rate") == "2.40k/min"
        assert cell(app, f"claude:{SLOW}", "rate") == "480/min"
        (claude,) = [t for t in snap.totals if t.agent == "claude"]
        assert claude.rate_tpm == 2_400 + 480
        assert claude.rate_usd_h == pytest.approx(0.72 + 0.144, abs=1e-9)
        totals = app.query_one("#totals", Static).render()
        assert "2.88k/min" in str(totals) and "$0.86/h" in str(totals)

        # The user moves the cursor: from now on rows move, the cursor stays on its session.
        await pilot.press("down")
        assert app.selected_key == f"claude:{SLOW}"
        for i in range(30):
            slow.request(NOW_MS - 100_000 + i * 3_000, 1_000, 200)
        await refreshed(pilot, app)
        assert table.row_keys_in_order == [f"claude:{SLOW}", f"claude:{FAST}"]
        assert app.selected_key == f"claude:{SLOW}" and table.cursor_key == f"claude:{SLOW}"


def window_home(tmp_path: Path) -> Path:
    """One session with a request in each window: 1k now, 20k at 17:20, 100k at 08:20, 150k two
    days ago, 190k ten days ago (all input, so cost = tokens × $3/M)."""
    home = tmp_path / "home"
    w = ClaudeWriter(home, FAST, "/home/dev/src/w", started_ms=NOW_MS - 10 * 1440 * MIN)
    w.request(NOW_MS - 10 * 1440 * MIN, 190_000)
    w.request(NOW_MS - 2 * 1440 * MIN, 150_000)
    w.request(NOW_MS - 12 * 60 * MIN, 100_000)
    w.request(NOW_MS - 3 * 60 * MIN, 20_000)
    w.request(NOW_MS - MIN, 1_000)
    return home


@pytest.mark.slow
async def test_w_cycles_windows_with_exact_numbers(tmp_path: Path) -> None:
    app = make(window_home(tmp_path))
    key = f"claude:{FAST}"
    expected = [
        # window, status label, tokens, Tokens cell, Cost cell
        ("now", "window last 5 min", 1_000, "1.0k", "<$0.01"),
        ("block", "window 5-hour block since 17:00", 21_000, "21k", "$0.06"),
        ("today", "window today", 121_000, "121k", "$0.36"),
        ("week", "window 7 days", 271_000, "271k", "$0.81"),
        ("all", "window all time", 461_000, "461k", "$1.38"),
    ]
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot, app)
        assert app.monitor.window == "all"
        for name, label, tokens, tokens_cell, cost_cell in expected:
            before = app.collections
            await pilot.press("w")
            await wait_for(pilot, lambda before=before: app.collections > before, "the window's refresh")
            await pilot.pause()
            snap = app.snapshot
            assert snap is not None and snap.window is not None and snap.window.name == name
            row = snap.row(key)
            assert row is not None and row.win_tokens == tokens
            assert row.win_cost == pytest.approx(tokens * 3e-6, abs=1e-12)
            assert (cell(app, key, "tokens"), cell(app, key, "cost")) == (tokens_cell, cost_cell)
            (claude,) = [t for t in snap.totals if t.agent == "claude"]
            assert claude.tokens == tokens
            status = str(app.query_one("#status", Static).render())
            assert status.startswith(label + "  ·  ")
        # The rate never depends on the window: 1,000 tokens in 5 minutes.
        row = app.snapshot.row(key) if app.snapshot else None
        assert row is not None and row.rate_tpm == 200


async def test_context_fill_column_and_highlight(tmp_path: Path) -> None:
    home = tmp_path / "home"
    w = ClaudeWriter(home, FAST, "/home/dev/src/ctx", started_ms=NOW_MS - 10 * MIN)
    w.request(NOW_MS - 5 * MIN, 1_000)
    # The last request read 170k (10k in + 150k cache read + 10k cache write): 85 % of 200k.
    w.request(NOW_MS - 4 * MIN, 10_000, 500, cache_read=150_000, cache_write=10_000)
    unknown = ClaudeWriter(home, SLOW, "/home/dev/src/ctx2", model="claude-made-up-9", started_ms=NOW_MS)
    unknown.request(NOW_MS - 3 * MIN, 5_000)
    app = make(home)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot, app)
        snap = app.snapshot
        assert snap is not None
        row = snap.row(f"claude:{FAST}")
        assert row is not None
        assert (row.ctx_tokens, row.ctx_limit, row.ctx_pct) == (170_000, 200_000, 85.0)
        table = app.query_one(SessionsTable)
        ctx = table.get_cell(f"claude:{FAST}", "ctx")
        assert ctx.plain == "85%" and "red" in str(ctx.style)
        other = snap.row(f"claude:{SLOW}")
        assert other is not None and other.ctx_pct is None and other.ctx_limit is None
        assert table.get_cell(f"claude:{SLOW}", "ctx").plain == "?"
        body = str(app.query_one("#detail-body", Static).render())
        assert "85%  170,000 / 200,000 tokens" in body
        assert "█" * 20 + "░" * 4 in body  # 85 % of a 24-cell bar
