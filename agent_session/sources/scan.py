"""``scan_summary``: a session file's summary for the cold scan, without events.

Why: a cold start reads every file of the history, but the first screen and
every report only need the summary (ids, cwd, times, models, usage per
bucket and model, the per-request records, cost, the first prompt, the tools
histogram and outcomes). Claude and Codex have a *summary scanner*
(``claude_scan``, ``codex_scan``): a subclass of the agent's parser that
reads the whole file once and handles the hot records on a lean path,
falling back to the parser's own code for anything unusual. Gemini files are
small and get the parser itself, in summary mode.

The contract (``tests/test_summary_scan.py`` checks it on generated files
with every trap and on the shared samples, ``tests/test_claude_scan_paths.py``
on each shortcut):

* **exactly the full parse's**: usage per bucket and per model, the
  per-request records, request count, cost and unpriced models, models and
  the model in force, ids, cwd, branch, version, prompts (count and
  preview), the tools histogram and each call's outcome (``tool_status``);
* **a subset of it**: the time range (the scanner reads the times of the
  lines it visits and of each block's first and last line, so its
  ``[start, end]`` lies inside the parse's) and the diagnostics (only lines
  it decodes can be found bad);
* **left out**: ``files`` (the paths a call touches need its input parsed).

How much is skipped: the Claude scanner jumps between ``"role":`` markers
with ``bytes.find`` (attachments, request records and progress lines are
never looked at), reads tool results and the repeated block lines of a
message from their bytes, and defers each message's charge to one loop
(only its largest line counts); see ``benchmarks/RESULTS.md`` for figures.

How the store uses it (``SessionStore(summary_scan=True)``, see
:func:`agent_session.workers.cold_scan`):

* cold path (a first parse of a file that is not being written, in the
  store's process or a worker): the store's own reader feeds the file to the
  scanner (torn last line held back, oversized lines skipped, as for the
  full parse); only the summary and the file's cursor are kept;
* a file the scanner finds no message line in (empty, binary, only
  bookkeeping records) is handed to the full parse, which decides whether
  it is a session at all;
* on any later change of the file, and when a user opens a session
  (``show``, the monitor's detail): a full parse from zero, whose state then
  follows appends incrementally, so ``files`` and every time are exact from then on.
"""

from __future__ import annotations

import importlib

from ..model import AgentSession
from .base import SessionFile, SessionParser

__all__ = ["read_session_bytes", "scan_summary", "scanner_for"]

#: Parser class -> its scanner (module, class), imported on first use like the parsers themselves.
_SCANNERS: dict[tuple[str, str], tuple[str, str]] = {
    ("agent_session.sources.claude", "ClaudeParser"): (
        "agent_session.sources.claude_scan",
        "ClaudeSummaryScanner",
    ),
    ("agent_session.sources.codex", "CodexParser"): (
        "agent_session.sources.codex_scan",
        "CodexSummaryScanner",
    ),
}


def scanner_for(sf: SessionFile) -> SessionParser:
    """A fresh summary scanner for the file (the parser itself, in summary mode, for other parser classes)."""
    target = _SCANNERS.get((sf.parser_cls.__module__, sf.parser_cls.__qualname__))
    if target is None:
        return sf.new_parser(detail=False)
    cls: type[SessionParser] = getattr(importlib.import_module(target[0]), target[1])
    return cls(sf.path, context=sf.context)


def read_session_bytes(sf: SessionFile) -> bytes:
    """The file's bytes, decompressed for ``.jsonl.zst`` archives."""
    data = sf.path.read_bytes()
    if sf.codec == "zst":
        import zstandard

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def scan_summary(sf: SessionFile, data: bytes | None = None) -> AgentSession:
    """The summary of a whole file (``data``: its bytes, when the caller already read them).

    Raises ``OSError`` when the file cannot be read, like a full parse. The
    whole file is read, a last line without its newline included (a caller
    that keeps a torn tail back passes ``data`` up to the last newline).
    """
    if data is None:
        data = read_session_bytes(sf)
    scanner = scanner_for(sf)
    if sf.parser_cls.append_only:
        scanner.feed(data)
    else:
        scanner.feed_document(data)
    return scanner.snapshot()
