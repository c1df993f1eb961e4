"""--demo: sessions for all three agents, one matched stand-in each, all gone after close()."""

from __future__ import annotations

import time

from agent_session import AgentHomes
from tui_app.demo import DemoEnvironment
from tui_app.monitor import Monitor


def test_demo_populates_both_panes_and_cleans_up() -> None:
    env = DemoEnvironment().start()
    try:
        root = env.root
        assert root is not None and root.is_dir()
        monitor = Monitor(AgentHomes.resolve(env.home), user_home=env.home)
        live = {f"{s.agent}:{s.spec.session_id}" for s in env.sessions if s.live}
        assert len(live) == 3 and len(env.procs) == 3
        deadline = time.monotonic() + 20
        while True:
            snap = monitor.collect()
            matched = {m.session_key for m in snap.matches}
            # Each stand-in writes its evidence, then starts its tool shell: wait for both.
            complete = len(snap.roots) == 3 and all(n.children for n in snap.roots)
            if (matched == live and complete) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert matched == live
        assert {r.agent for r in snap.sessions} == {"claude", "codex", "gemini"}
        assert len(snap.sessions) == 11
        assert sorted(n.agent or "" for n in snap.roots) == ["claude", "codex", "gemini"]
        assert all(len(n.children) == 1 and n.children[0].name == "demo-tool" for n in snap.roots)
        evidence = {m.agent: m.evidence for m in snap.matches}
        assert evidence == {"claude": "pid_file", "codex": "open_file", "gemini": "cwd"}
    finally:
        procs = list(env.procs)
        env.close()
    assert all(p.poll() is not None for p in procs)
    assert not root.exists()
