"""Bounded detail: the newest events are kept, the rest counted and paged from the file.

The caps are lowered with monkeypatch so a few dozen generated calls already
overflow them; the reference is the same file parsed with the default caps
(which keep everything here), so "the newest N, in order" is checked against
what an uncapped parse really holds, field by field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.sessions import AGENTS, spec_for, synth

from agent_session import AgentHomes, AgentSession, SessionStore, ToolStatus
from agent_session import store as store_mod
from agent_session.model import SessionEvents
from agent_session.sources import base
from agent_session.sources.base import ToolCategory
from agent_session.sources.claude import ClaudeParser

TOOL_CAP, PROMPT_CAP, RESPONSE_CAP = 7, 2, 5


def _lower_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_TOOL_EVENTS", TOOL_CAP)
    monkeypatch.setattr(base, "MAX_PROMPT_EVENTS", PROMPT_CAP)
    monkeypatch.setattr(base, "MAX_RESPONSE_EVENTS", RESPONSE_CAP)


def _detail(home: Path) -> tuple[SessionStore, AgentSession]:
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    sessions = [s for s in store.sessions() if not s.is_subagent]
    assert len(sessions) == 1
    return store, store.detail(sessions[0])


def _events(s: AgentSession) -> SessionEvents:
    assert s.events is not None
    return s.events


def _dump(items: list[Any]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]


@pytest.mark.parametrize("agent", AGENTS)
def test_detail_keeps_newest_events_and_counts_the_rest(
    home: Path, monkeypatch: pytest.MonkeyPatch, agent: str
) -> None:
    mod = synth(agent)
    spec = spec_for(agent, turns=6, tools_per_turn=5, output_bytes=120)
    mod.write_session(home, spec)
    _, ref = _detail(home)
    ref_ev = _events(ref)
    assert ref_ev.tools_dropped == ref_ev.prompts_dropped == ref_ev.responses_dropped == 0
    assert len(ref_ev.tools) == sum(ref.tools.values()) >= 30
    if agent == "claude":
        assert len(ref_ev.tools) == mod.expected_tool_count(spec)
    assert len(ref_ev.prompts) > PROMPT_CAP and len(ref_ev.llm_responses) > RESPONSE_CAP

    _lower_caps(monkeypatch)
    store, s = _detail(home)
    ev = _events(s)
    assert ev.tools_dropped == len(ref_ev.tools) - TOOL_CAP
    assert ev.prompts_dropped == len(ref_ev.prompts) - PROMPT_CAP
    assert ev.responses_dropped == len(ref_ev.llm_responses) - RESPONSE_CAP
    assert _dump(ev.tools) == _dump(ref_ev.tools[-TOOL_CAP:])
    assert _dump(ev.prompts) == _dump(ref_ev.prompts[-PROMPT_CAP:])
    assert _dump(ev.llm_responses) == _dump(ref_ev.llm_responses[-RESPONSE_CAP:])
    assert ev.tools_total == len(ref_ev.tools)
    # The summary covers the whole file whatever the caps.
    assert s.tools == ref.tools and sum(s.tools.values()) == len(ref_ev.tools)
    assert s.files == ref.files
    assert s.usage == ref.usage and s.model_usage == ref.model_usage
    assert s.prompt_count == len(ref_ev.prompts)

    # Paging reads the older events back, exactly, whatever the page boundaries.
    dropped = ev.tools_dropped
    assert _dump(store.detail_page(s, "tools", 0, dropped)) == _dump(ref_ev.tools[:dropped])
    assert _dump(store.detail_page(s, "tools", 3, 4)) == _dump(ref_ev.tools[3:7])
    assert _dump(store.detail_page(s, "tools", dropped - 2, 100)) == _dump(ref_ev.tools[dropped - 2 :])
    assert store.detail_page(s, "tools", len(ref_ev.tools), 10) == []
    assert _dump(store.detail_page(s, "prompts", 0, ev.prompts_dropped)) == _dump(
        ref_ev.prompts[: ev.prompts_dropped]
    )
    assert _dump(store.detail_page(s, "responses", 1, 3)) == _dump(ref_ev.llm_responses[1:4])
    # The live detail is untouched by paging.
    assert _dump(_events(store.detail(s)).tools) == _dump(ref_ev.tools[-TOOL_CAP:])


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_capped_detail_followed_incrementally_equals_one_parse(
    home: Path, monkeypatch: pytest.MonkeyPatch, agent: str
) -> None:
    _lower_caps(monkeypatch)
    mod = synth(agent)
    spec = spec_for(agent, turns=6, tools_per_turn=5, output_bytes=120)
    content = b"".join(mod.session_lines(spec))
    path = mod.session_path(home, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Cuts mid-line and on line ends, so the lists overflow between snapshots too.
    cuts = [len(content) * k // 7 + (k % 2) for k in range(1, 7)]
    path.write_bytes(b"")
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    prev = 0
    for cut in [*cuts, len(content)]:
        with open(path, "ab") as fh:
            fh.write(content[prev:cut])
        prev = cut
        store.refresh()
        for s in store.sessions():  # none while the first line is still torn
            store.detail(s)
    followed = store.detail(store.sessions()[0])
    _, cold = _detail(home)
    # tools_version counts changes, which differ with the split; the events do not.
    assert _events(followed).model_dump(exclude={"tools_version"}) == _events(cold).model_dump(
        exclude={"tools_version"}
    )
    assert _events(followed).tools_dropped == sum(cold.tools.values()) - TOOL_CAP


def test_result_of_a_dropped_call_creates_no_phantom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_TOOL_EVENTS", 2)
    p = ClaudeParser("/nonexistent/s.jsonl", detail=True)
    for cid in ("a", "b", "c"):
        p.start_tool(cid, "Bash", category=ToolCategory.SHELL, command=f"echo {cid}", ts_ms=1_000)
    ev = _events(p.snapshot())
    assert [t.call_id for t in ev.tools] == ["b", "c"] and ev.tools_dropped == 1
    p.finish_tool("a", "late output", False, 0, 2_000)  # the result of the dropped call
    p.finish_tool("b", "done", False, 0, 3_500)
    assert p.start_tool("a", "Bash", category=ToolCategory.SHELL) is None  # re-written: counted once
    s = p.snapshot()
    ev = _events(s)
    assert [(t.call_id, t.status, t.duration_ms) for t in ev.tools] == [
        ("b", ToolStatus.OK, 2_500),
        ("c", ToolStatus.PENDING, None),
    ]
    assert ev.tools_dropped == 1 and s.tools == {"Bash": 3}
    p.start_tool("d", "Bash", category=ToolCategory.SHELL, ts_ms=4_000)
    ev = _events(p.snapshot())
    assert [t.call_id for t in ev.tools] == ["c", "d"] and ev.tools_dropped == 2


def test_tools_version_changes_with_calls_and_results() -> None:
    p = ClaudeParser("/nonexistent/s.jsonl", detail=True)
    v0 = _events(p.snapshot()).tools_version
    p.start_tool("a", "Bash", category=ToolCategory.SHELL, ts_ms=1_000)
    v1 = _events(p.snapshot()).tools_version
    p.finish_tool("a", "ok", False, 0, 2_000)
    v2 = _events(p.snapshot()).tools_version
    p.add_prompt("another prompt")
    v3 = _events(p.snapshot()).tools_version
    assert v0 < v1 < v2 == v3


def test_detail_lru_keeps_one_huge_session(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = {}
    for n, size in ((0, 40), (1, 40), (2, 2)):
        spec = spec_for("claude", n, turns=2, tools_per_turn=size, output_bytes=200)
        paths[n] = str(synth("claude").write_session(home, spec))
    sizes = {n: Path(p).stat().st_size for n, p in paths.items()}
    threshold = min(sizes[0], sizes[1])
    assert sizes[2] < threshold
    monkeypatch.setattr(store_mod, "HUGE_DETAIL_BYTES", threshold)
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    by_path = {s.path: s for s in store.sessions()}
    store.detail(by_path[paths[2]])
    store.detail(by_path[paths[0]])
    assert list(store._detail) == [paths[2], paths[0]]
    store.detail(by_path[paths[1]])  # a second huge one evicts the first, not the small one
    assert list(store._detail) == [paths[2], paths[1]]
    store.detail(by_path[paths[2]])
    assert list(store._detail) == [paths[1], paths[2]]


def test_detail_page_rejects_bad_arguments(home: Path) -> None:
    spec = spec_for("claude", turns=1, tools_per_turn=1)
    synth("claude").write_session(home, spec)
    store, s = _detail(home)
    with pytest.raises(ValueError):
        store.detail_page(s, "tools", -1, 5)
    with pytest.raises(ValueError):
        store.detail_page(s, "files", 0, 5)  # type: ignore[call-overload]
    assert len(store.detail_page(s, "tools", 0, 10)) == 1


def test_refreshes_go_on_while_a_detail_is_read(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A huge session's first detail parse takes minutes: the store's lock is not held meanwhile."""
    import threading

    from agent_session.reader import TrackedFile

    first = synth("claude").write_session(home, spec_for("claude", 0, turns=2, tools_per_turn=2))
    store = SessionStore(AgentHomes.resolve(home), workers=0)
    store.refresh()
    (opened,) = store.sessions()
    reading, release = threading.Event(), threading.Event()
    real_update = TrackedFile.update

    def slow_update(self: TrackedFile) -> int:
        if self.detail:  # the detail's parse: hold it until the test lets it go
            reading.set()
            assert release.wait(10)
        return real_update(self)

    monkeypatch.setattr(TrackedFile, "update", slow_update)
    result: list[AgentSession] = []
    reader = threading.Thread(target=lambda: result.append(store.detail(opened)))
    reader.start()
    try:
        assert reading.wait(10)
        # Meanwhile a new session appears and a refresh lists it, while the detail is still being read.
        second = synth("claude").write_session(home, spec_for("claude", 1, turns=1))
        done = threading.Event()
        refresher = threading.Thread(target=lambda: (store.refresh(), done.set()))
        refresher.start()
        assert done.wait(5), "refresh waited for the detail's parse"
        assert {s.path for s in store.sessions()} == {str(first), str(second)}
        assert not result  # the detail is still being read
    finally:
        release.set()
        reader.join(10)
    assert len(result) == 1 and result[0].events is not None and result[0].path == str(first)
