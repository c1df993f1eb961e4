"""Codex CLI summary scanner: the cold-scan path for one rollout.

The parser's byte prefilter already leaves most of a rollout undecoded
(reasoning, assistant messages, tool outputs). What a summary does not need
of the rest:

* the work on each tool call's input (shell scripts parsed for the files
  they read and write, patches for the files they change): calls are
  counted by name, once per call id, by the parser's own code, and
  ``files`` stays empty (left to the full parse, see ``scan.py``);
* ``item_completed`` events other than command executions;
* ``token_count`` events that re-emit the running total a usage line just
  set (one per response in current builds), recognised from their bytes.

Usage objects take a lean path when every count is a plain integer, and the
parser's checking path otherwise, so a bad value is noted exactly as the
parser notes it.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..model import ToolCategory
from .base import _MAX_COUNT
from .codex import _SKIP, _USAGE_KEYS, CodexParser, _Totals

__all__ = ["CodexSummaryScanner"]

_TOTAL_KEY = b'"total_token_usage":{'
_MODEL_KEY = b'"model":'
_MODEL_NAME_KEY = b'"model_name":'


def _object_after(line: bytes, key: bytes) -> bytes | None:
    """The bytes of a flat object (no nested ``{``) following ``key``, which ends with its ``{``."""
    start = line.find(key)
    if start < 0:
        return None
    start += len(key) - 1
    end = line.find(b"}", start)
    if end < 0 or line.find(b"{", start + 1, end) >= 0:
        return None
    return line[start : end + 1]


class CodexSummaryScanner(CodexParser):
    """A :class:`CodexParser` in summary mode that counts calls without reading their inputs."""

    single_use = True

    def __init__(self, path: Any, **kwargs: Any) -> None:
        kwargs["detail"] = False
        super().__init__(path, **kwargs)
        #: The last usage line's total object (compact JSON) and the running total it left.
        self._total_seen: tuple[bytes, _Totals | None] | None = None

    def _triage_event(self, sub: bytes, line: bytes) -> object:
        # Of the ``item_completed`` events only command executions settle a call.
        if sub == b"item_completed" and b'"CommandExecution"' not in line:
            return _SKIP
        if sub == b"token_count" and self._re_emit(line):
            return _SKIP
        return super()._triage_event(sub, line)

    def _re_emit(self, line: bytes) -> bool:
        """Whether a ``token_count`` line only repeats the running total in force.

        The CLI writes one after every response, repeating the total its
        ``token_usage_record`` just gave. Decoded, such a line changes nothing a
        summary holds (the total equals the previous one, so nothing is
        charged, and it names no model), so it is recognised from its bytes:
        the same total object, byte for byte, as the one the running total
        in force was read from (kept as the CLI's compact JSON, see
        ``_note_total``). Pure, like any triage: it only reads state.
        """
        seen = self._total_seen
        if seen is None or self._prev is not seen[1] or self._replaying:
            return False
        return (
            _object_after(line, _TOTAL_KEY) == seen[0]
            and _MODEL_KEY not in line
            and _MODEL_NAME_KEY not in line
        )

    def _note_total(self, obj: Any) -> None:
        """Remember the total object a usage line gave, as compact JSON (the CLI's own form)."""
        self._total_seen = (orjson.dumps(obj), self._prev) if type(obj) is dict else None

    def _token_count(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        super()._token_count(payload, ts_ms, replay)
        info = payload.get("info")
        self._note_total(info.get("total_token_usage") if type(info) is dict else None)

    def _usage_record(self, payload: dict[str, Any], ts_ms: int | None, replay: bool) -> None:
        super()._usage_record(payload, ts_ms, replay)
        self._note_total(payload.get("thread_token_usage"))

    def _start_call(
        self, call_id: str | None, name: str, args: dict[str, Any] | None, raw: Any, ts_ms: int | None
    ) -> None:
        self.start_tool(call_id, name, category=ToolCategory.TOOL, ts_ms=ts_ms)

    def _totals(self, obj: Any, name: str, carry: _Totals | None = None) -> _Totals | None:
        if type(obj) is dict:
            a, b, c, d, e, f = map(obj.get, _USAGE_KEYS)
            for v in (a, b, c, d, e, f):
                if v is not None and not (type(v) is int and 0 <= v < _MAX_COUNT):
                    return super()._totals(obj, name, carry)
            return (a or 0, b or 0, c or 0, d or 0, e or 0, f or 0)
        return super()._totals(obj, name, carry)
