"""Discovery: every session under every home, and nothing that is not a session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent_session import AgentHomes, AgentType, SessionStore, find_session_files
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

START = 1_795_000_000_000


def spec(agent: str, n: int) -> SynthSpec:
    prefix = {"claude": "c1a0", "codex": "0c0d", "gemini": "9e31"}[agent]
    model = {"claude": "claude-sonnet-4-5", "codex": "gpt-5", "gemini": "gemini-2.5-flash"}[agent]
    return SynthSpec(
        session_id=f"{prefix}{n:04d}-0000-4000-8000-0000000{n:05d}",
        cwd=f"/work/p{n % 7}",
        start_ms=START + n * 1000,
        models=(model,),
        turns=1,
        tools_per_turn=1,
        seed=n,
    )


def write_noise(home: Path) -> None:
    """Files that live beside sessions and must never be taken for one (AgentSight bug §7.7)."""
    files = {
        ".claude/history.jsonl": '{"display":"hi","timestamp":1,"project":"/x","sessionId":"s"}\n',
        ".claude/settings.json": "{}",
        ".claude/settings.local.json": "{}",
        ".claude/sessions/4242.json": '{"pid":4242,"sessionId":"abc","cwd":"/x","startedAt":1}',
        ".claude/projects/-x/abc/subagents/agent-1.meta.json": '{"agentType":"x"}',
        ".claude/projects/-x/abc/tool-results/t1.txt": "big output",
        ".claude/todos/abc.json": "[]",
        ".codex/history.jsonl": '{"session_id":"s","ts":1,"text":"hi"}\n',
        ".codex/session_index.jsonl": '{"id":"s"}\n',
        ".codex/state_5.sqlite": "not really sqlite",
        ".codex/config.toml": "",
        ".gemini/settings.json": "{}",
        ".gemini/projects.json": '{"projects": {}}',
        ".gemini/tmp/p/logs.json": '[{"sessionId":"s","type":"user","message":"hi"}]',
        ".gemini/tmp/p/logs/session-1234.jsonl": '{"x":1}\n',
        ".gemini/tmp/p/checkpoint-tag.json": "{}",
    }
    for rel, text in files.items():
        p = home / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_non_session_files_are_never_sessions(tmp_path: Path) -> None:
    write_noise(tmp_path)
    found = find_session_files(AgentHomes.resolve(tmp_path))
    assert found == []
    written = [
        synth_claude.write_session(tmp_path, spec("claude", 1)),
        synth_codex.write_session(tmp_path, spec("codex", 1)),
        synth_gemini.write_session(tmp_path, spec("gemini", 1)),
    ]
    found = find_session_files(AgentHomes.resolve(tmp_path))
    assert sorted(str(f.path) for f in found) == sorted(str(p) for p in written)


def test_no_cap_on_the_number_of_sessions(tmp_path: Path) -> None:
    # AgentSight capped at 25 sessions (bug §7.8).
    for n in range(40):
        synth_codex.write_session(tmp_path, spec("codex", n))
        synth_claude.write_session(tmp_path, spec("claude", n))
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    sessions = store.sessions()
    assert len(sessions) == 80
    assert len({s.display_id for s in sessions}) == 80


def test_claude_config_dir_list_and_codex_home_and_gemini_home(tmp_path: Path) -> None:
    # AgentSight ignored CLAUDE_CONFIG_DIR and the Gemini home override (bug §7.9).
    src = tmp_path / "src"
    c1 = synth_claude.write_session(src, spec("claude", 1))
    c2 = synth_claude.write_session(src, spec("claude", 2))
    cfg_a, cfg_b = tmp_path / "cfg-a", tmp_path / "cfg-b"
    for cfg, file in ((cfg_a, c1), (cfg_b, c2)):
        dest = cfg / file.relative_to(src / ".claude")
        dest.parent.mkdir(parents=True)
        shutil.copy(file, dest)
    codex_home = tmp_path / "codex-home"
    x = synth_codex.write_session(src, spec("codex", 3))
    dest = codex_home / x.relative_to(src / ".codex")
    dest.parent.mkdir(parents=True)
    shutil.copy(x, dest)
    gemini_user_home = tmp_path / "ghome"
    synth_gemini.write_session(gemini_user_home, spec("gemini", 4))
    env = {
        "HOME": str(tmp_path / "empty"),
        "CLAUDE_CONFIG_DIR": f"{cfg_a},{cfg_b}",
        "CODEX_HOME": str(codex_home),
        "GEMINI_CLI_HOME": str(gemini_user_home),
    }
    store = SessionStore(AgentHomes.resolve(env=env))
    store.refresh()
    got = sorted((s.agent_type.value, s.session_id) for s in store.sessions())
    assert got == sorted(
        [
            ("claude", spec("claude", 1).session_id),
            ("claude", spec("claude", 2).session_id),
            ("codex", spec("codex", 3).session_id),
            ("gemini", spec("gemini", 4).session_id),
        ]
    )
    gem = next(s for s in store.sessions() if s.agent_type is AgentType.GEMINI)
    assert gem.cwd == spec("gemini", 4).cwd


def test_archived_codex_sessions_are_found(tmp_path: Path) -> None:
    live = synth_codex.write_session(tmp_path, spec("codex", 1))
    archived_src = synth_codex.write_session(tmp_path, spec("codex", 2))
    archive = tmp_path / ".codex" / "archived_sessions"
    archive.mkdir(parents=True)
    archived = archive / archived_src.name
    archived_src.rename(archived)
    store = SessionStore(AgentHomes.resolve(tmp_path))
    store.refresh()
    assert sorted(s.path for s in store.sessions()) == sorted([str(live), str(archived)])


def test_symlinked_homes_and_trees_are_where_the_user_keeps_them(tmp_path: Path) -> None:
    """The agent home, or a whole session tree, may be a symlink (dotfile managers do that):
    only links *below* a session tree are never followed."""
    real = tmp_path / "data"
    c = synth_claude.write_session(real, spec("claude", 1))
    x = synth_codex.write_session(real, spec("codex", 2))
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(real / ".claude", home / ".claude")  # the whole home
    (home / ".codex").mkdir()
    os.symlink(real / ".codex" / "sessions", home / ".codex" / "sessions")  # one session tree
    skipped: dict[str, str] = {}
    found = find_session_files(AgentHomes.resolve(home), skipped=skipped)
    assert sorted(f.path.name for f in found) == sorted([c.name, x.name])
    assert skipped == {}


def test_each_source_takes_only_its_session_names(tmp_path: Path) -> None:
    """One walk, each source's own folders and names: what lies beside sessions is never taken."""
    write_noise(tmp_path)
    extra = {
        ".claude/projects/-x/abc.jsonl.bak": "{}\n",
        ".claude/projects/-x/memory/notes.jsonl": "{}\n",
        ".claude/projects/-x/abc/tool-results/t.jsonl": "{}\n",
        ".codex/sessions/2026/11/18/notes.jsonl": "{}\n",
        ".codex/sessions/a/b/c/d/e/rollout-too-deep.jsonl": "{}\n",
        ".codex/archived_sessions/sub/rollout-nested.jsonl": "{}\n",
        ".gemini/tmp/p/chats/notes.jsonl": "{}\n",
        ".gemini/tmp/p/chats/.hidden/x.jsonl": "{}\n",
        ".gemini/tmp/p/chats/session-1.jsonl.unreadable-1": "{}\n",
        ".gemini/tmp/p/chats/parent/deeper/x.jsonl": "{}\n",
    }
    for rel, text in extra.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    taken = {
        ".claude/projects/-x/abc.jsonl",
        ".claude/projects/-x/abc/subagents/agent-1.jsonl",
        ".claude/projects/-x/abc/subagents/workflows/wf_1/agent-2.jsonl",
        ".codex/sessions/2026/11/18/rollout-2026-11-18T00-00-00-x.jsonl",
        ".codex/archived_sessions/rollout-2026-11-17T00-00-00-y.jsonl.zst",
        ".gemini/tmp/p/chats/session-1.jsonl",
        ".gemini/tmp/p/chats/parent/child.json",
    }
    for rel in taken:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}\n")
    found = find_session_files(AgentHomes.resolve(tmp_path))
    assert sorted(str(f.path.relative_to(tmp_path)) for f in found) == sorted(taken)
