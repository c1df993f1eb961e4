"""--demo: sessions for all three agents, one matched stand-in each, all gone after close().

The monitor's probe is scoped to the demo's own stand-ins, so agents running
on the machine (a developer's real claude or codex) are not counted.
"""

from __future__ import annotations

import time

import pytest

from agent_session import AgentHomes
from tui_app.demo import DemoEnvironment
from tui_app.monitor import Monitor, MonitorSnapshot, default_probe


@pytest.mark.slow
def test_demo_populates_both_panes_and_cleans_up() -> None:
    env = DemoEnvironment().start()
    try:
        root = env.root
        assert root is not None and root.is_dir()
        homes = AgentHomes.resolve(env.home)
        monitor = Monitor(homes, user_home=env.home, probe=default_probe(homes, only_trees_of=env.pids))
        live = {f"{s.agent}:{s.spec.session_id}" for s in env.sessions if s.live}
        assert len(live) == 3 and len(env.procs) == 3

        def complete(snap: MonitorSnapshot) -> bool:
            # Each stand-in writes its evidence, then starts its tool shell: wait for both.
            matched = {m.session_key for m in snap.matches}
            return matched == live and len(snap.roots) == 3 and all(n.children for n in snap.roots)

        bound = time.monotonic() + 30  # only a failure bound: the loop ends as soon as all are up
        snap = monitor.collect()
        while not complete(snap):
            assert time.monotonic() < bound, f"stand-ins never all matched: {snap.matches}"
            time.sleep(0.1)
            snap = monitor.collect()
        assert {r.agent for r in snap.sessions} == {"claude", "codex", "gemini"}
        assert len(snap.sessions) == 11
        assert sorted(n.agent or "" for n in snap.roots) == ["claude", "codex", "gemini"]
        assert sorted(n.pid for n in snap.roots) == sorted(env.pids)
        assert all(len(n.children) == 1 and n.children[0].name == "demo-tool" for n in snap.roots)
        evidence = {m.agent: m.evidence for m in snap.matches}
        assert evidence == {"claude": "pid_file", "codex": "open_file", "gemini": "cwd"}
    finally:
        procs = list(env.procs)
        env.close()
    assert all(p.poll() is not None for p in procs)
    assert not root.exists()
