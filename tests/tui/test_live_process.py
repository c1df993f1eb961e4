"""A real stand-in agent process: it shows up in the tree with its session, and goes away."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tui_helpers import refreshed, wait_for

from agent_session import AgentHomes
from tui_app.app import MonitorApp
from tui_app.demo import DemoEnvironment
from tui_app.monitor import Monitor, default_probe
from tui_app.widgets import ProcessTree, SessionsTable


def _pid_file_written(home: Path, pid: int) -> bool:
    return (home / ".claude" / "sessions" / f"{pid}.json").exists()


@pytest.mark.slow
async def test_stand_in_agent_appears_with_its_session_and_disappears_after_exit(tmp_path: Path) -> None:
    with DemoEnvironment(root=tmp_path, live_agents=("claude",), append_every=3600) as env:
        (proc,) = env.procs
        (live,) = [s for s in env.sessions if s.live and s.agent == "claude"]
        key = f"claude:{live.spec.session_id}"
        # The stand-in writes its pid file once its interpreter is up (as Claude Code does).
        deadline = time.monotonic() + 20
        while not _pid_file_written(env.home, proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline, "stand-in did not start"
            time.sleep(0.02)

        homes = AgentHomes.resolve(env.home)
        # Only the stand-in's tree: real agents on this machine must not show up here.
        monitor = Monitor(homes, user_home=env.home, probe=default_probe(homes, only_trees_of=env.pids))
        app = MonitorApp(monitor, interval=3600.0, watch=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.applied >= 1, "the first snapshot")
            tree = app.query_one(ProcessTree)

            def root_pids() -> list[int]:
                return [n.data.pid for n in tree.root.children if n.data is not None]

            if proc.pid not in root_pids():
                await refreshed(pilot, app)  # the second refresh at the latest
            assert root_pids() == [proc.pid]
            root = tree.root.children[0]
            assert root.data is not None and root.data.session_key == key
            assert root.data.agent == "claude"
            cols = root.label.plain.split()
            assert (
                cols[0] == str(proc.pid) and cols[4] in ("working", "waiting", "idle") and cols[5] == "claude"
            )
            assert (
                f"claude:{live.spec.session_id[:6]}" in root.label.plain
                and "· pid_file 0.95" in root.label.plain
            )
            # Its tool shell is a child node carrying the same session.
            assert [c.data.name for c in root.children if c.data] == ["demo-tool"]
            snap = app.snapshot
            assert snap is not None
            before = snap.row(key)
            assert before is not None and before.live

            env.stop_processes()
            await refreshed(pilot, app)
            assert root_pids() == []
            assert snap is not app.snapshot and app.snapshot is not None
            after = app.snapshot.row(key)
            assert after is not None and not after.live
            assert app.query_one(SessionsTable).get_row(key)[0].plain == ""
