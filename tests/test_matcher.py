"""SessionProcessMatcher on plain inputs: every evidence rule and AgentSight's pitfalls."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from agent_session.cli import match_command
from agent_session.model import AgentSession, AgentType
from agent_session.process import (
    ClaudePidFile,
    Evidence,
    ProcessInfo,
    ProcessSnapshot,
    SessionProcessMatcher,
    SessionProcessMatches,
)
from agent_session.process.evidence import (
    argv_session_ids,
    claude_temp_session_id,
    codex_lock_thread_id,
    parse_proc_start,
    read_claude_pid_files,
    read_gemini_projects,
)

T0 = 1_800_000_000.0  # process start, seconds
T0_MS = int(T0 * 1000)
MIN = 60_000
CWD = "/w/proj"
CODEX_NATIVE = "/n/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
C = "cccccccc-0000-4000-8000-000000000003"


def P(
    pid: int,
    ppid: int,
    *cmd: str,
    ct: float = T0,
    cwd: str | None = CWD,
    files: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> ProcessInfo:
    return ProcessInfo(
        pid=pid,
        ppid=ppid,
        create_time=ct,
        name=cmd[0].rsplit("/", 1)[-1],
        cmdline=cmd,
        cwd=cwd,
        open_files=files,
        environ=dict(env or {}),
    )


def S(
    agent: AgentType,
    sid: str,
    *,
    cwd: str | None = CWD,
    start: int = T0_MS + 1000,
    last: int = T0_MS + 5 * MIN,
    path: str | None = None,
    parent: str | None = None,
) -> AgentSession:
    return AgentSession(
        agent_type=agent,
        session_id=sid,
        path=path or f"/h/{agent.value}/{sid}.jsonl",
        cwd=cwd,
        start_timestamp_ms=start,
        end_timestamp_ms=last,
        last_activity_ms=last,
        parent_session_id=parent,
    )


def claude_tree(
    pid: int = 100, *, ct: float = T0, child_env: Mapping[str, str] | None = None, files=()
) -> list[ProcessInfo]:
    return [
        P(1, 0, "/sbin/init"),
        P(pid, 1, "claude", ct=ct, files=files),
        P(pid + 1, pid, "/bin/bash", "-c", "make", ct=ct + 5, env=child_env),
    ]


def codex_tree(
    pid: int = 200, *, ct: float = T0, files=(), child_env=None, args=(), cwd=CWD
) -> list[ProcessInfo]:
    return [
        P(pid, 1, "node", "/usr/local/bin/codex", *args, ct=ct, cwd=cwd),
        P(pid + 1, pid, CODEX_NATIVE, *args, ct=ct + 0.1, files=files, cwd=cwd),
        P(pid + 2, pid + 1, "/bin/bash", "-lc", "ls", ct=ct + 9, env=child_env, cwd=cwd),
    ]


def pid_file(
    pid: int, sid: str, *, started: int | None = T0_MS + 300, proc_start: float | None = None
) -> ClaudePidFile:
    return ClaudePidFile(
        pid=pid,
        session_id=sid,
        path=f"/h/.claude/sessions/{pid}.json",
        started_at_ms=started,
        proc_start=proc_start,
    )


def only(result: SessionProcessMatches) -> tuple[int, str, Evidence, float]:
    assert len(result.matches) == 1
    m = result.matches[0]
    return (m.root_pid, m.session_id, m.evidence, m.confidence)


# -- pid files ------------------------------------------------------------


def test_pid_file_binds_and_covers_tool_children() -> None:
    sessions = [S(AgentType.CLAUDE, A), S(AgentType.CLAUDE, B, last=T0_MS + 9 * MIN)]
    result = SessionProcessMatcher().match(claude_tree(), sessions, pid_files={100: pid_file(100, A)})
    assert only(result) == (100, A, Evidence.PID_FILE, 0.95)
    assert result.session_for_pid(100) == A
    assert result.session_for_pid(101) == A
    assert result.session_for_pid(1) is None
    m = result.match_for_session(A)
    assert m is not None
    assert m.matched_pids == (100, 101)
    assert m.display_id == "claude:aaaaaa.00001"


@pytest.mark.parametrize(
    "record",
    [
        pid_file(100, B, started=T0_MS - 3600_000),  # written by an earlier process with this pid
        pid_file(100, B, started=None, proc_start=T0 - 42.0),  # procStart of another process
        pid_file(100, B, started=None),  # no time at all: cannot be checked
    ],
)
def test_pid_file_of_a_reused_pid_is_ignored(record: ClaudePidFile) -> None:
    sessions = [S(AgentType.CLAUDE, A), S(AgentType.CLAUDE, B, cwd="/elsewhere")]
    result = SessionProcessMatcher().match(claude_tree(), sessions, pid_files={100: record})
    # Falls through to the cwd fallback, which picks A (B is in another cwd).
    assert only(result) == (100, A, Evidence.CWD, 0.55)


def test_pid_file_proc_start_matches_exactly() -> None:
    sessions = [S(AgentType.CLAUDE, A, cwd="/elsewhere")]
    record = pid_file(100, A, started=None, proc_start=T0 + 0.004)
    assert only(SessionProcessMatcher().match(claude_tree(), sessions, pid_files={100: record})) == (
        100,
        A,
        Evidence.PID_FILE,
        0.95,
    )


def test_pid_file_naming_a_session_not_written_yet_holds_the_root() -> None:
    # After /clear the CLI names a new session whose file does not exist yet:
    # the older session active in the same cwd must not be given to it.
    matcher = SessionProcessMatcher()
    sessions = [S(AgentType.CLAUDE, A)]
    assert only(matcher.match(claude_tree(), sessions, pid_files={100: pid_file(100, A)}))[1] == A
    result = matcher.match(claude_tree(), sessions, pid_files={100: pid_file(100, C)})
    assert result.matches == ()
    assert [t.root_pid for t in result.unmatched] == [100]
    assert matcher.bindings == {}
    later = [*sessions, S(AgentType.CLAUDE, C, start=T0_MS + 10 * MIN, last=T0_MS + 11 * MIN)]
    assert only(matcher.match(claude_tree(), later, pid_files={100: pid_file(100, C)})) == (
        100,
        C,
        Evidence.PID_FILE,
        0.95,
    )


# -- open files, temp folders, locks ----------------------------------------


def test_codex_open_rollout_binds_the_whole_tree() -> None:
    rollout = f"/h/.codex/sessions/2026/11/24/rollout-2026-11-24T09-15-20-{A}.jsonl"
    sessions = [S(AgentType.CODEX, A, path=rollout, cwd="/elsewhere"), S(AgentType.CODEX, B)]
    result = SessionProcessMatcher().match(codex_tree(files=(rollout,)), sessions)
    assert only(result) == (200, A, Evidence.OPEN_FILE, 0.90)
    assert [result.session_for_pid(p) for p in (200, 201, 202)] == [A, A, A]
    assert result.matches[0].path == rollout


def test_history_jsonl_in_fds_does_not_block_matching() -> None:
    # AgentSight treated history.jsonl as the session, leaving the process unmatched.
    noise = ("/h/.codex/history.jsonl", "/h/.codex/state_5.sqlite", "/h/.codex/log/codex-tui.log")
    sessions = [S(AgentType.CODEX, A)]
    assert only(SessionProcessMatcher().match(codex_tree(files=noise), sessions)) == (
        200,
        A,
        Evidence.CWD,
        0.55,
    )
    rollout = "/h/.codex/sessions/r.jsonl"
    sessions = [S(AgentType.CODEX, A), S(AgentType.CODEX, B, path=rollout, cwd="/elsewhere")]
    result = SessionProcessMatcher().match(codex_tree(files=(*noise, rollout)), sessions)
    assert only(result) == (200, B, Evidence.OPEN_FILE, 0.90)


def test_open_file_found_through_a_symlinked_home(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "sessions").mkdir(parents=True)
    rollout = real / "sessions" / "r.jsonl"
    rollout.write_text("")
    link = tmp_path / "link"
    link.symlink_to(real)
    sessions = [S(AgentType.CODEX, A, path=str(link / "sessions" / "r.jsonl"), cwd="/elsewhere")]
    result = SessionProcessMatcher().match(codex_tree(files=(str(rollout),)), sessions)
    assert only(result) == (200, A, Evidence.OPEN_FILE, 0.90)


def test_open_session_file_of_another_agent_is_not_evidence() -> None:
    # A Claude tool shell tailing a Codex rollout does not make it Claude's session.
    rollout = "/h/.codex/sessions/r.jsonl"
    procs = [P(100, 1, "claude", cwd="/x"), P(101, 100, "tail", "-f", rollout, cwd="/x", files=(rollout,))]
    result = SessionProcessMatcher().match(procs, [S(AgentType.CODEX, A, path=rollout)])
    assert result.matches == ()


def test_claude_temp_folder_fd_names_the_session() -> None:
    tasks = f"/tmp/claude-1000/-w-proj/{B}/tasks/b1x9.output"
    sessions = [S(AgentType.CLAUDE, A, last=T0_MS + 50 * MIN), S(AgentType.CLAUDE, B)]
    result = SessionProcessMatcher().match(claude_tree(files=(tasks,)), sessions)
    assert only(result) == (100, B, Evidence.TEMP_DIR, 0.90)


def test_codex_thread_lock_names_the_thread() -> None:
    lock = f"/h/.codex/thread-writer-locks/{B}.lock"
    sessions = [S(AgentType.CODEX, A, last=T0_MS + 50 * MIN), S(AgentType.CODEX, B, cwd="/elsewhere")]
    assert only(SessionProcessMatcher().match(codex_tree(files=(lock,)), sessions)) == (
        200,
        B,
        Evidence.OPEN_FILE,
        0.90,
    )


def test_path_helpers() -> None:
    assert claude_temp_session_id(f"/tmp/claude-0/-home-u-p/{A}/tasks/x") == A
    assert claude_temp_session_id(f"/var/folders/zz/T/claude-501/-Users-u/{A}/tasks/x") == A
    assert claude_temp_session_id("/tmp/claude-0/-home-u-p") is None
    assert claude_temp_session_id(f"/tmp/claude-code/-home-u-p/{A}/x") is None
    assert codex_lock_thread_id(f"/h/.codex/thread-writer-locks/{A}.lock") == A
    assert codex_lock_thread_id(f"/tmp/codex-daemon-0/{A}.lock") is None


# -- environment ---------------------------------------------------------


def test_env_session_id_in_a_tool_shell() -> None:
    sessions = [S(AgentType.CODEX, A, last=T0_MS + 50 * MIN), S(AgentType.CODEX, B, cwd="/elsewhere")]
    result = SessionProcessMatcher().match(codex_tree(child_env={"CODEX_THREAD_ID": B}), sessions)
    assert only(result) == (200, B, Evidence.ENV, 0.90)
    assert result.session_for_pid(202) == B


def test_env_inherited_by_the_root_is_not_its_session() -> None:
    # A Claude started from another Claude's tool shell inherits the outer id;
    # its own tool shells get its own id, which is what counts.
    outer = {"CLAUDE_CODE_SESSION_ID": A}
    procs = [P(100, 1, "claude", env=outer, cwd="/x"), P(101, 100, "bash", env=outer, cwd="/x")]
    sessions = [S(AgentType.CLAUDE, A, cwd="/elsewhere"), S(AgentType.CLAUDE, B, cwd="/elsewhere")]
    assert SessionProcessMatcher().match(procs, sessions).matches == ()
    procs[1] = P(101, 100, "bash", env={"CLAUDE_CODE_SESSION_ID": B}, cwd="/x")
    assert only(SessionProcessMatcher().match(procs, sessions)) == (100, B, Evidence.ENV, 0.90)


def test_env_of_another_agent_kind_is_ignored() -> None:
    # A Codex run from a Claude tool shell carries CLAUDE_CODE_SESSION_ID.
    procs = codex_tree(child_env={"CLAUDE_CODE_SESSION_ID": A}, cwd="/x")
    sessions = [S(AgentType.CLAUDE, A, cwd="/x")]
    assert SessionProcessMatcher().match(procs, sessions).matches == ()


# -- argv ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "cmdline", "expected"),
    [
        (AgentType.CLAUDE, ["claude", "--resume", A], [A]),
        (AgentType.CLAUDE, ["claude", "-r", A, "-p", "go"], [A]),
        (AgentType.CLAUDE, ["claude", f"--resume={A}"], [A]),
        (AgentType.CLAUDE, ["claude", "--session-id", A], [A]),
        (AgentType.CLAUDE, ["claude", "--resume", A, "--fork-session"], []),
        (AgentType.CLAUDE, ["claude", "--resume"], []),
        (AgentType.CLAUDE, ["claude", "-p", "--resume is a flag"], []),
        (AgentType.CODEX, ["node", "/u/bin/codex", "resume", A], [A]),
        (AgentType.CODEX, [CODEX_NATIVE, "-m", "gpt-5", "resume", A], [A]),
        (AgentType.CODEX, [CODEX_NATIVE, "exec", "resume", A, "next step"], [A]),
        (AgentType.CODEX, [CODEX_NATIVE, "exec", "resume", "--last", "next"], []),
        (AgentType.CODEX, [CODEX_NATIVE, "exec", "please resume", A], []),
        (AgentType.CODEX, [CODEX_NATIVE, "fork", A], []),
        (AgentType.GEMINI, ["node", "/u/bin/gemini", "--resume", A], [A]),
        (AgentType.GEMINI, ["node", "/u/bin/gemini", "--resume", "latest"], []),
        (AgentType.GEMINI, ["node", "/u/bin/gemini", "-r", "3"], []),
    ],
)
def test_argv_session_ids(agent: AgentType, cmdline: list[str], expected: list[str]) -> None:
    assert argv_session_ids(agent, cmdline) == expected


def test_argv_resume_binds_and_unknown_id_falls_back() -> None:
    sessions = [S(AgentType.CODEX, A, last=T0_MS + 50 * MIN), S(AgentType.CODEX, B, start=T0_MS - 86_400_000)]
    result = SessionProcessMatcher().match(codex_tree(args=("resume", B)), sessions)
    assert only(result) == (200, B, Evidence.ARGV, 0.85)
    result = SessionProcessMatcher().match(codex_tree(args=("resume", C)), sessions)
    assert only(result) == (200, A, Evidence.CWD, 0.55)


# -- stickiness ----------------------------------------------------------


def test_sticky_binding_survives_loss_of_evidence() -> None:
    rollout = "/h/r.jsonl"
    sessions = [S(AgentType.CODEX, A, path=rollout, cwd="/elsewhere"), S(AgentType.CODEX, B)]
    matcher = SessionProcessMatcher()
    assert only(matcher.match(codex_tree(files=(rollout,)), sessions))[2] is Evidence.OPEN_FILE
    result = matcher.match(codex_tree(), sessions)  # file closed between writes
    assert only(result) == (200, A, Evidence.STICKY, 0.70)
    assert result.session_for_pid(202) == A
    assert matcher.bindings == {200: (T0, A)}


def test_pid_reuse_drops_the_binding() -> None:
    rollout = "/h/r.jsonl"
    sessions = [S(AgentType.CODEX, A, path=rollout, cwd="/elsewhere")]
    matcher = SessionProcessMatcher()
    matcher.match(codex_tree(files=(rollout,)), sessions)
    assert matcher.bindings == {200: (T0, A)}
    result = matcher.match(codex_tree(ct=T0 + 600), sessions)  # same pid, new process
    assert result.matches == ()
    assert matcher.bindings == {}


def test_binding_dropped_when_process_exits() -> None:
    rollout = "/h/r.jsonl"
    sessions = [S(AgentType.CODEX, A, path=rollout, cwd="/elsewhere")]
    matcher = SessionProcessMatcher()
    matcher.match(codex_tree(files=(rollout,)), sessions)
    assert matcher.match([P(1, 0, "/sbin/init")], sessions).matches == ()
    assert matcher.bindings == {}


def test_contradicting_evidence_replaces_the_binding() -> None:
    sessions = [
        S(AgentType.CODEX, A, path="/h/a.jsonl", cwd="/e"),
        S(AgentType.CODEX, B, path="/h/b.jsonl", cwd="/e"),
    ]
    matcher = SessionProcessMatcher()
    matcher.match(codex_tree(files=("/h/a.jsonl",)), sessions)
    assert only(matcher.match(codex_tree(files=("/h/b.jsonl",)), sessions)) == (
        200,
        B,
        Evidence.OPEN_FILE,
        0.90,
    )
    assert only(matcher.match(codex_tree(), sessions)) == (200, B, Evidence.STICKY, 0.70)


def test_argv_does_not_override_a_later_live_binding() -> None:
    # `claude --resume A`, then /clear: the pid file names B; when it is gone,
    # the binding to B stays although argv still says A.
    sessions = [S(AgentType.CLAUDE, A, cwd="/e"), S(AgentType.CLAUDE, B, cwd="/e")]
    procs = [P(100, 1, "claude", "--resume", A)]
    matcher = SessionProcessMatcher()
    assert only(matcher.match(procs, sessions))[1:3] == (A, Evidence.ARGV)
    assert only(matcher.match(procs, sessions, pid_files={100: pid_file(100, B)}))[1:3] == (
        B,
        Evidence.PID_FILE,
    )
    assert only(matcher.match(procs, sessions)) == (100, B, Evidence.STICKY, 0.70)


def test_sticky_session_that_vanished_is_dropped() -> None:
    matcher = SessionProcessMatcher()
    matcher.match(codex_tree(files=("/h/a.jsonl",)), [S(AgentType.CODEX, A, path="/h/a.jsonl", cwd="/e")])
    assert matcher.match(codex_tree(), []).matches == ()
    assert matcher.bindings == {}


# -- cwd fallback ----------------------------------------------------------


def test_active_session_beats_stale_one_in_same_cwd() -> None:
    # AgentSight picked the session whose end is nearest the process start: the stale one.
    stale = S(AgentType.CLAUDE, A, start=T0_MS - 3 * 3600_000, last=T0_MS - 1000 * 60)
    active = S(AgentType.CLAUDE, B, start=T0_MS + 20_000, last=T0_MS + 40 * MIN)
    result = SessionProcessMatcher().match(claude_tree(), [stale, active])
    assert only(result) == (100, B, Evidence.CWD, 0.55)


def test_stale_session_alone_is_never_matched() -> None:
    stale = S(AgentType.CLAUDE, A, start=T0_MS - 3600_000, last=T0_MS - 2001)
    assert SessionProcessMatcher().match(claude_tree(), [stale]).matches == ()
    # …but within the clock skew it still counts.
    close = S(AgentType.CLAUDE, A, start=T0_MS - 3600_000, last=T0_MS - 1999)
    assert only(SessionProcessMatcher().match(claude_tree(), [close]))[1] == A


def test_staleness_is_judged_against_each_process_start() -> None:
    # An older agent elsewhere must not widen the window for a newer one.
    procs = [*codex_tree(200, ct=T0 - 3600, cwd="/w/a"), *codex_tree(300, ct=T0)]
    quiet = S(AgentType.CODEX, A, start=T0_MS - 40 * MIN, last=T0_MS - 30 * MIN)
    assert SessionProcessMatcher().match(procs, [quiet]).matches == ()


def test_resumed_old_session_active_now_is_chosen() -> None:
    resumed = S(AgentType.CLAUDE, A, start=T0_MS - 7 * 86_400_000, last=T0_MS + 30 * MIN)
    first = S(AgentType.CLAUDE, B, start=T0_MS + 1000, last=T0_MS + 2000)
    assert only(SessionProcessMatcher().match(claude_tree(), [first, resumed]))[1] == A


def test_cwd_fallback_ignores_subagents_and_other_agents_and_cwds() -> None:
    sessions = [
        S(AgentType.CLAUDE, A, last=T0_MS + 9 * MIN, parent=B),  # subagent of B
        S(AgentType.CODEX, C, last=T0_MS + 8 * MIN),  # another agent
        S(AgentType.CLAUDE, "d" * 36, cwd="/w/other", last=T0_MS + 7 * MIN),
        S(AgentType.CLAUDE, B, last=T0_MS + 3 * MIN),
    ]
    assert only(SessionProcessMatcher().match(claude_tree(), sessions)) == (100, B, Evidence.CWD, 0.55)


def test_cwd_compared_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "proj"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    procs = [P(100, 1, "claude", cwd=str(real))]
    sessions = [S(AgentType.CLAUDE, A, cwd=str(link))]
    assert only(SessionProcessMatcher().match(procs, sessions)) == (100, A, Evidence.CWD, 0.55)


def test_gemini_session_cwd_resolved_through_project_hash_or_name() -> None:
    procs = [
        P(300, 1, "node", "/u/bin/gemini"),
        P(301, 300, "/usr/bin/node", "--max-old-space-size=8000", "/u/bin/gemini"),
    ]
    digest = hashlib.sha256(CWD.encode()).hexdigest()
    hashed = S(
        AgentType.GEMINI,
        A,
        cwd=None,
        path=f"/h/.gemini/tmp/{digest}/chats/session-2026-11-24T09-15-aaaaaaaa.json",
    )
    assert only(SessionProcessMatcher().match(procs, [hashed])) == (300, A, Evidence.CWD, 0.55)
    named = S(
        AgentType.GEMINI,
        B,
        cwd=None,
        path="/h/.gemini/tmp/proj/chats/session-2026-11-24T09-15-bbbbbbbb.jsonl",
    )
    assert SessionProcessMatcher().match(procs, [named]).matches == ()
    result = SessionProcessMatcher().match(procs, [named], gemini_projects={CWD: "proj"})
    assert only(result) == (300, B, Evidence.CWD, 0.55)
    assert result.session_for_pid(301) == B
    assert SessionProcessMatcher().match(procs, [named], gemini_projects={"/w/other": "proj"}).matches == ()


# -- one root per session, several agents -----------------------------------


def test_one_session_goes_to_one_root() -> None:
    procs = [*codex_tree(200, ct=T0), *codex_tree(300, ct=T0 + 10)]
    session = S(AgentType.CODEX, A, start=T0_MS + 20_000, last=T0_MS + 30 * MIN)
    result = SessionProcessMatcher().match(procs, [session])
    # The newest process started before the session began is its likely writer.
    assert only(result) == (300, A, Evidence.CWD, 0.55)
    assert [t.root_pid for t in result.unmatched] == [200]


def test_two_agents_same_cwd_each_get_their_own_session_by_evidence() -> None:
    procs = [
        *codex_tree(200, ct=T0, child_env={"CODEX_THREAD_ID": B}),
        *codex_tree(300, ct=T0 + 10, files=("/h/a.jsonl",)),
    ]
    sessions = [
        S(AgentType.CODEX, A, path="/h/a.jsonl", last=T0_MS + 9 * MIN),
        S(AgentType.CODEX, B, path="/h/b.jsonl", last=T0_MS + 8 * MIN),
    ]
    result = SessionProcessMatcher().match(procs, sessions)
    assert {m.root_pid: (m.session_id, m.evidence) for m in result} == {
        200: (B, Evidence.ENV),
        300: (A, Evidence.OPEN_FILE),
    }
    assert result.session_for_pid(202) == B
    assert result.session_for_pid(302) == A


def test_evidence_first_then_cwd_gets_the_rest() -> None:
    procs = [*claude_tree(100, ct=T0), *claude_tree(110, ct=T0 + 60, child_env={"CLAUDE_CODE_SESSION_ID": A})]
    sessions = [S(AgentType.CLAUDE, A, last=T0_MS + 9 * MIN), S(AgentType.CLAUDE, B, last=T0_MS + 8 * MIN)]
    result = SessionProcessMatcher().match(procs, sessions)
    assert {m.root_pid: (m.session_id, m.evidence) for m in result} == {
        100: (B, Evidence.CWD),
        110: (A, Evidence.ENV),
    }


def test_two_agents_same_cwd_without_evidence_pair_by_start() -> None:
    procs = [*codex_tree(200, ct=T0), *codex_tree(300, ct=T0 + 100)]
    s1 = S(AgentType.CODEX, A, start=T0_MS + 2000, last=T0_MS + 50 * MIN)  # most recent activity
    s2 = S(AgentType.CODEX, B, start=T0_MS + 102_000, last=T0_MS + 40 * MIN)
    result = SessionProcessMatcher().match(procs, [s1, s2])
    assert {m.root_pid: m.session_id for m in result} == {200: A, 300: B}


def test_codex_app_server_does_not_take_its_clients_session() -> None:
    # A Codex TUI talks to an app-server daemon that writes the rollouts: the TUI
    # (no evidence of its own) gets the session of its cwd, the host another one.
    host = "/h/.codex/packages/app-server-daemon/releases/0.169.0/bin/codex"
    procs = [
        P(
            500,
            1,
            host,
            "app-server",
            "--listen",
            "unix://",
            ct=T0 - 3600,
            cwd="/",
            files=("/h/a.jsonl", "/h/b.jsonl"),
        ),
        *codex_tree(200, ct=T0),
    ]
    sessions = [
        S(AgentType.CODEX, A, path="/h/a.jsonl", last=T0_MS + 9 * MIN),
        S(AgentType.CODEX, B, path="/h/b.jsonl", cwd="/w/ide", last=T0_MS + 8 * MIN),
    ]
    result = SessionProcessMatcher().match(procs, sessions)
    assert {m.root_pid: (m.session_id, m.evidence) for m in result} == {
        200: (A, Evidence.CWD),
        500: (B, Evidence.OPEN_FILE),
    }


def test_duplicate_session_ids_match_once() -> None:
    # Gemini's folder migration copies sessions: one id, two paths.
    d = hashlib.sha256(CWD.encode()).hexdigest()
    old = S(AgentType.GEMINI, A, cwd=None, path=f"/h/.gemini/tmp/{d}/chats/session-1.json", last=T0_MS + MIN)
    new = S(
        AgentType.GEMINI, A, cwd=CWD, path="/h/.gemini/tmp/proj/chats/session-1.json", last=T0_MS + 2 * MIN
    )
    result = SessionProcessMatcher().match([P(300, 1, "gemini")], [old, new])
    assert len(result.matches) == 1
    assert result.matches[0].session_id == A


def test_match_to_dict() -> None:
    result = SessionProcessMatcher().match(
        claude_tree(), [S(AgentType.CLAUDE, A)], pid_files={100: pid_file(100, A)}
    )
    assert result.matches[0].to_dict() == {
        "root_pid": 100,
        "matched_pids": [100, 101],
        "agent_type": "claude",
        "session_id": A,
        "display_id": "claude:aaaaaa.00001",
        "path": f"/h/claude/{A}.jsonl",
        "evidence": "pid_file",
        "confidence": 0.95,
    }
    assert json.loads(json.dumps(result.matches[0].to_dict()))["evidence"] == "pid_file"


# -- evidence file readers ---------------------------------------------------


def test_read_claude_pid_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        (root / "sessions").mkdir(parents=True)
    (first / "sessions" / "100.json").write_text(
        json.dumps(
            {
                "pid": 100,
                "sessionId": A,
                "cwd": CWD,
                "startedAt": T0_MS,
                "procStart": "12345",
                "kind": "interactive",
            }
        )
    )
    (first / "sessions" / "101.json").write_text(json.dumps({"pid": 999, "sessionId": B}))  # wrong pid
    (first / "sessions" / "102.json").write_text("{not json")
    (second / "sessions" / "103.json").write_text(json.dumps({"pid": 103, "sessionId": 7}))  # wrong type
    (second / "sessions" / "104.json").write_text(json.dumps({"sessionId": C, "startedAt": "1800000000000"}))
    found = read_claude_pid_files(
        [first, second, tmp_path / "missing"], [100, 101, 102, 103, 104, 105], boot_time=1000.0
    )
    assert sorted(found) == [100, 104]
    assert (found[100].session_id, found[100].cwd, found[100].started_at_ms, found[100].kind) == (
        A,
        CWD,
        T0_MS,
        "interactive",
    )
    assert found[100].proc_start == pytest.approx(1000.0 + 12345 / os.sysconf("SC_CLK_TCK"))
    assert (found[104].session_id, found[104].started_at_ms) == (C, 1_800_000_000_000)


def test_parse_proc_start() -> None:
    assert parse_proc_start("250", boot_time=1000.0, clock_ticks=100) == 1002.5
    assert parse_proc_start(250, boot_time=1000.0, clock_ticks=100) == 1002.5
    assert parse_proc_start(None) is None
    assert parse_proc_start("not a date") is None
    assert parse_proc_start(True) is None
    import time as _time

    expected = _time.mktime((2026, 9, 10, 8, 31, 58, 0, 0, -1))
    assert parse_proc_start("Thu Sep 10 08:31:58 2026") == expected
    assert parse_proc_start("Tue Aug  5 05:53:49 2026") == _time.mktime((2026, 8, 5, 5, 53, 49, 0, 0, -1))


def test_read_gemini_projects(tmp_path: Path) -> None:
    (tmp_path / "projects.json").write_text(json.dumps({"projects": {"/w/proj": "proj", "/w/x": 3}}))
    assert read_gemini_projects([tmp_path, tmp_path / "missing"]) == {"/w/proj": "proj"}
    (tmp_path / "projects.json").write_text("[]")
    assert read_gemini_projects([tmp_path]) == {}


# -- the command -------------------------------------------------------------


def _fake_snapshot() -> ProcessSnapshot:
    return ProcessSnapshot(tuple(claude_tree(100) + codex_tree(200, cwd="/w/none")), T0_MS + 10 * MIN)


def test_match_command_json_and_pid(tmp_path: Path) -> None:
    sessions_dir = tmp_path / ".claude" / "sessions"
    sessions_dir.mkdir(parents=True)
    (sessions_dir / "100.json").write_text(json.dumps({"pid": 100, "sessionId": A, "startedAt": T0_MS + 200}))
    sessions = [S(AgentType.CLAUDE, A, cwd="/elsewhere")]

    out = io.StringIO()
    code = match_command(
        str(tmp_path), None, True, out, sessions=lambda homes: sessions, snapshot=_fake_snapshot
    )
    assert code == 0
    assert json.loads(out.getvalue()) == [
        {
            "root_pid": 100,
            "matched_pids": [100, 101],
            "agent_type": "claude",
            "session_id": A,
            "display_id": "claude:aaaaaa.00001",
            "path": f"/h/claude/{A}.jsonl",
            "evidence": "pid_file",
            "confidence": 0.95,
        }
    ]

    out = io.StringIO()
    assert (
        match_command(str(tmp_path), 101, True, out, sessions=lambda h: sessions, snapshot=_fake_snapshot)
        == 0
    )
    assert [row["root_pid"] for row in json.loads(out.getvalue())] == [100]

    out = io.StringIO()
    assert (
        match_command(str(tmp_path), 202, True, out, sessions=lambda h: sessions, snapshot=_fake_snapshot)
        == 1
    )
    assert json.loads(out.getvalue()) == []

    out = io.StringIO()
    assert (
        match_command(str(tmp_path), 202, False, out, sessions=lambda h: sessions, snapshot=_fake_snapshot)
        == 1
    )
    assert out.getvalue() == "no agent session matched for pid 202\n"


def test_match_command_table(tmp_path: Path) -> None:
    sessions = [S(AgentType.CLAUDE, A)]
    out = io.StringIO()
    assert (
        match_command(str(tmp_path), None, False, out, sessions=lambda h: sessions, snapshot=_fake_snapshot)
        == 0
    )
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ROOT", "AGENT", "SESSION", "EVIDENCE", "CONF", "PIDS", "PATH"]
    assert lines[1].split() == [
        "100",
        "claude",
        "claude:aaaaaa.00001",
        "cwd",
        "0.55",
        "100",
        "101",
        f"/h/claude/{A}.jsonl",
    ]
    assert lines[2].split() == ["200", "codex", "-", "-", "-", "200", "201", "202", "-"]
    assert len(lines) == 3


def _module_level_imports(tree: ast.Module, package: str) -> set[str]:
    """Absolute names of what a module imports when it is loaded (function bodies excluded)."""
    found: set[str] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return found


def test_the_matcher_and_what_it_imports_never_import_psutil() -> None:
    """Matching works on plain records: loading the matcher's modules loads no psutil.

    Walks the import graph from ``process/matcher.py`` through every project
    module it loads (process info, recognition, evidence, the model…).
    """
    root = Path(__file__).resolve().parent.parent
    seen: dict[str, set[str]] = {}
    todo = ["agent_session.process.matcher"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = root / Path(*name.split("."))
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if not source.exists():  # ``from .x import name`` where name is not a module
            seen[name] = set()
            todo.append(name.rsplit(".", 1)[0])
            continue
        package = name if source.name == "__init__.py" else name.rsplit(".", 1)[0]
        seen[name] = _module_level_imports(ast.parse(source.read_text()), package)
        todo.extend(n for n in seen[name] if n.startswith("agent_session.") and n != "agent_session.process")
    assert {"agent_session.process.info", "agent_session.process.recognize"} <= set(seen)
    assert "agent_session.process.snapshot" not in seen
    importers = sorted(
        name for name, imports in seen.items() if any(i.split(".")[0] == "psutil" for i in imports)
    )
    assert importers == []
    # Not even a late import inside a function of the matcher itself.
    matcher_source = (root / "agent_session" / "process" / "matcher.py").read_text()
    assert "psutil" not in {n.split(".")[0] for n in _all_imports(ast.parse(matcher_source))}


def _all_imports(tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out
