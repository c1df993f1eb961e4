"""Cost of one matcher refresh with 300 processes and 2,000 sessions.

Two figures:

1. ``SessionProcessMatcher.match`` on synthetic plain records: 300 processes
   (30 agent trees of every kind and evidence, the rest ordinary processes)
   against 2,000 sessions. Warm = the steady state of the monitor (same
   matcher, bindings and realpath cache kept); cold = a fresh matcher.
2. A real ``snapshot_processes()`` on this machine, topped up to 300
   processes with ``sleep`` children and 20 stand-in agents (a Python script
   at an npm-like ``@openai/codex`` path, each with a child), so the
   expensive per-agent reads (cwd, open files, environment) are included.
   Every process started here is killed by pid at the end.

Run: ``.venv/bin/python benchmarks/bench_matcher.py [--runs N]``. Medians of wall and
CPU time per call are printed, with the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from agent_session.model import AgentSession, AgentType
from agent_session.process import (
    ClaudePidFile,
    ProcessInfo,
    SessionProcessMatcher,
    build_trees,
    snapshot_processes,
)

T0 = 1_800_000_000.0
T0_MS = int(T0 * 1000)
NATIVE = "/usr/lib/node_modules/@openai/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"


def _uuid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def synth(
    n_procs: int = 300, n_sessions: int = 2000
) -> tuple[list[ProcessInfo], list[AgentSession], dict[int, ClaudePidFile]]:
    procs: list[ProcessInfo] = [
        ProcessInfo(1, 0, T0 - 86_400, "systemd", "/usr/lib/systemd/systemd", ("/sbin/init",))
    ]
    sessions: list[AgentSession] = []
    pid_files: dict[int, ClaudePidFile] = {}
    pid = 1000
    sid = 0

    def session(
        agent: AgentType, cwd: str, *, path: str | None = None, last: int = T0_MS + 60_000
    ) -> AgentSession:
        nonlocal sid
        sid += 1
        s = AgentSession(
            agent_type=agent,
            session_id=_uuid(sid),
            path=path or f"/home/u/.{agent.value}/sessions/{_uuid(sid)}.jsonl",
            cwd=cwd,
            start_timestamp_ms=last - 30_000,
            end_timestamp_ms=last,
            last_activity_ms=last,
        )
        sessions.append(s)
        return s

    for i in range(30):
        cwd = f"/home/u/src/project{i % 12}"
        ct = T0 + i
        kind = i % 6
        if kind in (0, 1):  # Claude: pid file / tool shell env
            s = session(AgentType.CLAUDE, cwd)
            env = {"CLAUDE_CODE_SESSION_ID": s.session_id} if kind == 1 else {}
            procs.append(ProcessInfo(pid, 1, ct, "claude", "/u/claude.exe", ("claude",), cwd))
            procs.append(
                ProcessInfo(pid + 1, pid, ct + 5, "bash", "/bin/bash", ("bash", "-c", "make"), cwd, (), env)
            )
            procs.append(ProcessInfo(pid + 2, pid + 1, ct + 6, "make", "/usr/bin/make", ("make",), cwd))
            if kind == 0:
                pid_files[pid] = ClaudePidFile(pid, s.session_id, f"/h/{pid}.json", cwd, int(ct * 1000) + 200)
        elif kind in (2, 3):  # Codex: rollout held open / thread id in env
            path = f"/home/u/.codex/sessions/2026/11/24/rollout-{i}.jsonl"
            s = session(AgentType.CODEX, cwd, path=path)
            files = (
                (path, "/home/u/.codex/history.jsonl", "/home/u/.codex/state_5.sqlite") if kind == 2 else ()
            )
            env = {"CODEX_THREAD_ID": s.session_id} if kind == 3 else {}
            procs.append(
                ProcessInfo(pid, 1, ct, "node", "/usr/bin/node", ("node", "/usr/local/bin/codex"), cwd)
            )
            procs.append(ProcessInfo(pid + 1, pid, ct + 0.1, "codex", NATIVE, (NATIVE,), cwd, files))
            procs.append(
                ProcessInfo(
                    pid + 2, pid + 1, ct + 7, "bash", "/bin/bash", ("bash", "-lc", "ls"), cwd, (), env
                )
            )
        else:  # Gemini: cwd only
            session(AgentType.GEMINI, cwd)
            procs.append(
                ProcessInfo(pid, 1, ct, "node", "/usr/bin/node", ("node", "/usr/local/bin/gemini"), cwd)
            )
            argv = ("/usr/bin/node", "--max-old-space-size=8000", "/usr/local/bin/gemini")
            procs.append(ProcessInfo(pid + 1, pid, ct + 0.2, "node", "/usr/bin/node", argv, cwd))
            procs.append(
                ProcessInfo(pid + 2, pid + 1, ct + 9, "bash", "/bin/bash", ("bash", "-c", "ls"), cwd)
            )
        pid += 10
    while len(procs) < n_procs:
        procs.append(ProcessInfo(pid, 1, T0 - 3600, "bash", "/bin/bash", ("bash", "--login"), "/home/u"))
        pid += 1
    agents = list(AgentType)
    while len(sessions) < n_sessions:
        agent = agents[sid % 3]
        # History: mostly old sessions in the same projects (they must lose to the live ones).
        session(agent, f"/home/u/src/project{sid % 40}", last=T0_MS - (sid % 500 + 1) * 3_600_000)
    return procs, sessions, pid_files


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and median CPU (this process, user + system) per call, in ms.

    Both, because on a shared machine wall time alone measures the neighbours.
    """
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


_STANDIN = (
    "import sys, subprocess\nchild = subprocess.Popen(['sleep', '600'])\nsys.stdin.read()\nchild.kill()\n"
)


def real_snapshot(target: int, runs: int) -> None:
    started: list[tuple[int, float]] = []
    popens: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "lib/node_modules/@openai/codex/bin/codex.js"
        script.parent.mkdir(parents=True)
        script.write_text(_STANDIN)
        try:
            for _ in range(20):
                p = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, cwd=tmp)
                popens.append(p)
            have = len(psutil.pids()) + 20  # the stand-ins' sleep children
            for _ in range(max(0, target - have)):
                popens.append(subprocess.Popen(["sleep", "600"]))
            for p in popens:
                started.append((p.pid, psutil.Process(p.pid).create_time()))
            time.sleep(0.5)  # let the stand-ins start their children
            snap = snapshot_processes()
            trees = build_trees(snap.processes)
            wall, cpu = median_ms(snapshot_processes, runs)
            detailed = sum(1 for p in snap.processes if p.cwd is not None)
            print(
                f"real snapshot_processes(): {len(snap.processes)} processes, {len(trees)} agent trees, "
                f"{detailed} read in detail: median {wall:.1f} ms wall, {cpu:.1f} ms CPU over {runs} runs"
            )
        finally:
            for p in popens:  # the stand-ins' own children, by pid too
                with contextlib.suppress(psutil.Error):
                    started.extend(
                        (c.pid, c.create_time()) for c in psutil.Process(p.pid).children(recursive=True)
                    )
                if p.stdin is not None:
                    p.stdin.close()
            for pid, create_time in started:
                try:
                    if psutil.Process(pid).create_time() == create_time:
                        os.kill(pid, signal.SIGKILL)
                except (psutil.Error, OSError):
                    pass
            for p in popens:
                p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--no-snapshot", action="store_true", help="skip the real snapshot part")
    args = parser.parse_args()

    procs, sessions, pid_files = synth(args.processes, args.sessions)
    matcher = SessionProcessMatcher()
    result = matcher.match(procs, sessions, pid_files=pid_files)
    by_evidence: dict[str, int] = {}
    for m in result:
        by_evidence[m.evidence.value] = by_evidence.get(m.evidence.value, 0) + 1
    print(
        f"synthetic: {len(procs)} processes, {len(result.trees)} agent trees, {len(sessions)} sessions -> "
        f"{len(result.matches)} matches {dict(sorted(by_evidence.items()))}"
    )
    print(load())
    warm, warm_cpu = median_ms(lambda: matcher.match(procs, sessions, pid_files=pid_files), args.runs)
    cold, cold_cpu = median_ms(
        lambda: SessionProcessMatcher().match(procs, sessions, pid_files=pid_files), args.runs
    )
    print(
        f"match() warm (steady state): median {warm:.2f} ms wall, {warm_cpu:.2f} ms CPU over {args.runs} runs"
    )
    print(
        f"match() cold (fresh matcher): median {cold:.2f} ms wall, {cold_cpu:.2f} ms CPU over {args.runs} runs"
    )
    if not args.no_snapshot:
        real_snapshot(args.processes, args.runs)
    print(load())


if __name__ == "__main__":
    main()
