"""Gemini CLI summary scanners (``.jsonl`` and legacy ``.json``): the cold-scan path.

Gemini sessions are small next to the other agents' (a message per line, no
tool output blocks of their own), so the scanner is the parser in summary
mode minus the per-call work a summary does not need: the files a call
touches (its arguments and result display parsed for paths). Its summary
equals the parser's field for field except ``files``, which stays empty
(left to the full parse, see ``scan.py``); the tools histogram is exact
(calls counted by name, once per call id, re-written messages included).
"""

from __future__ import annotations

from typing import Any

from ..model import ToolCategory
from .gemini import GeminiLegacyParser, GeminiParser

__all__ = ["GeminiLegacySummaryScanner", "GeminiSummaryScanner"]


def _count_call(parser: GeminiParser, mid: str, index: int, call: dict[str, Any]) -> None:
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = f"{mid}#{index}"
    name = call.get("name")
    name = name if isinstance(name, str) and name else "unknown"
    if not parser.has_tool(call_id):
        parser.start_tool(call_id, name, category=ToolCategory.TOOL)


class GeminiSummaryScanner(GeminiParser):
    """A :class:`GeminiParser` in summary mode that counts calls without reading their arguments."""

    def __init__(self, path: Any, **kwargs: Any) -> None:
        kwargs["detail"] = False
        super().__init__(path, **kwargs)

    def _tool(
        self, mid: str, index: int, call: dict[str, Any], msg_ts: int | None, from_checkpoint: bool
    ) -> None:
        _count_call(self, mid, index, call)


class GeminiLegacySummaryScanner(GeminiLegacyParser):
    """The legacy whole-document form of :class:`GeminiSummaryScanner`."""

    def __init__(self, path: Any, **kwargs: Any) -> None:
        kwargs["detail"] = False
        super().__init__(path, **kwargs)

    def _tool(
        self, mid: str, index: int, call: dict[str, Any], msg_ts: int | None, from_checkpoint: bool
    ) -> None:
        _count_call(self, mid, index, call)
