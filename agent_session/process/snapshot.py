"""Process snapshots from psutil, shaped as plain records for the matcher.

One ``process_iter`` pass reads the cheap attributes of every process; the
expensive ones (cwd, open files, environment) are read only for agent
processes and their descendants, because the monitor snapshots every second.
Processes that vanish or deny access mid-snapshot are skipped or left with
empty fields — never an error.

psutil caches ``Process`` objects between ``process_iter`` calls together
with their creation time, so a reused pid would keep the old process's start
time. We clear that cache on every pass (identity is ``(pid, create_time)``)
and compute CPU percentages from our own previous sample instead.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psutil

from .recognize import label_process

__all__ = ["ENV_KEYS", "ProcessInfo", "ProcessSnapshot", "ProcessSnapshotter", "snapshot_processes"]

#: The only environment variables we keep; the rest of an environment is never stored.
ENV_KEYS: tuple[str, ...] = (
    "CLAUDE_CODE_SESSION_ID",
    "CODEX_THREAD_ID",
    "CODEX_SESSION_ID",
    "CLAUDE_PID",
    "GEMINI_CLI",
)


@dataclass(frozen=True, eq=True)
class ProcessInfo:
    """What the matcher needs to know about one process (plain data, no psutil)."""

    pid: int
    ppid: int
    #: Seconds since the epoch; with ``pid`` it is the process identity.
    create_time: float
    name: str = ""
    exe: str | None = None
    cmdline: tuple[str, ...] = ()
    cwd: str | None = None
    #: Regular files the process holds open (absolute paths, as the kernel reports them).
    open_files: tuple[str, ...] = ()
    #: Only the keys in ``ENV_KEYS`` that are set.
    environ: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: CPU since the previous snapshot and resident memory; like cwd, open files
    #: and environ, a snapshot fills them for agent trees only.
    cpu_percent: float = 0.0
    rss: int = 0

    @property
    def identity(self) -> tuple[int, float]:
        return (self.pid, self.create_time)

    @property
    def create_ms(self) -> int:
        return int(self.create_time * 1000)


@dataclass(frozen=True)
class ProcessSnapshot:
    processes: tuple[ProcessInfo, ...]
    taken_ms: int

    def by_pid(self) -> dict[int, ProcessInfo]:
        return {p.pid: p for p in self.processes}


def _descendants(roots: Iterable[int], children: Mapping[int, list[int]]) -> set[int]:
    out: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out.add(pid)
        stack.extend(children.get(pid, ()))
    return out


def _ppid(proc: psutil.Process) -> int:
    """The parent pid without psutil's per-call pid-reuse check.

    ``Process.ppid()`` builds a second ``Process`` to rule out pid reuse, a
    third of a snapshot's cost; our objects are created in this very pass
    (the cache is cleared first), so the platform call is used when
    present, the public one otherwise.
    """
    platform = getattr(proc, "_proc", None)
    fast = getattr(platform, "ppid", None)
    if callable(fast):
        return int(fast())
    return int(proc.ppid())


@dataclass
class _Detail:
    cwd: str | None = None
    files: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cpu_total: float | None = None
    rss: int = 0


def _detail(proc: psutil.Process) -> _Detail:
    out = _Detail()
    quiet = contextlib.suppress(psutil.Error, OSError)
    with proc.oneshot():
        with quiet:
            times = proc.cpu_times()
            out.cpu_total = float(times.user + times.system)
        with quiet:
            out.rss = int(proc.memory_info().rss)
        with quiet:
            out.cwd = proc.cwd() or None
        with quiet:
            out.files = tuple(dict.fromkeys(f.path for f in proc.open_files()))
        with quiet:
            full = proc.environ()
            out.env = {k: full[k] for k in ENV_KEYS if k in full}
    return out


_Static = tuple[str, str | None, tuple[str, ...], bool]


class ProcessSnapshotter:
    """Takes snapshots, keeping what does not change between them.

    Per pass every process costs one psutil ``Process`` (fresh, for a true
    ``create_time``) and its stat line (ppid, name). Its exe and cmdline are
    read once per ``(pid, create_time, name)`` — an ``exec`` changes the name,
    so it is seen. CPU, RSS, cwd, open files and environment are read only for
    agent processes and their descendants; other records leave them empty.
    """

    def __init__(self) -> None:
        self._static: dict[tuple[int, float], _Static] = {}
        self._cpu: dict[tuple[int, float], tuple[float, float]] = {}

    def snapshot(self) -> ProcessSnapshot:
        psutil.process_iter.cache_clear()
        now = time.monotonic()
        rows: list[tuple[int, int, float, _Static]] = []
        objects: dict[int, psutil.Process] = {}
        static_seen: dict[tuple[int, float], _Static] = {}
        for proc in psutil.process_iter():
            try:
                with proc.oneshot():
                    key = (proc.pid, proc.create_time())
                    ppid = _ppid(proc)
                    name = proc.name()
                    static = self._static.get(key)
                    if static is None or static[0] != name:
                        static = self._read_static(proc, name)
            except (psutil.Error, OSError):
                continue
            static_seen[key] = static
            rows.append((proc.pid, ppid, key[1], static))
            objects[proc.pid] = proc
        self._static = static_seen

        children: dict[int, list[int]] = {}
        for pid, ppid, _, _ in rows:
            if ppid != pid:
                children.setdefault(ppid, []).append(pid)
        detailed = _descendants((pid for pid, _, _, st in rows if st[3]), children)

        cpu_seen: dict[tuple[int, float], tuple[float, float]] = {}
        out: list[ProcessInfo] = []
        for pid, ppid, create_time, (name, exe, cmdline, _) in rows:
            if pid not in detailed:
                out.append(ProcessInfo(pid, ppid, create_time, name, exe, cmdline))
                continue
            d = _detail(objects[pid])
            cpu = 0.0
            if d.cpu_total is not None:
                prev = self._cpu.get((pid, create_time))
                if prev is not None and now > prev[1]:
                    cpu = max(0.0, (d.cpu_total - prev[0]) / (now - prev[1]) * 100.0)
                cpu_seen[(pid, create_time)] = (d.cpu_total, now)
            out.append(
                ProcessInfo(
                    pid, ppid, create_time, name, exe, cmdline, d.cwd, d.files, d.env, round(cpu, 1), d.rss
                )
            )
        self._cpu = cpu_seen
        return ProcessSnapshot(tuple(out), int(time.time() * 1000))

    @staticmethod
    def _read_static(proc: psutil.Process, name: str) -> _Static:
        exe: str | None = None
        cmdline: tuple[str, ...] = ()
        with contextlib.suppress(psutil.Error, OSError):
            cmdline = tuple(proc.cmdline())
        with contextlib.suppress(psutil.Error, OSError):
            exe = proc.exe() or None
        return (name, exe, cmdline, label_process(name, exe, cmdline) is not None)


_default = ProcessSnapshotter()


def snapshot_processes() -> ProcessSnapshot:
    """A snapshot using a module-wide snapshotter (CPU% is relative to the previous call)."""
    return _default.snapshot()
