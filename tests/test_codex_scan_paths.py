"""The Codex scanner's shortcut: a token_count event that re-emits the running total is not decoded.

Lines are written as the CLI (serde, fixed field order) writes them; the full
parse is the reference, with exact numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_session.model import AgentType
from agent_session.sources.base import SessionFile
from agent_session.sources.codex import CodexParser
from agent_session.sources.codex_scan import CodexSummaryScanner
from agent_session.sources.scan import scan_summary, scanner_for

SID = "01a20cd6-9a65-7f30-8cb7-e8576514cb6b"


def _usage(i: int, cached: int, out: int, reasoning: int) -> dict[str, int]:
    return {
        "input_tokens": i,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": 0,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": i + out,
    }


def _line(ts: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": f"2026-11-24T09:15:{ts:02d}.000Z", "type": kind, "payload": payload}


def _record(ts: int, thread: dict[str, int], usage: dict[str, int]) -> dict[str, Any]:
    return _line(
        ts,
        "token_usage_record",
        {"thread_id": SID, "response_id": f"resp_{ts}", "usage": usage, "thread_token_usage": thread},
    )


def _count(ts: int, total: dict[str, int], last: dict[str, int], **info: Any) -> dict[str, Any]:
    return _line(
        ts,
        "event_msg",
        {
            "type": "token_count",
            "info": {
                "total_token_usage": total,
                "last_token_usage": last,
                "model_context_window": 258400,
                **info,
            },
            "rate_limits": {"limit_id": "codex", "primary": None},
        },
    )


def _file(tmp_path: Path, lines: list[dict[str, Any]]) -> SessionFile:
    path = (
        tmp_path / ".codex" / "sessions" / "2026" / "11" / "24" / f"rollout-2026-11-24T09-15-00-{SID}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return SessionFile(path=path, agent_type=AgentType.CODEX, parser_cls=CodexParser)


def _full(sf: SessionFile) -> Any:
    p = sf.new_parser()
    p.feed(sf.path.read_bytes())
    return p.snapshot()


def test_re_emitted_totals_are_skipped_and_the_result_is_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    u1, u2 = _usage(1000, 200, 50, 10), _usage(3000, 900, 70, 0)
    t1 = u1
    t2 = {k: u1[k] + u2[k] for k in u1}
    lines = [
        _line(
            0,
            "session_meta",
            {"id": SID, "timestamp": "2026-11-24T09:15:00.000Z", "cwd": "/w", "cli_version": "0.170.0"},
        ),
        _line(1, "turn_context", {"cwd": "/w", "model": "gpt-5.1-codex"}),
        _record(2, t1, u1),
        _count(3, t1, u1),  # a re-emit: skipped from its bytes
        _count(4, t1, u1, model="gpt-5.1"),  # names a model: decoded (the model in force changes)
        _record(5, t2, u2),  # charged to gpt-5.1
        _count(6, t2, u2),  # a re-emit again
        _count(
            7, {**t2, "output_tokens": t2["output_tokens"] + 5}, _usage(0, 0, 5, 0)
        ),  # a new total: decoded
    ]
    sf = _file(tmp_path, lines)
    decoded: list[bytes] = []
    real = CodexParser.decode_line

    def counting(self: CodexParser, line: bytes) -> None:
        decoded.append(line)
        real(self, line)

    monkeypatch.setattr(CodexParser, "decode_line", counting)
    scan = scan_summary(sf)
    assert type(scanner_for(sf)) is CodexSummaryScanner
    assert sum(b'"token_count"' in line for line in decoded) == 2  # of 4: the two re-emits were skipped
    decoded.clear()
    full = _full(sf)
    assert sum(b'"token_count"' in line for line in decoded) == 4
    assert scan.model_usage == full.model_usage
    assert {m: u.output_tokens for m, u in full.model_usage.items()} == {"gpt-5.1-codex": 50, "gpt-5.1": 75}
    assert scan.requests == full.requests
    assert scan.request_count == full.request_count == 3
    assert scan.cost_usd == full.cost_usd
    assert scan.model == full.model == "gpt-5.1"
