"""``AgentSession.tool_status``: every tool call counted once, under its current outcome.

The counts move from ``pending`` to the result's status when a result is
linked, whatever the order (result first, result re-sent, call dropped from
the kept events) and however the file is split into appends; they always
equal the statuses of the detail events when none were dropped.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from helpers.sessions import spec_for, synth

from agent_session import AgentHomes, SessionStore
from agent_session.model import AgentSession, AgentType, ToolCategory, ToolStatus
from agent_session.sources.base import MAX_EARLY_RESULTS, SessionParser
from agent_session.sources.claude import ClaudeParser
from agent_session.sources.codex import CodexParser
from agent_session.sources.gemini import GeminiParser
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

PARSERS: dict[str, type[SessionParser]] = {
    "claude": ClaudeParser,
    "codex": CodexParser,
    "gemini": GeminiParser,
}


def flat(s: AgentSession) -> Counter[tuple[str, str]]:
    return Counter({(name, st): n for name, per in s.tool_status.items() for st, n in per.items()})


def event_statuses(s: AgentSession) -> Counter[tuple[str, str]]:
    assert s.events is not None
    return Counter((t.tool_name, t.status.value) for t in s.events.tools)


def parse(agent: str, path: Path, *, detail: bool, chunks: list[bytes] | None = None) -> AgentSession:
    parser = PARSERS[agent](path, detail=detail)
    for chunk in chunks if chunks is not None else [path.read_bytes()]:
        parser.feed(chunk)
    return parser.snapshot()


def check_consistent(s: AgentSession) -> None:
    """Each name's statuses sum to its ``tools`` count; no zero or negative count is kept."""
    assert {name: sum(per.values()) for name, per in s.tool_status.items()} == s.tools
    assert all(n > 0 for per in s.tool_status.values() for n in per.values())


# ------------------------------------------------------------ generated sessions
def expected_claude(sp: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for turn in range(sp.turns):
        for slot in range(sp.tools_per_turn):
            call = synth_claude._tool_call(sp, turn, slot)
            st = "fail" if call.is_error else "ok"
            out.setdefault(call.name, {}).setdefault(st, 0)
            out[call.name][st] += 1
    n_sub = len(synth_claude.subagent_ids(sp))
    if n_sub:
        out["Task"] = {"ok": n_sub}
    return out


#: What each Codex tool kind of the generator is: kind 3 exits 1, kind 6 is a web search (no result).
_CODEX_KINDS = {
    0: ("exec_command", "ok"),
    1: ("exec_command", "ok"),
    2: ("apply_patch", "ok"),
    3: ("exec_command", "fail"),
    4: ("exec_command", "ok"),
    5: ("local_shell", "ok"),
    6: ("web_search", "observed"),
}


def expected_codex(sp: Any) -> dict[str, dict[str, int]]:
    assert len(_CODEX_KINDS) == synth_codex._TOOL_KINDS
    out: dict[str, dict[str, int]] = {}
    for k in range(sp.turns * sp.tools_per_turn):
        name, st = _CODEX_KINDS[k % len(_CODEX_KINDS)]
        out.setdefault(name, {}).setdefault(st, 0)
        out[name][st] += 1
    return out


def expected_gemini(sp: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for turn in synth_gemini._plan(sp).turns:
        for reply in turn.replies:
            for c in reply.calls:
                st = "fail" if c.status == "error" else "ok"
                out.setdefault(c.name, {}).setdefault(st, 0)
                out[c.name][st] += 1
    return out


def test_generated_claude_exact(tmp_path: Path) -> None:
    sp = spec_for("claude", 0, turns=4, tools_per_turn=7, extra={"subagents": 2})
    path = synth_claude.write_session(tmp_path, sp)
    s = parse("claude", path, detail=True)
    assert s.tool_status == expected_claude(sp)
    assert s.tool_status == {
        "Read": {"ok": 4},
        "Bash": {"ok": 2, "fail": 2},
        "Edit": {"ok": 4},
        "Grep": {"ok": 4},
        "Write": {"ok": 3},
        "Glob": {"ok": 3},
        "WebFetch": {"ok": 3},
        "TodoWrite": {"ok": 3},
        "Task": {"ok": 2},
    }
    assert flat(s) == event_statuses(s)
    check_consistent(s)


def test_generated_codex_exact(tmp_path: Path) -> None:
    sp = spec_for("codex", 0, turns=4, tools_per_turn=7)
    path = synth_codex.write_session(tmp_path, sp)
    s = parse("codex", path, detail=True)
    assert s.tool_status == expected_codex(sp)
    assert s.tool_status == {
        "exec_command": {"ok": 12, "fail": 4},
        "apply_patch": {"ok": 4},
        "local_shell": {"ok": 4},
        "web_search": {"observed": 4},
    }
    assert flat(s) == event_statuses(s)
    check_consistent(s)


def test_generated_gemini_exact(tmp_path: Path) -> None:
    sp = spec_for("gemini", 0, turns=4, tools_per_turn=7)
    path = synth_gemini.write_session(tmp_path, sp)
    s = parse("gemini", path, detail=True)
    assert s.tool_status == expected_gemini(sp)
    assert s.tool_status == {
        "read_file": {"ok": 4, "fail": 1},
        "run_shell_command": {"ok": 4, "fail": 1},
        "write_file": {"ok": 4, "fail": 1},
        "replace": {"ok": 4, "fail": 1},
        "grep_search": {"ok": 3, "fail": 1},
        "list_directory": {"ok": 4},
    }
    assert flat(s) == event_statuses(s)
    check_consistent(s)


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_incremental_appends_equal_one_shot(tmp_path: Path, agent: str) -> None:
    """Fed a line at a time (a call in one append, its result in a later one): the same counts,
    and at every step each call is in exactly one status."""
    sp = spec_for(agent, 1, turns=3, tools_per_turn=5)
    path = synth(agent).write_session(tmp_path, sp)
    data = path.read_bytes()
    lines = [ln + b"\n" for ln in data.split(b"\n") if ln]
    one_shot = parse(agent, path, detail=True)
    parser = PARSERS[agent](path, detail=True)
    saw_pending = False
    for line in lines:
        parser.feed(line)
        step = parser.snapshot()
        check_consistent(step)
        assert flat(step) == event_statuses(step)
        saw_pending |= any("pending" in per for per in step.tool_status.values())
    # Claude and Codex write a result on a later line than its call; the Gemini
    # generator writes each message once, its calls already finished.
    assert saw_pending is (agent != "gemini")
    assert parser.snapshot().tool_status == one_shot.tool_status
    assert all("pending" not in per for per in one_shot.tool_status.values())


def test_real_samples_match_detail_events(real_home: Path) -> None:
    store = SessionStore(AgentHomes.resolve(real_home), workers=0)
    store.refresh()
    got: dict[str, dict[str, dict[str, int]]] = {}
    for s in store.sessions():
        d = store.detail(s)
        assert d.events is not None and d.events.tools_dropped == 0
        assert flat(d) == event_statuses(d)
        check_consistent(d)
        got[s.agent_type.value] = d.tool_status
    assert got == {
        "claude": {"Read": {"ok": 2}, "Bash": {"ok": 1}},
        "codex": {"exec_command": {"ok": 2}},
        "gemini": {"read_file": {"ok": 1}, "run_shell_command": {"ok": 1}},
    }


# ---------------------------------------------------- linking order, base level
class _Scripted(SessionParser):
    """Records ``{"call": id, "name": …}`` / ``{"result": id, "error": …, "code": …}``: the base
    accounting alone, in both modes (the real parsers decide which lines reach it)."""

    agent_type = AgentType.CLAUDE

    def handle(self, record: dict[str, Any]) -> None:
        if "call" in record:
            status = ToolStatus(record.get("status", "pending"))
            self.start_tool(record["call"], record["name"], category=ToolCategory.TOOL, status=status)
        else:
            self.finish_tool(record["result"], "out", record.get("error"), record.get("code"))


def scripted(records: list[dict[str, Any]], *, detail: bool, tool_cap: int | None = None) -> AgentSession:
    p = _Scripted("/x/s.jsonl", detail=detail)
    if tool_cap is not None:
        p._caps["tools"] = tool_cap
    p.feed(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return p.snapshot()


ORDERS: list[dict[str, Any]] = [
    {"call": "a", "name": "Bash"},
    {"result": "b", "error": True},  # before its call
    {"call": "b", "name": "Bash"},
    {"call": "c", "name": "Read"},
    {"result": "a", "code": 0},
    {"result": "a", "code": 2},  # re-sent with another outcome: moves, never adds
    {"result": "a", "code": 2},  # and again the same: nothing changes
    {"call": "a", "name": "Bash"},  # a re-written call: counted once
    {"call": None, "name": "web_search", "status": "observed"},
    {"call": "d", "name": "web_search", "status": "observed"},
    {"result": "d"},
    {"result": "zz"},  # a result whose call never comes
]


@pytest.mark.parametrize("detail", [True, False])
def test_early_resent_and_rewritten_count_once(detail: bool) -> None:
    s = scripted(ORDERS, detail=detail)
    assert s.tools == {"Bash": 2, "Read": 1, "web_search": 2}
    assert s.tool_status == {
        "Bash": {"fail": 2},
        "Read": {"pending": 1},
        "web_search": {"observed": 1, "ok": 1},
    }
    if detail:
        assert flat(s) == event_statuses(s)


@pytest.mark.parametrize("detail", [True, False])
def test_calls_dropped_from_events_still_get_their_outcome(detail: bool) -> None:
    """With room for 2 events, 40 calls: results of the dropped ones (late or early) still count."""
    records: list[dict[str, Any]] = [{"result": "c0", "code": 1}]  # early, for a call dropped later
    records += [{"call": f"c{i}", "name": "Bash"} for i in range(40)]
    records += [{"result": f"c{i}", "code": i % 3} for i in range(1, 39)]  # c39 stays pending
    s = scripted(records, detail=detail, tool_cap=2)
    assert s.tool_status == {"Bash": {"fail": 1 + 26, "ok": 12, "pending": 1}}
    if detail:
        assert s.events is not None and s.events.tools_dropped == 38
        assert [t.status for t in s.events.tools] == [ToolStatus.FAIL, ToolStatus.PENDING]


def test_early_results_are_bounded() -> None:
    """Results before their calls are kept up to ``MAX_EARLY_RESULTS``; later ones leave calls pending."""
    n = MAX_EARLY_RESULTS + 3
    records: list[dict[str, Any]] = [{"result": f"r{i}"} for i in range(n)]
    records += [{"call": f"r{i}", "name": "Read"} for i in range(n)]
    s = scripted(records, detail=False)
    assert s.tool_status == {"Read": {"ok": MAX_EARLY_RESULTS, "pending": 3}}


def test_page_window_counts_the_whole_session() -> None:
    """A page-reading parser keeps a few events but its counts cover every call."""
    from agent_session.sources.base import EVENT_WINDOW, ParseContext

    p = _Scripted("/x/s.jsonl", detail=True, context=ParseContext(extra={EVENT_WINDOW: ("tools", 2, 4)}))
    records = [{"call": f"c{i}", "name": "Bash"} for i in range(6)]
    records += [{"result": f"c{i}", "error": i == 5} for i in range(6)]
    p.feed(b"".join(orjson.dumps(r) + b"\n" for r in records))
    s = p.snapshot()
    assert s.tool_status == {"Bash": {"ok": 5, "fail": 1}}
    assert s.events is not None and [t.call_id for t in s.events.tools] == ["c2", "c3"]


# ------------------------------------------------------------------- the cache
def test_tool_status_round_trips_through_the_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for agent in ("claude", "codex", "gemini"):
        synth(agent).write_session(home, spec_for(agent, 0, turns=3, tools_per_turn=7))
    past = time.time() - 3600  # older than the racy-mtime margin, so the cache is trusted
    for root, dirs, files in os.walk(home):
        for name in [*files, *dirs]:
            os.utime(os.path.join(root, name), (past, past))
    cache_dir = tmp_path / "cache"
    cold = SessionStore(AgentHomes.resolve(home), cache=cache_dir, workers=0)
    assert cold.refresh().cache_hits == 0
    want = {s.session_id: s.tool_status for s in cold.sessions()}
    assert len(want) == 3 and all(want.values())
    warm = SessionStore(AgentHomes.resolve(home), cache=cache_dir, workers=0)
    assert warm.refresh().cache_hits == 3
    assert {s.session_id: s.tool_status for s in warm.sessions()} == want
    for s in warm.sessions():
        check_consistent(s)


# ------------------------------------------------------- summary vs detail mode
@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_summary_mode_has_the_outcomes_of_detail_mode(tmp_path: Path, agent: str) -> None:
    path = synth(agent).write_session(tmp_path, spec_for(agent, 0, turns=3, tools_per_turn=7))
    assert parse(agent, path, detail=False).tool_status == parse(agent, path, detail=True).tool_status
