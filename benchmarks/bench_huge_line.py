"""Reading a session file that is one huge line without a newline (a sparse hole, a crash).

Makes a sparse file in a temp home (``os.truncate``: instant, no disk used)
holding a few valid Claude lines, then ``--mb`` MB of NULs with no newline,
then more valid lines, and parses it with a fresh :class:`SessionStore`.
Before the bounded reader, the incomplete line was re-copied on every 8 MB
read (quadratic time, about twice the file size in memory); now it is
dropped up to its newline and counted as ``oversized``.

Prints wall and CPU time, the peak RSS growth of this process, the load
average, and what the session's diagnostics say.

    python benchmarks/bench_huge_line.py [--mb 512]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from agent_session import AgentHomes, SessionStore
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=512, help="size of the line without a newline, in MB")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        spec = SynthSpec(
            session_id="b16b16b1-1111-4222-8333-444455556666",
            cwd="/work/bench",
            start_ms=1_795_000_000_000,
            models=("claude-sonnet-4-5",),
            turns=3,
            tools_per_turn=2,
            seed=1,
        )
        lines = list(synth.session_lines(spec))
        path = synth.session_path(home, spec)
        path.parent.mkdir(parents=True)
        half = len(lines) // 2
        path.write_bytes(b"".join(lines[:half]))
        os.truncate(path, path.stat().st_size + args.mb * 1024 * 1024)
        with open(path, "ab") as fh:
            fh.write(b"\n" + b"".join(lines[half:]))
        store = SessionStore(AgentHomes.resolve(home), workers=0)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, cpu = time.perf_counter(), time.process_time()
        store.refresh()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        s = store.sessions()[0]
        print(f"file: {path.stat().st_size / 1e6:.0f} MB, one line of {args.mb} MB without a newline")
        print(f"wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS growth {(rss_after - rss_before) / 1024:.0f} MB")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"diagnostics: skipped {s.diagnostics.skipped_by_reason}, lines read {s.diagnostics.lines_read}"
        )
        print(f"usage: {s.usage.total_tokens} tokens, {s.prompt_count} prompts")


if __name__ == "__main__":
    main()
