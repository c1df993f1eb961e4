"""``scan_summary``: a session file's summary for the cold scan, without events.

Why: a cold start reads every file of the history, but the first screen and
every report only need the summary (ids, cwd, times, models, usage per
bucket and model, the per-request records, the first prompt, the tools
histogram). Each agent has a *summary scanner* (``claude_scan``,
``codex_scan``, ``gemini_scan``): a subclass of the agent's parser in summary
mode that reads the whole file once and handles the hot records on a lean
path, falling back to the parser's own code for anything unusual. A property
test checks, on generated files with every trap and on the shared samples,
that the scan equals the full parse field for field except ``files`` (empty
in a scan; the paths a call touches need its input parsed).

What it costs (``benchmarks/bench_scan.py``, 100 MB corpus, one process):
about 0.8-0.9x the CPU of the full summary parse, decoding the same lines.
Equality with the full parse pins the floor: start/end are the min/max over
*every* line's time, ``lines_read`` and the unknown-type counts cover every
line, so every line is still classified by the parsers' byte prefilters.
Jumping between usage markers (decoding a tenth of the lines) is only exact
if the full parsers adopt the same, weaker definitions.

How the store uses it (``SessionStore(follow=False, summary_scan=True)``,
see :func:`agent_session.workers.cold_scan`):

* cold path (a first parse, in the store's process or a worker): the store's
  own reader feeds the file to the scanner (torn last line held back,
  oversized lines skipped, as for the full parse); only the summary and the
  file's cursor are kept, the scanner is dropped;
* on any later change of the file, and when a user opens a session
  (``show``, the monitor's detail): a full parse from zero, whose state then
  follows appends incrementally, so ``files`` is exact from then on.

Off by default, because of the cost note above: exactness leaves the scan
no faster than the full parse (measured in ``benchmarks/RESULTS.md``).
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
    ("agent_session.sources.gemini", "GeminiParser"): (
        "agent_session.sources.gemini_scan",
        "GeminiSummaryScanner",
    ),
    ("agent_session.sources.gemini", "GeminiLegacyParser"): (
        "agent_session.sources.gemini_scan",
        "GeminiLegacySummaryScanner",
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
