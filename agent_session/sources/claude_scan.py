"""Claude Code summary scanner: the cold-scan path for one transcript.

Why a separate path: on a cold start every file of the history is read, and
the parser's per-record Python (envelope, usage, tool classification and path
extraction) was most of the time. The scanner reads the file's bytes once,
lets the parser's byte prefilter skip the lines a summary never needs
(non-message records, tool results, attachments: most of the bytes), decodes
only the rest, and handles the hot record (an assistant block line) on a lean
path: the checks that could make it a "bad value" run first and, if anything
is unusual, the line goes through the parser's own ``handle`` instead, so
diagnostics are the parser's. Everything is the parser's state, so the
result is the parser's summary, field for field, with one exception:

* ``files`` stays empty: the paths a call touches need its input parsed
  (shell commands, patches); that is left to the full parse, which the store
  runs for the session a user opens and for files that grow while watched.
  ``tools`` (the histogram) *is* exact: tool names are counted from the same
  decoded blocks, once per call id.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import ToolCategory
from .base import _MAX_COUNT
from .claude import _SYNTHETIC_MODEL, _TS_KEY, ClaudeParser

__all__ = ["ClaudeSummaryScanner"]

_TOOL_BLOCKS = ("tool_use", "server_tool_use")
#: The CLI's own time format; only such strings are compared as text (see ``_inside``).
_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d\.\d{3}Z")


class ClaudeSummaryScanner(ClaudeParser):
    """A :class:`ClaudeParser` in summary mode with a lean path for assistant lines."""

    def __init__(self, path: Any, **kwargs: Any) -> None:
        kwargs["detail"] = False
        super().__init__(path, **kwargs)
        # Two accepted times in the CLI's format, so within [first, last] for good
        # (the range only widens): a time between them changes neither end.
        self._lo_raw: str | None = None
        self._hi_raw: str | None = None

    # ----------------------------------------------------------------- times
    def _inside(self, raw: Any) -> bool:
        """True when ``raw`` is a valid time between two accepted ones: it cannot move start or end.

        Parsing every line's time was a tenth of the scan; most lines of a
        transcript fall inside the range already seen. Text order is time order
        only for one fixed format, and only a real clock reading may be skipped
        (a junk time must reach the parser, which notes it), so the string must
        be canonical and in the same hour as a bound (its date and hour are then valid).
        """
        lo, hi = self._lo_raw, self._hi_raw
        if lo is None or hi is None or type(raw) is not str or not lo <= raw <= hi:
            return False
        head = raw[:13]
        return (head == lo[:13] or head == hi[:13]) and _CANONICAL_TS.fullmatch(raw) is not None

    def _accept(self, raw: Any, ts: int | None) -> None:
        """Remember ``raw`` as a bound if the parser took it (valid, canonical, not in the future)."""
        if ts is None or type(raw) is not str or self._first_ms is None or self._last_ms is None:
            return
        if not self._first_ms <= ts <= self._last_ms or _CANONICAL_TS.fullmatch(raw) is None:
            return
        if self._lo_raw is None or raw < self._lo_raw:
            self._lo_raw = raw
        if self._hi_raw is None or raw > self._hi_raw:
            self._hi_raw = raw

    def _see_prefix_timestamp(self, line: bytes, scope_end: int) -> None:
        pos = line.find(_TS_KEY, 0, scope_end)
        if pos < 0:
            return
        start = pos + len(_TS_KEY)
        end = line.find(b'"', start, start + 40)
        if end > 0:
            raw = line[start:end].decode("ascii", "replace")
            if self._inside(raw):
                return
            ts = self._ts(raw)
            self.see_timestamp(ts)
            self._accept(raw, ts)

    # --------------------------------------------------------------- records

    def handle(self, record: dict[str, Any]) -> None:
        if record.get("type") == "assistant" and self._lean_assistant(record):
            return
        super().handle(record)

    def _lean_assistant(self, record: dict[str, Any]) -> bool:
        """Handle a well-formed assistant line exactly as ``handle`` would; False (untouched) otherwise."""
        message = record.get("message")
        if type(message) is not dict:
            return False
        usage = message.get("usage")
        model = message.get("model")
        if type(usage) is not dict or type(model) is not str or not model or model == _SYNTHETIC_MODEL:
            return False
        get = usage.get
        i, o, cw, cr = (
            get("input_tokens"),
            get("output_tokens"),
            get("cache_creation_input_tokens"),
            get("cache_read_input_tokens"),
        )
        for v in (i, o, cw, cr):
            if v is not None and not (type(v) is int and 0 <= v < _MAX_COUNT):
                return False
        details = get("output_tokens_details")
        thinking = 0
        if type(details) is dict:
            t = details.get("thinking_tokens")
            if t is not None:
                if not (type(t) is int and 0 <= t < _MAX_COUNT):
                    return False
                thinking = t
        counts = (i or 0, o or 0, cw or 0, cr or 0)
        msg_id = message.get("id")
        req_id = record.get("requestId")
        key: tuple[str, ...] | None = None
        if isinstance(msg_id, str) and msg_id:
            key = (msg_id, req_id) if isinstance(req_id, str) and req_id else (msg_id,)
        total = counts[0] + counts[1] + counts[2] + counts[3]
        best = self._best_totals.get(key) if key is not None else None
        charge = best is None or total > best  # else another block line of the message was charged
        raw_ts = record.get("timestamp")
        if charge or not self._inside(raw_ts):
            ts = self._ts(raw_ts)
            if ts is None:
                return False  # no or bad time: the parser notes it
        else:
            ts = None  # a time inside the seen range, on a line that charges nothing: no effect
        content = message.get("content")
        # From here on: the same effects as handle() -> _see_envelope + _assistant.
        self._see_envelope(record, ts)
        self._accept(raw_ts, ts)
        if charge:
            if key is not None:
                self._best_totals[key] = total
            response_id = req_id if isinstance(req_id, str) else msg_id if isinstance(msg_id, str) else None
            self.record_counts(key, model, (*counts, min(thinking, counts[1])), ts, response_id)
        if type(content) is list:
            for block in content:
                if type(block) is dict and block.get("type") in _TOOL_BLOCKS:
                    self._tool_call(block, ts)
        return True

    def _tool_call(self, block: dict[str, Any], ts: int | None) -> None:
        """Count the call by name (once per id); its paths are left to the full parse."""
        name = block.get("name")
        name = name if isinstance(name, str) and name else "unknown"
        call_id = block.get("id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        self.start_tool(call_id, name, category=ToolCategory.TOOL)
