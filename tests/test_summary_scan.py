"""The cold-scan summary equals the full parse, field for field (``files`` aside), on every trap."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers.sessions import scan_comparable, spec_for, synth
from helpers.usage_corpus import TRAPS, full_parse, sample_files, session_files, write_home

from agent_session import AgentSession
from agent_session.sources.base import SessionFile
from agent_session.sources.claude_scan import ClaudeSummaryScanner
from agent_session.sources.codex_scan import CodexSummaryScanner
from agent_session.sources.gemini import GeminiLegacyParser, GeminiParser
from agent_session.sources.scan import scan_summary, scanner_for


def summary(s: AgentSession) -> dict[str, Any]:
    return scan_comparable(s)


def assert_scan_equals_full(sf: SessionFile) -> AgentSession:
    full = full_parse(sf)
    scan = scan_summary(sf)
    if isinstance(scanner_for(sf), (ClaudeSummaryScanner, CodexSummaryScanner)):
        assert scan.files == {}  # left to the full parse
    else:
        assert scan.files == full.files
    assert summary(scan) == summary(full), sf.path.name
    assert scan.requests == full.requests
    # Times: the scan's range lies inside the parse's (it reads a subset of the lines' times).
    if full.start_timestamp_ms is None:
        assert scan.start_timestamp_ms is None and scan.end_timestamp_ms is None
    else:
        assert scan.start_timestamp_ms is not None and scan.end_timestamp_ms is not None
        assert (
            full.start_timestamp_ms
            <= scan.start_timestamp_ms
            <= scan.end_timestamp_ms
            <= full.end_timestamp_ms
        )
    # Diagnostics: never more than the parse's (the same lines, or fewer, are decoded).
    for reason, n in scan.diagnostics.skipped_by_reason.items():
        assert n <= full.diagnostics.skipped_by_reason.get(reason, 0), (sf.path.name, reason)
    for field, n in scan.diagnostics.bad_values.items():
        assert n <= full.diagnostics.bad_values.get(field, 0), (sf.path.name, field)
    return scan


@pytest.mark.parametrize("seed_base", [0, 100, 200, 300])
def test_scan_equals_full_parse_on_generated_files(tmp_path: Path, seed_base: int) -> None:
    rng = random.Random(seed_base)
    # Plain sessions of every agent with varied shapes, then every trap of the corpus.
    for agent in ("claude", "codex", "gemini"):
        for k in range(4):
            n = seed_base + k * 3 + ("claude", "codex", "gemini").index(agent) + 50
            spec = spec_for(
                agent,
                n,
                seed=rng.randrange(1 << 30),
                turns=rng.randint(1, 6),
                tools_per_turn=rng.randint(0, 4),
                output_bytes=rng.choice([0, 50, 3000]),
            )
            synth(agent).write_session(tmp_path, spec)
    write_home(tmp_path, seeds=2)
    files = session_files(tmp_path)
    assert len(files) == 35
    kinds = {type(scanner_for(sf)) for sf in files}
    assert kinds == {
        ClaudeSummaryScanner,
        CodexSummaryScanner,
        GeminiParser,  # small files: the parser itself, in summary mode
        GeminiLegacyParser,
    }
    tools = 0
    for sf in files:
        tools += sum(assert_scan_equals_full(sf).tools.values())
    assert tools > 100  # the tools histogram is compared too, and is not empty


def test_every_trap_is_covered() -> None:
    agents = {agent for agent, _ in TRAPS}
    assert agents == {"claude", "codex", "gemini"}
    assert len(TRAPS) == 15


def test_scan_equals_full_parse_on_shared_samples(samples: Path) -> None:
    files = sample_files(samples)
    assert len(files) == 12
    for sf in files:
        assert_scan_equals_full(sf)


def _set_first_count(obj: Any, value: Any) -> bool:
    """Replace the first input count found in a record (depth first) by ``value``."""
    if isinstance(obj, dict):
        for key in ("input_tokens", "input"):
            if type(obj.get(key)) is int:
                obj[key] = value
                return True
        return any(_set_first_count(v, value) for v in obj.values())
    if isinstance(obj, list):
        return any(_set_first_count(v, value) for v in obj)
    return False


def test_scan_keeps_the_diagnostics_of_bad_lines(tmp_path: Path) -> None:
    """Hostile lines go through the parser's own code: same skips, bad values and last error."""
    synth("claude").write_session(tmp_path, spec_for("claude", 1, turns=3))
    synth("codex").write_session(tmp_path, spec_for("codex", 2, turns=3))
    synth("gemini").write_session(tmp_path, spec_for("gemini", 3, turns=3))
    files = session_files(tmp_path)
    assert len(files) == 3
    for sf in files:
        lines = sf.path.read_bytes().splitlines(keepends=True)
        usage_lines = [
            i
            for i, raw in enumerate(lines)
            if any(m in raw for m in (b'"usage":{', b'"tokens":{', b'"info":{'))
        ]
        bad: list[bytes] = [b"{not json\n", b"[1, 2]\n", b"\x00\x00\x00\n"]
        for value in ("1234", -5, 1.5):
            rec = orjson.loads(lines[usage_lines[-1]])
            assert _set_first_count(rec, value)
            bad.append(orjson.dumps(rec) + b"\n")
        rec = orjson.loads(lines[usage_lines[-1]])
        rec["timestamp"] = "garbage"
        bad.append(orjson.dumps(rec) + b"\n")
        sf.path.write_bytes(b"".join(lines[:-1] + bad + lines[-1:]))
        full = full_parse(sf)
        problems = full.diagnostics.bad_values
        assert problems.get("timestamp", 0) >= 1
        assert sum(n for field, n in problems.items() if "input" in field) >= 2, problems
        assert summary(scan_summary(sf)) == summary(full)


def test_scan_of_bytes_already_read(tmp_path: Path) -> None:
    path = synth("codex").write_session(tmp_path, spec_for("codex", 4, turns=2))
    (sf,) = session_files(tmp_path)
    assert sf.path == path
    data = path.read_bytes()
    assert summary(scan_summary(sf, data)) == summary(scan_summary(sf))
    # A caller that keeps a torn tail back passes bytes up to the last newline.
    torn = data + b'{"timestamp":"2026-'
    assert summary(scan_summary(sf, torn[: torn.rfind(b"\n") + 1])) == summary(full_parse(sf))
