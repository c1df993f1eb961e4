"""Peak memory (and time) of ``agentsession show`` on one huge session.

A tester's 1.5 GB Claude transcript (400k tool calls) took 4.55 GB to
``show`` when every event was kept; the detail is now bounded (the newest
``MAX_TOOL_EVENTS`` calls…), so the peak should stay under 500 MB whatever
the file's size.

Generates one Claude session of about ``--mb`` megabytes with the synthetic
writer (once: it is kept in ``--data`` and reused while its size matches),
then runs the real CLI as a subprocess, ``agentsession show <id> --home DIR
--no-cache``, and prints wall time, CPU time (the CLI and any parse workers it
started) and peak RSS, with the load average before and after (two cores are
shared: a high load means the wall time is not the program's alone).

    python benchmarks/bench_memory.py [--mb 1500] [--data /tmp/agentsession-bench-memory] [--runs 1]

``--keys``: instead, run the monitor headless (Textual's test driver) on the
same home and press keys while the huge session's detail loads on the worker
thread (the first row is selected by itself), then drill into its tool calls:
prints the time each key took to be handled (target < 100 ms), and how long
the detail and the tool-call list took to appear.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude

SESSION_ID = "b16b16b1-0000-4000-8000-00000000b16b"
TOOLS_PER_TURN = 200
OUTPUT_BYTES = 2500
#: Bytes one generated call adds at these knobs (measured: 18.5 MB for 4,000 calls).
BYTES_PER_CALL = 4_630


def spec_for(mb: int) -> SynthSpec:
    turns = max(1, mb * 1_000_000 // (BYTES_PER_CALL * TOOLS_PER_TURN))
    return SynthSpec(
        session_id=SESSION_ID,
        cwd="/home/dev/src/huge",
        start_ms=1_795_000_000_000,
        models=("claude-sonnet-4-5",),
        turns=turns,
        tools_per_turn=TOOLS_PER_TURN,
        output_bytes=OUTPUT_BYTES,
        seed=7,
    )


def ensure_session(data: Path, mb: int) -> tuple[Path, SynthSpec]:
    """The home holding the generated session, written only when missing or of another size."""
    home = data / f"home-{mb}mb"
    spec = spec_for(mb)
    path = synth_claude.session_path(home, spec)
    stamp = home / "complete"
    if not (stamp.exists() and stamp.read_text() == repr(spec) and path.exists()):
        print(f"generating a {mb} MB session in {home} (once) …", flush=True)
        started = time.perf_counter()
        stamp.unlink(missing_ok=True)
        synth_claude.write_session(home, spec)
        stamp.write_text(repr(spec))
        print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    return home, spec


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("agentsession")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "agent_session"]


def run_show(home: Path) -> dict[str, float]:
    cmd = [*_cli(), "show", SESSION_ID, "--home", str(home), "--no-cache"]
    print("command:", " ".join(cmd), flush=True)
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"show failed ({proc.returncode}): {err.decode(errors='replace')[:500]}")
    calls = next((line for line in out.decode().splitlines() if line.startswith("tool calls")), "?")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        # ru_maxrss (KiB on Linux) of RUSAGE_CHILDREN: the largest of the CLI and its workers.
        "peak_rss_mb": after.ru_maxrss / 1024,
        "load_before": load_before[0],
        "load_after": os.getloadavg()[0],
        "output": calls,  # type: ignore[dict-item]
    }


async def _keys(home: Path, presses: int) -> None:
    from agent_session import AgentHomes
    from tui_app.app import MonitorApp
    from tui_app.monitor import Monitor
    from tui_app.widgets import ToolCallsScreen

    monitor = Monitor(AgentHomes.resolve(home), user_home=home)
    app = MonitorApp(monitor, interval=1.0, watch=False)
    key_ms: list[float] = []
    cpu0, started = time.process_time(), time.perf_counter()
    async with app.run_test(size=(160, 48)) as pilot:

        def detail_ready() -> bool:
            snap = app.snapshot
            return snap is not None and snap.detail is not None and snap.detail.session is not None

        while not detail_ready():
            for key in ("question_mark", "escape", "down", "up"):
                t = time.perf_counter()
                await pilot.press(key)
                key_ms.append((time.perf_counter() - t) * 1000)
            await pilot.pause(0.2)
        loaded = time.perf_counter() - started
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, ToolCallsScreen)
        while screen.table.row_count == 0:
            await pilot.pause(0.05)
        listed = time.perf_counter() - started
        for _ in range(presses):  # on the tool-call list, with snapshots arriving every second
            for key in ("down", "down", "up", "end", "home"):
                t = time.perf_counter()
                await pilot.press(key)
                key_ms.append((time.perf_counter() - t) * 1000)
            await pilot.pause(0.2)
        rows = screen.table.row_count
    key_ms.sort()
    print(
        f"detail shown after {loaded:.1f} s, tool-call list ({rows:,} rows) after {listed:.1f} s; "
        f"cpu {time.process_time() - cpu0:.1f} s (this process)"
    )
    print(
        f"{len(key_ms)} keys: median {key_ms[len(key_ms) // 2]:.0f} ms, "
        f"p95 {key_ms[int(len(key_ms) * 0.95)]:.0f} ms, max {key_ms[-1]:.0f} ms; "
        f"load avg {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=1500, help="session size to generate (MB)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/agentsession-bench-memory"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keys", action="store_true", help="key latency of the monitor while the detail loads")
    args = ap.parse_args()
    home, spec = ensure_session(args.data, args.mb)
    if args.keys:
        import asyncio

        asyncio.run(_keys(home, presses=10))
        return
    path = synth_claude.session_path(home, spec)
    size = path.stat().st_size
    calls = synth_claude.expected_tool_count(spec)
    print(f"session: {size / 1e6:,.0f} MB, {calls:,} tool calls ({path})", flush=True)
    for i in range(args.runs):
        r = run_show(home)
        print(
            f"run {i + 1}: wall {r['wall_s']:.1f} s, cpu {r['cpu_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
            f"load avg {r['load_before']:.2f} -> {r['load_after']:.2f}; show printed {r['output']!r}",
            flush=True,
        )


if __name__ == "__main__":
    main()
