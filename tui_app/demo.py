"""``--demo``: a temp home with generated sessions and harmless stand-in agents.

Sessions come from ``agent_session.synthetic`` (the same writers the tests
check the parsers against). One session per agent is "live": a stand-in
process named like the agent (a symlink called ``claude``/``codex``/``gemini``
to this Python, running a tiny script) leaves the evidence the real CLI leaves
— Claude's ``sessions/<pid>.json``, Codex's rollout held open, Gemini's cwd —
has a tool-shell child with the agent's session environment variable, and
appends the rest of its transcript a line at a time so tokens visibly grow.

Stand-ins exit when told to, and on their own as soon as their parent (the
monitor) is gone; :meth:`DemoEnvironment.close` ends them and removes the
temp home. Nothing is written outside that temp directory.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from agent_session.synthetic import SynthSpec
from agent_session.text import parse_ts_ms

__all__ = ["DemoEnvironment", "DemoSession", "corpus_specs", "demo_sessions", "synth_module", "write_corpus"]

AGENTS = ("claude", "codex", "gemini")

#: Environment variable each agent gives its tool shells (what the matcher reads).
SESSION_ENV = {"claude": "CLAUDE_CODE_SESSION_ID", "codex": "CODEX_THREAD_ID", "gemini": "GEMINI_CLI"}
_BUSY = {"claude": 0.012, "codex": 0.008, "gemini": 0.004}

_MODELS = {
    "claude": (
        ("claude-sonnet-4-5",),
        ("claude-opus-4-1",),
        ("claude-haiku-4-5",),
        ("claude-sonnet-4-5", "claude-haiku-4-5"),
    ),
    "codex": (("gpt-5-codex",), ("gpt-5",), ("gpt-5", "gpt-5-codex"), ("gpt-5-mini",)),
    "gemini": (("gemini-2.5-pro",), ("gemini-2.5-flash",), ("gemini-2.5-pro", "gemini-2.5-flash")),
}


def synth_module(agent: str) -> ModuleType:
    return importlib.import_module(f"agent_session.synthetic.{agent}")


def _session_id(agent: str, n: int) -> str:
    # Shaped like each CLI's ids (uuid4 for Claude/Gemini, uuid7-like for Codex), deterministic.
    raw = uuid.uuid5(uuid.NAMESPACE_URL, f"agentsession-demo/{agent}/{n}")
    if agent == "codex":
        return f"0199{raw.hex[4:8]}-{raw.hex[8:12]}-7{raw.hex[13:16]}-{raw.hex[16:20]}-{raw.hex[20:32]}"
    return str(raw)


@dataclass(frozen=True)
class DemoSession:
    agent: str
    spec: SynthSpec
    #: Whether a stand-in process plays the agent writing this session.
    live: bool = False


def demo_sessions(root: Path, now_ms: int) -> list[DemoSession]:
    """The demo's sessions: a few per agent, one live each, cwds under ``root/src``."""
    plan: list[tuple[str, str, int, int, int, int, dict[str, Any]]] = [
        # agent, project, model set, turns, tools/turn, minutes ago, extra
        ("claude", "webshop", 0, 12, 3, 0, {"subagents": 1}),
        ("claude", "infra", 1, 5, 2, 38, {}),
        ("claude", "docs-site", 2, 3, 1, 60 * 5, {}),
        ("claude", "webshop", 3, 4, 2, 60 * 26, {}),
        # A `codex resume` 90 s after the previous turn (the generator's default gap is days).
        ("codex", "payments-api", 0, 7, 2, 0, {"resume_gap_ms": 90_000}),
        ("codex", "cli-tools", 1, 4, 2, 95, {"resume_gap_ms": 90_000}),
        ("codex", "payments-api", 2, 3, 3, 60 * 30, {"resume_gap_ms": 90_000}),
        ("gemini", "mobile-app", 0, 6, 2, 0, {}),
        ("gemini", "data-notebooks", 1, 3, 1, 60 * 3, {}),
        ("gemini", "mobile-app", 2, 2, 2, 60 * 50, {}),
    ]
    out: list[DemoSession] = []
    seen_live: set[str] = set()
    for n, (agent, project, models, turns, tools, ago, extra) in enumerate(plan):
        live = agent not in seen_live and ago == 0
        seen_live.add(agent)
        spec = SynthSpec(
            session_id=_session_id(agent, n),
            cwd=str(root / "src" / project),
            # Live sessions started ~25 minutes ago; the rest ended `ago` minutes ago.
            start_ms=now_ms - (25 if live else ago + 20) * 60_000,
            models=_MODELS[agent][models % len(_MODELS[agent])],
            turns=turns,
            tools_per_turn=tools,
            output_bytes=600,
            seed=n,
            prompts=(),
            extra=dict(extra),
        )
        out.append(DemoSession(agent, spec, live))
    return out


def corpus_specs(root: Path, count: int, now_ms: int) -> list[tuple[str, SynthSpec]]:
    """``count`` small sessions spread over the three agents and the last days (benchmarks)."""
    out: list[tuple[str, SynthSpec]] = []
    for n in range(count):
        agent = AGENTS[n % 3]
        models = _MODELS[agent][n % len(_MODELS[agent])]
        out.append(
            (
                agent,
                SynthSpec(
                    session_id=_session_id(agent, 1000 + n),
                    cwd=str(root / "src" / f"project{n % 17}"),
                    start_ms=now_ms - (n * 37 + 60) * 60_000,
                    models=models,
                    turns=3 + n % 4,
                    tools_per_turn=1 + n % 3,
                    output_bytes=400,
                    seed=n,
                    extra={"resume_gap_ms": 90_000} if agent == "codex" else {},
                ),
            )
        )
    return out


def write_corpus(home: Path, count: int, now_ms: int) -> list[Path]:
    return [
        synth_module(agent).write_session(home, spec) for agent, spec in corpus_specs(home, count, now_ms)
    ]


_TS = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT[\d:.]+Z)"')


def _keep(n_lines: int, split: float) -> int:
    return max(1, int(n_lines * split))


def _last_ts_ms(lines: list[bytes]) -> int | None:
    best: int | None = None
    for line in lines:
        for m in _TS.finditer(line):
            ms = parse_ts_ms(m.group(1).decode())
            if ms is not None and (best is None or ms > best):
                best = ms
    return best


def _aligned(ds: DemoSession, now_ms: int, split: float) -> DemoSession:
    """Shift a live session in time so its written part ends now and the rest is "being written".

    The matcher wants a live session's activity after its process started (as
    with a real agent), and appended lines should not carry old times.
    """
    lines = list(synth_module(ds.agent).session_lines(ds.spec))
    last = _last_ts_ms(lines[: _keep(len(lines), split)])
    if last is None:
        return ds
    spec = dataclasses.replace(ds.spec, start_ms=ds.spec.start_ms + (now_ms - 500 - last))
    return dataclasses.replace(ds, spec=spec)


# ---------------------------------------------------------------------- stand-in processes
_STANDIN = r'''
"""A stand-in coding agent for agentsession-top --demo: sleeps, appends, exits with its parent."""
import json, os, signal, subprocess, sys, time

def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.get("role") == "child":
        while os.getppid() == parent:
            time.sleep(0.5)
        return
    pid_file = args.get("pid_file", "").replace("{pid}", str(os.getpid()))
    child = None
    held = None
    try:
        env = dict(os.environ)
        if args.get("env_key"):
            env[args["env_key"]] = args.get("env_value", "1")
        if args.get("child"):
            child = subprocess.Popen([args["child"], __file__, "role=child"], env=env)
        # The pid file last: once it exists, the whole tree is up.
        if pid_file:
            with open(pid_file + ".tmp", "w") as fh:
                json.dump({"pid": os.getpid(), "sessionId": args["session"], "cwd": os.getcwd(),
                           "startedAt": int(time.time() * 1000), "kind": "interactive"}, fh)
            os.replace(pid_file + ".tmp", pid_file)
        pending = []
        if args.get("pending"):
            with open(args["pending"], "rb") as fh:
                pending = fh.read().splitlines(keepends=True)
        target = args.get("append")
        if target and args.get("hold") == "1":
            held = open(target, "ab")
        every = float(args.get("every", "2"))
        busy = float(args.get("busy", "0"))
        next_append = time.monotonic() + every
        while os.getppid() == parent:
            end = time.perf_counter() + busy
            while time.perf_counter() < end:
                pass
            if pending and target and time.monotonic() >= next_append:
                line = pending.pop(0)
                if held is not None:
                    held.write(line)
                    held.flush()
                else:
                    with open(target, "ab") as fh:
                        fh.write(line)
                next_append += every
            time.sleep(0.25)
    finally:
        if pid_file:
            try:
                os.unlink(pid_file)
            except OSError:
                pass
        if child is not None:
            child.terminate()
            try:
                child.wait(2)
            except Exception:
                child.kill()

main()
'''


@dataclass
class DemoEnvironment:
    """A temp home with demo sessions and (optionally) stand-in agent processes.

    ``root``: use this directory instead of a new temp dir (it is not removed).
    ``now_ms``: the demo's "now" (tests pass a fixed one). ``processes``:
    start the stand-ins. ``append_every``: seconds between appended lines.
    """

    root: Path | None = None
    now_ms: int | None = None
    processes: bool = True
    append_every: float = 2.0
    #: Share of a live transcript written up front; the stand-in appends the rest.
    split: float = 0.6
    #: Agents that get a stand-in process (tests start just one).
    live_agents: tuple[str, ...] = AGENTS
    home: Path = field(init=False)
    sessions: list[DemoSession] = field(init=False, default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(init=False, default_factory=list)
    _owns_root: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="agentsession-demo-"))
            self._owns_root = True
        self.home = self.root / "home"

    def __enter__(self) -> DemoEnvironment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> DemoEnvironment:
        now = self.now_ms if self.now_ms is not None else int(time.time() * 1000)
        self.sessions = demo_sessions(self.home, now)
        for i, ds in enumerate(self.sessions):
            Path(ds.spec.cwd).mkdir(parents=True, exist_ok=True)
            playing = ds.live and self.processes and ds.agent in self.live_agents
            if playing:
                ds = self.sessions[i] = _aligned(ds, int(time.time() * 1000), self.split)
            path = synth_module(ds.agent).write_session(self.home, ds.spec)
            if playing:
                self.start_standin(ds, path)
        return self

    def start_standin(self, ds: DemoSession, path: Path) -> subprocess.Popen[bytes]:
        """Play the agent writing ``path``: keep ``split`` of it, append the rest over time."""
        assert self.root is not None
        bin_dir = self.root / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        script = bin_dir / "standin.py"
        if not script.exists():
            script.write_text(_STANDIN)
        exe = bin_dir / ds.agent
        tool = bin_dir / "demo-tool"
        for link in (exe, tool):
            if not link.exists():
                os.symlink(sys.executable, link)
        args = [str(exe), str(script), "role=root", f"child={tool}", f"every={self.append_every}"]
        args.append(f"env_key={SESSION_ENV[ds.agent]}")
        args.append(f"env_value={ds.spec.session_id if ds.agent != 'gemini' else '1'}")
        # A few ms of busy work per 0.25 s so the CPU column has something to show.
        args.append(f"busy={_BUSY[ds.agent]}")
        if path.suffix == ".jsonl":
            lines = path.read_bytes().splitlines(keepends=True)
            keep = _keep(len(lines), self.split)
            path.write_bytes(b"".join(lines[:keep]))
            pending = self.root / f"pending-{ds.agent}-{ds.spec.session_id}.jsonl"
            pending.write_bytes(b"".join(lines[keep:]))
            args += [f"pending={pending}", f"append={path}"]
            if ds.agent == "codex":
                args.append("hold=1")  # Codex keeps its rollout open: that is its evidence.
        if ds.agent == "claude":
            sessions_dir = self.home / ".claude" / "sessions"
            sessions_dir.mkdir(parents=True, exist_ok=True)
            # Named after the pid, which only the stand-in knows: it fills in "{pid}".
            args += [f"pid_file={sessions_dir}/{{pid}}.json", f"session={ds.spec.session_id}"]
        proc = subprocess.Popen(
            args,
            cwd=ds.spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    @property
    def pids(self) -> tuple[int, ...]:
        """The stand-ins' pids: scope a process probe to them to see the demo and nothing else."""
        return tuple(p.pid for p in self.procs)

    def stop_processes(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    proc.kill()
                proc.wait()
        self.procs.clear()

    def close(self) -> None:
        self.stop_processes()
        if self._owns_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
