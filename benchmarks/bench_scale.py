"""50,000 small sessions: cold and warm ``agentsession list --json`` (wall, CPU, peak RSS).

A history of many short sessions costs per *file*, not per byte: a stat, a
cache entry, a summary object, a JSON record and a table row each. This
script writes such a history once (``--sessions`` one-turn sessions, 55 %
Claude, 33 % Codex, 12 % Gemini, by the project's own writers in
``agent_session.synthetic``) under ``--data`` and reuses it on later runs
(a ``scale.json`` stamp says what is there), then measures, each as a
subprocess with a private cache directory:

- ``cold``: ``agentsession list --json`` with no cache (it writes one);
- ``warm``: the same command again, every summary from the cache;
- ``first screen`` (``--first-screen``): the monitor's side of a warm start,
  ``SessionStore.refresh(budget=0.25)`` then ``sessions()``, as a child
  process: the time to that first list (and how many sessions it holds),
  then to the whole history with further budgeted refreshes.

Each run prints wall time, CPU time (user + system, from ``os.wait4`` of
that one child) and peak RSS, and the load average before and after, since
the machine may be shared.

    .venv/bin/python benchmarks/bench_scale.py [--sessions 50000] [--data /tmp/agentsession-scale]
        [--runs 3] [--pin-fingerprint] [--warm-only] [--first-screen]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

_SYNTH = {"claude": synth_claude, "codex": synth_codex, "gemini": synth_gemini}
_MIX = (("claude", 0.55), ("codex", 0.33), ("gemini", 0.12))
_MODELS = {
    "claude": ("claude-sonnet-4-5-20250929",),
    "codex": ("gpt-5-codex",),
    "gemini": ("gemini-2.5-pro",),
}
#: Histories end here (a fixed instant, so the same arguments give the same bytes).
END_MS = 1_790_000_000_000
SPAN_MS = 120 * 86_400_000


def generate(home: Path, sessions: int, seed: int = 0) -> None:
    """Write ``sessions`` one-turn sessions under ``home``, mtimes spread over 120 days."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    rng = random.Random(seed)
    projects = [f"/home/dev/src/project-{i:03d}" for i in range(300)]
    started = time.perf_counter()
    for i in range(sessions):
        roll = rng.random()
        agent = "claude" if roll < _MIX[0][1] else "codex" if roll < _MIX[0][1] + _MIX[1][1] else "gemini"
        start = END_MS - rng.randrange(SPAN_MS)
        spec = SynthSpec(
            session_id=f"{i:08x}-5ca1-4e00-8000-{rng.getrandbits(48):012x}",
            cwd=rng.choice(projects),
            start_ms=start,
            models=_MODELS[agent],
            turns=1,
            tools_per_turn=0,
            output_bytes=0,
            seed=i,
            extra={"resume_turn": -1} if agent == "codex" else {},
        )
        path = _SYNTH[agent].write_session(home, spec)
        ns = (start + 60_000) * 1_000_000
        os.utime(path, ns=(ns, ns))
        if (i + 1) % 5000 == 0:
            print(f"  generated {i + 1:,} sessions ({time.perf_counter() - started:.0f} s)", flush=True)


#: ``python -c`` body: the CLI with the cache's code fingerprint pinned (``--pin-fingerprint``).
_PINNED = (
    "import sys; import agent_session.cache as c; c.code_fingerprint = lambda: 'bench-pinned'; "
    "from agent_session.cli import main; sys.exit(main(sys.argv[1:]))"
)


#: ``python -c`` body of ``--first-screen``: argv is the home and the cache directory.
_FIRST_SCREEN = """
import sys, time
t0 = time.perf_counter()
import agent_session.cache as c
if sys.argv[3] == "pin":
    c.code_fingerprint = lambda: "bench-pinned"
from agent_session import AgentHomes, SessionStore
store = SessionStore(AgentHomes.resolve(sys.argv[1]), cache=sys.argv[2])
store.refresh(budget=0.25)
first = store.sessions()
t1 = time.perf_counter()
refreshes = 1
while store.progress()[0] < store.progress()[1]:
    store.refresh(budget=0.25)
    store.sessions()
    refreshes += 1
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {len(first)} {t2 - t0:.3f} {refreshes} {len(store.sessions())}")
"""


def first_screen(home: Path, cache: Path, pin: bool) -> None:
    """The monitor's warm start, store side: the first screen and the whole history, in a child."""
    cmd = [sys.executable, "-c", _FIRST_SCREEN, str(home), str(cache), "pin" if pin else "-"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    first_s, shown, all_s, refreshes, total = proc.stdout.split()
    print(
        f"first screen {float(first_s):.2f} s ({int(shown):,} sessions, imports included), "
        f"whole history {float(all_s):.2f} s after {refreshes} refreshes ({int(total):,} sessions); "
        f"child wall {wall:.2f} s",
        flush=True,
    )


def ensure_corpus(data: Path, sessions: int) -> Path:
    home = data / "home"
    stamp = data / "scale.json"
    want = {"sessions": sessions, "seed": 0, "version": 1}
    try:
        have = orjson.loads(stamp.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        have = None
    if have != want:
        print(f"writing {sessions:,} sessions under {home} (reused by later runs)", flush=True)
        stamp.unlink(missing_ok=True)
        generate(home, sessions)
        stamp.write_bytes(orjson.dumps(want))
    return home


def run(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall, CPU (user + sys) and peak RSS of one child, from its own rusage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    out_bytes = 0
    while chunk := proc.stdout.read(1 << 20):
        out_bytes += len(chunk)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}"
        )
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "output_mb": out_bytes / 1e6,
    }


def show(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:<6} wall {r['wall_s']:6.2f} s   cpu {r['cpu_s']:6.2f} s   peak RSS {r['max_rss_mb']:7.1f} MB"
        f"   output {r['output_mb']:.1f} MB",
        flush=True,
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=50_000)
    ap.add_argument("--data", type=Path, default=Path("/tmp/agentsession-scale"))
    ap.add_argument("--runs", type=int, default=3, help="warm runs (the best and all are printed)")
    ap.add_argument(
        "--pin-fingerprint",
        action="store_true",
        help="run the CLI with a fixed cache code fingerprint, so edits to the parsers made meanwhile "
        "(another checkout, a shared tree) do not turn a warm run into a cold one",
    )
    ap.add_argument("--warm-only", action="store_true", help="keep the existing cache: no cold run")
    ap.add_argument(
        "--first-screen",
        action="store_true",
        help="also time the monitor's warm start on the store side (refresh(budget=0.25), sessions())",
    )
    args = ap.parse_args(argv)

    data = args.data.resolve()
    home = ensure_corpus(data, args.sessions)
    cache = data / "cache"
    env = {**os.environ, "AGENTSESSION_CACHE_DIR": str(cache)}
    env.pop("AGENTSESSION_NO_CACHE", None)
    cmd = [sys.executable, "-m", "agent_session.cli", "list", "--json", "--home", str(home)]
    if args.pin_fingerprint:
        cmd[1:3] = ["-c", _PINNED]
    print("command:", " ".join(cmd))
    print(f"cores: {os.cpu_count()}   load average before: {load()}", flush=True)

    if not args.warm_only:
        shutil.rmtree(cache, ignore_errors=True)
        show("cold", run(cmd, env))
    cache_files = [p for p in cache.rglob("summaries-*") if p.is_file()]
    size = sum(p.stat().st_size for p in cache_files)
    print(f"cache: {len(cache_files)} file(s), {size / 1e6:.1f} MB", flush=True)
    warm = []
    for _ in range(max(1, args.runs)):
        warm.append(run(cmd, env))
        show("warm", warm[-1])
    best = min(warm, key=lambda r: r["wall_s"])
    print(
        f"warm best: wall {best['wall_s']:.2f} s, cpu {best['cpu_s']:.2f} s, peak RSS {best['max_rss_mb']:.0f} MB"
    )
    if args.first_screen:
        first_screen(home, cache, args.pin_fingerprint)
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
