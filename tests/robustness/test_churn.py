"""Process churn: agents start and die while the matcher runs; no stale or reused pid is ever bound.

Live: 1,000 short-lived stand-ins (``bash`` re-executing ``sleep`` under the
npm path of Claude Code, so recognition sees the real package path; most
write a Claude pid file naming their own session first and leave it behind
when they die, like a crashed CLI) start in parallel batches while another
thread snapshots ``/proc`` (this test's process tree only) and matches in a
loop. Every spawned process is
reaped. Simulated: a pool of twenty pids recycled thousands of times, with
stale pid files everywhere, checks the same invariants where pid reuse is certain.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent_session.discovery import AgentHomes
from agent_session.model import AgentSession, AgentType
from agent_session.process import (
    ClaudePidFile,
    Evidence,
    ProcessInfo,
    ProcessSnapshot,
    ProcessSnapshotter,
    SessionProcessMatcher,
    SessionProcessMatches,
    build_trees,
    match_live,
    snapshot_processes,
)

CHURN = 1000
BATCH = 40
CLAUDE = "/opt/npm/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"

#: Writes ``<home>/.claude/sessions/$$.json`` like Claude Code (pid, session, start ticks),
#: then becomes ``sleep`` under Claude's package path, keeping its pid.
_STANDIN = r"""
read -r stat < /proc/$$/stat
rest=${stat##*) }
set -- $rest
if [ "$2" = yes ]; then :; fi
ticks=${20}
ms=$(( ${EPOCHREALTIME/./} / 1000 ))
if [ "$WRITE_PID_FILE" = 1 ]; then
  printf '{"pid":%d,"sessionId":"%s","cwd":"%s","startedAt":%d,"procStart":"%s","kind":"interactive"}' \
    $$ "$SESSION" "$PWD" "$ms" "$ticks" > "$PID_DIR/$$.json.tmp" && mv "$PID_DIR/$$.json.tmp" "$PID_DIR/$$.json"
fi
exec -a "$CLAUDE_PATH" sleep "$LIFE"
"""


def _session(sid: str, cwd: str, now_ms: int) -> AgentSession:
    return AgentSession(
        agent_type=AgentType.CLAUDE,
        session_id=sid,
        path=f"/nowhere/{sid}.jsonl",
        cwd=cwd,
        start_timestamp_ms=now_ms - 60_000,
        end_timestamp_ms=now_ms,
        last_activity_ms=now_ms + 3_600_000,
    )


def check_invariants(
    snap: ProcessSnapshot, result: SessionProcessMatches, matcher: SessionProcessMatcher
) -> list[tuple[int, float, str, Evidence]]:
    """What must hold after every match; returns the matches as plain tuples."""
    alive = {p.pid: p.create_time for p in snap.processes}
    out = []
    for m in result.matches:
        assert alive.get(m.root_pid) == m.root_create_time, f"match for a pid not alive as {m}"
        for pid in m.matched_pids:
            assert pid in alive
        out.append((m.root_pid, m.root_create_time, m.session_id, m.evidence))
    for pid, (create_time, _sid) in matcher.bindings.items():
        assert alive.get(pid) == create_time, f"binding kept for dead or reused pid {pid}"
    return out


@pytest.fixture
def churn_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    (home / ".claude" / "sessions").mkdir(parents=True)
    yield home


@pytest.mark.slow
def test_thousand_short_lived_agents_while_the_matcher_runs(churn_home: Path, tmp_path: Path) -> None:
    homes = AgentHomes.resolve(churn_home)
    pid_dir = churn_home / ".claude" / "sessions"
    cwd = tmp_path / "project"
    cwd.mkdir()
    now_ms = int(time.time() * 1000)
    sessions = [_session(f"churn-{i:04d}", str(cwd), now_ms) for i in range(CHURN)]
    # A session in the same project, active now: the cwd fallback may pick it, never a dead process.
    sessions.append(_session("decoy-active", str(cwd), now_ms))

    spawned: dict[int, list[tuple[float, str]]] = {}  # pid -> [(wall time started, session)]
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[tuple[int, float, str, Evidence]] = []
    rounds = 0

    def matcher_loop() -> None:
        nonlocal rounds
        matcher = SessionProcessMatcher()
        # This test's own process tree only: agents running elsewhere on the machine are not ours.
        snapper = ProcessSnapshotter(only_trees_of=[os.getpid()])
        try:
            while not stop.is_set() or rounds < 3:
                snap = snapper.snapshot()
                result = match_live(matcher, sessions, homes, snap)
                seen.extend(check_invariants(snap, result, matcher))
                rounds += 1
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "CODEX", "GEMINI"))}
    watcher = threading.Thread(target=matcher_loop)
    watcher.start()
    rng = random.Random(7)
    live_peak = 0
    try:
        for start in range(0, CHURN, BATCH):
            batch: list[subprocess.Popen[bytes]] = []
            for i in range(start, min(CHURN, start + BATCH)):
                env = dict(
                    base_env,
                    SESSION=f"churn-{i:04d}",
                    PID_DIR=str(pid_dir),
                    CLAUDE_PATH=CLAUDE,
                    LIFE=f"0.{rng.randint(0, 60):03d}",
                    WRITE_PID_FILE="1" if i % 3 else "0",
                )
                t0 = time.time()
                p = subprocess.Popen(["/bin/bash", "-c", _STANDIN], cwd=cwd, env=env)
                with lock:
                    spawned.setdefault(p.pid, []).append((t0, env["SESSION"]))
                batch.append(p)
            live_peak = max(live_peak, sum(1 for p in batch if p.poll() is None))
            for p in batch:
                assert p.wait(timeout=30) == 0
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert not errors, errors[0]
    assert rounds >= 3

    # Every evidence match named the session the process itself announced.
    for pid, create_time, sid, evidence in seen:
        if evidence is Evidence.PID_FILE:
            starts = [s for t, s in spawned.get(pid, []) if t <= create_time + 1.0]
            assert starts and starts[-1] == sid, f"pid {pid} bound to {sid}, it was {starts}"
    assert any(ev is Evidence.PID_FILE for *_, ev in seen), "no stand-in was ever matched"
    by_evidence = {ev.value: sum(1 for *_, e in seen if e is ev) for ev in Evidence}
    print(f"churn: {len(spawned)} pids, {rounds} match rounds, matches by evidence {by_evidence}")

    # All dead and reaped: a fresh match binds none of them, though their pid files remain.
    leftovers = {c.pid for c in psutil.Process().children(recursive=True)} & set(spawned)
    assert not leftovers
    assert len(list(pid_dir.glob("*.json"))) >= CHURN // 2
    matcher = SessionProcessMatcher()
    final = match_live(matcher, sessions, homes, snapshot_processes(only_trees_of=[os.getpid()]))
    assert not [m for m in final.matches if m.session_id.startswith("churn-")]
    assert len(spawned) >= CHURN // 2  # pids really were handed out (reuse is allowed, not needed)


@pytest.mark.slow
def test_recycled_pids_with_stale_pid_files_never_bind_the_wrong_process() -> None:
    """Twenty pids reused thousands of times; stale pid files and sticky bindings everywhere."""
    rng = random.Random(20261124)
    matcher = SessionProcessMatcher()
    pool = list(range(5000, 5020))
    t = 1_800_000_000.0
    sessions = [
        AgentSession(
            agent_type=AgentType.CLAUDE,
            session_id=f"s-{k:03d}",
            path=f"/x/s-{k:03d}.jsonl",
            cwd="/w/p",
            start_timestamp_ms=int(t * 1000),
            last_activity_ms=int(t * 1000) + 10**9,
        )
        for k in range(60)
    ]
    alive: dict[int, tuple[float, str | None]] = {}  # pid -> (create_time, session it writes, if any)
    files: dict[int, ClaudePidFile] = {}
    bound = 0
    for _ in range(3000):
        # 0.37 s apart: a dead holder of the same pid started a fraction of a second earlier
        # (never a whole number of seconds within reach, which clock ticks cannot tell apart).
        t = round(t + 0.37, 2)
        pid = rng.choice(pool)
        if pid in alive and rng.random() < 0.5:
            del alive[pid]  # dies; its pid file stays behind
        elif pid not in alive:
            sid = f"s-{rng.randrange(60):03d}" if rng.random() < 0.7 else None
            alive[pid] = (t, sid)
            if sid is not None:
                # Its own file: the same ticks, seen through a boot time that may have moved a second.
                files[pid] = ClaudePidFile(
                    pid=pid,
                    session_id=sid,
                    path=f"/h/{pid}.json",
                    proc_start=t + rng.choice((0.0, 0.0, 1.0, -1.0)),
                    proc_start_ticks=True,
                )
        procs = [
            ProcessInfo(pid=p, ppid=1, create_time=ct, name="claude", cmdline=("claude",), cwd="/w/p")
            for p, (ct, _) in alive.items()
        ]
        snap = ProcessSnapshot(tuple(procs), int(t * 1000))
        result = matcher.match(procs, sessions, pid_files=files, now_ms=int(t * 1000))
        for pid_, ct, sid, ev in check_invariants(snap, result, matcher):
            own = alive[pid_][1]
            if ev in (Evidence.PID_FILE, Evidence.STICKY):
                assert sid == own, f"pid {pid_} (started {ct}) bound to {sid} by {ev}, it writes {own}"
                bound += 1
    assert bound > 1000


def test_a_ppid_cycle_from_a_racing_snapshot_keeps_the_agent() -> None:
    """A parent died and its pid went to a new child of the child: each now names the other."""
    old = ProcessInfo(pid=100, ppid=200, create_time=10.0, name="claude", cmdline=("claude",))
    new = ProcessInfo(pid=200, ppid=100, create_time=20.0, name="claude", cmdline=("claude",))
    trees = build_trees([old, new])
    assert [(t.root.pid, t.pids) for t in trees] == [(100, (100, 200))]


def test_a_process_never_hangs_under_a_younger_one() -> None:
    """Its parent pid was reused by an agent started later: it is not that agent's tool."""
    agent = ProcessInfo(pid=600, ppid=1, create_time=60.0, name="claude", cmdline=("claude",))
    stray = ProcessInfo(
        pid=500,
        ppid=600,
        create_time=1.0,
        name="bash",
        cmdline=("bash",),
        environ={"CLAUDE_CODE_SESSION_ID": "s-other"},
    )
    tool = ProcessInfo(pid=700, ppid=600, create_time=61.0, name="bash", cmdline=("bash",))
    trees = build_trees([agent, stray, tool])
    assert [(t.root.pid, t.pids) for t in trees] == [(600, (600, 700))]
    sessions = [
        AgentSession(agent_type=AgentType.CLAUDE, session_id="s-other", path="/x/s-other.jsonl", cwd="/w")
    ]
    result = SessionProcessMatcher().match([agent, stray, tool], sessions, now_ms=62_000)
    assert result.session_for_pid(600) is None  # the stray's environment is no evidence for 600
