"""Claude Code transcripts: the real CLI's file, public fixtures, generated variants, AgentSight bugs."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_session import AgentHomes, SessionStore
from agent_session.model import AgentSession, AgentType, FileAccess, ToolPath, ToolStatus
from agent_session.sources import claude as claude_source
from agent_session.sources.claude import ClaudeParser, find_session_files
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth

REAL_ID = "fa86d6ee-961a-4216-94b4-6d290d96184f"
REAL_CWD = "/home/dev/src/projects/alpha"
PARENT_ID = "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f"
CHILD_ID = "a0ad4f44468bdf20d"
KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens")
START_MS = 1_795_000_000_000


# ------------------------------------------------------------------- helpers
def parse(path: Path | str, data: bytes | None = None, *, detail: bool = False) -> AgentSession:
    parser = ClaudeParser(path, detail=detail)
    parser.feed(Path(path).read_bytes() if data is None else data)
    return parser.snapshot()


def claude_store(home: Path) -> SessionStore:
    return SessionStore(AgentHomes.resolve(home), agents=[AgentType.CLAUDE])


def summary(s: AgentSession) -> dict[str, Any]:
    """Everything but the events (what summary and detail mode must agree on)."""
    return s.model_dump(mode="json", exclude={"events"})


def usage_dict(u: Any) -> dict[str, int]:
    d = u.model_dump()
    return {k: d[k] for k in KEYS}


def spec(n: int = 0, **kw: Any) -> SynthSpec:
    base: dict[str, Any] = dict(
        session_id=f"5e55{n:04d}-1111-4222-8333-444455556666",
        cwd=f"/home/dev/src/proj{n}",
        start_ms=START_MS + n * 60_000,
        models=("claude-sonnet-4-5",),
        turns=3,
        tools_per_turn=2,
        output_bytes=300,
        seed=n,
    )
    base.update(kw)
    return SynthSpec(**base)


def line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


def assistant(
    msg_id: str | None,
    req_id: str | None,
    usage: dict[str, Any] | None,
    *,
    model: str = "claude-sonnet-4-20250514",
    content: list[dict[str, Any]] | None = None,
    ts: str = "2026-01-01T00:00:01.000Z",
    **extra: Any,
) -> bytes:
    message: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content or [],
    }
    if msg_id is not None:
        message["id"] = msg_id
    if usage is not None:
        message["usage"] = usage
    rec: dict[str, Any] = {"parentUuid": None, "isSidechain": False, "message": message}
    if req_id is not None:
        rec["requestId"] = req_id
    rec.update({"type": "assistant", "timestamp": ts, "cwd": "/w", "sessionId": "s", **extra})
    return line(rec)


def user(content: Any, *, ts: str = "2026-01-01T00:00:00.000Z", **extra: Any) -> bytes:
    rec = {
        "parentUuid": None,
        "isSidechain": False,
        "type": "user",
        "message": {"role": "user", "content": content},
    }
    rec.update({"timestamp": ts, "cwd": "/w", "sessionId": "s", **extra})
    return line(rec)


def u(i: int, o: int, cw: int = 0, cr: int = 0) -> dict[str, int]:
    return {
        "input_tokens": i,
        "output_tokens": o,
        "cache_creation_input_tokens": cw,
        "cache_read_input_tokens": cr,
    }


# ------------------------------------------------------------ the real CLI
@pytest.fixture
def real_file(real_home: Path) -> Path:
    return real_home / ".claude" / "projects" / "-home-dev-src-projects-alpha" / f"{REAL_ID}.jsonl"


@pytest.fixture
def real_truth(samples: Path) -> dict[str, Any]:
    truth = json.loads((samples / "real" / "truth.json").read_text())
    return next(t for t in truth if t["agent_type"] == "claude")


def test_real_file_is_found_and_nothing_else(real_home: Path, real_file: Path) -> None:
    files = find_session_files(real_home / ".claude")
    assert [f.path for f in files] == [real_file]
    assert files[0].parser_cls is ClaudeParser


@pytest.mark.parametrize("detail", [False, True])
def test_real_file_matches_truth(real_file: Path, real_truth: dict[str, Any], detail: bool) -> None:
    s = parse(real_file, detail=detail)
    assert s.session_id == real_truth["session_id"] == REAL_ID
    assert s.parent_session_id is None
    assert usage_dict(s.usage) == real_truth["usage"]
    assert usage_dict(s.usage) == {
        "input_tokens": 6704,
        "output_tokens": 3108,
        "cache_creation_tokens": 10712,
        "cache_read_tokens": 14716,
        "total_tokens": 35240,
    }
    assert {m: usage_dict(v) for m, v in s.model_usage.items()} == real_truth["model_usage"]
    assert s.models == ["claude-opus-5-5"] and s.model == "claude-opus-5-5"
    assert s.request_count == 4  # 4 messages written as 7 assistant lines
    assert s.tools == {"Read": 2, "Bash": 1} and sum(s.tools.values()) == real_truth["tool_calls"] == 3
    assert sorted(s.files) == real_truth["files_touched"]
    assert s.prompt_count == 2 and s.prompt_preview == real_truth["prompts"][0]
    assert (s.cwd, s.git_branch, s.version) == (REAL_CWD, "main", "2.1.330")
    # First record is the queue-operation at 09:15:13.939, last the final answer at 09:15:17.980.
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (1795511713939, 1795511717980)
    assert s.diagnostics.lines_read == 44 and s.diagnostics.lines_skipped == 0
    assert s.diagnostics.unknown_types == {}
    # cost-state is a cross-check only; per-request pricing happens to agree with it here.
    assert s.cost_usd == pytest.approx(0.1454792)


def test_real_file_events(real_file: Path, real_truth: dict[str, Any]) -> None:
    s = parse(real_file, detail=True)
    assert s.events is not None
    assert [p.text for p in s.events.prompts] == real_truth["prompts"]
    assert [p.command for p in s.events.prompts] == [None, None]
    tools = s.events.tools
    assert [(t.tool_name, t.command) for t in tools] == [
        ("Read", f"{REAL_CWD}/README.md"),
        ("Read", f"{REAL_CWD}/src/app.py"),
        ("Bash", "git log --oneline"),
    ]
    assert [t.category.value for t in tools] == ["read", "read", "shell"]
    assert [t.paths for t in tools] == [
        [ToolPath(path=f"{REAL_CWD}/README.md", access=FileAccess.READ)],
        [ToolPath(path=f"{REAL_CWD}/src/app.py", access=FileAccess.READ)],
        [],
    ]
    # AgentSight bug 7.10: every call has its end time and duration.
    assert [(t.status, t.ts_ms, t.end_ts_ms, t.duration_ms) for t in tools] == [
        (ToolStatus.OK, 1795511714088, 1795511714130, 42),
        (ToolStatus.OK, 1795511714108, 1795511714135, 27),
        (ToolStatus.OK, 1795511717917, 1795511717964, 47),
    ]
    assert tools[2].output_preview == "2cd723b initial alpha"
    assert [t.prompt_index for t in tools] == [0, 0, 1]
    assert [r.response_id for r in s.events.llm_responses] == [
        "req_mock0001d4345c698302",
        "req_mock00027e79da8f6211",
        "req_mock0011896645a353f9",
        "req_mock001252c930cd8a06",
    ]


def test_real_file_reformatted_with_spaces_parses_the_same(real_file: Path, tmp_path: Path) -> None:
    """The prefilter relies on compact JSON only to go faster: spaced JSON gives the same result."""
    spaced = b"".join(
        json.dumps(json.loads(ln)).encode() + b"\n" for ln in real_file.read_bytes().splitlines()
    )
    assert b'"type": "attachment"' in spaced
    for detail in (False, True):
        a = summary(parse(real_file, detail=detail))
        b = summary(parse(real_file, spaced, detail=detail))
        for d in (a, b):
            d["diagnostics"].pop("bytes_consumed")
        assert a == b


def test_real_file_split_at_every_line_boundary(real_file: Path) -> None:
    data = real_file.read_bytes()
    whole = parse(real_file, data, detail=True)
    parser = ClaudeParser(real_file, detail=True)
    for ln in data.splitlines(keepends=True):
        parser.feed(ln)
        parser.snapshot()  # snapshots in between must not disturb the state
    assert parser.snapshot() == whole


# --------------------------------------------------------- public fixtures
def test_ccusage_fixture_sums_three_messages(samples: Path) -> None:
    path = samples / "claude" / "ccusage-usage-fixture.jsonl"
    s = parse(path)
    assert s.request_count == 3
    assert s.models == ["claude-sonnet-4-20250514", "claude-opus-4-20250514"]
    assert s.model == "claude-sonnet-4-20250514"
    assert {m: usage_dict(v) for m, v in s.model_usage.items()} == {
        "claude-sonnet-4-20250514": {
            "input_tokens": 400,
            "output_tokens": 175,
            "cache_creation_tokens": 25,
            "cache_read_tokens": 50,
            "total_tokens": 650,
        },
        "claude-opus-4-20250514": {
            "input_tokens": 200,
            "output_tokens": 75,
            "cache_creation_tokens": 50,
            "cache_read_tokens": 20,
            "total_tokens": 345,
        },
    }
    assert usage_dict(s.usage) == {
        "input_tokens": 600,
        "output_tokens": 250,
        "cache_creation_tokens": 75,
        "cache_read_tokens": 70,
        "total_tokens": 995,
    }
    assert s.version == "1.1.0"
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (1767952800000, 1768036500000)
    assert s.diagnostics.unknown_types == {}
    # The fixture's costUSD fields are ignored: we price from usage.
    assert s.cost_usd is not None and s.cost_usd != pytest.approx(0.12 + 0.34 + 0.56)


@pytest.fixture
def subagent_home(samples: Path, tmp_path: Path) -> Path:
    """A Claude home whose project folder is a copy of the sample folder (discovery never follows
    a symlink out of the session tree, so a link to the samples would be skipped)."""
    projects = tmp_path / ".claude" / "projects"
    projects.mkdir(parents=True)
    shutil.copytree(samples / "claude" / "agent-sessions-subagent", projects / "-tmp")
    return tmp_path


def test_subagent_fixture_ids_come_from_the_path(subagent_home: Path) -> None:
    """AgentSight bug 7.1: the child must not take the parent's id (or collide with it)."""
    files = find_session_files(subagent_home / ".claude")
    names = sorted(f.path.name for f in files)
    assert names == [f"{PARENT_ID}.jsonl", f"agent-{CHILD_ID}.jsonl"]  # no .meta.json
    by_name = {f.path.name: parse(f.path, detail=True) for f in files}
    parent, child = by_name[f"{PARENT_ID}.jsonl"], by_name[f"agent-{CHILD_ID}.jsonl"]
    assert child.session_id == CHILD_ID
    assert child.parent_session_id == PARENT_ID
    assert parent.session_id == PARENT_ID and parent.parent_session_id is None
    assert child.display_id != parent.display_id
    assert (parent.display_id, child.display_id) == ("claude:0a1b2c.d6e7f", "claude:a0ad4f.df20d")
    # The child's first line is the Task prompt (isSidechain): not something the user typed.
    assert child.prompt_count == 0 and child.prompt_preview is None
    assert parent.prompt_preview == "Delegate a repo search to a subagent" and parent.prompt_count == 1
    assert child.tools == {"bash": 1} and parent.tools == {"Task": 1}
    assert child.cwd == "/tmp" and child.version == "2.1.207"
    assert child.diagnostics.unknown_types == {} and parent.diagnostics.unknown_types == {}


def test_subagent_fixture_through_the_store(subagent_home: Path) -> None:
    store = claude_store(subagent_home)
    store.refresh()
    ids = {s.session_id: s for s in store.sessions()}
    assert sorted(ids) == sorted([PARENT_ID, CHILD_ID])
    assert ids[PARENT_ID].subagent_ids == [CHILD_ID]


# ------------------------------------------------------------- discovery
def _touch(path: Path, data: bytes = b"{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_find_session_files_takes_transcripts_only(tmp_path: Path) -> None:
    root = tmp_path / ".claude"
    proj = root / "projects" / "-home-dev-x"
    sid = "11111111-2222-4333-8444-555555555555"
    wanted = [
        _touch(proj / f"{sid}.jsonl"),
        _touch(proj / sid / "subagents" / "agent-a1.jsonl"),
        _touch(proj / sid / "subagents" / "workflows" / "wf_7" / "agent-a2.jsonl"),
        _touch(proj / "agent-b3.jsonl"),  # 2.0.x layout
        _touch(root / "projects" / "-other" / "22222222-2222-4333-8444-555555555555.jsonl"),
    ]
    for not_a_session in (
        proj / sid / "subagents" / "agent-a1.meta.json",
        proj / sid / "tool-results" / "toolu_1.txt",
        proj / sid / "tool-results" / "big.jsonl",
        proj / "memory" / "notes.md",
        proj / "memory" / "facts.jsonl",
        proj / "sessions-index.json",
        root / "projects" / "stray.jsonl",
        root / "history.jsonl",
        root / "settings.json",
        root / "settings.local.json",
        root / "sessions" / "4242.json",
        root / "todos" / f"{sid}-agent-{sid}.json",
        root / "file-history" / sid / "abc@v1",
        root / "shell-snapshots" / "snapshot-bash-1.sh",
    ):
        _touch(not_a_session)
    assert sorted(f.path for f in find_session_files(root)) == sorted(wanted)


def test_find_session_files_tolerates_missing_and_unreadable_dirs(tmp_path: Path) -> None:
    assert find_session_files(tmp_path / "nope") == []
    _touch(tmp_path / "projects")  # a file where a folder should be
    assert find_session_files(tmp_path) == []
    root = tmp_path / "r"
    ok = _touch(root / "projects" / "-a" / "33333333-2222-4333-8444-555555555555.jsonl")
    locked = root / "projects" / "-b"
    _touch(locked / "44444444-2222-4333-8444-555555555555.jsonl")
    locked.chmod(0)
    try:
        found = [f.path for f in find_session_files(root)]
    finally:
        locked.chmod(0o755)
    assert ok in found
    if os.geteuid() != 0:  # root reads through permissions
        assert found == [ok]


def test_subagent_parent_for_workflows_and_legacy_layout(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-x"
    wf = ClaudeParser(proj / "P1" / "subagents" / "workflows" / "wf_1" / "agent-c9.jsonl")
    assert (wf.session.session_id, wf.session.parent_session_id) == ("c9", "P1")
    nested = ClaudeParser(proj / "P2" / "subagents" / "agent-x" / "subagents" / "agent-d4.jsonl")
    assert nested.session.parent_session_id == "agent-x"  # the folder before the LAST "subagents"
    # 2.0.x: agent-<id>.jsonl beside the main files; the lines carry the parent's sessionId.
    legacy_path = proj / "agent-e5.jsonl"
    data = user("do it", isSidechain=True, sessionId="PARENT-1") + assistant(
        "m1", "r1", u(1, 2), sessionId="PARENT-1", isSidechain=True
    )
    s = parse(legacy_path, data)
    assert (s.session_id, s.parent_session_id) == ("e5", "PARENT-1")
    assert s.prompt_count == 0


def test_main_file_session_id_is_the_stem_not_the_lines(tmp_path: Path) -> None:
    s = parse(
        tmp_path / "-folder-that-lies" / "abc.jsonl",
        assistant("m", "r", u(1, 1), sessionId="other", cwd="/real/cwd"),
    )
    assert (s.session_id, s.parent_session_id, s.cwd) == ("abc", None, "/real/cwd")


# ------------------------------------------------------- generated variants
VARIANTS = [
    spec(0),
    spec(1, turns=1, tools_per_turn=0),
    spec(2, turns=4, tools_per_turn=5, models=("claude-sonnet-4-5", "claude-opus-4-1"), output_bytes=2000),
    spec(3, turns=2, tools_per_turn=8, extra={"growing_usage": True}),
    spec(
        4, turns=5, tools_per_turn=3, extra={"slash_command": False}, prompts=("Fix it \x1b[31mnow\x1b[0m",)
    ),
    spec(5, turns=2, tools_per_turn=1, extra={"subagents": 2}),
]


@pytest.mark.parametrize("sp", VARIANTS, ids=lambda sp: sp.session_id[:8])
def test_generated_session_matches_expected(tmp_path: Path, sp: SynthSpec) -> None:
    path = synth.write_session(tmp_path, sp)
    assert path == synth.session_path(tmp_path, sp)
    assert path.parent.name == synth.encode_cwd(sp.cwd) == sp.cwd.replace("/", "-")
    full = parse(path, detail=True)
    brief = parse(path, detail=False)
    assert summary(full) == summary(brief)
    exp = synth.expected(sp)
    assert {m: v.as_tuple() for m, v in full.model_usage.items()} == {m: v.as_tuple() for m, v in exp.items()}
    assert full.usage.total_tokens == sum(v.total_tokens for v in exp.values())
    assert full.models == list(dict.fromkeys(sp.models[t % len(sp.models)] for t in range(sp.turns)))
    assert sum(full.tools.values()) == synth.expected_tool_count(sp)
    assert full.files == synth.expected_files(sp)
    assert (full.start_timestamp_ms, full.end_timestamp_ms) == synth.expected_span(sp)
    assert full.start_timestamp_ms == sp.start_ms
    assert (full.session_id, full.parent_session_id, full.cwd) == (sp.session_id, None, sp.cwd)
    assert full.diagnostics.unknown_types == {} and full.diagnostics.lines_skipped == 0
    assert full.events is not None
    # Only typed prompts and the slash command; reminders, caveats, compaction text are not prompts.
    assert [(p.text, p.command) for p in full.events.prompts] == synth.expected_prompts(sp)
    assert full.prompt_count == len(synth.expected_prompts(sp))
    assert len(full.events.tools) == synth.expected_tool_count(sp)
    assert (
        len(full.events.llm_responses)
        == full.request_count
        == sum(
            2 if sp.tools_per_turn or (t == 0 and sp.extra.get("subagents")) else 1 for t in range(sp.turns)
        )
    )


def test_generated_prompt_and_reminder_shapes_are_filtered() -> None:
    sp = spec(6, turns=3)
    data = b"".join(synth.session_lines(sp))
    # The generated file holds injected text of every kind the CLI writes...
    for needle in (
        b"<system-reminder>",
        b"<local-command-caveat>",
        b"<local-command-stdout>",
        b'"isCompactSummary":true',
        b"<command-name>/compact</command-name>",
        b'"type":"api-request-blob"',
        b'"type":"queue-operation"',
        b'"type":"last-prompt"',
        b'"type":"cost-state"',
    ):
        assert needle in data, needle
    s = parse("/x/-p/" + sp.session_id + ".jsonl", data, detail=True)
    assert s.events is not None
    assert [(p.text, p.command) for p in s.events.prompts] == [
        ("Summarize README.md and the parser module for me. (turn 0)", None),
        ("/compact keep the tool list", "/compact"),
        ("Now fix the failing test in tests/test_app.py and run the suite. (turn 1)", None),
        ("Add a short changelog entry for this change. (turn 2)", None),
    ]


def test_generated_tool_events_are_linked(tmp_path: Path) -> None:
    """AgentSight bug 7.10: results linked with status, end time and duration; create vs write."""
    sp = spec(7, turns=4, tools_per_turn=5, output_bytes=50)
    s = parse(synth.write_session(tmp_path, sp), detail=True)
    assert s.events is not None
    tools = s.events.tools
    assert len(tools) == 20
    for t in tools:
        assert t.ts_ms is not None and t.end_ts_ms is not None and t.duration_ms is not None
        assert t.end_ts_ms >= t.ts_ms and t.duration_ms == t.end_ts_ms - t.ts_ms
        assert t.output_preview
    names = [t.tool_name for t in tools]
    assert names[:8] == ["Read", "Bash", "Edit", "Grep", "Write", "Glob", "WebFetch", "TodoWrite"]
    failed = [(i, t.tool_name, t.command) for i, t in enumerate(tools) if t.status is ToolStatus.FAIL]
    assert failed == [(9, "Bash", "git diff --exit-code")]
    assert all(t.status is ToolStatus.OK for i, t in enumerate(tools) if i != 9)
    cwd = sp.cwd
    assert tools[0].paths == [ToolPath(path=f"{cwd}/README.md", access=FileAccess.READ)]
    assert tools[2].paths == [ToolPath(path=f"{cwd}/src/mod_2.py", access=FileAccess.WRITE)]
    assert tools[4].paths == [ToolPath(path=f"{cwd}/notes/turn_0_4.md", access=FileAccess.CREATE)]
    assert tools[3].paths == [] and tools[5].paths == []  # Grep/Glob search a directory
    assert [t.category.value for t in tools[:8]] == [
        "read", "shell", "edit", "search", "edit", "search", "network", "plan",
    ]  # fmt: skip
    assert [t.command for t in tools[:8]] == [
        f"{cwd}/README.md", "git status --short", f"{cwd}/src/mod_2.py", "TODO",
        f"{cwd}/notes/turn_0_4.md", "**/*.py", "https://example.com/docs", None,
    ]  # fmt: skip
    assert [t.prompt_index for t in tools[::5]] == [0, 2, 3, 4]  # /compact is prompt 1


def test_generated_subagents_roll_up_without_double_counting(tmp_path: Path) -> None:
    sp = spec(8, turns=2, tools_per_turn=2, extra={"subagents": 2})
    synth.write_session(tmp_path, sp)
    agent_ids = synth.subagent_ids(sp)
    assert len(set(agent_ids)) == 2
    files = find_session_files(tmp_path / ".claude")
    assert len(files) == 3 and not any(f.path.name.endswith(".meta.json") for f in files)
    parsed = {s.session_id: s for s in (parse(f.path) for f in files)}
    assert sorted(parsed) == sorted([sp.session_id, *agent_ids])
    exp_children = synth.expected_subagents(sp)
    for agent_id in agent_ids:
        child = parsed[agent_id]
        assert child.parent_session_id == sp.session_id
        assert child.prompt_count == 0
        assert {m: v.as_tuple() for m, v in child.model_usage.items()} == {
            m: v.as_tuple() for m, v in exp_children[agent_id].items()
        }
        assert synth.subagent_lines(sp, agent_id) == synth.subagent_path(
            tmp_path, sp, agent_id
        ).read_bytes().splitlines(keepends=True)
    parent = parsed[sp.session_id]
    # The Task results repeat the child's usage in toolUseResult: never added to the parent.
    assert {m: v.as_tuple() for m, v in parent.model_usage.items()} == {
        m: v.as_tuple() for m, v in synth.expected(sp).items()
    }
    assert parent.tools["Task"] == 2
    assert len({s.display_id for s in parsed.values()}) == 3
    store = claude_store(tmp_path)
    store.refresh()
    top = next((s for s in store.sessions() if s.session_id == sp.session_id), None)
    assert top is not None and top.subagent_ids == sorted(agent_ids)
    kids_total = sum(v.total_tokens for per in exp_children.values() for v in per.values())
    assert top.subagent_usage.total_tokens == kids_total
    assert top.total_with_subagents.total_tokens == parent.usage.total_tokens + kids_total


# --------------------------------------------------------------- AgentSight bugs
@pytest.mark.parametrize("mtime_offset_s", [-10 * 86400, 0, 30 * 86400])
def test_start_time_is_the_first_record_not_the_mtime(tmp_path: Path, mtime_offset_s: int) -> None:
    """AgentSight bug 7.3: the start comes from the first record, whatever the file's mtime says."""
    sp = spec(9, turns=2)
    path = synth.write_session(tmp_path, sp)
    mtime = sp.start_ms / 1000 + mtime_offset_s
    os.utime(path, (mtime, mtime))
    store = claude_store(tmp_path)
    store.refresh()
    (s,) = store.sessions()
    start, end = synth.expected_span(sp)
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (start, end)
    assert start == sp.start_ms and start < end
    assert s.duration_ms == end - start


def test_injected_text_is_not_a_prompt() -> None:
    """AgentSight bug 7.10 (second half): only what the user typed counts."""
    lines = [
        user(
            "<local-command-caveat>Caveat: The messages below were generated by the user</local-command-caveat>",
            isMeta=True,
        ),
        user(
            "Caveat: The messages below were generated by the user while running local commands. DO NOT respond."
        ),
        user("Base directory for this skill: /x\n\n# Skill", isMeta=True),
        user(
            "This session is being continued from a previous conversation that ran out of context.",
            isCompactSummary=True,
        ),
        user("sub-agent task prompt", isSidechain=True),
        user("<local-command-stdout>done</local-command-stdout>"),
        user("<bash-input>ls</bash-input>"),
        user("<bash-stdout>a b</bash-stdout><bash-stderr></bash-stderr>"),
        user("<task-notification><task-id>1</task-id></task-notification>"),
        user([{"type": "text", "text": "[Request interrupted by user for tool use]"}]),
        user("<system-reminder>\nonly a reminder\n</system-reminder>"),
        user(
            [
                {"type": "tool_result", "tool_use_id": "t1", "content": "out"},
                {"type": "text", "text": "looks typed"},
            ]
        ),
        line(
            {
                "type": "queue-operation",
                "operation": "enqueue",
                "timestamp": "2026-01-01T00:00:00Z",
                "content": "queued",
            }
        ),
        line({"type": "last-prompt", "lastPrompt": "old prompt", "sessionId": "s"}),
        line({"type": "summary", "summary": "A title", "leafUuid": "x"}),
        # What the user did type:
        user(
            "<command-message>review</command-message>\n<command-name>/review</command-name>\n<command-args>PR 12</command-args>"
        ),
        user("<command-name>compact</command-name><command-args></command-args>"),
        user(
            [
                {"type": "text", "text": "<system-reminder>ctx</system-reminder>\nreal question"},
                {"type": "image", "source": {}},
            ]
        ),
        user("plain prompt"),
    ]
    for detail in (False, True):
        s = parse("/p/-x/s1.jsonl", b"".join(lines), detail=detail)
        assert s.prompt_count == 4
        assert s.prompt_preview == "/review PR 12"
        assert s.diagnostics.unknown_types == {}
        if detail:
            assert s.events is not None
            assert [(p.text, p.command) for p in s.events.prompts] == [
                ("/review PR 12", "/review"),
                ("/compact", "/compact"),
                ("real question", None),
                ("plain prompt", None),
            ]


# ------------------------------------------------------------- usage rules
def test_duplicate_block_lines_keep_the_largest_usage() -> None:
    lines = [
        assistant("m1", "r1", u(10, 5, 100, 1000), content=[{"type": "thinking", "thinking": ""}]),
        assistant("m1", "r1", u(10, 50, 100, 1000), content=[{"type": "text", "text": "hi"}]),
        assistant(
            "m1",
            "r1",
            u(10, 30, 100, 1000),
            content=[{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}],
        ),
        assistant("m2", None, u(1, 1)),  # no requestId: the message id alone is the key
        assistant("m2", None, u(1, 2)),
        assistant("m3", "ra", u(7, 7)),  # same message id, new request (a /btw-style replay): two requests
        assistant("m3", "rb", u(7, 7)),
        assistant(None, None, u(2, 2)),  # no id at all: never deduplicated
        assistant(None, None, u(2, 2)),
    ]
    for detail in (False, True):
        s = parse("/p/-x/s2.jsonl", b"".join(lines), detail=detail)
        assert s.request_count == 6
        assert (s.usage.input_tokens, s.usage.output_tokens) == (10 + 1 + 14 + 4, 50 + 2 + 14 + 4)
        assert (s.usage.cache_creation_tokens, s.usage.cache_read_tokens) == (100, 1000)
        assert s.tools == {"Bash": 1}
        if detail:
            assert s.events is not None and len(s.events.llm_responses) == 6
            assert s.events.llm_responses[0].usage.output_tokens == 50


def test_generated_growing_usage_keeps_the_final_numbers() -> None:
    sp = spec(10, turns=2, tools_per_turn=4, extra={"growing_usage": True})
    data = b"".join(synth.session_lines(sp))
    s = parse("/p/-x/g.jsonl", data)
    assert {m: v.as_tuple() for m, v in s.model_usage.items()} == {
        m: v.as_tuple() for m, v in synth.expected(sp).items()
    }
    # ...and the partial lines really were smaller (the test would pass vacuously otherwise).
    outputs: dict[str, list[int]] = {}
    for ln in data.splitlines():
        rec = json.loads(ln)
        if rec.get("type") == "assistant":
            outputs.setdefault(rec["message"]["id"], []).append(rec["message"]["usage"]["output_tokens"])
    first_msg = next(iter(outputs.values()))
    assert len(first_msg) == 6 and first_msg == sorted(first_msg) and first_msg[0] < first_msg[-1]
    # Feeding only the first (partial) line of that message charges less than the final numbers.
    head = b"".join(ln for ln in data.splitlines(keepends=True) if b'"usage"' in ln)
    partial = parse("/p/-x/g.jsonl", head.splitlines(keepends=True)[0])
    assert partial.usage.output_tokens == first_msg[0] < first_msg[-1]


def test_synthetic_model_and_side_records_are_not_counted() -> None:
    lines = [
        assistant("m1", "r1", u(3, 4, 5, 6), model="claude-sonnet-4-20250514"),
        assistant(
            "m2",
            "r2",
            u(0, 0),
            model="<synthetic>",
            content=[{"type": "text", "text": "No response requested."}],
        ),
        line({"type": "cost-state", "sessionId": "s", "modelUsage": {"x": {"inputTokens": 999999}}}),
        user(
            [{"type": "tool_result", "tool_use_id": "t9", "content": "done"}],
            toolUseResult={"agentId": "a1", "totalTokens": 5000, "usage": u(1000, 1000, 1000, 2000)},
        ),
        line(
            {
                "type": "progress",
                "data": {"message": {"message": {"usage": u(50, 50)}}},
                "timestamp": "2026-01-01T00:00:09Z",
            }
        ),
    ]
    for detail in (False, True):
        s = parse("/p/-x/s3.jsonl", b"".join(lines), detail=detail)
        assert s.models == ["claude-sonnet-4-20250514"]
        assert list(s.model_usage) == ["claude-sonnet-4-20250514"]
        assert s.usage.total_tokens == 18 and s.request_count == 1


def test_unknown_types_are_counted_and_known_ones_are_not() -> None:
    known = [
        line({"type": t, "sessionId": "s"})
        for t in (
            "summary", "custom-title", "file-history-snapshot", "api-request", "api-request-shape",
            "api-request-blob", "cost-state", "tools-used", "last-prompt", "queue-operation", "mode",
            "attachment", "progress", "atis-latch",
        )
    ]  # fmt: skip
    system = line(
        {"type": "system", "subtype": "compact_boundary", "timestamp": "2026-01-01T00:00:00Z", "cwd": "/w"}
    )
    unknown = [
        line({"type": "brand-new-thing", "x": 1}),
        line({"type": "brand-new-thing"}),
        line({"no": "type"}),
    ]
    for detail in (False, True):
        s = parse("/p/-x/s4.jsonl", b"".join([*known, system, *unknown]), detail=detail)
        assert s.diagnostics.unknown_types == {"brand-new-thing": 2, "(no type)": 1}
        assert s.diagnostics.lines_read == len(known) + 4 and s.diagnostics.lines_skipped == 0
        assert s.cwd == "/w"


def test_wrong_typed_fields_never_crash() -> None:
    lines = [
        assistant("m1", "r1", {"input_tokens": "12", "output_tokens": -5, "cache_read_input_tokens": None,
                               "cache_creation_input_tokens": 3.0, "output_tokens_details": [1]}),
        assistant("m2", 7, {"input_tokens": True, "output_tokens": 1}),  # type: ignore[arg-type]
        assistant("m3", "r3", "not a dict"),  # type: ignore[arg-type]
        line({"type": "assistant", "message": ["not", "a", "dict"], "timestamp": 5}),
        line({"type": "user", "message": {"content": 42}, "cwd": 7, "timestamp": "yesterday"}),
        line({"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "name": 3, "input": "x"}, {"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": 9}},
            "junk", None]}}),
        user([{"type": "tool_result", "tool_use_id": 5, "content": {"weird": True}, "is_error": "yes"}]),
        line({"type": 12}),
        b"[1, 2, 3]\n",
    ]  # fmt: skip
    for detail in (False, True):
        s = parse("/p/-x/s5.jsonl", b"".join(lines), detail=detail)
        assert (s.usage.input_tokens, s.usage.output_tokens, s.usage.cache_creation_tokens) == (12, 1, 3)
        assert s.request_count == 2
        assert s.tools == {"unknown": 1, "Read": 1} and s.files == {}
        assert s.diagnostics.skipped_by_reason == {"not_an_object": 1}
        assert s.diagnostics.unknown_types == {"(no type)": 1}
        assert s.cwd == "/w"


def test_cost_is_a_number_for_known_models_and_none_for_unknown() -> None:
    known = parse(
        "/p/-x/k.jsonl", assistant("m1", "r1", u(1000, 500, 100, 2000), model="claude-sonnet-4-20250514")
    )
    assert isinstance(known.cost_usd, float) and known.cost_usd > 0 and known.unpriced_models == []
    unknown = parse("/p/-x/u.jsonl", assistant("m1", "r1", u(1000, 500), model="claude-nonexistent-9-zz"))
    assert unknown.cost_usd is None and unknown.unpriced_models == ["claude-nonexistent-9-zz"]
    assert unknown.usage.total_tokens == 1500  # usage is still counted


# -------------------------------------------------------- feeding and errors
@pytest.mark.parametrize("detail", [False, True])
def test_random_line_aligned_splits_equal_one_feed(detail: bool) -> None:
    sp = spec(
        11,
        turns=3,
        tools_per_turn=3,
        models=("claude-sonnet-4-5", "claude-haiku-4-5"),
        extra={"subagents": 1},
    )
    data = b"".join(synth.session_lines(sp))
    lines = data.splitlines(keepends=True)
    path = "/p/-x/" + sp.session_id + ".jsonl"
    whole = parse(path, data, detail=detail)
    rng = random.Random(1234)
    for _ in range(15):
        cuts = sorted(rng.sample(range(1, len(lines)), rng.randint(1, 12)))
        parser = ClaudeParser(path, detail=detail)
        prev = 0
        for cut in [*cuts, len(lines)]:
            parser.feed(b"".join(lines[prev:cut]))
            if rng.random() < 0.5:
                parser.snapshot()
            prev = cut
        assert parser.snapshot() == whole


def test_torn_or_malformed_line_in_the_middle_is_counted_and_the_rest_parses() -> None:
    sp = spec(12, turns=3)
    lines = list(synth.session_lines(sp))
    idx = next(i for i, ln in enumerate(lines) if b'"usage"' in ln)
    torn = lines[idx][: len(lines[idx]) // 2] + b"\n"  # a duplicate block line cut short
    lines.insert(len(lines) // 2, torn)
    lines.insert(5, b"\x00\xff not json at all\n")
    for detail in (False, True):
        s = parse("/p/-x/t.jsonl", b"".join(lines), detail=detail)
        assert s.diagnostics.lines_skipped == 2
        assert s.diagnostics.skipped_by_reason == {"malformed_json": 2}
        assert s.diagnostics.last_error is not None
        assert {m: v.as_tuple() for m, v in s.model_usage.items()} == {
            m: v.as_tuple() for m, v in synth.expected(sp).items()
        }
        assert s.prompt_count == len(synth.expected_prompts(sp))


def test_prefilter_skips_only_lines_that_cannot_matter(real_file: Path) -> None:
    """Summary mode rejects the bulky lines; a parser that decodes everything agrees with it."""

    class NoFilter(ClaudeParser):
        def wants(self, line: bytes) -> bool:
            return True

    data = real_file.read_bytes()
    rejected = [ln for ln in data.splitlines() if not ClaudeParser(real_file).wants(ln)]
    kinds = sorted({json.loads(ln).get("type") for ln in rejected})
    assert kinds == [
        "api-request", "api-request-blob", "api-request-shape", "atis-latch", "attachment",
        "cost-state", "last-prompt", "mode", "queue-operation", "tools-used",
    ]  # fmt: skip
    assert sum(len(ln) for ln in rejected) > 0.9 * len(data)  # most bytes are never decoded
    # Tool-result lines are decoded in both modes: the summary counts each call's outcome.
    results = [ln for ln in data.splitlines() if b'"type":"tool_result"' in ln]
    assert len(results) == 3 and all(ClaudeParser(real_file).wants(ln) for ln in results)
    for detail in (False, True):
        for source in (data, b"".join(synth.session_lines(spec(13, extra={"subagents": 1})))):
            plain = ClaudeParser(real_file, detail=detail)
            plain.feed(source)
            full = NoFilter(real_file, detail=detail)
            full.feed(source)
            assert plain.snapshot() == full.snapshot()


def test_prefilter_keeps_lines_it_cannot_classify() -> None:
    p = ClaudeParser("/p/-x/s.jsonl")
    # A user line whose first block is text keeps its chance to be a prompt, tool results after it or not.
    assert p.wants(user([{"type": "text", "text": "hi"}, {"type": "tool_result", "tool_use_id": "t"}]))
    assert p.wants(user("typed"))
    # Assistant lines put "type" after the message: decoded.
    assert p.wants(assistant("m", "r", u(1, 1)))
    # A brace in the cwd hides the top-level type: decoded rather than guessed.
    assert p.wants(b'{"cwd":"/a{b","type":"attachment","timestamp":"2026-01-01T00:00:00Z"}')
    assert not p.wants(b'{"type":"progress","data":{"x":1}}')
    assert not p.wants(
        b'{"parentUuid":null,"isSidechain":false,"attachment":{"type":"date"},"type":"attachment"}'
    )
    # Tool results give the summary its outcomes (``tool_status``): decoded in both modes.
    assert p.wants(user([{"type": "tool_result", "tool_use_id": "t", "content": "x"}]))


def test_write_result_says_create_or_update_and_bash_uses_shell_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str | None]] = []

    def fake_shell_paths(command: str | list[str], cwd: str | None) -> list[ToolPath]:
        assert isinstance(command, str)
        calls.append((command, cwd))
        return [ToolPath(path=f"{cwd}/out.txt", access=FileAccess.WRITE)]

    monkeypatch.setattr(claude_source, "shell_paths", fake_shell_paths)
    blocks = [
        {
            "type": "tool_use",
            "id": "w1",
            "name": "Write",
            "input": {"file_path": "/w/new.md", "content": "x"},
        },
        {
            "type": "tool_use",
            "id": "w2",
            "name": "Write",
            "input": {"file_path": "rel/old.md", "content": "y"},
        },
        {"type": "tool_use", "id": "w3", "name": "Write", "input": {"file_path": "/w/unknown.md"}},
        {"type": "tool_use", "id": "e1", "name": "MultiEdit", "input": {"file_path": "/w/a.py", "edits": []}},
        {"type": "tool_use", "id": "n1", "name": "NotebookEdit", "input": {"notebook_path": "/w/n.ipynb"}},
        {"type": "tool_use", "id": "g1", "name": "Grep", "input": {"pattern": "x", "path": "/w/src"}},
        {"type": "tool_use", "id": "b1", "name": "Bash", "input": {"command": "echo hi > out.txt"}},
        {
            "type": "tool_use",
            "id": "t1",
            "name": "Task",
            "input": {"description": "look around", "prompt": "p"},
        },
        {"type": "tool_use", "id": "x1", "name": "mcp__gh__get_issue", "input": {"url": "https://x/1"}},
    ]
    data = assistant("m1", "r1", u(1, 1), content=blocks) + b"".join(
        user([{"type": "tool_result", "tool_use_id": cid, "content": "ok"}], toolUseResult=tur)
        for cid, tur in (("w1", {"type": "create"}), ("w2", {"type": "update"}), ("w3", "plain string"))
    )
    s = parse("/p/-w/s6.jsonl", data, detail=True)
    assert calls == [("echo hi > out.txt", "/w")]
    assert s.events is not None
    by_id = {t.call_id: t for t in s.events.tools}
    assert by_id["w1"].paths == [ToolPath(path="/w/new.md", access=FileAccess.CREATE)]
    assert by_id["w2"].paths == [ToolPath(path="/w/rel/old.md", access=FileAccess.WRITE)]
    assert by_id["w3"].paths == [ToolPath(path="/w/unknown.md", access=FileAccess.WRITE)]
    assert by_id["e1"].paths == [ToolPath(path="/w/a.py", access=FileAccess.WRITE)]
    assert by_id["n1"].paths == [ToolPath(path="/w/n.ipynb", access=FileAccess.WRITE)]
    assert by_id["g1"].paths == [] and by_id["g1"].command == "x"
    assert by_id["b1"].paths == [ToolPath(path="/w/out.txt", access=FileAccess.WRITE)]
    assert (by_id["t1"].command, by_id["t1"].category.value) == ("look around", "subagent")
    assert (by_id["x1"].command, by_id["x1"].category.value) == ("https://x/1", "mcp")
    assert [by_id[c].status for c in ("w1", "w2", "w3", "e1")] == [ToolStatus.OK] * 3 + [ToolStatus.PENDING]
    assert sorted(s.files) == [
        "/w/a.py",
        "/w/n.ipynb",
        "/w/new.md",
        "/w/out.txt",
        "/w/rel/old.md",
        "/w/unknown.md",
    ]
    summary_mode = parse("/p/-w/s6.jsonl", data)
    assert summary_mode.files == s.files and summary_mode.tools == s.tools


def test_session_facts_last_seen_wins() -> None:
    lines = [
        assistant(
            "m1", "r1", u(1, 1), cwd="/a", gitBranch="main", version="2.0.1", ts="2026-01-01T00:00:05Z"
        ),
        user("go on", cwd="/b", gitBranch="feature", version="2.0.2", ts="2026-01-01T00:00:01Z"),
        assistant("m2", "r2", u(1, 1), cwd="/b", gitBranch="", ts="2026-01-01T00:00:03Z"),
    ]
    s = parse("/p/-not-the-cwd/s7.jsonl", b"".join(lines))
    assert (s.cwd, s.git_branch, s.version) == ("/b", "feature", "2.0.2")
    assert (s.start_timestamp_ms, s.end_timestamp_ms) == (1767225601000, 1767225605000)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-24T09:15:13.939Z",
        "1999-12-31T23:59:59.999Z",
        "2024-02-29T00:00:00.000Z",
        "2026-11-24T09:15:13Z",
        "2026-11-24T09:15:13.939+02:00",
        "2026-11-24T09:15:13.93Z",
        "2026-13-24T09:15:13.939Z",
        "2026-11-24Tab:15:13.939Z",
        "2026-11-24T24:15:13.939Z",
        "2026-11-24T09:60:13.939Z",
        "2026-11-24T-1:15:13.939Z",
        "2026-11-24T1_:15:13.939Z",
        "2026-11-24T09:15:13.9_9Z",
        "2026-11-24T09-15-13.939Z",
        "not a timestamp at all!!",
        1795511713939,
        None,
    ],
)
def test_fast_timestamp_path_agrees_with_parse_ts_ms(value: Any) -> None:
    from agent_session.text import parse_ts_ms

    parser = ClaudeParser("/p/-x/s.jsonl")
    assert parser._ts(value) == parse_ts_ms(value)
    assert parser._ts(value) == parse_ts_ms(value)  # second time through the day cache
