"""The matcher against real processes: stand-in agents installed like npm packages.

Each stand-in is a Python script at the path npm would give the real CLI, so
recognition, trees, open files, environments and pid files are read from the
live system by ``snapshot_processes``. Sessions are built directly as
``AgentSession`` objects; every spawned process is killed by pid in teardown.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers.standin_agents import StandinFactory

from agent_session.cli import match_command
from agent_session.discovery import AgentHomes
from agent_session.model import AgentSession, AgentType
from agent_session.process import (
    Evidence,
    ProcessInfo,
    SessionProcessMatcher,
    SessionProcessMatches,
    build_trees,
    label_process,
    match_live,
    snapshot_processes,
)
from agent_session.process.snapshot import MAX_ARG_CHARS

CODEX_ID = "019a1b2c-3d4e-7f50-8a6b-7c8d9e0f1a2b"
CLAUDE_ID = "5f0c2d1e-8a9b-4c3d-9e8f-7a6b5c4d3e2f"
GEMINI_ID = "8d7c6b5a-4e3f-4a1b-9c2d-1e0f9a8b7c6d"


@pytest.fixture
def standins(tmp_path: Path) -> Iterator[StandinFactory]:
    factory = StandinFactory(tmp_path / "npm")
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    p = tmp_path / "project"
    p.mkdir()
    return p


def _now_ms() -> int:
    return int(time.time() * 1000)


def _session(agent: AgentType, sid: str, path: Path, cwd: str | None, started_ms: int) -> AgentSession:
    return AgentSession(
        agent_type=agent,
        session_id=sid,
        path=str(path),
        cwd=cwd,
        start_timestamp_ms=started_ms,
        end_timestamp_ms=_now_ms(),
        last_activity_ms=_now_ms(),
    )


def _live(
    matcher: SessionProcessMatcher, sessions: list[AgentSession], home: Path, standins: StandinFactory
) -> SessionProcessMatches:
    """Match the processes this test started (and their children) — never the machine's own agents."""
    return match_live(matcher, sessions, AgentHomes.resolve(home), snapshot_processes(standins.pids))


def _codex_rollout(home: Path) -> Path:
    day = home / ".codex" / "sessions" / "2026" / "11" / "24"
    day.mkdir(parents=True)
    return day / f"rollout-2026-11-24T09-15-20-{CODEX_ID}.jsonl"


def test_codex_open_rollout_then_sticky_then_cleanup(
    standins: StandinFactory, home: Path, project: Path
) -> None:
    rollout = _codex_rollout(home)
    history = home / ".codex" / "history.jsonl"
    history.write_text("")
    # cwd elsewhere: only the open file (then stickiness) can tie them.
    session = _session(AgentType.CODEX, CODEX_ID, rollout, "/somewhere/else", _now_ms())
    agent = standins.start("codex", rollout, project, hold=True)
    matcher = SessionProcessMatcher()

    result = _live(matcher, [session], home, standins)
    match = result.match_for_pid(agent.pid)
    assert match is not None
    assert (match.root_pid, match.session_id, match.evidence, match.confidence) == (
        agent.pid,
        CODEX_ID,
        Evidence.OPEN_FILE,
        0.90,
    )
    assert result.session_for_pid(agent.child_pid) == CODEX_ID
    assert set(match.matched_pids) == {agent.pid, agent.child_pid}
    assert match.path == str(rollout)

    agent.send("close")
    assert str(rollout.resolve()) not in [f.path for f in psutil.Process(agent.pid).open_files()]
    result = _live(matcher, [session], home, standins)
    match = result.match_for_pid(agent.child_pid)
    assert match is not None
    assert (match.root_pid, match.session_id, match.evidence, match.confidence) == (
        agent.pid,
        CODEX_ID,
        Evidence.STICKY,
        0.70,
    )
    assert matcher.bindings[agent.pid][1] == CODEX_ID

    agent.exit()
    result = _live(matcher, [session], home, standins)
    assert result.session_for_pid(agent.pid) is None
    assert result.match_for_session(CODEX_ID) is None
    assert agent.pid not in matcher.bindings


def test_codex_thread_id_in_tool_shell_env(standins: StandinFactory, home: Path, project: Path) -> None:
    rollout = _codex_rollout(home)
    session = _session(AgentType.CODEX, CODEX_ID, rollout, "/somewhere/else", _now_ms())
    agent = standins.start("codex", rollout, project, child_env={"CODEX_THREAD_ID": CODEX_ID})
    agent.send("write")  # reopens and closes the file: nothing held open

    result = _live(SessionProcessMatcher(), [session], home, standins)
    match = result.match_for_session(CODEX_ID)
    assert match is not None
    assert (match.root_pid, match.evidence, match.confidence) == (agent.pid, Evidence.ENV, 0.90)
    assert result.session_for_pid(agent.child_pid) == CODEX_ID


def _claude_transcript(home: Path) -> Path:
    folder = home / ".claude" / "projects" / "-somewhere-else"
    folder.mkdir(parents=True)
    (home / ".claude" / "sessions").mkdir(parents=True)
    return folder / f"{CLAUDE_ID}.jsonl"


def test_claude_pid_file_names_the_session(standins: StandinFactory, home: Path, project: Path) -> None:
    transcript = _claude_transcript(home)
    pid_dir = home / ".claude" / "sessions"
    session = _session(AgentType.CLAUDE, CLAUDE_ID, transcript, "/somewhere/else", _now_ms())
    # Another Claude session active in the process's cwd: the pid file must beat it.
    other = _session(
        AgentType.CLAUDE, "other-" + CLAUDE_ID[6:], transcript.with_name("o.jsonl"), str(project), _now_ms()
    )
    agent = standins.start("claude", transcript, project, pid_dir=pid_dir, session_id=CLAUDE_ID)
    assert (pid_dir / f"{agent.pid}.json").exists()

    matcher = SessionProcessMatcher()
    result = _live(matcher, [other, session], home, standins)
    match = result.match_for_pid(agent.child_pid)
    assert match is not None
    assert (match.root_pid, match.session_id, match.evidence, match.confidence) == (
        agent.pid,
        CLAUDE_ID,
        Evidence.PID_FILE,
        0.95,
    )
    assert result.match_for_session(other.session_id) is None

    agent.exit()
    assert not (pid_dir / f"{agent.pid}.json").exists()
    result = _live(matcher, [other, session], home, standins)
    assert result.session_for_pid(agent.pid) is None
    assert matcher.bindings == {}


def test_claude_stale_pid_file_is_ignored(standins: StandinFactory, home: Path, project: Path) -> None:
    transcript = _claude_transcript(home)
    session = _session(AgentType.CLAUDE, CLAUDE_ID, transcript, "/somewhere/else", _now_ms())
    stale = _session(AgentType.CLAUDE, "stale-" + CLAUDE_ID[6:], transcript.with_name("s.jsonl"), "/x", 1)
    agent = standins.start("claude", transcript, project, child_env={"CLAUDE_CODE_SESSION_ID": CLAUDE_ID})
    # Left by an earlier process that had this pid: written before this one started.
    started = int(psutil.Process(agent.pid).create_time() * 1000)
    pid_file = home / ".claude" / "sessions" / f"{agent.pid}.json"
    pid_file.write_text(
        json.dumps({"pid": agent.pid, "sessionId": stale.session_id, "startedAt": started - 60_000})
    )

    result = _live(SessionProcessMatcher(), [stale, session], home, standins)
    match = result.match_for_pid(agent.pid)
    assert match is not None
    assert (match.session_id, match.evidence, match.confidence) == (CLAUDE_ID, Evidence.ENV, 0.90)
    assert result.session_for_pid(agent.child_pid) == CLAUDE_ID


def test_gemini_matches_by_project_folder(standins: StandinFactory, home: Path, project: Path) -> None:
    real_project = str(project.resolve())
    gemini = home / ".gemini"
    chats = gemini / "tmp" / "project" / "chats"
    chats.mkdir(parents=True)
    (gemini / "projects.json").write_text(json.dumps({"projects": {real_project: "project"}}))
    session_file = chats / f"session-2026-11-24T09-15-{GEMINI_ID[:8]}.jsonl"
    started = _now_ms()
    agent = standins.start("gemini", session_file, project)
    # The parser could not resolve the cwd: only the project folder ties them.
    session = _session(AgentType.GEMINI, GEMINI_ID, session_file, None, started)
    old_hash_dir = gemini / "tmp" / hashlib.sha256(b"/not/this/one").hexdigest() / "chats"
    stale_elsewhere = _session(
        AgentType.GEMINI, "stale-" + GEMINI_ID[6:], old_hash_dir / "session-x.json", None, started
    )

    result = _live(SessionProcessMatcher(), [stale_elsewhere, session], home, standins)
    match = result.match_for_pid(agent.child_pid)
    assert match is not None
    assert (match.root_pid, match.session_id, match.evidence, match.confidence) == (
        agent.pid,
        GEMINI_ID,
        Evidence.CWD,
        0.55,
    )


def test_snapshot_reads_tree_details(standins: StandinFactory, home: Path, project: Path) -> None:
    rollout = _codex_rollout(home)
    agent = standins.start("codex", rollout, project, hold=True, child_env={"CODEX_THREAD_ID": CODEX_ID})
    snap = snapshot_processes(only_trees_of=[agent.pid])
    by_pid = snap.by_pid()
    assert set(by_pid) == {agent.pid, agent.child_pid}
    root, child = by_pid[agent.pid], by_pid[agent.child_pid]
    assert root.create_time == psutil.Process(agent.pid).create_time()
    assert child.ppid == agent.pid
    assert root.cwd == str(project.resolve())
    assert str(rollout.resolve()) in root.open_files
    assert child.environ == {"CODEX_THREAD_ID": CODEX_ID}
    assert root.rss > 0
    # Only the kept keys: nothing else of the environment is stored.
    assert set(root.environ) <= {
        "CLAUDE_CODE_SESSION_ID",
        "CODEX_THREAD_ID",
        "CODEX_SESSION_ID",
        "CLAUDE_PID",
        "GEMINI_CLI",
    }


def test_match_command_pid_of_tool_child(standins: StandinFactory, home: Path, project: Path) -> None:
    rollout = _codex_rollout(home)
    session = _session(AgentType.CODEX, CODEX_ID, rollout, "/somewhere/else", _now_ms())
    agent = standins.start("codex", rollout, project, hold=True)
    out = io.StringIO()
    code = match_command(
        str(home),
        agent.child_pid,
        True,
        out,
        sessions=lambda homes: [session],
        snapshot=lambda: snapshot_processes(standins.pids),
    )
    assert code == 0
    rows = json.loads(out.getvalue())
    assert len(rows) == 1
    assert rows[0]["root_pid"] == agent.pid
    assert rows[0]["session_id"] == CODEX_ID
    assert rows[0]["evidence"] == "open_file"
    assert sorted(rows[0]["matched_pids"]) == sorted([agent.pid, agent.child_pid])


def test_snapshot_skips_vanished_and_denied_processes(
    standins: StandinFactory, home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollout = _codex_rollout(home)
    agent = standins.start("codex", rollout, project, hold=True, child_env={"CODEX_THREAD_ID": CODEX_ID})
    real_name = psutil.Process.name

    def name(self: psutil.Process) -> str:
        if self.pid == agent.child_pid:
            raise psutil.NoSuchProcess(self.pid)  # gone between listing and reading
        return real_name(self)

    def denied(self: psutil.Process) -> dict[str, str]:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "name", name)
    monkeypatch.setattr(psutil.Process, "environ", denied)
    by_pid = snapshot_processes(standins.pids).by_pid()
    assert set(by_pid) == {agent.pid}
    root = by_pid[agent.pid]
    assert root.environ == {}
    assert str(rollout.resolve()) in root.open_files


def _npm_script(tmp_path: Path) -> Path:
    """An ``npm`` whose shebang runs a sleeping Python: argv is ``python …/npm install -g …``, like node's."""
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    script.chmod(0o755)
    return script


def test_installing_an_agent_is_not_running_one(standins: StandinFactory, tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("no sleep(1)")
    package = "@anthropic-ai/claude-code@latest"
    # `exec -a "npm install -g …" sleep 600`: the whole command line in argv[0].
    joined = standins.spawn([f"npm install -g {package}", "600"], executable=sleep)
    # npm as it really runs: an interpreter, the npm script, then the package as its own argument.
    npm = _npm_script(tmp_path)
    separate = standins.spawn([str(npm), "install", "-g", package])
    # And an agent by argv[0] alone (`exec -a claude sleep 600`), which is one.
    claude = standins.spawn(["claude", "600"], executable=sleep)

    deadline = time.monotonic() + 10  # a failure bound: the shebang is read at exec, almost at once
    while True:
        by_pid = snapshot_processes(standins.pids).by_pid()
        if len(by_pid.get(separate.pid, _NO_PROC).cmdline) == 5:
            break
        assert time.monotonic() < deadline, "the npm stand-in never exec'd"
        time.sleep(0.02)
    assert set(by_pid) == {joined.pid, separate.pid, claude.pid}
    assert by_pid[joined.pid].cmdline == (f"npm install -g {package}", "600")
    assert by_pid[separate.pid].cmdline[1:] == (str(npm), "install", "-g", package)
    assert by_pid[claude.pid].cmdline == ("claude", "600")

    labels = {pid: label_process(p.name, p.exe, p.cmdline) for pid, p in by_pid.items()}
    assert labels == {joined.pid: None, separate.pid: None, claude.pid: AgentType.CLAUDE}
    trees = build_trees(by_pid.values())
    assert [(t.agent_type, t.root_pid) for t in trees] == [(AgentType.CLAUDE, claude.pid)]
    # Details (cwd, files, environment) are read for the agent's tree only.
    assert by_pid[claude.pid].cwd is not None and by_pid[joined.pid].cwd is None


_NO_PROC = ProcessInfo(0, 0, 0.0)


def test_a_huge_argument_is_cut_in_the_snapshot(standins: StandinFactory) -> None:
    """A 100,003-character argument (a prompt on the command line) is kept as 4,096 characters."""
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("no sleep(1)")
    long_arg = "0" * 100_000 + "600"  # sleep(1) reads it as 600 seconds (and adds the next one)
    proc = standins.spawn(["claude", long_arg, "5"], executable=sleep)
    (info,) = snapshot_processes(standins.pids).processes
    assert info.pid == proc.pid
    # Only that argument is cut: the ones after it (a --resume id…) are all still there.
    assert info.cmdline == ("claude", long_arg[:4095] + "…", "5")
    assert len(info.cmdline[1]) == MAX_ARG_CHARS == 4096
    assert label_process(info.name, info.exe, info.cmdline) is AgentType.CLAUDE
