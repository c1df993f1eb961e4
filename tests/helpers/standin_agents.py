"""Stand-in agent programs for live matcher tests.

A stand-in is a small Python script installed where npm would put the real
CLI (``<prefix>/lib/node_modules/@openai/codex/bin/codex.js`` …) and run as
``python <that path>``, so recognition sees the same package path as for the
real thing. It appends to a session file (held open or reopened per write),
optionally writes a Claude-style ``<pid>.json`` pid file into a directory, starts a child shell with chosen
environment variables, and obeys one-word commands on stdin:
``write``, ``close``, ``exit`` (each answered with ``ok``).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

__all__ = ["PACKAGE_PATHS", "Standin", "StandinFactory", "install_standin"]

#: Where each agent's entry point sits inside an npm prefix.
PACKAGE_PATHS = {
    "codex": "lib/node_modules/@openai/codex/bin/codex.js",
    "claude": "lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe",
    "gemini": "lib/node_modules/@google/gemini-cli/dist/index.js",
}

#: Variables a real agent's tool shell may carry; the stand-ins never inherit them.
_AGENT_ENV = frozenset(
    {
        "CLAUDE_CODE_SESSION_ID",
        "CODEX_THREAD_ID",
        "CODEX_SESSION_ID",
        "CLAUDE_PID",
        "GEMINI_CLI",
        "CLAUDECODE",
    }
)

_PROGRAM = r"""
import json, os, subprocess, sys, time

args = sys.argv[1:]
opts = {"env": []}
i = 0
while i < len(args):
    key = args[i]
    if key == "--hold":
        opts["hold"] = True
        i += 1
        continue
    value = args[i + 1]
    if key == "--child-env":
        opts["env"].append(value)
    else:
        opts[key.lstrip("-")] = value
    i += 2

session = opts["session"]
held = None


def write():
    global held
    line = json.dumps({"timestamp": time.time(), "type": "standin"}) + "\n"
    if opts.get("hold"):
        if held is None:
            held = open(session, "a")
        held.write(line)
        held.flush()
    else:
        with open(session, "a") as fh:
            fh.write(line)


write()
pid_file = None
if opts.get("pid-dir"):
    pid_file = os.path.join(opts["pid-dir"], "%d.json" % os.getpid())
    with open("/proc/self/stat") as fh:
        proc_start = fh.read().rsplit(")", 1)[1].split()[19]
    with open(pid_file, "w") as fh:
        json.dump({"pid": os.getpid(), "sessionId": opts["session-id"], "cwd": os.getcwd(),
                   "startedAt": int(time.time() * 1000), "procStart": proc_start,
                   "version": "0.0.0-standin", "kind": "interactive"}, fh)
env = dict(os.environ)
for item in opts["env"]:
    k, _, v = item.partition("=")
    env[k] = v
child = subprocess.Popen(["/bin/sh", "-c", "read line"], stdin=subprocess.PIPE, env=env)
print("ready", child.pid, flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "write":
        write()
    elif cmd == "close":
        if held is not None:
            held.close()
            held = None
    elif cmd == "exit":
        break
    print("ok", flush=True)
child.kill()
child.wait()
if pid_file:
    os.unlink(pid_file)
"""


def install_standin(prefix: Path, agent: str) -> Path:
    """Write the stand-in at the npm-like path for ``agent`` under ``prefix``."""
    path = prefix / PACKAGE_PATHS[agent]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PROGRAM)
    return path


@dataclass
class Standin:
    proc: subprocess.Popen[bytes]
    child_pid: int
    identities: list[tuple[int, float]]
    _buf: bytes = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _readline(self, timeout: float = 10.0) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("stand-in did not answer")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise EOFError("stand-in exited")
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        if command != "exit":
            assert self._readline() == "ok"

    def exit(self, timeout: float = 10.0) -> None:
        self.send("exit")
        self.proc.wait(timeout=timeout)


def _identity(pid: int) -> tuple[int, float] | None:
    try:
        return (pid, psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _kill(pid: int, create_time: float) -> None:
    """SIGKILL ``pid`` only if it is still the process we started."""
    with contextlib.suppress(psutil.Error, OSError):
        if psutil.Process(pid).create_time() == create_time:
            os.kill(pid, signal.SIGKILL)


@dataclass
class StandinFactory:
    """Starts stand-ins (and plain look-alike processes); ``close()`` kills every one it started, by pid."""

    prefix: Path
    started: list[Standin] = field(default_factory=list)
    others: list[tuple[subprocess.Popen[bytes], tuple[int, float] | None]] = field(default_factory=list)

    @property
    def pids(self) -> tuple[int, ...]:
        """Every process started here: scope a snapshot to their trees to see nothing else."""
        return tuple(s.pid for s in self.started) + tuple(p.pid for p, _ in self.others)

    def spawn(self, argv: list[str], executable: str | None = None) -> subprocess.Popen[bytes]:
        """Start a plain process (``executable`` run with ``argv``, so ``argv[0]`` can be anything)."""
        env = {k: v for k, v in os.environ.items() if k not in _AGENT_ENV}
        proc = subprocess.Popen(
            argv, executable=executable, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        self.others.append((proc, _identity(proc.pid)))
        return proc

    def start(
        self,
        agent: str,
        session: Path,
        cwd: Path,
        *,
        hold: bool = False,
        child_env: dict[str, str] | None = None,
        pid_dir: Path | None = None,
        session_id: str | None = None,
        extra_args: list[str] | None = None,
    ) -> Standin:
        script = self.prefix / PACKAGE_PATHS[agent]
        if not script.exists():
            install_standin(self.prefix, agent)
        argv = [sys.executable, str(script), "--session", str(session)]
        if hold:
            argv.append("--hold")
        for key, value in (child_env or {}).items():
            argv += ["--child-env", f"{key}={value}"]
        if pid_dir is not None:
            argv += ["--pid-dir", str(pid_dir), "--session-id", session_id or ""]
        argv += extra_args or []
        # Hermetic even when the tests run inside a real agent's tool shell.
        env = {k: v for k, v in os.environ.items() if k not in _AGENT_ENV}
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        standin = Standin(proc, -1, [])
        self.started.append(standin)
        root_id = _identity(proc.pid)
        if root_id is not None:
            standin.identities.append(root_id)
        word, _, child = standin._readline().partition(" ")
        assert word == "ready"
        standin.child_pid = int(child)
        child_id = _identity(standin.child_pid)
        if child_id is not None:
            standin.identities.append(child_id)
        return standin

    def close(self) -> None:
        for proc, identity in self.others:
            if identity is not None:
                _kill(*identity)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for standin in self.started:
            for pid, create_time in standin.identities:
                _kill(pid, create_time)
            with contextlib.suppress(subprocess.TimeoutExpired):
                standin.proc.wait(timeout=5)
            for stream in (standin.proc.stdin, standin.proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
