"""Untrusted text is made inert; timestamps and counts are parsed defensively."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from agent_session import AgentSessionError, InvalidArgument
from agent_session.text import (
    cap,
    clean_text,
    display_width,
    one_line,
    pad,
    parse_interval,
    parse_time_bound,
    parse_ts_ms,
    to_int,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain", "plain"),
        ("a\x1b[31mred\x1b[0m b", "ared b"),
        ("title\x1b]0;owned\x07 after", "title after"),
        ("link \x1b]8;;http://x\x1b\\text\x1b]8;;\x1b\\", "link text"),
        ("clear\x1b[2J\x1b[H", "clear"),
        ("bell\x07 nul\x00 del\x7f c1\x9b", "bell nul del c1"),
        ("bidi \u202eevil\u202c", "bidi evil"),
        ("keep\ttabs\nand lines", "keep\ttabs\nand lines"),
        ("[bold]markup[/bold]", "[bold]markup[/bold]"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_cap_and_one_line() -> None:
    assert cap("x" * 10, 4) == "xxxx… [6 more chars]"
    assert cap("short", 10) == "short"
    assert one_line("a\n  b\x1b[1m c", 100) == "a b c"
    assert one_line("y" * 50, 10) == "y" * 9 + "…"


def test_parse_ts_ms() -> None:
    assert parse_ts_ms("2026-11-24T09:15:14.016Z") == 1795511714016
    assert parse_ts_ms("2026-11-24T09:15:14+00:00") == 1795511714000
    assert parse_ts_ms(1795511714) == 1795511714000
    assert parse_ts_ms(1795511714016) == 1795511714016
    for bad in (None, "", "yesterday", True, float("nan"), {"a": 1}, "2026-13-45T00:00:00Z"):
        assert parse_ts_ms(bad) is None


def test_to_int() -> None:
    assert to_int(5) == 5
    assert to_int("12") == 12
    for bad in (-1, "x", None, True, [], 1 << 60, float("inf")):
        assert to_int(bad) == 0


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ("", 0),
        ("plain", 5),
        ("日本語", 6),  # East Asian wide: two cells each
        ("ＡＢ", 4),  # fullwidth forms
        ("cafe\u0301", 4),  # a combining accent takes no cell
        ("😀x", 3),
        ("👍🏽", 2),  # the skin-tone modifier is drawn inside the emoji
        ("a\u200db", 2),  # zero-width joiner
        ("ä", 1),
    ],
)
def test_display_width(text: str, cells: int) -> None:
    assert display_width(text) == cells


def test_pad_fills_to_cells_not_characters() -> None:
    assert pad("日本", 6) == "日本  "
    assert pad("ab", 6) == "ab    "
    assert pad("日本語語", 6) == "日本語語"  # already wider: never cut


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so bare dates have one meaning in every test run."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
NOW_MS = 1_795_003_200_000


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize(
    ("value", "end", "ms"),
    [
        ("90m", False, NOW_MS - 90 * 60_000),
        ("12h", False, NOW_MS - 12 * 3_600_000),
        ("7d", False, NOW_MS - 7 * 86_400_000),
        (" 2w ", False, NOW_MS - 14 * 86_400_000),
        ("36500d", False, NOW_MS - 36_500 * 86_400_000),
        ("2026-11-18", False, 1_794_960_000_000),  # local (here UTC) midnight
        ("2026-11-18", True, 1_794_960_000_000 + 86_400_000),  # --until: the whole day included
        ("2026-11-18T10:30", True, 1_794_960_000_000 + 37_800_000),  # a time is taken as is
        ("2026-11-18T10:30+02:00", False, 1_794_960_000_000 + 30_600_000),
    ],
)
def test_parse_time_bound(value: str, end: bool, ms: int) -> None:
    assert datetime.fromtimestamp(NOW_MS / 1000, UTC) == NOW
    assert parse_time_bound(value, end=end, now=NOW) == ms


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("36501d", "age too large: '36501d' (at most 36500d)"),
        ("999999d", "age too large: '999999d' (at most 36500d)"),
        ("9" * 40 + "w", f"age too large: '{'9' * 40}w' (at most 36500d)"),
        ("0001-01-01", "date out of range: '0001-01-01'"),
        ("7 days", "not a date, time or age (like 2026-11-01, 7d or 12h): '7 days'"),
        ("-3d", "not a date, time or age (like 2026-11-01, 7d or 12h): '-3d'"),
    ],
)
def test_parse_time_bound_rejects(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_time_bound(value, now=NOW)
    assert str(exc.value) == message
    assert isinstance(exc.value, AgentSessionError) and isinstance(exc.value, ValueError)


def test_parse_interval() -> None:
    assert parse_interval("0.1") == 0.1
    assert parse_interval("2.5") == 2.5
    assert parse_interval("86400") == 86_400.0
    for bad in ("0", "-1", "nan", "NaN", "inf", "-inf", "1e-9", "0.09", "86400.5", "1e400"):
        with pytest.raises(InvalidArgument) as exc:
            parse_interval(bad)
        assert str(exc.value) == f"interval must be between 0.1 and 86400 seconds, not {bad!r}"
    with pytest.raises(InvalidArgument, match="not a number of seconds: 'fast'"):
        parse_interval("fast")
    assert parse_interval("0.05", minimum=0.01) == 0.05
