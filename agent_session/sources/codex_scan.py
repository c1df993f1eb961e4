"""Codex CLI summary scanner: the cold-scan path for one rollout.

The parser's byte prefilter already leaves most of a rollout undecoded
(reasoning, assistant messages, tool outputs). What a summary does not need
of the rest is the work on each tool call's input: shell scripts parsed for
the files they read and write, patches parsed for the files they change.
This scanner is the :class:`CodexParser` in summary mode with that step left
out, so its summary equals the parser's field for field except ``files``,
which stays empty (left to the full parse, see ``scan.py``). The tools
histogram is exact: calls are counted by name, once per call id, by the
parser's own code. Usage objects (two per usage line, six counts each) take
a lean path when every count is a plain integer, and the parser's checking
path otherwise, so a bad value is noted exactly as the parser notes it.
"""

from __future__ import annotations

from typing import Any

from ..model import ToolCategory
from .base import _MAX_COUNT
from .codex import _USAGE_KEYS, CodexParser, _Totals

__all__ = ["CodexSummaryScanner"]


class CodexSummaryScanner(CodexParser):
    """A :class:`CodexParser` in summary mode that counts calls without reading their inputs."""

    def __init__(self, path: Any, **kwargs: Any) -> None:
        kwargs["detail"] = False
        super().__init__(path, **kwargs)

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
