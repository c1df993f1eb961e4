"""The Claude scanner's own shortcuts: tool results read from bytes, deferred charges, files it cannot judge.

Each case is a transcript written line by line as the CLI lays them out, and
each is checked against the full parse (the reference) with exact numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from agent_session.model import AgentType
from agent_session.reader import TrackedFile
from agent_session.sources.base import SessionFile
from agent_session.sources.claude import ClaudeParser
from agent_session.sources.scan import scan_summary
from agent_session.workers import cold_scan

SID = "0b0e0000-1111-4222-8333-444455556666"


def _file(tmp_path: Path, lines: list[dict[str, Any] | bytes]) -> SessionFile:
    path = tmp_path / ".claude" / "projects" / "-home-u-p" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines))
    return SessionFile(path=path, agent_type=AgentType.CLAUDE, parser_cls=ClaudeParser)


def _full(sf: SessionFile) -> Any:
    p = sf.new_parser()
    p.feed(sf.path.read_bytes())
    return p.snapshot()


def _env(ts: str) -> dict[str, Any]:
    return {"cwd": "/home/u/p", "sessionId": SID, "version": "2.1.330", "gitBranch": "main", "timestamp": ts}


def _assistant(
    msg: str, req: str, ts: str, usage: tuple[int, int, int, int], blocks: list[Any]
) -> dict[str, Any]:
    i, o, cw, cr = usage
    return {
        "parentUuid": None,
        "isSidechain": False,
        "message": {
            "id": msg,
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": blocks,
            "usage": {
                "input_tokens": i,
                "output_tokens": o,
                "cache_creation_input_tokens": cw,
                "cache_read_input_tokens": cr,
            },
        },
        "requestId": req,
        "type": "assistant",
        **_env(ts),
    }


def _use(call: str, name: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": call, "name": name, "input": {"command": "ls"}}


def _result(call: str, is_error: Any, ts: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "tool_use_id": call,
        "type": "tool_result",
        "content": 'out "quoted" \\ "is_error":true',
    }
    if is_error is not None:
        block["is_error"] = is_error
    line = {
        "parentUuid": None,
        "isSidechain": False,
        "type": "user",
        "message": {"role": "user", "content": [block]},
        **_env(ts),
    }
    if extra is not None:
        line["toolUseResult"] = extra
    return line


def _prompt(text: str, ts: str) -> dict[str, Any]:
    return {
        "parentUuid": None,
        "isSidechain": False,
        "type": "user",
        "message": {"role": "user", "content": text},
        **_env(ts),
    }


def test_tool_outcomes_read_from_bytes_equal_the_parse(tmp_path: Path) -> None:
    t = "2026-11-20T10:00:0{}.000Z"
    sf = _file(
        tmp_path,
        [
            {"type": "queue-operation", "operation": "enqueue", "timestamp": t.format(0), "sessionId": SID},
            _prompt("run the tools", t.format(1)),
            _assistant("m1", "r1", t.format(2), (10, 5, 100, 0), [_use("c1", "Bash"), _use("c2", "Bash")]),
            _assistant("m1", "r1", t.format(2), (10, 5, 100, 0), [_use("c3", "Read"), _use("c4", "Grep")]),
            _result("c1", False, t.format(3)),
            _result("c2", True, t.format(3)),
            _result("c3", None, t.format(4)),  # no is_error: the outcome is "observed" or the like, as parsed
            # toolUseResult carrying its own is_error: ambiguous from bytes, so decoded.
            _result("c4", True, t.format(5), extra={"is_error": False, "stdout": "x"}),
            {
                "type": "last-prompt",
                "lastPrompt": "run the tools",
                "timestamp": t.format(6),
                "sessionId": SID,
            },
        ],
    )
    full, scan = _full(sf), scan_summary(sf)
    assert full.tool_status == {"Bash": {"ok": 1, "fail": 1}, "Read": {"ok": 1}, "Grep": {"fail": 1}}
    assert scan.tool_status == full.tool_status
    assert scan.tools == full.tools == {"Bash": 2, "Read": 1, "Grep": 1}
    # First and last lines are not messages, and still give the session its times.
    assert (scan.start_timestamp_ms, scan.end_timestamp_ms) == (
        full.start_timestamp_ms,
        full.end_timestamp_ms,
    )
    assert full.end_timestamp_ms - full.start_timestamp_ms == 6000
    assert scan.prompt_count == full.prompt_count == 1


def test_deferred_charges_keep_the_parse_order_around_a_line_the_parser_takes(tmp_path: Path) -> None:
    """A message seen again with a larger total, around a line only the parser can handle."""
    t = "2026-11-20T11:00:0{}.000Z"
    odd = _assistant("m2", "r2", t.format(3), (7, 1, 0, 0), [])
    odd["message"]["usage"]["output_tokens"] = (
        "3"  # a count written as text: the parser notes and converts it
    )
    sf = _file(
        tmp_path,
        [
            _prompt("go", t.format(0)),
            _assistant("m1", "r1", t.format(1), (100, 2, 0, 0), []),  # partial snapshot of m1
            _assistant("m3", "r3", t.format(2), (50, 5, 0, 0), []),
            odd,
            _assistant("m1", "r1", t.format(4), (100, 40, 0, 0), []),  # m1 complete: replaces its record
            _assistant("m2", "r2", t.format(5), (7, 9, 0, 0), []),  # larger than the odd line of m2
            {
                "parentUuid": None,
                "message": {
                    "role": "assistant",
                    "model": "claude-opus-4-1-20250805",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                    "content": [],
                },
                "timestamp": t.format(6),
            },
        ],
    )
    full, scan = _full(sf), scan_summary(sf)
    assert full.usage.input_tokens == 100 + 50 + 7 + 1
    assert full.usage.output_tokens == 40 + 5 + 9 + 1
    assert full.request_count == 4
    assert scan.requests == full.requests
    assert [r.output_tokens for r in scan.requests] == [40, 5, 9, 1]
    assert scan.model_usage == full.model_usage
    assert scan.models == full.models == ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"]
    assert scan.model == full.model == "claude-opus-4-1-20250805"
    assert scan.cost_usd == full.cost_usd
    assert scan.diagnostics.bad_values == full.diagnostics.bad_values != {}


def test_a_file_without_message_lines_is_judged_by_the_full_parse(tmp_path: Path) -> None:
    """No marker to visit (binary junk, only non-message records): cold_scan hands over to the parser."""
    junk = _file(tmp_path, [b"\x00\x01garbage", b"more garbage"])
    tracked = TrackedFile(junk)
    cold_scan(tracked)
    assert tracked.not_a_session() == "no valid record"
    other = tmp_path / "other"
    only_meta = _file(other, [{"type": "summary", "summary": "old title", "leafUuid": "x"}])
    tracked = TrackedFile(only_meta)
    cold_scan(tracked)
    snap = tracked.snapshot()
    assert snap.diagnostics.lines_read == 1
    assert snap.request_count == 0
