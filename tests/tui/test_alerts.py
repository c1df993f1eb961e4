"""``--alert-rate``, ``--alert-cost``, ``--alert-context``: one notification and one bell per crossing."""

from __future__ import annotations

from pathlib import Path

import pytest
from claude_writer import ClaudeWriter
from tui_helpers import NOW_MS, NOW_S, FakeProbe, refreshed, settled, wait_for

from agent_session import AgentHomes
from tui_app.app import AlertLimits, MonitorApp, alert_crossings, build_parser
from tui_app.monitor import Monitor, SessionRow

SID = "cccccccc-0000-4000-8000-000000000003"
MIN = 60_000


def row(key: str, tpm: float, cost: float | None, ctx: float | None) -> SessionRow:
    return SessionRow(
        key=key,
        agent="claude",
        session_id=key,
        display_id=key,
        model="m",
        total_tokens=0,
        cost_usd=cost,
        last_activity_ms=0,
        cwd="-",
        live=False,
        is_subagent=False,
        cells=(),
        haystack="",
        rate_tpm=tpm,
        ctx_pct=ctx,
    )


def test_each_crossing_alerts_once_and_again_after_going_back_under() -> None:
    limits = AlertLimits(rate_tpm=1000, cost_usd=5.0, context_pct=80)
    above: set[tuple[str, str]] = set()
    first = alert_crossings([row("a", 1500, 1.0, 50), row("b", 10, 6.0, None)], limits, above)
    assert [(k, kind) for k, kind, _ in first] == [("a", "rate"), ("b", "cost")]
    assert first[0][2] == "a: burns 1.50k/min (limit 1.00k/min)"
    assert first[1][2] == "b: cost $6.00 (limit $5.00)"
    # Still over: no repeat. The context of a now crosses.
    again = alert_crossings([row("a", 1600, 1.0, 81), row("b", 10, 6.5, None)], limits, above)
    assert [(k, kind, t) for k, kind, t in again] == [("a", "context", "a: context 81% full (limit 80%)")]
    # a's rate drops under the limit, then crosses again: a second rate alert.
    assert alert_crossings([row("a", 900, 1.0, 81)], limits, above) == []
    assert [kind for _, kind, _ in alert_crossings([row("a", 1200, 1.0, 81)], limits, above)] == ["rate"]


def test_alert_options_parse_and_refuse_nonsense() -> None:
    args = build_parser().parse_args(
        ["--alert-rate", "20000", "--alert-cost", "2.5", "--alert-context", "90"]
    )
    assert (args.alert_rate, args.alert_cost, args.alert_context) == (20000, 2.5, 90)
    for bad in ("0", "-1", "nan", "inf", "lots"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--alert-rate", bad])


async def test_rate_alert_notifies_and_rings_once_per_crossing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    w = ClaudeWriter(home, SID, "/home/dev/src/alert", started_ms=NOW_MS - 30 * MIN)
    w.request(NOW_MS - 20 * MIN, 1_000)
    monitor = Monitor(AgentHomes.resolve(home), user_home=home, clock=lambda: NOW_S, probe=FakeProbe())
    app = MonitorApp(monitor, interval=3600.0, watch=False, alerts=AlertLimits(rate_tpm=2_000))
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, app)
        assert app.alert_log == [] and bells == []
        # 12,000 tokens in the last five minutes: 2,400 a minute, over the 2,000 limit.
        for i in range(12):
            w.request(NOW_MS - 280_000 + i * 20_000, 1_000)
        await refreshed(pilot, app)
        assert [(k, kind) for k, kind, _ in app.alert_log] == [(f"claude:{SID}", "rate")]
        assert bells == [1]
        notes = list(app._notifications)
        assert len(notes) == 1 and "burns 2.40k/min (limit 2.00k/min)" in notes[0].message
        # Still over the limit at the next refresh: no second alert.
        await refreshed(pilot, app)
        assert len(app.alert_log) == 1 and bells == [1]


async def test_the_command_palette_sets_and_clears_a_limit(tmp_path: Path) -> None:
    from textual.widgets import Input

    from tui_app.widgets.prompt import ValuePrompt

    monitor = Monitor(
        AgentHomes.resolve(tmp_path), user_home=tmp_path, clock=lambda: NOW_S, probe=FakeProbe()
    )
    app = MonitorApp(monitor, interval=3600.0, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, "the first snapshot")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Set the rate alert (off)" in titles and "Set the context alert (off)" in titles
        app.action_set_alert("rate")
        await pilot.pause()
        assert isinstance(app.screen, ValuePrompt)
        await pilot.press(*"lots", "enter")  # refused: the dialog stays, the limit does not change
        await pilot.pause()
        assert isinstance(app.screen, ValuePrompt) and app.alerts.rate_tpm is None
        app.screen.query_one(Input).value = "25000"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ValuePrompt) and app.alerts.rate_tpm == 25000
        assert "Set the rate alert (25000)" in [c.title for c in app.get_system_commands(app.screen)]
        app.action_set_alert("rate")  # an empty answer turns it off
        await pilot.pause()
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        await pilot.pause()
        assert app.alerts.rate_tpm is None
