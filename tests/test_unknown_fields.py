"""``diagnostics.unknown_fields``: a CLI release that adds fields to usage records is visible.

Files the real CLIs wrote and the project's own generated shapes have none;
the same sessions with a field added to every usage object report it, by
record kind, on a bounded sample of the records, and their totals do not move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_session import AgentHomes, SessionStore
from agent_session.model import AgentSession
from agent_session.sources import base
from agent_session.sources.base import SessionParser
from agent_session.sources.claude import ClaudeParser
from agent_session.sources.codex import CodexParser
from agent_session.sources.gemini import GeminiParser
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

START_MS = 1_795_000_000_000


def _claude_usage(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    msg = obj.get("message")
    if obj.get("type") == "assistant" and isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
        yield msg["usage"]


def _codex_usage(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    payload = obj.get("payload")
    info = payload.get("info") if isinstance(payload, dict) else None
    if isinstance(info, dict):
        for key in ("total_token_usage", "last_token_usage"):
            if isinstance(info.get(key), dict):
                yield info[key]


def _gemini_usage(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if obj.get("type") == "gemini" and isinstance(obj.get("tokens"), dict):
        yield obj["tokens"]


Case = tuple[type[SessionParser], Callable[[SynthSpec], Iterator[bytes]], Callable[..., Iterator[Any]], str]
CASES: dict[str, Case] = {
    "claude": (ClaudeParser, synth_claude.session_lines, _claude_usage, "claude.usage"),
    "codex": (CodexParser, synth_codex.session_lines, _codex_usage, "codex.usage"),
    "gemini": (GeminiParser, synth_gemini.session_lines, _gemini_usage, "gemini.tokens"),
}


def _spec(turns: int) -> SynthSpec:
    return SynthSpec(
        session_id="0199c0de-0000-7bbb-8ccc-ddddeeeeffff",
        cwd="/home/dev/src/app",
        start_ms=START_MS,
        models=("model-a",),
        turns=turns,
    )


def _parse(parser_cls: type[SessionParser], data: bytes) -> AgentSession:
    parser = parser_cls("/nowhere/rollout-2026-01-01T00-00-00-0199c0de-0000-7bbb-8ccc-ddddeeeeffff.jsonl")
    parser.feed(data)
    return parser.snapshot()


def _with_new_field(lines: list[bytes], usages: Callable[..., Iterator[Any]]) -> tuple[bytes, int]:
    """The lines with ``flash_tokens`` added to every usage object; and how many got it."""
    out, n = [], 0
    for line in lines:
        obj = orjson.loads(line)
        for usage in usages(obj):
            usage["flash_tokens"] = 7
            n += 1
        out.append(orjson.dumps(obj) + b"\n")
    return b"".join(out), n


@pytest.mark.parametrize("agent", sorted(CASES))
def test_generated_shapes_have_no_unknown_fields(agent: str) -> None:
    parser_cls, lines, _usages, _kind = CASES[agent]
    session = _parse(parser_cls, b"".join(lines(_spec(6))))
    assert session.usage.total_tokens > 0
    assert session.diagnostics.unknown_fields == {}


@pytest.mark.parametrize("agent", sorted(CASES))
def test_a_new_usage_field_is_named_and_totals_do_not_move(
    agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "FIELD_CHECKS_FIRST", 10**6)  # every record checked: exact counts
    parser_cls, lines, usages, kind = CASES[agent]
    plain = list(lines(_spec(6)))
    changed, n = _with_new_field(plain, usages)
    assert n > 0
    before = _parse(parser_cls, b"".join(plain))
    after = _parse(parser_cls, changed)
    assert after.usage == before.usage
    assert after.model_usage == before.model_usage
    assert after.diagnostics.unknown_fields[kind] == {"flash_tokens": n}
    assert not before.diagnostics.has_problems and not after.diagnostics.has_problems


def test_checks_are_sampled_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "FIELD_CHECKS_FIRST", 3)
    monkeypatch.setattr(base, "FIELD_CHECKS_EVERY", 4)
    parser = ClaudeParser("/nowhere/s.jsonl")
    for i in range(1, 41):
        fields = {f"f{i:02d}_{j}": 1 for j in range(3)} if i == 20 else {"extra": 1}
        parser.check_fields("kind", fields, frozenset())
    # Checked: records 1-3, then every 4th (4, 8, ..., 40): 3 + 10 = 13 records,
    # one of which (20) carried three other names.
    seen = parser.snapshot().diagnostics.unknown_fields["kind"]
    assert seen == {"extra": 12, "f20_0": 1, "f20_1": 1, "f20_2": 1}
    diag = parser.snapshot().diagnostics
    for k in range(40):
        diag.unknown_field_names(f"k{k}", [f"name{n}" for n in range(30)])
    assert len(diag.unknown_fields) == 32
    assert all(len(v) <= 16 for v in diag.unknown_fields.values())


def test_files_the_real_clis_wrote_have_no_unknown_fields(real_home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(real_home))
    store.refresh()
    sessions = store.sessions()
    assert {s.agent_type.value for s in sessions} == {"claude", "codex", "gemini"}
    for s in sessions:
        assert s.diagnostics.unknown_fields == {}, s.path
