"""``wants()`` is a pure prefilter: asking it never changes what a parser reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.sessions import AGENTS, comparable, spec_for, synth

from agent_session.sources.claude import ClaudeParser
from agent_session.sources.claude_scan import ClaudeSummaryScanner
from agent_session.sources.codex import CodexParser
from agent_session.sources.codex_scan import CodexSummaryScanner
from agent_session.sources.gemini import GeminiParser

PARSERS = {"claude": ClaudeParser, "codex": CodexParser, "gemini": GeminiParser}


@pytest.mark.parametrize("detail", [False, True])
@pytest.mark.parametrize("agent", AGENTS)
def test_asking_wants_about_every_line_changes_nothing(tmp_path: Path, agent: str, detail: bool) -> None:
    spec = spec_for(agent, 3, extra={"subagents": 1} if agent == "claude" else {})
    path = synth(agent).write_session(tmp_path, spec)
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    # Junk times and unknown kinds: the lines whose handling has side effects.
    lines.append(b'{"timestamp":"2999-01-01T00:00:00.000Z","type":"mystery","payload":{}}')
    lines.append(b'{"type":"summary","timestamp":"2099-01-01T00:00:00.000Z","summary":"s"}')
    plain = PARSERS[agent](path, detail=detail)
    asked = PARSERS[agent](path, detail=detail)
    verdicts = []
    for line in lines:
        before = comparable(asked.snapshot(), with_error=True)
        verdicts.append([asked.wants(line) for _ in range(3)])
        assert comparable(asked.snapshot(), with_error=True) == before
        asked.feed(line + b"\n")
        plain.feed(line + b"\n")
    assert all(len(set(v)) == 1 for v in verdicts)
    assert any(not v[0] for v in verdicts), "the prefilter skips some lines of every format"
    assert comparable(asked.snapshot(), with_error=True) == comparable(plain.snapshot(), with_error=True)
    # Claude takes the skipped summary's prefix time, Codex every envelope's leading time
    # (both are counted once, by the handling path); Gemini reads neither record's time.
    want = {"claude": 1, "codex": 1, "gemini": None}[agent]
    assert asked.snapshot().diagnostics.bad_values.get("future_timestamp") == want


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_the_scanners_prefilter_is_pure_too(tmp_path: Path, agent: str) -> None:
    """The summary scanners skip more (Codex: re-emitted totals) from state they only read."""
    scanner = {"claude": ClaudeSummaryScanner, "codex": CodexSummaryScanner}[agent]
    path = synth(agent).write_session(tmp_path, spec_for(agent, 4, turns=4))
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    plain, asked = scanner(path), scanner(path)
    skipped = 0
    for line in lines:
        verdicts = {asked.wants(line) for _ in range(3)}
        assert len(verdicts) == 1
        skipped += not verdicts.pop()
        asked.feed(line + b"\n")
        plain.feed(line + b"\n")
    assert skipped > 0
    assert comparable(asked.snapshot(), with_error=True) == comparable(plain.snapshot(), with_error=True)
