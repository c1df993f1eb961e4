"""SessionStore: incremental reads equal a cold parse, whatever happens to the files."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.sessions import AGENTS, comparable, spec_for, synth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_session import AgentHomes, SessionLookupError, SessionStore
from agent_session import store as store_mod


def cold(home: Path) -> dict[str, dict[str, Any]]:
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    return {s.session_id: comparable(s) for s in store.sessions()}


def by_id(store: SessionStore) -> dict[str, dict[str, Any]]:
    return {s.session_id: comparable(s) for s in store.sessions()}


@pytest.mark.parametrize("agent", AGENTS)
def test_cold_parse_of_generated_session_has_expected_usage(tmp_path: Path, agent: str) -> None:
    mod = synth(agent)
    spec = spec_for(agent)
    mod.write_session(tmp_path, spec)
    store = SessionStore(AgentHomes.resolve(tmp_path))
    stats = store.refresh()
    sessions = store.sessions()
    assert [s.session_id for s in sessions] == [spec.session_id]
    s = sessions[0]
    expected = mod.expected(spec)
    assert {m: u.as_tuple() for m, u in s.model_usage.items()} == {
        m: u.as_tuple() for m, u in expected.items()
    }
    assert s.usage.total_tokens == sum(u.total_tokens for u in expected.values())
    assert stats.files_read == 1 and stats.bytes_read == os.path.getsize(s.path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.parametrize("agent", AGENTS)
def test_any_byte_split_across_refreshes_equals_one_parse(
    tmp_path_factory: Any, agent: str, data: Any
) -> None:
    mod = synth(agent)
    home = tmp_path_factory.mktemp("home")
    spec = spec_for(agent, turns=2, tools_per_turn=1, output_bytes=80)
    path = mod.session_path(home, spec)
    content = b"".join(mod.session_lines(spec))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=8), label="cuts"))
    path.parent.mkdir(parents=True, exist_ok=True)
    if agent == "gemini":
        mod.write_session(home, spec)  # side files (projects.json), then restart the session file empty
    path.write_bytes(b"")
    store = SessionStore(AgentHomes.resolve(home))
    store.refresh()
    prev = 0
    for cut in [*cuts, len(content)]:
        with open(path, "ab") as fh:
            fh.write(content[prev:cut])
        prev = cut
        store.refresh()
    assert by_id(store) == cold(home)


@pytest.mark.parametrize("agent", AGENTS)
def test_refresh_reads_only_appended_bytes(tmp_path: Path, agent: str) -> None:
    mod = synth(agent)
    spec = spec_for(agent)
    path = mod.write_session(tmp_path, spec)
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    assert store.refresh().bytes_read == 0  # nothing changed: nothing read
    extra = b"".join(mod.session_lines(spec_for(agent, turns=1, seed=7)))
    last = extra.splitlines(keepends=True)[-1]
    with open(path, "ab") as fh:
        fh.write(last)
    stats = store.refresh()
    assert stats.bytes_read == len(last)
    assert stats.changed_paths == [str(path)]


def test_torn_last_line_is_held_back_then_completed(tmp_path: Path) -> None:
    mod = synth("claude")
    spec = spec_for("claude")
    path = mod.session_path(tmp_path, spec)
    content = b"".join(mod.session_lines(spec))
    lines = content.splitlines(keepends=True)
    # Cut the last assistant line in half.
    idx = max(i for i, ln in enumerate(lines) if b'"usage"' in ln)
    head = b"".join(lines[:idx]) + lines[idx][: len(lines[idx]) // 2]
    path.parent.mkdir(parents=True)
    path.write_bytes(head)
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    torn = store.sessions()[0]
    assert torn.diagnostics.lines_skipped == 0
    assert torn.diagnostics.last_error is not None and "incomplete last line" in torn.diagnostics.last_error
    with open(path, "ab") as fh:
        fh.write(content[len(head) :])
    store.refresh()
    assert by_id(store) == cold(tmp_path)
    assert store.sessions()[0].diagnostics.last_error is None


def test_last_line_without_newline_is_not_lost(tmp_path: Path) -> None:
    mod = synth("codex")
    spec = spec_for("codex")
    path = mod.write_session(tmp_path, spec)
    content = path.read_bytes()
    path.write_bytes(content.rstrip(b"\n"))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    s = store.sessions()[0]
    exp = mod.expected(spec)
    assert s.usage.total_tokens == sum(u.total_tokens for u in exp.values())
    # The newline arrives later, then more lines: nothing counted twice.
    more = b"".join(mod.session_lines(spec_for("codex", turns=1, seed=3))).splitlines(keepends=True)[-1]
    with open(path, "ab") as fh:
        fh.write(b"\n" + more)
    store.refresh()
    assert by_id(store) == cold(tmp_path)


@pytest.mark.parametrize("agent", AGENTS)
def test_truncated_file_is_reparsed(tmp_path: Path, agent: str) -> None:
    mod = synth(agent)
    path = mod.write_session(tmp_path, spec_for(agent, turns=4))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    shorter = b"".join(mod.session_lines(spec_for(agent, turns=1)))
    path.write_bytes(shorter)
    store.refresh()
    assert by_id(store) == cold(tmp_path)
    assert store.sessions()[0].diagnostics.reparses == 1


def test_replaced_file_is_reparsed(tmp_path: Path) -> None:
    mod = synth("codex")
    path = mod.write_session(tmp_path, spec_for("codex", turns=2))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    before = store.sessions()[0].usage.total_tokens
    # Same size or larger, but a new inode: must not be read from the old offset.
    replacement = b"".join(synth("codex").session_lines(spec_for("codex", turns=3, seed=9)))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(replacement)
    os.replace(tmp, path)
    store.refresh()
    assert by_id(store) == cold(tmp_path)
    assert store.sessions()[0].usage.total_tokens != before


def test_vanished_file_drops_its_session_and_others_stay(tmp_path: Path) -> None:
    paths = {a: synth(a).write_session(tmp_path, spec_for(a)) for a in AGENTS}
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    assert len(store.sessions()) == 3
    paths["codex"].unlink()
    stats = store.refresh()
    assert stats.removed == 1
    assert sorted(s.agent_type.value for s in store.sessions()) == ["claude", "gemini"]


def test_unreadable_file_is_reported_and_keeps_last_good_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = synth("claude")
    spec = spec_for("claude")
    path = mod.write_session(tmp_path, spec)
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    good = store.sessions()[0].usage.total_tokens
    with open(path, "ab") as fh:
        fh.write(b"\n")
    real_open = open

    def deny(file: Any, *a: Any, **kw: Any) -> Any:
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr("builtins.open", deny)
    stats = store.refresh()
    assert stats.errors == 1
    assert "Permission denied" in store.errors[str(path)]
    assert store.sessions()[0].usage.total_tokens == good
    monkeypatch.undo()
    store.refresh()
    assert store.errors == {}


def test_malformed_line_in_the_middle_is_counted_and_the_rest_parses(tmp_path: Path) -> None:
    mod = synth("codex")
    spec = spec_for("codex")
    path = mod.session_path(tmp_path, spec)
    lines = list(mod.session_lines(spec))
    lines.insert(len(lines) // 2, b'{"timestamp": "2026-01-01T00:00:00Z", "type": "event_msg", "payl\n')
    lines.insert(3, b"\x00\x00\xff\xfe garbage\n")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(lines))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    s = store.sessions()[0]
    assert s.diagnostics.lines_skipped == 2
    assert s.diagnostics.skipped_by_reason == {"malformed_json": 2}
    assert s.usage.total_tokens == sum(u.total_tokens for u in mod.expected(spec).values())


def test_detail_follows_appends(tmp_path: Path) -> None:
    mod = synth("claude")
    spec = spec_for("claude", turns=2)
    path = mod.write_session(tmp_path, spec)
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    summary = store.sessions()[0]
    assert summary.events is None
    full = store.detail(summary.display_id)
    assert full.events is not None
    n_tools = len(full.events.tools)
    assert n_tools == sum(summary.tools.values()) == 2 * spec.tools_per_turn
    more = spec_for("claude", turns=3)
    path.write_bytes(b"".join(mod.session_lines(more)))  # same session grows by a turn
    store.refresh()
    again = store.detail(summary.session_id)
    assert again.events is not None and len(again.events.tools) == 3 * more.tools_per_turn


def test_resolve_by_prefix_display_id_and_ambiguity(tmp_path: Path) -> None:
    for n in (1, 2):
        synth("codex").write_session(tmp_path, spec_for("codex", n))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    a, b = sorted(store.sessions(), key=lambda s: s.session_id)
    assert store.resolve(a.session_id) is a
    assert store.resolve(a.session_id[:8]) is a
    assert store.resolve("codex:" + a.session_id[:8]) is a
    # Both ids share their first 6 and last 5 characters: the short display id is ambiguous.
    assert a.display_id == b.display_id
    with pytest.raises(SessionLookupError, match="ambiguous"):
        store.resolve(a.display_id)
    with pytest.raises(SessionLookupError, match="ambiguous"):
        store.resolve("0199")
    with pytest.raises(SessionLookupError, match="no session"):
        store.resolve("nope")


def test_no_agents_installed_gives_empty_list(tmp_path: Path) -> None:
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    assert store.sessions() == []


def test_env_overrides_are_honoured(tmp_path: Path) -> None:
    claude_a, claude_b = tmp_path / "ca", tmp_path / "cb"
    env = {
        "HOME": str(tmp_path / "nohome"),
        "CLAUDE_CONFIG_DIR": f"{claude_a},{claude_b}/projects",
        "CODEX_HOME": str(tmp_path / "cx"),
        "GEMINI_CLI_HOME": str(tmp_path / "gh"),
    }
    homes = AgentHomes.resolve(env=env)
    assert homes.claude == (claude_a, claude_b)
    assert homes.codex == (tmp_path / "cx",)
    assert homes.gemini == (tmp_path / "gh" / ".gemini",)
    default = AgentHomes.resolve(env={"HOME": str(tmp_path)})
    assert default.claude == (tmp_path / ".config" / "claude", tmp_path / ".claude")
    assert default.gemini == (tmp_path / ".gemini",)


# ------------------------------------------------------------------ watcher
def _watch_until(store: SessionStore, check: Any, what: str) -> Any:
    """Refresh until ``check(stats)`` holds; the loop bound is a hang guard (20 s), not a timing."""
    for _ in range(400):
        stats = store.refresh()
        store.sessions()
        if check(stats):
            return stats
        if store._watcher is not None and store._watcher.error:
            pytest.skip(f"no file watcher here: {store._watcher.error}")
        time.sleep(0.05)
    raise AssertionError(f"the watcher never reported {what}")


def test_watcher_resumes_after_the_agent_home_is_deleted_and_recreated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The home vanishes and comes back: new files are seen from the watcher's hints alone.

    The safety-net stat pass is pushed an hour away, so without a re-armed
    watch the recreated session would not appear at all during the test.
    """
    monkeypatch.setattr(store_mod, "FULL_STAT_INTERVAL", 3600.0)
    first = synth("claude").write_session(tmp_path, spec_for("claude", 0))
    codex = synth("codex").write_session(tmp_path, spec_for("codex", 1))
    store = SessionStore(AgentHomes.resolve(tmp_path), workers=0, watch=True)
    try:
        _watch_until(store, lambda s: not s.full_pass, "readiness")
        assert sorted(s.session_id for s in store.sessions()) == sorted(
            [spec_for("claude", 0).session_id, spec_for("codex", 1).session_id]
        )
        shutil.rmtree(tmp_path / ".claude")
        stats = _watch_until(store, lambda s: s.removed > 0, "the deletion")
        assert not stats.full_pass and stats.changed_paths == [str(first)]
        assert [s.session_id for s in store.sessions()] == [spec_for("codex", 1).session_id]
        # The home comes back with a new session.
        new = synth("claude").write_session(tmp_path, spec_for("claude", 2))
        stats = _watch_until(store, lambda s: s.added > 0, "the recreated home")
        assert not stats.full_pass and stats.discovered and stats.changed_paths == [str(new)]
        assert by_id(store) == cold(tmp_path)
        # And it is watched again: an append is read from a hint, nothing else stat'ed.
        line = b"".join(synth("claude").session_lines(spec_for("claude", 9, turns=1))).splitlines(True)[-1]
        with open(new, "ab") as fh:
            fh.write(line)
        stats = _watch_until(store, lambda s: s.files_read > 0, "the append")
        assert not stats.full_pass and (stats.files_read, stats.bytes_read) == (1, len(line))
        assert by_id(store) == cold(tmp_path)
        assert str(codex) in {s.path for s in store.sessions()}
    finally:
        store.close()
