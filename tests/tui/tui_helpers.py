"""Helpers for the monitor tests: generated sessions, a frozen clock, a fixed process tree.

Session cwds are under ``/home/dev`` (they need not exist), so every path the
UI shows is the same on every machine; times are shown in UTC; "now" is frozen
so "3 minutes ago" never drifts; the fake probe stands in for /proc.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textual.pilot import Pilot

from agent_session import AgentSession, AgentType
from agent_session.process import (
    CONFIDENCE,
    AgentTree,
    Evidence,
    ProcessInfo,
    SessionMatch,
    SessionProcessMatches,
)
from tui_app.app import MonitorApp
from tui_app.demo import DemoSession, demo_sessions, synth_module
from tui_app.monitor import ProbeResult

#: The frozen "now" of every test (epoch seconds): 2026-11-24 20:20:00 UTC.
NOW_S = 1_795_551_600.0
NOW_MS = int(NOW_S * 1000)
PROJECTS = Path("/home/dev")


#: One agent tree as a test states it: agent, its processes (root first), and the
#: session it writes with the evidence (both None: a live agent with no session found).
TreeSpec = tuple[str, Sequence[ProcessInfo], str | None, str | None]


def probe_result(
    trees: Sequence[TreeSpec],
    *,
    elapsed: Mapping[int, float] | None = None,
    ports: Mapping[int, tuple[int, ...]] | None = None,
    states: Mapping[int, str] | None = None,
) -> ProbeResult:
    """A probe's answer built the way the library shapes it: its trees, its matches, its confidences."""
    built: list[AgentTree] = []
    matches: list[SessionMatch] = []
    for agent, procs, sid, evidence in trees:
        root = procs[0]
        tree = AgentTree(AgentType(agent), root, tuple(procs), (root,))
        built.append(tree)
        if sid is not None and evidence is not None:
            ev = Evidence(evidence)
            matches.append(
                SessionMatch(
                    root.pid, root.create_time, tree.pids, AgentType(agent), sid, "", ev, CONFIDENCE[ev]
                )
            )
    return ProbeResult(
        matches=SessionProcessMatches(tuple(matches), tuple(built), NOW_MS),
        elapsed=dict(elapsed or {}),
        ports=dict(ports or {}),
        states=dict(states or {}),
    )


def replace_processes(result: ProbeResult, change: Callable[[ProcessInfo], ProcessInfo]) -> ProbeResult:
    """``result`` with every process passed through ``change`` (trees, matches and extras kept)."""
    trees: list[TreeSpec] = []
    for tree in result.matches.trees:
        m = result.matches.match_for_pid(tree.root.pid)
        sid, evidence = (m.session_id, m.evidence.value) if m is not None else (None, None)
        trees.append((tree.agent_type.value, [change(p) for p in tree.members], sid, evidence))
    return probe_result(trees, elapsed=result.elapsed, ports=result.ports, states=result.states)


@dataclass
class FakeProbe:
    """Plays /proc: a fixed list of agent roots, each with one tool child.

    ``live`` maps an agent root pid to ``(agent, session id or None)``;
    ``calls`` counts probes so tests can see refreshes happen.
    """

    live: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    calls: int = 0

    def __call__(self, sessions: Sequence[AgentSession]) -> ProbeResult:
        self.calls += 1
        trees: list[TreeSpec] = []
        for pid, (agent, sid) in sorted(self.live.items()):
            root = ProcessInfo(
                pid, 1, 1000.0 + pid, agent, cmdline=(agent,), cpu_percent=12.5, rss=300 * 1024 * 1024
            )
            child = ProcessInfo(
                pid + 1,
                pid,
                1001.0 + pid,
                "bash",
                cmdline=("bash", "-c", "npm test"),
                cpu_percent=0.5,
                rss=4 * 1024 * 1024,
            )
            trees.append((agent, (root, child), sid, "pid_file" if sid else None))
        return probe_result(trees)


@dataclass
class Corpus:
    home: Path
    sessions: list[DemoSession]
    paths: dict[str, Path]

    def spec(self, agent: str, index: int = 0) -> DemoSession:
        return [s for s in self.sessions if s.agent == agent][index]

    def key(self, ds: DemoSession) -> str:
        return f"{ds.agent}:{ds.spec.session_id}"


def write_corpus(home: Path) -> Corpus:
    sessions = demo_sessions(PROJECTS, NOW_MS)
    paths: dict[str, Path] = {}
    for ds in sessions:
        paths[ds.spec.session_id] = synth_module(ds.agent).write_session(home, ds.spec)
    return Corpus(home, sessions, paths)


async def wait_for(
    pilot: Pilot[None], cond: Callable[[], object], what: str = "condition", limit: float = 15.0
) -> None:
    """Let the app run until ``cond()`` holds (the limit only guards against a hang)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.02)


async def refreshed(pilot: Pilot[None], app: MonitorApp, press: bool = True) -> None:
    """Press ``r`` (unless told not to) and wait for the full collection it causes to be applied.

    Detail-only snapshots (selection changes) do not count: they reuse the last
    sessions and processes.
    """
    before = app.collections
    if press:
        await pilot.press("r")
    await wait_for(pilot, lambda: app.collections > before, "a refresh")
    await pilot.pause()


async def settled(pilot: Pilot[None], app: MonitorApp) -> None:
    """Wait for the first snapshot and the selected session's detail."""
    await wait_for(pilot, lambda: app.applied >= 1, "the first snapshot")
    await wait_for(
        pilot,
        lambda: (
            app.snapshot is not None
            and app.snapshot.detail is not None
            and app.snapshot.detail.key == app.selected_key
            and app.snapshot.detail.session is not None
        ),
        "the selected session's detail",
    )
    await pilot.pause()


def env_without_agents(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME")
    }
    env["HOME"] = str(tmp_path)
    env["XDG_CONFIG_HOME"] = str(tmp_path / ".config")
    return env
