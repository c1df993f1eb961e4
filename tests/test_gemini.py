"""Gemini CLI sessions: the real CLI's file, public fixtures and generated variants."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_session import AgentHomes, AgentSession, SessionStore
from agent_session.model import AgentType, FileAccess, ToolStatus
from agent_session.sources.base import ParseContext
from agent_session.sources.gemini import (
    GeminiLegacyParser,
    GeminiParser,
    find_session_files,
    project_hash,
    tool_paths,
    typed_prompt,
    usage_from_tokens,
)
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import gemini as synth
from agent_session.text import parse_ts_ms

START = 1_795_000_000_000
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens")


def make_spec(n: int = 0, *, turns: int = 3, tools: int = 2, **extra: Any) -> SynthSpec:
    return SynthSpec(
        session_id=f"9e31{n:04d}-5a1e-4c0d-9e00-0000000000{n:02d}",
        cwd=f"/home/dev/src/proj-{n}",
        start_ms=START + n * 60_000,
        models=("gemini-2.5-pro", "gemini-2.5-flash"),
        turns=turns,
        tools_per_turn=tools,
        output_bytes=300,
        seed=n,
        extra=extra,
    )


def parse(path: Path, *, detail: bool = False, context: ParseContext | None = None) -> AgentSession:
    cls = GeminiLegacyParser if path.suffix == ".json" else GeminiParser
    parser = cls(path, detail=detail, context=context)
    if cls.append_only:
        parser.feed(path.read_bytes())
    else:
        parser.feed_document(path.read_bytes())
    return parser.snapshot()


def parse_lines(tmp_path: Path, records: list[dict[str, Any]], *, detail: bool = True) -> AgentSession:
    path = tmp_path / "session-2026-01-01T00-00-abcdef12.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return parse(path, detail=detail)


def usage_by_model(s: AgentSession) -> dict[str, tuple[int, ...]]:
    return {m: u.as_tuple() for m, u in s.model_usage.items()}


def found_by_path(home: Path) -> dict[str, Any]:
    return {str(sf.path): sf for sf in find_session_files(home / ".gemini")}


def gemini_store(home: Path) -> SessionStore:
    store = SessionStore(AgentHomes.resolve(home), agents=[AgentType.GEMINI])
    store.refresh()
    return store


HEADER = {
    "sessionId": "11111111-2222-4333-8444-555555555555",
    "projectHash": "0" * 64,
    "startTime": "2026-05-01T10:00:00.000Z",
    "lastUpdated": "2026-05-01T10:00:00.000Z",
    "kind": "main",
}


def gemini_msg(mid: str, tokens: Any, **kw: Any) -> dict[str, Any]:
    msg = {
        "id": mid,
        "timestamp": "2026-05-01T10:00:05.000Z",
        "type": "gemini",
        "content": "",
        "thoughts": [],
    }
    msg["tokens"] = tokens
    msg["model"] = kw.pop("model", "gemini-2.5-pro")
    msg.update(kw)
    return msg


# ------------------------------------------------------------------ real CLI
def test_real_sample_matches_truth(real_home: Path, samples: Path) -> None:
    truth = next(
        t for t in json.loads((samples / "real" / "truth.json").read_text()) if t["agent_type"] == "gemini"
    )
    found = find_session_files(real_home / ".gemini")
    assert len(found) == 1
    sf = found[0]
    assert str(sf.path).endswith(truth["path"])
    # cwd comes from projects.json ({"/home/dev/src/projects/alpha": "alpha"}); the file has none.
    assert sf.context.cwd_hint == "/home/dev/src/projects/alpha"
    parser = sf.new_parser()
    parser.feed(sf.path.read_bytes())
    s = parser.snapshot()
    assert s.session_id == truth["session_id"] == "f5bd72ef-1ce5-4569-8c54-175a8d738fbe"
    assert s.cwd == truth["cwd"]
    usage = s.usage.model_dump()
    assert {k: usage[k] for k in USAGE_KEYS} == truth["usage"]
    # By hand: input (15241-13244)+(15891-13894)=3994; output 10342+10245+10992+10895=42474.
    assert s.usage.as_tuple() == (3994, 42474, 0, 27138, 10245 + 10895)
    assert s.usage.total_tokens == 73606
    assert {m: {k: u.model_dump()[k] for k in USAGE_KEYS} for m, u in s.model_usage.items()} == truth[
        "model_usage"
    ]
    assert s.models == ["gemini-3.8-flash"]
    assert s.request_count == 2  # two gemini messages, the first written twice
    assert sum(s.tools.values()) == truth["tool_calls"] == 2
    assert sorted(s.files) == truth["files_touched"]
    assert s.prompt_count == 1 and s.prompt_preview == truth["prompts"][0]
    assert s.start_timestamp_ms == parse_ts_ms("2026-11-24T09:15:26.251Z")
    assert s.end_timestamp_ms == parse_ts_ms("2026-11-24T09:15:26.408Z")
    assert s.diagnostics.lines_read == 11 and s.diagnostics.lines_skipped == 0
    # Without the folder mapping: the path was renamed after the run, so projectHash matches
    # nothing, and the workspace directory the <session_context> preamble lists is the guess.
    assert parse(sf.path).cwd == "/home/dev/src/projects/alpha"

    full = sf.new_parser(detail=True)
    full.feed(sf.path.read_bytes())
    d = full.snapshot()
    assert d.events is not None
    assert [p.text for p in d.events.prompts] == truth["prompts"]
    assert d.usage == s.usage and d.tools == s.tools and d.files == s.files
    read, shell = d.events.tools
    assert (read.tool_name, read.status, read.paths[0].access) == (
        "read_file",
        ToolStatus.OK,
        FileAccess.READ,
    )
    assert read.output_preview == "# alpha\n\nA tiny demo project used by the harness.\n"
    # Called with its message (…26.342Z), completed when the CLI stamped the tool record (…26.391Z).
    assert (read.ts_ms, read.end_ts_ms, read.duration_ms) == (1795511726342, 1795511726391, 49)
    assert (shell.tool_name, shell.command, shell.status, shell.paths) == (
        "run_shell_command",
        "ls -la",
        ToolStatus.OK,
        [],
    )


def test_public_jsonl_fixture(samples: Path) -> None:
    s = parse(samples / "gemini" / "agent-sessions-jsonl_v040.jsonl", detail=True)
    assert s.session_id == "gemini_stage0_jsonl"
    # g-assistant-1: input 11855 (cached 0), output 81 -> 11855 / 81 / 0
    # g-assistant-2: input 12069 incl. cached 11502, output 147 -> 567 / 147 / 11502
    assert s.usage.as_tuple() == (11855 + 567, 81 + 147, 0, 11502, 0)
    assert s.usage.total_tokens == 11936 + 12216  # equals the CLI's own totals
    assert list(s.model_usage) == ["gemini-3-flash-preview"]
    assert s.tools == {"run_shell_command": 1}
    assert s.files == {}
    assert s.events is not None
    assert [p.text for p in s.events.prompts] == ["Say hello and list files."]
    assert s.events.tools[0].status is ToolStatus.OK
    assert s.start_timestamp_ms == parse_ts_ms("2026-04-29T21:39:22.319Z")
    assert s.end_timestamp_ms == parse_ts_ms("2026-04-29T21:39:45.996Z")
    assert s.cwd is None  # nothing maps its projectHash


def test_public_legacy_fixture(samples: Path) -> None:
    s = parse(samples / "gemini" / "agent-sessions-small-legacy.json", detail=True)
    assert s.session_id == "session-2026-01-16T18-34-3739ef95"
    assert usage_by_model(s) == {"gemini-3-flash-preview": (10, 5, 0, 0, 0)}
    assert s.usage.total_tokens == 15
    assert s.events is not None and [p.text for p in s.events.prompts] == ["Hello"]
    assert s.start_timestamp_ms == parse_ts_ms("2026-01-16T18:34:00.000Z")
    assert s.end_timestamp_ms == parse_ts_ms("2026-01-16T18:34:10.000Z")
    assert s.diagnostics.lines_skipped == 0


# --------------------------------------------------------- generated variants
def check_against_spec(s: AgentSession, spec: SynthSpec, *, detail: bool = False) -> None:
    exp = synth.expected(spec)
    assert usage_by_model(s) == {m: u.as_tuple() for m, u in exp.items()}
    assert s.usage.total_tokens == sum(u.total_tokens for u in exp.values())
    assert s.tools == synth.expected_tools(spec)
    assert sorted(s.files) == sorted(synth.expected_files(spec))
    assert s.prompt_count == len(synth.expected_prompts(spec))
    assert s.session_id == spec.session_id
    assert s.start_timestamp_ms == spec.start_ms
    if detail:
        assert s.events is not None
        assert [p.text for p in s.events.prompts] == synth.expected_prompts(spec)
        accesses = {p.path: p.access.value for t in s.events.tools for p in t.paths}
        assert accesses == synth.expected_files(spec)


def test_generated_session_found_with_cwd_and_parsed_exactly(tmp_path: Path) -> None:
    spec = make_spec(1, turns=4, tools=3)
    path = synth.write_session(tmp_path, spec)
    assert path.name == "session-2026-11-18T11-07-9e310001.jsonl"
    assert path.parent.parent.name == "proj-1"
    (sf,) = find_session_files(tmp_path / ".gemini")
    assert sf.path == path and sf.context.cwd_hint == spec.cwd
    for detail in (False, True):
        parser = sf.new_parser(detail=detail)
        parser.feed(path.read_bytes())
        s = parser.snapshot()
        check_against_spec(s, spec, detail=detail)
        assert s.cwd == spec.cwd
        assert s.models == ["gemini-2.5-pro", "gemini-2.5-flash"]
        assert s.request_count == 4 * 2
        assert s.parent_session_id is None
    # 12 calls: read_file, shell, write_file, replace, grep_search, list_directory twice over.
    assert sum(synth.expected_tools(spec).values()) == 12
    assert synth.expected_files(spec)[f"{spec.cwd}/notes/out2.md"] == "create"
    assert synth.expected_files(spec)[f"{spec.cwd}/src/mod3.py"] == "write"


def test_duplicated_message_ids_last_write_wins(tmp_path: Path) -> None:
    # Generated: each tool-calling reply is written twice; its first write carries provisional tokens.
    spec = make_spec(2, token_update=True)
    s = parse(synth.write_session(tmp_path, spec))
    check_against_spec(s, spec)
    plain = synth.expected(make_spec(2))
    assert {m: u.as_tuple() for m, u in synth.expected(spec).items()} != {
        m: u.as_tuple() for m, u in plain.items()
    }
    # By hand: the same id three times; the last tokens count once, a later null write un-bills nothing.
    first = {"input": 100, "output": 10, "cached": 0, "thoughts": 0, "tool": 0, "total": 110}
    final = {"input": 900, "output": 90, "cached": 400, "thoughts": 30, "tool": 0, "total": 1020}
    s = parse_lines(
        tmp_path, [HEADER, gemini_msg("g1", first), gemini_msg("g1", final), gemini_msg("g1", None)]
    )
    assert s.usage.as_tuple() == (500, 120, 0, 400, 30)
    assert s.usage.total_tokens == 1020
    assert s.request_count == 1
    assert s.events is not None and len(s.events.llm_responses) == 1


def test_set_messages_checkpoint_replaces_without_double_counting(tmp_path: Path) -> None:
    spec = make_spec(3, checkpoint=True)
    lines = b"".join(synth.session_lines(spec)).splitlines()
    last = orjson.loads(lines[-1])
    assert [m["type"] for m in last["$set"]["messages"]][:2] == ["user", "gemini"]  # summary + ack first
    s = parse(synth.write_session(tmp_path, spec), detail=True)
    # The <state_snapshot> summary is no prompt; messages it keeps (same ids) add nothing.
    check_against_spec(s, spec, detail=True)
    # A checkpoint may carry masked tool results: the result recorded live stays.
    fr = {"functionResponse": {"id": "c1", "name": "read_file", "response": {"output": "real output"}}}
    call = {
        "id": "c1",
        "name": "read_file",
        "args": {"file_path": "/p/a"},
        "result": [fr],
        "status": "success",
    }
    masked_fr = {"functionResponse": {**fr["functionResponse"], "response": {"output": "[masked]"}}}
    masked = {**call, "result": [masked_fr]}
    tokens = {"input": 10, "output": 1, "cached": 0, "thoughts": 0, "tool": 0, "total": 11}
    checkpoint = {"$set": {"messages": [gemini_msg("g", tokens, toolCalls=[masked])]}}
    s = parse_lines(tmp_path, [HEADER, gemini_msg("g", tokens, toolCalls=[call]), checkpoint])
    assert s.events is not None and [t.output_preview for t in s.events.tools] == ["real output"]
    assert s.usage.total_tokens == 11 and s.tools == {"read_file": 1}


def test_rewind_keeps_what_was_billed_and_done(tmp_path: Path) -> None:
    spec = make_spec(4, rewind=True)
    text = b"".join(synth.session_lines(spec))
    assert text.count(b'"$rewindTo"') == 1
    s = parse(synth.write_session(tmp_path, spec), detail=True)
    # The rewound turn (a 4th turn, then $rewindTo its prompt) was billed, ran its tools and was sent:
    # usage, tools, files and prompts all keep it.
    check_against_spec(s, spec, detail=True)
    assert s.prompt_count == spec.turns + 1
    assert sum(s.tools.values()) == (spec.turns + 1) * spec.tools_per_turn
    without = synth.expected(make_spec(4))
    assert s.usage.total_tokens > sum(u.total_tokens for u in without.values())


def test_resume_appends_a_second_header_same_session(tmp_path: Path) -> None:
    spec = make_spec(5, turns=4, resume=True)
    text = b"".join(synth.session_lines(spec))
    assert text.count(b'{"sessionId":"' + spec.session_id.encode()) == 2
    synth.write_session(tmp_path, spec)
    (s,) = gemini_store(tmp_path).sessions()
    check_against_spec(s, spec)
    assert s.cwd == spec.cwd


def test_tokens_null_gives_no_usage_for_that_message(tmp_path: Path) -> None:
    spec = make_spec(6, tokens_null=True)
    assert b'"tokens":null' in b"".join(synth.session_lines(spec))
    s = parse(synth.write_session(tmp_path, spec))
    check_against_spec(s, spec)
    assert s.request_count == spec.turns  # only the final replies carry tokens
    # By hand: a null-token message still names its model; its tokens land on the next message.
    nxt = {"input": 50, "output": 5, "cached": 20, "thoughts": 1, "tool": 2, "total": 58}
    s = parse_lines(tmp_path, [HEADER, gemini_msg("a", None, model="m-1"), gemini_msg("b", nxt, model="m-1")])
    assert usage_by_model(s) == {"m-1": (32, 6, 0, 20, 1)}
    assert s.models == ["m-1"] and s.request_count == 1


def test_sha256_project_folder_resolved_by_hashing_known_roots(tmp_path: Path) -> None:
    # Older CLIs named the folder sha256(project root); the migration copied it to a slug folder
    # and kept it. The slug's projects.json entry gives the root whose hash names the old folder.
    live = make_spec(7)
    old = dataclasses.replace(make_spec(8, sha_folder=True), cwd=live.cwd)
    live_path = synth.write_session(tmp_path, live)
    old_path = synth.write_session(tmp_path, old)
    assert old_path.parent.parent.name == project_hash(live.cwd)
    found = found_by_path(tmp_path)
    assert found[str(old_path)].context.cwd_hint == live.cwd
    assert found[str(live_path)].context.cwd_hint == live.cwd
    assert found[str(old_path)].priority < found[str(live_path)].priority
    # Nothing on disk knows this root: the file's projectHash matches a root the caller knows.
    lone = make_spec(9, sha_folder=True)
    lone_path = synth.write_session(tmp_path, lone)
    sf = found_by_path(tmp_path)[str(lone_path)]
    assert sf.context.cwd_hint is None and live.cwd in sf.context.known_roots
    stripped = tmp_path / "stripped" / lone_path.name
    stripped.parent.mkdir()
    # Drop the <session_context> preamble (which lists the workspace) to force the hash path.
    kept = [ln for ln in lone_path.read_bytes().splitlines(keepends=True) if b"<session_context>" not in ln]
    stripped.write_bytes(b"".join(kept))
    assert parse(stripped).cwd is None
    assert parse(stripped, context=ParseContext(known_roots=("/elsewhere", lone.cwd))).cwd == lone.cwd
    # With the preamble, its workspace directory is verified against projectHash.
    assert parse(lone_path).cwd == lone.cwd


def test_jsonl_beats_legacy_json_of_the_same_session(tmp_path: Path) -> None:
    spec = make_spec(10)
    legacy = synth.write_session(tmp_path, dataclasses.replace(spec, extra={"legacy": True}))
    current = synth.write_session(tmp_path, spec)
    assert legacy.with_suffix(".jsonl") == current  # resuming writes <same name>.jsonl beside it
    found = found_by_path(tmp_path)
    assert found[str(current)].priority > found[str(legacy)].priority
    assert found[str(legacy)].parser_cls is GeminiLegacyParser and not found[str(legacy)].append_only
    assert parse(legacy).session_id == parse(current).session_id == spec.session_id
    check_against_spec(parse(legacy), spec)
    (s,) = gemini_store(tmp_path).sessions()
    assert s.path == str(current)
    check_against_spec(s, spec)


def test_subagent_file_has_its_parent_from_the_folder(tmp_path: Path) -> None:
    parent = make_spec(11)
    child = dataclasses.replace(make_spec(12), cwd=parent.cwd, extra={"parent_session_id": parent.session_id})
    synth.write_session(tmp_path, parent)
    child_path = synth.write_session(tmp_path, child)
    assert child_path.parent.name == parent.session_id and child_path.name == f"{child.session_id}.jsonl"
    sf = found_by_path(tmp_path)[str(child_path)]
    assert sf.context.cwd_hint == parent.cwd
    s = parse(child_path)
    assert (s.session_id, s.parent_session_id) == (child.session_id, parent.session_id)
    check_against_spec(s, child)
    sessions = {x.session_id: x for x in gemini_store(tmp_path).sessions()}
    assert sessions[parent.session_id].subagent_ids == [child.session_id]
    exp_child = sum(u.total_tokens for u in synth.expected(child).values())
    assert sessions[parent.session_id].subagent_usage.total_tokens == exp_child


def test_agentsight_bug_7_4_cached_input_thoughts_and_cwd(tmp_path: Path) -> None:
    # AgentSight counted input with its cached part, dropped thoughts and had no cwd.
    tokens = {"input": 1000, "output": 100, "cached": 600, "thoughts": 50, "tool": 5, "total": 1155}
    assert usage_from_tokens(tokens).as_tuple() == (1000 - 600 + 5, 100 + 50, 0, 600, 50)
    spec = make_spec(13, turns=1, tools=0)
    path = synth.write_session(tmp_path, spec)
    (sf,) = find_session_files(tmp_path / ".gemini")
    parser = sf.new_parser()
    parser.feed(path.read_bytes())
    s = parser.snapshot()
    assert s.cwd == spec.cwd
    (tk,) = [
        m["tokens"] for m in map(orjson.loads, path.read_bytes().splitlines()) if m.get("type") == "gemini"
    ]
    assert tk["cached"] > 0 and tk["thoughts"] > 0
    assert s.usage.input_tokens == tk["input"] - tk["cached"] + tk["tool"]
    assert s.usage.output_tokens == tk["output"] + tk["thoughts"]
    assert s.usage.reasoning_tokens == tk["thoughts"]
    assert s.usage.total_tokens == tk["total"]


def test_guessed_cwd_gives_way_to_a_verified_one(tmp_path: Path) -> None:
    root = "/srv/real/root"
    context_msg = {
        "id": "ctx",
        "type": "user",
        "content": [
            {"text": "<session_context>\n- **Workspace Directories:**\n  - /guess/dir\n</session_context>"}
        ],
    }
    header = {**HEADER, "projectHash": project_hash(root)}
    s = parse_lines(tmp_path, [header, {"$set": {"messages": [context_msg]}}])
    assert s.cwd == "/guess/dir"
    s = parse_lines(
        tmp_path, [header, {"$set": {"messages": [context_msg]}}, {**header, "directories": [root]}]
    )
    assert s.cwd == root


def test_cached_recorded_beside_input_is_not_subtracted() -> None:
    # Should a writer record cached outside input, its total says so.
    tokens = {"input": 400, "output": 100, "cached": 600, "thoughts": 50, "tool": 5, "total": 1155}
    assert usage_from_tokens(tokens).as_tuple() == (405, 150, 0, 600, 50)


def test_half_written_legacy_json_is_a_diagnostic_then_retried(tmp_path: Path) -> None:
    spec = make_spec(14, legacy=True)
    path = synth.write_session(tmp_path, spec)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    s = parse(path)
    assert s.diagnostics.skipped_by_reason == {"truncated_json": 1}
    assert s.diagnostics.last_error is not None
    assert s.usage.total_tokens == 0 and s.session_id == spec.session_id[:8]
    store = gemini_store(tmp_path)
    # Nothing valid in it yet: not a session, and the store says why.
    assert store.sessions() == [] and store.skipped == {str(path): "no valid record"}
    path.write_bytes(whole)
    store.refresh()
    (done,) = store.sessions()
    check_against_spec(done, spec)
    assert done.diagnostics.lines_skipped == 0


def test_non_session_files_are_never_sessions(tmp_path: Path) -> None:
    spec = make_spec(15)
    path = synth.write_session(tmp_path, spec)
    project = path.parent.parent
    noise = {
        project / "logs.json": '[{"sessionId":"s","messageId":0,"type":"user","message":"/help"}]',
        project / "logs" / f"session-{spec.session_id}.jsonl": '{"x":1}\n',
        project / "tool-outputs" / f"session-{spec.session_id}" / "out.txt": "big",
        project / "checkpoint-mytag.json": '{"history":[]}',
        project / "plans" / "plan.md": "# plan",
        path.parent / f"{path.name}.unreadable-1795000000000": '{"sessionId":"x"}\n',
        path.parent / "notes.json": "{}",
        tmp_path / ".gemini" / "settings.json": "{}",
        tmp_path / ".gemini" / "history" / "abc" / "session-1.json": "{}",
        tmp_path / ".gemini" / "tmp" / "bin" / "rg": "",
    }
    for p, text in noise.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    assert [sf.path for sf in find_session_files(tmp_path / ".gemini")] == [path]
    assert find_session_files(tmp_path / "missing") == []


def test_projects_json_is_merged_and_slugs_do_not_collide(tmp_path: Path) -> None:
    a = make_spec(16)
    b = dataclasses.replace(make_spec(17), cwd="/other/place/proj-16")
    synth.write_session(tmp_path, a)
    pb = synth.write_session(tmp_path, b)
    projects = json.loads((tmp_path / ".gemini" / "projects.json").read_text())["projects"]
    assert projects == {a.cwd: "proj-16", b.cwd: "proj-16-1"}
    assert (tmp_path / ".gemini" / "tmp" / "proj-16-1" / ".project_root").read_text() == b.cwd
    assert found_by_path(tmp_path)[str(pb)].context.cwd_hint == b.cwd


def test_project_root_file_alone_maps_the_folder(tmp_path: Path) -> None:
    spec = make_spec(18)
    path = synth.write_session(tmp_path, spec)
    (tmp_path / ".gemini" / "projects.json").unlink()
    assert found_by_path(tmp_path)[str(path)].context.cwd_hint == spec.cwd


# ----------------------------------------------------------- parsing details
def test_any_split_of_the_lines_equals_one_feed(tmp_path: Path) -> None:
    # Snapshots between feeds (as the store takes them) must not change the outcome either;
    # the sha_folder variant has no folder mapping, so its cwd comes from the file itself.
    variants: list[dict[str, Any]] = [
        {},
        {"rewind": True, "checkpoint": True, "resume": True, "token_update": True},
        {"sha_folder": True, "tokens_null": True},
    ]
    for extra in variants:
        spec = make_spec(19, turns=4, **extra)
        data = b"".join(synth.session_lines(spec))
        path = synth.session_path(tmp_path, spec)
        one = GeminiParser(path, detail=True)
        one.feed(data)
        expected = one.snapshot().model_dump()
        assert expected["cwd"] == spec.cwd
        lines = data.splitlines(keepends=True)
        for step in (1, 2, 5):
            split = GeminiParser(path, detail=True)
            for i in range(0, len(lines), step):
                split.feed(b"".join(lines[i : i + step]))
                split.snapshot()
            assert split.snapshot().model_dump() == expected


def test_summary_mode_agrees_with_detail_and_skips_tool_response_turns(tmp_path: Path) -> None:
    spec = make_spec(20, turns=3)
    path = synth.write_session(tmp_path, spec)
    summary, detail = parse(path), parse(path, detail=True)
    skip = {"events"}
    assert summary.model_dump(exclude=skip) == detail.model_dump(exclude=skip)
    parser = GeminiParser(path)
    lines = path.read_bytes().splitlines()
    rejected = [ln for ln in lines if not parser.wants(ln)]
    assert len(rejected) == spec.turns  # one tool-response turn per tool-calling reply
    assert all(b'"functionResponse"' in ln and b'"type":"user"' in ln for ln in rejected)
    # A prompt that merely mentions the key is decoded and counted.
    typed: dict[str, Any] = {"id": "u1", "timestamp": "2026-05-01T10:00:01.000Z", "type": "user"}
    typed["content"] = [{"text": 'why is "content":[{"functionResponse": empty?'}]
    assert parser.wants(orjson.dumps(typed))
    s = parse_lines(tmp_path, [HEADER, typed])
    assert s.prompt_count == 1


def test_prompts_once_per_message_and_not_again_from_a_checkpoint(tmp_path: Path) -> None:
    def user(mid: str, text: str) -> dict[str, Any]:
        return {
            "id": mid,
            "timestamp": "2026-05-01T10:00:01.000Z",
            "type": "user",
            "content": [{"text": text}],
        }

    records = [
        HEADER,
        user("u1", "fix the bug"),
        user("u1", "fix the bug"),  # the same message written again
        user("u2", "fix the bug"),  # typed twice: two prompts
        {"$set": {"messages": [user("u1-copy", "fix the bug"), user("u3", "from the checkpoint")]}},
    ]
    s = parse_lines(tmp_path, records)
    assert s.events is not None
    assert [p.text for p in s.events.prompts] == ["fix the bug", "fix the bug", "from the checkpoint"]


def test_prompt_rules() -> None:
    def msg(content: Any, display: Any = None) -> dict[str, Any]:
        m = {"id": "u", "type": "user", "content": content}
        if display is not None:
            m["displayContent"] = display
        return m

    assert typed_prompt(msg([{"text": "fix it"}])) == ("fix it", None)
    assert typed_prompt(msg("plain string")) == ("plain string", None)
    expanded = [
        {"text": "explain @a.py"},
        {"text": "\n--- Content from referenced files ---"},
        {"text": "body"},
    ]
    assert typed_prompt(msg(expanded)) == ("explain @a.py", None)
    assert typed_prompt(msg(expanded, [{"text": "explain @a.py please"}])) == ("explain @a.py please", None)
    assert typed_prompt(msg([{"text": "<session_context>\ncwd\n</session_context>"}])) is None
    assert typed_prompt(msg([{"text": "do it"}, {"text": "<hook_context>x</hook_context>"}])) == (
        "do it",
        None,
    )
    assert typed_prompt(msg([{"text": "<state_snapshot>s</state_snapshot>"}])) is None
    assert (
        typed_prompt(msg([{"functionResponse": {"id": "c", "name": "x", "response": {"output": "o"}}}]))
        is None
    )
    assert typed_prompt(msg("?")) is None
    assert typed_prompt(msg("   ")) is None
    assert typed_prompt(msg("/review src/a.py")) == ("/review src/a.py", "/review")
    assert typed_prompt(msg("/usr/bin/python is missing")) == ("/usr/bin/python is missing", None)
    assert typed_prompt(msg([{"text": "hidden", "thought": True}, {"text": "shown"}])) == ("shown", None)


def test_tool_paths_per_tool() -> None:
    cwd = "/p"
    assert [(p.path, p.access) for p in tool_paths("read_file", {"absolute_path": "/p/a.py"}, None, cwd)] == [
        ("/p/a.py", FileAccess.READ)
    ]
    assert [(p.path, p.access) for p in tool_paths("read_file", {"path": "b.py"}, None, cwd)] == [
        ("/p/b.py", FileAccess.READ)
    ]
    created = {"fileDiff": "+x", "originalContent": None, "newContent": "x"}
    assert tool_paths("write_file", {"file_path": "/p/n.md"}, created, cwd)[0].access is FileAccess.CREATE
    assert tool_paths("write_file", {"file_path": "/p/n.md"}, {**created, "originalContent": ""}, cwd)[
        0
    ].access is (FileAccess.CREATE)
    assert tool_paths("write_file", {"file_path": "/p/n.md"}, "", cwd)[0].access is FileAccess.WRITE
    assert tool_paths("replace", {"file_path": "/p/n.md"}, {**created, "originalContent": "y"}, cwd)[
        0
    ].access is (FileAccess.WRITE)
    many = tool_paths(
        "read_many_files", {"include": ["src/a.py", "**/*.md", "docs/", "/abs/c.txt"]}, None, cwd
    )
    assert [p.path for p in many] == ["/p/src/a.py", "/abs/c.txt"]
    for name, args in (
        ("list_directory", {"dir_path": "/p"}),
        ("glob", {"pattern": "*.py"}),
        ("grep_search", {"pattern": "x", "dir_path": "/p"}),
    ):
        assert tool_paths(name, args, None, cwd) == []
    assert tool_paths("run_shell_command", {"command": ""}, None, cwd) == []


def test_tool_results_status_exit_code_and_times(tmp_path: Path) -> None:
    def call(
        cid: str, name: str, args: dict[str, Any], response: dict[str, Any], status: str
    ) -> dict[str, Any]:
        fr = {"functionResponse": {"id": cid, "name": name, "response": response}}
        return {
            "id": cid,
            "name": name,
            "args": args,
            "result": [fr],
            "status": status,
            "timestamp": "2026-05-01T10:00:07.500Z",
        }

    calls = [
        call(
            "c1",
            "run_shell_command",
            {"command": "make test"},
            {"output": "Output: boom\nExit Code: 2"},
            "success",
        ),
        call("c2", "read_file", {"file_path": "/p/x"}, {"error": "File not found: /p/x"}, "error"),
        call("c3", "replace", {"file_path": "/p/y"}, {"output": "ok"}, "cancelled"),
        {
            "id": "c4",
            "name": "glob",
            "args": {"pattern": "*"},
            "status": "executing",
            "timestamp": "2026-05-01T10:00:07.500Z",
        },
    ]
    tokens = {"input": 10, "output": 1, "cached": 0, "thoughts": 0, "tool": 0, "total": 11}
    s = parse_lines(
        tmp_path, [HEADER, gemini_msg("g", tokens, toolCalls=calls), gemini_msg("g", tokens, toolCalls=calls)]
    )
    assert s.tools == {"run_shell_command": 1, "read_file": 1, "replace": 1, "glob": 1}
    assert s.events is not None
    by_id = {t.call_id: t for t in s.events.tools}
    assert (by_id["c1"].status, by_id["c1"].exit_code) == (ToolStatus.FAIL, 2)
    assert (by_id["c1"].ts_ms, by_id["c1"].end_ts_ms, by_id["c1"].duration_ms) == (
        parse_ts_ms("2026-05-01T10:00:05.000Z"),
        parse_ts_ms("2026-05-01T10:00:07.500Z"),
        2500,
    )
    assert (by_id["c2"].status, by_id["c2"].output_preview) == (ToolStatus.FAIL, "File not found: /p/x")
    assert by_id["c3"].status is ToolStatus.FAIL
    assert by_id["c4"].status is ToolStatus.PENDING and by_id["c4"].end_ts_ms is None


def test_wrong_types_never_crash(tmp_path: Path) -> None:
    records: list[Any] = [
        HEADER,
        {"$set": "not a dict"},
        {"$set": {"messages": "nope", "lastUpdated": 5}},
        {"$patch": {"x": 1}},
        {"id": 7, "type": "user"},
        {"id": "g", "type": "gemini", "tokens": {"input": "12", "output": None, "cached": -3, "total": "x"}},
        {"id": "g2", "type": "gemini", "tokens": [], "toolCalls": "many", "model": 3},
        {
            "id": "g3",
            "type": "gemini",
            "toolCalls": [None, {"name": 5, "args": []}, {"id": "t", "result": "text"}],
        },
        {"id": "u", "type": "user", "content": {"text": "single part"}, "timestamp": None},
        {"id": "x", "type": "mystery"},
        [1, 2],
    ]
    path = tmp_path / "session-2026-01-01T00-00-abcdef12.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + b"{broken\n")
    for detail in (False, True):
        s = parse(path, detail=detail)
        assert s.usage.as_tuple() == (12, 0, 0, 0, 0)
        assert s.tools == {"unknown": 2}
        assert s.prompt_count == 1 and s.prompt_preview == "single part"
        assert s.diagnostics.skipped_by_reason == {"not_an_object": 1, "malformed_json": 1}
        assert s.diagnostics.unknown_types == {"$set": 1, "$patch": 1, "user": 1, "message:mystery": 1}
        assert s.start_timestamp_ms == parse_ts_ms(HEADER["startTime"])  # the numeric lastUpdated is junk


def test_set_session_id_and_header_before_metadata(tmp_path: Path) -> None:
    path = tmp_path / "session-2026-01-01T00-00-abcdef12.jsonl"
    parser = GeminiParser(path)
    assert parser.snapshot().session_id == "abcdef12"
    parser.feed(orjson.dumps(HEADER) + b"\n")
    assert parser.snapshot().session_id == HEADER["sessionId"]
    parser.feed(orjson.dumps({"$set": {"lastUpdated": "2026-05-01T11:00:00.000Z"}}) + b"\n")
    s = parser.snapshot()
    assert s.end_timestamp_ms == parse_ts_ms("2026-05-01T11:00:00.000Z")
    assert s.start_timestamp_ms == parse_ts_ms(HEADER["startTime"])
    sub = tmp_path / "chats" / "parent-id" / "child-id.jsonl"
    assert GeminiParser.default_session_id(sub) == "child-id"
    sub.parent.mkdir(parents=True)
    sub.write_bytes(b"")
    assert parse(sub).parent_session_id == "parent-id"


@pytest.mark.parametrize("variant", [{}, {"legacy": True}, {"rewind": True}, {"checkpoint": True}])
def test_generator_is_deterministic(variant: dict[str, Any]) -> None:
    spec = make_spec(21, **variant)
    assert b"".join(synth.session_lines(spec)) == b"".join(synth.session_lines(spec))
    lines = list(synth.session_lines(spec))
    assert all(ln.endswith(b"\n") for ln in lines)
    if not variant.get("legacy"):
        assert all(b'": ' not in ln[:40] for ln in lines)  # compact like the CLI
