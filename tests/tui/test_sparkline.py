"""Rate sparklines: the block scale, fitting and NO_COLOR, a table of them, and a live rising rate."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from agent_session.charts import per_minute_series
from agent_session.requests import RequestLog
from tui_app.widgets.sparkline import (
    BLOCKS,
    RateSparkline,
    fmt_rate,
    rate_cell,
    rate_line,
    sparkline_chars,
    sparkline_text,
)

NOW_MS = 1_795_551_600_000
MIN = 60_000


# --------------------------------------------------------------------------- the scale


def test_levels_scale_to_the_line_maximum() -> None:
    # ceil(7 * v / 8): 1 → 1 (▂), 2 → 2 (▃), 4 → 4 (▅), 8 → 7 (█); zero is the ▁ baseline.
    assert sparkline_chars([0, 1, 2, 4, 8], 5) == "▁▂▃▅█"
    assert sparkline_chars([0, 7, 14, 21, 28, 35, 42, 49], 8) == BLOCKS


def test_single_and_tiny_values_still_show() -> None:
    assert sparkline_chars([0, 0, 5, 0], 4) == "▁▁█▁"
    assert sparkline_chars([1, 1_000_000], 2) == "▂█"
    assert sparkline_chars([0, 0, 0], 3) == "▁▁▁"
    assert sparkline_chars([2.5, 5.0], 2) == "▅█"


def test_width_keeps_the_newest_and_pads_the_oldest() -> None:
    assert sparkline_chars([8, 0, 4, 8], 2) == "▅█"
    assert sparkline_chars([3], 4) == "   █"
    assert sparkline_chars([1, 2], 0) == ""


def test_plain_gives_str_and_colour_gives_styled_text() -> None:
    assert sparkline_text([0, 4], 2, plain=True) == "▁█"
    text = sparkline_text([0, 4], 2, plain=False, style="#ffa62b")
    assert isinstance(text, Text)
    assert text.plain == "▁█" and str(text.style) == "#ffa62b"


def test_rate_line_drops_the_sparkline_before_the_rate() -> None:
    values = [0, 1, 2, 4, 8, 16]
    assert fmt_rate(12_345.6) == "12k/min" and fmt_rate(950.4) == "950/min" and fmt_rate(-3) == "0/min"
    assert rate_line(values, 950, 20, plain=True) == "▁▂▂▃▅█ 950/min"
    # 11 cells: rate (7) + space leaves 3 < MIN_SPARK_WIDTH: the sparkline goes, the rate stays.
    assert rate_line(values, 950, 11, plain=True) == "950/min"
    assert rate_line(values, 950, 12, plain=True) == "▂▃▅█ 950/min"  # rescaled to its own top
    assert rate_line(values, 950, 5, plain=True) == "950/min"
    labelled = rate_line(values, 950, 30, plain=False, style="red", label="claude", label_style="bold")
    assert isinstance(labelled, Text)
    assert labelled.plain == "claude ▁▂▂▃▅█ 950/min"
    assert [(s.start, s.end, str(s.style)) for s in labelled.spans] == [(0, 7, "bold"), (7, 13, "red")]


def test_rate_cell_follows_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert rate_cell([0, 9], 12_300, 20) == "▁█ 12k/min"
    monkeypatch.setenv("NO_COLOR", "")  # empty means "not set" (no-color.org)
    cell = rate_cell([0, 9], 12_300, 20, style="blue")
    assert isinstance(cell, Text) and cell.plain == "▁█ 12k/min"


# --------------------------------------------------------------------------- widgets in an app

SERIES = {
    "claude/4f1c": [0, 0, 120, 800, 2400, 5100, 9000, 12_000],
    "codex/77aa": [3000, 3000, 2000, 500, 0, 0, 0, 0],
    "gemini/0b3e": [0, 0, 0, 0, 0, 0, 0, 40],
    "claude/idle": [0, 0, 0, 0, 0, 0, 0, 0],
}


class SparkTableApp(App[None]):
    """A DataTable with a rate column and the totals-bar sparklines, on fixed series."""

    CSS = "RateSparkline { width: 40; }"

    def compose(self) -> ComposeResult:
        yield RateSparkline("claude", label_style="bold", id="spark-claude")
        yield RateSparkline("codex", label_style="bold", id="spark-codex")
        yield DataTable(id="table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("session", key="session")
        table.add_column("rate", key="rate", width=22)
        style = self.theme_variables["accent"]
        for key, values in SERIES.items():
            table.add_row(key, rate_cell(values, values[-1], 22, plain=False, style=style), key=key)
        self.query_one("#spark-claude", RateSparkline).show(SERIES["claude/4f1c"], 12_000)
        self.query_one("#spark-codex", RateSparkline).show(SERIES["codex/77aa"], 0)


def test_snapshot_table_with_sparklines(snap_compare: Any) -> None:
    assert snap_compare(SparkTableApp(), terminal_size=(60, 10))


class LiveRateApp(App[None]):
    """One session's log and an injected clock, as the monitor would feed a RateSparkline."""

    def __init__(self) -> None:
        super().__init__()
        self.log_ = RequestLog()
        self.now_ms = NOW_MS

    def compose(self) -> ComposeResult:
        yield RateSparkline("claude", plain=True)

    def tick(self) -> None:
        series = per_minute_series(self.log_, self.now_ms, 10)
        self.query_one(RateSparkline).show(series, self.log_.tokens_per_minute(self.now_ms, 1))


async def test_receiving_requests_shows_a_rising_sparkline() -> None:
    app = LiveRateApp()
    async with app.run_test(size=(40, 3)) as pilot:
        spark = app.query_one(RateSparkline)
        app.tick()
        await pilot.pause()
        assert str(spark.content) == "claude ▁▁▁▁▁▁▁▁▁▁ 0/min"
        for minute in range(1, 6):
            app.now_ms += MIN
            # A request half a minute back: minute k carries 100·k tokens.
            app.log_.append(app.now_ms - 30_000, "claude-sonnet-4-5", (100 * minute, 0, 0, 0, 0))
            app.tick()
            await pilot.pause()
        assert spark.values == (0, 0, 0, 0, 0, 100, 200, 300, 400, 500)
        assert spark.rate == 500
        assert str(spark.content) == "claude ▁▁▁▁▁▃▄▆▇█ 500/min"
        drawn = str(spark.content).split()[1]
        levels = [BLOCKS.index(c) for c in drawn]
        assert levels[5:] == sorted(levels[5:]) and levels[-1] == 7 and levels[0] == 0


class ThemedApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RateSparkline("codex", plain=False)


async def test_theme_switch_recolours_the_sparkline() -> None:
    app = ThemedApp()
    async with app.run_test(size=(40, 3)) as pilot:
        spark = app.query_one(RateSparkline)
        spark.show([0, 5, 10, 20], 20)
        await pilot.pause()
        before = spark.content
        assert isinstance(before, Text)
        assert str(before.spans[-1].style) == app.theme_variables["accent"]
        app.theme = "nord" if app.theme != "nord" else "gruvbox"
        await pilot.pause()
        after = spark.content
        assert isinstance(after, Text)
        assert str(after.spans[-1].style) == app.theme_variables["accent"] != str(before.spans[-1].style)


async def test_narrow_sparkline_keeps_the_rate() -> None:
    app = LiveRateApp()
    async with app.run_test(size=(16, 3)) as p:
        app.log_.append(app.now_ms, "m", (2000, 0, 0, 0, 0))
        app.tick()
        await p.pause()
        # 16 cells: "claude " (7) + "2.0k/min" (8) leave no room for a sparkline.
        assert str(app.query_one(RateSparkline).content) == "claude 2.0k/min"


async def test_no_color_env_draws_plain_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    class DefaultApp(App[None]):
        def compose(self) -> ComposeResult:
            yield RateSparkline("gemini", label_style="bold")

    app = DefaultApp()
    async with app.run_test(size=(40, 3)) as pilot:
        spark = app.query_one(RateSparkline)
        spark.show([0, 1, 3], 3)
        await pilot.pause()
        assert spark.content == "gemini ▁▄█ 3/min"  # a str: no style at all; ceil(7/3) = 3 → ▄
