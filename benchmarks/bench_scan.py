"""Cold summary: full parse vs ``scan_summary``, one process, on a generated corpus.

Prints, per contender, the median wall and CPU time over interleaved rounds
(the two take turns, so a busy machine slows both alike), MB/s, the number
of lines decoded as JSON, and the load average before and after. Also counts
``genai_prices.calc_price`` calls, now (rates cached per model and tier) and
what the two earlier pricing schemes would have made on the same sessions
(one call per request; one per (session, model, tier) bucket).

Every round also checks that the scan equals the full parse on everything
``scan.py`` promises to be exact, so a fast wrong scanner cannot report a figure.

Run (the corpus first, once):
``.venv/bin/python benchmarks/generate_corpus.py --preset 100mb``
``.venv/bin/python benchmarks/bench_scan.py [--corpus benchmarks/corpus-100mb] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import genai_prices
import orjson

from agent_session import pricing
from agent_session.model import AgentSession, AgentType
from agent_session.requests import BYTES_PER_REQUEST
from agent_session.sources.base import SessionFile
from agent_session.sources.registry import source_for
from agent_session.sources.scan import read_session_bytes, scan_summary

HERE = Path(__file__).resolve().parent
_HOMES = ((AgentType.CLAUDE, ".claude"), (AgentType.CODEX, ".codex"), (AgentType.GEMINI, ".gemini"))


def discover(home: Path) -> list[SessionFile]:
    out: list[SessionFile] = []
    for agent, folder in _HOMES:
        if (home / folder).is_dir():
            out.extend(source_for(agent).find_session_files(home / folder))
    return out


def full_parse(sf: SessionFile, data: bytes) -> AgentSession:
    parser = sf.new_parser(detail=False)
    if sf.parser_cls.append_only:
        parser.feed(data)
    else:
        parser.feed_document(data)
    return parser.snapshot()


def run(files: list[SessionFile], scan: bool) -> tuple[float, float, list[AgentSession]]:
    """Read and summarise every file; (wall s, CPU s, summaries)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = []
    for sf in files:
        data = read_session_bytes(sf)
        out.append(scan_summary(sf, data) if scan else full_parse(sf, data))
    return time.perf_counter() - w0, time.process_time() - c0, out


#: What a scan may see less of (``agent_session/sources/scan.py``'s contract).
_LOOSE = {"files", "diagnostics", "start_timestamp_ms", "end_timestamp_ms", "last_activity_ms", "duration_ms"}


def comparable(s: AgentSession) -> dict[str, Any]:
    data = s.model_dump(mode="json", exclude=_LOOSE)
    data["requests"] = s.requests.to_json_obj()
    return data


def decoded_lines(files: list[SessionFile], scan: bool) -> int:
    """How many lines the parsers hand to ``orjson.loads`` (counted in a separate, untimed pass)."""
    real = orjson.loads
    calls = 0

    def counting(data: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(data)

    orjson.loads = counting  # type: ignore[assignment]
    try:
        run(files, scan)
    finally:
        orjson.loads = real  # type: ignore[assignment]
    return calls


def calc_price_calls(files: list[SessionFile]) -> tuple[int, int, int]:
    """(calls now, one per bucket per session, one per request) for a cold scan from empty caches."""
    real = genai_prices.calc_price
    calls = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    pricing._resolve.cache_clear()
    pricing._rates.cache_clear()
    genai_prices.calc_price = counting  # type: ignore[assignment]
    try:
        _, _, sessions = run(files, scan=True)
    finally:
        genai_prices.calc_price = real  # type: ignore[assignment]
    models = {(s.agent_type, m) for s in sessions for m in s.requests.models}
    per_request = sum(len(s.requests) for s in sessions) + len(models)
    per_bucket = len(models)
    for s in sessions:
        acc = pricing.CostAccumulator(s.agent_type)
        for r in s.requests:
            acc.add(r.model, r.counts)
        per_bucket += sum(
            1
            for (model, _tier), b in acc._buckets.items()
            if b[5] > 0 and any(b[:5]) and pricing._resolve(model, s.agent_type) is not None
        )
    return calls, per_bucket, per_request


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus-100mb")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}: run benchmarks/generate_corpus.py first", file=sys.stderr)
        return 2
    files = discover(args.corpus)
    size = sum(len(read_session_bytes(sf)) for sf in files)  # also warms the page cache
    print(f"corpus {args.corpus}: {len(files)} files, {size / 1e6:.1f} MB (decompressed)")
    load_before = os.getloadavg()
    calls = calc_price_calls(files)  # first: also does the one-time imports for both contenders
    results: dict[str, list[tuple[float, float]]] = {"full parse": [], "scan_summary": []}
    for _ in range(args.rounds):
        wf, cf, full = run(files, scan=False)
        ws, cs, scans = run(files, scan=True)
        results["full parse"].append((wf, cf))
        results["scan_summary"].append((ws, cs))
        bad = [f.path for f, a, b in zip(files, full, scans, strict=True) if comparable(a) != comparable(b)]
        if bad:
            print(f"scan differs from the full parse on {len(bad)} files, e.g. {bad[0]}", file=sys.stderr)
            return 1
    load_after = os.getloadavg()
    n_req = sum(len(s.requests) for s in scans)
    json_bytes = sum(len(orjson.dumps(s.requests.to_json_obj())) for s in scans)
    lines = {"full parse": decoded_lines(files, False), "scan_summary": decoded_lines(files, True)}
    print(f"one process, median of {args.rounds} interleaved rounds (page cache warm):")
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        best = min(r[1] for r in rows)
        print(
            f"  {name:<13} wall {wall:6.3f} s  CPU {cpu:6.3f} s (min {best:.3f})  "
            f"{size / 1e6 / wall:6.1f} MB/s  {lines[name]:,} lines decoded"
        )
    print(
        f"request records: {n_req:,}, {n_req * BYTES_PER_REQUEST / 1e6:.2f} MB in memory "
        f"({BYTES_PER_REQUEST} B each), {json_bytes / 1e6:.2f} MB as cache JSON "
        f"({json_bytes / max(n_req, 1):.1f} B each)"
    )
    print(
        f"calc_price calls for the whole scan: {calls[0]:,} now (rates cached per model and tier); "
        f"{calls[1]:,} pricing each (session, model, tier) bucket; {calls[2]:,} pricing each request"
    )
    print(
        "load average 1/5/15 min: before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
