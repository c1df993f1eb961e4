"""Untrusted text is made inert; timestamps and counts are parsed defensively."""

from __future__ import annotations

import pytest

from agent_session.text import cap, clean_text, one_line, parse_ts_ms, to_int


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
