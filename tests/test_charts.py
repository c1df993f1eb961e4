"""The pictures' data: per-minute series, session timelines, tool bursts and the report bar chart."""

from __future__ import annotations

from datetime import UTC

import pytest

from agent_session.charts import (
    Timeline,
    TimelinePoint,
    ToolBurst,
    bar_chart,
    bin_timeline,
    chart_rows,
    per_minute_series,
    per_minute_series_many,
    recent_rate,
    timeline_points,
    tool_bursts,
)
from agent_session.model import AgentSession, AgentType, SessionEvents, ToolEvent
from agent_session.pricing import price_requests
from agent_session.reports import ReportRow, build_report
from agent_session.requests import RequestLog

NOW = 1_795_000_000_000
MIN = 60_000
SONNET = "claude-sonnet-4-5"
OPUS = "claude-opus-4-1"


# --------------------------------------------------------------------------- per-minute series


def boundary_log() -> RequestLog:
    log = RequestLog()
    log.append(NOW, "m", (10, 5, 0, 0, 3))  # newest minute; reasoning not counted again
    log.append(NOW - MIN, "m", (100, 0, 0, 0, 0))  # exactly one minute back: the minute before
    log.append(NOW - MIN + 1, "m", (1000, 0, 0, 0, 0))  # one ms later: the newest minute
    log.append(NOW - 30 * MIN, "m", (7, 0, 0, 0, 0))  # the window's open start: out
    log.append(NOW - 30 * MIN + 1, "m", (0, 0, 20, 30, 0))  # first ms in: the oldest minute
    log.append(NOW + 1, "m", (9, 9, 9, 9, 0))  # after now (clock behind the files): out
    log.append(None, "m", (50_000, 0, 0, 0, 0))  # no time: in no window
    log.append(NOW - 10 * MIN - 30_000, "m", (1, 2, 3, 4, 0))  # mid-minute
    return log


def test_per_minute_series_boundaries() -> None:
    series = per_minute_series(boundary_log(), NOW, 30)
    expected = [0] * 30
    expected[29] = 15 + 1000
    expected[28] = 100
    expected[0] = 50
    expected[19] = 10  # (now-11m, now-10m] holds now-10m30s
    assert series == expected


def test_per_minute_series_agrees_with_tokens_per_minute() -> None:
    log = boundary_log()
    series = per_minute_series(log, NOW, 30)
    assert sum(series[-5:]) / 5 == log.tokens_per_minute(NOW, 5) == 1115 / 5
    assert sum(series) / 30 == log.tokens_per_minute(NOW, 30)


def test_per_minute_series_short_window_and_errors() -> None:
    log = boundary_log()
    assert per_minute_series(log, NOW, 2) == [100, 1015]
    assert per_minute_series(RequestLog(), NOW, 3) == [0, 0, 0]
    with pytest.raises(ValueError):
        per_minute_series(log, NOW, 0)


def test_per_minute_series_many_sums_logs() -> None:
    a, b = RequestLog(), RequestLog()
    a.append(NOW - 90_000, "m", (1, 0, 0, 0, 0))
    b.append(NOW - 90_000, "m", (0, 2, 0, 0, 0))
    b.append(NOW, "m", (0, 0, 0, 4, 0))
    assert per_minute_series_many([a, b], NOW, 3) == [0, 3, 4]
    assert per_minute_series_many([], NOW, 2) == [0, 0]


def test_recent_rate_is_tokens_per_minute() -> None:
    log = boundary_log()
    series = per_minute_series(log, NOW, 30)
    for minutes in (1, 2, 5, 30):
        assert recent_rate(series, minutes) == log.tokens_per_minute(NOW, minutes)
    assert recent_rate([4, 6], 1) == 6.0
    with pytest.raises(ValueError):
        recent_rate(series, 0)


# --------------------------------------------------------------------------- timeline


def make_session(log: RequestLog, tool_times: list[int | None] | None = None) -> AgentSession:
    events = None
    if tool_times is not None:
        events = SessionEvents(tools=[ToolEvent(tool_name="Bash", ts_ms=t) for t in tool_times])
    return AgentSession(
        agent_type=AgentType.CLAUDE, session_id="s1", path="/x.jsonl", requests=log, events=events
    )


def timeline_log() -> RequestLog:
    log = RequestLog()
    # Appended out of time order, as a re-written request can leave them.
    log.append(NOW + 2 * MIN, OPUS, (1000, 500, 0, 0, 0))  # $0.0525
    log.append(NOW, SONNET, (1000, 500, 0, 0, 0))  # $0.0105
    log.append(None, SONNET, (5, 5, 5, 5, 0))  # untimed: not on the timeline
    log.append(NOW + MIN, SONNET, (0, 0, 2000, 10_000, 0))  # $0.0105
    log.append(NOW + 3 * MIN, "my-local-model", (10, 20, 0, 0, 0))  # unpriced
    log.append(NOW + 4 * MIN, SONNET, (1000, 500, 0, 0, 0))  # $0.0105
    return log


def test_timeline_points_exact() -> None:
    log = timeline_log()
    tl = timeline_points(make_session(log))
    assert [p.ts_ms for p in tl.points] == [NOW + k * MIN for k in range(5)]
    assert [p.model for p in tl.points] == [SONNET, SONNET, OPUS, "my-local-model", SONNET]
    assert [p.buckets for p in tl.points] == [
        (1000, 500, 0, 0),
        (0, 0, 2000, 10_000),
        (1000, 500, 0, 0),
        (10, 20, 0, 0),
        (1000, 500, 0, 0),
    ]
    costs = [p.cost_usd for p in tl.points]
    assert costs[3] is None
    assert [c for c in costs if c is not None] == pytest.approx([0.0105, 0.0105, 0.0525, 0.0105], abs=1e-12)
    assert [p.cumulative_cost_usd for p in tl.points] == pytest.approx(
        [0.0105, 0.021, 0.0735, 0.0735, 0.084], abs=1e-12
    )
    assert tl.model_switches == (
        (NOW + 2 * MIN, OPUS),
        (NOW + 3 * MIN, "my-local-model"),
        (NOW + 4 * MIN, SONNET),
    )
    assert tl.untimed == 1
    assert tl.unpriced_models == ("my-local-model",)
    assert (tl.start_ms, tl.end_ms) == (NOW, NOW + 4 * MIN)
    assert tl.tool_bursts == ()


def test_timeline_cost_matches_price_requests() -> None:
    """The last running cost is the session's cost over its timed requests, priced per bucket."""
    log = timeline_log()
    tl = timeline_points(make_session(log))
    cost, unpriced = price_requests(log, AgentType.CLAUDE, start_ms=1)
    assert tl.points[-1].cumulative_cost_usd == pytest.approx(cost, abs=1e-12)
    assert unpriced == ["my-local-model"]


def test_timeline_of_empty_and_untimed_sessions() -> None:
    assert timeline_points(make_session(RequestLog())) == Timeline((), ())
    log = RequestLog()
    log.append(None, SONNET, (1, 1, 0, 0, 0))
    tl = timeline_points(make_session(log))
    assert tl.points == () and tl.untimed == 1 and tl.start_ms is None


def test_tool_bursts() -> None:
    times: list[int | None] = [1000, 2000, 3000, 20_000, 21_000, None, 53_000, 50_000, 51_000, 52_000]
    assert tool_bursts(times, gap_ms=10_000, min_calls=3) == [
        ToolBurst(1000, 3000, 3),
        ToolBurst(50_000, 53_000, 4),
    ]
    assert tool_bursts(times, gap_ms=10_000, min_calls=2) == [
        ToolBurst(1000, 3000, 3),
        ToolBurst(20_000, 21_000, 2),
        ToolBurst(50_000, 53_000, 4),
    ]
    # A gap of exactly gap_ms still joins; one ms more splits.
    assert tool_bursts([0 + 1, 10_001, 20_001], gap_ms=10_000) == [ToolBurst(1, 20_001, 3)]
    assert tool_bursts([1, 10_002, 20_003], gap_ms=10_000) == []
    assert tool_bursts([]) == []


def test_timeline_marks_tool_bursts_from_events() -> None:
    log = timeline_log()
    tl = timeline_points(make_session(log, [NOW + 5000, NOW + 6000, NOW + 9000, NOW + 3 * MIN]))
    assert tl.tool_bursts == (ToolBurst(NOW + 5000, NOW + 9000, 3),)


def point(ts: int, n: int, cum: float) -> TimelinePoint:
    return TimelinePoint(ts, "m", n, 0, 0, 0, 0.0, cum)


def test_bin_timeline_exact() -> None:
    s = NOW
    tl = Timeline(
        (point(s, 1, 0.5), point(s + 10, 2, 1.0), point(s + 25, 4, 1.5), point(s + 99, 8, 2.0)),
        (),
    )
    bins = bin_timeline(tl, 4)
    assert [(b.start_ms - s, b.input_tokens, b.requests, b.cumulative_cost_usd) for b in bins] == [
        (0, 3, 2, 1.0),
        (25, 4, 1, 1.5),
        (50, 0, 0, 1.5),  # an empty slice keeps the running cost
        (75, 8, 1, 2.0),
    ]
    # More bins than milliseconds: one bin per ms of span, never an empty tail.
    short = Timeline((point(s, 1, 0.1), point(s + 2, 1, 0.2)), ())
    assert [(b.start_ms - s, b.requests) for b in bin_timeline(short, 10)] == [(0, 1), (1, 0), (2, 1)]
    one = bin_timeline(Timeline((point(s, 5, 0.0),), ()), 80)
    assert [(b.start_ms, b.input_tokens) for b in one] == [(s, 5)]
    assert bin_timeline(Timeline((), ()), 5) == []
    with pytest.raises(ValueError):
        bin_timeline(tl, 0)


# --------------------------------------------------------------------------- bar chart

ROWS: list[tuple[str, dict[str, int]]] = [
    ("d1", {"claude": 300, "codex": 100}),
    ("d2", {"claude": 100}),
]


def test_bar_chart_plain_exact() -> None:
    assert bar_chart(ROWS, 30, 5, plain=True).split("\n") == [
        "█ claude  ▓ codex",
        "d1 │" + "█" * 16 + "▓" * 6 + " 400",
        "d2 │" + "█" * 6 + " " * 16 + " 100",
    ]


def test_bar_chart_colour_uses_agent_colours() -> None:
    out = bar_chart(ROWS, 30, 5, plain=False)
    claude = "\x1b[38;2;217;119;87m"
    codex = "\x1b[38;2;16;163;127m"
    assert out.split("\n")[1] == f"d1 │{claude}{'█' * 16}\x1b[0m{codex}{'█' * 6}\x1b[0m 400"
    assert "▓" not in out


def test_bar_chart_respects_width_and_height() -> None:
    rows = [
        (f"2026-11-{d:02d}", {"claude": d * 1000, "codex": 31_000 - d * 1000, "x": d % 3})
        for d in range(1, 31)
    ]
    for width, height in [(80, 24), (40, 10), (26, 3), (120, 40)]:
        out = bar_chart(rows, width, height, plain=True)
        lines = out.split("\n")
        assert len(lines) == min(height, 31)
        assert max(len(line) for line in lines) <= width
        assert "\x1b" not in out
    lines = bar_chart(rows, 80, 11, plain=True).split("\n")
    assert lines[0].endswith("(+20 earlier)")
    assert [line[:10] for line in lines[1:]] == [f"2026-11-{d}" for d in range(21, 31)]  # the newest kept


def test_bar_chart_dropped_when_it_does_not_fit() -> None:
    # "d1 │" + bars + " 400": 8 cells of frame, so 10 cells of bars need 18.
    assert bar_chart(ROWS, 17, 5, plain=True) == ""
    assert bar_chart(ROWS, 18, 5, plain=True).split("\n")[1] == "d1 │████████▓▓ 400"  # 7.5 rounds to even
    assert bar_chart(ROWS, 80, 1, plain=True) == ""
    assert bar_chart([], 80, 24, plain=True) == ""


def test_bar_chart_small_periods_show_and_zero_periods_do_not() -> None:
    rows = [("a", {"claude": 1_000_000}), ("b", {"claude": 1}), ("c", {})]
    lines = bar_chart(rows, 40, 5, plain=True).split("\n")
    assert lines[1] == "a │" + "█" * 32 + " 1.0M"
    assert lines[2] == "b │█" + " " * 31 + "    1"
    assert lines[3] == "c │" + " " * 32 + "    0"


def test_bar_chart_labels_are_plain_text() -> None:
    rows = [("\x1b[31mday\x1b[0m", {"evil\x1b]0;title\x07model": 5})]
    out = bar_chart(rows, 40, 3, plain=True)
    assert "\x1b" not in out and "\x07" not in out
    assert out.split("\n")[1].startswith("day │")


def test_chart_rows_from_a_breakdown_report() -> None:
    day = 86_400_000
    base = 1_795_046_400_000  # 2026-11-19 00:00 UTC
    claude, codex = RequestLog(), RequestLog()
    claude.append(base + 1000, SONNET, (100, 10, 0, 0, 5))
    claude.append(base + day + 1000, OPUS, (200, 20, 0, 1000, 0))
    codex.append(base + 2000, "gpt-5", (50, 5, 0, 0, 0))
    sessions = [
        AgentSession(agent_type=AgentType.CLAUDE, session_id="c", path="/c", requests=claude),
        AgentSession(agent_type=AgentType.CODEX, session_id="x", path="/x", requests=codex),
    ]
    report = build_report("daily", sessions, tz=UTC, breakdown=True)
    assert chart_rows(report.rows, "agent") == [
        ("2026-11-19", {"claude": 110, "codex": 55}),
        ("2026-11-20", {"claude": 1220}),
    ]
    assert chart_rows(report.rows, "model") == [
        ("2026-11-19", {SONNET: 110, "gpt-5": 55}),
        ("2026-11-20", {OPUS: 1220}),
    ]
    assert chart_rows([ReportRow("2026-11", usage=report.totals.usage)]) == [("2026-11", {"tokens": 1385})]
