"""Regenerate ``screenshots/*.svg`` from the demo: ``python -m tui_app.screenshots [DIR]``.

Runs the real app headless on a fresh demo home (generated sessions, stand-in
agent processes), waits until every stand-in is matched to its session, then
saves the main screen, the tool-call drill-down and one call's detail.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from agent_session import AgentHomes

from .app import DEMO_BANNER, MonitorApp
from .demo import DemoEnvironment
from .monitor import Monitor, default_probe
from .widgets import ToolCallsScreen

__all__ = ["make_screenshots"]

SIZE = (160, 46)


async def _until(pilot: object, cond: object, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def _shoot(out: Path) -> list[Path]:
    with DemoEnvironment() as env:
        homes = AgentHomes.resolve(env.home)
        monitor = Monitor(homes, user_home=env.home, probe=default_probe(homes, only_trees_of=env.pids))
        app = MonitorApp(monitor, interval=1.0, banner=DEMO_BANNER)
        async with app.run_test(size=SIZE) as pilot:

            def ready() -> bool:
                snap = app.snapshot
                return (
                    snap is not None
                    and sum(1 for m in snap.matches if m.session_key) == 3
                    and snap.detail is not None
                    and snap.detail.session is not None
                    and all(t.cpu_percent > 0 for t in snap.totals)
                )

            await _until(pilot, ready, "the stand-ins to be matched")
            await pilot.pause(0.3)
            saved = [Path(app.save_screenshot("main.svg", str(out)))]
            from .widgets.timeline import SessionTimeline, TimelineScreen

            await pilot.press("g")
            await _until(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
            await _until(
                pilot, lambda: app.screen.query_one(SessionTimeline).is_drawn, "the timeline's picture"
            )
            await pilot.pause(0.3)
            saved.append(Path(app.save_screenshot("timeline.svg", str(out))))
            await pilot.press("escape")
            await pilot.pause(0.2)
            await pilot.press("enter")
            await _until(
                pilot,
                lambda: isinstance(app.screen, ToolCallsScreen) and app.screen.table.row_count > 0,
                "the tool calls",
            )
            await pilot.press("down", "down", "down")
            await pilot.pause(0.3)
            saved.append(Path(app.save_screenshot("tool-calls.svg", str(out))))
            await pilot.press("enter")
            await pilot.pause(0.3)
            saved.append(Path(app.save_screenshot("tool-call.svg", str(out))))
    return saved


def make_screenshots(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_shoot(out))


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "screenshots"
    )
    for path in make_screenshots(target):
        print(path)
