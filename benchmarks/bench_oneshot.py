"""A cold or warm store, in one fresh process per mode: what a one-shot command costs.

Why: ``SessionStore`` options change a cold start's time and memory
(``follow=False`` keeps no parser per file and ships no parser state from
workers; ``summary_scan`` uses the summary scanners) before the CLI adopts
them. Each mode runs in its own interpreter (imports included, no JSON
output), in turn within every round; printed: wall, CPU of the process tree
(user + system, workers included: this script is a child subreaper), peak
RSS of the main process and the one-minute load average before the run.

    .venv/bin/python benchmarks/bench_oneshot.py --home benchmarks/corpus-1gb [--runs 2]
        [--modes default,oneshot,scan] [--cache DIR]   # --cache: warm runs from that cache
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench_cold import become_subreaper, run_tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MODES = {
    "default": "{}",
    "oneshot": "{'follow': False}",
    "scan": "{'follow': False, 'summary_scan': True}",
    "oneshot-1proc": "{'follow': False, 'workers': 0}",
}

CHILD = """
import resource, sys, time
t0 = time.perf_counter()
from agent_session import AgentHomes, SessionStore
store = SessionStore(AgentHomes.resolve(sys.argv[1]), cache=sys.argv[2] if sys.argv[2] != '-' else False, **{kw})
stats = store.refresh()
n = len(store.sessions())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"sessions={{n}} workers_parsed={{stats.parsed_by_workers}} hits={{stats.cache_hits}} rss_mb={{rss:.0f}} "
      f"in_process_s={{time.perf_counter() - t0:.2f}}")
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=HERE / "corpus-1gb")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--modes", default="default,oneshot,scan")
    ap.add_argument("--cache", type=Path, help="a cache directory (warm runs; filled by a first run)")
    args = ap.parse_args(argv)
    become_subreaper()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSESSION_")}
    env["PYTHONPATH"] = str(ROOT)
    cache = str(args.cache) if args.cache else "-"
    modes = args.modes.split(",")
    if args.cache:
        subprocess.run(
            [sys.executable, "-c", CHILD.format(kw=MODES[modes[0]]), str(args.home), cache],
            env=env,
            check=True,
        )
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for r in range(args.runs):
        order = modes[r % len(modes) :] + modes[: r % len(modes)]
        for mode in order:
            code = CHILD.format(kw=MODES[mode])
            res = run_tree([sys.executable, "-c", code, str(args.home), cache], env)
            rows[mode].append(res)
            print(
                f"round {r + 1} {mode:<14} wall {res['wall']:6.2f} s  cpu {res['cpu']:6.2f} s"
                f"  load {res['load']:.2f}  {res['tail'].strip()}",
                flush=True,
            )
    for mode, rs in rows.items():
        print(
            f"median {mode:<14} wall {statistics.median(x['wall'] for x in rs):6.2f} s"
            f"  cpu {statistics.median(x['cpu'] for x in rs):6.2f} s"
            f"  (load {statistics.median(x['load'] for x in rs):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
