"""Deterministic generator of a heavy user's home: Claude, Codex and Gemini history.

The corpus is what the benchmarks parse: a user home (``<out>/.claude``,
``<out>/.codex``, ``<out>/.gemini``) written by the project's own synthetic
writers (``agent_session.synthetic``), so every line has the shape the real
CLIs write (compact JSON, the non-usage record types, tool results, injected
context, subagent files). What this module adds is the *mix* of a real
history:

- proportions by session count: Claude 55 %, Codex 33 %, Gemini 12 %;
  Claude transcripts are the biggest per session, Gemini's the smallest;
- a heavy-tailed (log-normal) size distribution: most sessions are a few
  hundred KB, a few are tens of MB, and tool outputs range from a few hundred
  bytes to a few hundred KB (large outputs are what make transcripts big);
- Claude subagent files under ``<session>/subagents/``, Codex sub-agent
  children that replay their parent, archived and zstd-compressed Codex
  rollouts, legacy Gemini ``.json`` beside current ``.jsonl``;
- start times spread over 120 days, and each file's mtime set to its last
  record's time, so "most recently active" means the same thing to the store
  as in a real home.

Same arguments, same bytes: every choice comes from one seeded RNG. A
``corpus.json`` manifest beside the homes records the parameters and totals
(and lets ``run.py`` reuse a corpus instead of regenerating it).

Run: ``.venv/bin/python benchmarks/generate_corpus.py --preset 1gb`` (or
``--size 500MB --sessions 1000 --out DIR``).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from agent_session.synthetic import SynthSpec
from agent_session.synthetic import claude as synth_claude
from agent_session.synthetic import codex as synth_codex
from agent_session.synthetic import gemini as synth_gemini

__all__ = ["PRESETS", "CorpusInfo", "generate", "parse_size", "preset_dir"]

HERE = Path(__file__).resolve().parent
#: name -> (total bytes, sessions). The session density is the same in all three,
#: so the scaling curve grows both the bytes and the number of files.
PRESETS: dict[str, tuple[int, int]] = {
    "100mb": (100_000_000, 200),
    "1gb": (1_000_000_000, 2_000),
    "3gb": (3_000_000_000, 6_000),
}
MANIFEST = "corpus.json"
#: Bump when the generator's output changes, so a stale corpus is regenerated.
GENERATOR_VERSION = 1

#: The newest record in the corpus (fixed, so the corpus is reproducible).
END_MS = 1_795_132_800_000  # 2026-11-20T00:00:00Z
SPAN_MS = 120 * 86_400_000

_AGENT_SHARE = (("claude", 0.55, 1.4), ("codex", 0.33, 0.8), ("gemini", 0.12, 0.45))
_MODELS = {
    "claude": (("claude-sonnet-4-5",), ("claude-sonnet-4-5", "claude-haiku-4-5"), ("claude-opus-4-1",)),
    "codex": (("gpt-5",), ("gpt-5-codex",), ("gpt-5", "gpt-5-codex")),
    "gemini": (("gemini-2.5-pro",), ("gemini-2.5-flash",), ("gemini-2.5-pro", "gemini-2.5-flash")),
}
_PROJECTS = [
    f"/home/dev/{group}/{name}"
    for group in ("src", "work", "oss")
    for name in (
        "api-server", "web-client", "infra", "data-pipeline", "mobile", "cli-tools", "docs-site",
        "ml-models", "payments", "auth-service", "search", "billing", "dashboard", "sdk-python",
        "sdk-js", "monorepo", "notebooks", "scripts", "agentsession", "compiler",
    )
]  # fmt: skip
_TS_RE = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"')
_SYNTH = {"claude": synth_claude, "codex": synth_codex, "gemini": synth_gemini}


@dataclass(frozen=True)
class CorpusInfo:
    home: Path
    total_bytes: int
    files: int
    sessions: int
    by_agent: dict[str, dict[str, int]]

    @property
    def size_label(self) -> str:
        return _human(self.total_bytes)


def parse_size(text: str) -> int:
    """``1GB``, ``100MB``, ``500M``, ``3G``, ``1e9`` -> bytes (decimal units)."""
    m = re.fullmatch(r"\s*([\d.eE+]+)\s*([kKmMgGtT]?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def preset_dir(name: str) -> Path:
    return HERE / f"corpus-{name}"


def _human(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------- plan
@dataclass
class _Plan:
    agent: str
    spec: SynthSpec
    target: int


def _uuid(rng: random.Random, version: int = 4) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{version}{h[13:16]}-{'89ab'[rng.randrange(4)]}{h[17:20]}-{h[20:32]}"


def _plan(total: int, sessions: int, seed: int) -> list[_Plan]:
    rng = random.Random(f"agentsession-corpus:{seed}")
    agents: list[tuple[str, float]] = []
    for agent, share, weight in _AGENT_SHARE:
        agents.extend((agent, weight) for _ in range(round(sessions * share)))
    while len(agents) < sessions:
        agents.append(("claude", 1.4))
    agents = agents[:sessions]
    rng.shuffle(agents)
    # Log-normal sizes: median ~ a third of the mean, a long tail of big sessions.
    raw = [w * math.exp(rng.gauss(0.0, 1.25)) for _, w in agents]
    cap = 40 * total / sessions  # no single session dominates the corpus
    raw = [min(r, cap * sum(raw) / total) if total else r for r in raw]
    scale = total / sum(raw)
    starts = sorted(END_MS - SPAN_MS + rng.randrange(SPAN_MS - 4 * 3_600_000) for _ in agents)
    plans: list[_Plan] = []
    codex_parents: list[str] = []
    for i, ((agent, _w), r) in enumerate(zip(agents, raw, strict=True)):
        target = max(20_000, int(r * scale))
        # More turns for bigger sessions, but the biggest grow through their tool outputs.
        turns = max(1, min(160, int(target**0.5 / 28) + rng.randrange(0, 4)))
        tools = rng.choice((1, 2, 2, 3, 3, 4))
        models = rng.choice(_MODELS[agent])
        extra: dict[str, Any] = {}
        sid = _uuid(rng, 7 if agent == "codex" else 4)
        if agent == "claude":
            if rng.random() < 0.18:
                extra["subagents"] = rng.choice((1, 1, 2, 3))
            extra["slash_command"] = rng.random() < 0.3
        elif agent == "codex":
            roll = rng.random()
            if roll < 0.06 and codex_parents:
                extra["parent_id"] = rng.choice(codex_parents[-20:])
                extra["parent_model"] = models[0]
            elif roll < 0.14:
                extra["archived"] = True
                if roll < 0.09:
                    extra["zst"] = True
            if rng.random() < 0.8:
                extra["resume_turn"] = -1  # most sessions are never resumed days later
            codex_parents.append(sid)
        else:
            if rng.random() < 0.2:
                extra["legacy"] = True
        spec = SynthSpec(
            session_id=sid,
            cwd=rng.choice(_PROJECTS),
            start_ms=starts[i],
            models=models,
            turns=turns,
            tools_per_turn=tools,
            output_bytes=200,
            seed=seed * 100_000 + i,
            extra=extra,
        )
        plans.append(_Plan(agent, spec, target))
    return plans


def _size_of(agent: str, spec: SynthSpec) -> int:
    return sum(len(line) for line in _SYNTH[agent].session_lines(spec))


def _fit_output_bytes(p: _Plan) -> SynthSpec:
    """Tool output size that makes the session about ``target`` bytes (sizes are linear in it)."""
    spec = p.spec
    lo = SynthSpec(**{**spec.__dict__, "output_bytes": 0})
    hi = SynthSpec(**{**spec.__dict__, "output_bytes": 1000})
    a = _size_of(p.agent, lo)
    b = (_size_of(p.agent, hi) - a) / 1000.0
    if b <= 0:
        return lo
    want = int((p.target - a) / b)
    return SynthSpec(**{**spec.__dict__, "output_bytes": max(64, min(want, 400_000))})


def _last_ts_ms(path: Path) -> int | None:
    """The newest record time in the file's tail (its mtime, as the CLI left it)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.seek(max(0, size - 65536))
            tail = fh.read()
    except OSError:
        return None
    if path.name.endswith(".zst"):
        return None
    stamps = _TS_RE.findall(tail)
    if not stamps:
        return None
    from agent_session.text import parse_ts_ms

    values = [v for v in (parse_ts_ms(s.decode()) for s in stamps) if v is not None]
    return max(values) if values else None


# ----------------------------------------------------------------------- generate
def generate(out: Path, total: int, sessions: int, seed: int = 0, *, quiet: bool = False) -> CorpusInfo:
    """Write the corpus under ``out`` (replacing what is there) and return its facts."""
    started = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    plans = _plan(total, sessions, seed)
    by_agent: dict[str, dict[str, int]] = {a: {"sessions": 0, "files": 0, "bytes": 0} for a in _SYNTH}
    files = 0
    written = 0
    for n, p in enumerate(plans, 1):
        spec = _fit_output_bytes(p)
        path = _SYNTH[p.agent].write_session(out, spec)
        paths = [path]
        if p.agent == "claude":
            paths += [synth_claude.subagent_path(out, spec, a) for a in synth_claude.subagent_ids(spec)]
        end = _last_ts_ms(path)
        if end is None:
            end = spec.start_ms + spec.turns * 45_000
        stamp_ns = min(end, END_MS) * 1_000_000
        for f in paths:
            size = f.stat().st_size
            os.utime(f, ns=(stamp_ns, stamp_ns))
            by_agent[p.agent]["files"] += 1
            by_agent[p.agent]["bytes"] += size
            files += 1
            written += size
        by_agent[p.agent]["sessions"] += 1
        if not quiet and (n % 200 == 0 or n == len(plans)):
            print(
                f"  {n}/{len(plans)} sessions, {_human(written)} in {time.perf_counter() - started:.1f}s",
                file=sys.stderr,
            )
    info = CorpusInfo(home=out, total_bytes=written, files=files, sessions=len(plans), by_agent=by_agent)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "target_bytes": total,
        "sessions": sessions,
        "seed": seed,
        "total_bytes": written,
        "files": files,
        "by_agent": by_agent,
    }
    (out / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return info


def load_or_generate(
    out: Path, total: int, sessions: int, seed: int = 0, *, quiet: bool = False
) -> CorpusInfo:
    """Reuse the corpus at ``out`` when its manifest matches, else (re)generate it."""
    try:
        manifest = orjson.loads((out / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        manifest = None
    if (
        isinstance(manifest, dict)
        and manifest.get("generator_version") == GENERATOR_VERSION
        and manifest.get("target_bytes") == total
        and manifest.get("sessions") == sessions
        and manifest.get("seed") == seed
    ):
        return CorpusInfo(
            home=out,
            total_bytes=int(manifest["total_bytes"]),
            files=int(manifest["files"]),
            sessions=sessions,
            by_agent=manifest["by_agent"],
        )
    if not quiet:
        print(f"generating {_human(total)} / {sessions} sessions in {out}", file=sys.stderr)
    return generate(out, total, sessions, seed, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--preset", choices=sorted(PRESETS), help="100mb, 1gb (default sizes) or 3gb")
    ap.add_argument("--size", type=parse_size, help="total bytes, e.g. 1GB, 250MB (default 1GB)")
    ap.add_argument("--sessions", type=int, help="number of sessions (default 2000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="the home to write (default benchmarks/corpus-<preset>)")
    args = ap.parse_args(argv)
    total, sessions = PRESETS[args.preset or "1gb"]
    total = args.size or total
    sessions = args.sessions or sessions
    out = args.out or preset_dir(args.preset or ("1gb" if not (args.size or args.sessions) else "custom"))
    info = generate(out, total, sessions, args.seed)
    print(
        f"{info.home}: {info.sessions} sessions, {info.files} files, {info.size_label} "
        + ", ".join(f"{a} {v['sessions']}/{_human(v['bytes'])}" for a, v in info.by_agent.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
