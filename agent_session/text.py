"""Helpers for untrusted text and timestamps found in session files.

Session text comes from models and tool output. Anything we keep is capped,
and anything we show is stripped of terminal control sequences first, so a
transcript can never retitle, clear or hyperlink the user's terminal.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .errors import InvalidArgument

__all__ = [
    "MAX_TS_MS",
    "MIN_TS_MS",
    "argument_type",
    "cap",
    "clean_text",
    "display_width",
    "dump_json",
    "inert_json",
    "one_line",
    "pad",
    "parse_interval",
    "parse_time_bound",
    "parse_ts_ms",
    "to_int",
]

# CSI, OSC (terminated by BEL or ST), other ESC sequences, C0/C1 controls except
# \n and \t, DEL, and bidi overrides/isolates that can reorder what is shown.
_CONTROL_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC
    r"|\x1b[@-Z\\-_]?"  # other escapes / lone ESC
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 (but \t \n) and C1 controls
    r"|[\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, overrides and isolates
)


_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Remove terminal control sequences and bidi overrides; keep newlines and tabs.

    Lone surrogates (undecodable bytes in a file name) become U+FFFD: they
    cannot be encoded, so printing them would crash the writer.
    """
    if not text:
        return text
    if text.isprintable():
        return text
    out = _CONTROL_RE.sub("", text.replace("\r\n", "\n"))
    if not out.isascii() and _SURROGATE_RE.search(out):
        out = _SURROGATE_RE.sub("\ufffd", out)
    return out


#: UTF-8 of C1 controls (a terminal may run U+009B as CSI), bidi marks, overrides and
#: isolates, and line/paragraph separators: JSON allows all of them raw inside strings.
_UNSAFE_UTF8 = re.compile(rb"\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def _escape_unsafe(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def inert_json(data: bytes) -> bytes:
    """Encoded JSON with every character that could steer a terminal written as a ``\\uXXXX`` escape.

    orjson escapes only C0 controls; JSON printed to a terminal must not carry
    C1 controls or bidi overrides raw either. The data decodes to the same values.
    """
    return data if data.isascii() else _UNSAFE_UTF8.sub(_escape_unsafe, data)


def cap(text: str | None, limit: int) -> str | None:
    """Bound stored text, marking the cut so nobody mistakes it for the whole."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more chars]"


def one_line(text: str | None, limit: int = 200) -> str | None:
    """A single display line: control sequences gone, whitespace folded, capped.

    Only a window of the text is looked at: a 50 MB prompt must not be split
    into millions of words to show its first 200 characters.
    """
    if text is None:
        return None
    window = max(limit, 64) * 8
    head = text if len(text) <= window else text[:window]
    flat = " ".join(clean_text(head).split())
    if len(head) < len(text) and len(flat) <= limit:
        flat += "…"  # the rest is cut, however short the window folded down to
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


#: Times outside [2000, 3000) are junk: no agent session was recorded then,
#: and far-off ones break date formatting (``datetime`` stops at year 9999,
#: orjson at 64-bit integers), so one bad line could take down every view.
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 32_503_680_000_000


def _plausible(ms: int) -> int | None:
    return ms if MIN_TS_MS <= ms < MAX_TS_MS else None


def parse_ts_ms(value: Any) -> int | None:
    """ISO-8601 string, epoch seconds or epoch milliseconds -> epoch ms (UTC), or None when implausible."""
    if type(value) is str:  # the common case first: every record's timestamp goes through here
        if len(value) < 10:
            return None
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        try:
            return _plausible(int(dt.timestamp() * 1000))
        except (OverflowError, OSError, ValueError):
            return None
    if value is None or isinstance(value, bool | str):
        return None
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        # Heuristic: before 1e11 is seconds (year 5138 in ms would be absurd).
        ms = value * 1000 if abs(value) < 1e11 else value
        try:
            return _plausible(int(ms))
        except (OverflowError, ValueError):
            return None
    return None


def to_int(value: Any) -> int:
    """A token count from untrusted JSON: ints as is, numeric strings parsed, junk and negatives to 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if 0 <= value < 1 << 53 else 0
    if isinstance(value, float):
        return int(value) if 0 <= value < 9e15 else 0
    if isinstance(value, str):
        try:
            n = int(value.strip())
        except ValueError:
            return 0
        return n if 0 <= n < 1 << 53 else 0
    return 0


def dump_json(value: Any, *, compact: bool = False) -> bytes:
    """JSON for the terminal or a pipe; never fails on what a file system may hold.

    A file name with bytes that are not UTF-8 reaches us as a string with lone
    surrogates, which orjson refuses and strict JSON readers reject even when
    escaped: those characters are written as ``?`` (the name stays readable,
    the output stays valid UTF-8 JSON). Characters that could steer a
    terminal the JSON is printed on are written as ``\\uXXXX`` escapes (orjson
    escapes only C0 controls): the data is the same, the output inert.
    """
    try:
        if compact:
            data = orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
        else:
            data = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        text = json.dumps(value, indent=None if compact else 2, ensure_ascii=False) + "\n"
        data = text.encode("utf-8", errors="replace")
    return inert_json(data)


# ------------------------------------------------------------------ terminal width


def _char_width(ch: str) -> int:
    # Combining marks, variation selectors, zero-width joiners and other format
    # characters take no cell of their own; East Asian wide and fullwidth
    # characters (CJK, most emoji) take two.
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    if "\U0001f3fb" <= ch <= "\U0001f3ff":
        return 0  # skin-tone modifier: drawn inside the emoji before it
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes, for text already passed through :func:`clean_text`.

    ``len()`` counts code points: a column of CJK names or emoji padded by it
    drifts right by one cell per wide character. This is the rule terminals
    follow for the common cases (it does not model every emoji sequence).
    """
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal cells (``str.ljust`` by display width)."""
    return text + " " * max(0, width - display_width(text))


# ------------------------------------------------------------------ user-typed values

_AGE_RE = re.compile(r"(\d+)\s*([smhdw])")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: Ages further back than this are typing mistakes (and ``999999d`` overflows a datetime).
MAX_AGE_DAYS = 36_500
_BARE_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_time_bound(value: str, *, end: bool = False, now: datetime | None = None) -> int:
    """``--since``/``--until`` values -> epoch ms; raises :class:`InvalidArgument`.

    Accepts an age (``90m``, ``12h``, ``7d``, ``2w``: that long before now, at
    most 100 years), a date (``2026-11-01``, local midnight) or an ISO time
    (``2026-11-01T09:30``, local unless it names its zone). With ``end=True``
    a bare date means the *end* of that day, so ``--until 2026-11-01``
    includes the first of November, as a person reading it expects.
    """
    text = value.strip()
    m = _AGE_RE.fullmatch(text)
    now = now if now is not None else datetime.now(UTC)
    if m:
        seconds = int(m.group(1)) * _AGE_UNITS[m.group(2)]
        if seconds > MAX_AGE_DAYS * 86400:
            raise InvalidArgument(f"age too large: {value!r} (at most {MAX_AGE_DAYS}d)")
        return int((now - timedelta(seconds=seconds)).timestamp() * 1000)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"not a date, time or age (like 2026-11-01, 7d or 12h): {value!r}") from None
    try:
        if dt.tzinfo is None:
            dt = dt.astimezone()  # a naive date or time is the user's local time
        if end and _BARE_DATE_RE.fullmatch(text):
            dt = (dt.replace(tzinfo=None) + timedelta(days=1)).astimezone()
        return int(dt.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise InvalidArgument(f"date out of range: {value!r}") from None


#: Intervals outside this range are mistakes: below it a refresh loop only burns
#: CPU, above it a monitor looks frozen.
MIN_INTERVAL = 0.1
MAX_INTERVAL = 86_400.0


def argument_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that turns :class:`InvalidArgument` into a one-line usage error (exit 2)."""
    import argparse

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except InvalidArgument as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in its fallback message
    return convert


def parse_interval(value: str, *, minimum: float = MIN_INTERVAL, maximum: float = MAX_INTERVAL) -> float:
    """A refresh interval in seconds within ``[minimum, maximum]``; raises :class:`InvalidArgument`.

    ``float()`` alone takes ``nan``, ``inf``, ``-1`` and ``0``: the first and
    last make a refresh loop spin, ``inf`` makes ``sleep`` raise in a
    background thread (a monitor that silently never refreshes again), and a
    negative sleep raises too. All are refused up front.
    """
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidArgument(f"not a number of seconds: {value!r}") from None
    if not math.isfinite(seconds) or not minimum <= seconds <= maximum:
        raise InvalidArgument(f"interval must be between {minimum:g} and {maximum:g} seconds, not {value!r}")
    return seconds
