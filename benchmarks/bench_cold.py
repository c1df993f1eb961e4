"""Cold ``agentsession list --json`` against ccusage (and an older tree), wall AND CPU, interleaved.

Why a separate script: on a shared machine a wall-time ratio alone says more
about the neighbours than about the code. Each contender runs in turn within
every round (the order rotates), and for each run this prints the wall time,
the CPU time of the whole process tree (user + system, worker processes
included) and the one-minute load average just before it; the summary gives
medians and the agentsession/ccusage ratios of both.

CPU of a process tree: this script makes itself a *child subreaper*
(``prctl(PR_SET_CHILD_SUBREAPER)``), so a ``forkserver`` the command started
(and that outlives it for a moment) is re-parented here and reaped with
``os.wait4`` like the command itself; every reaped process's rusage counts.

    .venv/bin/python benchmarks/bench_cold.py --home benchmarks/corpus-1gb [--runs 3]
        [--ccusage benchmarks/.tools/ccusage/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage]
        [--prev /tmp/agentsession-prev]   # a `git archive HEAD | tar -x` of the previous code
        [--claude-only]                   # also `list --agent claude`: the files ccusage reads
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_CCUSAGE = HERE / ".tools/ccusage/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        return False


def run_tree(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    """Wall time of ``cmd`` and the CPU of every process of its tree (reaped here); ``tail``: its last output."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    assert proc.stdout is not None and proc.stderr is not None
    out = 0
    tail = b""
    while chunk := proc.stdout.read(1 << 20):
        out += len(chunk)
        tail = (tail + chunk)[-2000:]
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    # Descendants that outlived the command (a fork server) are ours now: reap them too.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, _st, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
            continue
        cpu += ru.ru_utime + ru.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-1500:]}")
    return {
        "wall": wall,
        "cpu": cpu,
        "load": load,
        "out_mb": out / 1e6,
        "tail": tail.decode(errors="replace"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=HERE / "corpus-1gb")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ccusage", type=Path, default=DEFAULT_CCUSAGE)
    ap.add_argument("--prev", type=Path, help="a source tree of the previous code (run with its own package)")
    ap.add_argument(
        "--claude-only",
        action="store_true",
        help="also time `list --json --agent claude`: the same files ccusage reads (it knows only Claude)",
    )
    args = ap.parse_args(argv)
    home = args.home.resolve()
    subreaper = become_subreaper()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSESSION_")}
    no_cache = {**base_env, "AGENTSESSION_NO_CACHE": "1"}
    contenders: dict[str, tuple[list[str], dict[str, str], Path | None]] = {
        "agentsession": (
            [sys.executable, "-m", "agent_session.cli", "list", "--json", "--home", str(home)],
            {**no_cache, "PYTHONPATH": str(ROOT)},
            ROOT,
        ),
    }
    if args.claude_only:
        contenders["claude-only"] = (
            [
                sys.executable,
                "-m",
                "agent_session.cli",
                "list",
                "--json",
                "--agent",
                "claude",
                "--home",
                str(home),
            ],
            {**no_cache, "PYTHONPATH": str(ROOT)},
            ROOT,
        )
    if args.prev is not None:
        contenders["previous"] = (
            [sys.executable, "-m", "agent_session.cli", "list", "--json", "--home", str(home)],
            {**no_cache, "PYTHONPATH": str(args.prev.resolve())},
            args.prev.resolve(),
        )
    if args.ccusage.exists():
        args.ccusage.chmod(0o755)
        cc_env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
        contenders["ccusage"] = ([str(args.ccusage), "session", "--json", "--offline"], cc_env, None)
    else:
        print(f"no ccusage at {args.ccusage}: install it as benchmarks/RESULTS.md says", file=sys.stderr)

    print(f"home: {home}   cores: {len(os.sched_getaffinity(0))}   subreaper: {subreaper}")
    for name, (cmd, env, cwd) in contenders.items():  # warm-up: page cache, binaries
        run_tree(cmd, env, cwd)
        del name
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(args.runs):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            cmd, env, cwd = contenders[name]
            res = run_tree(cmd, env, cwd)
            results[name].append(res)
            print(
                f"round {r + 1} {name:<13} wall {res['wall']:6.2f} s  cpu {res['cpu']:6.2f} s"
                f"  load {res['load']:.2f}  out {res['out_mb']:.1f} MB",
                flush=True,
            )
    print()
    med = {
        k: {m: statistics.median(float(x[m]) for x in v) for m in ("wall", "cpu", "load")}
        for k, v in results.items()
    }
    for name, m in med.items():
        print(f"median {name:<13} wall {m['wall']:6.2f} s  cpu {m['cpu']:6.2f} s  (load {m['load']:.2f})")
    if "ccusage" in med:
        for name in [n for n in med if n != "ccusage"]:
            w = med[name]["wall"] / med["ccusage"]["wall"]
            c = med[name]["cpu"] / med["ccusage"]["cpu"]
            print(f"{name} / ccusage: wall {w:.2f}x  cpu {c:.2f}x")
    if "previous" in med:
        w = med["agentsession"]["wall"] / med["previous"]["wall"]
        c = med["agentsession"]["cpu"] / med["previous"]["cpu"]
        print(f"agentsession / previous: wall {w:.2f}x  cpu {c:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
