"""Codex CLI rollouts: real files, public fixtures, generated variants, AgentSight bugs §7.2/§7.5/§7.9."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from agent_session import AgentHomes, SessionStore
from agent_session.model import AgentSession, FileAccess, ToolCategory, ToolStatus
from agent_session.sources.codex import CodexParser, find_session_files, is_injected, patch_paths
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import codex as synth

KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens")
ROLLOUT = "rollout-2026-11-24T09-15-20-0199aaaa-0000-7000-8000-000000000001.jsonl"


def parse(data: bytes, *, detail: bool = False, name: str = ROLLOUT) -> AgentSession:
    parser = CodexParser(Path("/h/.codex/sessions/2026/11/24") / name, detail=detail)
    parser.feed(data)
    return parser.snapshot()


def jl(*records: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def env(ts: str, kind: str, payload: Any) -> dict[str, Any]:
    return {"timestamp": f"2026-05-12T{ts}Z", "type": kind, "payload": payload}


def usage(inp: int, cached: int, out: int, reasoning: int = 0) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def tc(ts: str, total: dict[str, int] | None, last: dict[str, int] | None = None) -> dict[str, Any]:
    info = None if total is None else {"total_token_usage": total, "last_token_usage": last or total}
    return env(ts, "event_msg", {"type": "token_count", "info": info, "rate_limits": {"primary": None}})


def ctx(ts: str, model: str, cwd: str = "/w") -> dict[str, Any]:
    return env(ts, "turn_context", {"cwd": cwd, "model": model})


def meta(ts: str, sid: str, **extra: Any) -> dict[str, Any]:
    return env(ts, "session_meta", {"id": sid, "cwd": "/w", "cli_version": "0.169.0", **extra})


def per_model(s: AgentSession) -> dict[str, tuple[int, int, int, int, int]]:
    return {m: u.as_tuple() for m, u in s.model_usage.items()}


def summary_fields(s: AgentSession) -> dict[str, Any]:
    return s.model_dump(mode="json", exclude={"events", "diagnostics"})


# ---------------------------------------------------------------- real CLI file
def test_real_codex_session_matches_truth(real_home: Path, samples: Path) -> None:
    truth = next(
        t for t in json.loads((samples / "real" / "truth.json").read_text()) if t["agent_type"] == "codex"
    )
    (sf,) = find_session_files(real_home / ".codex")
    assert str(sf.path).endswith(truth["path"]) and sf.codec is None
    data = sf.path.read_bytes()
    s = parse(data, name=sf.path.name)
    full = parse(data, detail=True, name=sf.path.name)
    assert summary_fields(s) == {**summary_fields(full), "path": s.path}
    assert s.session_id == s.conversation_id == truth["session_id"] == "01a20cd6-9a65-7f30-8cb7-e8576514cb6b"
    assert s.cwd == truth["cwd"] and s.version == "0.169.0" and s.git_branch == "main"
    assert s.parent_session_id is None
    got = s.usage.model_dump()
    assert {k: got[k] for k in KEYS} == truth["usage"]
    assert {k: got[k] for k in KEYS} == {
        "input_tokens": 3994,
        "output_tokens": 7054,
        "cache_creation_tokens": 0,
        "cache_read_tokens": 12858,
        "total_tokens": 23906,
    }
    assert s.usage.reasoning_tokens == 6860
    assert {m: {k: u.model_dump()[k] for k in KEYS} for m, u in s.model_usage.items()} == truth["model_usage"]
    assert s.models == ["gpt-5.5"] and s.model == "gpt-5.5"
    # token_usage_record lines and token_count events describe the same two responses: counted once.
    assert s.request_count == 2
    assert sum(s.tools.values()) == truth["tool_calls"] == 2
    assert sorted(s.files) == truth["files_touched"] == ["/home/dev/src/projects/alpha/README.md"]
    assert s.prompt_count == 1 and s.prompt_preview == truth["prompts"][0]
    assert full.events is not None
    assert (
        [p.text for p in full.events.prompts]
        == truth["prompts"]
        == ["List the files and show README.md. [[mock:x1]]"]
    )
    assert [(t.command, t.status, t.exit_code, t.duration_ms) for t in full.events.tools] == [
        ("ls -la", ToolStatus.OK, 0, 73),
        ("cat README.md", ToolStatus.OK, 0, 73),
    ]
    assert full.events.tools[1].paths[0].access is FileAccess.READ
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (1795511720592, 1795511720752)
    assert s.diagnostics.unknown_types == {} and s.diagnostics.lines_skipped == 0
    assert s.diagnostics.lines_read == 22


# ----------------------------------------------------------- public fixtures
def test_ccusage_token_count_fixture(samples: Path) -> None:
    path = samples / "codex" / "ccusage-token-count-fixture.jsonl"
    s = parse(path.read_bytes(), name=path.name)
    # Each event names its model; the second is charged the increase 3500-1000 / 750-250 / 425-125.
    assert per_model(s) == {
        "gpt-5.2-codex": (750, 125, 0, 250, 75),
        "gpt-5.3-codex": (2000, 300, 0, 500, 200),
    }
    assert s.model_usage["gpt-5.2-codex"].total_tokens == 1125
    assert s.model_usage["gpt-5.3-codex"].total_tokens == 2800
    # Its total_tokens field says 4200 (input + output + reasoning); the IR total is the bucket sum.
    assert s.usage.total_tokens == 3925 == 3500 + 425
    assert s.request_count == 2 and s.models == ["gpt-5.2-codex", "gpt-5.3-codex"]
    assert s.session_id == "ccusage-token-count-fixture" and s.conversation_id is None


def test_claude_code_log_main_rollout(samples: Path) -> None:
    data = (samples / "codex" / "claude-code-log-rollout-main.jsonl").read_bytes()
    s = parse(data, detail=True)
    assert s.session_id == s.conversation_id == "11111111-1111-4111-8111-111111111111"
    assert (s.cwd, s.version, s.models) == ("/workspace/synthetic-project", "0.0.0-test", ["synthetic-model"])
    assert s.tools == {"exec_command": 1, "apply_patch": 1, "mcp__synthetic__lookup": 1}
    assert s.files == {"/workspace/synthetic-project/gamma.txt": 1}
    assert s.diagnostics.unknown_types == {"future_synthetic_record": 1}
    assert s.diagnostics.lines_skipped == 0
    assert s.events is not None
    assert [p.text for p in s.events.prompts] == ["List the synthetic files."]
    by_name = {t.tool_name: t for t in s.events.tools}
    assert by_name["mcp__synthetic__lookup"].category is ToolCategory.MCP
    assert by_name["exec_command"].category is ToolCategory.SHELL
    patch = by_name["apply_patch"]
    assert patch.category is ToolCategory.EDIT
    assert [(p.path, p.access) for p in patch.paths] == [
        ("/workspace/synthetic-project/gamma.txt", FileAccess.CREATE)
    ]
    assert patch.output_preview == "Done!"
    for t in s.events.tools:
        assert t.status is ToolStatus.OK and t.duration_ms == 1000 and t.prompt_index == 0
    assert by_name["exec_command"].output_preview == "./alpha.txt\n./beta.txt"
    assert s.usage.is_zero() and s.request_count == 0
    assert summary_fields(parse(data)) == summary_fields(s)


def test_claude_code_log_subagent_rollout(samples: Path) -> None:
    s = parse((samples / "codex" / "claude-code-log-rollout-subagent.jsonl").read_bytes(), detail=True)
    assert s.session_id == "33333333-3333-4333-8333-333333333333"
    assert s.parent_session_id == "22222222-2222-4222-8222-222222222222"
    assert s.events is not None
    # The copied parent lines (earlier timestamps) are neither prompts, tools nor the start time.
    assert [p.text for p in s.events.prompts] == ["Inspect fixtures."]
    assert s.tools == {}
    assert s.start_timestamp_ms == 1767413110000  # 2026-01-03T04:05:10Z, the child's creation
    assert s.end_timestamp_ms == 1767413112000


def test_claude_code_log_legacy_rollout(samples: Path) -> None:
    s = parse((samples / "codex" / "claude-code-log-rollout-legacy.jsonl").read_bytes(), detail=True)
    assert s.session_id == s.conversation_id == "44444444-4444-4444-8444-444444444444"
    assert s.events is not None and [p.text for p in s.events.prompts] == [
        "Open the synthetic legacy session."
    ]
    assert s.prompt_count == 1
    assert s.start_timestamp_ms == s.end_timestamp_ms == 1767503167000
    assert s.usage.is_zero() and s.diagnostics.lines_skipped == 0 and s.diagnostics.unknown_types == {}


# ------------------------------------------------------------ generated files
BASE = SynthSpec(
    session_id="0199abcd-0000-7000-8000-00000000c0de",
    cwd="/home/dev/src/gen",
    start_ms=1_795_000_000_000,
    models=("gpt-5",),
    turns=3,
    tools_per_turn=2,
    output_bytes=500,
    seed=7,
)
PARENT = "0199ffff-0000-7000-8000-00000000beef"
VARIANTS: dict[str, dict[str, Any]] = {
    "one-model": {},
    "model-switches": {"models": ("gpt-5", "gpt-5-codex", "o4-mini"), "turns": 5, "tools_per_turn": 3},
    "no-tools": {"tools_per_turn": 0, "turns": 2},
    "many-tools": {"tools_per_turn": 7, "turns": 2, "seed": 11},
    "exec-style-no-user-events": {"extra": {"user_events": False}},
    "no-resume": {"extra": {"resume_turn": -1}},
    "resume-in-turn-1": {"turns": 4, "extra": {"resume_turn": 1, "resume_gap_ms": 3_600_000}},
    "subagent-replay": {"extra": {"parent_id": PARENT, "parent_model": "gpt-4.1"}},
    "fork-replay-reset": {
        "start_ms": 1_795_000_000_990,
        "extra": {"parent_id": PARENT, "fork": True, "reset_totals": True, "parent_model": "gpt-4.1"},
    },
}


def variant(name: str) -> SynthSpec:
    kw = {**BASE.__dict__, **VARIANTS[name]}
    return SynthSpec(**kw)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_generated_variant_matches_expected(name: str) -> None:
    spec = variant(name)
    data = b"".join(synth.session_lines(spec))
    s = parse(data, name=synth.session_path(Path("/h"), spec).name)
    full = parse(data, detail=True, name=synth.session_path(Path("/h"), spec).name)
    want = synth.expected(spec)
    assert per_model(s) == {m: u.as_tuple() for m, u in want.items()}
    assert s.usage.total_tokens == sum(u.total_tokens for u in want.values()) > 0
    assert summary_fields(s) == summary_fields(full)
    responses = spec.turns * (2 if spec.tools_per_turn else 1)
    assert s.request_count == responses
    assert sum(s.tools.values()) == spec.turns * spec.tools_per_turn
    assert s.prompt_count == spec.turns
    assert s.models == list(dict.fromkeys(spec.models[t % len(spec.models)] for t in range(spec.turns)))
    assert s.session_id == spec.session_id and s.cwd == spec.cwd and s.git_branch == "main"
    assert full.events is not None
    assert [p.text for p in full.events.prompts] == [
        f"Turn {t + 1}: explain src/mod_{t}.py and fix its TODOs." for t in range(spec.turns)
    ]
    assert len(full.events.tools) == sum(s.tools.values())
    for tool in full.events.tools:
        if tool.tool_name == "web_search":
            assert tool.status is ToolStatus.OBSERVED and tool.category is ToolCategory.NETWORK
        else:
            assert tool.end_ts_ms is not None and tool.exit_code is not None
            assert tool.status is (
                ToolStatus.FAIL if tool.command == "rg -n TODO src/app.py" else ToolStatus.OK
            )
    assert s.diagnostics.unknown_types == {} and s.diagnostics.lines_skipped == 0
    if "parent_id" in spec.extra:
        assert s.parent_session_id == PARENT
        assert "gpt-4.1" not in s.models and "gpt-4.1" not in s.model_usage
        assert s.start_timestamp_ms == spec.start_ms
    else:
        assert s.parent_session_id is None


def test_model_switch_shares_and_tool_files_of_generated_session() -> None:
    spec = variant("model-switches")
    s = parse(b"".join(synth.session_lines(spec)))
    # Turns 0 and 3 use gpt-5, 1 and 4 gpt-5-codex, 2 o4-mini (pinned: generation is deterministic).
    assert per_model(s) == {
        "gpt-5": (13047, 7615, 0, 16185, 2218),
        "gpt-5-codex": (8370, 4816, 0, 22720, 1306),
        "o4-mini": (5949, 2449, 0, 10970, 724),
    }
    assert s.model == "gpt-5-codex"  # turn 5 of 5 uses models[4 % 3]
    cwd = spec.cwd
    # Tool kinds cycle cat, sed, apply_patch, rg, ls, local_shell head, web_search over the 15 calls.
    assert s.files == {
        f"{cwd}/README.md": 3,
        f"{cwd}/src/mod_0.py": 1,
        f"{cwd}/notes/turn_0.md": 1,
        f"{cwd}/src/app.py": 4,
        f"{cwd}/docs/guide.md": 2,
        f"{cwd}/src/mod_2.py": 1,
        f"{cwd}/notes/turn_3.md": 1,
    }


def test_generated_resume_reemits_unchanged_total_days_later() -> None:
    spec = variant("one-model")
    lines = list(synth.session_lines(spec))
    counts = [orjson.loads(x) for x in lines if b'"token_count"' in x]
    totals = [c["payload"]["info"]["total_token_usage"] for c in counts if c["payload"]["info"]]
    assert len(totals) == 3 * 3 + 1  # per turn: two responses + one re-emit; plus the resume re-emit
    assert sum(1 for c in counts if c["payload"]["info"] is None) == 3
    s = parse(b"".join(lines))
    assert s.end_timestamp_ms is not None and s.end_timestamp_ms - spec.start_ms > 3 * 86_400_000


@pytest.mark.parametrize("name", ["model-switches", "subagent-replay", "exec-style-no-user-events"])
def test_any_split_of_the_feed_gives_the_same_session(name: str) -> None:
    spec = variant(name)
    data = b"".join(synth.session_lines(spec))
    whole = parse(data, detail=True)
    parser = CodexParser(Path("/h/.codex/sessions/2026/11/24") / ROLLOUT, detail=True)
    for line in data.splitlines(keepends=True):
        parser.feed(line)
        parser.snapshot()  # snapshots between lines must not disturb the result
    assert parser.snapshot().model_dump() == whole.model_dump()


# ---------------------------------------------------- usage rules, by hand
def test_model_switch_charges_each_model_its_increase() -> None:
    # AgentSight bug §7.2: cumulative 1100 then 2200 across a switch was reported as 3300.
    data = jl(
        meta("08:00:00.000", "0199aaaa-0000-7000-8000-000000000001"),
        ctx("08:00:01.000", "gpt-5"),
        tc("08:00:02.000", usage(1000, 0, 100), usage(1000, 0, 100)),
        ctx("08:01:00.000", "gpt-5-codex"),
        tc("08:01:02.000", usage(2000, 0, 200), usage(1000, 0, 100)),
    )
    s = parse(data)
    assert per_model(s) == {"gpt-5": (1000, 100, 0, 0, 0), "gpt-5-codex": (1000, 100, 0, 0, 0)}
    assert s.usage.total_tokens == 2200
    assert s.models == ["gpt-5", "gpt-5-codex"]


def test_reemits_rate_limit_events_resets_and_cached_mapping() -> None:
    data = jl(
        ctx("08:00:00.000", "gpt-5"),
        tc("08:00:01.000", None),
        tc("08:00:02.000", usage(1000, 400, 300, 120)),
        tc("08:00:03.000", usage(1000, 400, 300, 120)),  # unchanged: a UI refresh
        tc("08:00:04.000", None),
        tc("08:00:05.000", usage(1500, 600, 350, 130), usage(500, 200, 50, 10)),
        # Totals went down (a resume/compaction reset): the event's own last call is charged.
        tc("08:00:06.000", usage(800, 100, 90, 5), usage(800, 100, 90, 5)),
        tc("08:00:07.000", usage(800, 100, 90, 5)),
        tc("08:00:08.000", usage(900, 150, 100, 5), usage(999, 999, 999, 999)),
    )
    s = parse(data)
    # input = input - cached; cache_read = cached; output as is (reasoning inside it).
    want = (600 + 300 + 700 + 50, 300 + 50 + 90 + 10, 0, 400 + 200 + 100 + 50, 120 + 10 + 5 + 0)
    assert per_model(s) == {"gpt-5": want}
    assert s.usage.total_tokens == sum(want[:4]) == 2850
    assert s.request_count == 4


def test_first_total_above_its_last_call_charges_only_the_call() -> None:
    data = jl(ctx("08:00:00.000", "gpt-5"), tc("08:00:01.000", usage(9000, 0, 900), usage(100, 0, 10)))
    assert per_model(parse(data)) == {"gpt-5": (100, 10, 0, 0, 0)}


def test_usage_without_any_model_is_charged_to_unknown() -> None:
    s = parse(jl(tc("08:00:01.000", usage(100, 20, 10))))
    assert per_model(s) == {"unknown": (80, 10, 0, 20, 0)}
    assert s.model is None and s.models == []


def test_token_usage_records_count_when_alone_and_never_twice() -> None:
    def rec(ts: str, rid: str, used: dict[str, int], thread: dict[str, int] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"response_id": rid, "usage": used}
        if thread is not None:
            payload["thread_token_usage"] = thread
        return env(ts, "token_usage_record", payload)

    alone = jl(
        ctx("08:00:00.000", "gpt-5"),
        rec("08:00:01.000", "r1", usage(100, 40, 10), usage(100, 40, 10)),
        rec("08:00:02.000", "r2", usage(50, 10, 5), usage(150, 50, 15)),
    )
    s = parse(alone, detail=True)
    assert per_model(s) == {"gpt-5": (100, 15, 0, 50, 0)} and s.request_count == 2
    assert s.events is not None and [r.response_id for r in s.events.llm_responses] == ["r1", "r2"]
    both = jl(
        ctx("08:00:00.000", "gpt-5"),
        rec("08:00:01.000", "r1", usage(100, 40, 10), usage(100, 40, 10)),
        tc("08:00:01.500", usage(100, 40, 10)),
        rec("08:00:02.000", "r2", usage(50, 10, 5), None),  # older shape: no thread total
        tc("08:00:02.500", usage(150, 50, 15), usage(50, 10, 5)),
        tc("08:00:03.000", usage(150, 50, 15), usage(50, 10, 5)),
    )
    s = parse(both)
    assert per_model(s) == {"gpt-5": (100, 15, 0, 50, 0)} and s.request_count == 2


def test_subagent_replay_seeds_the_running_total_without_counting() -> None:
    # ccusage's loader test: child meta, parent meta, parent usage replayed in the creation second.
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": "parent-xyz"}}}
    data = jl(
        meta("08:03:00.000", "subagent-abc", source=spawn),
        meta("08:03:00.000", "parent-xyz"),
        ctx("08:03:00.000", "gpt-5.2"),
        env("08:03:00.001", "event_msg", {"type": "user_message", "message": "parent prompt"}),
        tc("08:03:00.002", usage(1000, 100, 200), usage(1000, 100, 200)),
        tc("08:03:00.003", usage(1500, 150, 300), usage(500, 50, 100)),
        env("08:04:00.000", "event_msg", {"type": "user_message", "message": "child task"}),
        tc("08:04:00.500", usage(1600, 160, 320), usage(100, 10, 20)),
        tc("08:05:00.000", usage(1650, 165, 330), usage(50, 5, 10)),
    )
    s = parse(data, detail=True)
    assert s.session_id == "subagent-abc" and s.parent_session_id == "parent-xyz"
    assert per_model(s) == {"gpt-5.2": (135, 30, 0, 15, 0)}
    assert s.events is not None and [p.text for p in s.events.prompts] == ["child task"]
    assert s.models == ["gpt-5.2"]


def test_fork_replay_with_reset_totals_counts_the_fork_only() -> None:
    data = jl(
        meta("08:03:00.000", "fork-abc", forked_from_id="parent-xyz"),
        meta("08:03:00.000", "parent-xyz"),
        tc("08:03:00.000", usage(1000, 100, 200)),
        tc("08:03:00.000", usage(1500, 150, 300), usage(500, 50, 100)),
        ctx("08:04:00.000", "gpt-5.2"),
        tc("08:04:00.000", usage(100, 10, 20)),
    )
    s = parse(data)
    assert s.parent_session_id == "parent-xyz"
    assert per_model(s) == {"gpt-5.2": (90, 20, 0, 10, 0)}


def test_second_meta_alone_marks_a_replay() -> None:
    data = jl(
        meta("08:03:00.100", "child"),
        meta("08:03:00.100", "parent"),
        ctx("08:03:00.200", "gpt-5"),
        tc("08:03:00.300", usage(5000, 0, 500)),
        tc("08:03:09.000", usage(5100, 0, 510), usage(100, 0, 10)),
    )
    s = parse(data)
    assert s.parent_session_id == "parent"
    assert per_model(s) == {"gpt-5": (100, 10, 0, 0, 0)}


# --------------------------------------------------- tools (AgentSight §7.5)
def test_freeform_patch_web_search_and_local_shell_are_recorded() -> None:
    patch = (
        "*** Begin Patch\n*** Add File: docs/new.md\n+hello\n*** Update File: src/old.py\n*** Move to: src/new.py\n"
        "@@\n-a\n+b\n*** Delete File: tmp/gone.txt\n*** Update File: /abs/cfg.toml\n@@\n x\n*** End Patch"
    )
    data = jl(
        meta("08:00:00.000", "0199aaaa-0000-7000-8000-000000000001"),
        ctx("08:00:00.500", "gpt-5", cwd="/repo"),
        env(
            "08:00:01.000",
            "response_item",
            {"type": "custom_tool_call", "name": "apply_patch", "input": patch, "call_id": "p1"},
        ),
        env(
            "08:00:02.000",
            "response_item",
            {"type": "custom_tool_call_output", "call_id": "p1", "output": "Done!"},
        ),
        env(
            "08:00:03.000",
            "response_item",
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "zstd python"},
            },
        ),
        env(
            "08:00:04.000",
            "response_item",
            {
                "type": "local_shell_call",
                "call_id": "ls1",
                "status": "completed",
                "action": {
                    "type": "exec",
                    "command": ["bash", "-lc", "cat notes.txt > copy.txt"],
                    "working_directory": "/repo/sub",
                },
            },
        ),
        env(
            "08:00:06.500",
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "ls1",
                "output": "Exit code: 2\nWall time: 1s\nOutput:\nboom",
            },
        ),
    )
    s = parse(data, detail=True)
    assert s.tools == {"apply_patch": 1, "web_search": 1, "local_shell": 1}
    assert s.files == {
        "/repo/docs/new.md": 1,
        "/repo/src/new.py": 1,
        "/repo/tmp/gone.txt": 1,
        "/abs/cfg.toml": 1,
        "/repo/sub/notes.txt": 1,
        "/repo/sub/copy.txt": 1,
    }
    assert s.events is not None
    patch_call, search, shell = s.events.tools
    assert [(p.path, p.access, p.previous_path) for p in patch_call.paths] == [
        ("/repo/docs/new.md", FileAccess.CREATE, None),
        ("/repo/src/new.py", FileAccess.RENAME, "/repo/src/old.py"),
        ("/repo/tmp/gone.txt", FileAccess.DELETE, None),
        ("/abs/cfg.toml", FileAccess.WRITE, None),
    ]
    assert (
        patch_call.command
        == "Add docs/new.md; Update src/old.py; Move to: src/new.py; Delete tmp/gone.txt; Update /abs/cfg.toml"
    )
    assert (search.status, search.command, search.category, search.call_id) == (
        ToolStatus.OBSERVED,
        "zstd python",
        ToolCategory.NETWORK,
        "ws_1",
    )
    assert (shell.status, shell.exit_code, shell.duration_ms, shell.command) == (
        ToolStatus.FAIL,
        2,
        2500,
        "cat notes.txt > copy.txt",
    )
    assert shell.category is ToolCategory.SHELL


def test_apply_patch_through_function_call_and_shell_argv() -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch"
    data = jl(
        ctx("08:00:00.000", "gpt-5", cwd="/repo"),
        env(
            "08:00:01.000",
            "response_item",
            {
                "type": "function_call",
                "name": "apply_patch",
                "arguments": json.dumps({"input": patch}),
                "call_id": "f1",
            },
        ),
        env(
            "08:00:02.000",
            "response_item",
            {
                "type": "function_call",
                "name": "shell",
                "arguments": json.dumps(
                    {"command": ["apply_patch", patch.replace("a.txt", "b.txt")], "workdir": "/other"}
                ),
                "call_id": "f2",
            },
        ),
        env(
            "08:00:03.000",
            "response_item",
            {
                "type": "function_call",
                "name": "exec_command",
                "arguments": json.dumps(
                    {"cmd": "apply_patch <<'EOF'\n" + patch.replace("a.txt", "c.txt") + "\nEOF"}
                ),
                "call_id": "f3",
            },
        ),
    )
    s = parse(data)
    assert s.files == {"/repo/a.txt": 1, "/other/b.txt": 1, "/repo/c.txt": 1}
    assert s.tools == {"apply_patch": 1, "shell": 1, "exec_command": 1}


def test_shell_tool_shapes_and_output_forms() -> None:
    old_style = json.dumps({"output": "hi\n", "metadata": {"exit_code": 3, "duration_seconds": 0.5}})
    data = jl(
        ctx("08:00:00.000", "gpt-5", cwd="/repo"),
        env(
            "08:00:01.000",
            "response_item",
            {
                "type": "function_call",
                "name": "shell",
                "arguments": json.dumps({"command": ["bash", "-lc", "cat a.md"], "workdir": "sub"}),
                "call_id": "c1",
            },
        ),
        env(
            "08:00:02.000",
            "response_item",
            {"type": "function_call_output", "call_id": "c1", "output": old_style},
        ),
        env(
            "08:00:03.000",
            "response_item",
            {
                "type": "function_call",
                "name": "shell_command",
                "arguments": json.dumps({"command": "rm b.md"}),
                "call_id": "c2",
            },
        ),
        env(
            "08:00:04.000",
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "Process exited with code 0\n"}],
            },
        ),
        env(
            "08:00:05.000",
            "response_item",
            {
                "type": "function_call",
                "name": "write_stdin",
                "arguments": json.dumps({"session_id": 1, "chars": "q"}),
                "call_id": "c3",
            },
        ),
        env(
            "08:00:06.000",
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "c3",
                "output": {"content": "denied", "success": False},
            },
        ),
        env(
            "08:00:07.000",
            "response_item",
            {
                "type": "function_call",
                "name": "view_image",
                "arguments": json.dumps({"path": "img.png"}),
                "call_id": "c4",
            },
        ),
        env(
            "08:00:08.000",
            "response_item",
            {
                "type": "function_call",
                "name": "github__create_issue",
                "arguments": "{not json",
                "call_id": "c5",
            },
        ),
    )
    s = parse(data, detail=True)
    assert s.files == {"/repo/sub/a.md": 1, "/repo/b.md": 1, "/repo/img.png": 1}
    assert s.events is not None
    c1, c2, c3, c4, c5 = s.events.tools
    assert (c1.command, c1.status, c1.exit_code, c1.output_preview) == (
        "cat a.md",
        ToolStatus.FAIL,
        3,
        "hi\n",
    )
    assert (c2.status, c2.exit_code, c2.paths[0].access) == (ToolStatus.OK, 0, FileAccess.DELETE)
    assert (c3.command, c3.status, c3.output_preview) == ("q", ToolStatus.FAIL, "denied")
    assert (c4.category, c4.status) == (ToolCategory.READ, ToolStatus.PENDING)
    assert (c5.category, c5.command) == (ToolCategory.MCP, "{not json")


def test_extended_mode_exec_events_fill_exit_codes() -> None:
    call = {
        "type": "function_call",
        "name": "exec_command",
        "arguments": json.dumps({"cmd": "make"}),
        "call_id": "e1",
    }
    data = jl(
        env("08:00:01.000", "response_item", call),
        env(
            "08:00:02.000",
            "event_msg",
            {"type": "exec_command_end", "call_id": "e1", "exit_code": 2, "aggregated_output": "err"},
        ),
        env(
            "08:00:03.000",
            "response_item",
            {"type": "function_call_output", "call_id": "e1", "output": "no header here"},
        ),
    )
    s = parse(data, detail=True)
    assert s.events is not None
    (t,) = s.events.tools
    assert (t.status, t.exit_code, t.output_preview, t.duration_ms) == (
        ToolStatus.FAIL,
        2,
        "no header here",
        2000,
    )


def test_update_plan_fills_the_plan() -> None:
    args = {
        "explanation": "steps",
        "plan": [{"step": "read", "status": "completed"}, {"step": "fix", "status": "in_progress"}],
    }
    data = jl(
        env(
            "08:00:01.000",
            "response_item",
            {"type": "function_call", "name": "update_plan", "arguments": json.dumps(args), "call_id": "u1"},
        )
    )
    s = parse(data, detail=True)
    assert s.events is not None
    assert [(p.step, p.status) for p in s.events.plan] == [("read", "completed"), ("fix", "in_progress")]
    assert s.events.tools[0].category is ToolCategory.PLAN


def test_patch_paths_relative_to_cwd_and_deduplicated() -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n*** Update File: a.py\n+*** Add File: not-a-header\n *** Delete File: ctx\n*** End Patch"
    assert [(p.path, p.access) for p in patch_paths(patch, "/r")] == [("/r/a.py", FileAccess.WRITE)]


# ---------------------------------------------------------------- prompts
@pytest.mark.parametrize(
    ("text", "injected"),
    [
        ("<environment_context>\n  <cwd>/w</cwd>\n</environment_context>", True),
        ("# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\nbody\n</INSTRUCTIONS>", True),
        ("<user_instructions>\nbe nice\n</user_instructions>", True),
        ("<skill>\n<name>x</name>\n</skill>", True),
        ("  <USER_SHELL_COMMAND>ls</user_shell_command>  ", True),
        ("<turn_aborted>\nuser interrupted\n</turn_aborted>", True),
        ("<subagent_notification>{}</subagent_notification>", True),
        ("<additional_context>\n<title>editor</title>\n</additional_context>", True),
        ("Please fix <skill> handling in parser.py", False),
        ("List the files.", False),
    ],
)
def test_injected_fragments(text: str, injected: bool) -> None:
    assert is_injected(text) is injected


def test_user_items_are_prompts_only_without_user_message_events() -> None:
    def user_item(ts: str, *texts: str) -> dict[str, Any]:
        content = [{"type": "input_text", "text": t} for t in texts]
        return env(ts, "response_item", {"type": "message", "role": "user", "content": content})

    # Older builds write the response item first, then the event: one prompt, not two.
    data = jl(
        user_item("08:00:00.000", "<environment_context>\n<cwd>/w</cwd>\n</environment_context>"),
        user_item("08:00:01.000", "fix the bug"),
        env("08:00:01.001", "event_msg", {"type": "user_message", "message": "fix the bug", "kind": "plain"}),
        env(
            "08:00:01.002",
            "event_msg",
            {"type": "user_message", "message": "<user_instructions>\nx\n</user_instructions>"},
        ),
        env(
            "08:00:01.003",
            "event_msg",
            {"type": "user_message", "message": "ctx", "kind": "environment_context"},
        ),
        env(
            "08:00:02.000",
            "response_item",
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
        ),
        user_item("08:00:03.000", "second"),
        env("08:00:03.001", "event_msg", {"type": "user_message", "message": "second"}),
    )
    for detail in (False, True):
        s = parse(data, detail=detail)
        assert (s.prompt_count, s.prompt_preview) == (2, "fix the bug")
    s = parse(data, detail=True)
    assert s.events is not None and [p.text for p in s.events.prompts] == ["fix the bug", "second"]
    # Without events (0.169 `codex exec`, legacy files) the user items are the prompts; cwd from context.
    no_events = jl(
        user_item("08:00:00.000", "<environment_context>\n<cwd>/w</cwd>\n</environment_context>"),
        user_item("08:00:01.000", "hello", "world"),
    )
    s = parse(no_events, detail=True)
    assert s.events is not None and [p.text for p in s.events.prompts] == ["hello\nworld"]
    assert s.cwd == "/w"


# --------------------------------------------------------- prefilter, bad input
def test_prefilter_skips_only_lines_summary_mode_does_not_need() -> None:
    parser = CodexParser(Path(ROLLOUT))
    head = b'{"timestamp":"2026-05-12T08:00:00.000Z",'
    skipped = [
        b'"type":"response_item","payload":{"type":"reasoning","summary":[]}}',
        b'"type":"response_item","payload":{"type":"message","id":"m","role":"developer","content":[]}}',
        b'"type":"response_item","payload":{"type":"message","role":"assistant","content":[]}}',
        b'"type":"event_msg","payload":{"type":"agent_message","message":"hi"}}',
        b'"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{}}}',
        b'"ordinal":4,"type":"world_state","payload":{"full":true}}',
        b'"type":"compacted","payload":{"message":"summary"}}',
    ]
    kept = [
        b'"ordinal":0,"type":"session_meta","payload":{"id":"x"}}',
        b'"type":"turn_context","payload":{"model":"m"}}',
        b'"type":"token_usage_record","payload":{"usage":{}}}',
        b'"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{}}}}',
        b'"type":"event_msg","payload":{"type":"user_message","message":"hi"}}',
        b'"type":"response_item","payload":{"type":"message","role":"user","content":[]}}',
        b'"type":"response_item","payload":{"type":"function_call","name":"x","arguments":"{}"}}',
        b'"type":"response_item","payload":{"type":"custom_tool_call","name":"apply_patch","input":""}}',
        b'"type":"response_item","payload":{"type":"local_shell_call","action":{}}}',
        b'"type":"response_item","payload":{"type":"web_search_call","action":{}}}',
        # Tool outputs and end events give the summary each call's outcome (``tool_status``).
        b'"type":"response_item","payload":{"type":"function_call_output","call_id":"c","output":"x"}}',
        b'"type":"event_msg","payload":{"type":"item_completed","item":{}}}',
        b'"type":"event_msg","payload":{"type":"exec_command_end","call_id":"c","exit_code":1}}',
        b'{"type": "event_msg", "payload": {"type": "agent_message"}}',  # spaced: decode to be sure
    ]
    for tail in skipped:
        assert not parser.wants(head + tail), tail
    for tail in kept:
        line = tail if tail.startswith(b"{") else head + tail
        assert parser.wants(line), tail
    detail = CodexParser(Path(ROLLOUT), detail=True)
    assert not detail.wants(head + skipped[0])


def test_malformed_and_wrong_typed_lines_never_crash() -> None:
    data = (
        jl(
            meta("08:00:00.000", "0199aaaa-0000-7000-8000-000000000001"),
            ctx("08:00:00.100", "gpt-5"),
            env(
                "08:00:01.000",
                "event_msg",
                {
                    "type": "token_count",
                    "info": {
                        "total_token_usage": {
                            "input_tokens": "12",
                            "output_tokens": -5,
                            "cached_input_tokens": None,
                        }
                    },
                },
            ),
            env("08:00:02.000", "event_msg", {"type": "token_count", "info": "weird"}),
            env("08:00:03.000", "response_item", {"type": "function_call", "name": 5, "arguments": None}),
            env(
                "08:00:04.000", "response_item", {"type": "message", "role": "user", "content": "not a list"}
            ),
            env("08:00:05.000", "response_item", {"type": "local_shell_call", "action": "bad"}),
            env("08:00:06.000", "session_meta", ["not", "a", "dict"]),
            {"timestamp": 5, "type": "event_msg", "payload": {"type": "user_message", "message": 7}},
        )
        + b'{"timestamp":"2026-05-12T08:00:07.000Z","type":"event_msg","payl\n[1,2]\n'
    )
    s = parse(data, detail=True)
    assert per_model(s) == {"gpt-5": (12, 0, 0, 0, 0)}
    assert s.tools == {"function": 1, "local_shell": 1}
    assert s.diagnostics.skipped_by_reason == {"malformed_json": 1, "not_an_object": 1}
    assert s.session_id == "0199aaaa-0000-7000-8000-000000000001"


def test_session_id_from_file_name_until_meta_says_otherwise() -> None:
    assert CodexParser.default_session_id(
        Path("rollout-2026-01-02T03-04-05-0199aaaa-0000-7000-8000-000000000009.jsonl.zst")
    ) == ("0199aaaa-0000-7000-8000-000000000009")
    assert CodexParser.default_session_id(Path("rollout-44444444-4444-4444-8444-444444444444.jsonl")) == (
        "44444444-4444-4444-8444-444444444444"
    )
    s = parse(jl(ctx("08:00:00.000", "gpt-5")))
    assert s.session_id == s.conversation_id == "0199aaaa-0000-7000-8000-000000000001"


# --------------------------------------------------------------- discovery
def touch(path: Path, data: bytes = b"{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_discovery_keeps_sessions_only_and_applies_the_dedupe_rules(tmp_path: Path) -> None:
    root = tmp_path / ".codex"
    day = root / "sessions" / "2026" / "11" / "24"
    archived = root / "archived_sessions"
    a = touch(day / "rollout-2026-11-24T01-00-00-aaaa.jsonl")
    touch(day / "rollout-2026-11-24T01-00-00-aaaa.jsonl.zst")  # plain twin exists: skipped
    b = touch(archived / "rollout-2026-10-01T01-00-00-bbbb.jsonl.zst")
    c = touch(day / "rollout-2026-11-24T02-00-00-cccc.jsonl.zst")
    touch(archived / "rollout-2026-11-24T02-00-00-cccc.jsonl")  # archived copy of a live name: skipped
    d = touch(archived / "rollout-2026-09-01T01-00-00-dddd.jsonl")
    legacy = touch(root / "sessions" / "rollout-44444444-4444-4444-8444-444444444444.jsonl")
    for noise in (
        "history.jsonl",
        "session_index.jsonl",
        "state_5.sqlite",
        "logs_1.sqlite",
        "config.toml",
        "auth.json",
        "log/codex-tui.log",
        "sessions/2026/11/24/notes.txt",
        "sessions/2026/11/24/rollout-x.json",
        "archived_sessions/2026/rollout-2026-01-01T00-00-00-nested.jsonl",
        "sessions/2026/11/24/history.jsonl",
    ):
        touch(root / noise)
    found = find_session_files(root)
    assert [(f.path, f.codec, f.priority) for f in found] == sorted(
        [(a, None, 1), (b, "zst", 0), (c, "zst", 1), (d, None, 0), (legacy, None, 1)], key=lambda x: str(x[0])
    )
    assert all(f.append_only is (f.codec is None) for f in found)
    assert find_session_files(tmp_path / "missing") == []


def test_archived_zst_session_is_read_through_the_store(tmp_path: Path) -> None:
    # AgentSight bug §7.9: archived sessions were never read.
    live = SynthSpec(**{**BASE.__dict__, "session_id": "0199aaaa-0000-7000-8000-0000000000a1", "seed": 1})
    gone = SynthSpec(
        **{
            **BASE.__dict__,
            "session_id": "0199aaaa-0000-7000-8000-0000000000b2",
            "seed": 2,
            "extra": {"archived": True, "zst": True},
        }
    )
    p_live = synth.write_session(tmp_path, live)
    p_gone = synth.write_session(tmp_path, gone)
    assert p_gone.name.endswith(".jsonl.zst") and p_gone.parent.name == "archived_sessions"
    raw = zstandard.ZstdDecompressor().decompress(p_gone.read_bytes(), max_output_size=1 << 26)
    assert raw == b"".join(synth.session_lines(gone))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    got = {s.session_id: s for s in store.sessions()}
    assert sorted(got) == sorted([live.session_id, gone.session_id])
    for spec, path in ((live, p_live), (gone, p_gone)):
        s = got[spec.session_id]
        assert s.path == str(path)
        assert per_model(s) == {m: u.as_tuple() for m, u in synth.expected(spec).items()}
